/* SPDX-License-Identifier: MIT */
/*
 * The `kernel` action: notifyd creates the filesystem with host privilege
 * through the new mount API (fsopen/fsconfig/fsmount), optionally makes the
 * detached mount idmapped for the container's user namespace, and attaches
 * it at a target the caller resolved (mount_lock.c attaches it with its flags
 * locked).
 */
#ifndef MV_MOUNT_KERNEL_H
#define MV_MOUNT_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "notifyd/mount_options.h"

struct kernel_mount {
	const char *type;
	const char *source; /* name for filesystems without a device ("tmpfs"), else NULL */
	int source_fd;      /* O_PATH fd of the block device node, or -EBADF */
	const struct mount_opts *opts;
	const struct mount_flags *flags;
	int userns_fd; /* idmap into this user namespace, or -EBADF */
};

/*
 * Is type a filesystem this kernel has?  Returns 0 and sets *needs_dev
 * (block-device filesystem), or -ENODEV.  With autoload, a type not yet
 * registered gets one chance to load its module (fsopen() asks for
 * "fs-TYPE"): only for types the admin's profile allows, never for names a
 * container made up.
 */
int kernel_fs_lookup(const char *type, bool autoload, bool *needs_dev);
/*
 * fsopen() and fsconfig() of the source and options, up to CMD_CREATE.
 * With a source_fd the "source" is left unset: source_create_as_caller()
 * sets it in the helper that runs CMD_CREATE.  Returns the fs context fd or
 * -errno (msg as above).
 */
int kernel_mount_prepare(const struct kernel_mount *km, char *msg, size_t msglen);
/* After a failed CMD_CREATE: the filesystem's messages from fsfd ("; "-joined). */
void kernel_mount_messages(int fsfd, char *msg, size_t msglen);
/* The detached mount of a created fs context (fsmount, idmap): its fd or -errno. */
int kernel_mount_finish(int fsfd, const struct kernel_mount *km);
/* Attach mntfd on target_fd.  Must run inside the target's mount namespace. */
int kernel_mount_attach(int mntfd, int target_fd);
/* The mount's unique id (never reused while the system runs). */
int kernel_mount_id(int fd, uint64_t *ret);

#endif
