// SPDX-License-Identifier: MIT
/* Private loop devices: their states and the maintenance thread (loop_internal.h). */
#include "notifyd/loop_internal.h"
#include "notifyd/fd_store.h"
#include "notifyd/state.h"
#include "notifyd/uevent.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/loop.h>
#include <linux/mount.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

struct loop_state loop_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

int loop_ctl(unsigned long cmd, long arg)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int r;

	if (ctl < 0)
		return -errno;
	r = ioctl(ctl, cmd, arg);
	return r < 0 ? -errno : r;
}

long loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Take the O_EXCL hold of an unbound device (fresh).  -EBUSY if it is bound:
 * between LOOP_CTL_ADD (or the detach) and this open, somebody else (the
 * host) bound it, and it is theirs.
 */
int loop_hold_take(struct loop_entry *e)
{
	struct loop_info64 info;
	char name[24];
	int fd;

	loop_node_name(e->nr, name, sizeof(name));
	fd = openat(loop_node.nodes, name, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0) /* EBUSY: claimed (a LOOP_CONFIGURE or mount running); ENXIO: detaching */
		return errno == EBUSY ? -EAGAIN : -errno;
	if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0) {
		close(fd);
		return -EBUSY;
	}
	e->hold = fd;
	e->fresh_since = loop_now_ms();
	loop_fd_sync(e);
	return 0;
}

/*
 * Give up a fresh device the container may still have open: bind it
 * (through the hold) to an empty read-only file of notifyd's with autoclear,
 * so that until the container's last close it is bound to nothing of anyone,
 * and unbound only when nobody holds it.  Then drop the hold.
 */
static void hold_park(struct loop_entry *e)
{
	struct loop_config cfg = {.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR};
	int m = (int)syscall(SYS_memfd_create, "notifyd-parked-loop", MFD_CLOEXEC);

	if (m < 0 || (cfg.fd = (uint32_t)m, ioctl(e->hold, LOOP_CONFIGURE, &cfg) < 0))
		log_warn("loop%d: cannot park the device being given up: %m", e->nr);
	safe_close(m);
	e->hold = safe_close(e->hold);
	loop_fd_sync(e);
}

/*
 * Detach and delete.  Called with the lock held; the entry stays (owner
 * NULL) while some fd, a mount, or a container's leftover bind keeps the
 * device open, and is never handed out again until deletion succeeds.
 */
void loop_entry_release(struct loop_entry *e)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (e->owner) {
		/* Its node goes now: as devtmpfs would, at the deletion the host sees. */
		if (e->placed)
			uevent_loop(e->owner, UEVENT_REMOVE, e->nr);
		loop_view_link(e->owner, e->nr, false);
		/* Clearing: no fd of ours; one to mark it for detaching (it may still be bound). */
		if (e->hold < 0 && e->pin < 0)
			fd = loop_node_open(e->nr);
		/* The node first: from here the container opens nothing new. */
		loop_node_neutralize(e->nr);
		if (e->hold >= 0)
			hold_park(e);
		if (e->pin >= 0)
			ioctl(e->pin, LOOP_CLR_FD, 0); /* busy: the kernel detaches at last close */
		else if (fd >= 0)
			ioctl(fd, LOOP_CLR_FD, 0);
		e->pin = safe_close(e->pin);
		free(e->owner);
		e->owner = NULL;
		e->clearing = false;
		loop_state.dirty = true;
	}
	e->backing = safe_close(e->backing);
	loop_fd_sync(e);
	fd = safe_close(fd);
	r = loop_ctl(LOOP_CTL_REMOVE, e->nr);
	if (r < 0 && r != -ENODEV)
		log_debug("loop%d: not deleted yet (%s); kept out of use until it can be", e->nr,
		          strerror(-r));
	if (r >= 0 || r == -ENODEV) { /* ENODEV: somebody else deleted it already */
		for (struct loop_entry **p = &loop_state.devices; *p; p = &(*p)->next)
			if (*p == e) {
				*p = e->next;
				break;
			}
		loop_fd_drop(e->nr);
		free(e);
	}
}

/*
 * The device is not ours any more: somebody else bound it while it was
 * unbound and the container could not open it (between LOOP_CTL_ADD and the
 * hold, or between the detach and the hold).  Forget it, never touch it.
 */
void loop_entry_forget(struct loop_entry *e)
{
	log_info("loop%d: bound by someone else while unbound and not the container's to open; "
	         "no longer notifyd's",
	         e->nr);
	if (e->owner) {
		if (e->placed)
			uevent_loop(e->owner, UEVENT_REMOVE, e->nr); /* its node is revoked */
		loop_view_link(e->owner, e->nr, false);
	}
	loop_node_neutralize(e->nr);
	safe_close(e->hold);
	safe_close(e->pin);
	safe_close(e->backing);
	for (struct loop_entry **p = &loop_state.devices; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	loop_fd_drop(e->nr);
	free(e->owner);
	free(e);
}

/* Is the device still bound (the kernel's sysfs, without opening it)? */
bool loop_sysfs_bound(int nr)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/devices/virtual/block/loop%d/loop", nr);
	return access(path, F_OK) == 0;
}

/*
 * Clearing -> fresh once the kernel has detached the device: take the hold,
 * then give the node back.  Nobody could open the device in between (node
 * revoked); if somebody bound it meanwhile it is theirs.  Returns true if the
 * entry still exists.
 */
bool loop_entry_settle(struct loop_entry *e)
{
	int r;

	if (!e->owner || !e->clearing)
		return true;
	if (loop_sysfs_bound(e->nr))
		return true;
	r = loop_hold_take(e);
	if (r == -EBUSY) {
		loop_entry_forget(e);
		return false;
	}
	if (r < 0)
		return true; /* ENXIO: its last close is still detaching it; next tick */
	r = loop_node_restore(e);
	if (r < 0) {
		log_warn("loop%d: cannot give the node back to %s: %s", e->nr, e->owner,
		         strerror(-r));
		return true; /* stays fresh with the node revoked: useless, but safe */
	}
	e->clearing = false;
	e->clear_ticks = 0;
	loop_state.dirty = true;
	/* The kernel has detached it: the change (media change) its host sees. */
	uevent_loop(e->owner, UEVENT_UNBIND, e->nr);
	return true;
}

/*
 * Bound with autoclear: is notifyd's pin the last opener?  LOOP_CLR_FD by
 * the sole opener puts the device in rundown, where every new open fails
 * with ENXIO; with other openers it only sets autoclear, which is set
 * already.  So an ENXIO from a probe open means: nobody else has it, the
 * kernel would have detached it at that last close.  Revoke the node, then
 * let go of the pin (the kernel detaches now), and settle.
 */
bool loop_entry_reap(struct loop_entry *e)
{
	struct loop_info64 info;
	char name[24];
	int probe;

	if (!e->owner || e->pin < 0 || ioctl(e->pin, LOOP_GET_STATUS64, &info) < 0 ||
	    !(info.lo_flags & LO_FLAGS_AUTOCLEAR))
		return true;
	ioctl(e->pin, LOOP_CLR_FD, 0);
	loop_node_name(e->nr, name, sizeof(name));
	probe = openat(loop_node.nodes, name, O_RDONLY | O_CLOEXEC);
	if (probe >= 0 || errno != ENXIO) {
		safe_close(probe);
		return true;
	}
	loop_node_revoke(e->nr);
	e->pin = safe_close(e->pin);
	e->backing = safe_close(e->backing);
	e->clearing = true;
	loop_fd_sync(e);
	return loop_entry_settle(e);
}

/* Retries deleting devices given up; true if some are still waiting. */
bool loop_retry_draining(void)
{
	struct loop_entry *e = loop_state.devices, *next;
	bool left = false;

	for (; e; e = next) {
		next = e->next;
		if (!e->owner)
			loop_entry_release(e);
	}
	for (e = loop_state.devices; e && !left; e = e->next)
		left = !e->owner;
	return left;
}

/*
 * A fresh device the container has not bound within FRESH_MS is given up
 * like one it removed (loop_entry_release: node revoked before the hold is
 * dropped, parked, deleted), so that a host `losetup -f` stalls at most that
 * long.  The container's node then opens nothing (EACCES: a node that is not
 * its own any more), an fd it kept reads an empty parked device, and its
 * LOOP_CONFIGURE through such an fd gets EPERM (not its device); its next
 * LOOP_CTL_GET_FREE gets a new fresh device.
 */
static void entry_expire(struct loop_entry *e)
{
	struct loop_expired *x;

	log_info("loop%d: fresh for %d ms and not bound by %s; given up so that the host's "
	         "losetup -f is not held up",
	         e->nr, FRESH_MS, e->owner);
	for (x = loop_state.expired; x && strcmp(x->owner, e->owner); x = x->next)
		;
	if (!x && (x = calloc(1, sizeof(*x)))) {
		x->owner = strdup(e->owner);
		if (x->owner) {
			x->next = loop_state.expired;
			loop_state.expired = x;
		} else {
			x = (free(x), NULL);
		}
	}
	if (x)
		x->at = loop_now_ms();
	loop_entry_release(e);
	loop_state.drain_until = loop_now_ms() + 5000;
}

/*
 * One pass over the table, with the lock held: settle clearing devices, reap
 * bound ones whose autoclear is due, retry deletions.  Returns the delay in
 * ms until the next pass is useful, 0 if none is.
 */
static unsigned maintain(void)
{
	struct loop_entry *e, *next;
	unsigned delay = 0;

	for (e = loop_state.devices; e; e = next) {
		next = e->next;
		if (!e->owner || !(e->clearing ? loop_entry_settle(e) : loop_entry_reap(e)))
			continue;
		if (e->hold >= 0 && !e->clearing) {
			long left = e->fresh_since + FRESH_MS - loop_now_ms();

			if (left <= 0) {
				entry_expire(e);
				continue;
			}
			delay = delay && delay < (unsigned)left ? delay : (unsigned)left;
		} else if (e->clearing && e->owner) {
			/* The container's last close comes any moment: look often, then less. */
			unsigned d = e->clear_ticks++ < 100 ? 2 : 50;

			delay = delay && delay < d ? delay : d;
		} else if (e->pin >= 0 && !delay) {
			delay = 50; /* its autoclear may come due */
		}
	}
	if (loop_retry_draining() && loop_now_ms() < loop_state.drain_until)
		delay = delay && delay < 100 ? delay : 100;
	return delay;
}

/*
 * The kernel tells nobody when a container's last close detaches a device,
 * or when notifyd's pin became the last opener of an autoclear device:
 * look, every few milliseconds while a detach is pending (so util-linux's
 * `losetup -d` then `losetup -f` finds the same device free again), every
 * 50 ms while devices are bound.  Also retries the deletion of devices given
 * up: a container's last fds may close a moment after its notify fd hangs up
 * (threads exiting, deferred fput), for up to 5 s.  One thread, started at
 * the first use, sleeping on `kick` when there is nothing to look at.
 */

static void *maintain_thread(void *arg)
{
	struct timespec ts;
	unsigned delay;

	/*
	 * Created by a worker, this thread shares its fs_struct, and while it
	 * does the worker's setns(CLONE_NEWNS) fails with EINVAL (mounts then
	 * failed "cannot enter the caller's mount namespace").  Stop sharing
	 * before the creator goes on.
	 */
	if (unshare(CLONE_FS) < 0)
		log_warn("loop maintenance: unshare(CLONE_FS): %m");
	sem_post(arg);
	pthread_mutex_lock(&loop_state.lock);
	while (!loop_state.shutting_down) {
		delay = maintain();
		loop_state_flush();
		if (!delay) {
			pthread_cond_wait(&loop_state.kick, &loop_state.lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)delay * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&loop_state.kick, &loop_state.lock, &ts);
	}
	loop_state.maintaining = false;
	pthread_mutex_unlock(&loop_state.lock);
	return NULL;
}

/* With the lock held: something changed, have a look. */
void loop_schedule_maintenance(void)
{
	pthread_condattr_t ca;
	pthread_attr_t a;
	pthread_t t;
	sem_t started;

	if (loop_state.maintaining) {
		pthread_cond_signal(&loop_state.kick);
		return;
	}
	if (loop_state.shutting_down)
		return;
	if (!loop_state.kick_ready) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&loop_state.kick, &ca);
		pthread_condattr_destroy(&ca);
		loop_state.kick_ready = true;
	}
	sem_init(&started, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	loop_state.maintaining = pthread_create(&t, &a, maintain_thread, &started) == 0;
	pthread_attr_destroy(&a);
	if (!loop_state.maintaining)
		log_warn("cannot start the loop maintenance thread; detached devices stay revoked "
		         "until the next hand-out");
	while (loop_state.maintaining && sem_wait(&started) < 0 && errno == EINTR)
		;
	sem_destroy(&started);
}

/* The fd store's name of device nr's fd of kind ('l' hold or pin, 'b' backing). */
static void fd_name(char kind, int nr, char *buf, size_t size)
{
	snprintf(buf, size, "%c.%d", kind, nr);
}

/*
 * Keep the store in step with e's fds.  The hold matters most: without it a
 * host `losetup -f` could bind a device the container can open while no
 * notifyd runs (docs/loop.md "States").  A store's copy of the O_EXCL hold
 * keeps the exclusive claim as long as it is there: so the hold is replaced
 * by the pin in the store (fdstore_put() drops the old copy first) before
 * a mount of the bound device can need the claim (claim_wait() covers a
 * store that closes its copy a moment later).
 */
void loop_fd_sync(const struct loop_entry *e)
{
	int l = e->hold >= 0 ? e->hold : e->pin;
	char name[24];

	fd_name('l', e->nr, name, sizeof(name));
	if (l >= 0) {
		if (fdstore_put(name, l) < 0)
			log_debug("loop%d: its fd is not in the fd store", e->nr);
	} else {
		fdstore_remove(name);
	}
	fd_name('b', e->nr, name, sizeof(name));
	if (e->backing >= 0)
		(void)fdstore_put(name, e->backing);
	else
		fdstore_remove(name);
	loop_state.dirty = true;
}

void loop_fd_drop(int nr)
{
	char name[24];

	fd_name('l', nr, name, sizeof(name));
	fdstore_remove(name);
	fd_name('b', nr, name, sizeof(name));
	fdstore_remove(name);
	loop_state.dirty = true;
}

void loop_state_flush(void)
{
	struct json_object *o, *devs, *views;
	int r = -ENOMEM;

	if (!loop_state.dirty)
		return;
	loop_state.dirty = false;
	/*
	 * A clean stop forgets every container (docs/loop.md "Limits"): what is
	 * left is for nobody to take over.  A crash or an upgrade never gets here.
	 */
	if (loop_state.shutting_down || (!loop_state.devices && !loop_node.views)) {
		state_remove("loop");
		return;
	}
	o = json_object_new_object();
	devs = json_object_new_array();
	views = json_object_new_array();
	if (!o || !devs || !views || json_object_object_add(o, "devices", devs) < 0) {
		json_object_put(devs);
		json_object_put(views);
		goto out;
	}
	if (json_object_object_add(o, "views", views) < 0) {
		json_object_put(views);
		goto out;
	}
	for (const struct loop_entry *e = loop_state.devices; e; e = e->next) {
		struct json_object *d = json_object_new_object();

		if (!d || state_set_u64(d, "nr", (unsigned long long)e->nr) < 0 ||
		    (e->owner && state_set_str(d, "owner", e->owner) < 0) ||
		    state_set_u64(d, "uid", e->uid) < 0 || state_set_u64(d, "gid", e->gid) < 0 ||
		    state_set_u64(d, "clearing", e->clearing) < 0 ||
		    state_set_u64(d, "placed", e->placed) < 0 ||
		    json_object_array_add(devs, d) < 0) {
			json_object_put(d);
			goto out;
		}
	}
	for (const struct loop_view *v = loop_node.views; v; v = v->next) {
		struct json_object *d = json_object_new_object();

		if (!d || state_set_str(d, "owner", v->owner) < 0 ||
		    state_set_u64(d, "serial", v->serial) < 0 ||
		    json_object_array_add(views, d) < 0) {
			json_object_put(d);
			goto out;
		}
	}
	r = state_write("loop", o);
out:
	json_object_put(o);
	if (r < 0) {
		loop_state.dirty = true; /* next time */
		log_warn("cannot write the loop devices' state: %s", strerror(-r));
	}
}

void loop_device_state_counts(unsigned counts[LOOP_STATE_COUNT])
{
	pthread_mutex_lock(&loop_state.lock);
	for (const struct loop_entry *e = loop_state.devices; e; e = e->next) {
		if (!e->owner)
			counts[LOOP_STATE_GONE]++;
		else if (e->clearing)
			counts[LOOP_STATE_CLEARING]++;
		else if (e->pin >= 0)
			counts[LOOP_STATE_BOUND]++;
		else
			counts[LOOP_STATE_FRESH]++;
	}
	pthread_mutex_unlock(&loop_state.lock);
}
