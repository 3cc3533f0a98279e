/* SPDX-License-Identifier: MIT */
/*
 * A raw vhost-user front-end and virtio-fs guest driver for tests: the
 * program is the VMM (vhost-user messages on vfsd's socket, guest memory a
 * memfd shared with vfsd) and the guest's FUSE driver at once (rings and
 * buffers laid out by hand in that memory, FUSE requests through real
 * virtqueues).  Header-only; used by tests/unit/test_vfsd_frontend.c and
 * tests/security/vfsd_guest_attack.c.  The including program sets share,
 * sock_path and log_path, and maps guest memory with fe_guest_mem_init().
 */
#ifndef MV_TESTS_VFSD_FRONTEND_H
#define MV_TESTS_VFSD_FRONTEND_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fdutil.h"
#include "tests/unit/tap.h"
#include "vfsd/vhost_user.h"
#include "vfsd/virtqueue.h"

/* tap.h's CHECK() evaluates its condition twice; evaluate once here. */
#define T(cond, ...)                                                                               \
	do {                                                                                       \
		bool t_ok_ = (cond);                                                               \
		CHECK(t_ok_, __VA_ARGS__);                                                         \
	} while (0)

/* The sanitizers' runtime makes syscalls outside vfsd's allowlist. */
#ifdef __SANITIZE_ADDRESS__
#define SECCOMP_MODE "log"
#else
#define SECCOMP_MODE "kill"
#endif

#define MEMSZ    (16u << 20)
#define IN_BUF   0x100000
#define DATA_BUF 0x200000
#define OUT_BUF  0x400000
#define OUT_MAX  (2u << 20)
/* A program may ask for larger rings (at most 256: 4 KiB of descriptors). */
#ifndef QNUM
#define QNUM 64
#endif

static char share[256], sock_path[300], log_path[300];
static pid_t vfsd_pid;
static int memfd = -1;
static uint8_t *g;
static int sock = -1;
static uint64_t unique = 1;
static uint32_t req_uid, req_gid; /* the guest caller's ids in each request */

struct drv_queue {
	int kick, call;
	uint16_t avail_idx, used_seen;
};
static struct drv_queue dq[2];

static inline uint64_t ring_base(unsigned q)
{
	return 0x10000ull * (q + 1);
}

/* --- vhost-user front-end ----------------------------------------------- */

static inline int vu_send(uint32_t req, uint32_t flags, const void *payload, uint32_t size,
                          const int *fds, size_t nfds)
{
	uint8_t buf[sizeof(struct vfsd_vu_hdr) + 1024];
	struct vfsd_vu_hdr h = {.request = req, .flags = VHOST_USER_VERSION | flags, .size = size};

	memcpy(buf, &h, sizeof(h));
	if (size && payload)
		memcpy(buf + sizeof(h), payload, size);
	return fd_send_with_fds(sock, buf, sizeof(h) + (size <= 1024 ? size : 0), fds, nfds) < 0
	           ? -1
	           : 0;
}

/* Wait for a reply; returns payload size, -1 on EOF/timeout. */
static inline int vu_recv(uint32_t req, void *payload, size_t cap)
{
	struct vfsd_vu_hdr h;
	struct pollfd p = {.fd = sock, .events = POLLIN};
	uint8_t buf[1024];

	if (poll(&p, 1, 5000) <= 0)
		return -1;
	if (recv(sock, &h, sizeof(h), MSG_WAITALL) != sizeof(h))
		return -1;
	if (h.size > sizeof(buf) || (h.size && recv(sock, buf, h.size, MSG_WAITALL) != h.size))
		return -1;
	if (h.request != req || !(h.flags & VHOST_USER_FLAG_REPLY))
		return -1;
	memcpy(payload, buf, h.size < cap ? h.size : cap);
	return (int)h.size;
}

static inline int vu_get_u64(uint32_t req, uint64_t *v)
{
	if (vu_send(req, 0, NULL, 0, NULL, 0) < 0)
		return -1;
	return vu_recv(req, v, sizeof(*v)) == 8 ? 0 : -1;
}

/* Send with NEED_REPLY and return the ack (0 ok, 1 refused, -1 no answer). */
static inline int vu_acked(uint32_t req, const void *payload, uint32_t size, const int *fds,
                           size_t nfds)
{
	uint64_t ack = 99;

	if (vu_send(req, VHOST_USER_FLAG_NEED_REPLY, payload, size, fds, nfds) < 0)
		return -1;
	if (vu_recv(req, &ack, sizeof(ack)) != 8)
		return -1;
	return ack == 0 ? 0 : 1;
}

/* Is the connection closed by vfsd? (read returns 0 within a second) */
static inline bool vu_closed(void)
{
	struct pollfd p = {.fd = sock, .events = POLLIN};
	char c;

	if (poll(&p, 1, 3000) <= 0)
		return false;
	return recv(sock, &c, 1, MSG_DONTWAIT) == 0;
}

static inline int vu_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (sock >= 0)
		close(sock);
	strcpy(sa.sun_path, sock_path);
	for (int i = 0; i < 100; i++) {
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(sock, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		close(sock);
		sock = -1;
		usleep(50000);
	}
	return -1;
}

/* Full start-up as QEMU does it; returns 0 when every step was acked. */
static inline int vu_setup(void)
{
	uint64_t f, pf, v;
	int bad = 0;

	memset(g, 0, 0x100000);
	memset(dq, 0, sizeof(dq));
	if (vu_get_u64(VHOST_USER_GET_FEATURES, &f) < 0)
		return -1;
	if (vu_send(VHOST_USER_SET_OWNER, 0, NULL, 0, NULL, 0) < 0)
		return -1;
	f &= vfsd_vu_features();
	vu_send(VHOST_USER_SET_FEATURES, 0, &f, 8, NULL, 0);
	if (vu_get_u64(VHOST_USER_GET_PROTOCOL_FEATURES, &pf) < 0)
		return -1;
	pf = 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK | 1ull << VHOST_USER_PROTOCOL_F_MQ |
	     1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS;
	vu_send(VHOST_USER_SET_PROTOCOL_FEATURES, 0, &pf, 8, NULL, 0);
	if (vu_get_u64(VHOST_USER_GET_QUEUE_NUM, &v) < 0 || v < 2)
		return -1;
	if (vu_get_u64(VHOST_USER_GET_MAX_MEM_SLOTS, &v) < 0 || v < 1)
		return -1;
	struct vfsd_vu_mem_reg reg = {.region = {.gpa = 0, .size = MEMSZ, .uva = (uintptr_t)g}};
	bad |= vu_acked(VHOST_USER_ADD_MEM_REG, &reg, sizeof(reg), &memfd, 1) != 0;
	for (unsigned q = 0; q < 2; q++) {
		uint64_t base = ring_base(q);
		struct vfsd_vu_vring_addr a = {.index = q,
		                               .desc = (uintptr_t)g + base,
		                               .avail = (uintptr_t)g + base + 0x1000,
		                               .used = (uintptr_t)g + base + 0x2000};
		struct vfsd_vu_vring_state s = {q, QNUM};
		uint64_t u = q;

		bad |= vu_acked(VHOST_USER_SET_VRING_NUM, &s, sizeof(s), NULL, 0) != 0;
		s.num = 0;
		bad |= vu_acked(VHOST_USER_SET_VRING_BASE, &s, sizeof(s), NULL, 0) != 0;
		bad |= vu_acked(VHOST_USER_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) != 0;
		dq[q].call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		dq[q].kick = eventfd(0, EFD_CLOEXEC);
		bad |= vu_acked(VHOST_USER_SET_VRING_CALL, &u, 8, &dq[q].call, 1) != 0;
		bad |= vu_acked(VHOST_USER_SET_VRING_KICK, &u, 8, &dq[q].kick, 1) != 0;
		s.num = 1;
		bad |= vu_acked(VHOST_USER_SET_VRING_ENABLE, &s, sizeof(s), NULL, 0) != 0;
	}
	return bad ? -1 : 0;
}

static inline void vu_teardown(void)
{
	for (unsigned q = 0; q < 2; q++) {
		if (dq[q].kick > 0)
			close(dq[q].kick);
		if (dq[q].call > 0)
			close(dq[q].call);
		dq[q].kick = dq[q].call = -1;
	}
	if (sock >= 0)
		close(sock);
	sock = -1;
}

/* --- guest driver --------------------------------------------------------- */

static inline struct vfsd_vring_desc *drv_desc(unsigned q)
{
	return (struct vfsd_vring_desc *)(g + ring_base(q));
}

static inline uint16_t *drv_avail(unsigned q)
{
	return (uint16_t *)(g + ring_base(q) + 0x1000);
}

static inline uint16_t *drv_used(unsigned q)
{
	return (uint16_t *)(g + ring_base(q) + 0x2000);
}

/* Make chain head 0 available on queue q and wait for it to come back. */
static inline int drv_submit(unsigned q, uint32_t *used_len)
{
	struct drv_queue *d = &dq[q];
	uint16_t *avail = drv_avail(q), *used = drv_used(q);
	uint64_t one = 1, v;
	struct timespec start, now;

	avail[2 + QNUM] = d->used_seen; /* used_event: interrupt on the next completion */
	avail[2 + d->avail_idx % QNUM] = 0;
	__atomic_store_n(&avail[1], ++d->avail_idx, __ATOMIC_RELEASE);
	if (write(d->kick, &one, 8) != 8)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = {.fd = d->call, .events = POLLIN};

		if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != d->used_seen)
			break;
		poll(&p, 1, 100);
		(void)!read(d->call, &v, 8);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 3)
			return -ETIMEDOUT;
	}
	struct vfsd_vring_used_elem *ue = (void *)(used + 2);
	*used_len = ue[d->used_seen % QNUM].len;
	d->used_seen++;
	return 0;
}

struct reply {
	int error; /* 0, -errno, or 1000+ for transport failures */
	uint32_t len;
	uint8_t *data;
};

/*
 * One FUSE request: header + arg in one readable buffer, optional data in a
 * second, and an out buffer of outcap bytes (0: no writable part).
 */
static inline struct reply fuse_call(unsigned q, uint32_t opcode, uint64_t nodeid, const void *arg,
                                     size_t arglen, const void *data, size_t datalen, size_t outcap)
{
	struct fuse_in_header *ih = (void *)(g + IN_BUF);
	struct vfsd_vring_desc *d = drv_desc(q);
	struct reply r = {.error = 1000};
	unsigned n = 0;
	uint32_t used;

	uint64_t u = unique++;

	*ih = (struct fuse_in_header){.len = (uint32_t)(sizeof(*ih) + arglen + datalen),
	                              .opcode = opcode,
	                              .unique = u,
	                              .nodeid = nodeid,
	                              .uid = req_uid,
	                              .gid = req_gid};
	if (arglen)
		memcpy(ih + 1, arg, arglen);
	d[n] = (struct vfsd_vring_desc){IN_BUF, (uint32_t)(sizeof(*ih) + arglen), 0, 0};
	if (datalen) {
		memcpy(g + DATA_BUF, data, datalen);
		d[n].flags |= VFSD_VRING_DESC_F_NEXT;
		d[n].next = (uint16_t)(n + 1);
		n++;
		d[n] = (struct vfsd_vring_desc){DATA_BUF, (uint32_t)datalen, 0, 0};
	}
	if (outcap) {
		memset(g + OUT_BUF, 0xee, 64);
		d[n].flags |= VFSD_VRING_DESC_F_NEXT;
		d[n].next = (uint16_t)(n + 1);
		n++;
		d[n] =
		    (struct vfsd_vring_desc){OUT_BUF, (uint32_t)outcap, VFSD_VRING_DESC_F_WRITE, 0};
	}
	if (drv_submit(q, &used) < 0)
		return r;
	r.len = used;
	if (!outcap) {
		r.error = 0;
		return r;
	}
	struct fuse_out_header *oh = (void *)(g + OUT_BUF);
	if (used < sizeof(*oh) || oh->unique != ih->unique || oh->len != used) {
		r.error = 1001;
		return r;
	}
	r.error = oh->error;
	r.data = (uint8_t *)(oh + 1);
	r.len = used - (uint32_t)sizeof(*oh);
	return r;
}

#define CALL(op, node, arg, len) fuse_call(1, op, node, arg, len, NULL, 0, OUT_MAX)

static inline struct reply fuse_init(void)
{
	struct fuse_init_in in = {.major = 7,
	                          .minor = 38,
	                          .max_readahead = 65536,
	                          .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_INIT_EXT |
	                                   FUSE_MAX_PAGES | FUSE_SUBMOUNTS |
	                                   FUSE_HANDLE_KILLPRIV_V2};

	return CALL(FUSE_INIT, 0, &in, sizeof(in));
}

/* name -> nodeid via LOOKUP (0 on error, *err set). */
static inline uint64_t lookup(uint64_t dir, const char *name, int *err)
{
	struct reply r = CALL(FUSE_LOOKUP, dir, name, strlen(name) + 1);

	*err = r.error;
	if (r.error)
		return 0;
	return ((struct fuse_entry_out *)r.data)->nodeid;
}

static inline int open_node(uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = flags};
	struct reply r = CALL(FUSE_OPEN, node, &in, sizeof(in));

	if (!r.error)
		*fh = ((struct fuse_open_out *)r.data)->fh;
	return r.error;
}

/* --- vfsd process ------------------------------------------------------- */

/*
 * Start vfsd on share/sock_path with --log-level=debug, stderr to log_path,
 * plus the NULL-terminated options in args (at most 16), and connect.
 */
static inline int start_vfsd_args(const char *const *args)
{
	char *vfsd;
	const char *build = getenv("MV_BUILD");

	if (asprintf(&vfsd, "%s/vfsd", build ? build : "build") < 0)
		return -1;
	unlink(sock_path);
	vfsd_pid = fork();
	if (vfsd_pid == 0) {
		int lfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		char a1[400], a2[400];
		const char *argv[24] = {vfsd, a1, a2, "--log-level=debug"};
		unsigned n = 4;

		dup2(lfd, 2);
		snprintf(a1, sizeof(a1), "--socket-path=%s", sock_path);
		snprintf(a2, sizeof(a2), "--shared-dir=%s", share);
		for (unsigned i = 0; args && args[i] && n < 20; i++)
			argv[n++] = args[i];
		execv(vfsd, (char *const *)argv);
		_exit(127);
	}
	free(vfsd);
	return vu_connect();
}

static inline int start_vfsd2(const char *sandbox, const char *seccomp, const char *extra,
                              const char *extra2)
{
	char a3[64], a4[64];
	const char *args[] = {a3, a4, "--xattr", extra, extra2, NULL};

	snprintf(a3, sizeof(a3), "--sandbox=%s", sandbox);
	snprintf(a4, sizeof(a4), "--seccomp=%s", seccomp);
	return start_vfsd_args(args);
}

static inline int start_vfsd(const char *sandbox, const char *seccomp, const char *extra)
{
	return start_vfsd2(sandbox, seccomp, extra, NULL);
}

static inline void stop_vfsd(void)
{
	int st;

	vu_teardown();
	if (vfsd_pid > 0) {
		kill(vfsd_pid, SIGTERM);
		waitpid(vfsd_pid, &st, 0);
	}
	vfsd_pid = 0;
}

static inline bool vfsd_alive(void)
{
	return vfsd_pid > 0 && waitpid(vfsd_pid, NULL, WNOHANG) == 0;
}

/* The server process: with --sandbox=namespace, vfsd_pid's child. */
static inline int vfsd_server_pid(void)
{
	char path[64], buf[64];
	FILE *f;
	int pid = vfsd_pid;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f) && atoi(buf) > 0)
			pid = atoi(buf);
		fclose(f);
	}
	return pid;
}

/* Entries of /proc/SERVER/DIR ("fd", "task"), "." and ".." counted when all. */
static inline int vfsd_proc_entries(const char *dir, bool all)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", vfsd_server_pid(), dir);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += all || de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Number of fds vfsd (or its sandboxed child) holds (plus "." and ".."). */
static inline int vfsd_fds(void)
{
	return vfsd_proc_entries("fd", true);
}

/* Number of threads of vfsd (or its sandboxed child). */
static inline int vfsd_threads(void)
{
	return vfsd_proc_entries("task", false);
}

/*
 * Guest RAM: a memfd of MEMSZ bytes mapped at g, made as QEMU's
 * memory-backend-memfd makes it (sealing allowed).  Return 0 or -1.
 */
static inline int fe_guest_mem_init(void)
{
	memfd = memfd_create("guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0 || ftruncate(memfd, MEMSZ) < 0)
		return -1;
	g = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	return g == MAP_FAILED ? -1 : 0;
}

#endif
