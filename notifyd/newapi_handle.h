/* SPDX-License-Identifier: MIT */
/*
 * The new mount API's handles notifyd gave a container (docs/new-mount-api.md):
 * fs contexts its fsopen() got (the powerless handle H: opened with notifyd's
 * creds, so the container's own FSCONFIG_CMD_CREATE on it fails EPERM) and
 * mounts its fsmount() got and no move_mount() attached yet.  A handle is
 * known by the open file, not by the fd number the caller passes: kcmp
 * (target_same_file()) of the caller's fd against our dup of each of the
 * container's handles, so a handle of another container, a forged or a
 * reused number is simply "not ours".
 *
 * The registry is a container resource (container.h), capped by the
 * profile's max-fs-contexts; its list is under the container's lock, each
 * handle's state under the handle's own lock, which serialises calls on it.
 */
#ifndef MV_NEWAPI_HANDLE_H
#define MV_NEWAPI_HANDLE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "notifyd/mount_options.h"
#include "notifyd/profile.h"

struct container;
struct target;

enum newapi_kind {
	NEWAPI_CONTEXT, /* from fsopen(): fd is H */
	NEWAPI_MOUNT,   /* from fsmount(): fd is the locked detached clone handed out */
};

/* A context's state, as the kernel's fs_context phases the caller can tell apart. */
enum newapi_state {
	NEWAPI_PARAMS,   /* FS_CONTEXT_CREATE_PARAMS: fsconfig SET_* recorded */
	NEWAPI_CREATING, /* CMD_CREATE running: other calls get EBUSY */
	NEWAPI_CREATED,  /* FS_CONTEXT_AWAITING_MOUNT: mnt_fd is the superblock's mount */
	NEWAPI_FAILED,   /* FS_CONTEXT_FAILED: EBUSY to fsconfig, EINVAL to fsmount */
};

/* The keys a context records that are not options: the superblock flags. */
#define NEWAPI_SB_FLAGS_MAX 8

struct newapi_handle {
	struct newapi_handle *next; /* the registry's list, under the container's lock */
	unsigned refs;              /* under the container's lock */
	bool dropped;               /* out of the list; freed with its last reference */
	pthread_mutex_t lock;       /* serialises calls; protects everything below */

	enum newapi_kind kind;
	int fd;          /* our dup of what the caller got: kcmp identity */
	pid_t owner;     /* the process that got it (its tgid) */
	int owner_pidfd; /* ... held to tell when it is gone, or -EBADF */
	enum profile_action action;
	enum newapi_state state;
	char type[256];
	char source[PATH_MAX];  /* the caller's string, resolved at CMD_CREATE */
	struct mount_opts opts; /* recorded options, in order ("key" / "key=value") */
	unsigned long sb_flags; /* MS_RDONLY, MS_SYNCHRONOUS, MS_DIRSYNC, MS_LAZYTIME */
	int mnt_fd;             /* CREATED: the detached mount of the superblock, else -EBADF */
	uint64_t mnt_id;        /* NEWAPI_MOUNT: the handed-out clone's unique id */
	int tree_fd; /* NEWAPI_MOUNT: the clone itself (O_PATH), what move_mount attaches */
	int sb_fd;   /* NEWAPI_MOUNT: its context's mount (unlocked): mount_setattr's new clone */
	bool idmapped;
	bool cloexec; /* FSOPEN_CLOEXEC: the caller's fd had O_CLOEXEC */
	bool mounted; /* CREATED and fsmount()ed (or being): the kernel's EBUSY for another */
};

/*
 * A new handle of kind holding fd (taken), owned by the caller's process,
 * registered with one reference for the caller; -EMFILE when the container
 * holds max (after newapi_handle_sweep()), -ENOMEM.
 */
int newapi_handle_add(struct container *c, struct target *t, unsigned max, enum newapi_kind kind,
                      int fd, struct newapi_handle **ret);
/*
 * The container's handle of kind that the caller's fd `fd` is (kcmp), with a
 * reference; NULL if none (not ours: the kernel decides), or when the
 * caller went away (*err = -ENOENT).
 */
struct newapi_handle *newapi_handle_find(struct container *c, struct target *t, int fd,
                                         enum newapi_kind kind, int *err);
/*
 * Take h out of the registry (its reference stays the caller's to put).
 * False when it was out already (newapi_handle_mounts() made an attached
 * mount handle a record meanwhile).
 */
bool newapi_handle_drop(struct container *c, struct newapi_handle *h);
void newapi_handle_put(struct container *c, struct newapi_handle *h);
/*
 * How many mounts fsmount() handed c that are not mount records: what
 * max-mounts counts besides the records (a handed-out mount can be attached
 * by a path, which no rule traps).  Those the container attached by a path
 * meanwhile become mount records on the way (so the sum stays the same).
 */
unsigned newapi_handle_mounts(struct container *c);
/* How many handles c holds. */
unsigned newapi_handle_count(struct container *c);
/*
 * Drop the handles nobody holds any more: those whose owner process is gone
 * and, full (when the registry is at least half full), those our dup of
 * which has no counterpart among the owner's fds (kcmp).  A fd the owner
 * passed on (fork, SCM_RIGHTS) and closed itself is not seen: that handle
 * goes, and later calls on it are the kernel's on a powerless H.  A mount
 * handle that goes has its clone closed first (a still detached mount
 * dissolves: no one can attach it after), then becomes a mount record if
 * the container attached it by a path.  Returns how many went.
 */
int newapi_handle_sweep(struct container *c, bool full);
/*
 * At max-mounts: the handles whose owner is gone go now (as
 * newapi_handle_sweep(c, false)), waiting up to 20 ms for a reference the
 * worker that handed one out may still hold (ADDFD|SEND answers before it
 * puts it), as newapi_handle_add() does at max-fs-contexts.  How many went.
 */
int newapi_handle_sweep_gone(struct container *c);

#endif
