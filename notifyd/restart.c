/* SPDX-License-Identifier: MIT */
#include "notifyd/restart.h"
#include "notifyd/fd_store.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/loop_device.h"
#include "notifyd/mount_record.h"
#include "notifyd/state.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Each resource module's restore, by the name its ops table gives
 * (container_resource_ops.name): rebuilds its part of c from what its
 * save() wrote, reconciled with what really exists.  In this order: the
 * mount records first, so that a daemon found dead at once is handled
 * (its mount detached) knowing its mount.
 */
static const struct {
	const char *name;
	int (*restore)(struct container *c, struct json_object *obj);
} restorers[] = {
    {"mounts", mount_record_restore},
    {"fuse-daemons", fuse_daemon_restore},
    {"vfsd-shares", fuse_daemon_restore},
    {"loop-devices", loop_device_restore},
};

static void restore_resources(struct container *c, struct json_object *resources)
{
	for (size_t i = 0; i < ARRAY_SIZE(restorers); i++) {
		struct json_object *part;
		int r;

		if (!json_object_object_get_ex(resources, restorers[i].name, &part))
			continue;
		r = restorers[i].restore(c, part);
		if (r < 0)
			log_warn("container %s: restoring its %s: %s", c->id, restorers[i].name,
			         strerror(-r));
	}
	json_object_object_foreach(resources, name, part)
	{
		size_t i;

		(void)part;
		for (i = 0; i < ARRAY_SIZE(restorers) && strcmp(restorers[i].name, name) != 0; i++)
			;
		if (i == ARRAY_SIZE(restorers))
			log_warn("container %s: state of '%s' not understood; left alone", c->id,
			         name);
	}
}

/* A pidfd of the container's init if it is still the process the state names. */
static int init_pidfd(pid_t pid, uint64_t start)
{
	uint64_t now = 0;
	int fd;

	if (pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Checked after the pidfd is open: the pid cannot be reused behind it. */
	if (container_proc_start(pid, &now) < 0 || now != start) {
		safe_close(fd);
		return -ESRCH;
	}
	return fd;
}

struct restore_ctx {
	int (*adopt)(struct container *c);
	unsigned adopted;
	uint64_t max_key;
	/*
	 * Entries whose fd is gone, forgotten only once every entry is back:
	 * a `runc exec` entry that hung up while nobody served must find the
	 * container's other entries in the registry, or its hang-up is taken
	 * for the container's end (its loop devices and shares released).
	 */
	struct container **hung;
	size_t n_hung;
};

/* The namespace allowlist's columns of `notifyctl list`, if the entry had them. */
static void restore_k8s(struct container *c, struct json_object *obj)
{
	static const char ok[] = "abcdefghijklmnopqrstuvwxyz0123456789-()";
	const char *ns, *verdict;

	if (state_get_str(obj, "k8s_namespace", &ns) < 0 ||
	    state_get_str(obj, "k8s_verdict", &verdict) < 0)
		return;
	if (strspn(ns, ok) != strlen(ns) || strspn(verdict, ok) != strlen(verdict))
		return;
	container_set_k8s(c, ns, verdict);
}

static void restore_one(const char *name, struct json_object *obj, void *userdata)
{
	struct restore_ctx *ctx = userdata;
	unsigned long long key, init_pid, init_start;
	const char *id, *profile, *runtime;
	struct json_object *resources = NULL;
	struct container *c;
	char fdname[32];
	bool lxc;
	int fd, pidfd, r;

	if (state_get_u64(obj, "key", &key) < 0 || state_get_str(obj, "id", &id) < 0 ||
	    state_get_str(obj, "profile", &profile) < 0 ||
	    state_get_str(obj, "runtime", &runtime) < 0 ||
	    state_get_u64(obj, "init_pid", &init_pid) < 0 ||
	    state_get_u64(obj, "init_start", &init_start) < 0) {
		log_warn("state: %s is not a container entry; removed", name);
		state_remove(name);
		return;
	}
	if (key > ctx->max_key)
		ctx->max_key = key;
	lxc = strcmp(runtime, "lxc") == 0;
	snprintf(fdname, sizeof(fdname), "%c.%llu", lxc ? 'x' : 'n', key);
	fd = fdstore_take(fdname);
	pidfd = init_pidfd((pid_t)init_pid, init_start);
	r = container_new(id, profile, runtime, (pid_t)init_pid, pidfd, lxc ? -EBADF : fd, &c);
	if (r < 0) {
		log_error("container %s: cannot rebuild its entry: %s", id, strerror(-r));
		safe_close(fd);
		safe_close(pidfd);
		return;
	}
	c->key = key;
	c->init_start = init_start;
	restore_k8s(c, obj);
	if (lxc)
		c->lxc_sock = fd;
	if (json_object_object_get_ex(obj, "resources", &resources) &&
	    json_object_is_type(resources, json_type_object))
		restore_resources(c, resources);
	if (fd < 0) {
		struct container **v = realloc(ctx->hung, (ctx->n_hung + 1) * sizeof(*v));

		log_info("container %s pid=%llu hung up while notifyd was away; releasing what it "
		         "had",
		         c->id, init_pid);
		if (!v) {
			container_forget(c);
			return;
		}
		ctx->hung = v;
		ctx->hung[ctx->n_hung++] = c;
		return;
	}
	container_save(c); /* as reconciled */
	r = ctx->adopt(c);
	if (r < 0) {
		log_error("container %s: cannot serve it again: %s", c->id, strerror(-r));
		return;
	}
	log_info("container %s pid=%d profile=%s taken over (%s)", c->id, (int)c->init_pid,
	         c->profile, c->runtime);
	ctx->adopted++;
}

unsigned restart_restore(int (*adopt)(struct container *c))
{
	struct restore_ctx ctx = {.adopt = adopt};

	state_foreach("c.", restore_one, &ctx);
	for (size_t i = 0; i < ctx.n_hung; i++)
		container_forget(ctx.hung[i]);
	free(ctx.hung);
	container_keys_above(ctx.max_key);
	return ctx.adopted;
}
