// SPDX-License-Identifier: MIT
/*
 * Unit tests for vfsd's split-virtqueue walker: a fake guest memory region
 * in-process, rings laid out in it, well-formed and malformed chains.
 */
#include <errno.h>
#include <stdbool.h>
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
#include "vfsd/virtqueue.h"

#define NUM   16
#define MEMSZ (1u << 20)
#define UVA   0x50000000ull
#define DESC  0x0
#define AVAIL 0x4000
#define USED  0x8000
#define DATA  0x10000

static struct vfsd_mem mem;
static uint8_t *g; /* host view of guest address 0 */
static struct vfsd_vq vq;
static struct vfsd_vq_elem elem;
static uint16_t avail_idx;

static struct vfsd_vring_desc *desc(unsigned i)
{
	return (struct vfsd_vring_desc *)(g + DESC) + i;
}

static uint16_t *avail(void)
{
	return (uint16_t *)(g + AVAIL);
}

static uint16_t *used_hdr(void)
{
	return (uint16_t *)(g + USED);
}

static int setup(bool event_idx, bool indirect)
{
	memset(g, 0, DATA);
	memset(&vq, 0, sizeof(vq));
	avail_idx = 0;
	return vfsd_vq_map(&vq, &mem, NUM, UVA + DESC, UVA + AVAIL, UVA + USED, event_idx,
	                   indirect);
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct vfsd_vring_desc){.addr = addr, .len = len, .flags = flags, .next = next};
}

static void offer(uint16_t head)
{
	avail()[2 + avail_idx % NUM] = head;
	avail_idx++;
	avail()[1] = avail_idx;
}

/* Sets up a fresh ring, offers head, pops: returns vfsd_vq_pop()'s result. */
static int pop_one(uint16_t head)
{
	offer(head);
	return vfsd_vq_pop(&vq, &elem);
}

int main(void)
{
	int fd = memfd_create("guest", MFD_CLOEXEC);
	struct vfsd_mem_desc d = {.gpa = 0, .size = MEMSZ, .uva = UVA};
	enum {
		F = 0,
		N = VFSD_VRING_DESC_F_NEXT,
		W = VFSD_VRING_DESC_F_WRITE,
		I = VFSD_VRING_DESC_F_INDIRECT
	};

	if (fd < 0 || ftruncate(fd, MEMSZ) < 0 || vfsd_mem_add(&mem, &d, fd) < 0) {
		printf("not ok - guest memory\n");
		return 1;
	}
	g = vfsd_mem_gpa(&mem, 0, MEMSZ);

	/* mapping */
	T(vfsd_vq_map(&vq, &mem, 12, UVA, UVA + AVAIL, UVA + USED, 0, 0) == -EINVAL,
	  "queue size not a power of two refused");
	T(vfsd_vq_map(&vq, &mem, NUM, UVA + 8, UVA + AVAIL, UVA + USED, 0, 0) == -EINVAL,
	  "misaligned descriptor table refused");
	T(vfsd_vq_map(&vq, &mem, NUM, UVA, UVA + MEMSZ - 4, UVA + USED, 0, 0) == -EINVAL,
	  "avail ring past end of memory refused");
	T(vfsd_vq_map(&vq, &mem, NUM, 0, UVA + AVAIL, UVA + USED, 0, 0) == -EINVAL,
	  "ring address outside memory refused");
	T(vfsd_vq_map(&vq, &mem, 65536, UVA, UVA + AVAIL, UVA + USED, 0, 0) == -EINVAL,
	  "queue size above 32768 refused");

	/* a good chain */
	T(setup(false, false) == 0, "ring mapped");
	T(vfsd_vq_pop(&vq, &elem) == 0, "empty ring pops nothing");
	set_desc(0, DATA, 64, N, 1);
	set_desc(1, DATA + 0x1000, 128, W, 0);
	T(pop_one(0) == 1, "two-descriptor chain popped");
	T(elem.n_rd == 1 && elem.n_wr == 1 && elem.rd_len == 64 && elem.wr_len == 128 &&
	      elem.iov[0].iov_base == g + DATA && elem.iov[1].iov_base == g + DATA + 0x1000,
	  "chain split into readable and writable iovecs");
	vfsd_vq_push(&vq, elem.head, 100);
	struct vfsd_vring_used_elem *ue = (struct vfsd_vring_used_elem *)(used_hdr() + 2);
	T(used_hdr()[1] == 1 && ue[0].id == 0 && ue[0].len == 100, "used ring updated");
	T(vfsd_vq_should_notify(&vq), "notify without EVENT_IDX");
	avail()[0] = VFSD_VRING_AVAIL_F_NO_INTERRUPT;
	T(!vfsd_vq_should_notify(&vq), "NO_INTERRUPT honoured");
	vfsd_vq_set_notify(&vq, false);
	T(used_hdr()[0] == VFSD_VRING_USED_F_NO_NOTIFY, "NO_NOTIFY set while busy");
	vfsd_vq_set_notify(&vq, true);
	T(used_hdr()[0] == 0, "NO_NOTIFY cleared when idle");

	/* malformed chains */
	setup(false, false);
	set_desc(0, DATA, 64, N, 1);
	set_desc(1, DATA + 0x100, 64, N, 0);
	T(pop_one(0) == -EIO, "descriptor loop rejected");
	setup(false, false);
	set_desc(0, DATA, 64, N, NUM);
	T(pop_one(0) == -EIO, "next index out of range rejected");
	setup(false, false);
	T(pop_one(NUM + 3) == -EIO, "head index out of range rejected");
	setup(false, false);
	set_desc(0, DATA, 0, F, 0);
	T(pop_one(0) == -EIO, "zero-length descriptor rejected");
	setup(false, false);
	set_desc(0, MEMSZ + 0x1000, 64, F, 0);
	T(pop_one(0) == -EIO, "buffer outside guest memory rejected");
	setup(false, false);
	set_desc(0, MEMSZ - 32, 64, F, 0);
	T(pop_one(0) == -EIO, "buffer straddling end of memory rejected");
	setup(false, false);
	set_desc(0, UINT64_MAX - 8, 64, F, 0);
	T(pop_one(0) == -EIO, "wrapping buffer address rejected");
	setup(false, false);
	set_desc(0, DATA, 64, N, 1);
	set_desc(1, DATA + 32, 64, W, 0);
	T(pop_one(0) == -EIO, "overlapping buffers rejected");
	setup(false, false);
	set_desc(0, DATA, 64, W | N, 1);
	set_desc(1, DATA + 0x100, 64, F, 0);
	T(pop_one(0) == -EIO, "readable after writable rejected");
	setup(false, false);
	avail()[2] = 0;
	avail()[1] = NUM + 1;
	T(vfsd_vq_pop(&vq, &elem) == -EIO, "avail index running ahead by more than num");

	/* a long direct chain using every descriptor, the maximum allowed */
	setup(false, false);
	for (unsigned i = 0; i < NUM; i++)
		set_desc(i, DATA + i * 0x100, 16, i + 1 < NUM ? N : 0, (uint16_t)(i + 1));
	T(pop_one(0) == 1 && elem.n_rd == NUM, "chain of queue-size descriptors accepted");

	/* indirect descriptors */
	struct vfsd_vring_desc *tab = (struct vfsd_vring_desc *)(g + 0x20000);
	setup(false, true);
	tab[0] = (struct vfsd_vring_desc){DATA, 40, N, 1};
	tab[1] = (struct vfsd_vring_desc){DATA + 0x100, 8, N, 2};
	tab[2] = (struct vfsd_vring_desc){DATA + 0x200, 4096, W, 0};
	set_desc(0, 0x20000, 3 * 16, I, 0);
	T(pop_one(0) == 1 && elem.n_rd == 2 && elem.n_wr == 1 && elem.rd_len == 48 &&
	      elem.wr_len == 4096,
	  "indirect table walked");
	setup(false, false);
	set_desc(0, 0x20000, 3 * 16, I, 0);
	T(pop_one(0) == -EIO, "indirect without the feature rejected");
	setup(false, true);
	set_desc(0, 0x20000, 3 * 16, I | N, 1);
	set_desc(1, DATA, 16, F, 0);
	T(pop_one(0) == -EIO, "INDIRECT together with NEXT rejected");
	setup(false, true);
	set_desc(0, 0x20000, 3 * 16 + 4, I, 0);
	T(pop_one(0) == -EIO, "indirect table of a partial descriptor rejected");
	setup(false, true);
	tab[0] = (struct vfsd_vring_desc){0x20000 + 0x100, 16, I, 0};
	set_desc(0, 0x20000, 16, I, 0);
	T(pop_one(0) == -EIO, "nested indirect table rejected");
	setup(false, true);
	tab[0] = (struct vfsd_vring_desc){DATA, 40, N, 1};
	tab[1] = (struct vfsd_vring_desc){DATA + 0x100, 8, N, 0};
	set_desc(0, 0x20000, 2 * 16, I, 0);
	T(pop_one(0) == -EIO, "loop inside indirect table rejected");
	setup(false, true);
	tab[0] = (struct vfsd_vring_desc){DATA, 40, N, 5};
	set_desc(0, 0x20000, 2 * 16, I, 0);
	T(pop_one(0) == -EIO, "next past end of indirect table rejected");
	setup(false, true);
	set_desc(0, MEMSZ - 16, 64, I, 0);
	T(pop_one(0) == -EIO, "indirect table outside memory rejected");
	setup(false, true);
	set_desc(0, DATA, 64, N, 1);
	set_desc(1, 0x20000, 16, I, 0);
	tab[0] = (struct vfsd_vring_desc){DATA + 0x100, 8, 0, 0};
	T(pop_one(0) == -EIO, "indirect descriptor not at the head rejected");
	/* too long: more iovecs than VFSD_VQ_MAX_IOV */
	setup(false, true);
	for (unsigned i = 0; i < VFSD_VQ_MAX_IOV + 8; i++)
		tab[i] = (struct vfsd_vring_desc){0x40000 + i * 8, 4, N, (uint16_t)(i + 1)};
	tab[VFSD_VQ_MAX_IOV + 7].flags = 0;
	set_desc(0, 0x20000, (VFSD_VQ_MAX_IOV + 8) * 16, I, 0);
	T(pop_one(0) == -EIO, "chain longer than %d buffers rejected", VFSD_VQ_MAX_IOV);
	/* too many bytes */
	setup(false, true);
	for (unsigned i = 0; i < 80; i++)
		tab[i] = (struct vfsd_vring_desc){0x40000, MEMSZ / 2, N, (uint16_t)(i + 1)};
	tab[79].flags = 0;
	set_desc(0, 0x20000, 80 * 16, I, 0);
	T(pop_one(0) == -EIO, "chain describing more than %u bytes rejected", VFSD_VQ_MAX_BYTES);

	/* EVENT_IDX */
	setup(true, true);
	set_desc(0, DATA, 64, 0, 0);
	for (int i = 0; i < 6; i++)
		offer(0);
	T(vfsd_vq_pop(&vq, &elem) == 1, "event-idx ring pops");
	vfsd_vq_push(&vq, 0, 0);
	T(vfsd_vq_should_notify(&vq), "first completion always notifies");
	avail()[2 + NUM] = 4; /* used_event: interrupt once used idx passes 4 */
	int notified = 0, at = -1;
	for (int i = 0; i < 5; i++) {
		vfsd_vq_pop(&vq, &elem);
		vfsd_vq_push(&vq, 0, 0);
		if (vfsd_vq_should_notify(&vq)) {
			notified++;
			at = vq.used_idx;
		}
	}
	T(notified == 1 && at == 5, "used_event honoured (notified %d times, at %d)", notified, at);
	vfsd_vq_set_notify(&vq, true);
	T(*(uint16_t *)(g + USED + 4 + 8 * NUM) == vq.last_avail,
	  "avail_event published on enable");

	/* used_event across the 16-bit wrap: a call exactly when entry 0xffff is used. */
	setup(true, false);
	vq.used_idx = vq.signalled_used = 0xfffd;
	vq.signalled_valid = true;
	avail()[2 + NUM] = 0xffff;
	notified = 0;
	at = -1;
	for (int i = 0; i < 4; i++) {
		vfsd_vq_push(&vq, 0, 0);
		if (vfsd_vq_should_notify(&vq)) {
			notified++;
			at = vq.used_idx;
		}
	}
	T(notified == 1 && at == 0, "used_event across the wrap (notified %d times, at %d)",
	  notified, at);
	/* A chain made available while kicks were off is seen by the re-check after enabling. */
	set_desc(0, DATA, 64, 0, 0);
	vfsd_vq_set_notify(&vq, false);
	offer(0);
	vfsd_vq_set_notify(&vq, true);
	T(vfsd_vq_pending(&vq) == 1, "re-check after enabling kicks finds the new chain");
	TAP_EXIT();
}
