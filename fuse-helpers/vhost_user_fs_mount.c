// SPDX-License-Identifier: MIT
/*
 * vhost-user-fs-mount: mount a vhost-user-fs back-end (vfsd, QEMU's
 * virtiofsd, ...) on the host, by playing the VMM's part of vhost-user and
 * the guest driver's part of virtio-fs, and bridging the host kernel's
 * /dev/fuse to the back-end's virtqueues.
 *
 *   vhost-user-fs-mount [--queues N] [--queue-size N] [--no-event-idx] [--stats]
 *                       [--watchdog MS] [-o OPTIONS] SOCKET MOUNTPOINT
 *
 * Guest memory is one memfd shared with the back-end.  Each request queue
 * has its own thread, its own cloned /dev/fuse fd (FUSE_DEV_IOC_CLONE) and
 * a pool of request slots: the thread reads a FUSE request straight into a
 * slot's readable buffer, queues the chain [request | reply buffer], and
 * when the back-end signals the call eventfd writes each reply back to
 * /dev/fuse from guest memory.  So several requests are in flight per queue
 * and nothing is copied between the two sides.  With VIRTIO_RING_F_EVENT_IDX
 * (used when the back-end offers it) a thread takes every request waiting on
 * /dev/fuse, then kicks once and only if the back-end's avail_event asks for
 * it, and publishes used_event so the back-end calls only when the thread has
 * read every reply so far.  FORGET and BATCH_FORGET go
 * to the high-priority queue, as the virtio-fs spec wants, and INTERRUPT
 * too (a back-end may end a waiting SETLKW with it).  If the back-end
 * goes away the program exits, which aborts the FUSE connection: callers get
 * ECONNABORTED or ENOTCONN, never a hang.  The program stays in the foreground until the file
 * system is unmounted.
 *
 * Trust: this runs as root and the back-end is another program, so the
 * back-end is checked as vfsd checks its front-end.  Everything it returns
 * is validated in used_slot(): a used entry must name a chain we queued and
 * that is still in flight (so each completes exactly once) and may not claim
 * more bytes than that chain could take.  What we need to know of a request
 * (unique, opcode, reply room) is kept outside guest memory, and reply
 * headers are copied out before they are checked; guest memory is sealed
 * against shrinking.  A back-end that breaks a
 * rule is cut off: every request in flight fails with EIO, the mount is
 * detached and the program exits 1.  A used idx more than the chains in
 * flight ahead is such a break.  What the back-end writes to avail_event (or
 * the NO_NOTIFY flag) can only cost it kicks: a queue with requests in flight
 * and no reply for --watchdog ms is kicked anyway.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fuse.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "vfsd/vhost_user.h"

#define MAX_QUEUES   16
#define REQ_BUF      ((1u << 20) + 8192) /* max_write 1 MiB + header and arguments */
#define REP_BUF      ((1u << 20) + 4096)
#define HIPRIO_SLOTS 64
#define HIPRIO_BUF   4096
#define PAGE         4096ul

static struct {
	int sock;
	int memfd;
	uint8_t *mem;
	size_t memsz;
	unsigned nreq;    /* request queues */
	unsigned qsize;   /* ring size */
	unsigned slots;   /* in-flight requests per request queue */
	unsigned hislots; /* in-flight FORGETs on the hiprio queue */
	int devfd;        /* /dev/fuse */
	bool aborted;
	uint32_t max_write;
	const char *mountpoint;
	int stopfd;          /* eventfd, readable once the back-end broke the protocol */
	atomic_bool broken;  /* set once, by whoever saw the violation */
	atomic_uint stopped; /* request-queue threads that failed their requests */
	bool event_idx;      /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool no_event_idx;   /* --no-event-idx */
	bool stats;          /* --stats */
	int watchdog_ms;     /* --watchdog: re-kick after this long without progress */
} g = {.sock = -1,
       .memfd = -1,
       .devfd = -1,
       .nreq = 1,
       .qsize = 128,
       .stopfd = -1,
       .watchdog_ms = 1000};

/* Counters for --stats, summed over the queues. */
static struct {
	atomic_ulong requests;    /* chains queued (FUSE requests and FORGETs) */
	atomic_ulong kicks;       /* kick eventfd writes */
	atomic_ulong skipped;     /* kicks the back-end said it did not need */
	atomic_ulong calls;       /* call eventfd writes by the back-end (eventfd counts) */
	atomic_ulong watchdog;    /* kicks after a quiet --watchdog period */
	atomic_ulong late_used;   /* used entries found by the watchdog, not by a call */
	atomic_ulong empty_reads; /* /dev/fuse reads that found no request */
} stats;

/* A request slot's state, kept out of guest memory where the back-end cannot change it. */
struct slot {
	bool inflight;
	uint32_t writable; /* room in the chain's writable part */
	uint64_t unique;
	uint32_t opcode;
	uint32_t inlen;
	uint32_t read_size; /* FUSE_READ: the size asked for, for the log */
};

struct queue {
	unsigned index;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx, used_seen;
	uint16_t kicked_idx; /* avail_idx when we last decided whether to kick */
	int kick, call;
	uint64_t bufs;       /* gpa of the first slot's buffers */
	uint16_t *free_slot; /* stack of free slot numbers */
	unsigned nfree;
	struct slot *slot;    /* per slot */
	int devfd;            /* this queue's clone of /dev/fuse */
	pthread_mutex_t lock; /* hiprio only: every thread sends FORGETs */
};

static struct queue q[MAX_QUEUES + 1];

static void die(const char *what)
{
	fprintf(stderr, "vhost-user-fs-mount: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* --- vhost-user front-end ---------------------------------------------------- */

static int vu_send(uint32_t req, const void *payload, uint32_t size, const int *fds, size_t nfds)
{
	uint8_t buf[sizeof(struct vfsd_vu_hdr) + sizeof(union vfsd_vu_payload)];
	struct vfsd_vu_hdr h = {.request = req, .flags = VHOST_USER_VERSION, .size = size};

	memcpy(buf, &h, sizeof(h));
	if (size)
		memcpy(buf + sizeof(h), payload, size);
	return fd_send_with_fds(g.sock, buf, sizeof(h) + size, fds, nfds) < 0 ? -1 : 0;
}

static int vu_get_u64(uint32_t req, uint64_t *v)
{
	struct vfsd_vu_hdr h;

	if (vu_send(req, NULL, 0, NULL, 0) < 0 ||
	    recv(g.sock, &h, sizeof(h), MSG_WAITALL) != sizeof(h) || h.request != req ||
	    h.size != 8 || recv(g.sock, v, 8, MSG_WAITALL) != 8)
		return -1;
	return 0;
}

static void vu_u64(uint32_t req, uint64_t v)
{
	if (vu_send(req, &v, 8, NULL, 0) < 0)
		die("vhost-user message");
}

static size_t page_up(size_t n)
{
	return (n + PAGE - 1) / PAGE * PAGE;
}

/* Guest memory: each queue's descriptor table, avail and used rings, then the buffers. */
static void layout(void)
{
	size_t off = 0;

	for (unsigned i = 0; i <= g.nreq; i++) {
		q[i].index = i;
		q[i].desc_gpa = off;
		q[i].avail_gpa = q[i].desc_gpa + page_up(16ul * g.qsize);
		q[i].used_gpa = q[i].avail_gpa + page_up(6 + 2ul * g.qsize);
		off = q[i].used_gpa + page_up(6 + 8ul * g.qsize);
	}
	for (unsigned i = 0; i <= g.nreq; i++) {
		unsigned nslots = i ? g.slots : g.hislots;
		size_t per = i ? REQ_BUF + REP_BUF : HIPRIO_BUF;

		q[i].bufs = off;
		off += nslots * per;
	}
	g.memsz = (off + (2ul << 20) - 1) / (2ul << 20) * (2ul << 20);
}

static void vu_setup(void)
{
	uint64_t f, pf, n;
	struct vfsd_vu_mem_table mt = {.nregions = 1};

	if (vu_get_u64(VHOST_USER_GET_FEATURES, &f) < 0)
		die("GET_FEATURES");
	if (!(f & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)) ||
	    !(f & (1ull << VFSD_VIRTIO_F_VERSION_1))) {
		errno = EPROTO;
		die("back-end lacks VERSION_1 or protocol features");
	}
	vu_u64(VHOST_USER_SET_OWNER, 0);
	if (vu_get_u64(VHOST_USER_GET_PROTOCOL_FEATURES, &pf) < 0)
		die("GET_PROTOCOL_FEATURES");
	pf &= 1ull << VHOST_USER_PROTOCOL_F_MQ;
	vu_u64(VHOST_USER_SET_PROTOCOL_FEATURES, pf);
	if (pf & (1ull << VHOST_USER_PROTOCOL_F_MQ)) {
		if (vu_get_u64(VHOST_USER_GET_QUEUE_NUM, &n) < 0)
			die("GET_QUEUE_NUM");
		if (n < 2) {
			errno = EPROTO;
			die("the back-end offers no request queue");
		}
		if (g.nreq + 1 > n) {
			fprintf(stderr,
			        "vhost-user-fs-mount: the back-end has %llu queues; using %llu "
			        "request queue%s\n",
			        (unsigned long long)n, (unsigned long long)n - 1,
			        n == 2 ? "" : "s");
			g.nreq = (unsigned)n - 1;
		}
	} else {
		g.nreq = 1;
	}
	/*
	 * Split rings, no indirect descriptors needed; EVENT_IDX when offered
	 * (vfsd and libvhost-user do): kicks and calls only when the other side
	 * waits for them.
	 */
	g.event_idx = !g.no_event_idx && (f & (1ull << VFSD_VIRTIO_F_RING_EVENT_IDX));
	vu_u64(VHOST_USER_SET_FEATURES,
	       (1ull << VFSD_VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
	           (g.event_idx ? 1ull << VFSD_VIRTIO_F_RING_EVENT_IDX : 0));

	layout();
	g.memfd = memfd_create("vhost-user-fs-mount", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (g.memfd < 0 || ftruncate(g.memfd, (off_t)g.memsz) < 0)
		die("guest memory");
	/* The back-end gets this fd: it must not shrink it under us (SIGBUS), as QEMU seals. */
	if (fcntl(g.memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		die("sealing guest memory");
	g.mem = mmap(NULL, g.memsz, PROT_READ | PROT_WRITE, MAP_SHARED, g.memfd, 0);
	if (g.mem == MAP_FAILED)
		die("mmap guest memory");
	mt.regions[0] = (struct vfsd_mem_desc){.gpa = 0, .size = g.memsz, .uva = (uintptr_t)g.mem};
	if (vu_send(VHOST_USER_SET_MEM_TABLE, &mt, 8 + sizeof(mt.regions[0]), &g.memfd, 1) < 0)
		die("SET_MEM_TABLE");

	for (unsigned i = 0; i <= g.nreq; i++) {
		struct vfsd_vu_vring_state s = {i, g.qsize};
		struct vfsd_vu_vring_addr a = {.index = i,
		                               .desc = (uintptr_t)g.mem + q[i].desc_gpa,
		                               .avail = (uintptr_t)g.mem + q[i].avail_gpa,
		                               .used = (uintptr_t)g.mem + q[i].used_gpa};
		uint64_t u = i;

		q[i].desc = (void *)(g.mem + q[i].desc_gpa);
		q[i].avail = (void *)(g.mem + q[i].avail_gpa);
		q[i].used = (void *)(g.mem + q[i].used_gpa);
		q[i].kick = eventfd(0, EFD_CLOEXEC);
		q[i].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		pthread_mutex_init(&q[i].lock, NULL);
		if (q[i].kick < 0 || q[i].call < 0)
			die("eventfd");
		if (vu_send(VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0) < 0)
			die("SET_VRING_NUM");
		s.num = 0;
		if (vu_send(VHOST_USER_SET_VRING_BASE, &s, sizeof(s), NULL, 0) < 0 ||
		    vu_send(VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) < 0 ||
		    vu_send(VHOST_USER_SET_VRING_CALL, &u, 8, &q[i].call, 1) < 0 ||
		    vu_send(VHOST_USER_SET_VRING_KICK, &u, 8, &q[i].kick, 1) < 0)
			die("vring set-up");
		s.num = 1;
		if (vu_send(VHOST_USER_SET_VRING_ENABLE, &s, sizeof(s), NULL, 0) < 0)
			die("SET_VRING_ENABLE");
		q[i].nfree = i ? g.slots : g.hislots;
		q[i].free_slot = calloc(q[i].nfree, sizeof(uint16_t));
		q[i].slot = calloc(q[i].nfree, sizeof(struct slot));
		if (!q[i].free_slot || !q[i].slot)
			die("calloc");
		for (unsigned k = 0; k < q[i].nfree; k++)
			q[i].free_slot[k] = (uint16_t)(q[i].nfree - 1 - k);
	}
}

/* --- the driver side ---------------------------------------------------------- */

static void kick(struct queue *qu)
{
	uint64_t one = 1;

	atomic_fetch_add_explicit(&stats.kicks, 1, memory_order_relaxed);
	if (write(qu->kick, &one, 8) != 8 && !g.aborted)
		perror("vhost-user-fs-mount: kick");
}

/* used_event: the tail of the avail ring, written by us (virtio 1.x 2.7.10). */
static void set_used_event(struct queue *qu, uint16_t v)
{
	__atomic_store_n(&qu->avail->ring[g.qsize], v, __ATOMIC_RELAXED);
}

/* avail_event: the tail of the used ring, written by the back-end. */
static uint16_t avail_event(const struct queue *qu)
{
	return __atomic_load_n((const uint16_t *)&qu->used->ring[g.qsize], __ATOMIC_RELAXED);
}

/*
 * kick_if_needed() - tell the back-end about the chains made available since
 * the last call, if it wants to know: with EVENT_IDX, only when avail idx
 * moved past the avail_event it published (vring_need_event()); without,
 * unless it set VRING_USED_F_NO_NOTIFY.  Whatever the back-end writes there
 * can at worst cost it kicks: the watchdog in queue_thread() kicks anyway
 * when requests make no progress.
 */
static void kick_if_needed(struct queue *qu)
{
	uint16_t old = qu->kicked_idx, now = qu->avail_idx;
	bool need;

	if (old == now)
		return;
	qu->kicked_idx = now;
	/* Our avail idx store must be ordered before we read what the back-end asked for. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (g.event_idx)
		need = vring_need_event(avail_event(qu), now, old);
	else
		need =
		    !(__atomic_load_n(&qu->used->flags, __ATOMIC_RELAXED) & VRING_USED_F_NO_NOTIFY);
	if (need)
		kick(qu);
	else
		atomic_fetch_add_explicit(&stats.skipped, 1, memory_order_relaxed);
}

/*
 * used_ahead() - the number of used entries to read, or -1 if the back-end's
 * used idx claims more than we have in flight (it ran ahead).
 */
static int used_ahead(const struct queue *qu)
{
	unsigned nslots = qu->index ? g.slots : g.hislots;
	uint16_t n = (uint16_t)(__atomic_load_n(&qu->used->idx, __ATOMIC_ACQUIRE) - qu->used_seen);

	return n > nslots - qu->nfree ? -1 : n;
}

/* Reads a call eventfd; counts the back-end's writes it had coalesced. */
static void take_call(int fd)
{
	uint64_t v;

	if (read(fd, &v, 8) == 8)
		atomic_fetch_add_explicit(&stats.calls, v, memory_order_relaxed);
}

/*
 * backend_broken() - the back-end broke the protocol: say why once, and wake
 * every thread (stopfd) so each fails what it has in flight and the main
 * thread detaches the mount.
 */
static void backend_broken(const struct queue *qu, const char *why, uint32_t id, uint32_t len)
{
	uint64_t one = 1;

	if (atomic_exchange(&g.broken, true))
		return;
	fprintf(stderr,
	        "vhost-user-fs-mount: the back-end broke the protocol on queue %u: %s (used id %u, "
	        "len %u); failing requests in flight with EIO and unmounting\n",
	        qu->index, why, id, len);
	if (write(g.stopfd, &one, 8) != 8)
		perror("vhost-user-fs-mount: stopfd");
}

/*
 * used_slot() - the one check of a used-ring entry: the slot it completes,
 * or -1 (and the back-end marked broken) unless id is the head of a chain we
 * queued on this queue, that chain is still in flight, and len is no more
 * than its writable part.
 */
static int used_slot(struct queue *qu, const struct vring_used_elem *e)
{
	unsigned nslots = qu->index ? g.slots : g.hislots;

	if (e->id % 2 || e->id / 2 >= nslots) {
		backend_broken(qu, "descriptor id out of range", e->id, e->len);
		return -1;
	}
	if (!qu->slot[e->id / 2].inflight) {
		backend_broken(qu, "descriptor not in flight", e->id, e->len);
		return -1;
	}
	if (e->len > qu->slot[e->id / 2].writable) {
		backend_broken(qu, "used length larger than the buffer", e->id, e->len);
		return -1;
	}
	qu->slot[e->id / 2].inflight = false;
	return (int)(e->id / 2);
}

/* Puts a chain of head (read-only) and, if replen, a writable part on the ring. */
static void submit(struct queue *qu, unsigned slot, uint64_t req_gpa, uint32_t reqlen,
                   uint64_t rep_gpa, uint32_t replen)
{
	unsigned d = slot * 2;

	qu->slot[slot].inflight = true;
	qu->slot[slot].writable = replen;
	qu->desc[d] = (struct vring_desc){.addr = req_gpa, .len = reqlen, .flags = 0, .next = 0};
	if (replen) {
		qu->desc[d].flags = VRING_DESC_F_NEXT;
		qu->desc[d].next = (uint16_t)(d + 1);
		qu->desc[d + 1] = (struct vring_desc){
		    .addr = rep_gpa, .len = replen, .flags = VRING_DESC_F_WRITE};
	}
	qu->avail->ring[qu->avail_idx % g.qsize] = (uint16_t)d;
	qu->avail_idx++;
	__atomic_store_n(&qu->avail->idx, qu->avail_idx, __ATOMIC_RELEASE);
	atomic_fetch_add_explicit(&stats.requests, 1, memory_order_relaxed);
}

/*
 * more_used() - are there used entries to read?  With EVENT_IDX, first asks
 * for a call at the next one (used_event) and looks again, so an entry used
 * in between is not missed (virtio 1.x 2.7.10).  Marks the back-end broken
 * and answers false if its used idx ran ahead of what is in flight.
 */
static bool more_used(struct queue *qu)
{
	int n;

	if (atomic_load(&g.broken))
		return false;
	n = used_ahead(qu);
	if (n == 0 && g.event_idx) {
		set_used_event(qu, qu->used_seen);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		n = used_ahead(qu);
	}
	if (n < 0) {
		backend_broken(qu, "used index ran ahead of the chains in flight", qu->used_seen,
		               __atomic_load_n(&qu->used->idx, __ATOMIC_RELAXED));
		return false;
	}
	return n > 0;
}

/* What the back-end has consumed on the hiprio queue, under its lock. */
static void hiprio_reclaim(struct queue *h)
{
	while (more_used(h)) {
		struct vring_used_elem e = h->used->ring[h->used_seen % g.qsize];
		int slot = used_slot(h, &e);

		if (slot < 0)
			return;
		h->free_slot[h->nfree++] = (uint16_t)slot;
		h->used_seen++;
	}
}

/* FORGET, BATCH_FORGET and INTERRUPT: on the hiprio queue, no reply. */
static void send_forget(const void *req, uint32_t len)
{
	struct queue *h = &q[0];

	if (len > HIPRIO_BUF)
		return;
	pthread_mutex_lock(&h->lock);
	for (unsigned waited = 0;; waited++) {
		hiprio_reclaim(h);
		if (h->nfree || g.aborted || atomic_load(&g.broken))
			break;
		/* All slots taken for a while: kick anyway, in case our kicks were not wanted. */
		if (g.watchdog_ms && waited && waited % (10u * (unsigned)g.watchdog_ms) == 0) {
			atomic_fetch_add_explicit(&stats.watchdog, 1, memory_order_relaxed);
			kick(h);
		}
		pthread_mutex_unlock(&h->lock);
		usleep(100);
		pthread_mutex_lock(&h->lock);
	}
	if (h->nfree && !atomic_load(&g.broken)) {
		unsigned slot = h->free_slot[--h->nfree];
		uint64_t gpa = h->bufs + (uint64_t)slot * HIPRIO_BUF;

		memcpy(g.mem + gpa, req, len);
		submit(h, slot, gpa, len, 0, 0);
		kick_if_needed(h);
	}
	pthread_mutex_unlock(&h->lock);
}

static uint64_t req_gpa(const struct queue *qu, unsigned slot)
{
	return qu->bufs + (uint64_t)slot * (REQ_BUF + REP_BUF);
}

/* A reply for unique that the back-end could not give: fail the request. */
static void reply_error(int fd, uint64_t unique, int err)
{
	struct fuse_out_header oh = {.len = sizeof(oh), .error = -err, .unique = unique};

	if (write(fd, &oh, sizeof(oh)) < 0 && errno != ENOENT)
		perror("vhost-user-fs-mount: writing an error reply");
}

/* The back-end broke the protocol: every request this queue has in flight fails with EIO. */
static void fail_in_flight(struct queue *qu)
{
	for (unsigned s = 0; s < g.slots; s++)
		if (qu->slot[s].inflight) {
			qu->slot[s].inflight = false;
			reply_error(qu->devfd, qu->slot[s].unique, EIO);
		}
}

/*
 * The INIT reply, copied out of guest memory (the back-end cannot change it
 * after the check): requests must fit our buffers.
 */
static void write_init_reply(struct queue *qu, const struct slot *st, const uint8_t *rep,
                             uint32_t len)
{
	struct {
		struct fuse_out_header oh;
		struct fuse_init_out io;
	} r = {0};

	if (len > sizeof(r)) {
		reply_error(qu->devfd, st->unique, EIO);
		return;
	}
	memcpy(&r, rep, len);
	if (!r.oh.error && len >= sizeof(r.oh) + offsetof(struct fuse_init_out, max_write) + 4 &&
	    r.io.max_write > (1u << 20))
		r.io.max_write = 1u << 20;
	if (!r.oh.error && len >= sizeof(r.oh) + offsetof(struct fuse_init_out, max_pages) + 2 &&
	    r.io.max_pages > 256)
		r.io.max_pages = 256;
	if (write(qu->devfd, &r, len) < 0 && errno != ENOENT) {
		perror("vhost-user-fs-mount: INIT reply refused by the kernel");
		reply_error(qu->devfd, st->unique, EIO);
	}
}

/* Replies the back-end has finished: copy each to /dev/fuse, free its slot. */
static void complete(struct queue *qu)
{
	while (more_used(qu)) {
		struct vring_used_elem e = qu->used->ring[qu->used_seen % g.qsize];
		int slot = used_slot(qu, &e);
		const struct slot *st;
		uint8_t *rep;
		struct fuse_out_header oh;

		if (slot < 0)
			return;
		qu->used_seen++;
		st = &qu->slot[slot];
		rep = g.mem + req_gpa(qu, (unsigned)slot) + REQ_BUF;
		if (e.len >= sizeof(oh))
			memcpy(&oh, rep, sizeof(oh));
		if (e.len < sizeof(oh) || oh.len != e.len || oh.unique != st->unique) {
			reply_error(qu->devfd, st->unique, EIO);
		} else if (st->opcode == FUSE_INIT) {
			write_init_reply(qu, st, rep, e.len);
		} else {
			/* The checked header from our copy, the rest from guest memory. */
			struct iovec iov[2] = {{&oh, sizeof(oh)},
			                       {rep + sizeof(oh), e.len - sizeof(oh)}};

			if (writev(qu->devfd, iov, 2) < 0 && errno != ENOENT) {
				fprintf(stderr,
				        "vhost-user-fs-mount: reply to opcode %u (%u bytes, error "
				        "%d) refused by the kernel: %s (in %u, read size %u)\n",
				        st->opcode, e.len, oh.error, strerror(errno), st->inlen,
				        st->read_size);
				/* A refused header leaves the request pending: end it. */
				reply_error(qu->devfd, st->unique, EIO);
			}
		}
		qu->free_slot[qu->nfree++] = (uint16_t)slot;
	}
}

/*
 * Room for the reply, as the guest's virtio-fs driver gives it: exactly the
 * requested size for data replies (back-ends fill what they are given: QEMU's
 * virtiofsd answers a 4 KiB READ with a buffer's worth), a page otherwise.
 */
static uint32_t reply_room(const struct fuse_in_header *ih, const uint8_t *req, size_t n)
{
	const uint32_t hdr = sizeof(struct fuse_out_header);
	uint32_t size;

	switch (ih->opcode) {
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		if (n < sizeof(*ih) + sizeof(struct fuse_read_in))
			return hdr;
		memcpy(&size, req + sizeof(*ih) + offsetof(struct fuse_read_in, size), 4);
		break;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		if (n < sizeof(*ih) + sizeof(struct fuse_getxattr_in))
			return hdr;
		memcpy(&size, req + sizeof(*ih) + offsetof(struct fuse_getxattr_in, size), 4);
		if (size < sizeof(struct fuse_getxattr_out))
			size = sizeof(struct fuse_getxattr_out);
		break;
	default:
		size = 4096; /* every fixed reply and a READLINK target */
	}
	return hdr + (size < REP_BUF - hdr ? size : REP_BUF - hdr);
}

/*
 * One request from /dev/fuse into a free slot, then onto the ring (the
 * caller kicks).  The header is read into our memory first and only then
 * copied to the slot, so what we keep of it is what the kernel sent.
 * Return: 1 if a request was taken, 0 if none was waiting, -errno.
 */
static int take_request(struct queue *qu)
{
	unsigned slot = qu->free_slot[qu->nfree - 1];
	uint64_t gpa = req_gpa(qu, slot);
	uint8_t *buf = g.mem + gpa;
	struct fuse_in_header ih;
	struct iovec iov[2] = {{&ih, sizeof(ih)}, {buf + sizeof(ih), REQ_BUF - sizeof(ih)}};
	ssize_t n = readv(qu->devfd, iov, 2);
	struct slot *st = &qu->slot[slot];

	if (n < 0) {
		atomic_fetch_add_explicit(&stats.empty_reads, 1, memory_order_relaxed);
		return errno == EAGAIN || errno == EINTR || errno == ENOENT ? 0 : -errno;
	}
	if ((size_t)n < sizeof(ih))
		return 1;
	memcpy(buf, &ih, sizeof(ih));
	switch (ih.opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	/*
	 * INTERRUPT too (no reply either): a back-end that holds a blocking
	 * SETLKW (vfsd) answers it EINTR; others ignore it and the request
	 * finishes anyway.
	 */
	case FUSE_INTERRUPT:
		send_forget(buf, (uint32_t)n);
		return 1;
	}
	if (atomic_load(&g.broken)) {
		reply_error(qu->devfd, ih.unique, EIO);
		return 1;
	}
	st->unique = ih.unique;
	st->opcode = ih.opcode;
	st->inlen = ih.len;
	st->read_size = 0;
	if (ih.opcode == FUSE_READ && (size_t)n >= sizeof(ih) + sizeof(struct fuse_read_in))
		memcpy(&st->read_size, buf + sizeof(ih) + offsetof(struct fuse_read_in, size),
		       sizeof(st->read_size));
	qu->nfree--;
	submit(qu, slot, gpa, (uint32_t)n, gpa + REQ_BUF, reply_room(&ih, buf, (size_t)n));
	return 1;
}

/*
 * leave() - exit once: every queue thread sees the unmount at about the same
 * time, and exit() is not thread-safe (a second caller could end the process
 * while the first still runs the atexit handlers, losing --stats).
 */
static _Noreturn void leave(int code)
{
	static atomic_bool leaving;

	if (atomic_exchange(&leaving, true))
		for (;;)
			pause();
	exit(code);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * watchdog() - requests have been in flight for --watchdog ms with no reply:
 * take any used entries a missing call left behind, and kick.  With a
 * well-behaved back-end this finds nothing (tests check late_used stays 0);
 * a back-end that writes a bogus avail_event or flags gets slow, not stuck.
 */
static void watchdog(struct queue *qu)
{
	int n = used_ahead(qu);

	atomic_fetch_add_explicit(&stats.watchdog, 1, memory_order_relaxed);
	if (n > 0)
		atomic_fetch_add_explicit(&stats.late_used, (unsigned long)n, memory_order_relaxed);
	complete(qu);
	kick(qu);
}

static void *queue_thread(void *arg)
{
	struct queue *qu = arg;
	int64_t progress = 0; /* when a reply last came, or the first request went out */

	for (;;) {
		bool broken = atomic_load(&g.broken);
		bool busy = qu->nfree < g.slots;
		struct pollfd p[3] = {
		    {.fd = qu->devfd, .events = qu->nfree && !broken ? POLLIN : 0},
		    {.fd = qu->call, .events = broken ? 0 : POLLIN},
		    {.fd = g.stopfd, .events = POLLIN}};
		int timeout = -1, r;

		if (busy && g.watchdog_ms && !broken) {
			int64_t left = progress + g.watchdog_ms - now_ms();

			timeout = left > 0 ? (int)left : 0;
		}
		r = poll(p, 3, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r == 0) {
			watchdog(qu);
			progress = now_ms();
			continue;
		}
		if (p[2].revents & POLLIN) {
			/* Nothing more from this back-end; the main thread unmounts. */
			fail_in_flight(qu);
			atomic_fetch_add(&g.stopped, 1);
			return NULL;
		}
		if (p[1].revents & POLLIN) {
			unsigned before = qu->nfree;

			take_call(qu->call);
			complete(qu);
			if (g.watchdog_ms && qu->nfree != before)
				progress = now_ms();
		}
		if (p[0].revents & (POLLERR | POLLHUP))
			break; /* unmounted or aborted */
		if (p[0].revents & POLLIN) {
			/*
			 * Busy (requests already in flight): every request waiting,
			 * then one kick for the lot.  Idle: one request and kick at
			 * once; a serial caller would only pay a readv that finds
			 * nothing (EAGAIN) for a kick that EVENT_IDX saves anyway.
			 */
			bool idle = qu->nfree == g.slots;

			do
				r = take_request(qu);
			while (r > 0 && !idle && qu->nfree && !atomic_load(&g.broken));
			kick_if_needed(qu);
			if (r == -ENODEV)
				break;
			if (g.watchdog_ms && idle && qu->nfree < g.slots)
				progress = now_ms();
		}
	}
	leave(g.aborted ? 1 : 0);
}

/* --- mount and supervision ---------------------------------------------------- */

/* --stats: printed at exit, so tests and benchmarks can count notifications. */
static void print_stats(void)
{
	unsigned long req = atomic_load(&stats.requests);

	fprintf(stderr,
	        "vhost-user-fs-mount: stats: event-idx %s requests %lu kicks %lu "
	        "kicks-skipped %lu calls %lu kicks/request %.3f calls/request %.3f "
	        "empty-reads %lu watchdog %lu late-used %lu\n",
	        g.event_idx ? "on" : "off", req, atomic_load(&stats.kicks),
	        atomic_load(&stats.skipped), atomic_load(&stats.calls),
	        req ? (double)atomic_load(&stats.kicks) / (double)req : 0.0,
	        req ? (double)atomic_load(&stats.calls) / (double)req : 0.0,
	        atomic_load(&stats.empty_reads), atomic_load(&stats.watchdog),
	        atomic_load(&stats.late_used));
}

static void usage(FILE *f)
{
	fprintf(f, "usage: vhost-user-fs-mount [--queues N] [--queue-size N] [--no-event-idx] "
	           "[--stats]\n"
	           "                           [--watchdog MS] [-o OPTIONS] SOCKET MOUNTPOINT\n"
	           "Mounts a vhost-user-fs back-end (vfsd, virtiofsd) at MOUNTPOINT; stays in the\n"
	           "foreground until it is unmounted.  See vhost-user-fs-mount(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"queues", required_argument, NULL, 'q'},
	                                     {"queue-size", required_argument, NULL, 's'},
	                                     {"no-event-idx", no_argument, NULL, 'E'},
	                                     {"stats", no_argument, NULL, 'S'},
	                                     {"watchdog", required_argument, NULL, 'w'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *extra = NULL;
	char data[1024];
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			g.nreq = (unsigned)strtoul(optarg, NULL, 10);
			if (g.nreq < 1 || g.nreq > MAX_QUEUES) {
				fprintf(stderr, "vhost-user-fs-mount: --queues must be 1..%d\n",
				        MAX_QUEUES);
				return 2;
			}
			break;
		case 's':
			g.qsize = (unsigned)strtoul(optarg, NULL, 10);
			if (g.qsize < 4 || g.qsize > 1024 || (g.qsize & (g.qsize - 1))) {
				fprintf(stderr,
				        "vhost-user-fs-mount: --queue-size must be a power of 2, "
				        "4..1024\n");
				return 2;
			}
			break;
		case 'E':
			g.no_event_idx = true;
			break;
		case 'S':
			g.stats = true;
			break;
		case 'w': {
			char *end;
			long ms = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end || ms < 0 || ms > 3600000) {
				fprintf(stderr,
				        "vhost-user-fs-mount: --watchdog must be 0..3600000 "
				        "(ms)\n");
				return 2;
			}
			g.watchdog_ms = (int)ms;
			break;
		}
		case 'o':
			extra = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || strlen(argv[optind]) >= sizeof(sa.sun_path)) {
		usage(stderr);
		return 2;
	}
	/* Two descriptors a request; at most 16 in flight, enough to keep a back-end busy. */
	g.slots = g.qsize / 2 < 16 ? g.qsize / 2 : 16;
	/* Every slot's descriptors must lie within the ring, hiprio's too. */
	g.hislots = g.qsize / 2 < HIPRIO_SLOTS ? g.qsize / 2 : HIPRIO_SLOTS;
	signal(SIGPIPE, SIG_IGN);

	g.mountpoint = argv[optind + 1];
	g.stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g.stopfd < 0)
		die("eventfd");
	strcpy(sa.sun_path, argv[optind]);
	g.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g.sock < 0 || connect(g.sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(argv[optind]);
	vu_setup();
	if (g.stats)
		atexit(print_stats);

	g.devfd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (g.devfd < 0)
		die("/dev/fuse");
	/* What the guest's virtio-fs driver does: the kernel checks permissions. */
	snprintf(data, sizeof(data),
	         "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other%s%s",
	         g.devfd, extra ? "," : "", extra ? extra : "");
	if (mount(argv[optind], argv[optind + 1], "fuse.vhost-user-fs", MS_NOSUID | MS_NODEV,
	          data) < 0)
		die("mount");
	for (unsigned i = 1; i <= g.nreq; i++) {
		pthread_t t;
		uint32_t master = (uint32_t)g.devfd;

		if (i == 1) {
			q[i].devfd = g.devfd;
		} else {
			q[i].devfd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
			if (q[i].devfd < 0 || ioctl(q[i].devfd, FUSE_DEV_IOC_CLONE, &master) < 0)
				die("cloning /dev/fuse");
		}
		if (fcntl(q[i].devfd, F_SETFL, O_NONBLOCK) < 0)
			die("O_NONBLOCK");
		if (pthread_create(&t, NULL, queue_thread, &q[i]) != 0)
			die("pthread_create");
	}
	/*
	 * The main thread watches the back-end: if it goes, abort rather than
	 * hang; if it breaks the protocol, detach the mount once every queue
	 * thread has failed its requests.  It also takes back what the back-end
	 * consumed on the hiprio queue, so a bad entry there is seen at once.
	 */
	for (;;) {
		struct pollfd p[3] = {{.fd = g.sock, .events = POLLIN},
		                      {.fd = q[0].call, .events = POLLIN},
		                      {.fd = g.stopfd, .events = POLLIN}};
		char b;

		if (poll(p, 3, -1) < 0 && errno == EINTR)
			continue;
		if (p[1].revents & POLLIN) {
			take_call(q[0].call);
			pthread_mutex_lock(&q[0].lock);
			hiprio_reclaim(&q[0]);
			pthread_mutex_unlock(&q[0].lock);
		}
		if (p[2].revents & POLLIN) {
			/* Each queue thread answers its requests; give them 2 s. */
			for (int i = 0; i < 2000 && atomic_load(&g.stopped) < g.nreq; i++)
				usleep(1000);
			if (umount2(g.mountpoint, MNT_DETACH) < 0)
				perror("vhost-user-fs-mount: umount");
			leave(1);
		}
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t r = recv(g.sock, &b, 1, MSG_DONTWAIT);

		if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR)))
			continue; /* nothing is expected from the back-end; ignore it */
		/*
		 * Closing the last /dev/fuse fd aborts the FUSE connection: every
		 * waiting and later call gets ENOTCONN until the mount is removed.
		 */
		fprintf(stderr,
		        "vhost-user-fs-mount: the back-end closed the connection; the mount "
		        "answers ENOTCONN until it is unmounted\n");
		g.aborted = true;
		_exit(1);
	}
}
