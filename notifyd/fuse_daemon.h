/* SPDX-License-Identifier: MIT */
/*
 * Supervision of the FUSE servers notifyd starts for containers: the FUSE
 * programs of the `fuse` action and the vfsd processes of the `virtiofs`
 * action (vfsd serves the FUSE protocol to a guest).  One thread owns an
 * epoll set with each daemon's pidfd and stderr pipe: it logs what the
 * daemon writes, reaps it when it exits (daemons are notifyd's children)
 * and, if its mount is still attached, detaches it in the container's mount
 * namespace so the container sees no dead mount (a FUSE mount answering
 * ENOTCONN, a share's socket nobody serves).
 */
#ifndef MV_FUSE_DAEMON_H
#define MV_FUSE_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "notifyd/container.h"

/* What a daemon is; each kind has its own per-container count and limit. */
enum fuse_daemon_kind {
	FUSE_DAEMON_PROGRAM, /* a FUSE program (max-fuse-daemons), exits when unmounted */
	FUSE_DAEMON_VFSD,    /* vfsd for a share (max-shares), stopped when unmounted */
	_FUSE_DAEMON_KIND_MAX,
};

struct fuse_daemon_info {
	enum fuse_daemon_kind kind;
	int pidfd;           /* taken over */
	int stderr_fd;       /* read end of the program's stdout/stderr, taken over */
	int mntns_fd;        /* the container's mount namespace, taken over */
	pid_t pid;           /* in notifyd's pid namespace */
	uint64_t mnt_id;     /* STATX_MNT_ID_UNIQUE of the FUSE mount */
	uint64_t mnt_id_old; /* STATX_MNT_ID (as in mountinfo) */
	dev_t dev;           /* the FUSE superblock (fuse_daemon_set_target()), or 0 */
	const char *program, *target;
	const char *source, *options; /* for `notifyctl shares`; NULL for FUSE programs */
};

/*
 * Count a daemon of kind about to start against c's limit: 0, or -ENOSPC
 * when c still has max daemons of that kind after waiting up to 2 s for one
 * to exit (-ENOMEM).  Every successful reserve is followed by
 * fuse_daemon_add() or fuse_daemon_unreserve().  The count is c's
 * "fuse-daemons" or "vfsd-shares" resource (container.h): it goes down when
 * a daemon exits, and its entry's hang-up kills the daemons if the
 * container's init is gone.
 */
int fuse_daemon_reserve(struct container *c, enum fuse_daemon_kind kind, unsigned max);
void fuse_daemon_unreserve(struct container *c, enum fuse_daemon_kind kind);
/* Supervise a started daemon (takes its fds, holds a reference on c). */
int fuse_daemon_add(struct container *c, struct fuse_daemon_info *info);
/*
 * The new mount API (fuse_action_create()): the caller attached a mount
 * mnt_fd of a FUSE superblock notifyd created for c (the detached mount
 * created() got, or a clone of it: found by its superblock) at target; its
 * program now serves that mount (unique id mnt_id), so its exit detaches
 * it and the state file and `notifyctl` name it.  *mnt_id_old gets the
 * mount's mountinfo id (notifyd learns no other attribute of a FUSE mount),
 * for mount_record_add().  0, -ENOENT when c has no such daemon (it
 * exited), -ENOMEM, or statx's -errno.
 */
int fuse_daemon_set_target(struct container *c, int mnt_fd, uint64_t mnt_id, const char *target,
                           uint64_t *mnt_id_old);
/*
 * After c's mounts changed (a umount2 notifyd did): stop (SIGTERM) each of
 * c's vfsd daemons whose mount has no record any more.  FUSE programs see
 * their unmount themselves.  Returns how many were signalled.
 */
int fuse_daemon_stop_unmounted(struct container *c);

/* One running vfsd share, for the control socket. */
struct fuse_daemon_share {
	pid_t pid;
	const char *source, *target, *options;
	uint64_t started; /* CLOCK_REALTIME seconds */
};
/* Calls fn for each of c's vfsd shares (a lock is held: fn must not call in here). */
void fuse_daemon_foreach_share(struct container *c,
                               void (*fn)(const struct fuse_daemon_share *s, void *userdata),
                               void *userdata);

/*
 * Restart (restart.c): supervise again the daemons c's state file lists (its
 * "fuse-daemons" or "vfsd-shares" part; obj is an array).  Each is known by
 * pid and start time; one that exited meanwhile is handled as any exit (its
 * mount detached, counted down).  Restored daemons are not notifyd's
 * children: their exit status is unknown.  0 or the first -errno.
 */
int fuse_daemon_restore(struct container *c, struct json_object *obj);

/* Is pid a daemon under supervision (started here or restored)? */
bool fuse_daemon_known(pid_t pid);

/* At exit: stop the thread and release every record (daemons keep running). */
void fuse_daemon_shutdown(void);

#endif
