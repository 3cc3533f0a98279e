/* SPDX-License-Identifier: MIT */
#ifndef MV_KERNEL_CHECK_H
#define MV_KERNEL_CHECK_H
/*
 * The oldest kernel notifyd runs on.  Each feature notifyd cannot do without
 * is probed by calling it (not by parsing the version string: distributions
 * backport, and a seccomp filter or a container may hide a call), newest
 * first, so the first one missing names the version that is needed.
 * Features newer than the minimum that notifyd only uses when present
 * (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, STATX_MNT_ID_UNIQUE, statmount, ...)
 * are probed in main.c and listed in its start-up line instead.
 */

#include <stddef.h>

#define KERNEL_CHECK_MIN "5.12"

/*
 * 0 when every required feature is there; otherwise -ENOSYS (or what the
 * probe returned) with a sentence for the log in why: the minimum version,
 * the missing feature, the kernel it came with and the running kernel.
 */
int kernel_check_minimum(char *why, size_t len);

/*
 * Does SECCOMP_IOCTL_NOTIF_ADDFD know SECCOMP_ADDFD_FLAG_SEND (5.14)?  1 or
 * 0; probed once (a child installs an allow-all filter with a listener and
 * asks), then remembered.  Without it the new mount API's kernel and fuse
 * actions answer ENOSYS (docs/new-mount-api.md).  Call it first before any
 * thread exists.
 */
int kernel_check_addfd_send(void);

#endif
