/* SPDX-License-Identifier: MIT */
#ifndef VFSD_SECCOMP_H
#define VFSD_SECCOMP_H

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
extern const char *const vfsd_syscalls_fuse_dir[];   /* fuse_ops_dir.c */
extern const char *const vfsd_syscalls_fuse_xattr[]; /* fuse_ops_xattr.c */
extern const char *const vfsd_syscalls_fuse_creds[]; /* fuse_creds.c, fs_device.c */
extern const char *const vfsd_syscalls_fuse_inode[]; /* fuse_inode.c: file handles */

/* Load the filter with the given action for everything not allowed. */
int vfsd_seccomp_load(enum vfsd_seccomp action);

#endif
