/* SPDX-License-Identifier: MIT */
/*
 * What a notifyd before us left running: after an exec in place its
 * children are ours to stop, supervise or reap (inherited.c).
 */
#ifndef MOUNTVISOR_NOTIFYD_INHERITED_H
#define MOUNTVISOR_NOTIFYD_INHERITED_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* At start, before anything forks: remember our children (none unless exec'd in place). */
void inherited_note(void);
/* The in-flight log names pid (a request's daemon or helper): recovery handles it. */
void inherited_named(pid_t pid);
/*
 * After recovery: stop and reap each child noted that the log does not name
 * and known(pid) (a restored daemon's supervisor) does not know.
 */
void inherited_stop_unnamed(bool (*known)(pid_t pid));

/* Kill a daemon a notifyd before us started, if pid is still that process (start time). */
void inherited_stop(pid_t pid, uint64_t start);
/*
 * Reap pid when it exits, if it is our child (re-parented to the keeper or
 * systemd: theirs to reap), by a thread that waits for it.
 */
void inherited_reap(pid_t pid);
/*
 * A helper of our predecessor's that still acts for a request (a mount
 * helper shares the dead notifyd's memory, a FUSE mounter is its fork: both
 * run notifyd's binary, which tells them from a process that got the pid
 * since) is stopped, and waited for, before the stage it writes is read.
 * Normally it died with its parent (PR_SET_PDEATHSIG); a credential change
 * on its way into the container may have cleared that.
 */
void inherited_stop_helper(pid_t pid);

#endif
