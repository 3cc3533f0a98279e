// SPDX-License-Identifier: MIT
/*
 * seccomp allowlist (see seccomp.h for where the lists are).  The filter is
 * loaded after the sandbox is set up, so mount, pivot_root, chroot and
 * friends are not on any list.  unshare() is allowed with CLONE_FS only.
 */
#include "vfsd/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>

#include "common/log.h"

const char *const vfsd_syscalls_runtime[] = {
    /* memory and threads (glibc malloc, pthread_create/join/exit) */
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
    "clone",
    "clone3",
    "set_robust_list",
    "rseq",
    "futex",
    "exit",
    "exit_group",
    "gettid",
    "getpid",
    "tgkill",
    "sched_yield",
    "sched_getaffinity",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "restart_syscall",
    "nanosleep",
    "clock_nanosleep",
    "clock_gettime",
    "gettimeofday",
    "getrandom",
    "prlimit64",
    "getrlimit",
    /* glibc qsort() asks for the RAM size before sorting large arrays (virtqueue.c) */
    "sysinfo",
    /* logging (common/log.c) and generic fd handling */
    "write",
    "writev",
    "read",
    "close",
    "fcntl",
    "dup",
    "dup3",
    "fstat",
    "newfstatat",
    "lseek",
    "geteuid",
    "getuid",
    "getegid",
    "getgid",
    "openat",
    NULL,
};

static const char *const *const all_lists[] = {
    vfsd_syscalls_runtime,    vfsd_syscalls_vhost_user, vfsd_syscalls_guest_mem,
    vfsd_syscalls_fuse_entry, vfsd_syscalls_fuse_file,  vfsd_syscalls_fuse_dir,
    vfsd_syscalls_fuse_xattr, vfsd_syscalls_fuse_creds, vfsd_syscalls_fuse_inode,
};

int vfsd_seccomp_load(enum vfsd_seccomp action)
{
	uint32_t def;
	scmp_filter_ctx ctx;
	int r = 0;

	switch (action) {
	case VFSD_SECCOMP_NONE:
		return 0;
	case VFSD_SECCOMP_LOG:
		def = SCMP_ACT_LOG;
		break;
	case VFSD_SECCOMP_TRAP:
		def = SCMP_ACT_TRAP;
		break;
	case VFSD_SECCOMP_KILL:
	default:
		def = SCMP_ACT_KILL_PROCESS;
		break;
	}
	ctx = seccomp_init(def);
	if (!ctx)
		return -ENOMEM;
	for (size_t l = 0; l < sizeof(all_lists) / sizeof(all_lists[0]) && r >= 0; l++)
		for (const char *const *n = all_lists[l]; *n && r >= 0; n++) {
			int nr = seccomp_syscall_resolve_name(*n);

			if (nr == __NR_SCMP_ERROR) {
				log_debug("seccomp: syscall %s unknown on this architecture", *n);
				continue;
			}
			r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		}
	/* Queue threads call unshare(CLONE_FS) for a private cwd; nothing else. */
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
		                     SCMP_A0(SCMP_CMP_EQ, CLONE_FS));
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
