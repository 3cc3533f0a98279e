/* SPDX-License-Identifier: MIT */
#include "notifyd/container.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/loop_device.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct container *registry;
static unsigned registry_n;

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

	pthread_mutex_lock(&registry_lock);
	c->next = registry;
	registry = c;
	registry_n++;
	pthread_mutex_unlock(&registry_lock);
	*ret = c;
	return 0;
}

void container_ref(struct container *c)
{
	pthread_mutex_lock(&registry_lock);
	c->refs++;
	pthread_mutex_unlock(&registry_lock);
}

static void container_free(struct container *c)
{
	struct mount_record *m, *next;

	for (m = c->mounts; m; m = next) {
		next = m->next;
		free(m->type);
		free(m->source);
		free(m->target);
		free(m);
	}
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

	pthread_mutex_lock(&registry_lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&registry_lock);
	if (last)
		container_free(c);
}

void container_forget(struct container *c)
{
	bool last = true;

	pthread_mutex_lock(&registry_lock);
	for (struct container **p = &registry; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			registry_n--;
			break;
		}
	c->gone = true;
	/* A `runc exec` hands over its own fd with the same id: the container lives on. */
	for (struct container *o = registry; o && last; o = o->next)
		last = strcmp(o->id, c->id) != 0;
	pthread_mutex_unlock(&registry_lock);
	fuse_daemon_container_gone(c); /* its FUSE daemons, if the container itself exited */
	if (last)
		loop_device_container_gone(c->id);
	container_unref(c);
}

unsigned container_count(void)
{
	unsigned n;

	pthread_mutex_lock(&registry_lock);
	n = registry_n;
	pthread_mutex_unlock(&registry_lock);
	return n;
}

int container_add_mount(struct container *c, uint64_t mnt_id, const char *type, const char *source,
                        const char *target)
{
	struct mount_record *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->mnt_id = mnt_id;
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
	free(m->type);
	free(m->source);
	free(m->target);
	free(m);
	return true;
}

void container_foreach(void (*fn)(struct container *c, void *userdata), void *userdata)
{
	pthread_mutex_lock(&registry_lock);
	for (struct container *c = registry; c; c = c->next)
		fn(c, userdata);
	pthread_mutex_unlock(&registry_lock);
}
