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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

struct loop_entry {
	struct loop_entry *next;
	int nr;
	char *owner; /* container id; NULL while waiting to be deleted */
	int backing; /* our copy of the file given to LOOP_CONFIGURE/SET_FD, or -EBADF */
};

/* A container's /sys/block: a tmpfs of symlinks, kept writable through fd. */
struct loop_view {
	struct loop_view *next;
	char *owner;
	int fd;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct loop_entry *devices;
static struct loop_view *views;
static int nodes = -EBADF; /* detached tmpfs: one block node per device, "loopN" */
static bool nodes_staged;  /* nodes is attached in the staging namespace (clone_tree) */
static bool shutting_down;

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
	_cleanup_close_ int fd = node_open(e->nr);
	int r;

	if (e->owner) {
		view_link(e->owner, e->nr, false);
		if (fd >= 0)
			ioctl(fd, LOOP_CLR_FD, 0); /* busy: the kernel detaches at last close */
		node_neutralize(e->nr);
		free(e->owner);
		e->owner = NULL;
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

static bool retrying; /* a retry thread runs; under lock */

/*
 * A container's last fds may close a moment after its notify fd hangs up
 * (threads exiting, deferred fput), so a device it used can be busy right
 * then.  Try again for a few seconds instead of waiting for the next
 * hand-out, which may never come.
 */
static void *retry_thread(void *arg)
{
	bool left = true;

	(void)arg;
	for (int i = 0; i < 50 && left; i++) {
		usleep(100 * 1000);
		pthread_mutex_lock(&lock);
		left = retry_draining();
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	retrying = false;
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* With the lock held. */
static void schedule_retry(void)
{
	pthread_t t;
	pthread_attr_t a;

	if (retrying)
		return;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	retrying = pthread_create(&t, &a, retry_thread, NULL) == 0;
	pthread_attr_destroy(&a);
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

/* Node in the caller's /dev, entry in its /sys/block. */
static int place(struct request *rq, int nr)
{
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
	r = node_make(nr, uid, gid);
	if (r < 0) {
		snprintf(rq->detail, sizeof(rq->detail), "making the node of %s: %s", name,
		         strerror(-r));
		return r;
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
	struct loop_entry *e;
	unsigned owned = 0;
	int nr = -1, r;

	r = target_open_proc(&rq->t);
	if (r < 0)
		return r;
	pthread_mutex_lock(&lock);
	retry_draining();
	for (e = devices; e; e = e->next) {
		if (!e->owner || strcmp(e->owner, id))
			continue;
		owned++;
		if (want >= 0 && e->nr == want) {
			r = -EEXIST;
			goto out;
		}
		if (want < 0 && nr < 0 && !dev_bound(e->nr, NULL)) {
			nr = e->nr; /* GET_FREE: one of its own that is free */
			e->backing = safe_close(e->backing);
		}
	}
	if (nr >= 0) {
		r = nr;
		goto out;
	}
	if (owned >= max) {
		snprintf(rq->detail, sizeof(rq->detail),
		         "container holds %u loop devices, profile max-loop-devices = %u", owned,
		         max);
		r = max ? -ENOSPC : -EPERM;
		goto out;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->owner = strdup(id))) {
		free(e);
		r = -ENOMEM;
		goto out;
	}
	e->backing = -EBADF;
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
	r = place(rq, e->nr);
	if (r < 0)
		entry_release(e);
	else
		r = e->nr;
out:
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
	} else if (dev_bound(nr, NULL)) {
		r = -EBUSY;
	} else {
		entry_release(e);
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

void loop_device_container_gone(const char *container_id)
{
	struct loop_entry *e, *next;
	struct loop_view *v;
	unsigned n = 0;

	pthread_mutex_lock(&lock);
	for (e = devices; e; e = next) {
		next = e->next;
		if (!e->owner || strcmp(e->owner, container_id))
			continue;
		/* notifyd stopping: a running container keeps the devices it uses. */
		if (shutting_down && dev_bound(e->nr, NULL))
			continue;
		n++;
		entry_release(e);
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
	if (retry_draining() && !shutting_down)
		schedule_retry();
	pthread_mutex_unlock(&lock);
	if (n)
		log_info("container %s gone: its %u loop device%s detached and freed", container_id,
		         n, n == 1 ? "" : "s");
}

void loop_device_shutdown(void)
{
	pthread_mutex_lock(&lock);
	shutting_down = true;
	pthread_mutex_unlock(&lock);
}
