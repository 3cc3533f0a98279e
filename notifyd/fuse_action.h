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

#endif
