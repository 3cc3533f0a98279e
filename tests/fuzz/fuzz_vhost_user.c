// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a vhost-user message stream into vfsd_vu_serve().
 *
 * Each input is one front-end connection over a socketpair, served in a
 * thread of this process by the real back-end with the real virtio-fs device
 * (fs_device.c) on the fuzz share, exactly as vfsd's main() wires them.  The
 * harness plays the front-end: it sends the messages the input describes,
 * with fds made on the spot where the record asks for them (memfds for
 * SET_MEM_TABLE/ADD_MEM_REG, eventfds for kick/call/err, and wrong kinds of
 * fd too), and reads whatever comes back.  Pseudo-records fill guest memory
 * (so rings and FUSE requests can be laid out in it) and kick eventfds, so
 * queue threads really pop chains and run FUSE requests.
 *
 * After each input: the canary marker (fixture.h) must not be in any guest
 * memory the harness handed out, and nothing outside the share changed.
 *
 * Input format (tests/fuzz/README.md, tests/fuzz/gen_corpus.py):
 *   byte 0        bits 0-1: --thread-pool-size for this connection (0-2)
 *   then records:
 *     u8 request  vhost-user request number, or a pseudo-record:
 *                 0xfe write guest memory: u8 memfd index, u32 offset,
 *                      u16 len, len bytes
 *                 0xff kick: u8 eventfd index (writes 1 to it)
 *                 0xfd settle: wait up to 3 ms for an eventfd the harness
 *                      did not kick to fire (a call from vfsd)
 *     u8 flags    the header's flags field
 *     u8 fds      bits 0-3 how many fds to attach (at most 10), bits 4-7
 *                 their kind (fd_kind())
 *     u16 size    the header's size field (little endian); that many
 *                 payload bytes follow, or what is left of the input
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/fuzz/fixture.h"
#include "vfsd/fs_device.h"
#include "vfsd/sandbox.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MEMFDS 16
#define MAX_EFDS   32
#define MAX_MSGS   256

static struct vfsd_fs fs;
static struct vfsd_vu_dev dev;

/* Everything the harness made for the current input. */
static struct {
	int fd;
	uint8_t *map;
	size_t size;
} memfds[MAX_MEMFDS];
static unsigned n_memfds;
static int efds[MAX_EFDS];
static unsigned n_efds;
static uint32_t kicked; /* efds[] the harness wrote to: not what settle() waits for */

struct server {
	int sock;
	int r;
};

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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct vfsd_fs_config cfg = {
	    .shared_dir = NULL,
	    .cache = VFSD_CACHE_AUTO,
	    .xattr = true,
	    .readdirplus = true,
	    .killpriv_v2 = true,
	    .file_handles = VFSD_FH_NEVER,
	    .max_fds = 64,
	};
	int root, proc, r;

	fuzz_fixture_init();
	log_setup("vfsd", getenv("VFSD_FUZZ_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	signal(SIGPIPE, SIG_IGN);
	cfg.shared_dir = fuzz_fx.share;
	root = open(fuzz_fx.share, O_PATH | O_DIRECTORY | O_CLOEXEC);
	proc = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0 || proc < 0)
		fuzz_die("cannot open the share or /proc/self/fd");
	r = vfsd_fs_init(&fs, &cfg, root, proc);
	if (r < 0)
		fuzz_die("vfsd_fs_init: %s", strerror(-r));
	r = vfsd_vu_init(&dev, VFSD_VU_MAX_QUEUES, &vfsd_fs_device_ops, &fs);
	if (r < 0)
		fuzz_die("vfsd_vu_init: %s", strerror(-r));
	r = vfsd_drop_caps(NULL, true);
	if (r < 0)
		fuzz_die("vfsd_drop_caps: %s", strerror(-r));
	return 0;
}

static void *serve(void *arg)
{
	struct server *s = arg;

	s->r = vfsd_vu_serve(&dev, s->sock);
	/* vfsd's main() would close the connection now: our sends fail, reads see EOF. */
	shutdown(s->sock, SHUT_RDWR);
	return NULL;
}

/* A memfd the harness keeps (to write guest memory and scan it) if there is room. */
static int new_memfd(size_t size, bool *own)
{
	int fd = memfd_create("guest-ram", MFD_CLOEXEC);

	if (fd < 0)
		fuzz_die("memfd_create: %s", strerror(errno));
	if (size && ftruncate(fd, (off_t)size) < 0)
		fuzz_die("ftruncate: %s", strerror(errno));
	if (n_memfds < MAX_MEMFDS) {
		memfds[n_memfds].fd = fd;
		memfds[n_memfds].size = size;
		memfds[n_memfds].map =
		    size ? mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : NULL;
		if (memfds[n_memfds].map == MAP_FAILED)
			fuzz_die("mmap: %s", strerror(errno));
		n_memfds++;
	} else {
		*own = true;
	}
	return fd;
}

static int new_eventfd(bool *own)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		fuzz_die("eventfd: %s", strerror(errno));
	if (n_efds < MAX_EFDS)
		efds[n_efds++] = fd;
	else
		*own = true;
	return fd;
}

/*
 * An fd of the given kind; *own is set when the harness must close it after
 * sending (the ones it keeps are closed at the end of the input).
 */
static int fd_kind(unsigned kind, bool *own)
{
	int p[2], fd;

	*own = true;
	switch (kind) {
	case 0:
	case 1:
	case 2:
	case 3:
		*own = false;
		return new_memfd(kind == 0   ? 65536
		                 : kind == 1 ? 262144
		                 : kind == 2 ? 4096
		                             : 0,
		                 own);
	case 4:
	case 5:
	case 6:
	case 7:
		*own = false;
		return new_eventfd(own);
	case 8:
		if (pipe2(p, O_CLOEXEC) < 0)
			fuzz_die("pipe: %s", strerror(errno));
		close(p[1]);
		return p[0];
	case 9:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case 10:
		fd = open(fuzz_fx.share, O_PATH | O_DIRECTORY | O_CLOEXEC);
		break;
	case 11:
		fd = open(fuzz_fx.share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		break;
	default:
		*own = false;
		return new_eventfd(own);
	}
	if (fd < 0)
		fuzz_die("fd kind %u: %s", kind, strerror(errno));
	return fd;
}

static void drain(int sock)
{
	uint8_t buf[4096];

	while (recv(sock, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Returns false once the back-end hung up. */
static bool send_msg(int sock, uint32_t request, uint32_t flags, uint32_t size, const void *payload,
                     size_t plen, unsigned nfds, unsigned kind)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 10)];
	} ctl;
	struct vfsd_vu_hdr hdr = {.request = request, .flags = flags, .size = size};
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)payload, plen}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = plen ? 2 : 1};
	int fds[10];
	bool own[10] = {false};
	ssize_t n;

	if (nfds > 10)
		nfds = 10;
	for (unsigned i = 0; i < nfds; i++)
		fds[i] = fd_kind(kind, &own[i]);
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		ctl.h.cmsg_level = SOL_SOCKET;
		ctl.h.cmsg_type = SCM_RIGHTS;
		ctl.h.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(&ctl.h), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	for (unsigned i = 0; i < nfds; i++)
		if (own[i])
			close(fds[i]);
	/* A partial send: the rest follows (the back-end may be reading it). */
	if (n >= 0 && (size_t)n < sizeof(hdr) + plen) {
		size_t done = (size_t)n;
		const uint8_t *rest;

		while (done < sizeof(hdr) + plen) {
			size_t off;

			if (done < sizeof(hdr)) {
				rest = (const uint8_t *)&hdr + done;
				off = sizeof(hdr) - done;
			} else {
				rest = (const uint8_t *)payload + (done - sizeof(hdr));
				off = sizeof(hdr) + plen - done;
			}
			n = send(sock, rest, off, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			done += (size_t)n;
		}
	}
	drain(sock);
	return n >= 0;
}

/* Gives the queue threads time: until vfsd signals an eventfd, at most 3 ms. */
static void settle(void)
{
	struct pollfd p[MAX_EFDS];
	nfds_t n = 0;

	for (unsigned i = 0; i < n_efds; i++)
		if (!(kicked & (1u << i)))
			p[n++] = (struct pollfd){.fd = efds[i], .events = POLLIN};
	if (n)
		(void)poll(p, n, 3);
	else
		usleep(1000);
}

static void cleanup_input(void)
{
	for (unsigned i = 0; i < n_memfds; i++) {
		if (memfds[i].map) {
			long at = fuzz_canary_scan(memfds[i].map, memfds[i].size);

			if (at >= 0)
				fuzz_die(
				    "guest memory %u carries the canary marker at byte %ld: data "
				    "from outside the share leaked",
				    i, at);
			munmap(memfds[i].map, memfds[i].size);
		}
		close(memfds[i].fd);
	}
	n_memfds = 0;
	for (unsigned i = 0; i < n_efds; i++)
		close(efds[i]);
	n_efds = 0;
	kicked = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t payload[UINT16_MAX + 1];
	struct src s = {data, size};
	struct server srv = {.sock = -1};
	pthread_t th;
	uint8_t cfg = 0;
	bool dirty = false, up = true;
	int sv[2];

	take(&s, &cfg, 1);
	dev.pool_size = cfg & 3;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fuzz_die("socketpair: %s", strerror(errno));
	srv.sock = sv[1];
	if (pthread_create(&th, NULL, serve, &srv))
		fuzz_die("pthread_create");

	for (unsigned n = 0; n < MAX_MSGS && s.left && up; n++) {
		uint8_t req = 0, flags = 0, fdspec = 0, idx = 0;
		uint16_t len = 0;
		uint32_t off = 0;

		take(&s, &req, 1);
		if (req == 0xfe) {
			take(&s, &idx, 1);
			take(&s, &off, sizeof(off));
			take(&s, &len, sizeof(len));
			len = (uint16_t)take(&s, payload, len);
			if (n_memfds && memfds[idx % n_memfds].map) {
				size_t msize = memfds[idx % n_memfds].size;

				off %= (uint32_t)msize;
				if (len > msize - off)
					len = (uint16_t)(msize - off);
				memcpy(memfds[idx % n_memfds].map + off, payload, len);
				dirty = true;
			}
			continue;
		}
		if (req == 0xff) {
			take(&s, &idx, 1);
			if (n_efds) {
				(void)!eventfd_write(efds[idx % n_efds], 1);
				kicked |= 1u << (idx % n_efds);
			}
			continue;
		}
		if (req == 0xfd) {
			settle();
			continue;
		}
		take(&s, &flags, 1);
		take(&s, &fdspec, 1);
		take(&s, &len, sizeof(len));
		unsigned plen = take(&s, payload, len);
		up = send_msg(sv[0], req, flags, len, payload, plen, fdspec & 15, fdspec >> 4);
	}
	/* Hang up and let the back-end tear everything down. */
	shutdown(sv[0], SHUT_WR);
	for (;;) {
		uint8_t buf[4096];
		ssize_t n = recv(sv[0], buf, sizeof(buf), 0);

		if (n == 0 || (n < 0 && errno != EINTR))
			break;
	}
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	cleanup_input();
	fuzz_fixture_check_outside();
	fuzz_fixture_check_fds();
	if (dirty)
		fuzz_fixture_rebuild();
	return 0;
}
