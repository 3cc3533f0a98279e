/* SPDX-License-Identifier: MIT */
/*
 * Attaching notifyd's mounts with their flags locked by the kernel.
 *
 * A mount made with host privilege and attached straight into a container's
 * mount namespace is "owned" by nobody in particular: the container's root,
 * which has CAP_SYS_ADMIN over its own mount namespace, may remount it
 * dev,suid,rw.  The kernel locks a mount's nodev, nosuid, noexec, ro and atime
 * flags (MNT_LOCK_*) when it copies a mount tree into a mount namespace owned
 * by a less privileged user namespace.  So a helper process moves the
 * detached mount onto a staging directory of a tiny private mount namespace,
 * enters the container's user namespace, unshares its mount namespace there
 * (the copy is owned by the container's user namespace: flags locked), clones
 * the locked mount with open_tree(OPEN_TREE_CLONE) (a clone keeps the locks),
 * enters the container's mount namespace and attaches the clone at the
 * target.  Every later bind copy of it keeps the locks as well.
 */
#ifndef MV_MOUNT_LOCK_H
#define MV_MOUNT_LOCK_H

#include <stdint.h>

/*
 * Attach the detached mount mnt_fd at target_fd (an O_PATH fd opened in the
 * caller's view) in the mount namespace of the caller (procfd = /proc/<tid>)
 * with its flags locked.  Returns 0 and the unique id of the mount now
 * attached in *mnt_id, or -errno; *step (if given) names what failed.
 * When the caller shares notifyd's own user namespace there is nothing to
 * lock against (it is as privileged as notifyd): the mount is attached as is.
 */
int mount_lock_attach(int mnt_fd, int procfd, int target_fd, uint64_t *mnt_id, const char **step);

/*
 * The same recipe, stopped before the attach (the new mount API's fsmount,
 * docs/new-mount-api.md): a clone of the detached mount mnt_fd, owned by
 * the user namespace of the caller (procfd = /proc/<tid>) with its flags
 * locked, still detached, into *clone_fd with its unique id in *mnt_id.
 * mnt_fd is used up (the caller still closes it): it is moved onto the
 * helper's stage and goes with it; pass a clone to keep a mount.  0 or -errno; *step as above.
 */
int mount_lock_clone(int mnt_fd, int procfd, int *clone_fd, uint64_t *mnt_id, const char **step);

#endif
