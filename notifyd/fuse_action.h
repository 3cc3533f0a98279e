/* SPDX-License-Identifier: MIT */
/*
 * The `fuse` action: a container's mount(2) of, say, ext4 is served by a FUSE
 * program (fuse2fs) instead of the kernel's ext4 driver.  notifyd mounts the
 * FUSE connection as root of the container's user namespace, starts the
 * program inside the container's namespaces and cgroup with the caller's
 * ids, hands it the mounted /dev/fuse fd, and answers mount(2) when the
 * filesystem answers (docs/fuse.md).
 */
#ifndef MV_FUSE_ACTION_H
#define MV_FUSE_ACTION_H

#include <stdint.h>

#include "notifyd/profile.h"
#include "notifyd/request.h"

/* profile_fs.handover */
enum fuse_handover {
	FUSE_HANDOVER_AUTO,       /* fusermount if the program links libfuse.so.2, else fd */
	FUSE_HANDOVER_FD,         /* libfuse3: mountpoint argument /dev/fd/N */
	FUSE_HANDOVER_FUSERMOUNT, /* libfuse2: fusermount stand-in answers _FUSE_COMMFD */
};

/*
 * A mount(2) whose rule says action = fuse.  *d comes with the rule; it
 * leaves with the refusal, or with DECISION_DEFERRED once the start-up
 * thread owns rq (it answers it, fuse_startup_run()).
 */
void fuse_action_mount(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                       struct decision *d);

/*
 * The fuse action for the new mount API, at FSCONFIG_CMD_CREATE: rq is the
 * fsconfig request with rq->type, rq->source, rq->data (the recorded options
 * as mount(2)'s comma-joined list; `ro`/`rw` there count as MS_RDONLY, not
 * as options) and rq->notif.data.args unchanged; rq->target is empty.  Like
 * fuse_action_mount() but the mounter does not attach: once the program
 * answered FUSE_INIT the detached mount's fd comes back (owned by the
 * container's user namespace, nosuid,nodev, as fuse_action_mount()'s) and
 * created(rq, mnt_fd, mnt_id, userdata) is called in the start-up's thread
 * (it takes mnt_fd; returns 0 or -errno, then the start-up fails with that
 * errno and the daemon is stopped) before the request is answered.  The
 * daemon is supervised from then on with no target: after the caller's
 * move_mount() call fuse_daemon_set_target().  *d as fuse_action_mount().
 *
 * created (not NULL) is called exactly once, also when there is no mount:
 * with mnt_fd = -errno (mnt_id 0, its return value ignored) when the
 * start-up was refused or failed, before that refusal is answered (in this
 * call when *d does not come back DECISION_DEFERRED), so its owner can mark
 * its context failed and release userdata.
 */
void fuse_action_create(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                        int (*created)(struct request *rq, int mnt_fd, uint64_t mnt_id,
                                       void *userdata),
                        void *userdata, struct decision *d);

#endif
