// SPDX-License-Identifier: MIT
/*
 * The virtio-fs device: queue 0 is the high-priority queue (FORGET and
 * friends), queues 1.. carry requests; the FUSE server does not care which,
 * so every queue thread runs the same dispatcher with its own buffers.
 */
#include "vfsd/fs_device.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static void *fs_queue_start(void *opaque, unsigned qidx)
{
	struct vfsd_fs_thread *t = calloc(1, sizeof(*t));

	/* xattr calls fchdir() into /proc/self/fd: give each thread its own cwd. */
	if (unshare(CLONE_FS) < 0)
		log_warn("queue %u: unshare(CLONE_FS): %m; xattr calls may race", qidx);
	if (!t || vfsd_fs_thread_init(t, opaque) < 0) {
		log_error("queue %u: out of memory", qidx);
		free(t);
		return NULL;
	}
	t->hiprio = qidx == 0;
	t->qidx = qidx;
	log_debug("queue %u started", qidx);
	return t;
}

static void fs_queue_stop(void *ctx)
{
	struct vfsd_fs_thread *t = ctx;

	if (!t)
		return;
	vfsd_fs_thread_fini(t);
	free(t);
}

static uint32_t fs_request(void *ctx, struct vfsd_vq_elem *elem)
{
	if (!ctx)
		return 0;
	return vfsd_fuse_handle(ctx, elem);
}

static void fs_queue_quiesce(void *opaque, unsigned qidx)
{
	vfsd_locks_quiesce(opaque, qidx);
}

static void fs_complete(void *ctx, unsigned qidx, struct vfsd_vq_elem *elem, uint32_t len)
{
	struct vfsd_vu_dev *dev = ctx;

	vfsd_vu_queue_complete(&dev->q[qidx], elem, len);
}

void vfsd_fs_device_bind(struct vfsd_fs *fs, struct vfsd_vu_dev *dev)
{
	fs->complete = fs_complete;
	fs->complete_ctx = dev;
}

static void fs_reset(void *opaque)
{
	vfsd_fs_reset(opaque);
}

const struct vfsd_vu_ops vfsd_fs_device_ops = {
    .queue_start = fs_queue_start,
    .queue_stop = fs_queue_stop,
    .request = fs_request,
    .queue_quiesce = fs_queue_quiesce,
    .reset = fs_reset,
};
