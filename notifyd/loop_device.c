// SPDX-License-Identifier: MIT
/* Private loop devices for containers: the table, the hand-out and the API (loop_device.h). */
#include "notifyd/loop_device.h"
#include "notifyd/inflight.h"
#include "notifyd/loop_internal.h"
#include "notifyd/fd_store.h"
#include "notifyd/state.h"
#include "notifyd/uevent.h"
#include "notifyd/view.h"
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

static void loop_res_gone(struct container *c, struct container_resource *res, bool last);
static unsigned loop_res_count(struct container *c, const struct container_resource *res);
static struct json_object *loop_res_save(struct container *c, struct container_resource *res);
static void loop_res_release(struct container_resource *res)
{
	free(res);
}

/*
 * A container that asked for a loop device carries this resource; the
 * devices themselves are in `devices` by container id: they belong to the
 * container (a `runc exec` may create them), not to one entry.  So across a
 * restart the table is kept in a state file of its own ("loop", written by
 * loop_state_flush() whenever it changes), and an entry's state file only
 * says that it carries the resource (loop_res_save()): restoring that part
 * (loop_device_restore()) attaches the resource again, so the devices go
 * when the container does, and loads the table if nobody did yet.
 */
static const struct container_resource_ops loop_res_ops = {
    .name = "loop-devices",
    .gone = loop_res_gone,
    .count = loop_res_count,
    .release = loop_res_release,
    .save = loop_res_save,
    .follows_id = true,
};

static struct loop_entry *entry_find(int nr)
{
	for (struct loop_entry *e = loop_state.devices; e; e = e->next)
		if (e->nr == nr)
			return e;
	return NULL;
}

enum loop_access loop_device_access(const char *container_id, dev_t rdev)
{
	enum loop_access a = LOOP_UNMANAGED;
	struct loop_entry *e;

	if (major(rdev) != LOOP_MAJOR_NR)
		return LOOP_UNMANAGED;
	pthread_mutex_lock(&loop_state.lock);
	e = entry_find((int)minor(rdev));
	if (e)
		a = e->owner && !strcmp(e->owner, container_id) ? LOOP_OWNED : LOOP_FOREIGN;
	pthread_mutex_unlock(&loop_state.lock);
	return a;
}

/*
 * A new device: its node (for the caller's root), notifyd's hold on it, the
 * node in the caller's /dev, its entry in the caller's /sys/block.  -EAGAIN
 * if somebody else bound it before the hold was taken.
 */
static int place(struct request *rq, struct loop_entry *e)
{
	int nr = e->nr;
	_cleanup_close_ int tree = -EBADF;
	unsigned uid, gid;
	char name[24];
	int r;

	r = loop_map_root(rq->t.procfd, "uid_map", &uid);
	if (r >= 0)
		r = loop_map_root(rq->t.procfd, "gid_map", &gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "the container has no root user");
		return r;
	}
	loop_node_name(nr, name, sizeof(name));
	e->uid = uid;
	e->gid = gid;
	r = loop_node_make(nr, uid, gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "making the node of %s: %s", name,
		         strerror(-r));
		return r;
	}
	/* Before the container can open it: from now on nobody else can bind it. */
	r = loop_hold_take(e);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "holding %s: %s", name, strerror(-r));
		return r == -EBUSY || r == -EAGAIN ? -EAGAIN : r;
	}
	loop_state_flush(); /* with its node's owner, before the container sees the node */
	tree = loop_clone_tree(loop_node.nodes, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
	                       &loop_node.nodes_staged);
	if (tree < 0) {
		r = tree;
		snprintf(rq->detail, sizeof(rq->detail), "cloning the node of %s: %s", name,
		         strerror(-r));
		return r;
	}
	r = loop_attach_in_view(rq, tree, "/dev", name, true, uid, gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "placing /dev/%s in the container: %s",
		         name, strerror(-r));
		return r;
	}
	r = loop_view_install(rq);
	if (r < 0)
		log_warn("%s: cannot overmount /sys/block: %s; host loop devices stay listed",
		         rq->c->id, strerror(-r));
	loop_view_link(rq->c->id, nr, true);
	return 0;
}

int loop_device_get(struct request *rq, int want, unsigned max)
{
	const char *id = rq->c->id;
	struct loop_entry *e, *next;
	bool added = false;
	unsigned owned = 0;
	int nr = -1, r, tries = 0;

	r = target_open_proc(&rq->t);
	if (r < 0)
		return r;
	/* Before the lock: it may run a helper (uevent.h). */
	uevent_container_attach(rq);
	/*
	 * So that the devices go when the container does -- also after a
	 * restart: the entry's state file says it carries them before the
	 * table has any (loop_device_restore() loads the table).
	 */
	if (!container_resource_find(rq->c, &loop_res_ops)) {
		if (!container_resource(rq->c, &loop_res_ops, sizeof(struct container_resource)))
			return -ENOMEM;
		container_save(rq->c);
	}
	pthread_mutex_lock(&loop_state.lock);
	loop_retry_draining();
	/* Its devices detached or due to be (autoclear) are free again first. */
	for (e = loop_state.devices; e; e = next) {
		next = e->next;
		if (e->owner && !strcmp(e->owner, id))
			e->clearing ? loop_entry_settle(e) : loop_entry_reap(e);
	}
	for (e = loop_state.devices; e; e = e->next) {
		if (!e->owner || strcmp(e->owner, id))
			continue;
		owned++;
		if (want >= 0 && e->nr == want) {
			r = -EEXIST;
			goto out;
		}
		if (want < 0 && nr < 0 && e->hold >= 0)
			nr = e->nr; /* GET_FREE: one of its own that is free */
	}
	if (nr >= 0) {
		r = nr;
		goto out;
	}
	for (struct loop_expired *x = loop_state.expired; x; x = x->next)
		if (!strcmp(x->owner, id) && loop_now_ms() - x->at < FRESH_COOLDOWN_MS) {
			/*
			 * Rate limit: after one of its fresh devices expired, no
			 * new one for FRESH_COOLDOWN_MS, so that a container
			 * asking again and again leaves the host's losetup -f a
			 * window.
			 */
			snprintf(
			    rq->detail, sizeof(rq->detail),
			    "a fresh loop device of this container expired unbound %ld ms ago; "
			    "no new one for %d ms",
			    loop_now_ms() - x->at, FRESH_MS);
			r = -EAGAIN;
			goto out;
		}
	if (owned >= max) {
		snprintf(rq->detail, sizeof(rq->detail),
		         "container holds %u loop devices, profile max-loop-devices = %u", owned,
		         max);
		r = max ? -ENOSPC : -EPERM;
		goto out;
	}
again:
	e = calloc(1, sizeof(*e));
	if (!e || !(e->owner = strdup(id))) {
		free(e);
		r = -ENOMEM;
		goto out;
	}
	e->backing = e->hold = e->pin = -EBADF;
	r = loop_ctl(LOOP_CTL_ADD, want);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "LOOP_CTL_ADD on the host: %s",
		         strerror(-r));
		free(e->owner);
		free(e);
		goto out;
	}
	e->nr = r;
	/* A crash from here on: the successor removes it unless its table has it. */
	inflight_mark(INFLIGHT_LOOP_ADDED, (uint64_t)r, 0);
	e->next = loop_state.devices;
	loop_state.devices = e;
	/*
	 * In the state file before the container can have its node: a
	 * successor must know the device to hold it (or delete it), whenever
	 * this notifyd dies from here on.
	 */
	loop_state.dirty = true;
	loop_state_flush();
	r = place(rq, e);
	if (r == -EAGAIN) {
		/* The host bound it first (its LOOP_CTL_GET_FREE found it): theirs. */
		loop_entry_forget(e);
		if (want < 0 && ++tries < 3) {
			rq->detail[0] = '\0';
			goto again;
		}
		r = want < 0 ? -EAGAIN : -EEXIST;
	} else if (r < 0) {
		loop_entry_release(e);
	} else {
		e->placed = true;
		loop_state.dirty = true;
		r = e->nr;
		added = true;
		uevent_loop(id, UEVENT_ADD, e->nr);
	}
out:
	if (loop_state.devices)
		loop_schedule_maintenance();
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
	if (added)
		inflight_crash_point(
		    "after-loop-add"); /* a new device, in the state file as placed */
	return r;
}

int loop_device_remove(struct request *rq, int nr)
{
	struct loop_entry *e;
	char path[32];
	int r = 0;

	r = target_open_proc(&rq->t);
	if (r < 0)
		return r;
	pthread_mutex_lock(&loop_state.lock);
	e = entry_find(nr);
	if (!e || !e->owner || strcmp(e->owner, rq->c->id)) {
		snprintf(rq->detail, sizeof(rq->detail), "loop%d is not this container's", nr);
		r = -EPERM;
	} else if (e->clearing && (loop_entry_settle(e), e->clearing)) {
		r = -EBUSY; /* still bound: its last close has not come */
	} else if (e->hold < 0) {
		r = -EBUSY; /* bound */
	} else {
		loop_entry_release(e);
		loop_state.drain_until = loop_now_ms() + 5000;
		loop_schedule_maintenance();
	}
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
	if (r < 0)
		return r;
	/* Its node goes from the container's /dev, as devtmpfs would do. */
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	if (view_enter(rq->t.procfd, 1) >= 0) {
		loop_umount_stack(path);
		unlink(path);
		view_leave();
	}
	return 0;
}

/*
 * The hold is closed, but a helper process another worker cloned (without
 * CLONE_FILES) while it was open has a copy, and the exclusive claim lasts
 * until that copy is closed too: a mount of the device would fail with EBUSY
 * meanwhile.  Such helpers live for milliseconds; wait (up to 200 ms) until
 * an exclusive open works, before the container is told the device is bound.
 */
static void claim_wait(int nr)
{
	char name[24];
	int fd;

	loop_node_name(nr, name, sizeof(name));
	for (int i = 0; i < 200; i++) {
		fd = openat(loop_node.nodes, name, O_RDONLY | O_EXCL | O_CLOEXEC);
		if (fd >= 0 || errno != EBUSY)
			break;
		usleep(1000);
	}
	safe_close(fd);
}

int loop_device_bind(const char *container_id, int nr, struct loop_config *cfg, int backing,
                     bool ro)
{
	struct loop_entry *e;
	char name[24];
	int r = -EPERM;

	pthread_mutex_lock(&loop_state.lock);
	e = entry_find(nr);
	if (!e || !e->owner || strcmp(e->owner, container_id))
		goto out; /* given up while the ioctl that binds it ran */
	if (e->clearing && !loop_entry_settle(e))
		goto out;
	r = -EBUSY; /* bound, or still being detached: the kernel's answer */
	if (e->hold < 0)
		goto out;
	/* The kernel's rule for the caller's own open: read-only gives a read-only device. */
	if (ro)
		cfg->info.lo_flags |= LO_FLAGS_READ_ONLY;
	cfg->fd = (uint32_t)backing;
	inflight_mark(INFLIGHT_LOOP_CONFIGURING, (uint64_t)nr, 0);
	if (ioctl(e->hold, LOOP_CONFIGURE, cfg) < 0) {
		r = -errno;
		goto out;
	}
	inflight_mark(INFLIGHT_LOOP_CONFIGURED, (uint64_t)nr, 0);
	/* Bound: the pin keeps the detach ours; drop the hold so that mounts can claim it. */
	loop_node_name(nr, name, sizeof(name));
	e->pin = openat(loop_node.nodes, name, O_RDONLY | O_CLOEXEC);
	if (e->pin < 0) {
		r = -errno;
		log_warn("loop%d: cannot keep the bound device open: %m; given up", nr);
		loop_entry_release(e);
		goto out;
	}
	e->hold = safe_close(e->hold);
	safe_close(e->backing);
	e->backing = backing;
	backing = -EBADF;
	loop_fd_sync(e); /* the pin replaces the hold in the store */
	uevent_loop(container_id, UEVENT_BIND, nr);
	r = 0;
	loop_schedule_maintenance();
out:
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
	safe_close(backing);
	if (r == 0) {
		claim_wait(nr);
		inflight_crash_point("after-loop-configure");
	}
	return r;
}

void loop_device_cleared(const char *container_id, int nr)
{
	struct loop_entry *e;

	pthread_mutex_lock(&loop_state.lock);
	e = entry_find(nr);
	if (e && e->owner && !strcmp(e->owner, container_id) && e->pin >= 0) {
		/* Revoked first: once the pin is gone the container's last close detaches it. */
		loop_node_revoke(nr);
		ioctl(e->pin, LOOP_CLR_FD, 0);
		e->pin = safe_close(e->pin);
		e->backing = safe_close(e->backing);
		e->clearing = true;
		e->clear_ticks = 0;
		loop_fd_sync(e);
		loop_entry_settle(e);
		loop_schedule_maintenance();
	}
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
}

int loop_device_set_backing(const char *container_id, int nr, int fd)
{
	struct loop_entry *e;
	int r = -EPERM;

	pthread_mutex_lock(&loop_state.lock);
	e = entry_find(nr);
	if (e && e->owner && !strcmp(e->owner, container_id)) {
		safe_close(e->backing);
		e->backing = fd;
		fd = -EBADF;
		loop_fd_sync(e);
		r = 0;
	}
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
	safe_close(fd);
	return r;
}

int loop_device_open_backing(const char *container_id, dev_t rdev, bool rw)
{
	struct loop_info64 info;
	struct loop_entry *e;
	struct stat st;
	char path[64];
	int r = -ENXIO, fl;

	pthread_mutex_lock(&loop_state.lock);
	e = entry_find((int)minor(rdev));
	if (!e || !e->owner || strcmp(e->owner, container_id)) {
		r = -EPERM;
	} else if (e->backing >= 0 && loop_dev_bound(e->nr, &info) && fstat(e->backing, &st) == 0 &&
	           info.lo_device == st.st_dev && info.lo_inode == st.st_ino) {
		fl = fcntl(e->backing, F_GETFL);
		if (rw && ((info.lo_flags & LO_FLAGS_READ_ONLY) || (fl & O_ACCMODE) == O_RDONLY)) {
			r = -EACCES;
		} else {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", e->backing);
			r = open(path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
			if (r < 0)
				r = -errno;
		}
	}
	pthread_mutex_unlock(&loop_state.lock);
	return r;
}

/* The container's last entry hung up: its devices are detached and deleted. */
static void loop_res_gone(struct container *c, struct container_resource *res, bool last)
{
	const char *container_id = c->id;
	struct loop_entry *e, *next;
	struct loop_view *v;
	unsigned n = 0;

	(void)res;
	if (!last)
		return; /* a `runc exec` ended: the container keeps them (moved to another entry) */
	pthread_mutex_lock(&loop_state.lock);
	for (e = loop_state.devices; e; e = next) {
		next = e->next;
		if (!e->owner || strcmp(e->owner, container_id))
			continue;
		/*
		 * notifyd stopping: a running container keeps the devices it uses
		 * (open fds, mounts), but cannot open them anew: once notifyd is
		 * gone nothing keeps their detach from leaving an unbound device
		 * behind a node of the container's.
		 */
		if (loop_state.shutting_down && (e->pin >= 0 || e->clearing)) {
			loop_node_revoke(e->nr);
			continue;
		}
		n++;
		loop_entry_release(e);
	}
	for (struct loop_expired **p = &loop_state.expired; *p; p = &(*p)->next)
		if (!strcmp((*p)->owner, container_id)) {
			struct loop_expired *x = *p;

			*p = x->next;
			free(x->owner);
			free(x);
			break;
		}
	for (struct loop_view **p = &loop_node.views; *p; p = &(*p)->next)
		if (!strcmp((*p)->owner, container_id)) {
			char name[24];

			v = *p;
			*p = v->next;
			snprintf(name, sizeof(name), "lv.%u", v->serial);
			fdstore_remove(name);
			loop_state.dirty = true;
			safe_close(v->fd);
			free(v->owner);
			free(v);
			break;
		}
	if (loop_retry_draining() && !loop_state.shutting_down) {
		loop_state.drain_until = loop_now_ms() + 5000;
		loop_schedule_maintenance();
	}
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
	uevent_container_forget(container_id); /* after the remove events above */
	if (n)
		log_info("container %s gone: its %u loop device%s detached and freed", container_id,
		         n, n == 1 ? "" : "s");
}

static unsigned loop_res_count(struct container *c, const struct container_resource *res)
{
	unsigned n = 0;

	(void)res;
	pthread_mutex_lock(&loop_state.lock);
	for (struct loop_entry *e = loop_state.devices; e; e = e->next)
		n += e->owner && !strcmp(e->owner, c->id);
	pthread_mutex_unlock(&loop_state.lock);
	return n;
}

/* The table is in the state file "loop"; the entry's part only marks the resource. */
static struct json_object *loop_res_save(struct container *c, struct container_resource *res)
{
	(void)c;
	(void)res;
	return json_object_new_object();
}

/*
 * One device of the table a notifyd before us left, reconciled with the
 * kernel and the fds the store handed back (lock held).  Returns the entry
 * to add, or NULL when the device is not ours any more (deleted, or bound
 * by somebody else while it was unbound and unheld).
 */
static struct loop_entry *restore_device(struct json_object *o)
{
	unsigned long long nr, uid, gid, clearing = 0, placed = 1;
	const char *owner = NULL;
	struct loop_entry *e;
	char name[24], path[64];
	struct stat st;
	int l, r;

	if (state_get_u64(o, "nr", &nr) < 0 || nr > (1u << 20) ||
	    state_get_u64(o, "uid", &uid) < 0 || state_get_u64(o, "gid", &gid) < 0)
		return NULL;
	(void)state_get_str(o, "owner", &owner);
	(void)state_get_u64(o, "clearing", &clearing);
	(void)state_get_u64(o, "placed", &placed);
	snprintf(name, sizeof(name), "l.%llu", nr);
	l = fdstore_take(name);
	e = calloc(1, sizeof(*e));
	if (!e || (owner && !(e->owner = strdup(owner)))) {
		free(e);
		safe_close(l);
		return NULL;
	}
	e->nr = (int)nr;
	e->placed = placed != 0;
	e->uid = (uid_t)uid;
	e->gid = (gid_t)gid;
	e->hold = e->pin = -EBADF;
	snprintf(name, sizeof(name), "b.%llu", nr);
	e->backing = fdstore_take(name);
	if (e->backing < 0)
		e->backing = -EBADF;
	snprintf(path, sizeof(path), "/sys/devices/virtual/block/loop%llu", nr);
	loop_node_name(e->nr, name, sizeof(name));
	if (access(path, F_OK) < 0) {
		/* Deleted meanwhile (by us before we died, or by the host): nothing left. */
		safe_close(l);
		safe_close(e->backing);
		free(e->owner);
		free(e);
		return NULL;
	}
	if (e->owner &&
	    (loop_node.nodes < 0 || fstatat(loop_node.nodes, name, &st, AT_SYMLINK_NOFOLLOW) < 0)) {
		/* Its node was taken away (given up) before the table was saved: to delete. */
		free(e->owner);
		e->owner = NULL;
	}
	if (!e->owner) { /* given up, waiting to be deleted: loop_retry_draining() */
		safe_close(l);
		e->backing = safe_close(e->backing);
		return e;
	}
	if (loop_sysfs_bound(e->nr)) {
		if (clearing) {
			/* The container detached it; its last close is still to come. */
			safe_close(l);
			e->backing = safe_close(e->backing);
			loop_node_revoke(e->nr);
			e->clearing = true;
			return e;
		}
		/* Bound: a plain pin (the stored fd may be the O_EXCL hold it was bound through).
		 */
		e->pin = loop_node_open(e->nr);
		if (e->pin >= 0)
			safe_close(l);
		else
			e->pin = l;
		return e;
	}
	/* Unbound: fresh.  The stored hold is still exclusive; without it, take one now. */
	e->backing = safe_close(e->backing);
	if (l >= 0) {
		e->hold = l;
		e->fresh_since = loop_now_ms();
	} else {
		r = loop_hold_take(e);
		if (r == -EBUSY) { /* bound by the host while unheld: theirs */
			loop_entry_forget(e);
			return NULL;
		}
		if (r < 0) {
			/*
			 * Cannot hold it yet (a close still detaching it, a
			 * claim): revoke the node and let the maintenance
			 * thread take the hold and give the node back, as
			 * after a detach.
			 */
			loop_node_revoke(e->nr);
			e->clearing = true;
			return e;
		}
	}
	if (clearing && loop_node_restore(e) < 0)
		log_warn("loop%d: cannot give the node back to %s", e->nr, e->owner);
	return e;
}

/* Lock held: load the table, views and node tmpfs a notifyd before us left. */
static void restore_table(void)
{
	struct json_object *o = NULL, *a;
	unsigned n = 0;

	if (state_read("loop", &o) < 0)
		return;
	loop_node.nodes = fdstore_take("loop-nodes");
	if (loop_node.nodes < 0)
		loop_node.nodes = -EBADF;
	if (json_object_object_get_ex(o, "views", &a) && json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct json_object *vo = json_object_array_get_idx(a, i);
			unsigned long long serial;
			const char *owner;
			struct loop_view *v;
			char name[24];
			int fd;

			if (state_get_u64(vo, "serial", &serial) < 0 ||
			    state_get_str(vo, "owner", &owner) < 0)
				continue;
			snprintf(name, sizeof(name), "lv.%llu", serial);
			fd = fdstore_take(name);
			v = fd >= 0 ? calloc(1, sizeof(*v)) : NULL;
			if (!v || !(v->owner = strdup(owner))) {
				free(v);
				safe_close(fd);
				continue;
			}
			v->fd = fd;
			v->serial = (unsigned)serial;
			if (v->serial > loop_state.view_serial)
				loop_state.view_serial = v->serial;
			v->next = loop_node.views;
			loop_node.views = v;
		}
	if (json_object_object_get_ex(o, "devices", &a) && json_object_is_type(a, json_type_array))
		for (size_t i = 0; i < json_object_array_length(a); i++) {
			struct loop_entry *e = restore_device(json_object_array_get_idx(a, i));

			if (!e)
				continue;
			e->next = loop_state.devices;
			loop_state.devices = e;
			n++;
			loop_fd_sync(e);
			/*
			 * Being handed out when notifyd died (the request is
			 * still in flight and is handled again): given up as
			 * at any failed hand-out, node taken back first.
			 */
			if (e->owner && !e->placed) {
				log_info("loop%d: was being handed out to %s; given up", e->nr,
				         e->owner);
				loop_entry_release(e); /* may free e */
				loop_state.drain_until = loop_now_ms() + 5000;
				continue;
			}
			if (!e->owner)
				loop_state.drain_until = loop_now_ms() + 5000;
		}
	json_object_put(o);
	loop_state.dirty = true;
	if (loop_state.devices)
		loop_schedule_maintenance();
	log_info("loop devices: %u taken over from the notifyd before us", n);
}

int loop_device_restore(struct container *c, struct json_object *obj)
{
	static bool loaded;

	(void)obj;
	if (!container_resource(c, &loop_res_ops, sizeof(struct container_resource)))
		return -ENOMEM;
	pthread_mutex_lock(&loop_state.lock);
	if (!loaded) {
		loaded = true;
		restore_table();
	}
	loop_state_flush();
	pthread_mutex_unlock(&loop_state.lock);
	return 0;
}

void loop_device_shutdown(void)
{
	pthread_mutex_lock(&loop_state.lock);
	loop_state.shutting_down = true;
	if (loop_state.maintaining)
		pthread_cond_signal(&loop_state.kick);
	pthread_mutex_unlock(&loop_state.lock);
}
