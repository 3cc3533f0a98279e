/* SPDX-License-Identifier: MIT */
#ifndef VFSD_SECCOMP_H
#define VFSD_SECCOMP_H

#include <seccomp.h>
#include <stdbool.h>

#include "vfsd/options.h"

/*
 * The syscall allowlist lives next to the code that needs it: each module
 * exports a NULL-terminated list of syscall names, and vfsd_seccomp_load()
 * allows their union.  Adding a syscall to a module means adding it to the
 * list in the same file.
 */
extern const char *const vfsd_syscalls_runtime[];    /* seccomp.c: libc, threads, memory */
extern const char *const vfsd_syscalls_vhost_user[]; /* vhost_user.c */
extern const char *const vfsd_syscalls_guest_mem[];  /* guest_mem.c */
extern const char *const vfsd_syscalls_fuse_entry[]; /* fuse_ops_entry.c */
extern const char *const vfsd_syscalls_fuse_file[];  /* fuse_ops_file.c */
extern const char *const vfsd_syscalls_fuse_lock[];  /* fuse_ops_lock.c */
extern const char *const vfsd_syscalls_fuse_dir[];   /* fuse_ops_dir.c */
extern const char *const vfsd_syscalls_fuse_xattr[]; /* fuse_ops_xattr.c */
extern const char *const vfsd_syscalls_fuse_creds[]; /* fuse_creds.c, fs_device.c */
/* fuse_inode.c: file handles, allowed only after vfsd_seccomp_allow_file_handles() */
extern const char *const vfsd_syscalls_fuse_inode[];

/*
 * Called by the inode table once inodes really keep file handles (the start-up
 * probe worked); before the filter is loaded.  Without it the filter does
 * not allow name_to_handle_at and open_by_handle_at.
 */
void vfsd_seccomp_allow_file_handles(void);
/*
 * vfsd_seccomp_build() - the filter, not loaded (vfsd_seccomp_load(), tests).
 * @action: for everything not allowed (NONE counts as KILL here).
 * @file_handles: allow the file-handle syscalls.
 * Return: 0 with *ret to seccomp_release(), or -errno.
 */
int vfsd_seccomp_build(enum vfsd_seccomp action, bool file_handles, scmp_filter_ctx *ret);
/* libseccomp's action for what --seccomp names (NONE counts as KILL). */
uint32_t vfsd_seccomp_default_action(enum vfsd_seccomp action);
/* Load the filter with the given action for everything not allowed. */
int vfsd_seccomp_load(enum vfsd_seccomp action);

#endif
