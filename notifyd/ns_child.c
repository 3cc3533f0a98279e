/* SPDX-License-Identifier: MIT */
#include "notifyd/ns_child.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/kernel_compat.h"
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define NS_CHILD_MAX_KEEP 8

/*
 * Test hook (MOUNTVISOR_TEST_HELPER_STOP, read once by ns_child_init()):
 * every helper (and the FUSE start-up's mounter) stops itself right after
 * its report, as a container that can signal it may stop it there
 * (tests/security/notifyd_redteam2.sh).
 */
static bool stop_after_report;

void ns_child_report(int sock, int err, int step, uint64_t value, int fd)
{
	struct ns_child_msg m = {.err = err, .step = step, .value = value};
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (fd >= 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	(void)!sendmsg(sock, &mh, MSG_NOSIGNAL);
	ns_child_test_stop();
	_exit(err ? 1 : 0);
}

void ns_child_test_stop(void)
{
	if (stop_after_report) /* not raise(): its thread id is not ours in a CLONE_VM child */
		syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
}

void ns_child_close_all_but(int *keep, unsigned n)
{
	unsigned lo = 0;

	for (unsigned i = 1; i < n; i++) /* insertion sort, n is tiny */
		for (unsigned j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	for (unsigned i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned)keep[i] < lo)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

struct child_start {
	const int *keep;
	unsigned n_keep;
	int sock;
	ns_child_fn fn;
	void *arg;
	bool shares_mm; /* vfork mode: notifyd's own memory */
};

/* First code of the child, in either mode. */
static int child_main(void *p)
{
	const struct child_start *cs = p;
	int k[NS_CHILD_MAX_KEEP + 1];

	for (unsigned i = 0; i < cs->n_keep; i++)
		k[i] = cs->keep[i];
	k[cs->n_keep] = cs->sock;
	ns_child_close_all_but(k, cs->n_keep + 1);
	/* Dies with the worker. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * A process group of its own, so a timeout kills whatever it started
	 * too (source_open.c's checker, which a frozen cgroup may stop before
	 * it could ask for PR_SET_PDEATHSIG).  Not for a child sharing our
	 * memory: it starts nothing.
	 */
	if (!cs->shares_mm)
		setpgid(0, 0);
	/*
	 * Nothing in the container may ptrace it or read its /proc (a copy that
	 * may take the caller's credentials, or notifyd's own memory).
	 */
	prctl(PR_SET_DUMPABLE, 0);
	cs->fn(cs->arg, cs->sock);
	_exit(127);
}

#define VFORK_STACK (256 * 1024)

/*
 * Shutdown: an eventfd every waiting ns_child_run() polls besides its
 * child's socket.  Once written it stays readable, so every helper still
 * running is killed at once and no new one starts: a helper stopped by a
 * container (SIGSTOP) never holds notifyd's exit up to its timeout.
 */
static int cancel_fd = -EBADF;
static atomic_bool cancelled;
static pthread_once_t cancel_once = PTHREAD_ONCE_INIT;

static void cancel_init(void)
{
	cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

void ns_child_init(void)
{
	const char *env = getenv("MOUNTVISOR_TEST_HELPER_STOP");

	pthread_once(&cancel_once, cancel_init);
	if (env && strcmp(env, "1") == 0) {
		stop_after_report = true;
		log_warn("test hook: every helper stops itself after its report "
		         "(MOUNTVISOR_TEST_HELPER_STOP)");
	}
	unsetenv("MOUNTVISOR_TEST_HELPER_STOP");
}

void ns_child_cancel_all(void)
{
	uint64_t one = 1;

	pthread_once(&cancel_once, cancel_init);
	atomic_store(&cancelled, true);
	if (cancel_fd >= 0 && write(cancel_fd, &one, sizeof(one)) < 0) {
		/* cannot fail for an eventfd far from its maximum */
	}
}

int ns_child_run(int cgroup_fd, unsigned flags, const int *keep, unsigned n_keep, ns_child_fn fn,
                 void *arg, int timeout_ms, struct ns_child_msg *msg, int *ret_fd)
{
	_cleanup_close_ int sock = -EBADF, child_sock = -EBADF, pidfd = -EBADF;
	_cleanup_free_ char *stack = NULL;
	int sv[2], fds[1] = {-EBADF}, child_pidfd = -1, r;
	struct clone_args ca = {
	    .flags = CLONE_PIDFD | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
	    .pidfd = (uint64_t)(uintptr_t)&child_pidfd,
	    .exit_signal = SIGCHLD,
	    .cgroup = cgroup_fd >= 0 ? (uint64_t)cgroup_fd : 0,
	};
	struct child_start cs = {.keep = keep, .n_keep = n_keep, .fn = fn, .arg = arg};
	size_t nfds = 1;
	ssize_t n;
	long pid;

	if (ret_fd)
		*ret_fd = -EBADF;
	if (n_keep > NS_CHILD_MAX_KEEP || timeout_ms <= 0 ||
	    ((flags & NS_CHILD_SHARE_MM) && cgroup_fd >= 0))
		return -EINVAL;
	pthread_once(&cancel_once, cancel_init);
	if (atomic_load(&cancelled))
		return -ECANCELED;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	sock = sv[0];
	child_sock = cs.sock = sv[1];

	if (flags & NS_CHILD_SHARE_MM) {
		/*
		 * Share our memory, which spares copying notifyd's page tables (the
		 * largest part of a fork here).  Not CLONE_VFORK: this thread waits
		 * with the timeout below, since a child in a container's user
		 * namespace can be stopped by that container.  It keeps its own fd
		 * table, so closing child_sock below leaves the child's copy.
		 */
		cs.shares_mm = true;
		stack = malloc(VFORK_STACK);
		if (!stack)
			return -ENOMEM;
		pid = clone(child_main, stack + VFORK_STACK, CLONE_VM | CLONE_PIDFD | SIGCHLD, &cs,
		            &child_pidfd);
		if (pid < 0)
			return -errno;
	} else {
		pid = syscall(SYS_clone3, &ca, sizeof(ca));
		if (pid < 0)
			return -errno;
		if (pid == 0)
			child_main(&cs);
	}
	pidfd = child_pidfd;
	child_sock = safe_close(child_sock);

	struct pollfd pfd[2] = {{.fd = sock, .events = POLLIN},
	                        {.fd = cancel_fd, .events = POLLIN}};
	do
		r = poll(pfd, cancel_fd >= 0 ? 2 : 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r > 0 && !(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
		r = -ECANCELED; /* only the shutdown fd woke us */
	if (r <= 0) {
		/* Its group first: the child is not reaped yet, so the id is still its. */
		if (!cs.shares_mm)
			kill(-(pid_t)pid, SIGKILL);
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		r = r == 0 ? -ETIMEDOUT : r == -ECANCELED ? r : -errno;
	} else {
		memset(msg, 0, sizeof(*msg));
		n = fd_recv_with_fds(sock, msg, sizeof(*msg), fds, &nfds, 0);
		if (n != (ssize_t)sizeof(*msg)) {
			fd_close_all(fds, nfds);
			nfds = 0;
			r = n < 0 ? (int)n : -ECHILD;
		} else {
			r = 0;
		}
	}
	/*
	 * The child exits right after its report (or was killed): reap it.  It
	 * is killed in any case first: a container that can signal it (one in
	 * the host pid namespace; CAP_KILL in its own user namespace suffices)
	 * may stop it between its report and its exit, and an unbounded wait
	 * for it would lose this thread for good, and hold notifyd's exit.
	 */
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	siginfo_t si;
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	if (r < 0)
		return r;
	if (ret_fd && nfds == 1)
		*ret_fd = fds[0];
	else if (nfds == 1)
		safe_close(fds[0]);
	return 0;
}
