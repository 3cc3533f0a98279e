/* SPDX-License-Identifier: MIT */
/*
 * The vfsd of a share, started (share_launch.h).  The child of clone3() is
 * a copy of multi-threaded notifyd: from the clone to execveat() it makes
 * raw system calls only, no malloc, no locks, no logging, and reports a
 * failure as one struct launch_status on a close-on-exec pipe (end of file
 * there means vfsd runs).
 */
#include "notifyd/share_launch.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
	STEP_FDS = 1,
	STEP_CGROUP_V1,
	STEP_UNSHARE,
	STEP_SLAVE,
	STEP_STAGE,
	STEP_GROUPS,
	STEP_USERNS,
	STEP_IDS,
	STEP_LOCK,
	STEP_EXEC,
	_STEP_MAX,
};

static const char *const step_names[_STEP_MAX] = {
    [STEP_FDS] = "arranging vfsd's file descriptors",
    [STEP_CGROUP_V1] = "joining the caller's cgroup v1 devices group",
    [STEP_UNSHARE] = "unshare(CLONE_NEWNS)",
    [STEP_SLAVE] = "making vfsd's mount namespace a slave",
    [STEP_STAGE] = "placing the share at " SHARE_STAGE_DIR,
    [STEP_GROUPS] = "dropping notifyd's supplementary groups",
    [STEP_USERNS] = "setns(the caller's user namespace)",
    [STEP_IDS] = "becoming root of the caller's user namespace",
    [STEP_LOCK] = "locking the share's mount flags (unshare in the user namespace)",
    [STEP_EXEC] = "executing vfsd",
};

struct launch_status {
	int err;
	int step;
};

static char *const child_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

void share_plan_init(struct share_plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->tree = pl->sock = pl->exec = pl->userns = pl->cgroup_dir = pl->v1_procs = -EBADF;
	pl->devnull = pl->err_w = -EBADF;
}

void share_plan_close(struct share_plan *pl)
{
	int *fds[] = {&pl->tree,       &pl->sock,     &pl->exec,    &pl->userns,
	              &pl->cgroup_dir, &pl->v1_procs, &pl->devnull, &pl->err_w};

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = safe_close(*fds[i]);
}

int share_plan_arg(struct share_plan *pl, const char *fmt, ...)
{
	size_t room = sizeof(pl->argbuf) - pl->arglen;
	va_list ap;
	int n;

	if ((size_t)pl->argc + 2 > ARRAY_SIZE(pl->argv))
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(pl->argbuf + pl->arglen, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -E2BIG;
	pl->argv[pl->argc++] = pl->argbuf + pl->arglen;
	pl->argv[pl->argc] = NULL;
	pl->arglen += (size_t)n + 1;
	return 0;
}

static __attribute__((noreturn)) void child_fail(int fd, int step, int err)
{
	struct launch_status m = {.err = err, .step = step};

	if (write(fd, &m, sizeof(m)) < 0)
		_exit(126);
	_exit(127);
}

/*
 * The fds vfsd gets, at fixed numbers; everything else of notifyd is
 * closed.  Every plan fd is first moved above the fixed range so that no
 * dup3() overwrites one still to be moved.  Returns the status pipe's fd.
 */
static int child_fds(const struct share_plan *pl, int status_w)
{
	const int src[] = {pl->devnull, pl->err_w,  pl->err_w, pl->sock,    pl->tree,
	                   pl->exec,    pl->userns, status_w,  pl->v1_procs};
	/* Where each goes; only the socket stays open across execveat(). */
	const int dst[] = {0, 1, 2, SFD_SOCK, SFD_TREE, SFD_EXEC, SFD_USERNS, SFD_STATUS, 8};
	int high[ARRAY_SIZE(src)];
	int st = fcntl(status_w, F_DUPFD_CLOEXEC, 100);

	if (st < 0)
		_exit(126);
	for (size_t i = 0; i < ARRAY_SIZE(src); i++) {
		high[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD_CLOEXEC, 100) : -1;
		if (src[i] >= 0 && high[i] < 0)
			child_fail(st, STEP_FDS, errno);
	}
	for (size_t i = 0; i < ARRAY_SIZE(src); i++) {
		int flags = dst[i] <= SFD_SOCK ? 0 : O_CLOEXEC;

		if (high[i] >= 0 && dup3(high[i], dst[i], flags) < 0)
			child_fail(st, STEP_FDS, errno);
	}
	syscall(SYS_close_range, 9, ~0U, 0);
	return SFD_STATUS;
}

/* Signals as a fresh process has them: notifyd's mask and ignored signals must not pass. */
static void child_signals(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static __attribute__((noreturn)) void child_main(const struct share_plan *pl, int status_w)
{
	int st = child_fds(pl, status_w);

	child_signals();
	/* Its own session: no terminal signal of notifyd's reaches it. */
	setsid();
	if (pl->v1_procs >= 0 && write(8, "0", 1) != 1)
		child_fail(st, STEP_CGROUP_V1, EPERM);
	close(8);
	/* A view of its own, where the share sits at SHARE_STAGE_DIR; the host's
	 * mount namespace never sees it (slave: nothing goes back). */
	if (unshare(CLONE_NEWNS) < 0)
		child_fail(st, STEP_UNSHARE, errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		child_fail(st, STEP_SLAVE, errno);
	if (move_mount(SFD_TREE, "", AT_FDCWD, SHARE_STAGE_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		child_fail(st, STEP_STAGE, errno);
	close(SFD_TREE);
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		child_fail(st, STEP_GROUPS, errno);
	if (pl->userns >= 0) {
		if (setns(SFD_USERNS, CLONE_NEWUSER) < 0)
			child_fail(st, STEP_USERNS, errno);
		if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
			child_fail(st, STEP_IDS, errno);
		/*
		 * The copy belongs to the container's user namespace: the kernel
		 * locks the share's nosuid, nodev and ro, which vfsd could otherwise
		 * clear as root of that namespace.
		 */
		if (unshare(CLONE_NEWNS) < 0)
			child_fail(st, STEP_LOCK, errno);
	}
	close(SFD_USERNS);
	syscall(SYS_execveat, SFD_EXEC, "", pl->argv, child_env, AT_EMPTY_PATH);
	child_fail(st, STEP_EXEC, errno);
}

int share_launch(const struct share_plan *pl, int timeout_ms, int *ret_pidfd, pid_t *ret_pid,
                 const char **what)
{
	_cleanup_close_ int status_r = -EBADF, status_w = -EBADF;
	struct launch_status m = {0};
	siginfo_t si;
	int pidfd = -EBADF, p[2];
	ssize_t n;
	long pid;

	*what = "clone3";
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	status_r = p[0];
	status_w = p[1];
	struct clone_args ca = {
	    .flags = CLONE_PIDFD | (pl->cgroup_dir >= 0 ? CLONE_INTO_CGROUP : 0),
	    .pidfd = (uint64_t)(uintptr_t)&pidfd,
	    .exit_signal = SIGCHLD,
	    .cgroup = pl->cgroup_dir >= 0 ? (uint64_t)pl->cgroup_dir : 0,
	};
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_main(pl, status_w);
	status_w = safe_close(status_w);

	struct pollfd pfd = {.fd = status_r, .events = POLLIN};
	int r = poll(&pfd, 1, timeout_ms);
	if (r <= 0) {
		r = r < 0 ? -errno : -ETIMEDOUT;
		*what = "starting vfsd (no answer from the child)";
		goto kill;
	}
	n = read(status_r, &m, sizeof(m));
	if (n == 0) { /* close-on-exec: vfsd runs */
		*ret_pidfd = pidfd;
		*ret_pid = (pid_t)pid;
		return 0;
	}
	r = n == (ssize_t)sizeof(m) && m.err > 0 ? -m.err : -EIO;
	*what = m.step > 0 && m.step < _STEP_MAX ? step_names[m.step] : "starting vfsd";
kill:
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
	close(pidfd);
	return r;
}
