/* SPDX-License-Identifier: MIT */
/*
 * The forked children of a FUSE start-up (fuse_children.c): the mounter and,
 * cloned by it, the FUSE daemon.  They run after fork() in a multi-threaded
 * process, so they use only async-signal-safe calls, on what the plan
 * (struct fuse_plan) prepared before the fork.
 */
#ifndef MV_FUSE_CHILDREN_H
#define MV_FUSE_CHILDREN_H

#include <stdint.h>

#include "notifyd/fuse_startup.h"

/* What the mounter tells the start-up thread over pl->ctl (one SEQPACKET each). */
enum { MSG_STARTED = 1, MSG_READY, MSG_ATTACHED, MSG_FAILED, MSG_DETACHED };
struct mounter_msg {
	int kind;
	int err; /* positive errno for MSG_FAILED */
	uint64_t mnt_id, mnt_id_old;
	char text[200];
};

/*
 * The mounter, in the child of fork(): enters the container, makes the
 * detached FUSE mount, clones the daemon (which execs the program), reports
 * MSG_STARTED (with the daemon's pidfd), MSG_READY after FUSE_INIT, and on a
 * byte from the start-up thread attaches the mount (MSG_ATTACHED) or, for a
 * detached plan (the new mount API), sends the mount's fd back
 * (MSG_DETACHED).  Any failure is one MSG_FAILED.  Never returns.
 */
__attribute__((noreturn)) void fuse_children_mounter(const struct fuse_plan *pl);

/*
 * Async-signal-safe helpers, exposed for the children's unit test: the
 * decimal form of v in buf (NUL-terminated, at most 21 bytes with the NUL),
 * returning its length; and a bounded copy that always terminates dst.
 */
size_t fuse_children_utoa(uint64_t v, char *buf, size_t size);
size_t fuse_children_strlcpy(char *dst, const char *src, size_t size);

#endif
