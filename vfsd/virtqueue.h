/* SPDX-License-Identifier: MIT */
#ifndef VFSD_VIRTQUEUE_H
#define VFSD_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vfsd/guest_mem.h"

/*
 * Split virtqueues (virtio 1.x, 2.7) as seen by the device: pop available
 * descriptor chains, push used ones, decide whether to notify the driver.
 * Everything read from the rings is guest input: it is read once into local
 * variables and checked before use.  A structurally bad ring (index out of
 * range, avail index jumping, malformed chain) makes vfsd_vq_pop() return
 * -EIO and the caller marks the device broken.
 */

#define VFSD_VQ_MAX_SIZE 32768
/* Longest chain accepted, counted in iovecs after splitting at region edges. */
#define VFSD_VQ_MAX_IOV 1024
/* Most bytes one chain may describe (readable + writable). */
#define VFSD_VQ_MAX_BYTES (64u << 20)

#define VFSD_VRING_DESC_F_NEXT          1
#define VFSD_VRING_DESC_F_WRITE         2
#define VFSD_VRING_DESC_F_INDIRECT      4
#define VFSD_VRING_AVAIL_F_NO_INTERRUPT 1
#define VFSD_VRING_USED_F_NO_NOTIFY     1

struct vfsd_vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vfsd_vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vfsd_vq {
	unsigned num; /* 0: not set up */
	const struct vfsd_mem *mem;
	struct vfsd_vring_desc *desc;
	uint16_t *avail;                   /* flags, idx, ring[num], used_event */
	uint16_t *used_hdr;                /* flags, idx */
	struct vfsd_vring_used_elem *used; /* ring[num], then avail_event */
	uint16_t *avail_event;
	bool event_idx;
	bool indirect;
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t signalled_used;
	bool signalled_valid;
	unsigned inflight; /* popped, not pushed */
};

/* A popped chain: device-readable iovecs first, then device-writable ones. */
struct vfsd_vq_elem {
	uint16_t head;
	unsigned n_rd, n_wr;
	size_t rd_len, wr_len;
	struct iovec iov[VFSD_VQ_MAX_IOV];
};

/*
 * vfsd_vq_map() - point vq at its rings.
 * @desc/@avail/@used: ring addresses in the front-end's address space.
 * Keeps last_avail/used_idx (they come from SET_VRING_BASE or a previous run).
 * Return: 0, or -EINVAL if num is not a power of two <= VFSD_VQ_MAX_SIZE, an
 * address is misaligned, or a ring is not wholly in guest memory.
 */
int vfsd_vq_map(struct vfsd_vq *vq, const struct vfsd_mem *mem, unsigned num, uint64_t desc,
                uint64_t avail, uint64_t used, bool event_idx, bool indirect);
/*
 * vfsd_vq_pop() - take the next available chain.
 * Return: 1 and *elem filled, 0 if the ring is empty, -EIO if the guest broke
 * the ring rules (the chain is not returned; the device must stop).
 */
int vfsd_vq_pop(struct vfsd_vq *vq, struct vfsd_vq_elem *elem);
/* Adds head to the used ring with len bytes written and publishes it. */
void vfsd_vq_push(struct vfsd_vq *vq, uint16_t head, uint32_t len);
/* Should the driver be interrupted now (EVENT_IDX or NO_INTERRUPT rules)? */
bool vfsd_vq_should_notify(struct vfsd_vq *vq);
/*
 * Ask (or stop asking) the driver for kicks.  After enabling, the caller
 * must check the ring once more: a buffer may have arrived in between.
 */
void vfsd_vq_set_notify(struct vfsd_vq *vq, bool enable);
/* Are there available chains not popped yet? -EIO if the index is bogus. */
int vfsd_vq_pending(struct vfsd_vq *vq);

/* Ring sizes in bytes for a queue of num entries (for front-ends and tests). */
size_t vfsd_vq_desc_size(unsigned num);
size_t vfsd_vq_avail_size(unsigned num);
size_t vfsd_vq_used_size(unsigned num);

#endif
