// SPDX-License-Identifier: MIT
/* Private loop devices: the node tmpfs and the containers' /sys/block views (loop_internal.h). */
#include "notifyd/loop_internal.h"
#include "notifyd/fd_store.h"
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

struct loop_node_state loop_node = {.nodes = -EBADF};

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

int loop_clone_tree(int mnt, const char *name, unsigned flags, bool *staged)
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

void loop_node_name(int nr, char *buf, size_t size)
{
	snprintf(buf, size, "loop%d", nr);
}

/*
 * Take the node away from whoever still has it bound: owned by host root,
 * mode 0, so even a container root with CAP_DAC_OVERRIDE cannot open it
 * (its ids are not mapped).  Then drop the name; binds keep the dead inode.
 */
void loop_node_neutralize(int nr)
{
	char name[24];

	loop_node_name(nr, name, sizeof(name));
	if ((fchownat(loop_node.nodes, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
	     fchmodat(loop_node.nodes, name, 0, 0) < 0) &&
	    errno != ENOENT)
		log_warn("loop%d: cannot take the node back from its container: %m", nr);
	unlinkat(loop_node.nodes, name, 0);
}

/*
 * Revoke the node, keeping its inode (clearing): a bind the container has
 * stays, but opens nothing until loop_node_restore().  An open that passed the
 * permission check before this still reaches the device; see
 * docs/loop.md on why that is harmless.
 */
void loop_node_revoke(int nr)
{
	char name[24];

	loop_node_name(nr, name, sizeof(name));
	if (fchownat(loop_node.nodes, name, 0, 0, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(loop_node.nodes, name, 0, 0) < 0)
		log_warn("loop%d: cannot revoke the node from its container: %m", nr);
}

int loop_node_restore(const struct loop_entry *e)
{
	char name[24];

	loop_node_name(e->nr, name, sizeof(name));
	if (fchownat(loop_node.nodes, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(loop_node.nodes, name, 0660, 0) < 0)
		return -errno;
	return 0;
}

/* A new inode per hand-out, so a container's stale bind never names the next owner's. */
int loop_node_make(int nr, uid_t uid, gid_t gid)
{
	char name[24];

	if (loop_node.nodes < 0) {
		loop_node.nodes = tmpfs_new("0700");
		if (loop_node.nodes < 0)
			return loop_node.nodes;
		/* The containers' nodes live on: a successor must revoke and give them back. */
		(void)fdstore_put("loop-nodes", loop_node.nodes);
	}
	loop_node_neutralize(nr);
	loop_node_name(nr, name, sizeof(name));
	if (mknodat(loop_node.nodes, name, S_IFBLK | 0660, makedev(LOOP_MAJOR_NR, nr)) < 0 ||
	    fchownat(loop_node.nodes, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

int loop_node_open(int nr)
{
	char name[24];
	int fd;

	if (loop_node.nodes < 0)
		return -ENOENT;
	loop_node_name(nr, name, sizeof(name));
	fd = openat(loop_node.nodes, name, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Is the device bound to a file?  Fills *info when it is. */
bool loop_dev_bound(int nr, struct loop_info64 *info)
{
	_cleanup_close_ int fd = loop_node_open(nr);
	struct loop_info64 tmp;

	return fd >= 0 && ioctl(fd, LOOP_GET_STATUS64, info ? info : &tmp) == 0;
}

static struct loop_view *view_find(const char *owner)
{
	for (struct loop_view *v = loop_node.views; v; v = v->next)
		if (!strcmp(v->owner, owner))
			return v;
	return NULL;
}

void loop_view_link(const char *owner, int nr, bool add)
{
	struct loop_view *v = view_find(owner);
	char name[24], target[64];

	if (!v)
		return;
	loop_node_name(nr, name, sizeof(name));
	snprintf(target, sizeof(target), "../devices/virtual/block/%s", name);
	if (add && symlinkat(target, v->fd, name) < 0)
		log_warn("%s: cannot list loop%d in its /sys/block: %m", owner, nr);
	else if (!add)
		unlinkat(v->fd, name, 0);
}

/* Host id that the caller's user namespace maps 0 to (root of the container). */
int loop_map_root(int procfd, const char *file, unsigned *ret)
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
void loop_umount_stack(const char *path)
{
	while (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		;
}

/* Mount tree (a clone) onto dir/name in the caller's view (over a placeholder if uid given). */
int loop_attach_in_view(struct request *rq, int tree, const char *dir, const char *name,
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
		loop_umount_stack(path);
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
int loop_view_install(struct request *rq)
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
	tree = loop_clone_tree(m, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH, NULL);
	if (tree < 0)
		return tree;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return -errno;
	r = loop_attach_in_view(rq, tree, "/sys", "block", false, 0, 0);
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
	v->serial = ++loop_state.view_serial;
	v->next = loop_node.views;
	loop_node.views = v;
	{
		char name[24];

		snprintf(name, sizeof(name), "lv.%u", v->serial);
		(void)fdstore_put(name, v->fd);
	}
	loop_state.dirty = true;
	return 0;
}
