/* SPDX-License-Identifier: MIT */
#include "notifyd/newapi_handle.h"
#include "notifyd/container.h"
#include "notifyd/target.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <linux/kcmp.h>
#include <poll.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void newapi_handle_drop(struct container *c, struct newapi_handle *h)
{
	struct handles *hs;

	hs = (struct handles *)container_resource_find(c, &handles_ops);
	pthread_mutex_lock(&c->lock);
	if (hs && !h->dropped)
		unlink_locked(hs, h);
	pthread_mutex_unlock(&c->lock);
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

int newapi_handle_sweep(struct container *c, bool full)
{
	struct handles *hs = (struct handles *)container_resource_find(c, &handles_ops);
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
		handle_free(h);
		gone++;
	}
	pthread_mutex_unlock(&c->lock);
	return gone;
}
