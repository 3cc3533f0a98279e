// SPDX-License-Identifier: MIT
/*
 * vhost-user-fs-mount: mount a vhost-user-fs back-end (vfsd, QEMU's
 * virtiofsd, ...) on the host, by playing the VMM's part of vhost-user and
 * the guest driver's part of virtio-fs, and bridging the host kernel's
 * /dev/fuse to the back-end's virtqueues.
 *
 *   vhost-user-fs-mount [--queues N] [--queue-size N] [-o OPTIONS] SOCKET MOUNTPOINT
 *
 * Guest memory is one memfd shared with the back-end.  Each request queue
 * has its own thread, its own cloned /dev/fuse fd (FUSE_DEV_IOC_CLONE) and
 * a pool of request slots: the thread reads a FUSE request straight into a
 * slot's readable buffer, queues the chain [request | reply buffer], and
 * when the back-end signals the call eventfd writes each reply back to
 * /dev/fuse from guest memory.  So several requests are in flight per queue
 * and nothing is copied between the two sides.  FORGET and BATCH_FORGET go
 * to the high-priority queue, as the virtio-fs spec wants.  If the back-end
 * goes away the program exits, which aborts the FUSE connection: callers get
 * ENOTCONN, never a hang.  The program stays in the foreground until the file system is
 * unmounted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fuse.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#include <unistd.h>

#include "common/fdutil.h"
#include "vfsd/vhost_user.h"

#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE _IOR(229, 0, uint32_t)
#endif

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
	unsigned nreq;  /* request queues */
	unsigned qsize; /* ring size */
	unsigned slots; /* in-flight requests per request queue */
	int devfd;      /* /dev/fuse */
	bool aborted;
	uint32_t max_write;
} g = {.sock = -1, .memfd = -1, .devfd = -1, .nreq = 1, .qsize = 128};

struct queue {
	unsigned index;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t avail_idx, used_seen;
	int kick, call;
	uint64_t bufs;       /* gpa of the first slot's buffers */
	uint16_t *free_slot; /* stack of free slot numbers */
	unsigned nfree;
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
		unsigned nslots = i ? g.slots : HIPRIO_SLOTS;
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
	/* Plain split rings: no EVENT_IDX, no indirect descriptors needed. */
	vu_u64(VHOST_USER_SET_FEATURES,
	       (1ull << VFSD_VIRTIO_F_VERSION_1) | (1ull << VHOST_USER_F_PROTOCOL_FEATURES));

	layout();
	g.memfd = memfd_create("vhost-user-fs-mount", MFD_CLOEXEC);
	if (g.memfd < 0 || ftruncate(g.memfd, (off_t)g.memsz) < 0)
		die("guest memory");
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
		q[i].nfree = i ? g.slots : HIPRIO_SLOTS;
		q[i].free_slot = calloc(q[i].nfree, sizeof(uint16_t));
		for (unsigned k = 0; k < q[i].nfree; k++)
			q[i].free_slot[k] = (uint16_t)(q[i].nfree - 1 - k);
	}
}

/* --- the driver side ---------------------------------------------------------- */

static void kick(struct queue *qu)
{
	uint64_t one = 1;

	if (write(qu->kick, &one, 8) != 8 && !g.aborted)
		perror("vhost-user-fs-mount: kick");
}

/* Puts a chain of head (read-only) and, if replen, a writable part on the ring. */
static void submit(struct queue *qu, unsigned slot, uint64_t req_gpa, uint32_t reqlen,
                   uint64_t rep_gpa, uint32_t replen)
{
	unsigned d = slot * 2;

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
	kick(qu);
}

/* FORGET and BATCH_FORGET: on the hiprio queue, no reply. */
static void send_forget(const void *req, uint32_t len)
{
	struct queue *h = &q[0];

	if (len > HIPRIO_BUF)
		return;
	pthread_mutex_lock(&h->lock);
	for (;;) {
		/* Reclaim what the back-end has consumed. */
		while (h->used_seen != __atomic_load_n(&h->used->idx, __ATOMIC_ACQUIRE)) {
			struct vring_used_elem e = h->used->ring[h->used_seen % g.qsize];

			h->free_slot[h->nfree++] = (uint16_t)(e.id / 2);
			h->used_seen++;
		}
		if (h->nfree || g.aborted)
			break;
		pthread_mutex_unlock(&h->lock);
		usleep(100);
		pthread_mutex_lock(&h->lock);
	}
	if (h->nfree) {
		unsigned slot = h->free_slot[--h->nfree];
		uint64_t gpa = h->bufs + (uint64_t)slot * HIPRIO_BUF;

		memcpy(g.mem + gpa, req, len);
		submit(h, slot, gpa, len, 0, 0);
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

/* Replies the back-end has finished: copy each to /dev/fuse, free its slot. */
static void complete(struct queue *qu)
{
	uint64_t v;

	(void)!read(qu->call, &v, 8);
	while (qu->used_seen != __atomic_load_n(&qu->used->idx, __ATOMIC_ACQUIRE)) {
		struct vring_used_elem e = qu->used->ring[qu->used_seen % g.qsize];
		unsigned slot = e.id / 2;
		uint8_t *req = g.mem + req_gpa(qu, slot);
		uint8_t *rep = req + REQ_BUF;
		struct fuse_in_header *ih = (void *)req;
		struct fuse_out_header *oh = (void *)rep;

		qu->used_seen++;
		if (e.id % 2 || slot >= g.slots) {
			fprintf(stderr, "vhost-user-fs-mount: back-end returned descriptor %u\n",
			        e.id);
			continue;
		}
		if (e.len < sizeof(*oh) || oh->len != e.len || oh->unique != ih->unique) {
			reply_error(qu->devfd, ih->unique, EIO);
		} else {
			if (ih->opcode == FUSE_INIT && !oh->error &&
			    e.len >= sizeof(*oh) + offsetof(struct fuse_init_out, max_write) + 4) {
				struct fuse_init_out *io = (void *)(oh + 1);

				/* Requests must fit our buffers. */
				if (io->max_write > (1u << 20))
					io->max_write = 1u << 20;
				if (e.len >= sizeof(*oh) +
				                 offsetof(struct fuse_init_out, max_pages) + 2 &&
				    io->max_pages > 256)
					io->max_pages = 256;
			}
			if (write(qu->devfd, rep, e.len) < 0 && errno != ENOENT)
				fprintf(
				    stderr,
				    "vhost-user-fs-mount: reply to opcode %u (%u bytes, error %d) "
				    "refused by the kernel: %s (in %u, read size %u)\n",
				    ih->opcode, e.len, oh->error, strerror(errno), ih->len,
				    ih->opcode == FUSE_READ
				        ? ((struct fuse_read_in *)(ih + 1))->size
				        : 0);
		}
		qu->free_slot[qu->nfree++] = (uint16_t)slot;
	}
}

/*
 * Room for the reply, as the guest's virtio-fs driver gives it: exactly the
 * requested size for data replies (back-ends fill what they are given: QEMU's
 * virtiofsd answers a 4 KiB READ with a buffer's worth), a page otherwise.
 */
static uint32_t reply_room(const struct fuse_in_header *ih, size_t n)
{
	const uint32_t hdr = sizeof(struct fuse_out_header);
	uint32_t size;

	switch (ih->opcode) {
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		if (n < sizeof(*ih) + sizeof(struct fuse_read_in))
			return hdr;
		size = ((const struct fuse_read_in *)(ih + 1))->size;
		break;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		if (n < sizeof(*ih) + sizeof(struct fuse_getxattr_in))
			return hdr;
		size = ((const struct fuse_getxattr_in *)(ih + 1))->size;
		if (size < sizeof(struct fuse_getxattr_out))
			size = sizeof(struct fuse_getxattr_out);
		break;
	default:
		size = 4096; /* every fixed reply and a READLINK target */
	}
	return hdr + (size < REP_BUF - hdr ? size : REP_BUF - hdr);
}

/* One request from /dev/fuse into a free slot, then to the back-end. */
static int take_request(struct queue *qu)
{
	unsigned slot = qu->free_slot[qu->nfree - 1];
	uint64_t gpa = req_gpa(qu, slot);
	struct fuse_in_header *ih = (void *)(g.mem + gpa);
	ssize_t n = read(qu->devfd, ih, REQ_BUF);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR || errno == ENOENT ? 0 : -errno;
	if ((size_t)n < sizeof(*ih))
		return 0;
	switch (ih->opcode) {
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
		send_forget(ih, (uint32_t)n);
		return 0;
	case FUSE_INTERRUPT:
		return 0; /* virtio-fs has no interrupts; the request finishes anyway */
	}
	qu->nfree--;
	submit(qu, slot, gpa, (uint32_t)n, gpa + REQ_BUF, reply_room(ih, (size_t)n));
	return 0;
}

static void *queue_thread(void *arg)
{
	struct queue *qu = arg;

	for (;;) {
		struct pollfd p[2] = {{.fd = qu->devfd, .events = qu->nfree ? POLLIN : 0},
		                      {.fd = qu->call, .events = POLLIN}};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents & POLLIN)
			complete(qu);
		if (p[0].revents & (POLLERR | POLLHUP))
			break; /* unmounted or aborted */
		if (p[0].revents & POLLIN && take_request(qu) == -ENODEV)
			break;
	}
	exit(g.aborted ? 1 : 0);
}

/* --- mount and supervision ---------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: vhost-user-fs-mount [--queues N] [--queue-size N] [-o OPTIONS] SOCKET "
	           "MOUNTPOINT\n"
	           "Mounts a vhost-user-fs back-end (vfsd, virtiofsd) at MOUNTPOINT; stays in the\n"
	           "foreground until it is unmounted.  See vhost-user-fs-mount(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"queues", required_argument, NULL, 'q'},
	                                     {"queue-size", required_argument, NULL, 's'},
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
	signal(SIGPIPE, SIG_IGN);

	strcpy(sa.sun_path, argv[optind]);
	g.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (g.sock < 0 || connect(g.sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(argv[optind]);
	vu_setup();

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
	/* The main thread watches the back-end: if it goes, abort rather than hang. */
	for (;;) {
		struct pollfd p = {.fd = g.sock, .events = POLLIN};
		char b;

		if (poll(&p, 1, -1) < 0 && errno == EINTR)
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
