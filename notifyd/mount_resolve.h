/* SPDX-License-Identifier: MIT */
/*
 * Resolving a mount(2) request's target and source the way the caller sees
 * them, shared by the kernel and fuse actions: paths are looked up inside the
 * caller's mount namespace, root and cwd, never through magic links, and a
 * source is accepted only if the caller could open it itself.
 */
#ifndef MV_MOUNT_RESOLVE_H
#define MV_MOUNT_RESOLVE_H

#include <stdbool.h>

#include "notifyd/request.h"

enum mount_source_kind {
	MOUNT_SOURCE_NONE,       /* no source to open (tmpfs, overlay) */
	MOUNT_SOURCE_BLOCK,      /* a block device node (kernel action) */
	MOUNT_SOURCE_BLOCK_FILE, /* a block device node or a regular file (fuse action) */
	MOUNT_SOURCE_DIR,        /* a directory, and the target a file (virtiofs action) */
};

/*
 * Resolve target (and source) as the caller sees them; target_fd NULL:
 * no target (the new mount API's CMD_CREATE).  On success
 * *target_fd and *source_fd (-EBADF when kind is NONE) are O_PATH fds.  On
 * failure *d holds the refusal, with the errno the kernel would give
 * (ENOENT, ENOTBLK, EACCES, ...), and -errno is returned.
 */
int mount_resolve_paths(struct request *rq, enum mount_source_kind kind, bool want_write,
                        const struct proc_creds *cr, int *target_fd, int *source_fd,
                        struct decision *d);

/*
 * Could the caller itself read (and search) or, want_write, write the
 * resolved node fd, by its fs ids and CAP_DAC_OVERRIDE?  0 or -EACCES/-EROFS.
 */
int mount_resolve_may_access(const struct request *rq, int fd, const struct proc_creds *cr,
                             bool want_write);

/*
 * Open the resolved source (O_PATH source_fd) as the caller would, in its
 * cgroup (device policy) with its credentials (source_open.c).  Returns the
 * fd, or -errno with the refusal in *d (EPERM when the device cgroup refuses, or when
 * the caller's cgroup cannot be joined) and returns -errno.
 */
int mount_source_open(struct request *rq, const struct proc_creds *cr, int source_fd,
                      bool want_write, struct decision *d);

/*
 * The kernel action for a block filesystem: check the source as
 * mount_source_open() does, then create the superblock of the prepared fs
 * context fsfd in the caller's cgroup (source_create_as_caller()).  Returns
 * 0, or -errno with the refusal in *d (as mount_source_open() for the check; with the
 * kernel's errno and the filesystem's messages when the creation failed,
 * e.g. EPERM when its device cgroup denies an external journal).  With
 * failed_create, *failed_create tells whether CMD_CREATE itself failed, and
 * then the messages are left in fsfd's log (for the new mount API's caller,
 * docs/new-mount-api.md).
 */
int mount_source_create(struct request *rq, const struct proc_creds *cr, int source_fd,
                        bool want_write, int fsfd, bool *failed_create, struct decision *d);
#endif
