/* SPDX-License-Identifier: MIT */
/*
 * A small pool of threads that do the slow part of every request (reading
 * the caller, mounting), so the event loop only receives and dispatches.
 * Each thread has its own root/cwd (unshare(CLONE_FS)) so it can step into a
 * container's mount namespace without moving the others.
 */
#ifndef MV_WORKER_H
#define MV_WORKER_H

#include <linux/seccomp.h>

#include "notifyd/container.h"

int worker_pool_start(unsigned n_threads);
/* Queue a notification; takes a reference on c.  -EAGAIN past the per-container limit. */
int worker_submit(struct container *c, const struct seccomp_notif *notif, unsigned max_pending);
/* Finish queued work and join the threads. */
void worker_pool_stop(void);

#endif
