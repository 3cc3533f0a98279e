/* SPDX-License-Identifier: MIT */
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int host_mntns = -EBADF;

int view_init(void)
{
	host_mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	return host_mntns < 0 ? -errno : 0;
}

int view_thread_init(void)
{
	return unshare(CLONE_FS) < 0 ? -errno : 0;
}

int view_enter(int procfd, int with_root)
{
	_cleanup_close_ int mntns = openat(procfd, "ns/mnt", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int root = -EBADF, cwd = -EBADF;

	if (mntns < 0)
		return -errno;
	if (with_root) {
		/* Opened before setns: /proc/<tid> is the host's procfs. */
		root = openat(procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
		cwd = openat(procfd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root < 0 || cwd < 0)
			return -errno;
	}
	/*
	 * setns(CLONE_NEWNS) fails with EINVAL while this thread's fs_struct
	 * (root, cwd) is shared, and pthread_create() shares it with every
	 * thread this worker starts (loop_state.c's retry thread, started
	 * when a container exits, lives for seconds): the next umount2 of
	 * another container served here then failed with "cannot enter the
	 * caller's mount namespace".  Take a private copy again; a no-op when
	 * it is ours alone.
	 */
	if (unshare(CLONE_FS) < 0 || setns(mntns, CLONE_NEWNS) < 0)
		return -errno;
	if (with_root && (fchdir(root) < 0 || chroot(".") < 0 || fchdir(cwd) < 0)) {
		int r = -errno;
		view_leave();
		return r;
	}
	return 0;
}

void view_leave(void)
{
	/* setns() also resets root and cwd to the namespace's root. */
	if (setns(host_mntns, CLONE_NEWNS) < 0) {
		/* This thread cannot get back to the host's view: nothing it did is trustworthy. */
		log_error("worker cannot leave a container's mount namespace: %m; aborting");
		abort();
	}
}

int view_open(const char *path, int oflags)
{
	struct open_how how = {
	    .flags = (uint64_t)(oflags | O_CLOEXEC),
	    .resolve = RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}
