/* SPDX-License-Identifier: MIT */
#include "notifyd/container.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Kinds of resources there can be (one each per entry); more is a bug, caught at attach. */
#define CONTAINER_RESOURCE_KINDS 8

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

static void resources_release(struct container_resource *res)
{
	for (struct container_resource *next; res; res = next) {
		next = res->next;
		res->ops->release(res);
	}
}

static void container_free(struct container *c)
{
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

bool container_id_live(const char *id, pid_t init_pid)
{
	bool live = false;

	pthread_mutex_lock(&registry.lock);
	for (struct container *c = registry.list; c && !live; c = c->next)
		live = c->init_pid == init_pid && !strcmp(c->id, id);
	pthread_mutex_unlock(&registry.lock);
	return live;
}

unsigned container_count(void)
{
	unsigned n;

	pthread_mutex_lock(&registry.lock);
	n = registry.n;
	pthread_mutex_unlock(&registry.lock);
	return n;
}

void container_foreach(void (*fn)(struct container *c, void *userdata), void *userdata)
{
	pthread_mutex_lock(&registry.lock);
	for (struct container *c = registry.list; c; c = c->next)
		fn(c, userdata);
	pthread_mutex_unlock(&registry.lock);
}
