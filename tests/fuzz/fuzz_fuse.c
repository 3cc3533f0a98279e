// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: FUSE requests through vfsd's real FUSE server.
 *
 * The input is a sequence of requests.  Each becomes a descriptor chain in a
 * fake guest memory region (a memfd mapped by guest_mem.c, a split ring that
 * virtqueue.c pops, direct or indirect descriptors, the request and reply
 * split over several buffers), is handled by vfsd_fuse_handle() exactly as a
 * queue thread would, and its reply is checked:
 *
 *  - the canary marker (fixture.h) must not appear anywhere in the writable
 *    part of the chain, and no entry or attribute reply may name an inode
 *    outside the share: either means a request reached outside the share;
 *  - the reply is well formed: out header length equal to what vfsd says it
 *    wrote, the request's unique, an errno in range, no payload after an
 *    error, nothing written for FORGET/BATCH_FORGET/INTERRUPT;
 *  - after each input nothing outside the share changed, no fd is open
 *    (other than O_PATH) on a FIFO, socket or device, and no fd is left
 *    open once the server dropped its inodes and handles.
 *
 * VFSD_FUZZ_SELFTEST=1 makes vfsd serve the directory above the share
 * instead: the seeds must then trip the canary (tests/security/vfsd_fuzz.sh).
 *
 * Input format (tests/fuzz/README.md, tests/fuzz/gen_corpus.py):
 *   byte 0      bit 0: which server (0: O_PATH inodes, cache auto;
 *               1: --inode-file-handles, cache always, writeback)
 *               bit 1: no automatic FUSE_INIT first
 *   then records, at most MAX_REQS:
 *     u8  opcode (0xff: a u32 opcode follows)
 *     u8  nodeid (0xff: a u64 nodeid follows)
 *     u8  shape  bits 0-1 readable buffers - 1, bits 2-3 writable split
 *                (one, out header apart, three, eight), bit 4 indirect
 *                table, bit 5 on the hiprio queue, bits 6-7 caller
 *                (0:0, 1000:1000, 0:1000, 65534:65534)
 *     u8  reply  bits 0-3 size class of the writable part (wr_sizes[]),
 *                bits 4-7 header tweak (0: honest; see tweak_header())
 *     u16 len    argument bytes (little endian), cut to what is left
 *     len bytes  the arguments after fuse_in_header
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/fuzz/fixture.h"
#include "vfsd/fuse_server.h"
#include "vfsd/sandbox.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GMEM_SIZE (4u << 20)
#define UVA       0x7f0000000000ull /* the "front-end's" address of guest address 0 */
#define NUM       256
#define DESC      0x0000u
#define AVAIL     0x1000u
#define USED      0x2000u
#define INDIRECT  0x3000u
#define RD_AREA   0x4000u
#define WR_AREA   0x100000u
#define MAX_REQS  64

/* A request (header + up to 64 KiB of arguments) fits below the reply area. */
_Static_assert(RD_AREA + sizeof(struct fuse_in_header) + UINT16_MAX <= WR_AREA, "guest layout");

static const uint32_t wr_sizes[16] = {
    0,   8,    16,   24,   40,    96,     136,      256,
    512, 1024, 4096, 8192, 65536, 135168, 1u << 20, (1u << 20) + 4096,
};

static struct vfsd_mem mem;
static uint8_t *g;
static struct vfsd_vq vq;
static struct vfsd_vq_elem *elem;
static uint16_t avail_idx;
static uint64_t next_unique;
static int cwd_fd = -1;

static struct vfsd_fs fs[2];
static struct vfsd_fs_thread thr[2][2]; /* [server][hiprio] */

struct src {
	const uint8_t *p;
	size_t left;
};

static unsigned take(struct src *s, void *dst, size_t n)
{
	size_t c = n < s->left ? n : s->left;

	memset(dst, 0, n);
	memcpy(dst, s->p, c);
	s->p += c;
	s->left -= c;
	return (unsigned)c;
}

static void ring_setup(void)
{
	memset(g, 0, RD_AREA);
	memset(&vq, 0, sizeof(vq));
	avail_idx = 0;
	if (vfsd_vq_map(&vq, &mem, NUM, UVA + DESC, UVA + AVAIL, UVA + USED, true, true) < 0)
		fuzz_die("cannot map the ring");
}

static void start_server(unsigned i)
{
	struct vfsd_fs_config cfg = {
	    .shared_dir = fuzz_fx.share,
	    .cache = i ? VFSD_CACHE_ALWAYS : VFSD_CACHE_AUTO,
	    .xattr = true,
	    .announce_submounts = true,
	    .readdirplus = true,
	    .writeback = i == 1,
	    .allow_direct_io = true,
	    .killpriv_v2 = true,
	    .file_handles =
	        i ? (geteuid() == 0 ? VFSD_FH_MANDATORY : VFSD_FH_PREFER) : VFSD_FH_NEVER,
	    /* Small budgets, so the EMFILE and fd-cache paths are reached. */
	    .max_fds = i ? 32 : 64,
	};
	/* Self-test of the harness: serve the directory above the share, so the canary must fire.
	 */
	const char *dir = getenv("VFSD_FUZZ_SELFTEST") ? fuzz_fx.base : fuzz_fx.share;
	int root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int proc = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (root < 0 || proc < 0)
		fuzz_die("cannot open the share or /proc/self/fd");
	r = vfsd_fs_init(&fs[i], &cfg, root, proc);
	if (r < 0)
		fuzz_die("vfsd_fs_init(%u): %s", i, strerror(-r));
}

/*
 * A fresh server for every input: node ids and fh values then depend on the
 * input alone (a reset table hands out freed ids in the order of earlier
 * inputs), so a crash reproduces from its input file.
 */
static void restart_server(unsigned i)
{
	int proc = fs[i].proc_self_fd;

	vfsd_fs_destroy(&fs[i]);
	close(proc);
	start_server(i);
}

static void init_server(unsigned i)
{
	start_server(i);
	for (unsigned h = 0; h < 2; h++) {
		if (vfsd_fs_thread_init(&thr[i][h], &fs[i]) < 0)
			fuzz_die("out of memory");
		thr[i][h].hiprio = h;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vfsd_mem_desc d = {.gpa = 0, .size = GMEM_SIZE, .uva = UVA};
	int fd, r;

	fuzz_fixture_init();
	log_setup("vfsd", getenv("VFSD_FUZZ_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	fd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, GMEM_SIZE) < 0)
		fuzz_die("memfd: %s", strerror(errno));
	r = vfsd_mem_add(&mem, &d, fd);
	close(fd);
	if (r < 0)
		fuzz_die("vfsd_mem_add: %s", strerror(-r));
	g = vfsd_mem_gpa(&mem, 0, GMEM_SIZE);
	elem = malloc(sizeof(*elem));
	cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!g || !elem || cwd_fd < 0)
		fuzz_die("set-up");
	ring_setup();
	init_server(0);
	init_server(1);
	fuzz_fixture_check_open_kinds(); /* the baseline */
	/* What vfsd's main() does before serving; no sandbox (--sandbox=none). */
	r = vfsd_drop_caps(NULL, true);
	if (r < 0)
		fuzz_die("vfsd_drop_caps: %s", strerror(-r));
	return 0;
}

/* Lays out n buffers of sizes len[] from guest addresses addr[] as one chain. */
static void post_chain(unsigned n, const uint64_t *addr, const uint32_t *len, unsigned nrd,
                       bool indirect)
{
	struct vfsd_vring_desc *table = (void *)(g + (indirect ? INDIRECT : DESC));
	uint16_t *avail = (uint16_t *)(g + AVAIL);

	for (unsigned i = 0; i < n; i++) {
		table[i] = (struct vfsd_vring_desc){
		    .addr = addr[i],
		    .len = len[i],
		    .flags = (uint16_t)((i + 1 < n ? VFSD_VRING_DESC_F_NEXT : 0) |
		                        (i >= nrd ? VFSD_VRING_DESC_F_WRITE : 0)),
		    .next = (uint16_t)(i + 1),
		};
	}
	if (indirect) {
		struct vfsd_vring_desc *desc = (void *)(g + DESC);

		desc[0] = (struct vfsd_vring_desc){.addr = INDIRECT,
		                                   .len = n * (uint32_t)sizeof(*table),
		                                   .flags = VFSD_VRING_DESC_F_INDIRECT};
	}
	avail[2 + avail_idx % NUM] = 0;
	avail_idx++;
	__atomic_store_n(&avail[1], avail_idx, __ATOMIC_RELEASE);
}

/* Splits [base, base+total) into up to n non-empty pieces. */
static unsigned split(uint64_t base, uint32_t total, unsigned n, uint32_t first, uint64_t *addr,
                      uint32_t *len)
{
	unsigned k = 0;
	uint32_t done = 0;

	if (!total)
		return 0;
	if (first && first < total && n > 1) {
		addr[k] = base;
		len[k++] = first;
		done = first;
		n--;
	}
	for (unsigned i = 0; i < n && done < total; i++) {
		uint32_t piece = i + 1 == n ? total - done : (total - done) / (n - i);

		if (!piece)
			continue;
		addr[k] = base + done;
		len[k++] = piece;
		done += piece;
	}
	return k;
}

static bool is_noreply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET || opcode == FUSE_INTERRUPT;
}

static bool is_readonly_op(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_FORGET:
	case FUSE_GETATTR:
	case FUSE_READLINK:
	case FUSE_READ:
	case FUSE_STATFS:
	case FUSE_RELEASE:
	case FUSE_FLUSH:
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
	case FUSE_INIT:
	case FUSE_OPENDIR:
	case FUSE_READDIR:
	case FUSE_RELEASEDIR:
	case FUSE_GETLK:
	case FUSE_ACCESS:
	case FUSE_INTERRUPT:
	case FUSE_DESTROY:
	case FUSE_BATCH_FORGET:
	case FUSE_READDIRPLUS:
	case FUSE_LSEEK:
		return true;
	default:
		return false;
	}
}

static void check_attr_ino(const char *what, uint32_t opcode, uint64_t ino)
{
	if (fuzz_fixture_is_outside(ino))
		fuzz_die("opcode %u: %s names inode %llu, which is outside the share", opcode, what,
		         (unsigned long long)ino);
}

/* Checks the reply in the writable area; wlen bytes were offered. */
static void check_reply(const struct fuse_in_header *in, bool honest, uint32_t wlen, uint32_t got)
{
	const uint8_t *w = g + WR_AREA;
	struct fuse_out_header oh;
	long at = fuzz_canary_scan(w, wlen);

	if (at >= 0)
		fuzz_die("opcode %u nodeid %llu: the reply carries the canary marker at byte %ld: "
		         "data from outside the share leaked",
		         in->opcode, (unsigned long long)in->nodeid, at);
	if (got > wlen)
		fuzz_die("opcode %u: %u bytes written into a %u-byte reply buffer", in->opcode, got,
		         wlen);
	if (!honest)
		return;
	if (is_noreply(in->opcode)) {
		if (got)
			fuzz_die("opcode %u expects no reply but got %u bytes", in->opcode, got);
		return;
	}
	if (!got)
		return; /* no room for a reply, or no header */
	if (got < sizeof(oh))
		fuzz_die("opcode %u: reply of %u bytes, shorter than its header", in->opcode, got);
	memcpy(&oh, w, sizeof(oh));
	if (oh.len != got || oh.unique != in->unique || oh.error > 0 || oh.error <= -4096 ||
	    (oh.error && got != sizeof(oh)))
		fuzz_die(
		    "opcode %u: bad reply header (len %u for %u written, unique %llu for %llu, "
		    "error %d)",
		    in->opcode, oh.len, got, (unsigned long long)oh.unique,
		    (unsigned long long)in->unique, oh.error);
	if (oh.error)
		return;
	const uint8_t *p = w + sizeof(oh);
	size_t plen = got - sizeof(oh);

	switch (in->opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
	case FUSE_CREATE:
		if (plen >= sizeof(struct fuse_entry_out)) {
			struct fuse_entry_out e;

			memcpy(&e, p, sizeof(e));
			check_attr_ino("entry", in->opcode, e.attr.ino);
		}
		break;
	case FUSE_GETATTR:
	case FUSE_SETATTR:
		if (plen >= sizeof(struct fuse_attr_out)) {
			struct fuse_attr_out a;

			memcpy(&a, p, sizeof(a));
			check_attr_ino("attributes", in->opcode, a.attr.ino);
		}
		break;
	case FUSE_READDIRPLUS:
		for (size_t off = 0; off + sizeof(struct fuse_direntplus) <= plen;) {
			struct fuse_direntplus dp;

			memcpy(&dp, p + off, sizeof(dp));
			if (dp.entry_out.nodeid)
				check_attr_ino("direntplus", in->opcode, dp.entry_out.attr.ino);
			off += FUSE_DIRENTPLUS_SIZE(&dp);
		}
		break;
	default:
		break;
	}
}

/*
 * Header tweaks, so the dispatcher's own checks are fuzzed too.  Returns
 * whether the header still tells the truth (then the reply is checked
 * strictly).
 */
static bool tweak_header(struct fuse_in_header *in, unsigned tweak)
{
	switch (tweak) {
	case 0:
		return true;
	case 1:
		in->len += 1;
		break;
	case 2:
		in->len -= 1;
		break;
	case 3:
		in->len = 0;
		break;
	case 4:
		in->total_extlen = 1;
		break;
	case 5:
		in->total_extlen = 0xffff;
		break;
	case 6:
		in->len = UINT32_MAX;
		break;
	default:
		return true; /* reserved: honest */
	}
	return false;
}

static const uint32_t caller[4][2] = {{0, 0}, {1000, 1000}, {0, 1000}, {65534, 65534}};

/* One request through the ring and the server; returns whether it may have changed the share. */
static bool one_request(unsigned srv, uint32_t opcode, uint64_t nodeid, uint8_t shape,
                        uint8_t reply, const uint8_t *arg, uint32_t arglen)
{
	struct fuse_in_header in = {
	    .len = (uint32_t)sizeof(in) + arglen,
	    .opcode = opcode,
	    .unique = ++next_unique,
	    .nodeid = nodeid,
	    .uid = caller[shape >> 6][0],
	    .gid = caller[shape >> 6][1],
	    .pid = 4242,
	};
	bool honest = tweak_header(&in, reply >> 4);
	uint32_t rlen = (uint32_t)sizeof(in) + arglen, wlen = wr_sizes[reply & 15];
	uint64_t addr[16];
	uint32_t len[16];
	static const unsigned wr_pieces[4] = {1, 2, 3, 8};
	unsigned nrd, nwr, got;
	int r;

	memcpy(g + RD_AREA, &in, sizeof(in));
	memcpy(g + RD_AREA + sizeof(in), arg, arglen);
	memset(g + WR_AREA, 0, wlen);
	nrd = split(RD_AREA, rlen, (shape & 3) + 1, (shape & 3) == 1 ? sizeof(in) : 0, addr, len);
	nwr = split(WR_AREA, wlen, wr_pieces[(shape >> 2) & 3],
	            ((shape >> 2) & 3) == 1 ? sizeof(struct fuse_out_header) : 0, addr + nrd,
	            len + nrd);
	post_chain(nrd + nwr, addr, len, nrd, shape & 0x10);
	r = vfsd_vq_pop(&vq, elem);
	if (r != 1)
		fuzz_die("the harness's own chain was refused (%d)", r);
	got = vfsd_fuse_handle(&thr[srv][(shape >> 5) & 1], elem);
	vfsd_vq_push(&vq, elem->head, got < elem->wr_len ? got : (uint32_t)elem->wr_len);
	/* xattr requests fchdir() to /proc/self/fd: back to where we were. */
	(void)!fchdir(cwd_fd);
	check_reply(&in, honest, wlen, got);
	return !is_readonly_op(opcode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t arg[UINT16_MAX + 1];
	struct src s = {data, size};
	uint8_t cfg = 0;
	bool dirty = false;
	unsigned srv;

	take(&s, &cfg, 1);
	srv = cfg & 1;
	if (!(cfg & 2)) {
		struct fuse_init_in init = {
		    .major = FUSE_KERNEL_VERSION,
		    .minor = FUSE_KERNEL_MINOR_VERSION,
		    .max_readahead = 1u << 17,
		    .flags = 0xffffffffu,
		    .flags2 = 0xffffffffu,
		};

		one_request(srv, FUSE_INIT, 0, 0, 10, (const uint8_t *)&init, sizeof(init));
	}
	for (unsigned n = 0; n < MAX_REQS && s.left; n++) {
		uint8_t op = 0, node = 0, shape = 0, reply = 0;
		uint32_t opcode;
		uint64_t nodeid;
		uint16_t len = 0;

		take(&s, &op, 1);
		opcode = op;
		if (op == 0xff)
			take(&s, &opcode, sizeof(opcode));
		take(&s, &node, 1);
		nodeid = node;
		if (node == 0xff)
			take(&s, &nodeid, sizeof(nodeid));
		take(&s, &shape, 1);
		take(&s, &reply, 1);
		take(&s, &len, sizeof(len));
		len = (uint16_t)take(&s, arg, len);
		dirty |= one_request(srv, opcode, nodeid, shape, reply, arg, len);
	}
	fuzz_fixture_check_open_kinds();
	/* The guest goes away: every inode and handle is dropped. */
	vfsd_fs_reset(&fs[srv]);
	fuzz_fixture_check_outside();
	restart_server(srv);
	fuzz_fixture_check_fds();
	if (dirty)
		fuzz_fixture_rebuild();
	return 0;
}
