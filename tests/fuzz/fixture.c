// SPDX-License-Identifier: MIT
/*
 * The shared directory and the canary around it (fixture.h).
 *
 * As root the whole world lives on a private tmpfs in a mount namespace of
 * our own: the fuzzer cannot fill the host's disk with FALLOCATE, SYNCFS
 * costs nothing, and nothing is left behind when the process dies.  A small
 * child forked before that waits for our end and removes the (then empty)
 * mount point, also after a crash.
 */
#include "tests/fuzz/fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

struct fuzz_fixture fuzz_fx = {.share_fd = -1, .diag_fd = 2};

static char marker[64];
static dev_t share_dev;
static char canary_dir[320];
static bool on_tmpfs;

/* What must never change outside the share: lstat of each, at start. */
static const char *outside_names[4];
static struct stat outside_st[4];

void fuzz_die(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(fuzz_fx.diag_fd, "vfsd fuzz: ", 11);
	(void)!write(fuzz_fx.diag_fd, buf, (size_t)n);
	__builtin_trap();
}

static void __attribute__((noreturn)) setup_fail(const char *what)
{
	dprintf(fuzz_fx.diag_fd, "vfsd fuzz: set-up failed: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)remove(path);
	return 0;
}

/*
 * A child that outlives us in the original mount namespace: when our end of
 * the pipe closes (exit or crash) it removes BASE there.  With the tmpfs
 * that is an empty mount point; without it, the whole tree.
 */
static void start_reaper(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		setup_fail("pipe");
	pid = fork();
	if (pid < 0)
		setup_fail("fork");
	if (pid == 0) {
		char c;

		close(p[1]);
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		while (read(p[0], &c, 1) != 0 && errno == EINTR)
			;
		if (rmdir(fuzz_fx.base) < 0)
			nftw(fuzz_fx.base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		_exit(0);
	}
	close(p[0]);
	/* Never closed: the kernel closes it when we are gone. */
	(void)p[1];
}

static void make_base(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(fuzz_fx.base, sizeof(fuzz_fx.base), "%s/vfsd-fuzz.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fuzz_fx.base))
		setup_fail("mkdtemp");
	start_reaper();
	if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0)
		return;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		setup_fail("make / private");
	if (mount("vfsd-fuzz", fuzz_fx.base, "tmpfs", MS_NOSUID | MS_NODEV,
	          "size=64m,nr_inodes=16384,mode=0755") < 0)
		setup_fail("mount tmpfs");
	on_tmpfs = true;
}

static void write_file(int dirfd, const char *name, const char *data, size_t len, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		setup_fail(name);
	if (len && write(fd, data, len) != (ssize_t)len)
		setup_fail(name);
	close(fd);
}

/* Removes everything below the directory dirfd (consumed). */
static void empty_dir(int dirfd)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((e = readdir(d))) {
		int sub;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd, e->d_name, 0) == 0)
			continue;
		sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;
		empty_dir(sub);
		unlinkat(dirfd, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

static void clear_xattrs(const char *path)
{
	char list[4096];
	ssize_t n = llistxattr(path, list, sizeof(list));

	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1)
		lremovexattr(path, list + i);
}

void fuzz_fixture_rebuild(void)
{
	static const char text[] = "hello from the vfsd fuzz share\n";
	char path[512];
	int dfd, sub;

	dfd = open(fuzz_fx.share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		fuzz_die("share vanished: %s", strerror(errno));
	if (fchmod(dfd, 0755) < 0 || fchown(dfd, 0, 0) < 0)
		fuzz_die("cannot reset the share's mode: %s", strerror(errno));
	clear_xattrs(fuzz_fx.share);
	empty_dir(fcntl(dfd, F_DUPFD_CLOEXEC, 3));

	write_file(dfd, "file", text, sizeof(text) - 1, 0644);
	write_file(dfd, "empty", NULL, 0, 0644);
	write_file(dfd, "exec", "#!/bin/sh\n", 10, 04755);
	if (linkat(dfd, "file", dfd, "hard", 0) < 0)
		setup_fail("hard");
	if (mkdirat(dfd, "dir", 0755) < 0 || mkdirat(dfd, "dir/sub", 0700) < 0 ||
	    mkdirat(dfd, "emptydir", 0777) < 0)
		setup_fail("dirs");
	sub = openat(dfd, "dir", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sub < 0)
		setup_fail("dir");
	write_file(sub, "inner", text, sizeof(text) - 1, 0600);
	close(sub);
	if (symlinkat("file", dfd, "link") < 0 || symlinkat("dir", dfd, "dirlink") < 0 ||
	    symlinkat("../out/secret", dfd, "escape") < 0 ||
	    symlinkat("../out", dfd, "escape_dir") < 0 || symlinkat("..", dfd, "dotdot") < 0 ||
	    symlinkat("dir/sub/../../..", dfd, "dotdot2") < 0)
		setup_fail("symlinks");
	snprintf(path, sizeof(path), "%s/out/secret", fuzz_fx.base);
	if (symlinkat(path, dfd, "escape_abs") < 0 || symlinkat("/proc/self/root", dfd, "proc") < 0)
		setup_fail("absolute symlinks");
	if (mkfifoat(dfd, "fifo", 0666) < 0)
		setup_fail("fifo");
	/* A sparse file with data past a hole, for READ/LSEEK/COPY_FILE_RANGE. */
	sub = openat(dfd, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (sub < 0 || pwrite(sub, text, sizeof(text) - 1, 65536) < 0 ||
	    ftruncate(sub, 1 << 20) < 0)
		setup_fail("big");
	close(sub);
	snprintf(path, sizeof(path), "%s/file", fuzz_fx.share);
	(void)lsetxattr(path, "user.test", "value", 5, 0);
	close(dfd);
}

void fuzz_fixture_check_outside(void)
{
	for (unsigned i = 0; i < 4; i++) {
		struct stat st;

		if (lstat(outside_names[i], &st) < 0)
			fuzz_die("%s outside the share is gone: %s", outside_names[i],
			         strerror(errno));
		const struct stat *o = &outside_st[i];
		if (st.st_ino != o->st_ino || st.st_mode != o->st_mode || st.st_uid != o->st_uid ||
		    st.st_gid != o->st_gid || st.st_nlink != o->st_nlink ||
		    st.st_size != o->st_size || st.st_mtim.tv_sec != o->st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != o->st_mtim.tv_nsec ||
		    st.st_ctim.tv_sec != o->st_ctim.tv_sec ||
		    st.st_ctim.tv_nsec != o->st_ctim.tv_nsec)
			fuzz_die("%s outside the share was changed by the last input",
			         outside_names[i]);
	}
}

/*
 * Open fds, pipes left out: the sanitizers start llvm-symbolizer on demand
 * and keep pipes to it (neither vfsd nor the harness keeps a pipe).
 */
static int count_fds(bool skip_pipes)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		fuzz_die("cannot list /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d))) {
		char path[300], target[64];
		ssize_t l;

		if (!skip_pipes) {
			n++;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l > 5 && !strncmp(target, "pipe:", 5))
			continue;
		n++;
	}
	closedir(d);
	return n;
}

void fuzz_fixture_check_fds(void)
{
	static int baseline = -1, baseline_all;
	int n = count_fds(false);

	if (baseline < 0) {
		baseline_all = n;
		baseline = count_fds(true);
	}
	/* Readlink of every fd only when the cheap count grew. */
	if (n <= baseline_all || (n = count_fds(true)) <= baseline)
		return;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], target[300];
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		l = readlink(path, target, sizeof(target) - 1);
		if (l > 0)
			dprintf(fuzz_fx.diag_fd, "vfsd fuzz: open fd %s -> %.*s\n", e->d_name,
			        (int)l, target);
	}
	if (d)
		closedir(d);
	fuzz_die("fd leak: %d fds open after this input, %d after set-up", n - 3, baseline - 3);
}

#define MAX_KNOWN_FD 4096
static uint8_t known_fd[MAX_KNOWN_FD / 8];

static bool fd_known(int fd)
{
	return fd < MAX_KNOWN_FD && (known_fd[fd / 8] & (1u << (fd % 8)));
}

/* Is fd open with O_PATH?  From the flags line of /proc/self/fdinfo/FD. */
static bool fd_is_opath(int fd)
{
	char path[64], buf[512];
	unsigned long flags = 0;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return true; /* closed meanwhile */
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	char *p = strstr(buf, "flags:");
	if (p)
		flags = strtoul(p + 6, NULL, 8);
	return flags & O_PATH;
}

void fuzz_fixture_check_open_kinds(void)
{
	static bool have_baseline;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		fuzz_die("cannot list /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		struct stat st;

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (!have_baseline) {
			if (fd < MAX_KNOWN_FD)
				known_fd[fd / 8] |= (uint8_t)(1u << (fd % 8));
			continue;
		}
		/* Only the share's file system: pipes (the sanitizers' symbolizer) are FIFOs too.
		 */
		if (fd_known(fd) || fstat(fd, &st) < 0 || st.st_dev != share_dev ||
		    S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || fd_is_opath(fd))
			continue;
		fuzz_die("fd %d is open on a %s inside the share: a guest request opened "
		         "something that is neither a regular file nor a directory",
		         fd,
		         S_ISFIFO(st.st_mode)   ? "FIFO"
		         : S_ISSOCK(st.st_mode) ? "socket"
		         : S_ISLNK(st.st_mode)  ? "symlink"
		                                : "device");
	}
	closedir(d);
	have_baseline = true;
}

bool fuzz_fixture_is_outside(uint64_t ino)
{
	for (unsigned i = 0; i < 4; i++)
		if (fuzz_fx.outside_ino[i] == ino)
			return true;
	return false;
}

void fuzz_fixture_init(void)
{
	static char secret[340], out[300];
	uint8_t rnd[12];
	char line[80];
	int n;

	fuzz_fx.diag_fd = fcntl(2, F_DUPFD_CLOEXEC, 100);
	if (fuzz_fx.diag_fd < 0)
		fuzz_fx.diag_fd = 2;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		setup_fail("getrandom");
	n = snprintf(marker, sizeof(marker), "CANARY-");
	for (unsigned i = 0; i < sizeof(rnd); i++)
		n += snprintf(marker + n, sizeof(marker) - (size_t)n, "%02x", rnd[i]);
	fuzz_canary_set(marker, (size_t)n);

	umask(0);
	make_base();
	snprintf(fuzz_fx.share, sizeof(fuzz_fx.share), "%s/share", fuzz_fx.base);
	snprintf(canary_dir, sizeof(canary_dir), "%s/%s", fuzz_fx.base, marker);
	snprintf(secret, sizeof(secret), "%s/secret", canary_dir);
	snprintf(out, sizeof(out), "%s/out", fuzz_fx.base);
	if (mkdir(fuzz_fx.share, 0755) < 0 || mkdir(canary_dir, 0755) < 0)
		setup_fail("mkdir");
	n = snprintf(line, sizeof(line), "%s\n", marker);
	write_file(AT_FDCWD, secret, line, (size_t)n, 0644);
	(void)lsetxattr(secret, "user.canary", marker, strlen(marker), 0);
	if (symlink(marker, out) < 0)
		setup_fail("symlink out");

	outside_names[0] = fuzz_fx.base;
	outside_names[1] = canary_dir;
	outside_names[2] = secret;
	outside_names[3] = out;
	for (unsigned i = 0; i < 4; i++) {
		if (lstat(outside_names[i], &outside_st[i]) < 0)
			setup_fail(outside_names[i]);
		fuzz_fx.outside_ino[i] = outside_st[i].st_ino;
	}
	fuzz_fx.share_fd = open(fuzz_fx.share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fuzz_fx.share_fd < 0)
		setup_fail("open share");
	share_dev = outside_st[0].st_dev;
	fuzz_fixture_rebuild();
	dprintf(fuzz_fx.diag_fd, "vfsd fuzz: share %s (%s), canary outside it\n", fuzz_fx.share,
	        on_tmpfs ? "private tmpfs" : "plain directory");
}
