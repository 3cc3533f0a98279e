/* SPDX-License-Identifier: MIT */
/*
 * The `kernel` action's creation step, shared by mount(2)
 * (mount_request.c) and the new mount API's FSCONFIG_CMD_CREATE
 * (newapi_request.c): the same checks, the same source rules, the same
 * superblock, only the attach differs.
 */
#ifndef MV_KERNEL_ACTION_H
#define MV_KERNEL_ACTION_H

#include "notifyd/request.h"

/* The rule of a type without its own section under default-action = kernel. */
extern const struct profile_fs kernel_action_default_fs;

/*
 * Check (max-mounts, the caller's CAP_SYS_ADMIN, flags = mount(2)'s MS_*
 * flags, rq->data's options against fs), resolve rq->source (and, with
 * target_fd, rq->target) as the caller sees them, create the superblock
 * (a block filesystem's in the caller's cgroup) and its detached mount
 * (nosuid,nodev forced, idmapped per fs), and check what the kernel
 * applied.  Returns the detached mount's fd (with *target_fd an O_PATH fd
 * of the target when asked for), or -errno with the refusal in *d
 * (d->action = DECISION_KERNEL).  With failed_fc, a context whose
 * CMD_CREATE failed comes back in *failed_fc (else it stays -EBADF) with
 * the filesystem's messages unread in its log: they name only the caller's
 * own strings (the source as the caller wrote it).
 */
int kernel_action_make(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                       unsigned long flags, int *target_fd, int *failed_fc, struct decision *d);

#endif
