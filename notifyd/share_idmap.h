/* SPDX-License-Identifier: MIT */
/*
 * The user namespace a `virtiofs` share is idmapped with (share_idmap.c).
 */
#ifndef MV_SHARE_IDMAP_H
#define MV_SHARE_IDMAP_H

#include <stddef.h>

/*
 * Invert an id map ("in out count" lines, as /proc/PID/uid_map): each line
 * becomes "out in count".  Returns the length written to buf, or -EINVAL
 * for a malformed map, -ENOSPC when buf is too small.
 */
int share_idmap_invert(const char *map, char *buf, size_t size);

/*
 * A new user namespace whose maps are the inverse of the caller's
 * (procfd = /proc/<tid>): an idmapped mount made with it shows a file whose
 * disk owner is the host id the caller's 0 maps to (100000) as owned by 0,
 * and stores what 0 creates as that host id -- exactly the caller's view.
 * Returns an O_RDONLY fd of the namespace, or -errno.
 */
int share_idmap_userns(int procfd);

#endif
