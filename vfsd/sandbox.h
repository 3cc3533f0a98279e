/* SPDX-License-Identifier: MIT */
#ifndef VFSD_SANDBOX_H
#define VFSD_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include "vfsd/options.h"

/*
 * vfsd_sandbox_enter() - isolate the process and open the two fds it keeps:
 * the shared directory (O_PATH) and /proc/self/fd.
 * namespace: new mount, pid and net namespaces (the caller's process stays
 * behind as a waiting parent that forwards signals and exits with the
 * child's status; it keeps no fd but stdio, no capability, gets
 * NO_NEW_PRIVS and a wait/kill/exit seccomp filter with the action seccomp),
 * the share bind-mounted nodev,nosuid (and rdonly with readonly) and
 * pivot_root'ed to "/", only /proc/self/fd kept.
 * chroot: chroot(2) into the share; needs only CAP_SYS_CHROOT, so it works
 * in a container.  none: no isolation.
 * Return: 0 or -errno.
 */
int vfsd_sandbox_enter(enum vfsd_sandbox mode, const char *dir, bool readonly,
                       enum vfsd_seccomp seccomp, int *ret_root, int *ret_proc);
/*
 * vfsd_close_inherited_fds() - close every fd above stdio except the n fds
 * in keep[] (ascending), so nothing the launcher left open (a directory fd
 * outside the share, a socket) reaches the sandbox.
 * Return: 0 or -errno.
 */
int vfsd_close_inherited_fds(const int *keep, size_t n);
/*
 * Drop every capability except what file operations need (libcap-ng),
 * adjusted by modcaps ("+cap:-cap").  No-op when not privileged.
 */
int vfsd_drop_caps(const char *modcaps, bool file_handles);
/* Raise RLIMIT_NOFILE (want 0: to the hard limit, at most 1,000,000); returns the soft limit. */
long vfsd_raise_nofile(unsigned long want);

#endif
