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
#endif
