/* SPDX-License-Identifier: MIT */
#ifndef MV_SUPERVISE_H
#define MV_SUPERVISE_H

#include <linux/seccomp.h>
#include <stdbool.h>

#include "notifyd/container.h"

/*
 * Handle one notification received from c's notify fd, in a worker thread:
 * its handler from the dispatch table decides and acts; the decision it
 * returns is answered exactly once (request_answer()).
 */
struct inflight_slot;
void supervise_handle(struct container *c, const struct seccomp_notif *notif,
                      struct inflight_slot *slot);
/*
 * The same for a notification that arrived another way (LXC's proxy): the
 * notify fd for ID_VALID checks, and lxc, if set, carries the answer.
 */
struct lxc_reply;
void supervise_handle_via(struct container *c, const struct seccomp_notif *notif, int notify_fd,
                          const struct lxc_reply *lxc, struct inflight_slot *slot);
/*
 * Answer in the event loop what needs no look at the caller's memory; true if
 * answered.  Everything else goes to a worker.
 */
bool supervise_quick(struct container *c, const struct seccomp_notif *notif,
                     struct inflight_slot *slot);
/*
 * At start, for a request the notifyd before us left in the in-flight log
 * (inflight_recover()): answer it with d, or with d NULL handle it again
 * from its copy in a thread of its own.  notify_fd is only borrowed.
 */
struct decision;
void supervise_recovered(struct container *c, struct inflight_slot *slot, int notify_fd,
                         const struct decision *d);
#endif
