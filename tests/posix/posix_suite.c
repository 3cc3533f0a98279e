/* SPDX-License-Identifier: MIT */
/*
 * posix_suite DIR: POSIX file-system behaviour, one line per case,
 *   NAME: RESULT
 * where RESULT is what was observed (errnos by name, modes, relations
 * between times), never a raw inode number or time, so that running it on a
 * local directory and on a vfsd or virtiofsd mount of the same kind of file
 * system gives the same text: tests/integration/vufs_posix.sh diffs them.
 * Needs root: it switches to uids 1000 and 1001 in forked children to test
 * permissions, ownership and sticky directories.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/falloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static void out(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* A set-up step: its failure is printed, so both sides' outputs differ there. */
static void setup(const char *what, long r)
{
	if (r < 0)
		out(what, "set-up failed: %s", strerror(errno));
}

static const char *en(int r)
{
	return r < 0 ? (strerrorname_np(errno) ?: "?") : "ok";
}

static mode_t mode_of(const char *p)
{
	struct stat st;

	return lstat(p, &st) ? (mode_t)-1 : st.st_mode & 07777;
}

static off_t size_of(const char *p)
{
	struct stat st;

	return stat(p, &st) ? -1 : st.st_size;
}

static void put(const char *p, const char *text, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(p);
		close(fd);
	}
}

/* Run fn as uid/gid in a child; returns its exit code (an errno, 0 for success). */
static int as_user(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(250);
		_exit(fn(arg));
	}
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 251;
}

static const char *ename(int e)
{
	return e == 0 ? "ok" : (strerrorname_np(e) ?: "?");
}

static int u_open_read(void *p)
{
	int fd = open(p, O_RDONLY);

	return fd < 0 ? errno : 0;
}

static int u_open_write(void *p)
{
	int fd = open(p, O_WRONLY);

	return fd < 0 ? errno : 0;
}

static int u_stat(void *p)
{
	struct stat st;

	return stat(p, &st) < 0 ? errno : 0;
}

static int u_unlink(void *p)
{
	return unlink(p) < 0 ? errno : 0;
}

static int u_create(void *p)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);

	return fd < 0 ? errno : 0;
}

static int u_append(void *p)
{
	int fd = open(p, O_WRONLY | O_APPEND);

	if (fd < 0)
		return errno;
	return write(fd, "x", 1) == 1 ? 0 : errno;
}

static int u_access_w(void *p)
{
	return access(p, W_OK) < 0 ? errno : 0;
}

static int u_chmod(void *p)
{
	return chmod(p, 0777) < 0 ? errno : 0;
}

static int u_utime_now(void *p)
{
	return utimensat(AT_FDCWD, p, NULL, 0) < 0 ? errno : 0;
}

static void cases_files(void)
{
	char buf[64];
	int fd, r;

	umask(022);
	put("f", "0123456789", 0666);
	out("create-mode", "%o", mode_of("f"));
	fd = open("f", O_WRONLY | O_CREAT | O_EXCL, 0644);
	out("o_excl-existing", "%s", en(fd));
	fd = open("f", O_WRONLY | O_TRUNC);
	out("o_trunc", "size=%lld", (long long)size_of("f"));
	close(fd);
	put("app", "abc", 0644);
	fd = open("app", O_WRONLY | O_APPEND);
	lseek(fd, 0, SEEK_SET);
	r = (int)write(fd, "def", 3);
	close(fd);
	fd = open("app", O_RDONLY);
	memset(buf, 0, sizeof(buf));
	r = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	out("o_append", "%s (%d bytes)", buf, r);
	out("o_directory-on-file", "%s", en(open("f", O_RDONLY | O_DIRECTORY)));
	setup("symlink-lnk", symlink("f", "lnk"));
	out("o_nofollow-symlink", "%s", en(open("lnk", O_RDONLY | O_NOFOLLOW)));
	setup("symlink-dangle", symlink("nowhere", "dangle"));
	out("o_creat-excl-dangling-symlink", "%s",
	    en(open("dangle", O_WRONLY | O_CREAT | O_EXCL, 0644)));

	/* holes, SEEK_DATA/HOLE, fallocate, punch */
	fd = open("sparse", O_RDWR | O_CREAT | O_TRUNC, 0644);
	r = (int)pwrite(fd, "z", 1, 1 << 20);
	memset(buf, 'x', 8);
	r = (int)pread(fd, buf, 8, 4096);
	out("hole-read", "size=%lld zeros=%d", (long long)size_of("sparse"),
	    r == 8 && !memcmp(buf, "\0\0\0\0\0\0\0\0", 8));
	out("seek-data", "%lld", (long long)lseek(fd, 0, SEEK_DATA));
	out("seek-hole", "%lld", (long long)lseek(fd, 0, SEEK_HOLE));
	r = fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 8192);
	out("fallocate-keep-size", "%s size=%lld", en(r), (long long)size_of("sparse"));
	r = fallocate(fd, 0, 0, 4 << 20);
	out("fallocate-extend", "%s size=%lld", en(r), (long long)size_of("sparse"));
	setup("pwrite-100", pwrite(fd, "yyyy", 4, 100));
	r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
	memset(buf, 'x', 4);
	setup("pread-100", pread(fd, buf, 4, 100));
	out("punch-hole", "%s zeros=%d", en(r), !memcmp(buf, "\0\0\0\0", 4));
	r = ftruncate(fd, 10);
	out("ftruncate-shrink", "%s size=%lld", en(r), (long long)size_of("sparse"));
	r = truncate("sparse", 20000);
	setup("pread-15000", pread(fd, buf, 4, 15000));
	out("truncate-extend", "%s size=%lld zeros=%d", en(r), (long long)size_of("sparse"),
	    !memcmp(buf, "\0\0\0\0", 4));
	close(fd);

	/* an unlinked file stays readable through its fd */
	put("gone", "still here", 0644);
	fd = open("gone", O_RDONLY);
	unlink("gone");
	memset(buf, 0, sizeof(buf));
	r = (int)read(fd, buf, sizeof(buf) - 1);
	out("unlinked-open-file", "%s access=%s", buf, en(access("gone", F_OK)));
	close(fd);

	r = mkfifo("fifo", 0644);
	struct stat st;
	lstat("fifo", &st);
	out("mkfifo", "%s fifo=%d", en(r), S_ISFIFO(st.st_mode));
	struct statvfs sv;
	r = statvfs(".", &sv);
	out("statvfs", "%s bsize>0=%d namemax=%lu", en(r), sv.f_bsize > 0, sv.f_namemax);
}

static void cases_perms(void)
{
	put("root600", "secret", 0600);
	chmod("root600", 0600);
	out("perm-other-read-0600", "%s", ename(as_user(1000, u_open_read, "root600")));
	put("ro644", "x", 0644);
	out("perm-other-write-0644", "%s", ename(as_user(1000, u_open_write, "ro644")));
	out("access-w-other-0644", "%s", ename(as_user(1000, u_access_w, "ro644")));
	mkdir("priv", 0700);
	put("priv/x", "x", 0644);
	out("perm-search-0700-dir", "%s", ename(as_user(1000, u_stat, "priv/x")));
	mkdir("pub", 0755);
	out("perm-create-in-0755-dir", "%s", ename(as_user(1000, u_create, "pub/new")));
	out("chmod-not-owner", "%s", ename(as_user(1000, u_chmod, "ro644")));
	out("utime-now-not-owner", "%s", ename(as_user(1000, u_utime_now, "ro644")));

	/* ownership */
	put("owned", "x", 0644);
	out("chown-root", "%s", en(chown("owned", 1000, 1000)));
	struct stat st;
	stat("owned", &st);
	out("chown-result", "%u:%u", st.st_uid, st.st_gid);
	out("append-as-owner", "%s", ename(as_user(1000, u_append, "owned")));
	chmod("owned", 04755);
	out("setuid-set", "%o", mode_of("owned"));
	const char *res = ename(as_user(1000, u_append, "owned"));
	out("write-as-owner-clears-setuid", "%s mode=%o", res, mode_of("owned"));
	chmod("owned", 02775);
	setup("chown-owned", chown("owned", 1000, 1000));
	out("chown-by-root-clears-setgid", "mode=%o", mode_of("owned"));

	/* sticky directory */
	mkdir("sticky", 0777);
	chmod("sticky", 01777);
	put("sticky/theirs", "x", 0666);
	setup("chown-theirs", chown("sticky/theirs", 1001, 1001));
	out("sticky-unlink-others", "%s", ename(as_user(1000, u_unlink, "sticky/theirs")));
	out("sticky-unlink-own", "%s", ename(as_user(1001, u_unlink, "sticky/theirs")));
	out("uid1000-create-owner", "%s", ename(as_user(1000, u_create, "sticky/mine")));
	stat("sticky/mine", &st);
	out("uid1000-created-file", "%u:%u %o", st.st_uid, st.st_gid, st.st_mode & 07777);
	mkdir("sgid", 02777);
	chmod("sgid", 02777);
	setup("chown-sgid", chown("sgid", 0, 1234));
	as_user(1000, u_create, "sgid/f");
	stat("sgid/f", &st);
	out("setgid-dir-inherits-group", "%u", st.st_gid);
}

static void cases_names(void)
{
	struct stat a, b;
	int r;

	put("src", "source", 0644);
	put("dst", "dest", 0644);
	stat("src", &a);
	r = rename("src", "dst");
	stat("dst", &b);
	out("rename-replace", "%s same-inode=%d src-gone=%d", en(r), a.st_ino == b.st_ino,
	    access("src", F_OK) < 0);
	mkdir("d1", 0755);
	mkdir("d2", 0755);
	put("d2/x", "x", 0644);
	out("rename-dir-onto-nonempty", "%s", en(rename("d1", "d2")));
	out("rename-dir-onto-file", "%s", en(rename("d1", "dst")));
	out("rename-file-onto-dir", "%s", en(rename("dst", "d1")));
	out("rename-dir-into-itself", "%s", en(rename("d2", "d2/sub")));
	put("n1", "one", 0644);
	put("n2", "two", 0644);
	out("rename-noreplace", "%s",
	    en(renameat2(AT_FDCWD, "n1", AT_FDCWD, "n2", RENAME_NOREPLACE)));
	r = renameat2(AT_FDCWD, "n1", AT_FDCWD, "n2", RENAME_EXCHANGE);
	char buf[8] = "";
	int fd = open("n1", O_RDONLY);
	(void)!read(fd, buf, 3);
	close(fd);
	out("rename-exchange", "%s n1=%s", en(r), buf);
	out("rmdir-nonempty", "%s", en(rmdir("d2")));
	out("rmdir-empty", "%s", en(rmdir("d1")));
	out("unlink-dir", "%s", en(unlink("d2")));
	out("mkdir-existing", "%s", en(mkdir("d2", 0755)));

	/* hard links */
	put("h1", "hard", 0644);
	r = link("h1", "h2");
	stat("h1", &a);
	stat("h2", &b);
	out("link", "%s nlink=%lu same-inode=%d", en(r), (unsigned long)a.st_nlink,
	    a.st_ino == b.st_ino);
	unlink("h1");
	stat("h2", &b);
	out("link-after-unlink", "nlink=%lu", (unsigned long)b.st_nlink);
	out("link-to-dir", "%s", en(link("d2", "d2link")));
	out("link-existing", "%s", en(link("h2", "n1")));

	/* symlinks */
	r = symlink("h2", "s1");
	char t[64] = "";
	ssize_t n = readlink("s1", t, sizeof(t) - 1);
	lstat("s1", &a);
	stat("s1", &b);
	out("symlink", "%s target=%.*s lstat-link=%d stat-file=%d size=%lld", en(r), (int)n, t,
	    S_ISLNK(a.st_mode), S_ISREG(b.st_mode), (long long)a.st_size);
	setup("symlink-s2", symlink("/nonexistent/x", "s2"));
	out("symlink-dangling-stat", "%s", en(stat("s2", &a)));
	setup("symlink-s3", symlink("s3", "s3"));
	out("symlink-loop", "%s", en(open("s3", O_RDONLY)));

	/* readdir */
	mkdir("many", 0755);
	for (int i = 0; i < 300; i++) {
		char p[32];

		snprintf(p, sizeof(p), "many/entry%03d", i);
		put(p, "", 0644);
	}
	DIR *d = opendir("many");
	unsigned cnt = 0;
	while (readdir(d))
		cnt++;
	closedir(d);
	out("readdir-300", "%u", cnt);

	/* A component longer than NAME_MAX: ENAMETOOLONG from every call, not EINVAL. */
	char lng[300];
	memset(lng, 'L', 256);
	lng[256] = '\0';
	out("long-name-open", "%s", en(open(lng, O_RDONLY)));
	out("long-name-creat", "%s", en(open(lng, O_WRONLY | O_CREAT, 0644)));
	out("long-name-mkdir", "%s", en(mkdir(lng, 0755)));
	out("long-name-mknod", "%s", en(mknod(lng, S_IFIFO | 0644, 0)));
	out("long-name-symlink", "%s", en(symlink("h2", lng)));
	out("long-name-link", "%s", en(link("h2", lng)));
	out("long-name-rename-to", "%s", en(rename("h2", lng)));
	out("long-name-rename-from", "%s", en(rename(lng, "h3")));
	out("long-name-unlink", "%s", en(unlink(lng)));
	out("long-name-rmdir", "%s", en(rmdir(lng)));
	out("long-name-chmod", "%s", en(chmod(lng, 0600)));
	out("long-name-lchown", "%s", en(lchown(lng, 0, 0)));
	out("long-name-truncate", "%s", en(truncate(lng, 0)));
	lng[255] = '\0';
	r = open(lng, O_WRONLY | O_CREAT, 0644);
	out("name-max-creat", "%s", en(r));
	if (r >= 0)
		close(r);
	out("name-max-unlink", "%s", en(unlink(lng)));
}

static long long ns(struct timespec t)
{
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void cases_times(void)
{
	struct timespec set[2] = {{.tv_sec = 1000000000, .tv_nsec = 500},
	                          {.tv_sec = 1200000000, .tv_nsec = 0}};
	struct stat a, b;
	int fd;

	put("tm", "x", 0644);
	out("utimensat-set", "%s", en(utimensat(AT_FDCWD, "tm", set, 0)));
	stat("tm", &a);
	out("utimensat-result", "atime=%lld.%09ld mtime=%lld", (long long)a.st_atim.tv_sec,
	    a.st_atim.tv_nsec, (long long)a.st_mtim.tv_sec);
	fd = open("tm", O_WRONLY);
	(void)!write(fd, "y", 1);
	close(fd);
	stat("tm", &b);
	out("write-updates-mtime-ctime", "mtime>%d ctime>%d", ns(b.st_mtim) > ns(a.st_mtim),
	    ns(b.st_ctim) > ns(a.st_ctim));
	a = b;
	usleep(20000);
	chmod("tm", 0600);
	stat("tm", &b);
	out("chmod-updates-ctime-only", "ctime>%d mtime=%d", ns(b.st_ctim) > ns(a.st_ctim),
	    ns(b.st_mtim) == ns(a.st_mtim));
	mkdir("tdir", 0755);
	stat("tdir", &a);
	usleep(20000);
	put("tdir/new", "", 0644);
	stat("tdir", &b);
	out("create-updates-dir-mtime", "%d", ns(b.st_mtim) > ns(a.st_mtim));
	struct timespec omit[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 1300000000}};
	stat("tm", &a);
	utimensat(AT_FDCWD, "tm", omit, 0);
	stat("tm", &b);
	out("utime-omit-atime", "atime-kept=%d mtime=%lld", ns(a.st_atim) == ns(b.st_atim),
	    (long long)b.st_mtim.tv_sec);
	/* The link's own times, not its target's. */
	put("tmt", "t", 0644);
	setup("symlink-tml", symlink("tmt", "tml"));
	stat("tmt", &a);
	out("utimensat-nofollow-symlink", "%s",
	    en(utimensat(AT_FDCWD, "tml", set, AT_SYMLINK_NOFOLLOW)));
	struct stat l;
	lstat("tml", &l);
	stat("tmt", &b);
	out("utimensat-nofollow-result", "link-mtime=%lld target-kept=%d",
	    (long long)l.st_mtim.tv_sec, ns(a.st_mtim) == ns(b.st_mtim));
}

static void cases_xattr(void)
{
	char v[32] = "";
	ssize_t n;
	int r;

	put("xa", "x", 0644);
	r = setxattr("xa", "user.test", "value", 5, 0);
	if (r < 0 && errno == EOPNOTSUPP) {
		out("xattr", "unsupported");
		return;
	}
	n = getxattr("xa", "user.test", v, sizeof(v));
	out("xattr-set-get", "%s %.*s", en(r), (int)(n > 0 ? n : 0), v);
	out("xattr-create-existing", "%s", en(setxattr("xa", "user.test", "v", 1, XATTR_CREATE)));
	out("xattr-replace-missing", "%s", en(setxattr("xa", "user.none", "v", 1, XATTR_REPLACE)));
	char list[256];
	n = listxattr("xa", list, sizeof(list));
	int found = 0;
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		found |= !strcmp(list + i, "user.test");
	out("xattr-list", "%d", found);
	out("xattr-get-small-buffer", "%s", en((int)getxattr("xa", "user.test", v, 2)));
	const char *rm = en(removexattr("xa", "user.test"));
	out("xattr-remove", "%s then %s", rm, en((int)getxattr("xa", "user.test", v, sizeof(v))));
}

static void cases_locks(void)
{
	int fd = open("lk", O_RDWR | O_CREAT, 0644);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
	pid_t pid;
	int st;

	out("fcntl-setlk", "%s", en(fcntl(fd, F_SETLK, &fl)));
	pid = fork();
	if (pid == 0) {
		int f2 = open("lk", O_RDWR);
		struct flock c = {
		    .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1};
		struct flock q = c;

		if (fcntl(f2, F_SETLK, &c) == 0)
			_exit(1);
		if (errno != EAGAIN && errno != EACCES)
			_exit(2);
		fcntl(f2, F_GETLK, &q);
		if (q.l_type != F_WRLCK || q.l_pid != getppid())
			_exit(3);
		c.l_start = 20;
		_exit(fcntl(f2, F_SETLK, &c) == 0 ? 0 : 4);
	}
	waitpid(pid, &st, 0);
	out("fcntl-conflict-getlk-nonoverlap", "%d", WEXITSTATUS(st));
	out("flock-ex", "%s", en(flock(fd, LOCK_EX | LOCK_NB)));
	pid = fork();
	if (pid == 0) {
		int f2 = open("lk", O_RDWR);

		_exit(flock(f2, LOCK_EX | LOCK_NB) == 0 ? 0 : errno == EWOULDBLOCK ? 1 : 2);
	}
	waitpid(pid, &st, 0);
	out("flock-conflict", "%d", WEXITSTATUS(st));
	close(fd);
}

int main(int argc, char **argv)
{
	char dir[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: posix_suite DIR\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/posix-suite", argv[1]);
	mkdir(dir, 0777);
	chmod(dir, 0777);
	if (chdir(dir) < 0) {
		perror(dir);
		return 1;
	}
	cases_files();
	cases_perms();
	cases_names();
	cases_times();
	cases_xattr();
	cases_locks();
	return 0;
}
