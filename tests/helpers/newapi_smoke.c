/* SPDX-License-Identifier: MIT */
/*
 * newapi_smoke TYPE SOURCE TARGET [KEY[=VALUE]]... : mount through the new
 * mount API only (no mount(2) fallback): fsopen(TYPE), fsconfig "source"
 * (unless SOURCE is "-"), one SET_FLAG or SET_STRING per KEY, CMD_CREATE,
 * fsmount, move_mount onto TARGET.  Prints one line per step ("fsopen ok
 * fd=3", "create err=EPERM msg=..."), with the context's messages on
 * failure, and exits 0 or with the failing step's errno.  Static: runs in
 * the busybox test containers (newmount_kernel.sh).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

static void messages(int fd)
{
	char buf[1024];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		if (n && buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		printf("  msg: %s\n", buf);
	}
}

static int fail(const char *step, int fsfd)
{
	int e = errno;

	printf("%s err=%s (%d)\n", step, strerrorname_np(e) ? strerrorname_np(e) : "?", e);
	if (fsfd >= 0)
		messages(fsfd);
	return e;
}

int main(int argc, char **argv)
{
	int fsfd, mfd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4) {
		fprintf(stderr, "usage: newapi_smoke TYPE SOURCE TARGET [KEY[=VALUE]]...\n");
		return 2;
	}
	fsfd = fsopen(argv[1], FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return fail("fsopen", -1);
	printf("fsopen ok fd=%d\n", fsfd);
	if (strcmp(argv[2], "-") != 0) {
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", argv[2], 0) < 0)
			return fail("source", fsfd);
		printf("source ok\n");
	}
	for (int i = 4; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		int r;

		if (eq) {
			*eq = '\0';
			r = fsconfig(fsfd, FSCONFIG_SET_STRING, argv[i], eq + 1, 0);
		} else {
			r = fsconfig(fsfd, FSCONFIG_SET_FLAG, argv[i], NULL, 0);
		}
		if (r < 0)
			return fail(argv[i], fsfd);
		printf("%s ok\n", argv[i]);
	}
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return fail("create", fsfd);
	printf("create ok\n");
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOATIME);
	if (mfd < 0)
		return fail("fsmount", fsfd);
	printf("fsmount ok fd=%d\n", mfd);
	if (move_mount(mfd, "", AT_FDCWD, argv[3], MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return fail("move_mount", -1);
	printf("move_mount ok\n");
	close(mfd);
	close(fsfd);
	return 0;
}
