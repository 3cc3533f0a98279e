/* SPDX-License-Identifier: MIT */
/*
 * fsopen_only: a program with no mount(2) fallback, as composefs'
 * lcfs_mount() is: fsopen, fsconfig "source" (and "ro" if asked),
 * FSCONFIG_CMD_CREATE, fsmount with its mount attributes, move_mount onto
 * the target.  For tests/integration/newmount_oci.sh (static: it runs in
 * busybox containers).
 *
 *   fsopen_only TYPE SOURCE TARGET [ro]
 *
 * Prints "fsopen_only: mounted TYPE SOURCE on TARGET" and exits 0, or
 * prints the failing call, its errno (name and text) and the messages the
 * kernel (or notifyd) left in the fs context, and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* By its path from here: static helpers are built without -I. */
#include "../../common/kernel_compat.h"

static int fsfd = -1;

static int fail(const char *call)
{
	int e = errno;
	char buf[BUFSIZ];
	ssize_t n;
	const char *name = strerrorname_np(e);

	printf("fsopen_only: %s failed: errno=%s (%s)\n", call, name ? name : "unknown",
	       strerror(e));
	while (fsfd >= 0 && (n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
		if (buf[n - 1] == '\n')
			n--;
		buf[n] = '\0';
		printf("mesg=%s\n", buf);
	}
	return 1;
}

int main(int argc, char **argv)
{
	unsigned attrs = 0;
	int mfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "ro"))) {
		fprintf(stderr, "usage: fsopen_only TYPE SOURCE TARGET [ro]\n");
		return 2;
	}
	fsfd = (int)syscall(SYS_fsopen, argv[1], FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return fail("fsopen");
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", argv[2], 0) < 0)
		return fail("fsconfig source");
	if (argc == 5) {
		if (syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
			return fail("fsconfig ro");
		attrs |= MOUNT_ATTR_RDONLY;
	}
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fail("fsconfig create");
	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0)
		return fail("fsmount");
	if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail("move_mount");
	printf("fsopen_only: mounted %s %s on %s\n", argv[1], argv[2], argv[3]);
	return 0;
}
