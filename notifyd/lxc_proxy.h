/* SPDX-License-Identifier: MIT */
/*
 * LXC's seccomp notify proxy protocol (lxc.seccomp.notify.proxy), as LXC
 * 5.0.2 speaks it.  The LXC monitor keeps the notify fd and receives each
 * notification itself; it connects to us with SOCK_SEQPACKET and sends, one
 * request at a time, a message
 *   header (32 bytes) | seccomp_notif | seccomp_notif_resp | cookie
 * with three fds attached: /proc/<pid> of the caller, its /proc/<pid>/mem,
 * and the notify fd.  We answer with one message
 *   header | seccomp_notif | seccomp_notif_resp
 * and LXC passes our seccomp_notif_resp to the kernel.  A bad message is
 * answered at once with an error, so LXC never waits for its 30 s timeout.
 *
 * LXC waits LXC_PROXY_TIMEOUT_S for an answer (SO_RCVTIMEO on its
 * connection, not configurable), then answers ENOSYS itself and goes on to
 * its next request.  An answer sent after that would be read as the answer
 * to that next request (LXC only logs the wrong id, then uses the answer),
 * so every later request of the connection would get its predecessor's
 * answer.  The kernel stamps each message with its send time
 * (SO_TIMESTAMPNS); an answer LXC can no longer be waiting for is not sent.
 */
#ifndef MV_LXC_PROXY_H
#define MV_LXC_PROXY_H

#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "notifyd/container.h"

struct lxc_proxy_hdr {
	uint64_t reserved; /* must be 0, both ways */
	int32_t monitor_pid;
	int32_t init_pid;
	struct seccomp_notif_sizes sizes;
	uint64_t cookie_len;
};

#define LXC_COOKIE_MAX      1024 /* LXC sends a config string; more is not a cookie */
#define LXC_PART_MAX        512  /* a sane bound for the struct sizes a sender claims */
#define LXC_PROXY_TIMEOUT_S 30   /* LXC 5.0.2's wait for an answer (seccomp.c) */
/* Answers go out at the latest this long before LXC stops waiting. */
#define LXC_REPLY_MARGIN_MS 1000

/* What a reply must echo: the header and the notification as received. */
struct lxc_reply {
	int sock;
	struct lxc_proxy_hdr hdr;
	uint8_t notif[LXC_PART_MAX];
	uint16_t notif_len, resp_len;
	uint64_t id;
	struct timespec deadline; /* CLOCK_REALTIME; 0: unknown (no timestamp came) */
};

/* The first message of a connection, as the main loop peeks at it. */
struct lxc_hello {
	pid_t monitor_pid, init_pid;
	char id[128];     /* "name=" in the cookie, else lxc-<init pid> */
	char profile[64]; /* "profile=" in the cookie, else default */
};

/*
 * Cookie "profile=NAME name=ID" (tokens split on space, comma, semicolon):
 * fills profile (default "default") and name ("" if absent).  -EINVAL for a
 * malformed value (bad characters, too long).
 */
int lxc_cookie_parse(const char *cookie, size_t len, char *profile, size_t psize, char *name,
                     size_t nsize);

/*
 * Main loop, on a new connection's first readable event: look at the first
 * message without taking it.  1: *ret filled, hand the connection to the
 * workers; 0: not all there yet; -EPIPE: peer closed; -EINVAL: it was bad,
 * and has been consumed and answered (keep waiting for the next one).
 * peer_pid is the connecting process (SO_PEERCRED), which must be the monitor.
 */
int lxc_proxy_hello(int sock, pid_t peer_pid, struct lxc_hello *ret, char *err, size_t errlen);

/*
 * What handles one notification that came through LXC's proxy: the notify
 * fd for ID_VALID checks, rep carries the answer (supervise_handle_via()).
 * Passed in, so this protocol module does not call up into the dispatcher.
 */
struct inflight_slot;
typedef void lxc_proxy_handler(struct container *c, const struct seccomp_notif *notif,
                               int notify_fd, const struct lxc_reply *rep,
                               struct inflight_slot *slot);

/*
 * Worker: take one message from c's connection and handle it with handle.
 * The notification and the reply go into slot (the in-flight log; may be
 * NULL), which the handler owns from then on; a slot not used is freed.
 * 0 when done (or nothing was there), -EPIPE when LXC hung up.
 */
int lxc_proxy_serve(struct container *c, struct inflight_slot *slot, lxc_proxy_handler *handle);

/*
 * The answer for a request (see target.c): resp id, val, error, flags.
 * -ETIMEDOUT, nothing sent: LXC has stopped waiting (or is about to) and
 * answered the caller ENOSYS itself.
 */
int lxc_reply_send(const struct lxc_reply *r, int64_t val, int32_t error, uint32_t flags);

/* Milliseconds left to send r's answer; INT_MAX when the send time is unknown. */
int lxc_reply_ms_left(const struct lxc_reply *r);

/* Ask the kernel to stamp each message on an LXC connection with its send time. */
int lxc_proxy_conn_init(int sock);

#endif
