/* SPDX-License-Identifier: MIT */
/*
 * Finding the caller's cgroups, for the helpers notifyd runs on its behalf:
 * the source helper and the superblock-creating helper (source_open.c) and
 * the FUSE program (fuse_action.c).  notifyd runs as host root in the host's
 * cgroup; whatever it does there passes every device rule the caller is
 * subject to, so work that opens devices for the caller runs in the caller's
 * cgroup v2 directory (a BPF device program there applies) and its cgroup v1
 * `devices` group, if it has one.
 *
 * The caller's paths come from /proc/PID/cgroup; the hierarchies' roots are
 * the first cgroup2 mount (and cgroup v1 mount with the devices controller)
 * in notifyd's mountinfo whose root is the hierarchy's root.  Paths are
 * opened beneath that root without following links.
 */
#ifndef MV_CALLER_CGROUP_H
#define MV_CALLER_CGROUP_H

#include <stdbool.h>

/*
 * The caller's (/proc/<tid> procfd) cgroup v2 directory (O_RDONLY, for
 * CLONE_INTO_CGROUP) and its v1 devices group's cgroup.procs (O_WRONLY, for
 * the helper to write "0" to).  Each is -EBADF when the caller has none or
 * when it is notifyd's own (a helper inherits that one).  Returns 0, or
 * -EPERM (and *why) when a cgroup the caller is in cannot be found or
 * opened: then nothing may be done for it outside its cgroup.
 */
int caller_cgroup_open(int procfd, int *v2_dir, int *v1_procs, const char **why);

/*
 * The caller's cgroup v2 directory's cgroup.procs, opened for writing (a
 * FUSE mounter moves itself there; the program inherits it), also when it is
 * notifyd's own.  -ENOMEDIUM when the caller is in no cgroup2 hierarchy
 * notifyd can see; any other -errno is a failure to confine.
 */
int caller_cgroup_v2_procs(int procfd);

/* The directory notifyd makes its transient cgroups in (device_allow.c). */
#define CALLER_CGROUP_TRANSIENT "mountvisor-create"

/*
 * notifyd's directory for transient cgroups of its own in the cgroup2
 * hierarchy (v1_devices false) or the cgroup v1 `devices` hierarchy:
 * CALLER_CGROUP_TRANSIENT in the parent of notifyd's own cgroup (in the
 * root when notifyd is in the root), made on first use.  An O_RDONLY
 * directory fd, -ENOMEDIUM when no such hierarchy is mounted where notifyd
 * sees it, or another -errno.
 */
int caller_cgroup_transient_dir(bool v1_devices);

#endif
