/* SPDX-License-Identifier: MIT */
#ifndef VFSD_SANDBOX_H
#define VFSD_SANDBOX_H

#include <stdbool.h>

#include "vfsd/options.h"

/*
 * vfsd_sandbox_enter() - isolate the process and open the two fds it keeps:
 * the shared directory (O_PATH) and /proc/self/fd.
 * namespace: new mount, pid and net namespaces (the caller's process stays
 * behind as a waiting parent that forwards signals and exits with the
 * child's status), the share pivot_root'ed to "/", only /proc/self/fd kept.
 * chroot: chroot(2) into the share; needs only CAP_SYS_CHROOT, so it works
 * in a container.  none: no isolation.
 * Return: 0 or -errno.
 */
int vfsd_sandbox_enter(enum vfsd_sandbox mode, const char *dir, bool readonly, int *ret_root,
                       int *ret_proc);
/*
 * Drop every capability except what file operations need (libcap-ng),
 * adjusted by modcaps ("+cap:-cap").  No-op when not privileged.
 */
int vfsd_drop_caps(const char *modcaps, bool file_handles);
/* Raise RLIMIT_NOFILE (want 0: to the hard limit, at most 1,000,000); returns the soft limit. */
long vfsd_raise_nofile(unsigned long want);

#endif
