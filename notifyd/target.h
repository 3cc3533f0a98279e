/* SPDX-License-Identifier: MIT */
/*
 * The thread that made a trapped syscall.  Everything notifyd learns about it
 * goes through here: memory is copied once into notifyd's own buffers and
 * every copy is followed by a SECCOMP_IOCTL_NOTIF_ID_VALID check, so a
 * recycled pid can never be confused with the caller; /proc/<tid> is opened
 * only when a request needs it (namespaces, credentials) and checked the same way.
 */
#ifndef MV_TARGET_H
#define MV_TARGET_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/nsutil.h"

struct lxc_reply;

struct target {
	int notify_fd;
	uint64_t id;
	pid_t pid;
	int procfd;                  /* /proc/<tid>, once target_open_proc() succeeded */
	pid_t tgid;                  /* its process, once looked up (target_same_file()), else 0 */
	const struct lxc_reply *lxc; /* answer through LXC's proxy socket, not the notify fd */
};

/* Cheap: records who asked.  -ESRCH if the caller is not in our pid namespace. */
int target_open(struct target *t, int notify_fd, const struct seccomp_notif *req);
/* Open /proc/<tid> into t->procfd (then ID_VALID).  0, -ENOENT (caller gone) or -errno. */
int target_open_proc(struct target *t);
void target_close(struct target *t);
/* 0 if the request is still pending, -ENOENT if the caller gave up or died. */
int target_valid(const struct target *t);
/*
 * Copy a NUL-terminated string from the caller.  addr 0 gives "" and returns 0
 * with *was_null set (if given).  -EFAULT for a bad pointer, -ENAMETOOLONG if
 * no NUL within size bytes, -ENOENT if the request went away meanwhile.
 * The copy is read by pid number: the caller must call target_valid() after
 * its last copy and before acting on any of them — only a successful
 * ID_VALID after the reads proves the pid still named the caller.
 */
int target_read_string(const struct target *t, uint64_t addr, char *buf, size_t size,
                       int *was_null);
/*
 * Copy len bytes from / to the caller's memory.  -EFAULT for a bad or short
 * range, -ENOENT if the request went away.  Same rule as above: act on a
 * copy only after a later target_valid().
 */
int target_read_mem(const struct target *t, uint64_t addr, void *buf, size_t len);
int target_write_mem(const struct target *t, uint64_t addr, const void *buf, size_t len);
/*
 * A duplicate of the caller's file descriptor fd (pidfd_getfd: the same open
 * file description, with its access mode).  -EBADF if it has no such fd.
 * Opens /proc/<tid>; checks target_valid() after taking it.
 */
int target_getfd(struct target *t, int fd);
/*
 * An O_PATH file of what the caller's fd fd names (its /proc/<tid>/fd/<fd>
 * link), for a dirfd or a target: never the caller's open file itself, whose
 * last close here could wait on a FUSE daemon the container runs (FLUSH).
 * -EBADF if it has no such fd, -ENOENT if the caller went away.
 */
int target_open_path(struct target *t, int fd);

/*
 * The caller may have a mount emulated: it has CAP_SYS_ADMIN in its user
 * namespace and that namespace owns its mount namespace.  Returns 0, -EPERM,
 * or -errno; fills *creds for later access checks.  Opens /proc/<tid>.
 */
int target_check_admin(struct target *t, struct proc_creds *creds);

/*
 * Install our file srcfd into the caller (SECCOMP_IOCTL_NOTIF_ADDFD).
 * newfd < 0: the lowest free fd number; else that number (replacing what
 * is there, SECCOMP_ADDFD_FLAG_SETFD).  cloexec: O_CLOEXEC on it.  send:
 * the same ioctl answers the request with the fd number as its return
 * value (SECCOMP_ADDFD_FLAG_SEND) -- nothing may answer it again.  Returns
 * the fd number in the caller, -ENOENT (caller gone or interrupted: nothing
 * was installed), -EOPNOTSUPP through LXC's proxy (it has no ADDFD), or
 * -errno (EMFILE: the caller's fd table is full).
 */
int target_addfd(const struct target *t, int srcfd, int newfd, bool cloexec, bool send);
/* The caller's process (thread group id; the notification names the thread).  0 or -errno. */
int target_tgid(struct target *t, pid_t *tgid);
/*
 * Is the caller's fd `fd` the same open file as our `ours` (kcmp(KCMP_FILE))?
 * 1, 0 (another file, or no such fd: -EBADF from kcmp is "not the same"), or
 * -errno.  Checks target_valid() after the comparison.
 */
int target_same_file(struct target *t, int fd, int ours);

/* Answers; each returns 0, -ENOENT (caller gone: normal) or -errno. */
int target_respond_error(const struct target *t, int err); /* err > 0, or 0 for success */
int target_respond_continue(const struct target *t);
int target_respond_value(const struct target *t, int64_t val); /* success returning val */

#endif
