/* SPDX-License-Identifier: MIT */
/*
 * Supervision of running FUSE daemons.  One thread owns an epoll set with
 * each daemon's pidfd and stderr pipe: it logs what the program writes,
 * reaps it when it exits (daemons are notifyd's children through
 * CLONE_PARENT) and, if its mount is still attached, detaches it in the
 * container's mount namespace so the container sees no dead ENOTCONN mount.
 */
#ifndef MV_FUSE_DAEMON_H
#define MV_FUSE_DAEMON_H

#include <stdint.h>
#include <sys/types.h>

#include "notifyd/container.h"

struct fuse_daemon_info {
	int pidfd;           /* taken over */
	int stderr_fd;       /* read end of the program's stdout/stderr, taken over */
	int mntns_fd;        /* the container's mount namespace, taken over */
	pid_t pid;           /* in notifyd's pid namespace */
	uint64_t mnt_id;     /* STATX_MNT_ID_UNIQUE of the FUSE mount */
	uint64_t mnt_id_old; /* STATX_MNT_ID (as in mountinfo) */
	const char *program, *target;
};

/*
 * Count a daemon about to start against c's limit: 0, or -ENOSPC when c
 * still has max daemons after waiting up to 2 s for one to exit (-ENOMEM).
 * Every successful reserve is followed by fuse_daemon_add() or
 * fuse_daemon_unreserve().  The count is c's "fuse-daemons" resource
 * (container.h): it goes down when a daemon exits, and its entry's hang-up
 * kills the daemons if the container's init is gone.
 */
int fuse_daemon_reserve(struct container *c, unsigned max);
void fuse_daemon_unreserve(struct container *c);
/* Supervise a started daemon (takes its fds, holds a reference on c). */
int fuse_daemon_add(struct container *c, struct fuse_daemon_info *info);
/* At exit: stop the thread and release every record (daemons keep running). */
void fuse_daemon_shutdown(void);

#endif
