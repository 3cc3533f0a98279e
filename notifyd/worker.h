/* SPDX-License-Identifier: MIT */
/*
 * The worker threads.  Every container's notify fd sits in one epoll set
 * that all workers wait on with EPOLLONESHOT: the worker that wakes receives
 * the notification itself (no hand-off between threads on the hot path),
 * re-arms the fd so another worker can take that container's next request,
 * and handles this one.  A container may have at most max_running requests
 * being handled at once; beyond that its fd stays disarmed and further
 * requests wait in the kernel, so one container can never occupy every
 * worker.  Each thread has its own root/cwd (unshare(CLONE_FS)) so it can
 * step into a container's mount namespace without moving the others.
 */
#ifndef MV_WORKER_H
#define MV_WORKER_H

#include "notifyd/container.h"

int worker_pool_start(unsigned n_threads, unsigned max_running);
/* Start serving c's notify fd; the pool takes over the registry's reference. */
int worker_watch(struct container *c);
/* Stop the threads, then forget every container still watched. */
void worker_pool_stop(void);
/*
 * Stop the threads once each finished the request in hand, leaving every
 * container as it is (an upgrade re-executes notifyd next).
 */
void worker_pool_quiesce(void);

#endif
