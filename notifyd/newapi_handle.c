/* SPDX-License-Identifier: MIT */
#include "notifyd/newapi_handle.h"
#include "notifyd/container.h"
#include "notifyd/fuse_newapi.h"
#include "notifyd/mount_record.h"
#include "notifyd/target.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PIDFD_GET_USER_NAMESPACE
#define PIDFD_GET_USER_NAMESPACE _IO(0xFF, 9) /* Linux 6.11 */
#endif

struct handles {
	struct container_resource res; /* first */
	struct newapi_handle *list;
	unsigned n;
};

static void handle_free(struct newapi_handle *h)
{
	safe_close(h->fd);
	safe_close(h->mnt_fd);
	safe_close(h->tree_fd);
	safe_close(h->sb_fd);
	safe_close(h->owner_pidfd);
	mount_opts_free(&h->opts);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* The entry's last reference went: no request is running, nothing holds a handle. */
static void handles_release(struct container_resource *res)
{
	struct handles *hs = (struct handles *)res;

	while (hs->list) {
		struct newapi_handle *h = hs->list;
		hs->list = h->next;
		handle_free(h);
	}
	free(hs);
}

static unsigned handles_count(struct container *c, const struct container_resource *res)
{
	(void)c;
	return ((const struct handles *)res)->n;
}

/*
 * Not follows_id: a handle is a file of the process that asked; a `runc
 * exec` entry's handles go with that entry (its processes are gone too).
 */
static const struct container_resource_ops handles_ops = {
    .name = "fs-contexts",
    .count = handles_count,
    .release = handles_release,
};

/* Unlink h (c's lock held). */
static void unlink_locked(struct handles *hs, struct newapi_handle *h)
{
	for (struct newapi_handle **pp = &hs->list; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			h->next = NULL;
			h->dropped = true;
			hs->n--;
			return;
		}
}

static bool handles_busy(struct container *c, bool gone_only);

int newapi_handle_add(struct container *c, struct target *t, unsigned max, enum newapi_kind kind,
                      int fd, struct newapi_handle **ret)
{
	_cleanup_close_ int owned = fd;
	struct handles *hs;
	struct newapi_handle *h;
	unsigned n = newapi_handle_count(c);

	pid_t tgid;
	int r;

	/* What dead processes held always goes; half full, also what the living closed. */
	if (n > 0)
		(void)newapi_handle_sweep(c, n >= max / 2);
	/*
	 * At the cap, a handle the caller already closed may still be referenced
	 * for a moment by the worker that handed it out (ADDFD|SEND answers
	 * before that worker puts its reference), and the sweep skips it: give
	 * such references up to 20 ms before answering EMFILE.
	 */
	for (int i = 0; i < 20 && newapi_handle_count(c) >= max && handles_busy(c, false); i++) {
		(void)usleep(1000);
		(void)newapi_handle_sweep(c, true);
	}
	r = target_tgid(t, &tgid);
	if (r < 0)
		return r;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	h->kind = kind;
	h->fd = TAKE_FD(owned);
	h->mnt_fd = -EBADF;
	h->tree_fd = -EBADF;
	h->sb_fd = -EBADF;
	h->owner = tgid;
	h->owner_pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	h->refs = 1;
	if (h->owner_pidfd < 0 || target_valid(t) < 0) {
		handle_free(h);
		return -ENOENT;
	}
	/* container_resource*() take c's lock themselves; the resource lives as long as c. */
	hs = (struct handles *)container_resource(c, &handles_ops, sizeof(*hs));
	pthread_mutex_lock(&c->lock);
	if (!hs || hs->n >= max) {
		pthread_mutex_unlock(&c->lock);
		handle_free(h);
		return hs ? -EMFILE : -ENOMEM;
	}
	h->next = hs->list;
	hs->list = h;
	hs->n++;
	pthread_mutex_unlock(&c->lock);
	*ret = h;
	return 0;
}

struct newapi_handle *newapi_handle_find(struct container *c, struct target *t, int fd,
                                         enum newapi_kind kind, int *err)
{
	struct newapi_handle *found = NULL;
	struct handles *hs;

	*err = 0;
	hs = (struct handles *)container_resource_find(c, &handles_ops);
	pthread_mutex_lock(&c->lock);
	for (struct newapi_handle *h = hs ? hs->list : NULL; h && !found; h = h->next) {
		if (h->kind != kind)
			continue;
		int r = target_same_file(t, fd, h->fd);
		if (r < 0) {
			*err = r;
			break;
		}
		if (r == 1) {
			found = h;
			h->refs++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

bool newapi_handle_drop(struct container *c, struct newapi_handle *h)
{
	struct handles *hs;
	bool mine = false;

	hs = (struct handles *)container_resource_find(c, &handles_ops);
	pthread_mutex_lock(&c->lock);
	if (hs && !h->dropped) {
		unlink_locked(hs, h);
		mine = true;
	}
	pthread_mutex_unlock(&c->lock);
	return mine;
}

void newapi_handle_put(struct container *c, struct newapi_handle *h)
{
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&c->lock);
	last = --h->refs == 0;
	if (last && !h->dropped) {
		/* Still listed: the registry's release frees it with the entry. */
		last = false;
		h->refs = 0;
	}
	pthread_mutex_unlock(&c->lock);
	if (last)
		handle_free(h);
}

unsigned newapi_handle_count(struct container *c)
{
	struct handles *hs;
	unsigned n;

	hs = (struct handles *)container_resource_find(c, &handles_ops);
	pthread_mutex_lock(&c->lock);
	n = hs ? hs->n : 0;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Is the handle's owner gone (its pidfd readable: exited)? */
static bool owner_gone(const struct newapi_handle *h)
{
	struct pollfd p = {.fd = h->owner_pidfd, .events = POLLIN};

	return h->owner_pidfd >= 0 && poll(&p, 1, 0) == 1;
}

/* Does a call hold a reference on one of c's handles (gone_only: of an owner gone)? */
static bool handles_busy(struct container *c, bool gone_only)
{
	struct handles *hs = (struct handles *)container_resource_find(c, &handles_ops);
	bool busy = false;

	if (!hs)
		return false;
	pthread_mutex_lock(&c->lock);
	for (struct newapi_handle *h = hs->list; h && !busy; h = h->next)
		busy = h->refs > 0 && (!gone_only || owner_gone(h));
	pthread_mutex_unlock(&c->lock);
	return busy;
}

/* Does the owner still hold h (kcmp against each of its fds)?  On doubt: yes. */
static bool owner_holds(const struct newapi_handle *h)
{
	char path[64];
	struct dirent *e;
	bool held = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)h->owner);
	dir = opendir(path);
	if (!dir)
		return errno != ENOENT;
	while (!held && (e = readdir(dir))) {
		long r;

		if (e->d_name[0] == '.')
			continue;
		r = syscall(SYS_kcmp, h->owner, getpid(), KCMP_FILE, strtoul(e->d_name, NULL, 10),
		            (unsigned long)h->fd);
		held = r == 0 || (r < 0 && errno != EBADF);
	}
	closedir(dir);
	/* The pid may have been reused meanwhile: only a live pidfd makes the answer count. */
	return held && !owner_gone(h);
}

/* The mount id (as in mountinfo) of our open file fd, from fdinfo: no call into its filesystem. */
static int fd_mnt_id(int fd, unsigned long *id)
{
	char path[64], line[128];
	int r = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (r < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %lu", id) == 1)
			r = 0;
	fclose(f);
	return r;
}

/*
 * Is the mount whose root the open file root is attached under a parent
 * mount (1), or detached or gone (0)?  A detached mount (the root of its
 * anonymous namespace) and an unmounted one are their own parent, so ".."
 * of their root is on the same mount; an attached one's ".." is on its
 * parent mount, in whatever mount namespace.  ".." is opened O_PATH and
 * both mounts are told by fdinfo, so a parent on a FUSE mount (which
 * answers notifyd no statx()) does not hide the attach.  -errno when the
 * kernel does not say (the root of a FUSE mount refuses notifyd the walk).
 */
static int mount_attached(int root)
{
	_cleanup_close_ int parent = openat(root, "..", O_PATH | O_CLOEXEC);
	unsigned long self_id, parent_id;
	int r;

	if (parent < 0)
		return -errno;
	r = fd_mnt_id(root, &self_id);
	if (r >= 0)
		r = fd_mnt_id(parent, &parent_id);
	if (r < 0)
		return r;
	return self_id != parent_id;
}

/*
 * A FUSE mount's root refuses notifyd the walk to "..": a helper that is
 * root of the container's user namespace (a member, as FUSE wants) opens it.
 * Not under c's lock (it forks).  1, 0, or -errno.
 */
static int fuse_attached(struct container *c, int root)
{
	_cleanup_close_ int userns = -EBADF, parent = -EBADF;
	unsigned long self_id, parent_id;
	int r;

	if (c->pidfd < 0)
		return -ESRCH;
	userns = ioctl(c->pidfd, PIDFD_GET_USER_NAMESPACE, 0);
	if (userns < 0)
		return -errno;
	parent = fuse_newapi_open_at(root, "..", O_PATH | O_CLOEXEC, userns);
	if (parent < 0)
		return parent;
	r = fd_mnt_id(root, &self_id);
	if (r >= 0)
		r = fd_mnt_id(parent, &parent_id);
	if (r < 0)
		return r;
	return self_id != parent_id;
}

/* Where the kernel cannot say by "..": is mnt_id in the container's init's mount namespace? */
static int mount_in_init_ns(struct container *c, uint64_t mnt_id)
{
	_cleanup_close_ int nsfd = -EBADF;
	uint64_t ns = 0;

	if (c->pidfd < 0)
		return 0;
	nsfd = ioctl(c->pidfd, PIDFD_GET_MNT_NAMESPACE, 0);
	if (nsfd < 0 || mount_record_ns_id(nsfd, &ns) < 0)
		return 0;
	return mount_record_present(mnt_id, ns) == 1;
}

/*
 * A mount handle out of the registry (h unlinked, no reference left): the
 * container attached its mount by a path (move_mount(FD, ".", ...), MS_MOVE
 * of /proc/self/fd/FD: calls the shipped rules do not trap) → it becomes a
 * mount record, as if notifyd's move_mount had attached it, so max-mounts,
 * umount2 and `notifyctl mounts` know it.  closed: our O_PATH clone is
 * closed first, which dissolves a mount still detached, so that no attach
 * can come after the look (a dissolved mount cannot be attached any more).
 * Returns 1 when it became a record.
 */
static int mount_settle(struct container *c, struct newapi_handle *h, bool closed)
{
	int r;

	if (closed)
		h->tree_fd = safe_close(h->tree_fd);
	r = mount_attached(h->fd);
	if (r < 0 && h->action == PROFILE_ACTION_FUSE)
		r = fuse_attached(c, h->fd);
	if (r < 0)
		r = mount_in_init_ns(c, h->mnt_id);
	if (r != 1)
		return 0;
	r = mount_record_add(c, h->mnt_id, 0, h->type, h->source, "(attached by the container)");
	return r < 0 ? 0 : 1;
}

int newapi_handle_sweep(struct container *c, bool full)
{
	struct handles *hs = (struct handles *)container_resource_find(c, &handles_ops);
	struct newapi_handle *gone_list = NULL;
	int gone = 0;

	if (!hs)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (struct newapi_handle *h = hs->list, *next; h; h = next) {
		next = h->next;
		if (h->refs > 0) /* a call on it is running */
			continue;
		if (!owner_gone(h) && (!full || owner_holds(h)))
			continue;
		unlink_locked(hs, h);
		h->next = gone_list;
		gone_list = h;
		gone++;
	}
	pthread_mutex_unlock(&c->lock);
	/* mount_record_add() takes c's lock itself. */
	while (gone_list) {
		struct newapi_handle *h = gone_list;
		gone_list = h->next;
		if (h->kind == NEWAPI_MOUNT)
			(void)mount_settle(c, h, true);
		handle_free(h);
	}
	return gone;
}

int newapi_handle_sweep_gone(struct container *c)
{
	int gone = newapi_handle_sweep(c, false);

	for (int i = 0; i < 20 && handles_busy(c, true); i++) {
		(void)usleep(1000);
		gone += newapi_handle_sweep(c, false);
	}
	return gone;
}

unsigned newapi_handle_mounts(struct container *c)
{
	struct handles *hs = (struct handles *)container_resource_find(c, &handles_ops);
	struct newapi_handle *settled = NULL;
	unsigned n = 0;

	if (!hs)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (struct newapi_handle *h = hs->list, *next; h; h = next) {
		next = h->next;
		if (h->kind != NEWAPI_MOUNT)
			continue;
		n++;
		if (mount_attached(h->fd) != 1)
			continue;
		/*
		 * Attached: its record takes over (below, without c's lock).  Also
		 * while a call holds it (the fsmount that handed it out has not put
		 * it yet; a move_mount of it, which now fails or, if it attached it
		 * itself, finds it dropped and leaves the record to us).
		 */
		unlink_locked(hs, h);
		h->refs++;
		h->next = settled;
		settled = h;
	}
	pthread_mutex_unlock(&c->lock);
	while (settled) {
		struct newapi_handle *h = settled;
		settled = h->next;
		h->next = NULL;
		/* Not closed first: it is attached, closing our clone leaves it be. */
		(void)mount_settle(c, h, false);
		n--; /* a record now (or gone meanwhile) */
		newapi_handle_put(c, h);
	}
	return n;
}
