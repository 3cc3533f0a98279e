/* SPDX-License-Identifier: MIT */
#include "notifyd/container.h"
#include "common/cleanup.h"
#include "common/nsutil.h"

#include <errno.h>
#include <linux/nsfs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Not in this system's (6.1) uapi headers; the same numbers on every architecture. */
#ifndef __NR_statmount
#define __NR_statmount 457
#endif
#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t)
#endif
#ifndef PIDFD_GET_MNT_NAMESPACE
#define PIDFD_GET_MNT_NAMESPACE _IO(0xFF, 3)
#endif
#define MV_STATMOUNT_MNT_BASIC 0x2u

/* Kinds of resources there can be (one each per entry); more is a bug, caught at attach. */
#define CONTAINER_RESOURCE_KINDS 8

struct mv_mnt_id_req { /* struct mnt_id_req, MNT_ID_REQ_SIZE_VER1 (Linux 6.11) */
	uint32_t size, spare;
	uint64_t mnt_id, param, mnt_ns_id;
};

/* The registry: every live entry (notify fd not hung up yet). */
static struct {
	pthread_mutex_t lock; /* protects list, n and every entry's refs and next */
	struct container *list;
	unsigned n;
} registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

int container_new(const char *id, const char *profile, const char *runtime, pid_t init_pid,
                  int pidfd, int notify_fd, struct container **ret)
{
	struct container *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->id = strdup(id);
	c->profile = strdup(profile);
	c->runtime = strdup(runtime);
	if (!c->id || !c->profile || !c->runtime) {
		free(c->id);
		free(c->profile);
		free(c->runtime);
		free(c);
		return -ENOMEM;
	}
	c->init_pid = init_pid;
	c->pidfd = pidfd;
	c->notify_fd = notify_fd;
	c->lxc_sock = -EBADF;
	c->refs = 1;
	pthread_mutex_init(&c->lock, NULL);

	pthread_mutex_lock(&registry.lock);
	c->next = registry.list;
	registry.list = c;
	registry.n++;
	pthread_mutex_unlock(&registry.lock);
	*ret = c;
	return 0;
}

void container_ref(struct container *c)
{
	pthread_mutex_lock(&registry.lock);
	c->refs++;
	pthread_mutex_unlock(&registry.lock);
}

static void record_free(struct mount_record *m)
{
	free(m->type);
	free(m->source);
	free(m->target);
	free(m);
}

static void resources_release(struct container_resource *res)
{
	for (struct container_resource *next; res; res = next) {
		next = res->next;
		res->ops->release(res);
	}
}

static void container_free(struct container *c)
{
	struct mount_record *m, *next;

	for (m = c->mounts; m; m = next) {
		next = m->next;
		record_free(m);
	}
	resources_release(c->resources);
	safe_close(c->notify_fd);
	safe_close(c->lxc_sock);
	safe_close(c->pidfd);
	pthread_mutex_destroy(&c->lock);
	free(c->id);
	free(c->profile);
	free(c->runtime);
	free(c);
}

void container_unref(struct container *c)
{
	bool last;

	pthread_mutex_lock(&registry.lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&registry.lock);
	if (last)
		container_free(c);
}

/*
 * A `runc exec` entry hung up while sibling, another entry of the container,
 * is left: the resources that belong to the container move there.  Called
 * with the registry locked, so a sibling hanging up at the same time finds
 * them already moved.  Returns those sibling had already, to be released.
 */
static struct container_resource *resources_move(struct container *c, struct container *sibling)
{
	struct container_resource *moving = NULL, *dup = NULL, *res;

	pthread_mutex_lock(&c->lock);
	for (struct container_resource **p = &c->resources; (res = *p);) {
		if (!res->ops->follows_id) {
			p = &res->next;
			continue;
		}
		*p = res->next;
		res->next = moving;
		moving = res;
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&sibling->lock);
	for (struct container_resource *next; moving; moving = next) {
		next = moving->next;
		bool has = false;
		for (res = sibling->resources; res && !has; res = res->next)
			has = res->ops == moving->ops;
		moving->next = has ? dup : sibling->resources;
		*(has ? &dup : &sibling->resources) = moving;
	}
	pthread_mutex_unlock(&sibling->lock);
	return dup;
}

void container_forget(struct container *c)
{
	struct container *sibling = NULL;
	struct container_resource *dup = NULL;

	pthread_mutex_lock(&registry.lock);
	for (struct container **p = &registry.list; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			registry.n--;
			break;
		}
	c->gone = true;
	/* A `runc exec` hands over its own fd with the same id: the container lives on. */
	for (struct container *o = registry.list; o && !sibling; o = o->next)
		if (strcmp(o->id, c->id) == 0)
			sibling = o;
	if (sibling)
		dup = resources_move(c, sibling);
	pthread_mutex_unlock(&registry.lock);
	resources_release(dup);
	/*
	 * Told outside the lock (a module takes its own locks).  An entry's
	 * resources are freed only with the entry, which we hold; one a late
	 * request attaches after this is released with the entry.
	 */
	struct container_resource *kinds[CONTAINER_RESOURCE_KINDS];
	size_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (struct container_resource *res = c->resources; res && n < ARRAY_SIZE(kinds);
	     res = res->next)
		kinds[n++] = res;
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < n; i++)
		if (kinds[i]->ops->gone)
			kinds[i]->ops->gone(c, kinds[i], !sibling);
	container_unref(c);
}

struct container_resource *container_resource_find(struct container *c,
                                                   const struct container_resource_ops *ops)
{
	struct container_resource *res;

	pthread_mutex_lock(&c->lock);
	for (res = c->resources; res && res->ops != ops; res = res->next)
		;
	pthread_mutex_unlock(&c->lock);
	return res;
}

struct container_resource *container_resource(struct container *c,
                                              const struct container_resource_ops *ops, size_t size)
{
	struct container_resource *res, *fresh = NULL;

	if (size < sizeof(*res))
		return NULL;
	res = container_resource_find(c, ops);
	if (res)
		return res;
	fresh = calloc(1, size);
	if (!fresh)
		return NULL;
	fresh->ops = ops;
	pthread_mutex_lock(&c->lock);
	size_t kinds = 0;
	for (res = c->resources; res && res->ops != ops; res = res->next)
		kinds++;
	if (!res && kinds < CONTAINER_RESOURCE_KINDS) { /* none attached meanwhile */
		fresh->next = c->resources;
		c->resources = res = TAKE_PTR(fresh);
	}
	pthread_mutex_unlock(&c->lock);
	free(fresh);
	return res;
}

void container_resource_counts(struct container *c,
                               void (*fn)(const char *name, unsigned n, void *userdata),
                               void *userdata)
{
	for (struct container_resource *res = c->resources; res; res = res->next)
		if (res->ops->count)
			fn(res->ops->name, res->ops->count(c, res), userdata);
}

unsigned container_count(void)
{
	unsigned n;

	pthread_mutex_lock(&registry.lock);
	n = registry.n;
	pthread_mutex_unlock(&registry.lock);
	return n;
}

/*
 * statmount(STATMOUNT_MNT_BASIC) of mount mnt_id in namespace mntns_id (0:
 * the calling thread's): 1 and its old id in *old_id, 0 not there, -errno.
 */
static int statmount_basic(uint64_t mnt_id, uint64_t mntns_id, uint32_t *old_id)
{
	struct mv_mnt_id_req req = {
	    .size = sizeof(req),
	    .mnt_id = mnt_id,
	    .param = MV_STATMOUNT_MNT_BASIC,
	    .mnt_ns_id = mntns_id,
	};
	uint64_t buf[512]; /* struct statmount: fixed part only, no strings asked for */

	if (syscall(__NR_statmount, &req, buf, sizeof(buf), 0) == 0) {
		/* struct statmount's mnt_id_old: a __u32 at byte 56 (uapi, Linux 6.8). */
		memcpy(old_id, (const char *)buf + 56, sizeof(*old_id));
		return 1;
	}
	/* ENOENT: no such mount in that namespace, or the namespace is gone with its mounts. */
	return errno == ENOENT ? 0 : -errno;
}

int container_mount_present(uint64_t mnt_id, uint64_t mntns_id)
{
	uint32_t old_id;

	return statmount_basic(mnt_id, mntns_id, &old_id);
}

int container_mntns_id(int nsfd, uint64_t *ret)
{
	uint64_t id = 0;

	if (ioctl(nsfd, NS_GET_MNTNS_ID, &id) < 0)
		return -errno;
	if (id == 0)
		return -EOPNOTSUPP;
	*ret = id;
	return 0;
}

/*
 * The namespace a new record's mount is in, when the kernel can tell: the
 * container's init's (the common case; a mount made from a namespace the
 * container created later is learnt when notifyd meets it there, see
 * container_mounts_prune()).  0 when unknown.
 */
static uint64_t init_mntns_id(struct container *c, uint64_t mnt_id)
{
	_cleanup_close_ int nsfd = -EBADF;
	uint64_t id = 0;

	if (c->pidfd < 0)
		return 0;
	nsfd = ioctl(c->pidfd, PIDFD_GET_MNT_NAMESPACE, 0);
	if (nsfd < 0 || container_mntns_id(nsfd, &id) < 0)
		return 0;
	return container_mount_present(mnt_id, id) == 1 ? id : 0;
}

int container_mounts_prune(struct container *c, uint64_t mntns_id)
{
	struct mount_record *gone = NULL, *m;
	int n = 0, r;

	if (mntns_id == 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	for (struct mount_record **p = &c->mounts; (m = *p);) {
		r = container_mount_present(m->mnt_id, m->mntns_id ? m->mntns_id : mntns_id);
		if (r == 1 && !m->mntns_id)
			m->mntns_id = mntns_id;
		if (r == 0 && m->mntns_id) {
			*p = m->next;
			m->next = gone;
			gone = m;
			c->n_mounts--;
			n++;
			continue;
		}
		p = &m->next;
	}
	pthread_mutex_unlock(&c->lock);
	for (; gone; gone = m) {
		m = gone->next;
		record_free(gone);
	}
	return n;
}

int container_mounts_prune_at(struct container *c, int procfd)
{
	_cleanup_close_ int nsfd = ns_open_at(procfd, "mnt");
	uint64_t id = 0;
	int r;

	if (nsfd < 0)
		return nsfd;
	r = container_mntns_id(nsfd, &id);
	return r < 0 ? r : container_mounts_prune(c, id);
}

int container_add_mount(struct container *c, uint64_t mnt_id, uint64_t mnt_id_old, const char *type,
                        const char *source, const char *target)
{
	struct mount_record *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->mnt_id = mnt_id;
	m->mnt_id_old = mnt_id_old;
	m->mntns_id = init_mntns_id(c, mnt_id);
	m->type = strdup(type);
	m->source = strdup(source);
	m->target = strdup(target);
	if (!m->type || !m->source || !m->target) {
		free(m->type);
		free(m->source);
		free(m->target);
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_lock(&c->lock);
	m->next = c->mounts;
	c->mounts = m;
	c->n_mounts++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

bool container_owns_mount(struct container *c, uint64_t mnt_id)
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (struct mount_record *m = c->mounts; m && !found; m = m->next)
		found = m->mnt_id == mnt_id;
	pthread_mutex_unlock(&c->lock);
	return found;
}

bool container_owns_mount_old(struct container *c, uint64_t mnt_id_old, uint64_t *mnt_id)
{
	uint64_t id = 0;
	uint32_t now_old = 0;
	int r;

	if (mnt_id_old == 0)
		return false;
	pthread_mutex_lock(&c->lock);
	for (struct mount_record *m = c->mounts; m && !id; m = m->next)
		if (m->mnt_id_old == mnt_id_old)
			id = m->mnt_id;
	pthread_mutex_unlock(&c->lock);
	if (!id)
		return false;
	r = statmount_basic(id, 0, &now_old);
	if (r == -ENOSYS && id == mnt_id_old) /* before 6.8: the record holds the old id */
		r = 1, now_old = (uint32_t)mnt_id_old;
	if (r != 1 || now_old != mnt_id_old)
		return false;
	*mnt_id = id;
	return true;
}

bool container_remove_mount(struct container *c, uint64_t mnt_id)
{
	struct mount_record *m = NULL;

	pthread_mutex_lock(&c->lock);
	for (struct mount_record **p = &c->mounts; *p; p = &(*p)->next)
		if ((*p)->mnt_id == mnt_id) {
			m = *p;
			*p = m->next;
			c->n_mounts--;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (!m)
		return false;
	record_free(m);
	return true;
}

void container_foreach(void (*fn)(struct container *c, void *userdata), void *userdata)
{
	pthread_mutex_lock(&registry.lock);
	for (struct container *c = registry.list; c; c = c->next)
		fn(c, userdata);
	pthread_mutex_unlock(&registry.lock);
}
