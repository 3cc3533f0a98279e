/* SPDX-License-Identifier: MIT */
/*
 * A real seccomp notify fd for unit tests: fork a child that goes into a
 * private mount namespace, installs a filter whose rules return
 * SCMP_ACT_NOTIFY, hands the notify fd to the parent, and then runs its
 * steps, writing one struct step_result per step to a pipe.  The parent
 * receives the notifications and answers them (through notifyd's code).
 */
#ifndef MV_NOTIFY_CHILD_H
#define MV_NOTIFY_CHILD_H

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fdutil.h"

struct step_result {
	long ret;
	int err;
	int extra; /* step-specific: something the child checked afterwards */
};

struct notify_child {
	pid_t pid;
	int notify_fd; /* the filter's notify fd, in the parent */
	int results;   /* read end of the steps' results */
};

/* Write one step's result from the child. */
static inline void step_report(int out, long ret, int extra)
{
	struct step_result r = {.ret = ret, .err = ret < 0 ? errno : 0, .extra = extra};

	if (write(out, &r, sizeof(r)) != (ssize_t)sizeof(r))
		_exit(3);
}

/*
 * Start the child: add_rules(ctx) adds the SCMP_ACT_NOTIFY rules, then
 * steps(out, arg) runs in the child with the filter loaded.  0 or -errno.
 */
static inline int notify_child_start(struct notify_child *nc, int (*add_rules)(scmp_filter_ctx),
                                     void (*steps)(int out, void *arg), void *arg)
{
	int sp[2], pp[2];
	ssize_t n;
	size_t nfds = 1;
	char byte;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	if (pipe2(pp, O_CLOEXEC) < 0)
		return -errno;
	nc->pid = fork();
	if (nc->pid < 0)
		return -errno;
	if (nc->pid == 0) {
		scmp_filter_ctx ctx;
		int fd;

		close(sp[0]);
		close(pp[0]);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(2);
		ctx = seccomp_init(SCMP_ACT_ALLOW);
		if (!ctx || add_rules(ctx) < 0 || seccomp_load(ctx) < 0)
			_exit(2);
		fd = seccomp_notify_fd(ctx);
		if (fd < 0 || fd_send_with_fds(sp[1], "F", 1, &fd, 1) < 0)
			_exit(2);
		close(fd);
		steps(pp[1], arg);
		_exit(0);
	}
	close(sp[1]);
	close(pp[1]);
	nc->results = pp[0];
	nc->notify_fd = -EBADF;
	n = fd_recv_with_fds(sp[0], &byte, 1, &nc->notify_fd, &nfds, 0);
	close(sp[0]);
	if (n != 1 || nfds != 1)
		return n < 0 ? (int)n : -EPROTO;
	return 0;
}

/*
 * Wait for the child's next notification (or the end of its steps): 1 with
 * *notif filled, 0 when the child finished, -errno.
 */
static inline int notify_child_next(struct notify_child *nc, struct seccomp_notif *notif)
{
	for (;;) {
		struct pollfd p = {.fd = nc->notify_fd, .events = POLLIN};
		int r = poll(&p, 1, 10000);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -ETIMEDOUT;
		if (p.revents & POLLHUP)
			return 0; /* no task uses the filter any more */
		memset(notif, 0, sizeof(*notif));
		if (ioctl(nc->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, notif) == 0)
			return 1;
		if (errno != EINTR && errno != ENOENT)
			return -errno;
	}
}

/* Reap the child: its exit status, or -1. */
static inline int notify_child_wait(struct notify_child *nc)
{
	int status;

	if (waitpid(nc->pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
