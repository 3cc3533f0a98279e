// SPDX-License-Identifier: MIT
/*
 * vu_evil_backend: a malicious vhost-user-fs back-end for
 * tests/security/vfsd_host.sh.  It answers the vhost-user hand-shake of a
 * front-end (vhost-user-fs-mount), serves FUSE_INIT, LOOKUP (a new node id
 * each time, nothing cached, so a second lookup of a name makes the kernel
 * send a FORGET) and GETATTR honestly, and then breaks the virtqueue
 * protocol once, as MODE says:
 *
 *   oob          request queue: a used entry whose id is out of range
 *   notinflight  request queue: the id of a chain that is not in flight
 *   dup          request queue: the same chain twice (first with len 0)
 *   biglen       request queue: a len far beyond the chain's reply buffer
 *   ahead        request queue: the used idx jumps 100 entries ahead of what
 *                is in flight (no entries written)
 *   hiprio-oob, hiprio-notinflight, hiprio-dup, hiprio-len, hiprio-ahead
 *                the same on the hiprio queue, when the first FORGET comes
 *   nokick       offer VIRTIO_RING_F_EVENT_IDX, then keep avail_event where
 *                the front-end's avail idx never meets it and set
 *                VRING_USED_F_NO_NOTIFY, so a front-end that trusts them
 *                never kicks; serve honestly whatever a kick brings
 *   shrink       at the first LOOKUP, try to truncate guest memory (the
 *                front-end would then die of SIGBUS), then go on honestly
 *   badheader    request queue: a well-formed used entry whose reply header
 *                has an error the kernel refuses (+1), so /dev/fuse rejects
 *                the write (tests/security/vfsd_redteam.sh)
 *
 *   vu_evil_backend SOCKET MODE
 *
 * Prints "evil: MODE done" on stderr after misbehaving; exits when the
 * front-end closes the connection.
 */
#include <errno.h>
#include <linux/fuse.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vfsd/vhost_user.h"

#define NQ 2

static struct {
	uint8_t *map;
	uint64_t uva, size;
	int fd;
} mem = {.fd = -1};

static struct {
	unsigned num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;
	int kick, call;
} vq[NQ] = {{.kick = -1, .call = -1}, {.kick = -1, .call = -1}};

static const char *mode;
static bool done;
static uint64_t next_nodeid = 2;

static void fail(const char *what)
{
	fprintf(stderr, "evil: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *uva_ptr(uint64_t uva)
{
	if (uva < mem.uva || uva - mem.uva >= mem.size)
		return NULL;
	return mem.map + (uva - mem.uva);
}

static void *gpa_ptr(uint64_t gpa, uint32_t len)
{
	if (gpa >= mem.size || len > mem.size - gpa)
		return NULL;
	return mem.map + gpa;
}

static void reply_u64(int s, uint32_t req, uint64_t v)
{
	struct {
		struct vfsd_vu_hdr h;
		uint64_t v;
	} __attribute__((packed)) m = {{req, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY, 8}, v};

	if (write(s, &m, sizeof(m)) != sizeof(m))
		fail("reply");
}

/* One vhost-user message; returns false at EOF. */
static bool handle_msg(int s)
{
	struct vfsd_vu_hdr h;
	union vfsd_vu_payload p;
	char cbuf[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = {&h, sizeof(h)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	int fd = -1;
	ssize_t n = recvmsg(s, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (h.size > sizeof(p) || (h.size && recv(s, &p, h.size, MSG_WAITALL) != h.size))
		fail("message");
	switch (h.request) {
	case VHOST_USER_GET_FEATURES:
		reply_u64(s, h.request,
		          (1ull << VFSD_VIRTIO_F_VERSION_1) |
		              (1ull << VHOST_USER_F_PROTOCOL_FEATURES) |
		              (!strcmp(mode, "nokick") ? 1ull << VFSD_VIRTIO_F_RING_EVENT_IDX : 0));
		break;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		reply_u64(s, h.request, 1ull << VHOST_USER_PROTOCOL_F_MQ);
		break;
	case VHOST_USER_GET_QUEUE_NUM:
		reply_u64(s, h.request, NQ);
		break;
	case VHOST_USER_SET_MEM_TABLE:
		mem.uva = p.mem.regions[0].uva;
		mem.size = p.mem.regions[0].size;
		mem.map = mmap(NULL, mem.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (mem.map == MAP_FAILED)
			fail("mmap");
		mem.fd = fd;
		fd = -1;
		break;
	case VHOST_USER_SET_VRING_NUM:
		if (p.state.index < NQ)
			vq[p.state.index].num = p.state.num;
		break;
	case VHOST_USER_SET_VRING_ADDR:
		if (p.addr.index < NQ) {
			vq[p.addr.index].desc = uva_ptr(p.addr.desc);
			vq[p.addr.index].avail = uva_ptr(p.addr.avail);
			vq[p.addr.index].used = uva_ptr(p.addr.used);
		}
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
		if ((p.u64 & 0xff) < NQ) {
			if (h.request == VHOST_USER_SET_VRING_KICK)
				vq[p.u64 & 0xff].kick = fd;
			else
				vq[p.u64 & 0xff].call = fd;
			fd = -1;
		}
		break;
	default:
		break;
	}
	if (fd >= 0)
		close(fd);
	return true;
}

/* nokick: ask for no kick, ever (avail_event half the index space away). */
static void refuse_kicks(unsigned qi)
{
	if (strcmp(mode, "nokick") || !vq[qi].used || !vq[qi].num)
		return;
	vq[qi].used->flags = VRING_USED_F_NO_NOTIFY;
	__atomic_store_n((uint16_t *)&vq[qi].used->ring[vq[qi].num],
	                 (uint16_t)(vq[qi].last_avail + 0x8000), __ATOMIC_RELEASE);
}

static void push(unsigned qi, uint32_t id, uint32_t len)
{
	struct vring_used *u = vq[qi].used;
	uint16_t idx = u->idx;

	u->ring[idx % vq[qi].num] = (struct vring_used_elem){.id = id, .len = len};
	__atomic_store_n(&u->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static void notify(unsigned qi)
{
	uint64_t one = 1;

	if (write(vq[qi].call, &one, 8) != 8)
		fail("call");
}

static void fill_attr(struct fuse_attr *a, uint64_t ino, bool dir)
{
	*a = (struct fuse_attr){.ino = ino,
	                        .mode = dir ? S_IFDIR | 0755 : S_IFREG | 0644,
	                        .nlink = dir ? 2 : 1,
	                        .blksize = 4096};
}

/*
 * A chain id the front-end does not have in flight on qi: not head, nor any
 * chain still waiting in the avail ring (all chains served before were
 * used).  Heads are even (a request and a reply descriptor).  On the
 * request queue the next heads are tried.  On hiprio the front-end may
 * queue the next FORGET (its next slot, head + 2) before it reads our
 * entry, which would then complete that one: there the highest heads are
 * tried, slots it takes last (vhost-user-fs-mount takes slot 0, then 1, ...;
 * 64 FORGETs would have to be in flight at once).
 */
static uint16_t not_in_flight(unsigned qi, uint16_t head)
{
	uint16_t avail = __atomic_load_n(&vq[qi].avail->idx, __ATOMIC_ACQUIRE), num = vq[qi].num;

	for (unsigned k = 1; k < num; k++) {
		uint16_t id = (uint16_t)(qi == 0 ? (num - 2 * k) % num : (head + 2 * k) % num);
		bool busy = id == head;

		for (uint16_t i = vq[qi].last_avail; !busy && i != avail; i++)
			busy = vq[qi].avail->ring[i % num] == id;
		if (!busy)
			return id;
	}
	return (uint16_t)((head + 2) % num);
}

/* Misbehave on queue qi for the chain at head; true if MODE is for this queue. */
static bool misbehave(unsigned qi, uint16_t head, struct fuse_out_header *oh, uint64_t unique)
{
	const char *m = mode;

	if (!strcmp(m, "nokick"))
		return false;
	if (!strcmp(m, "shrink")) {
		static bool tried;

		if (qi == 0 || tried)
			return false;
		tried = true;
		if (ftruncate(mem.fd, 0) == 0) {
			fprintf(stderr, "evil: shrink done\n");
			exit(1); /* our own mapping is gone too */
		}
		fprintf(stderr, "evil: shrink refused: %s\n", strerror(errno));
		return false;
	}
	if (qi == 0) {
		if (strncmp(m, "hiprio-", 7))
			return false;
		m += 7;
	} else if (!strncmp(m, "hiprio-", 7)) {
		return false;
	}
	if (!strcmp(m, "oob")) {
		push(qi, 2000, 0);
	} else if (!strcmp(m, "notinflight")) {
		uint16_t id = not_in_flight(qi, head);

		fprintf(stderr,
		        "evil: queue %u: chain %u in flight, used id %u (avail %u, seen %u)\n", qi,
		        head, id, vq[qi].avail->idx, vq[qi].last_avail);
		push(qi, id, 0);
	} else if (!strcmp(m, "ahead")) {
		__atomic_store_n(&vq[qi].used->idx, (uint16_t)(vq[qi].used->idx + 100),
		                 __ATOMIC_RELEASE);
	} else if (!strcmp(m, "dup")) {
		push(qi, head, 0);
		push(qi, head, 0);
	} else if (!strcmp(m, "badheader")) {
		if (!oh)
			return false;
		*oh = (struct fuse_out_header){.len = sizeof(*oh), .error = 1, .unique = unique};
		push(qi, head, sizeof(*oh));
	} else if (!strcmp(m, "biglen") || !strcmp(m, "len")) {
		if (oh)
			*oh = (struct fuse_out_header){.len = 1u << 28, .unique = unique};
		push(qi, head, 1u << 28);
	} else {
		fprintf(stderr, "evil: unknown mode %s\n", mode);
		exit(2);
	}
	notify(qi);
	done = true;
	fprintf(stderr, "evil: %s done\n", mode);
	return true;
}

/* The chains the front-end queued on qi. */
static void serve(unsigned qi)
{
	uint64_t v;

	(void)!read(vq[qi].kick, &v, 8);
	while (vq[qi].last_avail != __atomic_load_n(&vq[qi].avail->idx, __ATOMIC_ACQUIRE)) {
		uint16_t head = vq[qi].avail->ring[vq[qi].last_avail++ % vq[qi].num];
		struct vring_desc *d = &vq[qi].desc[head % vq[qi].num];
		struct fuse_in_header *ih = gpa_ptr(d->addr, d->len);
		struct vring_desc *w =
		    d->flags & VRING_DESC_F_NEXT ? &vq[qi].desc[d->next % vq[qi].num] : NULL;
		struct fuse_out_header *oh = w ? gpa_ptr(w->addr, w->len) : NULL;
		uint32_t len = sizeof(*oh);

		if (!ih || d->len < sizeof(*ih))
			continue;
		if (done)
			continue; /* broken on purpose: nothing more */
		if (qi == 0) {
			if (!misbehave(0, head, NULL, 0))
				push(0, head, 0), notify(0);
			continue;
		}
		if (!oh || w->len < sizeof(*oh) + sizeof(struct fuse_entry_out))
			continue;
		*oh = (struct fuse_out_header){.unique = ih->unique};
		switch (ih->opcode) {
		case FUSE_INIT: {
			struct fuse_init_out *io = (void *)(oh + 1);

			*io = (struct fuse_init_out){.major = 7, .minor = 31, .max_write = 65536};
			len += sizeof(*io);
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out *e = (void *)(oh + 1);

			if (misbehave(1, head, oh, ih->unique))
				continue;
			*e = (struct fuse_entry_out){.nodeid = next_nodeid++};
			fill_attr(&e->attr, e->nodeid, false);
			len += sizeof(*e);
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out *a = (void *)(oh + 1);

			*a = (struct fuse_attr_out){0};
			fill_attr(&a->attr, ih->nodeid, ih->nodeid == FUSE_ROOT_ID);
			len += sizeof(*a);
			break;
		}
		default:
			oh->error = -ENOSYS;
		}
		oh->len = len;
		push(1, head, len);
		notify(1);
	}
	refuse_kicks(qi);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int l, s;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: vu_evil_backend SOCKET MODE\n");
		return 2;
	}
	mode = argv[2];
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0)
		fail("listen");
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		fail("accept");
	for (;;) {
		struct pollfd p[NQ + 1] = {{.fd = s, .events = POLLIN}};
		bool ready = true;

		for (unsigned i = 0; i < NQ; i++) {
			ready = ready && vq[i].kick >= 0 && vq[i].call >= 0 && vq[i].used &&
			        vq[i].avail && vq[i].desc && vq[i].num;
			p[i + 1] = (struct pollfd){.fd = vq[i].kick, .events = POLLIN};
		}
		if (poll(p, ready ? NQ + 1 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll");
		}
		if (p[0].revents & (POLLIN | POLLHUP) && !handle_msg(s))
			return 0; /* the front-end went away */
		for (unsigned i = 0; i < NQ; i++)
			refuse_kicks(i);
		for (unsigned i = 0; ready && i < NQ; i++)
			if (p[i + 1].revents & POLLIN)
				serve(i);
	}
}
