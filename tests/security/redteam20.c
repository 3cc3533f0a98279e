/* SPDX-License-Identifier: MIT */
/*
 * redteam20: attacks on notifyd's emulation of the new mount API
 * (docs/new-mount-api.md), run inside a crun or runc container by
 * tests/security/notifyd_redteam20.sh.  Static: the container has busybox only.
 *
 *   redteam20 attach-many DEV N dot|procfd|dotclose|nsdotclose [TARGET]
 *	N times fsopen("ext4") .. fsmount of DEV, then attach the mount fd at
 *	/mnt/rtI by a path no rule traps: move_mount(FD, ".", ...) (dot, and
 *	dotclose: the mount fd closed before the next round) or MS_MOVE of
 *	/proc/self/fd/FD (procfd).  Prints "round I step=S errno=E" for the
 *	first failing step of each round (step=attach errno=0 when attached),
 *	then "attached=K": how many /mnt/rt* mounts mountinfo shows.
 *	nsdotclose: as dotclose, from a mount namespace of its own, every round
 *	at TARGET (a directory on a FUSE mount: notifyd cannot statx() it).
 *	The type is $RT20_TYPE (default ext4), $RT20_FLAG a SET_FLAG key for
 *	each context; with $RT20_REUSE set, one context is created and
 *	fsmount'ed again every round.
 *
 *   redteam20 then-mount DEV
 *	One mount attached by ".", its fd closed, then mount(2) of DEV at
 *	/mnt/m2; prints "mount errno=E".
 *
 *   redteam20 held-mount DEV
 *	fsmount's fd held, unattached; then mount(2) of DEV at /mnt/m3;
 *	prints "mount errno=E".
 *
 *   redteam20 i386 DEV TARGET
 *	The whole fsopen .. move_mount(MOVE_MOUNT_F_EMPTY_PATH) sequence with
 *	the i386 system call numbers (int $0x80, arguments below 4 GiB); prints
 *	"step=S errno=E" and, attached, "nosuid=B nodev=B" of TARGET.
 *
 *   redteam20 probe TYPE KEY PATH...
 *	fsopen(TYPE), then for each PATH fsconfig(SET_STRING, KEY, PATH) on
 *	a fresh context; prints "probe PATH errno=E" and the context's
 *	messages ("msg LINE"): whatever notifyd's side of the context
 *	resolved must be the container's view, never the host's.
 *
 *   redteam20 todfd DEV FILE FLAG
 *	FILE (on a FUSE mount whose daemon does not answer the FLUSH of any
 *	open but the first while FLAG exists) opened twice, then
 *	move_mount(M, "", FD2, "", F_EMPTY_PATH | T_EMPTY_PATH) of a new
 *	mount of DEV: notifyd must not close a copy of FD2's open file (its
 *	close would wait on the daemon).  Prints "todfd errno=E ms=T", then
 *	removes FLAG so that its own closes do not wait either.
 *
 *   redteam20 rw DEV TARGET
 *	fsconfig SET_FLAG "rw" (the profile forces ro), CMD_CREATE, fsmount,
 *	move_mount: prints "step=S errno=E" and "rdonly=B" of TARGET.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../common/kernel_compat.h"

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 1
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 4
#endif
#define SET_FLAG   0
#define SET_STRING 1
#define CMD_CREATE 6

static const char *errname(int e)
{
	switch (e) {
	case 0:
		return "0";
	case EPERM:
		return "EPERM";
	case ENOENT:
		return "ENOENT";
	case EBADF:
		return "EBADF";
	case EACCES:
		return "EACCES";
	case EBUSY:
		return "EBUSY";
	case EINVAL:
		return "EINVAL";
	case ENOSPC:
		return "ENOSPC";
	case ENOSYS:
		return "ENOSYS";
	case EMFILE:
		return "EMFILE";
	case ENODEV:
		return "ENODEV";
	case EROFS:
		return "EROFS";
	case EOPNOTSUPP:
		return "EOPNOTSUPP";
	default: {
		static char buf[32];
		snprintf(buf, sizeof(buf), "E%d", e);
		return buf;
	}
	}
}

/* fsopen .. CMD_CREATE .. fsmount of dev; the mount fd, or -1 with *step and errno. */
static int reused_fs = -1; /* $RT20_REUSE: one context, fsmount'ed every round */

static int new_mount(const char *dev, const char *flag, const char **step)
{
	int fs, mnt;

	if (getenv("RT20_REUSE") && reused_fs >= 0) {
		*step = "fsmount";
		return (int)syscall(SYS_fsmount, reused_fs, FSMOUNT_CLOEXEC, 0);
	}

	*step = "fsopen";
	fs = (int)syscall(SYS_fsopen, getenv("RT20_TYPE") ? getenv("RT20_TYPE") : "ext4",
	                  FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	*step = "source";
	if (syscall(SYS_fsconfig, fs, SET_STRING, "source", dev, 0) < 0)
		goto fail;
	*step = "flag";
	if (flag && syscall(SYS_fsconfig, fs, SET_FLAG, flag, NULL, 0) < 0)
		goto fail;
	*step = "create";
	if (syscall(SYS_fsconfig, fs, CMD_CREATE, NULL, NULL, 0) < 0)
		goto fail;
	*step = "fsmount";
	mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		goto fail;
	if (getenv("RT20_REUSE"))
		reused_fs = fs;
	else
		close(fs);
	return mnt;
fail : {
	int e = errno;
	close(fs);
	errno = e;
	return -1;
}
}

static int attach_by_path(int mnt, const char *target, const char *how)
{
	char path[64];

	mkdir(target, 0755);
	if (strcmp(how, "procfd") == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", mnt);
		return mount(path, target, NULL, MS_MOVE, NULL);
	}
	return (int)syscall(SYS_move_mount, mnt, ".", AT_FDCWD, target, 0);
}

static int count_rt_mounts(void)
{
	char line[4096];
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " /mnt/rt"))
			n++;
	if (f)
		fclose(f);
	return n;
}

static int count_mounts_at(const char *target)
{
	char line[4096], pat[512];
	int n = 0;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	snprintf(pat, sizeof(pat), " %s ", target);
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, pat))
			n++;
	if (f)
		fclose(f);
	return n;
}

static int do_attach_many(const char *dev, int n, const char *how, const char *at)
{
	int held[64], nheld = 0;

	if (strcmp(how, "nsdotclose") == 0 && unshare(CLONE_NEWNS) < 0) {
		printf("unshare errno=%s\n", errname(errno));
		return 0;
	}

	for (int i = 1; i <= n && i < 64; i++) {
		const char *step;
		char target[64];
		/* DEV may be a comma-separated list: round i takes the i-th (the last repeats). */
		char devs[512], *one = devs, *comma;
		snprintf(devs, sizeof(devs), "%s", dev);
		for (int k = 1; k < i && (comma = strchr(one, ',')); k++)
			one = comma + 1;
		if ((comma = strchr(one, ',')))
			*comma = '\0';
		int mnt = new_mount(one, getenv("RT20_FLAG"), &step);

		if (mnt < 0) {
			printf("round %d step=%s errno=%s\n", i, step, errname(errno));
			continue;
		}
		snprintf(target, sizeof(target), "%s%d", at ? at : "/mnt/rt", i);
		if (at)
			snprintf(target, sizeof(target), "%s", at);
		int r = attach_by_path(mnt, target, how);
		printf("round %d step=attach errno=%s\n", i, errname(r < 0 ? errno : 0));
		if (strcmp(how, "dotclose") == 0 || strcmp(how, "nsdotclose") == 0)
			close(mnt);
		else
			held[nheld++] = mnt;
	}
	printf("attached=%d\n", at ? count_mounts_at(at) : count_rt_mounts());
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	return 0;
}

static int do_then_mount(const char *dev, bool attach)
{
	const char *step;
	int mnt = new_mount(dev, NULL, &step);

	if (mnt < 0) {
		printf("step=%s errno=%s\n", step, errname(errno));
		return 0;
	}
	if (attach) {
		int r = attach_by_path(mnt, "/mnt/m1", "dot");
		printf("attach errno=%s\n", errname(r < 0 ? errno : 0));
		close(mnt);
	}
	mkdir("/mnt/m2", 0755);
	int r = mount(dev, "/mnt/m2", "ext4", 0, NULL);
	printf("mount errno=%s\n", errname(r < 0 ? errno : 0));
	if (r == 0)
		umount("/mnt/m2");
	if (!attach)
		close(mnt);
	return 0;
}

/* An i386 system call from this 64-bit process: int $0x80, 32-bit arguments. */
static long sys32(long nr, long a, long b, long c, long d, long e)
{
	long ret;

	__asm__ volatile("int $0x80"
	                 : "=a"(ret)
	                 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
	                 : "memory", "r8", "r9", "r10", "r11");
	return (int)ret;
}

static void print_flags(const char *target)
{
	struct statvfs sv;

	if (statvfs(target, &sv) < 0) {
		printf("statvfs errno=%s\n", errname(errno));
		return;
	}
	printf("nosuid=%d nodev=%d rdonly=%d\n", !!(sv.f_flag & ST_NOSUID),
	       !!(sv.f_flag & ST_NODEV), !!(sv.f_flag & ST_RDONLY));
}

static int do_i386(const char *dev, const char *target)
{
	/* i386 numbers of the new mount API (arch/x86/entry/syscalls/syscall_32.tbl). */
	enum { MOVE_MOUNT = 429, FSOPEN = 430, FSCONFIG = 431, FSMOUNT = 432 };
	char *low = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	long fs, mnt, r;

	if (low == MAP_FAILED) {
		printf("step=mmap errno=%s\n", errname(errno));
		return 0;
	}
	mkdir(target, 0755);
	strcpy(low, "ext4");
	strcpy(low + 16, "source");
	snprintf(low + 64, 256, "%s", dev);
	low[512] = '\0';
	snprintf(low + 1024, 1024, "%s", target);
	fs = sys32(FSOPEN, (long)low, FSOPEN_CLOEXEC, 0, 0, 0);
	if (fs < 0) {
		printf("step=fsopen errno=%s\n", errname((int)-fs));
		return 0;
	}
	r = sys32(FSCONFIG, fs, SET_STRING, (long)(low + 16), (long)(low + 64), 0);
	if (r == 0)
		r = sys32(FSCONFIG, fs, CMD_CREATE, 0, 0, 0);
	if (r < 0) {
		printf("step=fsconfig errno=%s\n", errname((int)-r));
		return 0;
	}
	mnt = sys32(FSMOUNT, fs, FSMOUNT_CLOEXEC, 0, 0, 0);
	if (mnt < 0) {
		printf("step=fsmount errno=%s\n", errname((int)-mnt));
		return 0;
	}
	r = sys32(MOVE_MOUNT, mnt, (long)low + 512, AT_FDCWD, (long)(low + 1024),
	          MOVE_MOUNT_F_EMPTY_PATH);
	printf("step=move_mount errno=%s\n", errname(r < 0 ? (int)-r : 0));
	if (r == 0)
		print_flags(target);
	return 0;
}

static int do_rw(const char *dev, const char *target)
{
	const char *step;
	int mnt = new_mount(dev, "rw", &step);

	if (mnt < 0) {
		printf("step=%s errno=%s\n", step, errname(errno));
		return 0;
	}
	mkdir(target, 0755);
	int r = (int)syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
	printf("step=move_mount errno=%s\n", errname(r < 0 ? errno : 0));
	if (r == 0)
		print_flags(target);
	close(mnt);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int do_todfd(const char *dev, const char *file, const char *flag)
{
	const char *step;
	int first = open(file, O_RDONLY | O_CLOEXEC), fd = open(file, O_RDONLY | O_CLOEXEC);
	int mnt = new_mount(dev, NULL, &step), r;
	long t0;

	if (first < 0 || fd < 0 || mnt < 0) {
		printf("todfd step=%s errno=%s\n", mnt < 0 ? step : "open", errname(errno));
		unlink(flag);
		return 0;
	}
	t0 = now_ms();
	r = (int)syscall(SYS_move_mount, mnt, "", fd, "",
	                 MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
	printf("todfd errno=%s ms=%ld\n", errname(r < 0 ? errno : 0), now_ms() - t0);
	unlink(flag);
	return 0;
}

static int do_probe(const char *type, const char *key, int n, char **paths)
{
	for (int i = 0; i < n; i++) {
		char buf[1024];
		int fs = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
		ssize_t len;

		if (fs < 0) {
			printf("probe %s step=fsopen errno=%s\n", paths[i], errname(errno));
			continue;
		}
		int r = (int)syscall(SYS_fsconfig, fs, SET_STRING, key, paths[i], 0);
		printf("probe %s errno=%s\n", paths[i], errname(r < 0 ? errno : 0));
		while ((len = read(fs, buf, sizeof(buf) - 1)) > 0) {
			buf[len] = '\0';
			printf("msg %s\n", buf);
		}
		close(fs);
	}
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "attach-many") == 0)
		return do_attach_many(argv[2], atoi(argv[3]), argv[4], argc == 6 ? argv[5] : NULL);
	if (argc == 3 && strcmp(argv[1], "then-mount") == 0)
		return do_then_mount(argv[2], true);
	if (argc == 3 && strcmp(argv[1], "held-mount") == 0)
		return do_then_mount(argv[2], false);
	if (argc == 4 && strcmp(argv[1], "i386") == 0)
		return do_i386(argv[2], argv[3]);
	if (argc >= 5 && strcmp(argv[1], "probe") == 0)
		return do_probe(argv[2], argv[3], argc - 4, argv + 4);
	if (argc == 5 && strcmp(argv[1], "todfd") == 0)
		return do_todfd(argv[2], argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "rw") == 0)
		return do_rw(argv[2], argv[3]);
	fprintf(stderr,
	        "usage: redteam20 attach-many|then-mount|held-mount|i386|probe|todfd|rw ...\n");
	return 2;
}
