/* SPDX-License-Identifier: MIT */
/*
 * Starting the vfsd of a `virtiofs` share (virtiofs_action.c): a clone3()
 * child of notifyd, born in the caller's cgroup, that puts the share's
 * detached mount where vfsd will find it, takes the credentials vfsd runs
 * with and executes vfsd.  The child runs async-signal-safe code only, on
 * what the plan prepared before the clone.
 */
#ifndef MV_SHARE_LAUNCH_H
#define MV_SHARE_LAUNCH_H

#include <sys/types.h>

/*
 * Where the share's mount sits in vfsd's private mount namespace (the host
 * never sees it there).  notifyd creates the empty directory on first use;
 * a vfsd that runs as root of a container's user namespace must be able to
 * reach it, so SHARE_RUN_DIR is 0755.
 */
#define SHARE_RUN_DIR   "/run/mountvisor"
#define SHARE_STAGE_DIR SHARE_RUN_DIR "/share"

/* Fixed fd numbers in vfsd: its listening socket is --fd=3. */
enum { SFD_SOCK = 3, SFD_TREE = 4, SFD_EXEC = 5, SFD_USERNS = 6, SFD_STATUS = 7 };

struct share_plan {
	int tree;       /* the share: a detached mount of the source */
	int sock;       /* the listening vhost-user socket */
	int exec;       /* O_PATH of the vfsd binary */
	int userns;     /* the caller's user namespace when vfsd runs as its root, else -EBADF */
	int cgroup_dir; /* caller's cgroup v2 directory (CLONE_INTO_CGROUP) or -EBADF */
	int v1_procs;   /* caller's cgroup v1 devices group's cgroup.procs or -EBADF */
	int devnull;    /* stdin */
	int err_w;      /* stdout and stderr: a pipe notifyd logs from */
	char *argv[48];
	char argbuf[4096];
	int argc;
	size_t arglen;
};

void share_plan_init(struct share_plan *pl);
void share_plan_close(struct share_plan *pl);
/* Append one argument (formatted) to pl->argv: 0, or -E2BIG when it does not fit. */
int share_plan_arg(struct share_plan *pl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Start vfsd as planned.  Returns 0 with its pidfd and pid once it has
 * executed vfsd, or -errno with *what naming the step that failed (the
 * child is then reaped).  Waits up to timeout_ms for the child.
 */
int share_launch(const struct share_plan *pl, int timeout_ms, int *ret_pidfd, pid_t *ret_pid,
                 const char **what);

#endif
