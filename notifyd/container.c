/* SPDX-License-Identifier: MIT */
#include "notifyd/container.h"
#include "notifyd/fd_store.h"
#include "notifyd/state.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Kinds of resources there can be (one each per entry); more is a bug, caught at attach. */
#define CONTAINER_RESOURCE_KINDS 8

/* The registry: every live entry (notify fd not hung up yet). */
static struct {
	pthread_mutex_t lock; /* protects list, n and every entry's refs and next */
	struct container *list;
	unsigned n;
} registry = {.lock = PTHREAD_MUTEX_INITIALIZER};

static _Atomic uint64_t next_key = 1;

void container_keys_above(uint64_t key)
{
	uint64_t cur = atomic_load(&next_key);

	while (cur <= key && !atomic_compare_exchange_weak(&next_key, &cur, key + 1))
		;
}

int container_proc_start(pid_t pid, uint64_t *ret)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -EBADF;
	unsigned long long start;
	ssize_t n;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	/* The n-th space after it precedes field n + 2: starttime (22) follows the 20th. */
	for (int field = 3; field < 23; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	if (sscanf(p + 1, "%llu", &start) != 1)
		return -EIO;
	*ret = start;
	return 0;
}

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
	c->key = atomic_fetch_add(&next_key, 1);
	if (init_pid > 0)
		(void)container_proc_start(init_pid, &c->init_start);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->save_lock, NULL);

	pthread_mutex_lock(&registry.lock);
	c->next = registry.list;
	registry.list = c;
	registry.n++;
	pthread_mutex_unlock(&registry.lock);
	*ret = c;
	return 0;
}

void container_set_k8s(struct container *c, const char *ns, const char *verdict)
{
	pthread_mutex_lock(&c->lock);
	snprintf(c->k8s_ns, sizeof(c->k8s_ns), "%s", ns);
	snprintf(c->k8s_verdict, sizeof(c->k8s_verdict), "%s", verdict);
	pthread_mutex_unlock(&c->lock);
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

/* What the store and the state directory call this entry. */
static void entry_name(const struct container *c, char prefix, char *buf, size_t size)
{
	snprintf(buf, size, "%c.%" PRIu64, prefix, c->key);
}

static void container_free(struct container *c)
{
	char name[32];

	entry_name(c, 'c', name, sizeof(name));
	state_remove(name);
	resources_release(c->resources);
	safe_close(c->notify_fd);
	safe_close(c->lxc_sock);
	safe_close(c->pidfd);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->save_lock);
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

int container_persist(struct container *c)
{
	char name[32];
	int r;

	entry_name(c, c->lxc_sock >= 0 ? 'x' : 'n', name, sizeof(name));
	r = fdstore_put(name, c->lxc_sock >= 0 ? c->lxc_sock : c->notify_fd);
	container_save(c);
	return r;
}

static struct json_object *entry_json(struct container *c)
{
	struct json_object *o = json_object_new_object(), *res = json_object_new_object();

	if (!o || !res || json_object_object_add(o, "resources", res) < 0) {
		json_object_put(o);
		json_object_put(res);
		return NULL;
	}
	if (state_set_u64(o, "key", c->key) < 0 || state_set_str(o, "id", c->id) < 0 ||
	    state_set_str(o, "profile", c->profile) < 0 ||
	    state_set_str(o, "runtime", c->runtime) < 0 ||
	    state_set_u64(o, "init_pid", (unsigned long long)c->init_pid) < 0 ||
	    state_set_u64(o, "init_start", c->init_start) < 0) {
		json_object_put(o);
		return NULL;
	}
	pthread_mutex_lock(&c->lock);
	if (c->k8s_ns[0] && (state_set_str(o, "k8s_namespace", c->k8s_ns) < 0 ||
	                     state_set_str(o, "k8s_verdict", c->k8s_verdict) < 0)) {
		pthread_mutex_unlock(&c->lock);
		json_object_put(o);
		return NULL;
	}
	for (struct container_resource *r = c->resources; r; r = r->next) {
		struct json_object *part = r->ops->save ? r->ops->save(c, r) : NULL;
		if (part && json_object_object_add(res, r->ops->name, part) < 0)
			json_object_put(part);
	}
	pthread_mutex_unlock(&c->lock);
	return o;
}

void container_save(struct container *c)
{
	char name[32];
	struct json_object *o;
	int r;

	entry_name(c, 'c', name, sizeof(name));
	pthread_mutex_lock(&c->save_lock);
	o = entry_json(c);
	r = o ? state_write(name, o) : -ENOMEM;
	pthread_mutex_unlock(&c->save_lock);
	json_object_put(o);
	if (r < 0)
		log_warn("container %s: cannot write its state: %s", c->id, strerror(-r));
}

void container_forget(struct container *c)
{
	struct container *sibling = NULL;
	struct container_resource *dup = NULL;
	char name[32];

	/* Hung up: the store need not keep its fd any more. */
	entry_name(c, c->lxc_sock >= 0 ? 'x' : 'n', name, sizeof(name));
	fdstore_remove(name);

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
	if (sibling) {
		dup = resources_move(c, sibling);
		sibling->refs++;
	}
	pthread_mutex_unlock(&registry.lock);
	resources_release(dup);
	if (sibling) { /* what moved there is in its state from now on */
		container_save(sibling);
		container_unref(sibling);
	}
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

struct container *container_find_key(uint64_t key)
{
	struct container *c;

	pthread_mutex_lock(&registry.lock);
	for (c = registry.list; c && c->key != key; c = c->next)
		;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&registry.lock);
	return c;
}

void container_foreach(void (*fn)(struct container *c, void *userdata), void *userdata)
{
	pthread_mutex_lock(&registry.lock);
	for (struct container *c = registry.list; c; c = c->next)
		fn(c, userdata);
	pthread_mutex_unlock(&registry.lock);
}
