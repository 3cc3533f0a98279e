/* SPDX-License-Identifier: MIT */
#ifndef MV_NSUTIL_H
#define MV_NSUTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Is fd a namespace (or any inode) identical to other? 1 yes, 0 no, -errno. */
int ns_same(int fd, int other);
/*
 * Opens /proc/<pid>/ns/<name> relative to an open /proc/<pid> directory.
 * Returns the fd or -errno.
 */
int ns_open_at(int procdir, const char *name);
/* Fd of the user namespace that owns namespace nsfd (NS_GET_USERNS), or -errno. */
int ns_owner_userns(int nsfd);

/* Process credentials as read from /proc/<pid>/status (host-namespace ids). */
struct proc_creds {
	uid_t fsuid;
	gid_t fsgid;
	uint64_t cap_eff;
	gid_t groups[64];
	unsigned n_groups;
};
int proc_read_creds(int procdir, struct proc_creds *ret);
/* Is host id mapped in the id map text of /proc/<pid>/{uid,gid}_map? */
bool ns_id_mapped(const char *map_text, uint32_t host_id);

#endif
