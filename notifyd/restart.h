/* SPDX-License-Identifier: MIT */
/*
 * Taking over from a notifyd that ran before (docs/restart.md): the
 * container entries it had are rebuilt from their state files (state.h)
 * and the notify fds / LXC connections the store handed back (fd_store.h),
 * and each resource module restores and reconciles its part.
 */
#ifndef MV_RESTART_H
#define MV_RESTART_H

#include "notifyd/container.h"

/*
 * Rebuild every entry whose state file and fd are both there and hand it to
 * adopt (which starts serving it, taking the registry's reference).  An
 * entry whose fd is gone (it hung up while nobody served it) is rebuilt with
 * its resources and forgotten at once, so they are released as at any
 * hang-up.  Returns the number of entries adopted.
 */
unsigned restart_restore(int (*adopt)(struct container *c));

#endif
