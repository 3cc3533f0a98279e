// SPDX-License-Identifier: MIT
/*
 * Guest memory table and the one address translator of vfsd.  See
 * guest_mem.h.  The front-end (QEMU) is trusted to send memory but not to send
 * consistent numbers, so every field is range-checked with overflow in mind.
 */
#include "vfsd/seccomp.h"
#include "vfsd/guest_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* a + b without wrap-around; false if it would wrap. */
static bool add_ok(uint64_t a, uint64_t b, uint64_t *ret)
{
	return !__builtin_add_overflow(a, b, ret);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * seal_shrink() - keep the front-end from shrinking a memfd under our mapping.
 * A front-end that truncated guest memory after we mapped it would kill us
 * with SIGBUS on the next access.  Any holder of a memfd may add seals unless
 * F_SEAL_SEAL is set, so we add F_SEAL_SHRINK ourselves (QEMU's
 * memory-backend-memfd has usually done so already; growing stays allowed).
 * Files that cannot be sealed (not a memfd, a memfd made without
 * MFD_ALLOW_SEALING, or one sealed with F_SEAL_SEAL but not F_SEAL_SHRINK)
 * are accepted as they are: the front-end is the first peer and trusted with
 * its own device, so shrinking them is a denial of service of its own
 * back-end only (vfsd(8), SECURITY).
 */
static void seal_shrink(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_SEAL)))
		return;
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
}

int vfsd_mem_add(struct vfsd_mem *m, const struct vfsd_mem_desc *d, int fd)
{
	uint64_t gpa_end, uva_end, map_len;
	struct stat st;
	void *p;

	if (m->n >= VFSD_MEM_MAX_REGIONS)
		return -ENOSPC;
	if (d->size == 0 || !add_ok(d->gpa, d->size, &gpa_end) ||
	    !add_ok(d->uva, d->size, &uva_end) || !add_ok(d->mmap_offset, d->size, &map_len) ||
	    map_len > SIZE_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < m->n; i++)
		if (ranges_overlap(d->gpa, d->size, m->r[i].d.gpa, m->r[i].d.size) ||
		    ranges_overlap(d->uva, d->size, m->r[i].d.uva, m->r[i].d.size))
			return -EINVAL;
	/* Seal before the size check, so the size checked is the size kept. */
	seal_shrink(fd);
	if (fstat(fd, &st) < 0)
		return -errno;
	/*
	 * Touching a page past the end of a file raises SIGBUS, so a regular
	 * file or memfd must cover the whole region.
	 */
	if ((S_ISREG(st.st_mode) && (uint64_t)st.st_size < map_len) ||
	    !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
		return -EINVAL;
	p = mmap(NULL, (size_t)map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Guest memory must not end up in core dumps of the daemon. */
	(void)madvise(p, (size_t)map_len, MADV_DONTDUMP);
	m->r[m->n] = (struct vfsd_mem_region){
	    .d = *d,
	    .map = p,
	    .map_len = (size_t)map_len,
	    .host = (uint8_t *)p + d->mmap_offset,
	};
	m->n++;
	return 0;
}

int vfsd_mem_remove(struct vfsd_mem *m, const struct vfsd_mem_desc *d)
{
	for (unsigned i = 0; i < m->n; i++) {
		struct vfsd_mem_region *r = &m->r[i];

		if (r->d.gpa != d->gpa || r->d.size != d->size || r->d.uva != d->uva)
			continue;
		munmap(r->map, r->map_len);
		memmove(r, r + 1, (m->n - i - 1) * sizeof(*r));
		m->n--;
		return 0;
	}
	return -ENOENT;
}

void vfsd_mem_clear(struct vfsd_mem *m)
{
	for (unsigned i = 0; i < m->n; i++)
		munmap(m->r[i].map, m->r[i].map_len);
	m->n = 0;
}

void *vfsd_mem_uva(const struct vfsd_mem *m, uint64_t uva, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vfsd_mem_region *r = &m->r[i];

		if (len && uva >= r->d.uva && uva - r->d.uva < r->d.size &&
		    len <= r->d.size - (uva - r->d.uva))
			return r->host + (uva - r->d.uva);
	}
	return NULL;
}

void *vfsd_mem_gpa(const struct vfsd_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->n; i++) {
		const struct vfsd_mem_region *r = &m->r[i];

		if (len && gpa >= r->d.gpa && gpa - r->d.gpa < r->d.size &&
		    len <= r->d.size - (gpa - r->d.gpa))
			return r->host + (gpa - r->d.gpa);
	}
	return NULL;
}

int vfsd_mem_gpa_iov(const struct vfsd_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
                     unsigned *n, unsigned max)
{
	uint64_t end;

	if (len == 0 || !add_ok(gpa, len, &end))
		return -EFAULT;
	while (len) {
		const struct vfsd_mem_region *r = NULL;
		uint64_t off, chunk;

		for (unsigned i = 0; i < m->n; i++)
			if (gpa >= m->r[i].d.gpa && gpa - m->r[i].d.gpa < m->r[i].d.size) {
				r = &m->r[i];
				break;
			}
		if (!r)
			return -EFAULT;
		if (*n >= max)
			return -E2BIG;
		off = gpa - r->d.gpa;
		chunk = r->d.size - off;
		if (chunk > len)
			chunk = len;
		iov[*n] = (struct iovec){.iov_base = r->host + off, .iov_len = (size_t)chunk};
		(*n)++;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_guest_mem[] = {"mmap", "munmap", "madvise", "fstat", "fcntl", NULL};
