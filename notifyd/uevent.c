// SPDX-License-Identifier: MIT
/* uevents for a container's own loop devices, in its network namespace (uevent.h). */
#include "notifyd/uevent.h"
#include "notifyd/container.h"
#include "notifyd/ns_child.h"
#include "notifyd/request.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/nsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * A container floods nothing through us: at most this many events a second
 * (a losetup attach and detach is three), at most this much of the sender
 * thread's time a second (the kernel's work per event grows with the
 * listeners the container made in its namespace), at most this many
 * waiting; the rest dropped and counted.
 */
#define UEVENT_PER_SEC    256
#define UEVENT_BUDGET_US  50000
#define UEVENT_MAX_QUEUED 64
/*
 * The kernel's netlink_rcv_skb() hands uevent_net_rcv() only requests of a
 * type past the control messages; the type itself means nothing there.
 */
#define UEVENT_MSG_TYPE NLMSG_MIN_TYPE
/* The helper that opens the socket in the container's namespace. */
#define UEVENT_OPEN_MS 1000

/*
 * One per container id.  sk NULL: it gets no events (shares a namespace
 * the kernel's events reach, or the socket could not be made).  Freed when
 * forgotten (gone) and no queued event refers to it (refs).
 */
struct uevent_sink {
	struct uevent_sink *next;
	char *id;
	struct nl_sock *sk; /* used by the sender thread only, once made */
	unsigned refs;      /* queued events */
	bool gone;
	long window; /* the second (CLOCK_MONOTONIC) being counted */
	unsigned sent, dropped;
	long spent_us; /* sender time spent on it in window */
};

/* An event waiting for the sender thread. */
struct uevent_item {
	struct uevent_item *next;
	struct uevent_sink *sink;
	size_t len;
	char buf[];
};

/*
 * Events are sent by one thread of their own, never by the caller: callers
 * hold the loop table's lock, and the kernel's broadcast takes as long as the
 * container's listeners make it, so a slow namespace delays only events.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static struct uevent_sink *sinks;
static struct uevent_item *head, **tail = &head;
static bool sender_running;
static bool enabled = true;

void uevent_set_enabled(bool on)
{
	enabled = on;
}

static struct uevent_sink *sink_find(const char *id)
{
	for (struct uevent_sink *s = sinks; s; s = s->next)
		if (!strcmp(s->id, id))
			return s;
	return NULL;
}

/*
 * In the helper (async-signal-safe only): enter the network namespace and
 * open the socket there.  A socket belongs to the namespace it was made in
 * for good, so notifyd keeps using it after the helper is gone.
 */
static void open_in_netns(void *arg, int sock)
{
	int netns = *(const int *)arg, fd;

	if (setns(netns, CLONE_NEWNET) < 0)
		ns_child_report(sock, errno, 1, 0, -1);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		ns_child_report(sock, errno, 2, 0, -1);
	ns_child_report(sock, 0, 0, 0, fd);
}

/*
 * Does the caller's network namespace get uevents from us?  1 yes, 0 no
 * (why in *why), -errno.  No for notifyd's own namespace, and for any other
 * owned by notifyd's user namespace: the kernel broadcasts every uevent in
 * the namespaces of the initial user namespace already.
 */
static int wants_events(int netns, const char **why)
{
	_cleanup_close_ int own_net = -EBADF, own_user = -EBADF, owner = -EBADF;
	int r;

	own_net = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	own_user = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	if (own_net < 0 || own_user < 0)
		return -errno;
	r = ns_same(netns, own_net);
	if (r != 0) {
		*why = "it shares notifyd's network namespace";
		return r < 0 ? r : 0;
	}
	owner = ns_owner_userns(netns);
	if (owner < 0)
		return owner;
	r = ns_same(owner, own_user);
	if (r != 0) {
		*why = "its network namespace belongs to notifyd's user namespace, where the "
		       "kernel's own uevents arrive";
		return r < 0 ? r : 0;
	}
	return 1;
}

static void sink_free(struct uevent_sink *s)
{
	if (s->sk)
		nl_socket_free(s->sk);
	free(s->id);
	free(s);
}

static long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* With the lock held: a new second starts a new count (and logs the drops of the last). */
static void window_roll(struct uevent_sink *s)
{
	long sec = mono_us() / 1000000;

	if (sec == s->window)
		return;
	if (s->dropped)
		log_warn("%s: %u uevents not sent (more than %d a second, %d waiting, or %d ms "
		         "of sending a second)",
		         s->id, s->dropped, UEVENT_PER_SEC, UEVENT_MAX_QUEUED,
		         UEVENT_BUDGET_US / 1000);
	s->window = sec;
	s->sent = s->dropped = 0;
	s->spent_us = 0;
}

static int send_event(struct nl_sock *sk, char *buf, size_t len);

static void *sender_thread(void *arg)
{
	struct uevent_item *it;
	struct uevent_sink *s;
	long t0;
	int r;

	/*
	 * Created by a worker, this thread shares its fs_struct, and while it
	 * does the worker's setns(CLONE_NEWNS) fails with EINVAL: stop sharing
	 * before the creator goes on (as loop_state.c's maintenance thread).
	 */
	if (unshare(CLONE_FS) < 0)
		log_warn("uevent sender: unshare(CLONE_FS): %m");
	sem_post(arg);
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!head)
			pthread_cond_wait(&queued, &lock);
		it = head;
		head = it->next;
		if (!head)
			tail = &head;
		s = it->sink;
		pthread_mutex_unlock(&lock);
		t0 = mono_us();
		r = send_event(s->sk, it->buf, it->len);
		if (r < 0)
			log_debug("%s: uevent not sent: %s", s->id, nl_geterror(r));
		pthread_mutex_lock(&lock);
		window_roll(s);
		s->spent_us += mono_us() - t0;
		if (--s->refs == 0 && s->gone) {
			pthread_mutex_unlock(&lock);
			sink_free(s);
			pthread_mutex_lock(&lock);
		}
		free(it);
	}
	return NULL;
}

/* With the lock held: the sender thread runs (started at the first socket). */
static void sender_start(void)
{
	pthread_attr_t a;
	pthread_t t;
	sem_t started;

	if (sender_running)
		return;
	sem_init(&started, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	sender_running = pthread_create(&t, &a, sender_thread, &started) == 0;
	pthread_attr_destroy(&a);
	if (!sender_running)
		log_warn("cannot start the uevent sender thread; no uevents are sent");
	while (sender_running && sem_wait(&started) < 0 && errno == EINTR)
		;
	sem_destroy(&started);
}

void uevent_container_attach(struct request *rq)
{
	_cleanup_close_ int netns = -EBADF, fd = -EBADF;
	const char *why = NULL;
	struct ns_child_msg msg;
	struct nl_sock *sk = NULL;
	struct uevent_sink *s;
	int r, keep[1];

	if (!enabled)
		return;
	pthread_mutex_lock(&lock);
	s = sink_find(rq->c->id);
	pthread_mutex_unlock(&lock);
	if (s)
		return;
	/*
	 * The caller's own network namespace: it can only be one the container
	 * may enter, so one whose root (the container's) may send uevents in
	 * it itself.  Nothing sent there reaches anyone else.
	 */
	netns = ns_open_at(rq->t.procfd, "net");
	r = netns < 0 ? netns : wants_events(netns, &why);
	if (r > 0) {
		keep[0] = netns;
		r = ns_child_run(-1, NS_CHILD_SHARE_MM, keep, 1, open_in_netns, &netns,
		                 UEVENT_OPEN_MS, &msg, &fd);
		if (r >= 0 && msg.err)
			r = -msg.err;
		else if (r >= 0 && fd < 0)
			r = -EPROTO;
		if (r >= 0) {
			sk = nl_socket_alloc();
			if (!sk)
				r = -ENOMEM;
			else if (nl_socket_set_fd(sk, NETLINK_KOBJECT_UEVENT, fd) < 0)
				r = -EINVAL;
			else
				fd = -EBADF; /* the nl_sock's now */
			/* No ack asked: a reply queued on a socket nobody reads is waste. */
			if (sk)
				nl_socket_disable_auto_ack(sk);
		}
		if (r < 0) {
			if (sk)
				nl_socket_free(sk);
			sk = NULL;
			why = "its uevent socket could not be made";
		}
	}
	if (r == -ENOENT || r == -ESRCH)
		return; /* the caller is gone: its container's next request tries again */
	if (r < 0)
		log_warn("%s: no uevents for its loop devices: %s%s%s", rq->c->id, strerror(-r),
		         why ? ": " : "", why ? why : "");
	else if (!sk)
		log_info("%s: no uevents injected for its loop devices: %s", rq->c->id, why);
	else
		log_info("%s: uevents for its loop devices go to its network namespace", rq->c->id);
	pthread_mutex_lock(&lock);
	if (sink_find(rq->c->id) || !(s = calloc(1, sizeof(*s))) || !(s->id = strdup(rq->c->id))) {
		/* Another worker was first, or no memory (then: no events). */
		free(s);
		if (sk)
			nl_socket_free(sk);
	} else {
		s->sk = sk;
		s->next = sinks;
		sinks = s;
		if (sk)
			sender_start();
	}
	pthread_mutex_unlock(&lock);
}

/* DISKSEQ of the host's device, as the kernel puts it in its own events; 0 if unknown. */
static unsigned long long diskseq(int nr)
{
	char path[80], buf[32];
	unsigned long long v;
	ssize_t n;
	char *end;
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/virtual/block/loop%d/diskseq", nr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	return errno || end == buf || (*end && *end != '\n') ? 0 : v;
}

/* Append one NUL-terminated string to buf at *off.  -ENOBUFS if it does not fit. */
__attribute__((format(printf, 4, 5))) static int put(char *buf, size_t size, size_t *off,
                                                     const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *off)
		return -ENOBUFS;
	*off += (size_t)n + 1;
	return 0;
}

/*
 * The kernel's format for a block device (lib/kobject_uevent.c): "ACTION@DEVPATH"
 * then KEY=VALUE strings, each NUL-terminated; the kernel adds SEQNUM.  The
 * same keys, in the same order, as the host's events for the device.
 * Returns the length or -ENOBUFS.
 */
static int format_event(char *buf, size_t size, enum uevent_action action, int nr)
{
	static const char *const names[] = {
	    [UEVENT_ADD] = "add",
	    [UEVENT_BIND] = "change",
	    [UEVENT_UNBIND] = "change",
	    [UEVENT_REMOVE] = "remove",
	};
	const char *a = names[action];
	unsigned long long seq = diskseq(nr);
	size_t off = 0;

	if (put(buf, size, &off, "%s@/devices/virtual/block/loop%d", a, nr) < 0 ||
	    put(buf, size, &off, "ACTION=%s", a) < 0 ||
	    put(buf, size, &off, "DEVPATH=/devices/virtual/block/loop%d", nr) < 0 ||
	    put(buf, size, &off, "SUBSYSTEM=block") < 0 ||
	    (action == UEVENT_UNBIND && put(buf, size, &off, "DISK_MEDIA_CHANGE=1") < 0) ||
	    put(buf, size, &off, "MAJOR=%d", 7) < 0 || put(buf, size, &off, "MINOR=%d", nr) < 0 ||
	    put(buf, size, &off, "DEVNAME=loop%d", nr) < 0 ||
	    put(buf, size, &off, "DEVTYPE=disk") < 0 ||
	    (seq && put(buf, size, &off, "DISKSEQ=%llu", seq) < 0))
		return -ENOBUFS;
	return (int)off;
}

/*
 * One netlink message to the kernel (port 0), the event unpadded: the
 * kernel broadcasts the message's payload as it came, SEQNUM appended, and
 * udev rejects a whole event that has an empty string in it (what alignment
 * padding, as nl_send_simple() adds, would become).  A libnl error or -ENOMEM.
 */
static int send_event(struct nl_sock *sk, char *buf, size_t len)
{
	struct nl_msg *m = nlmsg_alloc_simple(UEVENT_MSG_TYPE, 0);
	int r;

	if (!m)
		return -NLE_NOMEM;
	r = nlmsg_append(m, buf, len, 0);
	if (r >= 0)
		r = nl_send_auto(sk, m);
	nlmsg_free(m);
	return r;
}

void uevent_loop(const char *container_id, enum uevent_action action, int nr)
{
	struct uevent_item *it;
	struct uevent_sink *s;
	char buf[512];
	int n;

	if (!enabled || !container_id || nr < 0 || (unsigned)action > UEVENT_REMOVE)
		return;
	n = format_event(buf, sizeof(buf), action, nr);
	if (n < 0)
		return;
	pthread_mutex_lock(&lock);
	s = sink_find(container_id);
	if (!s || !s->sk || !sender_running)
		goto out;
	window_roll(s);
	if (s->sent >= UEVENT_PER_SEC || s->refs >= UEVENT_MAX_QUEUED ||
	    s->spent_us >= UEVENT_BUDGET_US || !(it = malloc(sizeof(*it) + (size_t)n))) {
		s->dropped++;
		goto out;
	}
	s->sent++;
	s->refs++;
	it->next = NULL;
	it->sink = s;
	it->len = (size_t)n;
	memcpy(it->buf, buf, (size_t)n);
	*tail = it;
	tail = &it->next;
	pthread_cond_signal(&queued);
out:
	pthread_mutex_unlock(&lock);
}

void uevent_container_forget(const char *container_id)
{
	struct uevent_sink *s = NULL;

	pthread_mutex_lock(&lock);
	for (struct uevent_sink **p = &sinks; *p; p = &(*p)->next)
		if (!strcmp((*p)->id, container_id)) {
			s = *p;
			*p = s->next;
			break;
		}
	/* Events still queued for it are sent first; the sender frees it after the last. */
	if (s && s->refs) {
		s->gone = true;
		s = NULL;
	}
	pthread_mutex_unlock(&lock);
	if (s)
		sink_free(s);
}
