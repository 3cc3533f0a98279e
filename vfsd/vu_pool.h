/* SPDX-License-Identifier: MIT */
#ifndef VFSD_VU_POOL_H
#define VFSD_VU_POOL_H

#include "vfsd/vhost_user.h"

/*
 * --thread-pool-size: a request queue's thread pops chains and hands them to
 * a pool of worker threads, each with its own device context (buffers,
 * credentials, cwd).  Workers complete chains out of order, which split
 * virtqueues allow (vfsd never offers VIRTIO_F_IN_ORDER); the used ring is
 * updated under the queue's ring_lock.  At most two chains per worker are in
 * flight, so the queue thread waits when every worker is busy.
 */
struct vfsd_vu_pool;

/* Starts n workers for q; NULL on failure (the queue then runs inline). */
struct vfsd_vu_pool *vfsd_vu_pool_start(struct vfsd_vu_queue *q, unsigned n);
/* A free element to pop into; waits while all are in flight. */
struct vfsd_vq_elem *vfsd_vu_pool_elem(struct vfsd_vu_pool *p);
/* Gives back an element that received no chain. */
void vfsd_vu_pool_unused(struct vfsd_vu_pool *p, struct vfsd_vq_elem *e);
/* Queues a popped chain for a worker. */
void vfsd_vu_pool_submit(struct vfsd_vu_pool *p, struct vfsd_vq_elem *e);
/* Waits until every submitted chain is completed, then ends the workers. */
void vfsd_vu_pool_stop(struct vfsd_vu_pool *p);

#endif
