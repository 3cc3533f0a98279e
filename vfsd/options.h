/* SPDX-License-Identifier: MIT */
#ifndef VFSD_OPTIONS_H
#define VFSD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "vfsd/fuse_server.h"
#include "vfsd/idmap.h"

enum vfsd_sandbox { VFSD_SANDBOX_NAMESPACE, VFSD_SANDBOX_CHROOT, VFSD_SANDBOX_NONE };
enum vfsd_seccomp { VFSD_SECCOMP_KILL, VFSD_SECCOMP_LOG, VFSD_SECCOMP_TRAP, VFSD_SECCOMP_NONE };

struct vfsd_options {
	const char *socket_path;
	const char *socket_group;
	int fd; /* listening socket from the caller, or -1 */
	const char *shared_dir;
	enum vfsd_sandbox sandbox;
	enum vfsd_seccomp seccomp;
	enum vfsd_cache cache;
	bool readonly, xattr, announce_submounts, readdirplus, writeback, allow_direct_io;
	bool killpriv_v2;
	bool posix_lock, flock; /* offer FUSE_POSIX_LOCKS, FUSE_FLOCK_LOCKS */
	enum vfsd_fh_mode file_handles;
	unsigned thread_pool_size;
	int log_level;
	bool print_capabilities;
	bool help, version;
	const char *modcaps;
	unsigned long rlimit_nofile; /* 0: default */
	bool syslog;
	/* --translate-uid / --translate-gid rules, in the order given */
	struct vfsd_idmap uid_map, gid_map;
};

/*
 * vfsd_options_parse() - parse either dialect: Rust virtiofsd long options
 * (--shared-dir, --cache=auto, ...) and QEMU virtiofsd's "-o key=value,..."
 * plus its long options.  On error writes a message to err and holds no
 * memory (the --translate-* tables are freed).
 * Return: 0 or -EINVAL.
 */
int vfsd_options_parse(struct vfsd_options *o, int argc, char **argv, char *err, size_t errlen);
/* Frees what parsing allocated (the --translate-* tables). */
void vfsd_options_free(struct vfsd_options *o);
void vfsd_options_usage(const char *prog);

#endif
