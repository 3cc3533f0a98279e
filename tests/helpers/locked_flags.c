/* SPDX-License-Identifier: MIT */
/*
 * locked_flags: raw mount-API calls for tests/security/notifyd_locked_flags.sh
 * and notifyd_devices.sh, run inside containers whose root file system has
 * only busybox (built static).
 *
 *   locked_flags setattr PATH          mount_setattr: clear nodev,nosuid,rdonly
 *   locked_flags clone-setattr PATH    the same on an open_tree(OPEN_TREE_CLONE) copy,
 *                                      then attach the copy at PATH2 if given
 *   locked_flags rclone-setattr PATH   recursive clone, recursive setattr
 *   locked_flags fspick PATH           fspick + fsconfig(rw, RECONFIGURE)
 *   locked_flags flags PATH            statvfs: prints nodev=N nosuid=N rdonly=N
 *   locked_flags opendev PATH          open(O_RDONLY) and print what the first read gives
 *   locked_flags runas UID CMD...      setresuid/gid(UID) and exec CMD
 *   locked_flags euid                  prints euid=N
 *
 * Exit 0 when the call succeeded, 1 (with "errno=NAME" on stdout) when not.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/mount.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* By its path from here: static helpers are built without -I. */
#include "../../common/kernel_compat.h"

static const char *errname(int e)
{
	switch (e) {
	case EPERM:
		return "EPERM";
	case EACCES:
		return "EACCES";
	case EINVAL:
		return "EINVAL";
	case EBUSY:
		return "EBUSY";
	case ENOENT:
		return "ENOENT";
	case EROFS:
		return "EROFS";
	case ENXIO:
		return "ENXIO";
	case ENODEV:
		return "ENODEV";
	case ENOSYS:
		return "ENOSYS";
	default:
		return "other";
	}
}

static int fail(const char *what)
{
	int e = errno;
	printf("%s: %s errno=%s\n", what, strerror(e), errname(e));
	return 1;
}

static int setattr_clear(int dfd, const char *path, unsigned flags)
{
	struct mount_attr a = {
	    .attr_clr = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_RDONLY,
	};
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, &a, sizeof(a));
}

static int show_flags(const char *path)
{
	struct statvfs s;

	if (statvfs(path, &s) < 0)
		return fail("statvfs");
	printf("nodev=%d nosuid=%d rdonly=%d\n", !!(s.f_flag & ST_NODEV), !!(s.f_flag & ST_NOSUID),
	       !!(s.f_flag & ST_RDONLY));
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	const char *path = argc > 2 ? argv[2] : ".";

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!strcmp(cmd, "setattr")) {
		if (setattr_clear(AT_FDCWD, path, 0) < 0)
			return fail("mount_setattr");
		printf("mount_setattr cleared the flags\n");
		return show_flags(path) ? 1 : 0;
	}
	if (!strcmp(cmd, "clone-setattr") || !strcmp(cmd, "rclone-setattr")) {
		unsigned rec = cmd[0] == 'r' ? AT_RECURSIVE : 0;
		int t = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | rec);
		if (t < 0)
			return fail("open_tree");
		if (setattr_clear(t, "", AT_EMPTY_PATH | rec) < 0)
			return fail("mount_setattr on the clone");
		printf("mount_setattr cleared the flags of the clone\n");
		if (argc > 3 &&
		    syscall(SYS_move_mount, t, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH) == 0)
			show_flags(argv[3]);
		return 0;
	}
	if (!strcmp(cmd, "fspick")) {
		int fd = (int)syscall(SYS_fspick, AT_FDCWD, path, FSPICK_CLOEXEC);
		if (fd < 0)
			return fail("fspick");
		if (syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "rw", NULL, 0) < 0)
			return fail("fsconfig rw");
		if (syscall(SYS_fsconfig, fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
			return fail("fsconfig reconfigure");
		printf("fspick reconfigured the superblock\n");
		return show_flags(path) ? 1 : 0;
	}
	if (!strcmp(cmd, "flags"))
		return show_flags(path);
	if (!strcmp(cmd, "opendev")) {
		char buf[256];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail("open");
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		if (n < 0)
			return fail("read");
		buf[n] = '\0';
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] < 32 || buf[i] > 126)
				buf[i] = '.';
		printf("opened and read: %s\n", buf);
		return 0;
	}
	if (!strcmp(cmd, "runas") && argc > 3) {
		uid_t id = (uid_t)strtoul(argv[2], NULL, 10);
		if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 ||
		    setresuid(id, id, id) < 0)
			return fail("setresuid");
		execv(argv[3], argv + 3);
		return fail("execv");
	}
	if (!strcmp(cmd, "euid")) {
		printf("euid=%d\n", (int)geteuid());
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of locked_flags.c\n");
	return 2;
}
