/* SPDX-License-Identifier: MIT */
/*
 * The plan of a `fuse` action (fuse_action.c): the program's argv and
 * environment from the rule, and the caller's ids in its user namespace.
 */
#ifndef MV_FUSE_PLAN_H
#define MV_FUSE_PLAN_H

#include <stdbool.h>

#include "notifyd/fuse_startup.h"
#include "notifyd/mount_options.h"
#include "notifyd/profile.h"

/* host id -> id inside a user namespace, from /proc/PID/{uid,gid}_map text; -ERANGE if unmapped. */
int fuse_plan_map_to_ns(const char *map, unsigned long host, unsigned *ret);

/* Does the program (an O_PATH fd) link libfuse.so.2, and so need the fusermount stand-in? */
bool fuse_plan_links_libfuse2(int prog);

/* pl->argv from the rule's arguments with {source} {mountpoint} {options} filled in. */
int fuse_plan_argv(struct fuse_plan *pl, const struct profile_fs *fs, const char *prog_name,
                   const struct mount_opts *opts, bool has_image, const char *mountpoint);

/* Split a kernel FUSE option (key or key=value) for the mounter's fsconfig(). */
void fuse_plan_fsopt(struct fuse_fsopt *o, const char *opt);

/* pl->envp: PATH (the stand-in's directory first for libfuse2), MOUNTVISOR_FUSE_FD, HOME. */
void fuse_plan_env(struct fuse_plan *pl);

#endif
