/* SPDX-License-Identifier: MIT */
/*
 * Opening a mount source the way the caller would, device cgroup included.
 *
 * notifyd runs as host root in the host's cgroup: an open() of its own would
 * pass every device-cgroup rule the caller is subject to.  So a short-lived
 * helper is cloned straight into the caller's cgroup v2 directory
 * (CLONE_INTO_CGROUP: a BPF device program there applies to it), joins the
 * caller's cgroup v1 `devices` group if it has one, takes the caller's fs ids,
 * groups and capabilities in the caller's user namespace, and reopens the
 * already resolved O_PATH fd through /proc/self/fd.  The kernel's own checks
 * then decide: file permissions, nodev mounts, the device cgroup.  The fd
 * comes back over a socket.  A helper that does not answer in time (a frozen
 * cgroup, a hung FUSE file) is killed.
 */
#ifndef MV_SOURCE_OPEN_H
#define MV_SOURCE_OPEN_H

#include <stdbool.h>

#include "common/nsutil.h"

/*
 * Reopen path_fd (O_PATH) with oflags (O_RDONLY or O_RDWR) as the caller of
 * /proc/<tid> (procfd) with credentials cr.  Returns the open fd or -errno;
 * *why (if given) says which step failed.  -EPERM when the caller's cgroup
 * cannot be found or joined: never open outside it.  Call it in the host's
 * view (not between view_enter() and view_leave()): the helper reopens
 * through the /proc it finds at its root.
 */
int source_open_as_caller(int procfd, const struct proc_creds *cr, int path_fd, int oflags,
                          const char **why);

/*
 * The kernel action for a block filesystem: check the source as
 * source_open_as_caller() does (the fd is not returned), then run
 * FSCONFIG_CMD_CREATE on the prepared fs context fsfd with host privilege
 * in a transient cgroup that allows the source device and nothing else
 * (device_allow.h), so that no other device the kernel would open while
 * creating the superblock (an external journal named by the image, other
 * members of a multi-device filesystem, a log device) is opened, whatever
 * the caller's own device rules allow.  One helper process: it joins the
 * caller's cgroups, a vfork-style child of it takes the caller's
 * credentials and opens the source (irreversible, so not in the helper
 * itself), and only when that succeeded the helper, still host root, moves
 * into the allowlist cgroup (keeping the caller's v1 devices group) and
 * creates the superblock.  Returns 0 or -errno with *why; *in_create says
 * the creation failed (the filesystem's messages are then in fsfd), not the
 * check or the set-up.  The helper also sets fsfd's "source" (which must not
 * be set yet): name, the caller's own string, as mount(2) would record it for
 * the container's mountinfo, looked up in a private view where that path is
 * a bind clone of path_fd's node and nothing else exists (or
 * /proc/self/fd/N where no such view can be made, e.g. a name of 256 bytes
 * or more, which fsconfig() refuses).  -EPERM when the caller's cgroup cannot be found or
 * joined, or no allowlist cgroup can be made.  Call it in the host's view.
 */
int source_create_as_caller(int procfd, const struct proc_creds *cr, int path_fd, const char *name,
                            int oflags, int fsfd, const char **why, bool *in_create);

#endif
