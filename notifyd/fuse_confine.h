/* SPDX-License-Identifier: MIT */
/*
 * Confinement of a FUSE program.  The program is container code: a host
 * binary run in the container's root honours the container's
 * /etc/ld.so.preload, and program = container:NAME is the container's own.
 * So it gets what the trapped caller has, or less (docs/security.md, "The
 * FUSE program is container code"):
 *
 *   - capability sets (bounding, permitted, effective, inheritable, ambient)
 *     within the caller's, from /proc/<caller tid>/status;
 *   - no_new_privs when the caller has it;
 *   - notifyd's own seccomp filter (fuse_confine_filter()): every mount,
 *     namespace, ptrace, module, kexec, bpf, keyring, ... call fails EPERM;
 *   - the caller's groups (setgroups failing is an error, not a shrug);
 *   - no fd leading outside the container: the fusermount stand-in is copied
 *     from a sealed memfd into a tmpfs of the program's private mount
 *     namespace instead of being reached through a host directory.
 *
 * Everything is computed in the worker (fuse_confine_prepare()); the forked
 * daemon (fuse_children.c) only calls fuse_confine_shim() and
 * fuse_confine_apply(), which use system calls only (async-signal-safe: the
 * daemon is forked from a multi-threaded process; the list of calls is at
 * the top of fuse_children.c).
 */
#ifndef MV_FUSE_CONFINE_H
#define MV_FUSE_CONFINE_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit status of a daemon that could not be confined: the mount is refused EPERM. */
#define FUSE_CONFINE_EXIT 125

struct fuse_confine {
	uint64_t bnd, inh, amb;   /* the sets the daemon keeps (see fuse_confine_prepare) */
	bool nnp;                 /* caller has no_new_privs */
	int last_cap;             /* /proc/sys/kernel/cap_last_cap */
	struct sock_fprog filter; /* shared, immutable: never freed */
	/* The caller's, for the log: */
	uint64_t caller_bnd, caller_prm, caller_eff, caller_inh, caller_amb;
	int caller_seccomp; /* Seccomp: 0 none, 1 strict, 2 filter */
};

/*
 * Read the caller's capability sets, no_new_privs and seccomp mode from its
 * /proc/<tid> (procfd, already checked to be the caller) and fill *cf.  The
 * daemon's bounding set is the caller's bounding set restricted to its
 * effective set, so even a program that runs as uid 0 of the user namespace
 * gets after execve() no capability the caller could not use.  0 or -errno
 * with why filled.
 */
int fuse_confine_prepare(int procfd, struct fuse_confine *cf, char *why, size_t whylen);

/*
 * A sealed memfd holding the fusermount stand-in (read once from
 * $MOUNTVISOR_FUSE_SHIM_DIR/fusermount or fuse-shim/fusermount next to
 * notifyd), dup'ed for the caller (CLOEXEC).  -errno if it is not there.
 */
int fuse_confine_shim_memfd(void);

/*
 * In the daemon, in its private mount namespace, before
 * fuse_confine_apply(): a read-only tmpfs holding only "fusermount" (the
 * stand-in copied from memfd) is mounted over the program's placeholder
 * mountpoint (libfuse2 finds it through PATH) and the stand-in is bound over
 * /bin/fusermount when the container has one (libfuse2 tries that first).
 * Returns 0 or -errno with *what naming the step.  Async-signal-safe.
 */
int fuse_confine_shim(int memfd, const char *mountpoint, const char **what);

/*
 * In the daemon, last thing before execve(): bounding set, no_new_privs,
 * the seccomp filter, groups, ids, inheritable and ambient sets.  uid/gid
 * are the caller's inside its user namespace.  Returns 0 or -errno with
 * *what naming the step.  Async-signal-safe.
 */
int fuse_confine_apply(const struct fuse_confine *cf, uid_t uid, gid_t gid, const gid_t *groups,
                       int n_groups, const char **what);

#endif
