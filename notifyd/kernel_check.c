/* SPDX-License-Identifier: MIT */
/*
 * The minimum kernel (see kernel_check.h).  A probe calls the feature with
 * arguments it must refuse (a bad fd, a zero size): a kernel that has the
 * call answers EBADF or EINVAL, one that lacks it answers ENOSYS, and
 * nothing is ever created.
 */
#include "notifyd/kernel_check.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

/* The call exists: it failed, but not with ENOSYS. */
static bool exists(long rc)
{
	return rc == 0 || errno != ENOSYS;
}

static bool has_mount_setattr(void)
{
	return exists(syscall(SYS_mount_setattr, -1, "", 0, NULL, 0));
}

static bool has_close_range(void)
{
	/* first > last: EINVAL, nothing closed. */
	return exists(syscall(SYS_close_range, 2U, 1U, 0));
}

static bool has_statx_mnt_id(void)
{
	struct statx stx = {0};

	return statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == 0 &&
	       (stx.stx_mask & STATX_MNT_ID);
}

static bool has_pidfd_getfd(void)
{
	return exists(syscall(SYS_pidfd_getfd, -1, 0, 0));
}

static bool has_openat2(void)
{
	/* size 0 is below the first struct open_how: EINVAL. */
	return exists(syscall(SYS_openat2, AT_FDCWD, "/", NULL, 0));
}

static bool has_waitid_pidfd(void)
{
	siginfo_t si;

	/* Linux 5.4 knows P_PIDFD (EBADF for an fd that is not open); older kernels: EINVAL. */
	return waitid(P_PIDFD, (id_t)INT_MAX, &si, WEXITED | WNOHANG) < 0 && errno == EBADF;
}

static bool has_pidfd_open(void)
{
	return exists(syscall(SYS_pidfd_open, 0, ~0U));
}

static bool has_clone3(void)
{
	/* A NULL argument of size 0 is refused (EINVAL) before anything is cloned. */
	return exists(syscall(SYS_clone3, NULL, 0));
}

static bool has_new_mount_api(void)
{
	return exists(syscall(SYS_fsopen, NULL, ~0U));
}

static bool has_seccomp_notify(void)
{
	struct seccomp_notif_sizes sizes;

	return syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0;
}

/* Newest first: the first one missing names the version notifyd needs. */
static const struct {
	const char *what;
	const char *since;
	const char *used_for;
	bool (*probe)(void);
} required[] = {
    {"mount_setattr(2)", "5.12", "idmapped and read-only mounts", has_mount_setattr},
    {"close_range(2)", "5.9", "closing every inherited fd in helpers run in a container",
     has_close_range},
    {"statx(STATX_MNT_ID)", "5.8", "mount records", has_statx_mnt_id},
    {"pidfd_getfd(2)", "5.6", "taking a caller's fd (loop ioctls, fd sources)", has_pidfd_getfd},
    {"openat2(2)", "5.6", "resolving paths without magic links", has_openat2},
    {"waitid(P_PIDFD)", "5.4", "reaping helpers by pidfd", has_waitid_pidfd},
    {"pidfd_open(2)", "5.3", "holding on to callers and helpers", has_pidfd_open},
    {"clone3(2)", "5.3", "helpers started in a cgroup (CLONE_INTO_CGROUP, 5.7)", has_clone3},
    {"fsopen(2)", "5.2", "the new mount API", has_new_mount_api},
    {"SECCOMP_GET_NOTIF_SIZES", "5.0", "seccomp user notification", has_seccomp_notify},
};

int kernel_check_minimum(char *why, size_t len)
{
	struct utsname u;

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		int saved = errno;

		if (required[i].probe()) {
			errno = saved;
			continue;
		}
		snprintf(why, len,
		         "notifyd needs Linux %s or newer: this kernel (%s) lacks %s (Linux %s), "
		         "needed for %s",
		         KERNEL_CHECK_MIN, u.release, required[i].what, required[i].since,
		         required[i].used_for);
		return -ENOSYS;
	}
	return 0;
}

static int addfd_send = -1;

int kernel_check_addfd_send(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = {.len = 1, .filter = &allow};
	int status;
	pid_t pid;

	if (addfd_send >= 0)
		return addfd_send;
	/* A filter is for life: install it in a child that only asks the one question. */
	pid = fork();
	if (pid < 0)
		return addfd_send = 0;
	if (pid == 0) {
		struct seccomp_notif_addfd a = {
		    .id = 0, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = 0};
		int fd;

		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		                  SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (fd < 0)
			_exit(2);
		/* No such request: ENOENT if the flag is known, EINVAL if not. */
		_exit(ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0 && errno == ENOENT ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid)
		return addfd_send = 0;
	addfd_send = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	return addfd_send;
}
