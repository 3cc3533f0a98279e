// SPDX-License-Identifier: MIT
/* LXC's seccomp notify proxy protocol (lxc_proxy.h). */
#include "notifyd/lxc_proxy.h"
#include "notifyd/inflight.h"
#include "notifyd/oci_listener.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct lxc_proxy_hdr) == 32, "LXC's header is 32 bytes on LP64");

#define LXC_FDS     3 /* /proc/<pid>, /proc/<pid>/mem, notify fd */
#define LXC_MAX_FDS 8 /* accepted and closed, so a sender cannot leak more into us */
#define LXC_MSG_MAX (sizeof(struct lxc_proxy_hdr) + 2 * LXC_PART_MAX + LXC_COOKIE_MAX)

static pthread_once_t sizes_once = PTHREAD_ONCE_INIT;
static struct seccomp_notif_sizes sizes;

static void get_sizes(void)
{
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
		sizes = (struct seccomp_notif_sizes){sizeof(struct seccomp_notif),
		                                     sizeof(struct seccomp_notif_resp),
		                                     sizeof(struct seccomp_data)};
}

/* The kernel's own sizes: LXC sends its kernel's, which must be ours. */
static struct seccomp_notif_sizes kernel_sizes(void)
{
	pthread_once(&sizes_once, get_sizes);
	return sizes;
}

/* A received message: the bytes and the fds that came with it. */
struct lxc_msg {
	uint8_t buf[LXC_MSG_MAX];
	size_t len;
	int msg_flags;
	int fds[LXC_MAX_FDS];
	unsigned nfds;
	struct timespec sent; /* SCM_TIMESTAMPNS; 0 if none came */
};

static void msg_close_fds(struct lxc_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++)
		safe_close(m->fds[i]);
	m->nfds = 0;
}

static int msg_recv(int sock, struct lxc_msg *m, int flags)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * LXC_MAX_FDS) +
		         CMSG_SPACE(sizeof(struct timespec))];
	} ctl;
	struct iovec iov = {.iov_base = m->buf, .iov_len = sizeof(m->buf)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (!(flags & MSG_PEEK)) {
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
	}
	n = recvmsg(sock, &mh, flags | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if (n == 0)
		return -EPIPE;
	m->len = (size_t)n;
	m->msg_flags = mh.msg_flags;
	m->nfds = 0;
	m->sent = (struct timespec){0};
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(m->sent))) {
			memcpy(&m->sent, CMSG_DATA(c), sizeof(m->sent));
			continue;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (size_t i = 0; i < k && m->nfds < LXC_MAX_FDS; i++)
			memcpy(&m->fds[m->nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return 1;
}

/*
 * Is this a message LXC 5.0.2 would send?  With_fds: also check the three
 * fds (a peek does not take them).
 */
static int msg_check(const struct lxc_msg *m, bool with_fds, char *err, size_t errlen)
{
	struct seccomp_notif_sizes k = kernel_sizes();
	struct lxc_proxy_hdr h;

	if (m->msg_flags & MSG_TRUNC || m->len < sizeof(h)) {
		snprintf(err, errlen, "message of %zu bytes%s", m->len,
		         m->msg_flags & MSG_TRUNC ? ", truncated" : "");
		return -EINVAL;
	}
	memcpy(&h, m->buf, sizeof(h));
	if (h.reserved) {
		snprintf(err, errlen, "reserved field is 0x%llx, not 0",
		         (unsigned long long)h.reserved);
		return -EINVAL;
	}
	if (h.sizes.seccomp_notif != k.seccomp_notif ||
	    h.sizes.seccomp_notif_resp != k.seccomp_notif_resp ||
	    h.sizes.seccomp_data != k.seccomp_data) {
		snprintf(err, errlen, "struct sizes %u/%u/%u, the kernel's are %u/%u/%u",
		         h.sizes.seccomp_notif, h.sizes.seccomp_notif_resp, h.sizes.seccomp_data,
		         k.seccomp_notif, k.seccomp_notif_resp, k.seccomp_data);
		return -EINVAL;
	}
	if (h.cookie_len > LXC_COOKIE_MAX) {
		snprintf(err, errlen, "cookie of %llu bytes", (unsigned long long)h.cookie_len);
		return -EINVAL;
	}
	if (m->len != sizeof(h) + k.seccomp_notif + k.seccomp_notif_resp + h.cookie_len) {
		snprintf(err, errlen, "message of %zu bytes, its header says %zu", m->len,
		         sizeof(h) + k.seccomp_notif + k.seccomp_notif_resp + (size_t)h.cookie_len);
		return -EINVAL;
	}
	if (h.monitor_pid <= 0 || h.init_pid <= 0) {
		snprintf(err, errlen, "monitor pid %d, init pid %d", h.monitor_pid, h.init_pid);
		return -EINVAL;
	}
	if (with_fds && (m->nfds != LXC_FDS || m->msg_flags & MSG_CTRUNC)) {
		snprintf(err, errlen, "%u fds attached, LXC sends %d (/proc/<pid>, mem, notify fd)",
		         m->nfds, LXC_FDS);
		return -EINVAL;
	}
	return 0;
}

/* The reply for m, from as much of it as makes sense. */
static void reply_init(struct lxc_reply *r, int sock, const struct lxc_msg *m)
{
	struct seccomp_notif_sizes k = kernel_sizes();
	struct seccomp_notif n = {0};

	memset(r, 0, sizeof(*r));
	r->sock = sock;
	if (m->len >= sizeof(r->hdr))
		memcpy(&r->hdr, m->buf, sizeof(r->hdr));
	r->hdr.reserved = 0;
	/* Sized as the sender counts, when its sizes are sane: LXC wants exactly that back. */
	r->notif_len = r->hdr.sizes.seccomp_notif && r->hdr.sizes.seccomp_notif <= LXC_PART_MAX
	                   ? r->hdr.sizes.seccomp_notif
	                   : k.seccomp_notif;
	r->resp_len =
	    r->hdr.sizes.seccomp_notif_resp && r->hdr.sizes.seccomp_notif_resp <= LXC_PART_MAX
	        ? r->hdr.sizes.seccomp_notif_resp
	        : k.seccomp_notif_resp;
	if (m->len > sizeof(r->hdr)) {
		size_t have = m->len - sizeof(r->hdr);

		memcpy(r->notif, m->buf + sizeof(r->hdr),
		       have < r->notif_len ? have : r->notif_len);
	}
	memcpy(&n, r->notif, sizeof(n) < r->notif_len ? sizeof(n) : r->notif_len);
	r->id = n.id;
	/* LXC starts waiting once its send returned: at the stamp or later. */
	if (m->sent.tv_sec > 0) {
		int64_t ms = (LXC_PROXY_TIMEOUT_S * 1000 - LXC_REPLY_MARGIN_MS);

		r->deadline.tv_sec = m->sent.tv_sec + ms / 1000;
		r->deadline.tv_nsec = m->sent.tv_nsec + (ms % 1000) * 1000000;
		if (r->deadline.tv_nsec >= 1000000000) {
			r->deadline.tv_sec++;
			r->deadline.tv_nsec -= 1000000000;
		}
	}
}

int lxc_reply_ms_left(const struct lxc_reply *r)
{
	struct timespec now;
	int64_t ms;

	if (r->deadline.tv_sec == 0)
		return INT_MAX;
	clock_gettime(CLOCK_REALTIME, &now);
	ms = (int64_t)(r->deadline.tv_sec - now.tv_sec) * 1000 +
	     (r->deadline.tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return 0;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

int lxc_proxy_conn_init(int sock)
{
	int one = 1;

	if (setsockopt(sock, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int lxc_reply_send(const struct lxc_reply *r, int64_t val, int32_t error, uint32_t flags)
{
	struct seccomp_notif_resp resp = {.id = r->id, .val = val, .error = error, .flags = flags};
	uint8_t rbuf[LXC_PART_MAX] = {0};
	struct iovec iov[3] = {
	    {.iov_base = (void *)&r->hdr, .iov_len = sizeof(r->hdr)},
	    {.iov_base = (void *)r->notif, .iov_len = r->notif_len},
	    {.iov_base = rbuf, .iov_len = r->resp_len},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 3};

	memcpy(rbuf, &resp, sizeof(resp) < r->resp_len ? sizeof(resp) : r->resp_len);
	/* Too late, it would answer LXC's next request instead (lxc_proxy.h). */
	if (lxc_reply_ms_left(r) == 0)
		return -ETIMEDOUT;
	/* LXC waits for exactly one answer per request: never block the worker on it. */
	if (sendmsg(r->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return -errno;
	return 0;
}

/* Answer a message that cannot be handled: the caller gets ENOSYS, as from LXC itself. */
static void reply_bad(int sock, const struct lxc_msg *m)
{
	struct lxc_reply r;

	reply_init(&r, sock, m);
	if (lxc_reply_send(&r, 0, -ENOSYS, 0) < 0)
		log_debug("LXC proxy: error reply not sent: %m");
}

int lxc_proxy_hello(int sock, pid_t peer_pid, struct lxc_hello *ret, char *err, size_t errlen)
{
	static struct lxc_msg m; /* main loop only */
	struct lxc_proxy_hdr h;
	char name[sizeof(ret->id)];
	int r = msg_recv(sock, &m, MSG_PEEK);

	if (r <= 0)
		return r;
	r = msg_check(&m, false, err, errlen);
	if (r >= 0) {
		memcpy(&h, m.buf, sizeof(h));
		if (peer_pid > 0 && h.monitor_pid != peer_pid) {
			snprintf(err, errlen, "monitor pid %d, but pid %d is connected",
			         h.monitor_pid, (int)peer_pid);
			r = -EINVAL;
		}
	}
	if (r >= 0 &&
	    lxc_cookie_parse((const char *)m.buf + m.len - h.cookie_len, h.cookie_len, ret->profile,
	                     sizeof(ret->profile), name, sizeof(name)) < 0) {
		snprintf(err, errlen, "cookie is not \"profile=NAME [name=ID]\"");
		r = -EINVAL;
	}
	if (r < 0) {
		/* Take the bad message (and its fds) off the socket, answer it at once. */
		if (msg_recv(sock, &m, 0) > 0) {
			msg_close_fds(&m);
			reply_bad(sock, &m);
		}
		return -EINVAL;
	}
	ret->monitor_pid = h.monitor_pid;
	ret->init_pid = h.init_pid;
	if (name[0])
		snprintf(ret->id, sizeof(ret->id), "%s", name);
	else
		snprintf(ret->id, sizeof(ret->id), "lxc-%d", h.init_pid);
	return 1;
}

int lxc_proxy_serve(struct container *c, struct inflight_slot *slot, lxc_proxy_handler *handle)
{
	_cleanup_free_ struct lxc_msg *m = calloc(1, sizeof(*m));
	_cleanup_free_ struct lxc_reply *local = NULL;
	struct lxc_reply *rep;
	struct seccomp_notif local_n, *n;
	char err[256];
	int r;

	if (!slot)
		local = calloc(1, sizeof(*local));
	if (!m || (!slot && !local)) {
		inflight_free(slot);
		return -ENOMEM;
	}
	r = msg_recv(c->lxc_sock, m, 0);
	if (r <= 0) {
		inflight_free(slot);
		return r;
	}
	/*
	 * Into the in-flight log at once.  What is left of the window: a
	 * notifyd killed between recvmsg() returning and the copies below (no
	 * system call in between) loses the message; LXC then answers the
	 * caller ENOSYS itself after its 30 s.  Receiving straight into the
	 * slot would need the message's layout before its header was checked.
	 */
	rep = slot ? &slot->reply : local;
	n = slot ? &slot->notif : &local_n;
	reply_init(rep, c->lxc_sock, m);
	memcpy(n, m->buf + sizeof(struct lxc_proxy_hdr),
	       m->len >= sizeof(struct lxc_proxy_hdr) + sizeof(*n) ? sizeof(*n) : 0);
	if (slot)
		slot->lxc = 1;
	inflight_crash_point("after-recv");
	r = msg_check(m, true, err, sizeof(err));
	if (r < 0) {
		log_warn("container %s: bad LXC proxy message, answered ENOSYS: %s", c->id, err);
		msg_close_fds(m);
		reply_bad(c->lxc_sock, m);
		inflight_free(slot);
		return 0;
	}
	/* We read the caller's memory ourselves; /proc/<pid> and mem are not needed. */
	m->fds[0] = safe_close(m->fds[0]);
	m->fds[1] = safe_close(m->fds[1]);
	handle(c, n, m->fds[2], rep, slot);
	m->fds[2] = safe_close(m->fds[2]);
	return 0;
}
