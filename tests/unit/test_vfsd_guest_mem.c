// SPDX-License-Identifier: MIT
/* Unit tests for vfsd's guest memory table and address translator. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/unit/tap.h"

/* tap.h's T() evaluates its condition twice; evaluate once here. */
#define T(cond, ...)                                                                               \
	do {                                                                                       \
		bool t_ok_ = (cond);                                                               \
		CHECK(t_ok_, __VA_ARGS__);                                                         \
	} while (0)
#include "vfsd/guest_mem.h"

static int make_memfd(size_t size)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(void)
{
	struct vfsd_mem m = {0};
	struct iovec iov[4];
	unsigned n;
	int fd = make_memfd(2 << 20), fd2 = make_memfd(1 << 20), small = make_memfd(4096);
	int pfd[2];
	uint8_t *p;

	T(fd >= 0 && fd2 >= 0 && small >= 0, "memfds created");
	struct vfsd_mem_desc a = {
	    .gpa = 0x100000, .size = 1 << 20, .uva = 0x7f0000000000, .mmap_offset = 4096};
	T(vfsd_mem_add(&m, &a, fd) == 0, "region with mmap offset added");
	p = vfsd_mem_gpa(&m, 0x100000, 1);
	T(p != NULL, "first byte translates");
	memset(p, 0xab, 1);
	{
		uint8_t b = 0;

		T(pread(fd, &b, 1, 4096) == 1 && b == 0xab, "mmap offset honoured");
	}
	T(vfsd_mem_gpa(&m, 0x100000 + (1 << 20) - 1, 1) != NULL, "last byte translates");
	T(vfsd_mem_gpa(&m, 0x100000 + (1 << 20) - 1, 2) == NULL, "range past end refused");
	T(vfsd_mem_gpa(&m, 0xfffff, 2) == NULL, "range before start refused");
	T(vfsd_mem_gpa(&m, 0x100000, 0) == NULL, "zero length refused");
	T(vfsd_mem_gpa(&m, UINT64_MAX - 1, 4) == NULL, "wrapping range refused");
	T(vfsd_mem_gpa(&m, 0x100000, UINT64_MAX) == NULL, "huge length refused");
	T(vfsd_mem_uva(&m, 0x7f0000000000, 16) == p, "uva translates to same memory");
	T(vfsd_mem_uva(&m, 0x100000, 16) == NULL, "gpa is not a uva");

	struct vfsd_mem_desc ov = {.gpa = 0x180000, .size = 4096, .uva = 0x1000};
	T(vfsd_mem_add(&m, &ov, fd2) == -EINVAL, "overlapping gpa refused");
	struct vfsd_mem_desc ovu = {.gpa = 0x900000, .size = 4096, .uva = 0x7f0000001000};
	T(vfsd_mem_add(&m, &ovu, fd2) == -EINVAL, "overlapping uva refused");
	struct vfsd_mem_desc zero = {.gpa = 0x900000, .size = 0, .uva = 0x1000};
	T(vfsd_mem_add(&m, &zero, fd2) == -EINVAL, "empty region refused");
	struct vfsd_mem_desc wrap = {.gpa = UINT64_MAX - 4095, .size = 8192, .uva = 0x1000};
	T(vfsd_mem_add(&m, &wrap, fd2) == -EINVAL, "wrapping region refused");
	struct vfsd_mem_desc big = {.gpa = 0x900000, .size = 1 << 20, .uva = 0x1000};
	T(vfsd_mem_add(&m, &big, small) == -EINVAL, "region larger than its fd refused");
	T(pipe2(pfd, O_CLOEXEC) == 0, "pipe");
	struct vfsd_mem_desc pd = {.gpa = 0x900000, .size = 4096, .uva = 0x1000};
	T(vfsd_mem_add(&m, &pd, pfd[0]) == -EINVAL, "pipe as memory refused");

	struct vfsd_mem_desc b = {.gpa = 0x200000, .size = 1 << 20, .uva = 0x10000000};
	T(vfsd_mem_add(&m, &b, fd2) == 0, "adjacent region added");
	n = 0;
	T(vfsd_mem_gpa_iov(&m, 0x1ff000, 8192, iov, &n, 4) == 0 && n == 2 &&
	      iov[0].iov_len == 4096 && iov[1].iov_len == 4096,
	  "range across two regions split into two iovecs");
	T(vfsd_mem_gpa(&m, 0x1ff000, 8192) == NULL, "single-region translation refuses span");
	n = 3;
	T(vfsd_mem_gpa_iov(&m, 0x1ff000, 8192, iov, &n, 4) == -E2BIG, "iovec room enforced");
	n = 0;
	T(vfsd_mem_gpa_iov(&m, 0x2ff000, 8192, iov, &n, 4) == -EFAULT,
	  "range running into a hole refused");
	n = 0;
	T(vfsd_mem_gpa_iov(&m, 0x200000, 0, iov, &n, 4) == -EFAULT, "zero length iov refused");
	T(vfsd_mem_remove(&m, &b) == 0, "region removed");
	T(vfsd_mem_gpa(&m, 0x200000, 1) == NULL, "removed region no longer translates");
	T(vfsd_mem_remove(&m, &b) == -ENOENT, "removing twice fails");

	unsigned added = 1;
	for (unsigned i = 0; i < VFSD_MEM_MAX_REGIONS + 2; i++) {
		struct vfsd_mem_desc r = {.gpa = 0x10000000ull + i * 0x10000ull,
		                          .size = 4096,
		                          .uva = 0x20000000ull + i * 0x10000ull};
		if (vfsd_mem_add(&m, &r, fd2) == 0)
			added++;
	}
	T(added == VFSD_MEM_MAX_REGIONS, "region count capped at %d", VFSD_MEM_MAX_REGIONS);
	vfsd_mem_clear(&m);
	T(m.n == 0 && vfsd_mem_gpa(&m, 0x100000, 1) == NULL, "clear unmaps everything");
	TAP_EXIT();
}
