/* SPDX-License-Identifier: MIT */
/*
 * Kernel constants newer than the headers the project may be built with, in
 * one place.  Debian 12 ships Linux 6.1 uapi headers and glibc 2.36; notifyd
 * uses several interfaces of later kernels when it finds them at run time
 * (DESIGN.md: "probed at start and used when present").  Every value below is
 * the kernel's own and the same on every architecture the project builds for
 * (syscall numbers from 424 on are shared by all of them).
 *
 * The headers that define each constant are included first, so a fallback
 * only fills a gap and never shadows the real definition (and including
 * those headers again later is a no-op).  A file that needs one of these
 * includes this header instead of writing its own #ifndef.
 */
#ifndef MV_KERNEL_COMPAT_H
#define MV_KERNEL_COMPAT_H

#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* --- statx (linux/stat.h) --- */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U /* Linux 6.8 */
#endif

/* --- seccomp (linux/seccomp.h) --- */
#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64) /* Linux 6.6 */
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0) /* Linux 6.6 */
#endif

/* --- mount API (linux/mount.h, linux/fcntl.h) --- */
#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000 /* Linux 5.14 */
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000 /* Linux 5.12 (mount_setattr) */
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_fsopen
#define SYS_fsopen 430
#endif
#ifndef SYS_fsconfig
#define SYS_fsconfig 431
#endif
#ifndef SYS_fsmount
#define SYS_fsmount 432
#endif
#ifndef SYS_fspick
#define SYS_fspick 433
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

/* --- statmount(2) (linux/mount.h, Linux 6.8; by namespace id 6.11) --- */
#ifndef __NR_statmount
#define __NR_statmount 457
#endif
#ifndef SYS_statmount
#define SYS_statmount __NR_statmount
#endif
/* STATMOUNT_MNT_BASIC, under our own name: the 6.8 header also defines it. */
#define MV_STATMOUNT_MNT_BASIC 0x2u
/* struct mnt_id_req as of MNT_ID_REQ_SIZE_VER1 (Linux 6.11: mnt_ns_id). */
struct mv_mnt_id_req {
	uint32_t size, spare;
	uint64_t mnt_id, param, mnt_ns_id;
};

/* --- namespaces and pidfds (linux/nsfs.h, linux/pidfd.h) --- */
#ifndef NS_GET_MNTNS_ID
#define NS_GET_MNTNS_ID _IOR(0xb7, 0x5, uint64_t) /* Linux 6.8 */
#endif
#ifndef PIDFD_GET_MNT_NAMESPACE
#define PIDFD_GET_MNT_NAMESPACE _IO(0xFF, 3) /* Linux 6.11 */
#endif

/* --- waitid (linux/wait.h) ---
 * glibc 2.36 has P_PIDFD as an idtype_t enumerator, not a macro, so this
 * defines the macro there too, to the same value; <sys/wait.h> above comes
 * first, so the enum is already declared when the macro appears. */
#ifndef P_PIDFD
#define P_PIDFD 3 /* Linux 5.4 */
#endif

/* --- clone3 (linux/sched.h) --- */
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL /* Linux 5.7 */
#endif

#endif
