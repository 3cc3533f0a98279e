/* SPDX-License-Identifier: MIT */
/*
 * One container = one seccomp notify fd handed over by a runtime (a `runc
 * exec` hands over another fd and becomes another entry with the same id).
 * Entries are reference counted: the registry holds one reference while the
 * notify fd is live, every queued request holds one.  When the filter has no
 * users left the kernel reports POLLHUP, the entry leaves the registry and is
 * freed with its last request: no fd and no memory stay behind.
 *
 * What notifyd holds for a container -- mount records, FUSE daemons, loop
 * devices, later vfsd shares -- hangs off the entry as a list of `struct
 * container_resource`, each with the ops table of the module that keeps it.
 * This file knows only that interface: it tells the resources when their
 * entry goes and frees them with it, and never calls into a resource module
 * (the modules call in here, not the other way round).
 */
#ifndef MV_CONTAINER_H
#define MV_CONTAINER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct container_counters {
	uint64_t requests, kernel, continued, denied, enosys, failed;
};

struct container;
struct container_resource;
struct json_object;

/* One kind of per-container state, as its module describes it to container.c. */
struct container_resource_ops {
	const char *name; /* in `notifyctl list` and `stats`: "fuse-daemons", "loop-devices" */
	/*
	 * An entry of the container hung up (c->gone is set).  last: no other
	 * entry with the same id is left, the container itself is gone (not
	 * only a `runc exec`).  Called with no lock held.
	 */
	void (*gone)(struct container *c, struct container_resource *res, bool last);
	/* How many the container holds now, for the control socket; may be NULL. */
	unsigned (*count)(struct container *c, const struct container_resource *res);
	/* Frees res with its entry (the entry's last reference went). */
	void (*release)(struct container_resource *res);
	/*
	 * The state belongs to the container (by id), not to this entry: when a
	 * `runc exec` entry hangs up while another entry of the container is
	 * left, res moves there (or is released if that entry has its own).
	 */
	bool follows_id;
	/*
	 * Restart survival (state.h): the resource as JSON for the entry's
	 * state file, or NULL for nothing to keep.  Called with c's lock held.
	 * Restored by the module's own MODULE_restore(), called by restart.c.
	 * May be NULL.
	 */
	struct json_object *(*save)(struct container *c, struct container_resource *res);
};

/* Embedded first in a module's own per-container struct. */
struct container_resource {
	struct container_resource *next; /* the entry's list, under its lock */
	const struct container_resource_ops *ops;
};

struct container {
	struct container *next; /* registry list */
	unsigned refs;          /* protected by the registry lock */
	char *id;
	char *profile; /* profile name from listenerMetadata */
	char *runtime; /* what delivered it: "oci" or "lxc" */
	uint64_t key;  /* unique per entry, kept across restarts: names its state and stored fds */
	pid_t init_pid;
	uint64_t
	    init_start; /* the init's start time (/proc/PID/stat), to know it after a restart */
	int pidfd;
	int notify_fd; /* OCI: watched by the workers; LXC: -EBADF, each message brings one */
	int lxc_sock;  /* LXC proxy connection (watched instead), or -EBADF */
	bool gone;     /* notify fd hung up */
	/* Kubernetes namespace and allowlist verdict (ns_allow.h), "" if none; under lock. */
	char k8s_ns[64];
	char k8s_verdict[24];

	pthread_mutex_t lock; /* protects everything below, and the resources' data that say so */
	struct container_counters counters;
	unsigned pending; /* requests being handled by workers */
	bool armed;       /* notify fd armed in the worker pool's epoll (worker.c) */
	struct container_resource *resources; /* one per kind, see container_resource() */

	pthread_mutex_t save_lock; /* orders container_save()'s writes of this entry */
};

/*
 * Takes ownership of notify_fd and pidfd; returns the new entry with one
 * (registry) ref.  An LXC connection is set in lxc_sock afterwards, before
 * the entry is watched.
 */
int container_new(const char *id, const char *profile, const char *runtime, pid_t init_pid,
                  int pidfd, int notify_fd, struct container **ret);
/*
 * Make c survive a restart: its notify fd (or LXC connection) goes to the fd
 * store as n.KEY (x.KEY) and its state file c.KEY is written.  0 or -errno.
 */
int container_persist(struct container *c);
/*
 * Write c's state file again (c.KEY.json: the entry and each resource's
 * save()).  Resource modules call it after each change, without c's lock.
 */
void container_save(struct container *c);
/* New entries get keys above key (restart.c, after restoring entries). */
void container_keys_above(uint64_t key);
/* The start time of process pid (field 22 of /proc/PID/stat), or -errno. */
int container_proc_start(pid_t pid, uint64_t *ret);
/* Record c's Kubernetes namespace and the allowlist's verdict, for `notifyctl list`. */
void container_set_k8s(struct container *c, const char *ns, const char *verdict);
void container_ref(struct container *c);
void container_unref(struct container *c);
/* Drop the registry's reference: the container hung up. */
void container_forget(struct container *c);
unsigned container_count(void);
/* The live entry with key, with a reference the caller drops; NULL if none. */
struct container *container_find_key(uint64_t key);
/*
 * Is an entry of container id (with that init) still in the registry?  For
 * state that outlives the entry it came through (a `runc exec`'s share).
 */
bool container_id_live(const char *id, pid_t init_pid);

/*
 * c's resource of kind ops: the one attached, or a new zeroed one of size
 * bytes (the module's struct, container_resource first) attached now.  NULL
 * when out of memory.  It lives as long as c (or, follows_id, the container).
 */
struct container_resource *
container_resource(struct container *c, const struct container_resource_ops *ops, size_t size);
/* The same without attaching: NULL if c has none of that kind. */
struct container_resource *container_resource_find(struct container *c,
                                                   const struct container_resource_ops *ops);
/*
 * Calls fn(name, count) for each resource of c that can count itself (for
 * the control socket; c's lock is held, fn must not take it).
 */
void container_resource_counts(struct container *c,
                               void (*fn)(const char *name, unsigned n, void *userdata),
                               void *userdata);

/* Calls fn for every live container with the registry locked (for the control socket). */
void container_foreach(void (*fn)(struct container *c, void *userdata), void *userdata);

#endif
