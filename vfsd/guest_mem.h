/* SPDX-License-Identifier: MIT */
#ifndef VFSD_GUEST_MEM_H
#define VFSD_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/*
 * Guest memory as the front-end described it: regions of guest-physical
 * address space, each backed by an fd we mmap.  Every address that comes from
 * the front-end (ring addresses, in its own user address space) or from the
 * guest (descriptor buffers, guest-physical) is turned into a host pointer
 * here and nowhere else; a range that is not wholly inside mapped memory is
 * refused.
 */

#define VFSD_MEM_MAX_REGIONS 32

/* One region exactly as the vhost-user message carries it. */
struct vfsd_mem_desc {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vfsd_mem_region {
	struct vfsd_mem_desc d;
	uint8_t *map;   /* mapping of the fd from offset 0 */
	size_t map_len; /* d.mmap_offset + d.size */
	uint8_t *host;  /* map + d.mmap_offset: guest address d.gpa */
};

struct vfsd_mem {
	struct vfsd_mem_region r[VFSD_MEM_MAX_REGIONS];
	unsigned n;
};

/*
 * vfsd_mem_add() - map fd and add the region described by d.
 * The fd is not taken; the caller closes it (the mapping keeps the memory).
 * A memfd that allows sealing gets F_SEAL_SHRINK first, so the front-end
 * cannot shrink it under the mapping (SIGBUS); other fds are taken as they are.
 * Return: 0, -EINVAL (empty, wrapping or overlapping range, fd too small),
 * -ENOSPC (too many regions), or -errno from fstat/mmap.
 */
int vfsd_mem_add(struct vfsd_mem *m, const struct vfsd_mem_desc *d, int fd);
/* Removes the region matching d's gpa/size/uva. 0 or -ENOENT. */
int vfsd_mem_remove(struct vfsd_mem *m, const struct vfsd_mem_desc *d);
/* Unmaps every region. */
void vfsd_mem_clear(struct vfsd_mem *m);

/*
 * Translate [uva, uva+len) of the front-end's address space (ring addresses).
 * Return: host pointer or NULL if not wholly inside one region or len is 0.
 */
void *vfsd_mem_uva(const struct vfsd_mem *m, uint64_t uva, uint64_t len);
/* Same for a guest-physical range (wholly inside one region). */
void *vfsd_mem_gpa(const struct vfsd_mem *m, uint64_t gpa, uint64_t len);
/*
 * vfsd_mem_gpa_iov() - translate a guest-physical range that may span
 * adjacent regions into up to max iovecs appended at iov[*n].
 * Return: 0, -EFAULT if any byte is unmapped or len is 0, -E2BIG if more than
 * max - *n pieces are needed.
 */
int vfsd_mem_gpa_iov(const struct vfsd_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
                     unsigned *n, unsigned max);

#endif
