// SPDX-License-Identifier: MIT
/*
 * Split virtqueue, device side (virtio 1.x section 2.7).  The guest writes
 * the descriptor table and the available ring at any time, so every field is
 * copied out once and checked; nothing read from guest memory is used as an
 * index or length before it has been range-checked.  Ring fields are
 * little-endian (VIRTIO_F_VERSION_1); vfsd is built for little-endian hosts.
 */
#include "vfsd/virtqueue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vfsd accesses virtio rings in host byte order; port the accessors first"
#endif

size_t vfsd_vq_desc_size(unsigned num)
{
	return sizeof(struct vfsd_vring_desc) * num;
}

size_t vfsd_vq_avail_size(unsigned num)
{
	return sizeof(uint16_t) * (3 + (size_t)num);
}

size_t vfsd_vq_used_size(unsigned num)
{
	return sizeof(uint16_t) * 3 + sizeof(struct vfsd_vring_used_elem) * num;
}

int vfsd_vq_map(struct vfsd_vq *vq, const struct vfsd_mem *mem, unsigned num, uint64_t desc,
                uint64_t avail, uint64_t used, bool event_idx, bool indirect)
{
	void *d, *a, *u;

	if (num == 0 || num > VFSD_VQ_MAX_SIZE || (num & (num - 1)))
		return -EINVAL;
	if ((desc & 15) || (avail & 1) || (used & 3))
		return -EINVAL;
	d = vfsd_mem_uva(mem, desc, vfsd_vq_desc_size(num));
	a = vfsd_mem_uva(mem, avail, vfsd_vq_avail_size(num));
	u = vfsd_mem_uva(mem, used, vfsd_vq_used_size(num));
	if (!d || !a || !u)
		return -EINVAL;
	vq->num = num;
	vq->mem = mem;
	vq->desc = d;
	vq->avail = a;
	vq->used_hdr = u;
	vq->used = (struct vfsd_vring_used_elem *)((uint16_t *)u + 2);
	vq->avail_event = (uint16_t *)(vq->used + num);
	vq->event_idx = event_idx;
	vq->indirect = indirect;
	vq->signalled_valid = false;
	return 0;
}

static uint16_t load16(const uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

int vfsd_vq_pending(struct vfsd_vq *vq)
{
	uint16_t avail_idx = load16(&vq->avail[1]);
	uint16_t n = (uint16_t)(avail_idx - vq->last_avail);

	/* A driver can never have more than num chains outstanding. */
	if (n > vq->num)
		return -EIO;
	return n > 0;
}

static int cmp_iov(const void *a, const void *b)
{
	const struct iovec *x = a, *y = b;

	if ((uintptr_t)x->iov_base != (uintptr_t)y->iov_base)
		return (uintptr_t)x->iov_base < (uintptr_t)y->iov_base ? -1 : 1;
	return 0;
}

/*
 * Two buffers of one chain that overlap would let the guest change what we
 * read while we write the reply into it; well-behaved drivers never do this.
 */
static bool iov_overlap(const struct iovec *iov, unsigned n)
{
	struct iovec sorted[VFSD_VQ_MAX_IOV];

	if (n <= 8) {
		for (unsigned i = 0; i < n; i++)
			for (unsigned j = i + 1; j < n; j++) {
				uintptr_t a = (uintptr_t)iov[i].iov_base,
				          b = (uintptr_t)iov[j].iov_base;

				if (a < b + iov[j].iov_len && b < a + iov[i].iov_len)
					return true;
			}
		return false;
	}
	memcpy(sorted, iov, n * sizeof(*iov));
	qsort(sorted, n, sizeof(*sorted), cmp_iov);
	for (unsigned i = 1; i < n; i++)
		if ((uintptr_t)sorted[i - 1].iov_base + sorted[i - 1].iov_len >
		    (uintptr_t)sorted[i].iov_base)
			return true;
	return false;
}

/*
 * walk_chain() - collect the buffers of the chain starting at head.
 * Rules enforced (virtio 1.x 2.7.5): every index inside its table, no more
 * descriptors than the table holds (this also catches loops), no zero-length
 * buffer, readable buffers before writable ones, INDIRECT only when
 * negotiated, only on the head, without NEXT, with a whole number of
 * descriptors and never nested, every buffer inside guest memory, the total
 * bounded and no two buffers overlapping.
 */
static int walk_chain(struct vfsd_vq *vq, uint16_t head, struct vfsd_vq_elem *elem)
{
	const struct vfsd_vring_desc *table = vq->desc;
	unsigned tsize = vq->num, idx = head, count = 0, n = 0;
	bool in_indirect = false, seen_write = false;
	uint64_t total = 0;

	elem->head = head;
	elem->n_rd = elem->n_wr = 0;
	elem->rd_len = elem->wr_len = 0;
	for (;;) {
		struct vfsd_vring_desc d;

		if (idx >= tsize || ++count > tsize)
			return -EIO;
		memcpy(&d, &table[idx], sizeof(d));
		if (d.flags & VFSD_VRING_DESC_F_INDIRECT) {
			if (!vq->indirect || in_indirect || count != 1 ||
			    (d.flags & VFSD_VRING_DESC_F_NEXT) || d.len == 0 ||
			    d.len % sizeof(struct vfsd_vring_desc) ||
			    d.len / sizeof(struct vfsd_vring_desc) > VFSD_VQ_MAX_SIZE)
				return -EIO;
			table = vfsd_mem_gpa(vq->mem, d.addr, d.len);
			if (!table)
				return -EIO;
			tsize = d.len / sizeof(struct vfsd_vring_desc);
			idx = 0;
			count = 0;
			in_indirect = true;
			continue;
		}
		if (d.len == 0)
			return -EIO;
		if (d.flags & VFSD_VRING_DESC_F_WRITE)
			seen_write = true;
		else if (seen_write)
			return -EIO;
		total += d.len;
		if (total > VFSD_VQ_MAX_BYTES)
			return -EIO;
		if (vfsd_mem_gpa_iov(vq->mem, d.addr, d.len, elem->iov, &n, VFSD_VQ_MAX_IOV) < 0)
			return -EIO;
		if (d.flags & VFSD_VRING_DESC_F_WRITE) {
			elem->wr_len += d.len;
		} else {
			elem->rd_len += d.len;
			elem->n_rd = n;
		}
		if (!(d.flags & VFSD_VRING_DESC_F_NEXT))
			break;
		idx = d.next;
	}
	elem->n_wr = n - elem->n_rd;
	if (iov_overlap(elem->iov, n))
		return -EIO;
	return 0;
}

int vfsd_vq_pop(struct vfsd_vq *vq, struct vfsd_vq_elem *elem)
{
	uint16_t head;
	int r;

	r = vfsd_vq_pending(vq);
	if (r <= 0)
		return r;
	head = load16(&vq->avail[2 + (vq->last_avail & (vq->num - 1))]);
	if (head >= vq->num)
		return -EIO;
	if (walk_chain(vq, head, elem) < 0)
		return -EIO;
	vq->last_avail++;
	vq->inflight++;
	return 1;
}

void vfsd_vq_push(struct vfsd_vq *vq, uint16_t head, uint32_t len)
{
	struct vfsd_vring_used_elem *u = &vq->used[vq->used_idx & (vq->num - 1)];

	u->id = head;
	u->len = len;
	vq->used_idx++;
	/* The entry must be visible before the index that publishes it. */
	__atomic_store_n(&vq->used_hdr[1], vq->used_idx, __ATOMIC_RELEASE);
	if (vq->inflight)
		vq->inflight--;
}

bool vfsd_vq_should_notify(struct vfsd_vq *vq)
{
	uint16_t old, now, event;
	bool valid;

	/* Our used-index store must be ordered before reading the driver's flags. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(&vq->avail[0]) & VFSD_VRING_AVAIL_F_NO_INTERRUPT);
	old = vq->signalled_used;
	now = vq->used_idx;
	valid = vq->signalled_valid;
	vq->signalled_used = now;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	event = load16(&vq->avail[2 + vq->num]);
	/* vring_need_event(): did used_idx move past used_event since last time? */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void vfsd_vq_set_notify(struct vfsd_vq *vq, bool enable)
{
	if (vq->event_idx) {
		if (enable)
			__atomic_store_n(vq->avail_event, vq->last_avail, __ATOMIC_RELAXED);
	} else {
		uint16_t f = load16(&vq->used_hdr[0]);

		if (enable)
			f &= (uint16_t)~VFSD_VRING_USED_F_NO_NOTIFY;
		else
			f |= VFSD_VRING_USED_F_NO_NOTIFY;
		__atomic_store_n(&vq->used_hdr[0], f, __ATOMIC_RELAXED);
	}
	/* Publish before the caller re-reads avail->idx. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}
