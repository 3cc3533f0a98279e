/* SPDX-License-Identifier: MIT */
/*
 * The fuse action through the new mount API (docs/fuse.md "Through the new
 * mount API"): what newapi_request.c hands over at FSCONFIG_CMD_CREATE on a
 * context whose rule says action = fuse.
 */
#ifndef MV_FUSE_NEWAPI_H
#define MV_FUSE_NEWAPI_H

#include "notifyd/newapi_handle.h"
#include "notifyd/profile.h"
#include "notifyd/request.h"

/*
 * FSCONFIG_CMD_CREATE on h (state NEWAPI_CREATING, h->lock not held):
 * rq carries type, source and the recorded options (rq->data, rq->target
 * empty); h's MS_RDONLY becomes `ro`.  Starts the FUSE program as mount(2)'s
 * fuse action does (fuse_action_create()); h's state becomes NEWAPI_CREATED
 * with the detached FUSE mount in h->mnt_fd once the program answered, or
 * NEWAPI_FAILED, set from the start-up's thread before the request is
 * answered.  *d comes with the rule and leaves as fuse_action_mount()'s:
 * DECISION_DEFERRED (the start-up owns rq: the caller must not touch rq
 * again) or the refusal (h is failed already).
 */
void fuse_newapi_create(struct request *rq, struct newapi_handle *h, const struct profile *p,
                        const struct profile_fs *fs, struct decision *d);

/*
 * The fsmount of such a context hands the caller the mount's root opened
 * O_RDONLY (SECCOMP_ADDFD installs no O_PATH file); notifyd may not open a
 * FUSE mount of the container (FUSE answers only members of the
 * connection's user namespace: EACCES), so a helper in the caller's user
 * namespace (procfd = /proc/<tid>) opens tree_fd's root.  The fd or -errno.
 */
int fuse_newapi_open_root(int tree_fd, int procfd);
/*
 * The same helper opening name (flags) at tree_fd as root of user namespace
 * userns: also ".." of a FUSE mount's root, to tell whether the container
 * attached it (newapi_handle.c).  The fd or -errno.
 */
int fuse_newapi_open_at(int tree_fd, const char *name, int flags, int userns);

#endif
