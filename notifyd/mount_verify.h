/* SPDX-License-Identifier: MIT */
/*
 * The options a new superblock really got, checked against the profile.
 * mount_opts_check() sees only the caller's data string; an ext2/3/4 image
 * carries default mount options of its own (s_mount_opts, e.g. "noload",
 * and s_default_mount_opts, e.g. journal_data) that the kernel applies
 * before the caller's.  Once the superblock exists its options are fixed (a
 * container cannot reconfigure a superblock of the initial user namespace),
 * so reading them then, before the mount is attached, is free of races with
 * a container that rewrites its device.
 */
#ifndef MV_MOUNT_VERIFY_H
#define MV_MOUNT_VERIFY_H

#include <stddef.h>

#include "notifyd/profile.h"

/*
 * Check the effective options of the superblock under the detached mount
 * mntfd against fs.  Returns 0 (fine, or a filesystem without a guard
 * table), -EPERM with the offending option in bad (the profile neither
 * allows nor forces it), or another -errno when the options could not be
 * read (then bad says what failed; the caller refuses the mount all the
 * same: an ext* superblock whose options are unknown is not attached).
 */
int mount_verify_effective(int mntfd, const struct profile_fs *fs, char *bad, size_t badlen);
/*
 * The rule itself, on the text of /proc/fs/ext4/DEV/options (one option a
 * line; commas are accepted too).  0, or -EPERM with *bad pointing into
 * text at the first guarded option the profile neither allows nor forces,
 * or at an item holding a double quote (libmount, which splits the text,
 * would group commas inside quotes).  text is modified (split in place).  For unit tests and
 * mount_verify_effective().
 */
int mount_verify_ext4_text(char *text, const struct profile_fs *fs, const char **bad);

#endif
