/* SPDX-License-Identifier: MIT */
#include "notifyd/worker.h"
#include "notifyd/inflight.h"
#include "notifyd/lxc_proxy.h"
#include "notifyd/supervise.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The containers in the pool, so shutdown can release them. */
struct watched {
	struct watched *next;
	struct container *c;
};

/*
 * The pool's state.  epfd, stop_fd, max_running and threads are written
 * before the workers start and after they stopped; the list of watched
 * containers is under watched_lock (never held with another lock).
 */
static struct {
	int epfd;             /* every watched notify fd / LXC connection, EPOLLONESHOT */
	int stop_fd;          /* eventfd: readable (level) = every worker leaves */
	unsigned max_running; /* --max-running: requests of one container in workers */
	pthread_t *threads;
	unsigned n_started;
	pthread_mutex_t watched_lock;
	struct watched *watched;
} pool = {.epfd = -EBADF, .stop_fd = -EBADF, .watched_lock = PTHREAD_MUTEX_INITIALIZER};

/* What the pool waits on: the notify fd, or the LXC proxy connection. */
static int watch_fd(const struct container *c)
{
	return c->lxc_sock >= 0 ? c->lxc_sock : c->notify_fd;
}

static void arm(struct container *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = c};

	/* ENOENT: the container was forgotten meanwhile; nothing to arm. */
	if (epoll_ctl(pool.epfd, EPOLL_CTL_MOD, watch_fd(c), &ev) < 0 && errno != ENOENT)
		log_warn("container %s: re-arming its notify fd: %m", c->id);
}

/* Take c off the shutdown list; true if it was there. */
static bool unlist(struct container *c)
{
	struct watched *w = NULL;

	pthread_mutex_lock(&pool.watched_lock);
	for (struct watched **p = &pool.watched; *p; p = &(*p)->next)
		if ((*p)->c == c) {
			w = *p;
			*p = w->next;
			break;
		}
	pthread_mutex_unlock(&pool.watched_lock);
	free(w);
	return w != NULL;
}

/* The filter has no users left: the container (or exec) exited. */
static void forget(struct container *c)
{
	log_info("container %s pid=%d %s; forgetting it", c->id, (int)c->init_pid,
	         c->lxc_sock >= 0 ? "closed its LXC proxy connection" : "exited");
	epoll_ctl(pool.epfd, EPOLL_CTL_DEL, watch_fd(c), NULL);
	if (unlist(c))
		container_forget(c);
}

/*
 * An LXC connection: LXC sends one request and waits for its answer, so a
 * connection is served by one worker at a time and re-armed when answered;
 * other containers' connections go on in the other workers meanwhile.
 */
static void serve_lxc(struct container *c, uint32_t events)
{
	int r = 0;

	if (events & EPOLLIN)
		r = lxc_proxy_serve(c, inflight_take(c->key), supervise_handle_via);
	if (r == -EPIPE || (!(events & EPOLLIN) && (events & (EPOLLHUP | EPOLLERR)))) {
		forget(c);
		return;
	}
	if (r < 0)
		log_warn("container %s: LXC proxy connection: %s", c->id, strerror(-r));
	arm(c);
}

static void serve(struct container *c, uint32_t events)
{
	struct inflight_slot *slot;
	struct seccomp_notif local, *n;
	bool rearm;
	int r;

	if (c->lxc_sock >= 0) {
		serve_lxc(c, events);
		return;
	}
	if (!(events & EPOLLIN)) {
		if (events & (EPOLLHUP | EPOLLERR))
			forget(c);
		return;
	}
	/*
	 * The notification is received straight into a slot of the in-flight
	 * log (zeroed, as the kernel insists): once the kernel handed it out it
	 * is in the log, even if we are killed the next instant.  Without a log
	 * (it could not be made), on the stack.
	 */
	slot = inflight_take(c->key);
	n = slot ? &slot->notif : &local;
	memset(&local, 0, sizeof(local));
	r = ioctl(c->notify_fd, SECCOMP_IOCTL_NOTIF_RECV, n);
	if (r == 0)
		inflight_crash_point("after-recv");
	else
		inflight_free(slot);
	/* Still disarmed: no other worker can see this container's events, c stays alive. */
	if (r == 0 && supervise_quick(c, n, slot)) {
		arm(c);
		return;
	}
	if (r < 0 && errno != ENOENT && errno != EINTR) /* ENOENT: the caller was interrupted */
		log_warn("container %s: receiving a notification: %m", c->id);

	/* Re-armed below, after which a HUP seen by another worker could free c: hold a reference.
	 */
	container_ref(c);
	pthread_mutex_lock(&c->lock);
	if (r == 0)
		c->pending++;
	rearm = c->pending < pool.max_running;
	c->armed = rearm;
	pthread_mutex_unlock(&c->lock);
	if (rearm)
		arm(c);

	if (r == 0)
		supervise_handle(c, n, slot); /* the request frees the slot once answered */

	pthread_mutex_lock(&c->lock);
	if (r == 0)
		c->pending--;
	rearm = !c->armed && !c->gone;
	if (rearm)
		c->armed = true;
	pthread_mutex_unlock(&c->lock);
	if (rearm)
		arm(c);
	container_unref(c);
}

static void *worker_main(void *arg)
{
	int r = view_thread_init();

	if (r < 0) {
		log_error("worker: unshare(CLONE_FS): %s", strerror(-r));
		abort(); /* a worker sharing root/cwd with other threads must never run */
	}
	for (;;) {
		struct epoll_event ev;
		int n = epoll_wait(pool.epfd, &ev, 1, -1);

		if (n < 0 && errno != EINTR) {
			log_error("worker: epoll_wait: %m");
			abort();
		}
		if (n <= 0)
			continue;
		if (ev.data.ptr == NULL) /* the stop eventfd */
			return NULL;
		serve(ev.data.ptr, ev.events);
	}
}

int worker_pool_start(unsigned n, unsigned max_running)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	pool.max_running = max_running;
	pool.epfd = epoll_create1(EPOLL_CLOEXEC);
	pool.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pool.epfd < 0 || pool.stop_fd < 0 ||
	    epoll_ctl(pool.epfd, EPOLL_CTL_ADD, pool.stop_fd, &ev) < 0)
		return -errno;
	pool.threads = calloc(n, sizeof(*pool.threads));
	if (!pool.threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&pool.threads[i], NULL, worker_main, NULL);
		if (r != 0) {
			worker_pool_stop();
			return -r;
		}
		pool.n_started++;
	}
	return 0;
}

int worker_watch(struct container *c)
{
	struct watched *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT};

	if (!w)
		return -ENOMEM;
	w->c = c;
	c->armed = true;
	pthread_mutex_lock(&pool.watched_lock);
	w->next = pool.watched;
	pool.watched = w;
	pthread_mutex_unlock(&pool.watched_lock);
	ev.data.ptr = c;
	if (epoll_ctl(pool.epfd, EPOLL_CTL_ADD, watch_fd(c), &ev) < 0) {
		int r = -errno;
		unlist(c);
		return r;
	}
	return 0;
}

void worker_pool_quiesce(void)
{
	uint64_t one = 1;

	if (pool.stop_fd >= 0 && write(pool.stop_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the workers: %m");
	for (unsigned i = 0; i < pool.n_started; i++)
		pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
	pool.n_started = 0;
}

void worker_pool_stop(void)
{
	worker_pool_quiesce();
	while (pool.watched) {
		struct container *c = pool.watched->c;
		epoll_ctl(pool.epfd, EPOLL_CTL_DEL, watch_fd(c), NULL);
		unlist(c);
		container_forget(c);
	}
	pool.stop_fd = safe_close(pool.stop_fd);
	pool.epfd = safe_close(pool.epfd);
}
