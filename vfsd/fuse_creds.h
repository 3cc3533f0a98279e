/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FUSE_CREDS_H
#define VFSD_FUSE_CREDS_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Per-thread credentials for requests that create files: fsuid/fsgid are
 * switched with raw syscalls, which act on the calling thread only (glibc's
 * set*id wrappers would change every thread).  Supplementary groups are
 * dropped once for the whole process at start-up (CVE-2022-0358), so a new
 * file can only get the guest caller's gid or the directory's.
 */
struct vfsd_creds {
	uid_t uid;
	gid_t gid;
	int switched;
};

/* Become (uid, gid) for file-system checks; restore with vfsd_creds_restore(). */
int vfsd_creds_switch(struct vfsd_creds *saved, uid_t uid, gid_t gid);
void vfsd_creds_restore(struct vfsd_creds *saved);
/* Drop all supplementary groups of the process (before threads start). */
int vfsd_creds_drop_groups(void);

/*
 * FUSE_HANDLE_KILLPRIV_V2: the guest leaves it to the server to clear the
 * setuid/setgid bits on write, truncate and chown when its caller lacks
 * CAP_FSETID.  The host kernel clears them itself for a caller without
 * CAP_FSETID, so such a request runs with CAP_FSETID out of this thread's
 * effective set.  (security.capability needs nothing: the kernel removes it
 * on every write, truncate and chown, whatever the caller's capabilities.)
 * Returns whether it was dropped; give that to vfsd_creds_restore_fsetid().
 */
bool vfsd_creds_drop_fsetid(void);
void vfsd_creds_restore_fsetid(bool dropped);

#endif
