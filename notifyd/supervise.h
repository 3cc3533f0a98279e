/* SPDX-License-Identifier: MIT */
#ifndef MV_SUPERVISE_H
#define MV_SUPERVISE_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>

#include "notifyd/container.h"

/*
 * Handle one notification received from c's notify fd, in a worker thread:
 * decide, act, answer the caller exactly once, count it and log one line.
 */
void supervise_handle(struct container *c, const struct seccomp_notif *notif);
/*
 * The same for a notification that arrived another way (LXC's proxy): the
 * notify fd for ID_VALID checks, and lxc, if set, carries the answer.
 */
struct lxc_reply;
void supervise_handle_via(struct container *c, const struct seccomp_notif *notif, int notify_fd,
                          const struct lxc_reply *lxc);
/*
 * Answer in the event loop what needs no look at the caller's memory; true if
 * answered.  Everything else goes to a worker.
 */
bool supervise_quick(struct container *c, const struct seccomp_notif *notif);
/*
 * A handler that finishes a request in another thread (a FUSE start-up)
 * calls supervise_defer(rq) before handing rq over: supervise_handle then
 * returns without answering and without touching rq again (the new owner may
 * have freed it already), and the new owner later calls
 * supervise_finish(rq) exactly once, which answers, counts, logs and frees
 * rq.  A deferred request holds a reference on its container, keeps
 * counting in its `pending`, and owns a copy of what it answers through
 * (the notify fd; LXC's reply).  0, or -errno with nothing changed.
 */
struct request;
int supervise_defer(struct request *rq);
void supervise_finish(struct request *rq);
struct supervise_totals {
	uint64_t requests, kernel, continued, denied, enosys, failed, callers_gone;
};
void supervise_totals(struct supervise_totals *ret);

#endif
