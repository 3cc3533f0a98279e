/* SPDX-License-Identifier: MIT */
/*
 * The checks shared by the kernel and fuse actions, before anything is
 * resolved in the caller's view (mount_resolve.h does that part).
 */
#ifndef MV_MOUNT_CHECK_H
#define MV_MOUNT_CHECK_H

#include "notifyd/mount_options.h"
#include "notifyd/profile.h"
#include "notifyd/request.h"

/*
 * What every emulated mount checks first: the container's max-mounts, the
 * caller's CAP_SYS_ADMIN over its own mount namespace (fills *cr), the
 * mount flags (fills *mf) and the options against the profile (fills *opts
 * with the caller's options plus the forced ones; the caller frees it, also
 * on failure).  0, or -errno with the refusal in *d.
 */
int mount_check_prepare(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                        struct mount_flags *mf, struct mount_opts *opts, struct proc_creds *cr,
                        struct decision *d);

/*
 * may_mount(): the caller has CAP_SYS_ADMIN over its own mount namespace
 * (its creds in *cr).  0, or -errno (EPERM) with the refusal in *d.
 */
int mount_check_admin(struct request *rq, struct proc_creds *cr, struct decision *d);

/* The same with the MS_* flags given (the new mount API's sb flags), not mount(2)'s args[3]. */
int mount_check_prepare_flags(struct request *rq, const struct profile *p,
                              const struct profile_fs *fs, unsigned long flags,
                              struct mount_flags *mf, struct mount_opts *opts,
                              struct proc_creds *cr, struct decision *d);

#endif
