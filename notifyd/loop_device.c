// SPDX-License-Identifier: MIT
/* Private loop devices for containers: the table, nodes and views (loop_device.h). */
#include "notifyd/loop_device.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/*
 * A device's state (docs/loop.md "States of a container's loop device"):
 *   fresh     unbound; hold is notifyd's O_EXCL fd, so no LOOP_CONFIGURE or
 *             LOOP_SET_FD but notifyd's own (on hold) can bind it (EBUSY);
 *   bound     bound to the container's file; pin is a plain fd of notifyd's,
 *             so the device is detached only at a close notifyd makes;
 *   clearing  the container detached it (or its autoclear is due): its node
 *             is revoked (host root, mode 0) before notifyd let go of it, and
 *             it becomes fresh again (hold taken, node given back) once the
 *             kernel has detached it at the last close;
 *   gone      owner NULL: given up, node unlinked, waiting to be deleted;
 *             also a fresh device not bound within FRESH_MS (entry_expire).
 * The container can open or hold a device only while it is fresh or bound.
 */
struct loop_entry {
	struct loop_entry *next;
	int nr;
	char *owner; /* container id; NULL while waiting to be deleted */
	int backing; /* our copy of the file given to LOOP_CONFIGURE/SET_FD, or -EBADF */
	int hold;    /* fresh: O_EXCL fd of the unbound device, else -EBADF */
	int pin;     /* bound: plain fd of the bound device, else -EBADF */
	bool clearing;
	unsigned clear_ticks; /* maintenance ticks spent clearing */
	long fresh_since;     /* ms (CLOCK_MONOTONIC) the hold was taken; see FRESH_MS */
	uid_t uid;            /* the container's root: owner of the node */
	gid_t gid;
};

/* A container's /sys/block: a tmpfs of symlinks, kept writable through fd. */
struct loop_view {
	struct loop_view *next;
	char *owner;
	int fd;
};

/* A container whose fresh device expired (entry_expire), for the rate limit. */
struct loop_expired {
	struct loop_expired *next;
	char *owner;
	long at; /* ms (CLOCK_MONOTONIC) of its last expiry */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct loop_entry *devices;
static struct loop_view *views;
static struct loop_expired *expired;
static int nodes = -EBADF; /* detached tmpfs: one block node per device, "loopN" */
static bool nodes_staged;  /* nodes is attached in the staging namespace (clone_tree) */
static bool shutting_down;

static void loop_res_gone(struct container *c, struct container_resource *res, bool last);
static unsigned loop_res_count(struct container *c, const struct container_resource *res);
static void loop_res_release(struct container_resource *res)
{
	free(res);
}

/*
 * A container that asked for a loop device carries this resource; the
 * devices themselves are in `devices` by container id: they belong to the
 * container (a `runc exec` may create them), not to one entry.
 */
static const struct container_resource_ops loop_res_ops = {
    .name = "loop-devices",
    .gone = loop_res_gone,
    .count = loop_res_count,
    .release = loop_res_release,
    .follows_id = true,
};

static int loop_ctl(unsigned long cmd, long arg)
{
	_cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int r;

	if (ctl < 0)
		return -errno;
	r = ioctl(ctl, cmd, arg);
	return r < 0 ? -errno : r;
}

/* A fresh tmpfs, detached, as a mount fd; nodes on it are not nodev. */
static int tmpfs_new(const char *mode)
{
	_cleanup_close_ int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	int m;

	if (fs < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "mode", mode, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	return m < 0 ? -errno : m;
}

/*
 * Linux before 6.15 (Debian 12's 6.1) refuses open_tree(OPEN_TREE_CLONE) of
 * a mount that is in no mount namespace, as a fresh fsmount() is (EINVAL).
 * There the detached tmpfs is first attached in a mount namespace private to
 * notifyd ("staging": a copy of the host's, every mount made private so
 * nothing propagates back, with a tmpfs of its own on top to attach on) and
 * cloned from inside it.  The node tmpfs stays attached there (*staged);
 * a view's is detached again at once (staged == NULL).  Worker threads only:
 * they have their own fs (view_thread_init) and view_leave() brings them back.
 */
static pthread_mutex_t stage_lock = PTHREAD_MUTEX_INITIALIZER;
static int stage_ns = -EBADF, stage_root = -EBADF;
static unsigned stage_seq;

/*
 * In the staging namespace, made on first use; view_leave() afterwards.  Its
 * root is a tmpfs of its own: the copy of the host's mounts that unshare()
 * makes is dropped at once (pivot_root(".", ".") + detach), as it would pin
 * every host mount (busy devices, superblocks never freed).
 */
static int stage_enter(void)
{
	_cleanup_close_ int root = -EBADF, ns = -EBADF;

	if (stage_ns >= 0)
		return setns(stage_ns, CLONE_NEWNS) < 0 ? -errno : 0;
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	ns = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	root = tmpfs_new("0700");
	if (root < 0)
		return root;
	if (syscall(SYS_move_mount, root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
	    fchdir(root) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 ||
	    umount2(".", MNT_DETACH) < 0)
		return -errno;
	stage_ns = TAKE_FD(ns);
	stage_root = TAKE_FD(root);
	return 0;
}

static int clone_tree(int mnt, const char *name, unsigned flags, bool *staged)
{
	char dir[32];
	int t, r;

	t = (int)syscall(SYS_open_tree, mnt, name, flags);
	if (t >= 0 || errno != EINVAL)
		return t >= 0 ? t : -errno;
	pthread_mutex_lock(&stage_lock);
	r = stage_enter();
	snprintf(dir, sizeof(dir), "s%u", stage_seq++);
	if (r >= 0 && !(staged && *staged)) {
		if (mkdirat(stage_root, dir, 0700) < 0 ||
		    syscall(SYS_move_mount, mnt, "", stage_root, dir, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			r = -errno;
		else if (staged)
			*staged = true;
	}
	if (r >= 0) {
		t = (int)syscall(SYS_open_tree, mnt, name, flags);
		r = t >= 0 ? t : -errno;
		/* A view's tmpfs leaves again; its fd stays usable for its symlinks. */
		if (!staged && fchdir(stage_root) == 0 && umount2(dir, MNT_DETACH) == 0)
			unlinkat(stage_root, dir, AT_REMOVEDIR);
	}
	view_leave();
	pthread_mutex_unlock(&stage_lock);
	return r;
}

static void node_name(int nr, char *buf, size_t size)
{
	snprintf(buf, size, "loop%d", nr);
}

/*
 * Take the node away from whoever still has it bound: owned by host root,
 * mode 0, so even a container root with CAP_DAC_OVERRIDE cannot open it
 * (its ids are not mapped).  Then drop the name; binds keep the dead inode.
 */
static void node_neutralize(int nr)
{
	char name[24];

	node_name(nr, name, sizeof(name));
	if ((fchownat(nodes, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
	     fchmodat(nodes, name, 0, 0) < 0) &&
	    errno != ENOENT)
		log_warn("loop%d: cannot take the node back from its container: %m", nr);
	unlinkat(nodes, name, 0);
}

/*
 * Revoke the node, keeping its inode (clearing): a bind the container has
 * stays, but opens nothing until node_restore().  An open that passed the
 * permission check before this still reaches the device; see
 * docs/loop.md on why that is harmless.
 */
static void node_revoke(int nr)
{
	char name[24];

	node_name(nr, name, sizeof(name));
	if (fchownat(nodes, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(nodes, name, 0, 0) < 0)
		log_warn("loop%d: cannot revoke the node from its container: %m", nr);
}

static int node_restore(const struct loop_entry *e)
{
	char name[24];

	node_name(e->nr, name, sizeof(name));
	if (fchownat(nodes, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(nodes, name, 0660, 0) < 0)
		return -errno;
	return 0;
}

/* A new inode per hand-out, so a container's stale bind never names the next owner's. */
static int node_make(int nr, uid_t uid, gid_t gid)
{
	char name[24];

	if (nodes < 0) {
		nodes = tmpfs_new("0700");
		if (nodes < 0)
			return nodes;
	}
	node_neutralize(nr);
	node_name(nr, name, sizeof(name));
	if (mknodat(nodes, name, S_IFBLK | 0660, makedev(LOOP_MAJOR_NR, nr)) < 0 ||
	    fchownat(nodes, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int node_open(int nr)
{
	char name[24];
	int fd;

	if (nodes < 0)
		return -ENOENT;
	node_name(nr, name, sizeof(name));
	fd = openat(nodes, name, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Is the device bound to a file?  Fills *info when it is. */
static bool dev_bound(int nr, struct loop_info64 *info)
{
	_cleanup_close_ int fd = node_open(nr);
	struct loop_info64 tmp;

	return fd >= 0 && ioctl(fd, LOOP_GET_STATUS64, info ? info : &tmp) == 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * How long a device stays fresh (held O_EXCL, unbound) before notifyd gives
 * it up.  While the container holds the lowest-numbered unbound device,
 * every host `losetup -f` spins (util-linux retries GET_FREE as long as
 * LOOP_CONFIGURE answers EBUSY), so the hold must be short.  losetup's own
 * GET_FREE -> open -> LOOP_CONFIGURE takes microseconds; 2 s leaves room for
 * a loaded machine and a slow `mount -o loop`, and bounds the host's stall.
 */
#define FRESH_MS 2000
/*
 * After one of a container's fresh devices expired, it gets no new device
 * for this long: a host `losetup -f` that spun on the expired one retries
 * within microseconds, so half a second is ample for it to get through, and
 * short enough for a container's legitimate retry.
 */
#define FRESH_COOLDOWN_MS 500

/*
 * Take the O_EXCL hold of an unbound device (fresh).  -EBUSY if it is bound:
 * between LOOP_CTL_ADD (or the detach) and this open, somebody else (the
 * host) bound it, and it is theirs.
 */
static int hold_take(struct loop_entry *e)
{
	struct loop_info64 info;
	char name[24];
	int fd;

	node_name(e->nr, name, sizeof(name));
	fd = openat(nodes, name, O_RDWR | O_EXCL | O_CLOEXEC);
	if (fd < 0) /* EBUSY: claimed (a LOOP_CONFIGURE or mount running); ENXIO: detaching */
		return errno == EBUSY ? -EAGAIN : -errno;
	if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0) {
		close(fd);
		return -EBUSY;
	}
	e->hold = fd;
	e->fresh_since = now_ms();
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
}

static struct loop_entry *entry_find(int nr)
{
	for (struct loop_entry *e = devices; e; e = e->next)
		if (e->nr == nr)
			return e;
	return NULL;
}

static struct loop_view *view_find(const char *owner)
{
	for (struct loop_view *v = views; v; v = v->next)
		if (!strcmp(v->owner, owner))
			return v;
	return NULL;
}

static void view_link(const char *owner, int nr, bool add)
{
	struct loop_view *v = view_find(owner);
	char name[24], target[64];

	if (!v)
		return;
	node_name(nr, name, sizeof(name));
	snprintf(target, sizeof(target), "../devices/virtual/block/%s", name);
	if (add && symlinkat(target, v->fd, name) < 0)
		log_warn("%s: cannot list loop%d in its /sys/block: %m", owner, nr);
	else if (!add)
		unlinkat(v->fd, name, 0);
}

/*
 * Detach and delete.  Called with the lock held; the entry stays (owner
 * NULL) while some fd, a mount, or a container's leftover bind keeps the
 * device open, and is never handed out again until deletion succeeds.
 */
static void entry_release(struct loop_entry *e)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (e->owner) {
		view_link(e->owner, e->nr, false);
		/* Clearing: no fd of ours; one to mark it for detaching (it may still be bound). */
		if (e->hold < 0 && e->pin < 0)
			fd = node_open(e->nr);
		/* The node first: from here the container opens nothing new. */
		node_neutralize(e->nr);
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
	}
	e->backing = safe_close(e->backing);
	fd = safe_close(fd);
	r = loop_ctl(LOOP_CTL_REMOVE, e->nr);
	if (r < 0 && r != -ENODEV)
		log_debug("loop%d: not deleted yet (%s); kept out of use until it can be", e->nr,
		          strerror(-r));
	if (r >= 0 || r == -ENODEV) { /* ENODEV: somebody else deleted it already */
		for (struct loop_entry **p = &devices; *p; p = &(*p)->next)
			if (*p == e) {
				*p = e->next;
				break;
			}
		free(e);
	}
}

/*
 * The device is not ours any more: somebody else bound it while it was
 * unbound and the container could not open it (between LOOP_CTL_ADD and the
 * hold, or between the detach and the hold).  Forget it, never touch it.
 */
static void entry_forget(struct loop_entry *e)
{
	log_info("loop%d: bound by someone else while unbound and not the container's to open; "
	         "no longer notifyd's",
	         e->nr);
	if (e->owner)
		view_link(e->owner, e->nr, false);
	node_neutralize(e->nr);
	safe_close(e->hold);
	safe_close(e->pin);
	safe_close(e->backing);
	for (struct loop_entry **p = &devices; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			break;
		}
	free(e->owner);
	free(e);
}

/* Is the device still bound (the kernel's sysfs, without opening it)? */
static bool sysfs_bound(int nr)
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
static bool entry_settle(struct loop_entry *e)
{
	int r;

	if (!e->owner || !e->clearing)
		return true;
	if (sysfs_bound(e->nr))
		return true;
	r = hold_take(e);
	if (r == -EBUSY) {
		entry_forget(e);
		return false;
	}
	if (r < 0)
		return true; /* ENXIO: its last close is still detaching it; next tick */
	r = node_restore(e);
	if (r < 0) {
		log_warn("loop%d: cannot give the node back to %s: %s", e->nr, e->owner,
		         strerror(-r));
		return true; /* stays fresh with the node revoked: useless, but safe */
	}
	e->clearing = false;
	e->clear_ticks = 0;
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
static bool entry_reap(struct loop_entry *e)
{
	struct loop_info64 info;
	char name[24];
	int probe;

	if (!e->owner || e->pin < 0 || ioctl(e->pin, LOOP_GET_STATUS64, &info) < 0 ||
	    !(info.lo_flags & LO_FLAGS_AUTOCLEAR))
		return true;
	ioctl(e->pin, LOOP_CLR_FD, 0);
	node_name(e->nr, name, sizeof(name));
	probe = openat(nodes, name, O_RDONLY | O_CLOEXEC);
	if (probe >= 0 || errno != ENXIO) {
		safe_close(probe);
		return true;
	}
	node_revoke(e->nr);
	e->pin = safe_close(e->pin);
	e->backing = safe_close(e->backing);
	e->clearing = true;
	return entry_settle(e);
}

/* Retries deleting devices given up; true if some are still waiting. */
static bool retry_draining(void)
{
	struct loop_entry *e = devices, *next;
	bool left = false;

	for (; e; e = next) {
		next = e->next;
		if (!e->owner)
			entry_release(e);
	}
	for (e = devices; e && !left; e = e->next)
		left = !e->owner;
	return left;
}

static bool maintaining; /* the maintenance thread runs; under lock */
static long drain_until; /* ms (CLOCK_MONOTONIC) until which deletions are retried */

/*
 * A fresh device the container has not bound within FRESH_MS is given up
 * like one it removed (entry_release: node revoked before the hold is
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
	for (x = expired; x && strcmp(x->owner, e->owner); x = x->next)
		;
	if (!x && (x = calloc(1, sizeof(*x)))) {
		x->owner = strdup(e->owner);
		if (x->owner) {
			x->next = expired;
			expired = x;
		} else {
			x = (free(x), NULL);
		}
	}
	if (x)
		x->at = now_ms();
	entry_release(e);
	drain_until = now_ms() + 5000;
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

	for (e = devices; e; e = next) {
		next = e->next;
		if (!e->owner || !(e->clearing ? entry_settle(e) : entry_reap(e)))
			continue;
		if (e->hold >= 0 && !e->clearing) {
			long left = e->fresh_since + FRESH_MS - now_ms();

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
	if (retry_draining() && now_ms() < drain_until)
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
static pthread_cond_t kick; /* timed on CLOCK_MONOTONIC; made once, under lock */
static bool kick_ready;

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
	pthread_mutex_lock(&lock);
	while (!shutting_down) {
		delay = maintain();
		if (!delay) {
			pthread_cond_wait(&kick, &lock);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)delay * 1000000;
		ts.tv_sec += ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&kick, &lock, &ts);
	}
	maintaining = false;
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* With the lock held: something changed, have a look. */
static void schedule_maintenance(void)
{
	pthread_condattr_t ca;
	pthread_attr_t a;
	pthread_t t;
	sem_t started;

	if (maintaining) {
		pthread_cond_signal(&kick);
		return;
	}
	if (shutting_down)
		return;
	if (!kick_ready) {
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&kick, &ca);
		pthread_condattr_destroy(&ca);
		kick_ready = true;
	}
	sem_init(&started, 0, 0);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	maintaining = pthread_create(&t, &a, maintain_thread, &started) == 0;
	pthread_attr_destroy(&a);
	if (!maintaining)
		log_warn("cannot start the loop maintenance thread; detached devices stay revoked "
		         "until the next hand-out");
	while (maintaining && sem_wait(&started) < 0 && errno == EINTR)
		;
	sem_destroy(&started);
}

enum loop_access loop_device_access(const char *container_id, dev_t rdev)
{
	enum loop_access a = LOOP_UNMANAGED;
	struct loop_entry *e;

	if (major(rdev) != LOOP_MAJOR_NR)
		return LOOP_UNMANAGED;
	pthread_mutex_lock(&lock);
	e = entry_find((int)minor(rdev));
	if (e)
		a = e->owner && !strcmp(e->owner, container_id) ? LOOP_OWNED : LOOP_FOREIGN;
	pthread_mutex_unlock(&lock);
	return a;
}

/* Host id that the caller's user namespace maps 0 to (root of the container). */
static int map_root(int procfd, const char *file, unsigned *ret)
{
	char map[4096];
	unsigned inside, outside, count;
	int off = 0, n;

	if (fd_read_file_at(procfd, file, map, sizeof(map)) < 0)
		return -EIO;
	while (sscanf(map + off, " %u %u %u%n", &inside, &outside, &count, &n) == 3) {
		if (inside == 0) {
			*ret = outside;
			return 0;
		}
		off += n;
	}
	return -EPERM; /* no root in there: nobody to give the node to */
}

/*
 * A placeholder file for a bind mount, made as the container's root: the
 * container's /dev is a tmpfs of its user namespace, where ids it does not
 * map cannot own files (EOVERFLOW).  setfsuid is per thread.
 */
static int make_placeholder(int dfd, const char *name, uid_t uid, gid_t gid)
{
	int f, err;

	syscall(SYS_setfsgid, gid);
	syscall(SYS_setfsuid, uid);
	f = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	err = errno;
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	if (f < 0)
		return -err;
	close(f);
	return 0;
}

/* Takes off every mount stacked on path (earlier hand-outs of the same number). */
static void umount_stack(const char *path)
{
	while (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		;
}

/* Mount tree (a clone) onto dir/name in the caller's view (over a placeholder if uid given). */
static int attach_in_view(struct request *rq, int tree, const char *dir, const char *name,
                          bool placeholder, uid_t uid, gid_t gid)
{
	_cleanup_close_ int dfd = -EBADF, t = -EBADF;
	char path[64];
	int r;

	r = view_enter(rq->t.procfd, 1);
	if (r < 0)
		return r;
	dfd = view_open(dir, O_PATH | O_DIRECTORY);
	r = dfd < 0 ? dfd : 0;
	if (r >= 0 && placeholder) {
		/* An earlier hand-out of the same number may still be bound here. */
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		umount_stack(path);
		t = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0 && errno == ENOENT) {
			r = make_placeholder(dfd, name, uid, gid);
			if (r >= 0)
				t = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		}
		if (r >= 0 && t < 0)
			r = -errno;
	} else if (r >= 0) {
		t = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t < 0)
			r = -errno;
	}
	if (r >= 0)
		r = kernel_mount_attach(tree, t);
	view_leave();
	return r;
}

/*
 * The container's /sys/block, made once per container: symlinks to every
 * host block device that is not a loop (taken now: disks added later do not
 * show), plus one per loop device it owns.
 */
static int view_install(struct request *rq)
{
	_cleanup_close_ int m = -EBADF, tree = -EBADF;
	_cleanup_closedir_ DIR *d = NULL;
	struct loop_view *v;
	struct dirent *de;
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
	                                      MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	int r;

	if (view_find(rq->c->id))
		return 0;
	m = tmpfs_new("0755");
	if (m < 0)
		return m;
	d = opendir("/sys/block");
	while (d && (de = readdir(d))) {
		char target[PATH_MAX];
		ssize_t n;

		if (de->d_name[0] == '.' || !strncmp(de->d_name, "loop", 4))
			continue;
		n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (symlinkat(target, m, de->d_name) < 0)
			log_debug("/sys/block/%s not listed for %s: %m", de->d_name, rq->c->id);
	}
	tree = clone_tree(m, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH, NULL);
	if (tree < 0)
		return tree;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	r = attach_in_view(rq, tree, "/sys", "block", false, 0, 0);
	if (r == -ENOENT) {
		log_debug("%s: no /sys/block in the container; no loop view", rq->c->id);
		return 0;
	}
	if (r < 0)
		return r;
	v = calloc(1, sizeof(*v));
	if (!v || !(v->owner = strdup(rq->c->id))) {
		free(v);
		return -ENOMEM;
	}
	v->fd = TAKE_FD(m);
	v->next = views;
	views = v;
	return 0;
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

	r = map_root(rq->t.procfd, "uid_map", &uid);
	if (r >= 0)
		r = map_root(rq->t.procfd, "gid_map", &gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "the container has no root user");
		return r;
	}
	node_name(nr, name, sizeof(name));
	e->uid = uid;
	e->gid = gid;
	r = node_make(nr, uid, gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "making the node of %s: %s", name,
		         strerror(-r));
		return r;
	}
	/* Before the container can open it: from now on nobody else can bind it. */
	r = hold_take(e);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "holding %s: %s", name, strerror(-r));
		return r == -EBUSY || r == -EAGAIN ? -EAGAIN : r;
	}
	tree = clone_tree(nodes, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, &nodes_staged);
	if (tree < 0) {
		r = tree;
		snprintf(rq->detail, sizeof(rq->detail), "cloning the node of %s: %s", name,
		         strerror(-r));
		return r;
	}
	r = attach_in_view(rq, tree, "/dev", name, true, uid, gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "placing /dev/%s in the container: %s",
		         name, strerror(-r));
		return r;
	}
	r = view_install(rq);
	if (r < 0)
		log_warn("%s: cannot overmount /sys/block: %s; host loop devices stay listed",
		         rq->c->id, strerror(-r));
	view_link(rq->c->id, nr, true);
	return 0;
}

int loop_device_get(struct request *rq, int want, unsigned max)
{
	const char *id = rq->c->id;
	struct loop_entry *e, *next;
	unsigned owned = 0;
	int nr = -1, r, tries = 0;

	r = target_open_proc(&rq->t);
	if (r < 0)
		return r;
	/* So that the devices go when the container does. */
	if (!container_resource(rq->c, &loop_res_ops, sizeof(struct container_resource)))
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	retry_draining();
	/* Its devices detached or due to be (autoclear) are free again first. */
	for (e = devices; e; e = next) {
		next = e->next;
		if (e->owner && !strcmp(e->owner, id))
			e->clearing ? entry_settle(e) : entry_reap(e);
	}
	for (e = devices; e; e = e->next) {
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
	for (struct loop_expired *x = expired; x; x = x->next)
		if (!strcmp(x->owner, id) && now_ms() - x->at < FRESH_COOLDOWN_MS) {
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
			    now_ms() - x->at, FRESH_MS);
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
	e->next = devices;
	devices = e;
	r = place(rq, e);
	if (r == -EAGAIN) {
		/* The host bound it first (its LOOP_CTL_GET_FREE found it): theirs. */
		entry_forget(e);
		if (want < 0 && ++tries < 3) {
			rq->detail[0] = '\0';
			goto again;
		}
		r = want < 0 ? -EAGAIN : -EEXIST;
	} else if (r < 0) {
		entry_release(e);
	} else {
		r = e->nr;
	}
out:
	if (devices)
		schedule_maintenance();
	pthread_mutex_unlock(&lock);
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
	pthread_mutex_lock(&lock);
	e = entry_find(nr);
	if (!e || !e->owner || strcmp(e->owner, rq->c->id)) {
		snprintf(rq->detail, sizeof(rq->detail), "loop%d is not this container's", nr);
		r = -EPERM;
	} else if (e->clearing && (entry_settle(e), e->clearing)) {
		r = -EBUSY; /* still bound: its last close has not come */
	} else if (e->hold < 0) {
		r = -EBUSY; /* bound */
	} else {
		entry_release(e);
		drain_until = now_ms() + 5000;
		schedule_maintenance();
	}
	pthread_mutex_unlock(&lock);
	if (r < 0)
		return r;
	/* Its node goes from the container's /dev, as devtmpfs would do. */
	snprintf(path, sizeof(path), "/dev/loop%d", nr);
	if (view_enter(rq->t.procfd, 1) >= 0) {
		umount_stack(path);
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

	node_name(nr, name, sizeof(name));
	for (int i = 0; i < 200; i++) {
		fd = openat(nodes, name, O_RDONLY | O_EXCL | O_CLOEXEC);
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

	pthread_mutex_lock(&lock);
	e = entry_find(nr);
	if (!e || !e->owner || strcmp(e->owner, container_id))
		goto out; /* given up while the ioctl that binds it ran */
	if (e->clearing && !entry_settle(e))
		goto out;
	r = -EBUSY; /* bound, or still being detached: the kernel's answer */
	if (e->hold < 0)
		goto out;
	/* The kernel's rule for the caller's own open: read-only gives a read-only device. */
	if (ro)
		cfg->info.lo_flags |= LO_FLAGS_READ_ONLY;
	cfg->fd = (uint32_t)backing;
	if (ioctl(e->hold, LOOP_CONFIGURE, cfg) < 0) {
		r = -errno;
		goto out;
	}
	/* Bound: the pin keeps the detach ours; drop the hold so that mounts can claim it. */
	node_name(nr, name, sizeof(name));
	e->pin = openat(nodes, name, O_RDONLY | O_CLOEXEC);
	if (e->pin < 0) {
		r = -errno;
		log_warn("loop%d: cannot keep the bound device open: %m; given up", nr);
		entry_release(e);
		goto out;
	}
	e->hold = safe_close(e->hold);
	safe_close(e->backing);
	e->backing = backing;
	backing = -EBADF;
	r = 0;
	schedule_maintenance();
out:
	pthread_mutex_unlock(&lock);
	safe_close(backing);
	if (r == 0)
		claim_wait(nr);
	return r;
}

void loop_device_cleared(const char *container_id, int nr)
{
	struct loop_entry *e;

	pthread_mutex_lock(&lock);
	e = entry_find(nr);
	if (e && e->owner && !strcmp(e->owner, container_id) && e->pin >= 0) {
		/* Revoked first: once the pin is gone the container's last close detaches it. */
		node_revoke(nr);
		ioctl(e->pin, LOOP_CLR_FD, 0);
		e->pin = safe_close(e->pin);
		e->backing = safe_close(e->backing);
		e->clearing = true;
		e->clear_ticks = 0;
		entry_settle(e);
		schedule_maintenance();
	}
	pthread_mutex_unlock(&lock);
}

int loop_device_set_backing(const char *container_id, int nr, int fd)
{
	struct loop_entry *e;
	int r = -EPERM;

	pthread_mutex_lock(&lock);
	e = entry_find(nr);
	if (e && e->owner && !strcmp(e->owner, container_id)) {
		safe_close(e->backing);
		e->backing = fd;
		fd = -EBADF;
		r = 0;
	}
	pthread_mutex_unlock(&lock);
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

	pthread_mutex_lock(&lock);
	e = entry_find((int)minor(rdev));
	if (!e || !e->owner || strcmp(e->owner, container_id)) {
		r = -EPERM;
	} else if (e->backing >= 0 && dev_bound(e->nr, &info) && fstat(e->backing, &st) == 0 &&
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
	pthread_mutex_unlock(&lock);
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
	pthread_mutex_lock(&lock);
	for (e = devices; e; e = next) {
		next = e->next;
		if (!e->owner || strcmp(e->owner, container_id))
			continue;
		/*
		 * notifyd stopping: a running container keeps the devices it uses
		 * (open fds, mounts), but cannot open them anew: once notifyd is
		 * gone nothing keeps their detach from leaving an unbound device
		 * behind a node of the container's.
		 */
		if (shutting_down && (e->pin >= 0 || e->clearing)) {
			node_revoke(e->nr);
			continue;
		}
		n++;
		entry_release(e);
	}
	for (struct loop_expired **p = &expired; *p; p = &(*p)->next)
		if (!strcmp((*p)->owner, container_id)) {
			struct loop_expired *x = *p;

			*p = x->next;
			free(x->owner);
			free(x);
			break;
		}
	for (struct loop_view **p = &views; *p; p = &(*p)->next)
		if (!strcmp((*p)->owner, container_id)) {
			v = *p;
			*p = v->next;
			safe_close(v->fd);
			free(v->owner);
			free(v);
			break;
		}
	if (retry_draining() && !shutting_down) {
		drain_until = now_ms() + 5000;
		schedule_maintenance();
	}
	pthread_mutex_unlock(&lock);
	if (n)
		log_info("container %s gone: its %u loop device%s detached and freed", container_id,
		         n, n == 1 ? "" : "s");
}

static unsigned loop_res_count(struct container *c, const struct container_resource *res)
{
	unsigned n = 0;

	(void)res;
	pthread_mutex_lock(&lock);
	for (struct loop_entry *e = devices; e; e = e->next)
		n += e->owner && !strcmp(e->owner, c->id);
	pthread_mutex_unlock(&lock);
	return n;
}

void loop_device_shutdown(void)
{
	pthread_mutex_lock(&lock);
	shutting_down = true;
	if (maintaining)
		pthread_cond_signal(&kick);
	pthread_mutex_unlock(&lock);
}
