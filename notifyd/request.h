/* SPDX-License-Identifier: MIT */
/*
 * One trapped syscall on its way through notifyd: who asked and the private
 * copy of its arguments (struct request), and the one answer it gets
 * (struct decision).  A handler returns its decision; request_answer() is
 * the only place that answers the kernel (or LXC), counts and logs the
 * decision line -- for deferred requests too (request_defer() /
 * request_finish()).  As libfuse's lowlevel layer has one reply per request.
 */
#ifndef MV_REQUEST_H
#define MV_REQUEST_H

#include <limits.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "notifyd/container.h"
#include "notifyd/decision.h"
#include "notifyd/mount_options.h"
#include "notifyd/profile.h"
#include "notifyd/target.h"

struct inflight_slot;

struct request {
	struct container *c;
	struct inflight_slot *slot; /* its copy in the in-flight log, freed once answered */
	struct seccomp_notif notif;
	struct target t;
	const char *syscall;  /* its name, as the decision line gives it */
	uint64_t received_ns; /* metrics_now_ns() at receipt; 0: not timed (recovered) */

	/* Private copies of the caller's arguments. */
	char source[PATH_MAX];
	char target[PATH_MAX];
	char type[256];
	char data[4096];
	char flags[160]; /* formatted for the log */

	/* What a helper that returns -errno says about it (loop_device.c); the handler
	 * puts it into its decision. */
	char detail[512];

	/* Deferred (request_defer): answered later by request_finish(). */
	int own_notify_fd;           /* dup of the notify fd, or -EBADF */
	struct lxc_reply *own_reply; /* copy of LXC's reply, or NULL */
};

/* Handlers: each returns its decision; none answers the caller itself. */
struct decision mount_request_handle(struct request *rq);
struct decision umount_request_handle(struct request *rq);
struct decision loop_request_handle(struct request *rq);
/* fsopen, fsconfig, fsmount, move_mount, fspick, open_tree, mount_setattr (by rq->syscall). */
struct decision newapi_request_handle(struct request *rq);

/*
 * Answer rq with d exactly once (SECCOMP_IOCTL_NOTIF_SEND or LXC's reply),
 * close what rq holds of its caller, count it and log its decision line.
 * The caller still owns rq's memory.
 */
void request_answer(struct request *rq, const struct decision *d);
/*
 * A handler that finishes a request in another thread (a FUSE start-up)
 * calls request_defer(rq) before handing rq over, and returns a decision
 * with action DECISION_DEFERRED: the worker then neither answers nor
 * touches rq again (its new owner may have freed it already).  The new
 * owner later calls request_finish(rq, d) exactly once, which answers,
 * counts, logs and frees rq.  A deferred request holds a reference on its
 * container, keeps counting in its `pending`, and owns a copy of what it is
 * answered through (the notify fd; LXC's reply).  0, or -errno with nothing
 * changed.
 */
int request_defer(struct request *rq);
void request_finish(struct request *rq, const struct decision *d);

struct request_totals {
	uint64_t requests, kernel, continued, denied, enosys, failed, callers_gone, recovered;
};
void request_totals(struct request_totals *ret);

#endif
