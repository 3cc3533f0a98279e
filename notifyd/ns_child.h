/* SPDX-License-Identifier: MIT */
/*
 * Short-lived helper processes for work a thread of multi-threaded notifyd
 * cannot do itself: setns() into a user namespace (mount_lock.c), or run in
 * the caller's cgroup so its device policy applies (source_open.c).
 *
 * The child is a raw clone3() copy of notifyd: after the clone only
 * async-signal-safe code runs (raw system calls, no malloc, no locks, no
 * logging).  It reports one ns_child_msg, optionally with one fd, over a
 * SOCK_SEQPACKET socket and exits; the parent waits for it with a timeout
 * and kills it past the timeout, so a child stuck on a frozen cgroup or a
 * hung FUSE file never stalls a worker for long.  A child that has entered a
 * container's user namespace can be signalled (SIGSTOP) by that container's
 * root when it shares notifyd's pid namespace: the timeout bounds that too.
 */
#ifndef MV_NS_CHILD_H
#define MV_NS_CHILD_H

#include <stdint.h>

struct ns_child_msg {
	int err;        /* 0, or the errno of the failing step */
	int step;       /* which step failed (the caller's own numbering) */
	uint64_t value; /* a result, e.g. a mount id */
};

/*
 * fn runs in the child with the report socket; it must not return (it calls
 * ns_child_report() and _exit()s).  keep[] lists the fds fn uses (besides the
 * socket): every other fd of notifyd is closed in the child first, so it holds
 * nothing of other containers.
 */
typedef void (*ns_child_fn)(void *arg, int sock);

/*
 * Run fn in a child, cloned into the cgroup v2 directory cgroup_fd
 * (CLONE_INTO_CGROUP) unless it is < 0.  Waits up to timeout_ms for its
 * report.  Returns 0 with *msg filled (msg->err says whether fn succeeded),
 * and *ret_fd (if given) the fd it sent or -EBADF; or -errno if the child
 * could not be made, did not report in time (-ETIMEDOUT) or died (-ECHILD).
 *
 * NS_CHILD_SHARE_MM (only with cgroup_fd < 0): the child shares notifyd's
 * memory (CLONE_VM, a stack of its own), which spares copying notifyd's page
 * tables.  fn must then change no uid/gid and write no memory but its own
 * stack.  Such a child may still enter a container's user namespace, so
 * notifyd's memory is never dumpable (main() clears the flag at start, and fn
 * clears it again after a setns(CLONE_NEWUSER), which may reset it to
 * fs.suid_dumpable): a container's CAP_SYS_PTRACE must never reach it.
 */
enum { NS_CHILD_SHARE_MM = 1 };
int ns_child_run(int cgroup_fd, unsigned flags, const int *keep, unsigned n_keep, ns_child_fn fn,
                 void *arg, int timeout_ms, struct ns_child_msg *msg, int *ret_fd);

/* At start, so the shutdown eventfd is among the fds notifyd keeps for good. */
void ns_child_init(void);

/* Test hook MOUNTVISOR_TEST_HELPER_STOP=1: a child stops itself here. */
void ns_child_test_stop(void);

/*
 * At shutdown: kill every helper still running (its ns_child_run() returns
 * -ECANCELED) and refuse new ones.
 */
void ns_child_cancel_all(void);

/*
 * In any child of notifyd (a copy of every fd of every container): close
 * every fd but the n in keep[] (sorted in place; negative ones ignored).
 * Async-signal-safe.  A child that holds a copy of another request's pipe
 * keeps that request from seeing end-of-file, so each child calls this first.
 */
void ns_child_close_all_but(int *keep, unsigned n);

/* In the child: send the report (and fd, if >= 0) and _exit(). */
__attribute__((noreturn)) void ns_child_report(int sock, int err, int step, uint64_t value, int fd);

#endif
