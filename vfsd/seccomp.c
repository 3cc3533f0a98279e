// SPDX-License-Identifier: MIT
/*
 * seccomp allowlist (see seccomp.h for where the lists are).  The filter is
 * loaded after the sandbox is set up, so mount, pivot_root, chroot and
 * friends are not on any list.  unshare() is allowed with CLONE_FS only,
 * clone() with the flags of a thread only, clone3() not at all.
 */
#include "vfsd/seccomp.h"

#include <errno.h>
#include <sched.h>

#include "common/log.h"

const char *const vfsd_syscalls_runtime[] = {
    /* memory and threads (glibc malloc, pthread_create/join/exit) */
    "brk",
    "mmap",
    "munmap",
    "mprotect",
    "mremap",
    "madvise",
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
    vfsd_syscalls_fuse_xattr, vfsd_syscalls_fuse_creds, vfsd_syscalls_fuse_lock,
};

/* Set before the filter is loaded, when inodes really keep file handles. */
static bool file_handles_used;

void vfsd_seccomp_allow_file_handles(void)
{
	file_handles_used = true;
}

static int allow_list(scmp_filter_ctx ctx, const char *const *names)
{
	for (const char *const *n = names; *n; n++) {
		int nr = seccomp_syscall_resolve_name(*n), r;

		if (nr == __NR_SCMP_ERROR) {
			log_debug("seccomp: syscall %s unknown on this architecture", *n);
			continue;
		}
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Threads: clone() only with exactly the flags of glibc's pthread_create,
 * so no process, no new namespace, nothing sharing less than a thread.
 * The kernel reads only the low 32 bits of clone's flags, so only those are
 * compared.  clone3() takes its flags through a pointer a filter cannot
 * read: it fails with ENOSYS, and glibc (2.34+) then falls back to clone().
 */
#define VFSD_THREAD_CLONE_FLAGS                                                                    \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |        \
	 CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

static int add_thread_rules(scmp_filter_ctx ctx)
{
	int r;

	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	                     SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffull, VFSD_THREAD_CLONE_FLAGS));
	if (r < 0)
		return r;
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return r;
	/* Queue threads call unshare(CLONE_FS) for a private cwd; nothing else. */
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1,
	                        SCMP_A0(SCMP_CMP_EQ, CLONE_FS));
}

uint32_t vfsd_seccomp_default_action(enum vfsd_seccomp action)
{
	switch (action) {
	case VFSD_SECCOMP_LOG:
		return SCMP_ACT_LOG;
	case VFSD_SECCOMP_TRAP:
		return SCMP_ACT_TRAP;
	case VFSD_SECCOMP_KILL:
	default:
		return SCMP_ACT_KILL_PROCESS;
	}
}

int vfsd_seccomp_build(enum vfsd_seccomp action, bool file_handles, scmp_filter_ctx *ret)
{
	scmp_filter_ctx ctx;
	int r = 0;

	ctx = seccomp_init(vfsd_seccomp_default_action(action));
	if (!ctx)
		return -ENOMEM;
	for (size_t l = 0; l < sizeof(all_lists) / sizeof(all_lists[0]) && r >= 0; l++)
		r = allow_list(ctx, all_lists[l]);
	/* name_to_handle_at/open_by_handle_at only serve --inode-file-handles. */
	if (r >= 0 && file_handles)
		r = allow_list(ctx, vfsd_syscalls_fuse_inode);
	if (r >= 0)
		r = add_thread_rules(ctx);
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int vfsd_seccomp_load(enum vfsd_seccomp action)
{
	scmp_filter_ctx ctx;
	int r;

	if (action == VFSD_SECCOMP_NONE)
		return 0;
	r = vfsd_seccomp_build(action, file_handles_used, &ctx);
	if (r < 0)
		return r;
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}
