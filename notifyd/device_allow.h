/* SPDX-License-Identifier: MIT */
/*
 * A transient cgroup of notifyd's that allows exactly one block device.
 *
 * The helper that creates a block filesystem's superblock for the kernel
 * action (source_open.c) moves itself there right before
 * FSCONFIG_CMD_CREATE, after the source was opened as the caller in the
 * caller's cgroup: then the kernel may open the source and nothing else for
 * the new superblock.  An external ext4 journal, another btrfs member or an
 * xfs log device named by an image the container wrote is refused whatever
 * the caller's own device rules allow (`b 7:* rwm` for notifyd's loop
 * devices reaches every host loop device).
 *
 * cgroup v2 (preferred): a directory under CALLER_CGROUP_TRANSIENT beside
 * notifyd's own cgroup with a BPF_PROG_TYPE_CGROUP_DEVICE program attached
 * (BPF_F_ALLOW_MULTI: the ancestors' programs still run).  A helper keeps
 * its cgroup v1 `devices` group (the caller's, joined earlier), whose rules
 * the kernel checks as well.  Without a usable cgroup2 hierarchy: a v1
 * `devices` child there that denies "a" and allows "b MAJ:MIN rwm".  The
 * directory is outside the container's cgroups, so the container can
 * neither move the helper back nor change the rules.
 */
#ifndef MV_DEVICE_ALLOW_H
#define MV_DEVICE_ALLOW_H

#include <stdbool.h>
#include <sys/types.h>

struct device_allow {
	int procs;  /* the transient cgroup's cgroup.procs (O_WRONLY), or -EBADF */
	int parent; /* the directory it was made in, for the rmdir */
	bool v1;    /* a cgroup v1 devices group rather than a v2 BPF program */
	char name[40];
};

#define DEVICE_ALLOW_INIT                                                                          \
	{                                                                                          \
		.procs = -EBADF, .parent = -EBADF                                                  \
	}

/*
 * Make a transient cgroup that allows only block device rdev (read, write,
 * mknod) and open its cgroup.procs into da->procs, for a helper to write "0"
 * to.  Returns 0, or -EPERM (and *why) when neither a cgroup2 hierarchy
 * with BPF device programs nor a v1 devices hierarchy can be used: never
 * create a superblock unrestricted.
 */
int device_allow_make(dev_t rdev, struct device_allow *da, const char **why);

/* Remove it (every process in it must have exited) and close the fds. */
void device_allow_remove(struct device_allow *da);

#endif
