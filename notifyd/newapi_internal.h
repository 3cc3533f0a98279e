/* SPDX-License-Identifier: MIT */
/*
 * What the new mount API's handlers share: newapi_request.c (fsopen, the
 * dispatch), newapi_fsconfig.c and newapi_mount.c (fsmount, move_mount,
 * mount_setattr).
 */
#ifndef MV_NEWAPI_INTERNAL_H
#define MV_NEWAPI_INTERNAL_H

#include "notifyd/newapi_handle.h"
#include "notifyd/profile.h"
#include "notifyd/request.h"

/* The profile's rule for type: 0 with *p, *fs (NULL: the default), *action; or -errno in *d. */
int newapi_rule_of(struct request *rq, const struct profile_set *set, const char *type,
                   const struct profile **p, const struct profile_fs **fs,
                   enum profile_action *action, struct decision *d);
/* Continue: the fd is not a `what` notifyd made for this container, the kernel decides. */
struct decision newapi_not_ours(const char *what);
/*
 * The handle of kind behind the caller's fd, referenced (put it with
 * newapi_handle_put()), the request named after its type; or NULL with *d
 * the answer: ENOENT when the caller gave up, continue when the fd is not a
 * handle notifyd made for this container.
 */
struct newapi_handle *newapi_handle_for(struct request *rq, int fd, enum newapi_kind kind,
                                        struct decision *d);

struct decision newapi_fsconfig(struct request *rq);
struct decision newapi_fsmount(struct request *rq);
struct decision newapi_move_mount(struct request *rq);
struct decision newapi_mount_setattr(struct request *rq);

#endif
