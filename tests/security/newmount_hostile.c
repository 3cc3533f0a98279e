/* SPDX-License-Identifier: MIT */
/*
 * newmount_hostile: a static helper run inside test containers (and on the
 * host, for the kernel's reference answers) that uses the new mount API the
 * way a hostile container would (issue 20, docs/new-mount-api.md).  Every
 * result is one line the host-side test reads:
 *   case=NAME rc=R errno=NAME [key=value...]
 *
 *   limits TYPE SRC
 *	The kernel's argument limits and phase rules on a context of TYPE
 *	whose good source is SRC: key and string value of 255/256 characters
 *	(256/257 bytes with the NUL), SET_BINARY of 1 MiB / 1 MiB + 1, bad
 *	pointers, NULL key, unknown command, a non-context fd, a closed fd,
 *	fsmount before CMD_CREATE, unknown fsmount flags/attributes, SET_* and
 *	CMD_CREATE after CMD_CREATE, fsmount twice.  Run on tmpfs in the
 *	container (continue: the kernel answers) and on the host as root, the
 *	same lines must come back for a notifyd-served TYPE.
 *   failed TYPE BADSRC...
 *	CMD_CREATE that fails (BADSRC holds no TYPE file system): its errno, the
 *	messages read back from the context fd ("msg=..." lines), then SET_*,
 *	CMD_CREATE and fsmount on the failed context.
 *   seq N TYPE SRC TARGET
 *	N complete sequences fsopen, source, CMD_CREATE, fsmount (attributes 0:
 *	asks for neither nosuid nor nodev), move_mount onto TARGET, umount2,
 *	close.  The first one also checks the mount: nosuid/nodev present,
 *	mount_setattr clearing them and a bind remount without them (EPERM when
 *	locked).
 *   abandon N TYPE SRC
 *	N sequences, in turn: fsopen+close; fsopen+source+CMD_CREATE+close;
 *	fsopen..fsmount+close (a detached mount never attached).
 *   detached TYPE SRC TARGET TARGET2
 *	The mount fd from fsmount, before move_mount: mount_setattr clearing
 *	nosuid,nodev on it; open_tree(OPEN_TREE_CLONE) of it, the same on the
 *	clone, the clone attached on TARGET2 (a move notifyd does not serve)
 *	and remounted without the flags; then the fd attached on TARGET and
 *	checked as seq's first mount.
 *   cap TYPE
 *	Holds contexts open until fsopen fails: how many, and the errno; then
 *	closes one and opens again.
 *   forge TYPE SRC OTHER TARGET SECONDS
 *	The number of a notifyd context replaced by a pipe, a memfd, the
 *	container's own tmpfs context and a closed number between calls; then
 *	one thread swapping the context and the own tmpfs context on one number
 *	while another sends source=OTHER (a host device the container does not
 *	have) and options the profile forbids on that number.  The context is
 *	then given SRC, created, mounted on TARGET: the mounted device and its
 *	options must be SRC's and the allowed ones only.
 *   race8 TYPE SRC TARGET
 *	8 threads sending 12 fsconfig calls each (commit and errors, allowed;
 *	every 4th stripe=8, forbidden) on one context, then two threads racing
 *	CMD_CREATE; the mount is checked as above.  Prints the answers as
 *	"allowed:ERRNO=COUNT,... forbidden:ERRNO=COUNT,...".
 *   pass-send SOCK TYPE SRC TARGET DONEFILE / pass-recv SOCK
 *	Two containers: the sender hands its context (source set) and the
 *	detached mount of a second one over a unix socket; the receiver
 *	move_mounts that mount onto /mnt/b, sets commit=7, CMD_CREATE and
 *	fsmount on the context; once DONEFILE exists the sender creates and
 *	mounts its context on TARGET, then attaches its second mount.
 *   loop TYPE SRC TARGET
 *	Complete sequences forever in 4 processes (to be killed mid-call).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/kernel_compat.h"

#ifndef MS_REMOUNT
#define MS_REMOUNT 32
#endif
#ifndef MS_BIND
#define MS_BIND 4096
#endif
#ifndef MNT_DETACH
#define MNT_DETACH 2
#endif

static int sys_fsopen(const char *type, unsigned int flags)
{
	return (int)syscall(SYS_fsopen, type, flags);
}

static int sys_fsconfig(int fd, unsigned int cmd, const void *key, const void *val, int aux)
{
	return (int)syscall(SYS_fsconfig, fd, cmd, key, val, aux);
}

static int sys_fsmount(int fd, unsigned int flags, unsigned int attr)
{
	return (int)syscall(SYS_fsmount, fd, flags, attr);
}

static int sys_move_mount(int from, const char *fp, int to, const char *tp, unsigned int flags)
{
	return (int)syscall(SYS_move_mount, from, fp, to, tp, flags);
}

static int sys_umount2(const char *path, int flags)
{
	return (int)syscall(SYS_umount2, path, flags);
}

static const char *ename(int e)
{
	static const struct {
		int e;
		const char *n;
	} t[] = {{0, "0"},
	         {EPERM, "EPERM"},
	         {ENOENT, "ENOENT"},
	         {EINTR, "EINTR"},
	         {EIO, "EIO"},
	         {ENXIO, "ENXIO"},
	         {EBADF, "EBADF"},
	         {EAGAIN, "EAGAIN"},
	         {ENOMEM, "ENOMEM"},
	         {EACCES, "EACCES"},
	         {EFAULT, "EFAULT"},
	         {ENOTBLK, "ENOTBLK"},
	         {EBUSY, "EBUSY"},
	         {EEXIST, "EEXIST"},
	         {ENODEV, "ENODEV"},
	         {ENOTDIR, "ENOTDIR"},
	         {EINVAL, "EINVAL"},
	         {EMFILE, "EMFILE"},
	         {ENFILE, "ENFILE"},
	         {ENOSPC, "ENOSPC"},
	         {E2BIG, "E2BIG"},
	         {ENOSYS, "ENOSYS"},
	         {ENAMETOOLONG, "ENAMETOOLONG"},
	         {EOPNOTSUPP, "EOPNOTSUPP"},
	         {ELOOP, "ELOOP"},
	         {EUCLEAN, "EUCLEAN"},
	         {ENOTCONN, "ENOTCONN"}};
	static char buf[16];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	snprintf(buf, sizeof(buf), "E%d", e);
	return buf;
}

/* One result line; rc < 0 prints errno's name. */
static int report(const char *name, int rc)
{
	printf("case=%s rc=%d errno=%s\n", name, rc < 0 ? -1 : 0, rc < 0 ? ename(errno) : "0");
	fflush(stdout);
	return rc;
}

static int fail_usage(void)
{
	fprintf(stderr, "usage: see the comment at the top of newmount_hostile.c\n");
	return 2;
}

/* The messages the kernel (or notifyd) left in a context, one "msg=" line each. */
static void print_messages(int fd)
{
	char buf[1024];
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 32; i++) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n <= 0)
			break;
		while (n > 0 && buf[n - 1] == '\n')
			n--;
		buf[n] = 0;
		printf("msg=%s\n", buf);
	}
	fflush(stdout);
}

/* Mount options of TARGET from mountinfo: "mntopts superopts". */
static void mount_opts(const char *target, char *out, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	snprintf(out, len, "none");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[1024], mo[1024], so[1024];
		const char *dash = strstr(line, " - ");
		if (sscanf(line, "%*s %*s %*s %*s %1023s %1023s", mp, mo) != 2 || !dash)
			continue;
		if (sscanf(dash + 3, "%*s %*s %1023s", so) != 1)
			continue;
		if (strcmp(mp, target) == 0)
			snprintf(out, len, "%s %s", mo, so);
	}
	fclose(f);
}

static int make_context(const char *type, const char *src)
{
	int fd = sys_fsopen(type, FSOPEN_CLOEXEC);
	if (fd < 0)
		return -1;
	if (src && sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", src, 0) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		exit(1);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

static int cmd_limits(const char *type, const char *src)
{
	int fd = sys_fsopen(type, FSOPEN_CLOEXEC);
	if (report("fsopen", fd) < 0)
		return 1;
	char *k255 = repeat('k', 255), *k256 = repeat('k', 256);
	char *v255 = repeat('v', 255), *v256 = repeat('v', 256);
	void *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *mib = calloc(1, 1024 * 1024 + 1);
	if (bad == MAP_FAILED || !mib)
		return 1;

	report("key_255", sys_fsconfig(fd, FSCONFIG_SET_STRING, k255, "x", 0));
	report("key_256", sys_fsconfig(fd, FSCONFIG_SET_STRING, k256, "x", 0));
	report("string_255", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", v255, 0));
	report("string_256", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", v256, 0));
	report("binary_1m", sys_fsconfig(fd, FSCONFIG_SET_BINARY, "source", mib, 1024 * 1024));
	report("binary_1m_bad_pointer",
	       sys_fsconfig(fd, FSCONFIG_SET_BINARY, "source", bad, 1024 * 1024));
	report("binary_1m_plus_1",
	       sys_fsconfig(fd, FSCONFIG_SET_BINARY, "source", mib, 1024 * 1024 + 1));
	report("binary_0", sys_fsconfig(fd, FSCONFIG_SET_BINARY, "source", mib, 0));
	report("key_bad_pointer", sys_fsconfig(fd, FSCONFIG_SET_STRING, bad, "x", 0));
	report("value_bad_pointer", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", bad, 0));
	report("key_null", sys_fsconfig(fd, FSCONFIG_SET_STRING, NULL, "x", 0));
	report("flag_with_value", sys_fsconfig(fd, FSCONFIG_SET_FLAG, "ro", "x", 0));
	report("create_with_key", sys_fsconfig(fd, FSCONFIG_CMD_CREATE, "source", NULL, 0));
	report("unknown_cmd", sys_fsconfig(fd, 99, NULL, NULL, 0));
	report("fsmount_before_create", sys_fsmount(fd, FSMOUNT_CLOEXEC, 0));

	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return 1;
	report("pipe_fd", sys_fsconfig(p[0], FSCONFIG_SET_STRING, "source", src, 0));
	report("pipe_create", sys_fsconfig(p[0], FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	report("pipe_fsmount", sys_fsmount(p[0], 0, 0));
	close(p[0]);
	close(p[1]);
	report("closed_fd", sys_fsconfig(1000, FSCONFIG_SET_STRING, "source", src, 0));
	report("closed_fsmount", sys_fsmount(1000, 0, 0));

	/* The phase rules on a second context (the first one has a source now). */
	close(fd);
	fd = sys_fsopen(type, FSOPEN_CLOEXEC);
	report("source", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", src, 0));
	report("source_twice", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", src, 0));
	/* The kernel keeps no total of a (non-legacy) context's options. */
	int many = 0;
	for (int i = 0; i < 300 && many == 0; i++)
		many = sys_fsconfig(fd, FSCONFIG_SET_STRING, "commit", "5", 0);
	report("options_300", many);
	report("create", sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	report("set_after_create", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", src, 0));
	report("flag_after_create", sys_fsconfig(fd, FSCONFIG_SET_FLAG, "ro", NULL, 0));
	report("create_again", sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	report("fsmount_bad_flags", sys_fsmount(fd, 0x2, 0));
	report("fsmount_bad_attr", sys_fsmount(fd, FSMOUNT_CLOEXEC, 0x80000000u));
	report("fsmount_idmap_attr", sys_fsmount(fd, FSMOUNT_CLOEXEC, MOUNT_ATTR_IDMAP));
	int m = sys_fsmount(fd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	report("fsmount", m);
	report("fsmount_again", sys_fsmount(fd, FSMOUNT_CLOEXEC, 0));
	report("set_after_fsmount", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", src, 0));
	if (m >= 0) {
		struct stat st;
		/* A detached mount: fstat works on it, it has no path. */
		report("fstat_mount", fstat(m, &st));
		close(m);
	}
	close(fd);
	munmap(bad, 4096);
	free(mib);
	free(k255);
	free(k256);
	free(v255);
	free(v256);
	return 0;
}

static int cmd_failed(const char *type, const char *badsrc)
{
	printf("case=failed_source source=%s\n", badsrc);
	int fd = make_context(type, badsrc);
	if (report("fsopen_source", fd) < 0)
		return 1;
	report("failed_create", sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	print_messages(fd);
	report("set_after_failed", sys_fsconfig(fd, FSCONFIG_SET_STRING, "source", badsrc, 0));
	report("create_after_failed", sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	report("fsmount_after_failed", sys_fsmount(fd, FSMOUNT_CLOEXEC, 0));
	close(fd);
	return 0;
}

/*
 * Create, mount (attributes @attr), attach on @target.  Returns 0, or -1 with
 * errno and *step naming where it failed.
 */
static int full_mount(int fd, const char *target, unsigned int attr, const char **step)
{
	*step = "create";
	if (sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -1;
	*step = "fsmount";
	int m = sys_fsmount(fd, FSMOUNT_CLOEXEC, attr);
	if (m < 0)
		return -1;
	*step = "move_mount";
	int r = sys_move_mount(m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
	int e = errno;
	close(m);
	errno = e;
	return r;
}

/* The checks on a mount notifyd made: forced flags present and locked. */
static void check_locked(const char *target)
{
	struct statvfs sv;
	char opts[2048];
	if (statvfs(target, &sv) == 0)
		printf("case=flags nosuid=%d nodev=%d\n", !!(sv.f_flag & ST_NOSUID),
		       !!(sv.f_flag & ST_NODEV));
	mount_opts(target, opts, sizeof(opts));
	printf("case=opts opts=%s\n", opts);
	struct mount_attr ma = {.attr_clr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	report("locked_setattr",
	       (int)syscall(SYS_mount_setattr, AT_FDCWD, target, 0, &ma, sizeof(ma)));
	report("locked_remount",
	       (int)syscall(SYS_mount, NULL, target, NULL, MS_REMOUNT | MS_BIND, NULL));
	if (statvfs(target, &sv) == 0)
		printf("case=flags_after nosuid=%d nodev=%d\n", !!(sv.f_flag & ST_NOSUID),
		       !!(sv.f_flag & ST_NODEV));
	fflush(stdout);
}

/*
 * What the caller can do with the mount fd notifyd hands out before it is
 * attached: clear the forced flags on it, or clone it (open_tree) and clear
 * them on the clone or attach the clone where notifyd does not look.
 */
static int cmd_detached(const char *type, const char *src, const char *target, const char *target2)
{
	struct mount_attr clr = {.attr_clr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
	int fd = make_context(type, src);
	if (report("detached_context", fd) < 0 ||
	    report("detached_create", sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) < 0)
		return 1;
	int m = sys_fsmount(fd, FSMOUNT_CLOEXEC, 0);
	if (report("detached_fsmount", m) < 0)
		return 1;
	report("detached_setattr_clear",
	       (int)syscall(SYS_mount_setattr, m, "", AT_EMPTY_PATH, &clr, sizeof(clr)));
	/* An access-time change (notifyd makes a new locked mount) smuggling a clear. */
	struct mount_attr atime_clr = {.attr_set = MOUNT_ATTR_NOATIME,
	                               .attr_clr = MOUNT_ATTR__ATIME | MOUNT_ATTR_NOSUID};
	report("detached_atime_clear", (int)syscall(SYS_mount_setattr, m, "", AT_EMPTY_PATH,
	                                            &atime_clr, sizeof(atime_clr)));
	/* libmount's -o noatime: notifyd replaces the fd with the changed mount. */
	struct mount_attr noatime = {.attr_set = MOUNT_ATTR_NOATIME, .attr_clr = MOUNT_ATTR__ATIME};
	report("detached_noatime",
	       (int)syscall(SYS_mount_setattr, m, "", AT_EMPTY_PATH, &noatime, sizeof(noatime)));
	report("detached_setattr_clear_again",
	       (int)syscall(SYS_mount_setattr, m, "", AT_EMPTY_PATH, &clr, sizeof(clr)));
	int c =
	    (int)syscall(SYS_open_tree, m, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	report("detached_clone", c);
	if (c >= 0) {
		report("clone_setattr_clear",
		       (int)syscall(SYS_mount_setattr, c, "", AT_EMPTY_PATH, &clr, sizeof(clr)));
		int r = sys_move_mount(c, "", AT_FDCWD, target2, MOVE_MOUNT_F_EMPTY_PATH);
		report("clone_move_mount", r);
		if (r == 0) {
			struct statvfs sv;
			if (statvfs(target2, &sv) == 0)
				printf("case=clone_flags nosuid=%d nodev=%d\n",
				       !!(sv.f_flag & ST_NOSUID), !!(sv.f_flag & ST_NODEV));
			report("clone_remount", (int)syscall(SYS_mount, NULL, target2, NULL,
			                                     MS_REMOUNT | MS_BIND, NULL));
			if (statvfs(target2, &sv) == 0)
				printf("case=clone_flags_after nosuid=%d nodev=%d\n",
				       !!(sv.f_flag & ST_NOSUID), !!(sv.f_flag & ST_NODEV));
			sys_umount2(target2, MNT_DETACH);
		}
		close(c);
	}
	int r = sys_move_mount(m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
	report("detached_move_mount", r);
	if (r == 0) {
		check_locked(target);
		sys_umount2(target, 0);
	}
	close(m);
	close(fd);
	return 0;
}

static int cmd_seq(long n, const char *type, const char *src, const char *target)
{
	long ok = 0, bad = 0;
	char first_err[128] = "";
	for (long i = 0; i < n; i++) {
		const char *step = "fsopen";
		int fd = make_context(type, src);
		int r = fd < 0 ? -1 : full_mount(fd, target, 0, &step);
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (r == 0) {
			if (i == 0)
				check_locked(target);
			step = "umount2";
			r = sys_umount2(target, 0);
			e = errno;
		}
		if (r == 0) {
			ok++;
		} else {
			if (!bad++)
				snprintf(first_err, sizeof(first_err), "%s:%s", step, ename(e));
			if (r < 0 && strcmp(step, "umount2") == 0)
				sys_umount2(target, MNT_DETACH);
		}
	}
	printf("seq n=%ld ok=%ld failed=%ld first_error=%s\n", n, ok, bad,
	       first_err[0] ? first_err : "none");
	return bad ? 1 : 0;
}

static int cmd_abandon(long n, const char *type, const char *src)
{
	long bad = 0;
	char first_err[128] = "";
	for (long i = 0; i < n; i++) {
		const char *step = "fsopen";
		int fd = make_context(type, i % 3 ? src : NULL), r = fd < 0 ? -1 : 0;
		if (r == 0 && i % 3 >= 1) {
			step = "create";
			r = sys_fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
		}
		if (r == 0 && i % 3 == 2) {
			step = "fsmount";
			r = sys_fsmount(fd, FSMOUNT_CLOEXEC, 0);
			if (r >= 0)
				close(r), r = 0;
		}
		if (r < 0 && !bad++)
			snprintf(first_err, sizeof(first_err), "%s:%s", step, ename(errno));
		if (fd >= 0)
			close(fd);
	}
	printf("abandon n=%ld failed=%ld first_error=%s\n", n, bad,
	       first_err[0] ? first_err : "none");
	return bad ? 1 : 0;
}

static int cmd_cap(const char *type)
{
	int fds[256], n = 0, e = 0;
	while (n < 256) {
		int fd = sys_fsopen(type, FSOPEN_CLOEXEC);
		if (fd < 0) {
			e = errno;
			break;
		}
		fds[n++] = fd;
	}
	printf("case=cap opened=%d errno=%s\n", n, ename(e));
	if (n > 0)
		close(fds[--n]);
	int fd = sys_fsopen(type, FSOPEN_CLOEXEC);
	report("cap_after_close", fd);
	if (fd >= 0)
		close(fd);
	while (n > 0)
		close(fds[--n]);
	return 0;
}

/* forge: the swapping thread and the calling thread. */
static struct {
	int num, ours, theirs;
	volatile int stop;
	long calls, answered, counts[140];
} race;

static void *swapper(void *arg)
{
	(void)arg;
	while (!race.stop) {
		dup2(race.theirs, race.num);
		dup2(race.ours, race.num);
	}
	return NULL;
}

static void count(int rc)
{
	int e = rc < 0 ? errno : 0;
	__atomic_add_fetch(&race.answered, 1, __ATOMIC_RELAXED);
	if (e >= 0 && e < 140)
		__atomic_add_fetch(&race.counts[e], 1, __ATOMIC_RELAXED);
}

static void print_counts(const char *name)
{
	printf("%s calls=%ld answered=%ld", name, race.calls, race.answered);
	for (int e = 0; e < 140; e++)
		if (race.counts[e])
			printf(" %s=%ld", ename(e), race.counts[e]);
	printf("\n");
	fflush(stdout);
}

/* The device a mount on @target shows, "MAJ:MIN", and whether it is @src's node. */
static void report_mounted(const char *name, const char *src, const char *target)
{
	struct stat ts, ss;
	char opts[2048];
	mount_opts(target, opts, sizeof(opts));
	if (stat(target, &ts) < 0 || stat(src, &ss) < 0) {
		printf("case=%s mounted=unknown errno=%s\n", name, ename(errno));
		return;
	}
	printf("case=%s dev=%u:%u src_dev=%u:%u same=%d opts=%s\n", name, major(ts.st_dev),
	       minor(ts.st_dev), major(ss.st_rdev), minor(ss.st_rdev), ts.st_dev == ss.st_rdev,
	       opts);
	fflush(stdout);
}

static int cmd_forge(const char *type, const char *src, const char *other, const char *target,
                     int seconds)
{
	const char *step;
	int h = make_context(type, src);
	if (report("forge_context", h) < 0)
		return 1;
	int keep = dup(h);
	int p[2], memfd = (int)syscall(SYS_memfd_create, "forge", MFD_CLOEXEC);
	int own = sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
	report("own_tmpfs_context", own);
	if (pipe2(p, O_CLOEXEC) < 0 || memfd < 0 || keep < 0)
		return 1;

	dup2(p[0], h);
	report("pipe_source", sys_fsconfig(h, FSCONFIG_SET_STRING, "source", other, 0));
	report("pipe_create", sys_fsconfig(h, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	report("pipe_fsmount", sys_fsmount(h, FSMOUNT_CLOEXEC, 0));
	dup2(memfd, h);
	report("memfd_source", sys_fsconfig(h, FSCONFIG_SET_STRING, "source", other, 0));
	report("memfd_create", sys_fsconfig(h, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	dup2(own, h);
	report("own_source", sys_fsconfig(h, FSCONFIG_SET_STRING, "source", other, 0));
	report("own_option", sys_fsconfig(h, FSCONFIG_SET_STRING, "size", "1m", 0));
	close(h);
	report("closed_source", sys_fsconfig(h, FSCONFIG_SET_STRING, "source", other, 0));
	report("closed_create", sys_fsconfig(h, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	report("closed_fsmount", sys_fsmount(h, FSMOUNT_CLOEXEC, 0));
	dup2(keep, h);
	int r = full_mount(h, target, 0, &step);
	report("forge_mount", r);
	if (r == 0) {
		report_mounted("forge_mounted", src, target);
		sys_umount2(target, 0);
	} else {
		printf("case=forge_mount_step step=%s\n", step);
	}
	close(h);
	close(keep);

	/* The race: kcmp-then-continue must never let a parameter into notifyd's context. */
	int ours = make_context(type, src);
	if (report("race_context", ours) < 0)
		return 1;
	int own2 = sys_fsopen("tmpfs", FSOPEN_CLOEXEC);
	race.num = 200;
	race.ours = ours;
	race.theirs = own2;
	dup2(ours, race.num);
	pthread_t t;
	if (pthread_create(&t, NULL, swapper, NULL) != 0)
		return 1;
	time_t end = time(NULL) + seconds;
	while (time(NULL) < end) {
		race.calls += 3;
		count(sys_fsconfig(race.num, FSCONFIG_SET_STRING, "source", other, 0));
		count(sys_fsconfig(race.num, FSCONFIG_SET_FLAG, "nodelalloc", NULL, 0));
		count(sys_fsconfig(race.num, FSCONFIG_SET_STRING, "stripe", "8", 0));
	}
	race.stop = 1;
	pthread_join(t, NULL);
	print_counts("race");
	close(race.num);
	r = full_mount(ours, target, 0, &step);
	report("race_mount", r);
	if (r == 0) {
		report_mounted("race_mounted", src, target);
		sys_umount2(target, 0);
	} else {
		printf("case=race_mount_step step=%s\n", step);
	}
	close(ours);
	close(own2);
	close(own);
	close(memfd);
	close(p[0]);
	close(p[1]);
	return 0;
}

/* 8 threads x R8_CALLS fsconfig; every 4th call of each thread is a forbidden option. */
#define R8_CALLS 12
static struct {
	int fd;
	long counts[140];
	int create_rc[2], create_errno[2];
} r8;
static pthread_barrier_t r8_barrier;

static void *r8_worker(void *arg)
{
	long id = (long)arg;
	static const char *const allowed[][2] = {
	    {"commit", "5"}, {"errors", "remount-ro"}, {"commit", "9"}, {"errors", "continue"}};
	pthread_barrier_wait(&r8_barrier);
	for (int i = 0; i < R8_CALLS; i++) {
		int rc;
		if ((i + id) % 4 == 3)
			rc = sys_fsconfig(r8.fd, FSCONFIG_SET_STRING, "stripe", "8", 0);
		else
			rc = sys_fsconfig(r8.fd, FSCONFIG_SET_STRING, allowed[(i + id) % 4][0],
			                  allowed[(i + id) % 4][1], 0);
		int e = rc < 0 ? errno : 0, forbidden = (i + id) % 4 == 3;
		if (e >= 0 && e < 70)
			__atomic_add_fetch(&r8.counts[e + 70 * forbidden], 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *r8_creator(void *arg)
{
	long id = (long)arg;
	pthread_barrier_wait(&r8_barrier);
	r8.create_rc[id] = sys_fsconfig(r8.fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	r8.create_errno[id] = r8.create_rc[id] < 0 ? errno : 0;
	return NULL;
}

static int cmd_race8(const char *type, const char *src, const char *target)
{
	pthread_t t[8];
	r8.fd = make_context(type, src);
	if (report("race8_context", r8.fd) < 0)
		return 1;
	pthread_barrier_init(&r8_barrier, NULL, 8);
	for (long i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, r8_worker, (void *)i);
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	printf("case=race8 calls=%d allowed:", 8 * R8_CALLS);
	for (int e = 0; e < 140; e++) {
		if (e == 70)
			printf(" forbidden:");
		if (r8.counts[e])
			printf("%s=%ld,", ename(e % 70), r8.counts[e]);
	}
	printf("\n");
	pthread_barrier_destroy(&r8_barrier);
	pthread_barrier_init(&r8_barrier, NULL, 2);
	for (long i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, r8_creator, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("case=race8_create a=%s b=%s\n", ename(r8.create_errno[0]),
	       ename(r8.create_errno[1]));
	int m = sys_fsmount(r8.fd, FSMOUNT_CLOEXEC, 0);
	report("race8_fsmount", m);
	if (m >= 0) {
		report("race8_move_mount",
		       sys_move_mount(m, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH));
		report_mounted("race8_mounted", src, target);
		sys_umount2(target, 0);
		close(m);
	}
	close(r8.fd);
	return 0;
}

static int unix_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -1;
	strcpy(a->sun_path, path);
	return 0;
}

static int cmd_pass_send(const char *sock, const char *type, const char *src, const char *target,
                         const char *donefile)
{
	struct sockaddr_un a;
	int h = make_context(type, src);
	if (report("send_context", h) < 0 || unix_addr(&a, sock) < 0)
		return 1;
	/* A second context, created and mounted: its detached mount goes along. */
	int h2 = make_context(type, src), m2 = -1;
	if (h2 >= 0 && sys_fsconfig(h2, FSCONFIG_CMD_CREATE, NULL, NULL, 0) == 0)
		m2 = sys_fsmount(h2, FSMOUNT_CLOEXEC, 0);
	report("send_mount", m2);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int r = -1;
	for (int i = 0; i < 100 && r < 0; i++) {
		r = connect(s, (struct sockaddr *)&a, sizeof(a));
		if (r < 0)
			usleep(100000);
	}
	if (report("send_connect", r) < 0)
		return 1;
	char c = 'H', cbuf[CMSG_SPACE(2 * sizeof(int))];
	int fds[2] = {h, m2 >= 0 ? m2 : h};
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	report("send_fd", (int)sendmsg(s, &mh, 0));
	close(s);
	for (int i = 0; i < 600 && access(donefile, F_OK) < 0; i++)
		usleep(100000);
	const char *step;
	r = full_mount(h, target, 0, &step);
	report("sender_mount", r);
	if (r == 0) {
		report_mounted("sender_mounted", src, target);
		sys_umount2(target, 0);
	} else {
		printf("case=sender_mount_step step=%s\n", step);
	}
	/* The mount B had: still A's to attach. */
	if (m2 >= 0) {
		report("sender_mount2",
		       sys_move_mount(m2, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH));
		close(m2);
		sys_umount2(target, 0);
	}
	if (h2 >= 0)
		close(h2);
	close(h);
	return 0;
}

static int cmd_pass_recv(const char *sock)
{
	struct sockaddr_un a;
	if (unix_addr(&a, sock) < 0)
		return 1;
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(sock);
	if (report("recv_listen",
	           bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 ? -1 : listen(l, 1)) < 0)
		return 1;
	chmod(sock, 0777);
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	char c, cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int h = -1, fds[2] = {-1, -1};
	if (s >= 0 && recvmsg(s, &mh, MSG_CMSG_CLOEXEC) == 1) {
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS && cm->cmsg_len == CMSG_LEN(sizeof(fds)))
			memcpy(fds, CMSG_DATA(cm), sizeof(fds));
		h = fds[0];
	}
	if (report("recv_fd", h) < 0)
		return 1;
	/* A's detached mount, attached by B: not B's handle, so the kernel decides. */
	report("recv_move_mount",
	       sys_move_mount(fds[1], "", AT_FDCWD, "/mnt/b", MOVE_MOUNT_F_EMPTY_PATH));
	struct stat st_b, st_root;
	if (stat("/mnt/b", &st_b) == 0 && stat("/", &st_root) == 0)
		printf("case=recv_mnt_b same_dev_as_root=%d\n", st_b.st_dev == st_root.st_dev);
	if (fds[1] != h)
		close(fds[1]);
	report("recv_commit", sys_fsconfig(h, FSCONFIG_SET_STRING, "commit", "7", 0));
	report("recv_create", sys_fsconfig(h, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	int m = sys_fsmount(h, FSMOUNT_CLOEXEC, 0);
	report("recv_fsmount", m);
	if (m >= 0)
		close(m);
	close(h);
	close(s);
	close(l);
	return 0;
}

static int cmd_loop(const char *type, const char *src, const char *target)
{
	for (int i = 0; i < 4; i++) {
		if (fork() == 0) {
			char t[256];
			snprintf(t, sizeof(t), "%s/%d", target, i);
			mkdir(t, 0755);
			for (;;) {
				const char *step;
				int fd = make_context(type, src);
				if (fd >= 0 && full_mount(fd, t, 0, &step) == 0)
					sys_umount2(t, 0);
				if (fd >= 0)
					close(fd);
			}
		}
	}
	printf("loop started\n");
	fflush(stdout);
	while (wait(NULL) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fail_usage();
	const char *c = argv[1];
	if (strcmp(c, "limits") == 0 && argc == 4)
		return cmd_limits(argv[2], argv[3]);
	if (strcmp(c, "failed") == 0 && argc >= 4) {
		for (int i = 3; i < argc; i++)
			cmd_failed(argv[2], argv[i]);
		return 0;
	}
	if (strcmp(c, "seq") == 0 && argc == 6)
		return cmd_seq(atol(argv[2]), argv[3], argv[4], argv[5]);
	if (strcmp(c, "detached") == 0 && argc == 6)
		return cmd_detached(argv[2], argv[3], argv[4], argv[5]);
	if (strcmp(c, "abandon") == 0 && argc == 5)
		return cmd_abandon(atol(argv[2]), argv[3], argv[4]);
	if (strcmp(c, "cap") == 0 && argc == 3)
		return cmd_cap(argv[2]);
	if (strcmp(c, "forge") == 0 && argc == 7)
		return cmd_forge(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
	if (strcmp(c, "race8") == 0 && argc == 5)
		return cmd_race8(argv[2], argv[3], argv[4]);
	if (strcmp(c, "pass-send") == 0 && argc == 7)
		return cmd_pass_send(argv[2], argv[3], argv[4], argv[5], argv[6]);
	if (strcmp(c, "pass-recv") == 0 && argc == 3)
		return cmd_pass_recv(argv[2]);
	if (strcmp(c, "loop") == 0 && argc == 5)
		return cmd_loop(argv[2], argv[3], argv[4]);
	return fail_usage();
}
