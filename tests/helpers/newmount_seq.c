// SPDX-License-Identifier: MIT
/*
 * The new mount API's sequence for a new superblock, as a program with no
 * mount(2) fallback does it (composefs; libmount >= 2.39's hook_mount.c for
 * a new superblock): fsopen(TYPE), fsconfig(source), one fsconfig per
 * option (KEY=VALUE: FSCONFIG_SET_STRING, KEY: FSCONFIG_SET_FLAG),
 * FSCONFIG_CMD_CREATE, fsmount, move_mount onto TARGET.  Static: runs in the
 * busybox test containers (tests/integration/newmount_fuse.sh).
 *
 * Usage: newmount_seq MODE TYPE SOURCE TARGET [OPTION...]
 *   mount   the whole sequence; prints "mounted"
 *   create  up to FSCONFIG_CMD_CREATE, then closes the context; prints "created"
 *   fsmount up to fsmount, then closes the mount unattached; prints "fsmounted"
 * A failing step prints "STEP: strerror (errno N)" and the context's
 * messages ("log: ..."), and exits 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x1
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x4
#endif
enum {
	SET_FLAG = 0,
	SET_STRING = 1,
	CMD_CREATE = 6,
};

/* Print the messages the kernel (or notifyd) left in the context. */
static void print_log(int fsfd)
{
	char buf[1024];
	ssize_t n;

	if (fsfd < 0)
		return;
	while ((n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		printf("log: %s\n", buf);
	}
}

static int fail(const char *step, int fsfd)
{
	int err = errno;

	printf("%s: %s (errno %d)\n", step, strerror(err), err);
	print_log(fsfd);
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode, *type, *source, *target;
	int fsfd, mfd;

	if (argc < 5) {
		fprintf(stderr, "usage: %s mount|create|fsmount TYPE SOURCE TARGET [OPTION...]\n",
		        argv[0]);
		return 2;
	}
	mode = argv[1];
	type = argv[2];
	source = argv[3];
	target = argv[4];
	setvbuf(stdout, NULL, _IONBF, 0);
	fsfd = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return fail("fsopen", -1);
	if (strcmp(source, "-") && syscall(SYS_fsconfig, fsfd, SET_STRING, "source", source, 0) < 0)
		return fail("fsconfig source", fsfd);
	for (int i = 5; i < argc; i++) {
		char key[256], *eq = strchr(argv[i], '=');
		long r;

		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : (int)strlen(argv[i]),
		         argv[i]);
		r = eq ? syscall(SYS_fsconfig, fsfd, SET_STRING, key, eq + 1, 0)
		       : syscall(SYS_fsconfig, fsfd, SET_FLAG, key, NULL, 0);
		if (r < 0) {
			char step[300];
			snprintf(step, sizeof(step), "fsconfig %s", argv[i]);
			return fail(step, fsfd);
		}
	}
	if (syscall(SYS_fsconfig, fsfd, CMD_CREATE, NULL, NULL, 0) < 0)
		return fail("fsconfig create", fsfd);
	if (!strcmp(mode, "create")) {
		close(fsfd);
		printf("created\n");
		return 0;
	}
	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		return fail("fsmount", fsfd);
	close(fsfd);
	if (!strcmp(mode, "fsmount")) {
		close(mfd);
		printf("fsmounted\n");
		return 0;
	}
	if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail("move_mount", -1);
	close(mfd);
	printf("mounted\n");
	return 0;
}
