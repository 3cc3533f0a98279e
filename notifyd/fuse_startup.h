/* SPDX-License-Identifier: MIT */
/*
 * Starting a FUSE program for one mount request (docs/fuse.md,
 * docs/architecture.md "FUSE start-ups").  fuse_action.c checks the request
 * and fills a plan in the worker; a thread of the start-up's own then forks
 * the mounter, waits for the program to answer FUSE_INIT, attaches the mount
 * and answers the request (request_finish()), so a slow or hostile FUSE
 * program holds no worker.
 */
#ifndef MV_FUSE_STARTUP_H
#define MV_FUSE_STARTUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "notifyd/fuse_confine.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/request.h"

/* Start-ups in progress across all containers (each has a thread). */
#define FUSE_MAX_STARTING_ALL 16

/* Fixed fd numbers in the daemon (6 and 7 are close-on-exec, 7 closed before). */
enum { DFD_IMAGE = 3, DFD_FUSE = 4, DFD_EXEC = 6, DFD_SHIM = 7 };

/* A kernel FUSE option, split before fork() (the children cannot format). */
struct fuse_fsopt {
	char text[128]; /* as the profile wrote it, key or key=value */
	char key[128], value[128];
	bool flag; /* no '=': FSCONFIG_SET_FLAG */
};

/*
 * Everything the mounter and the daemon need, prepared before fork(): they
 * run async-signal-safe code only (fuse_children.c), so every string they
 * pass to the kernel is ready here.
 */
struct fuse_plan {
	int userns, mntns, pidns, ipcns, utsns, netns, cgroupns;
	int root, cwd;                 /* the caller's, O_PATH */
	int target;                    /* O_PATH, resolved in the caller's view */
	int image;                     /* opened source or -EBADF */
	int prog;                      /* O_PATH of the program */
	int shim;                      /* sealed memfd of the fusermount stand-in, or -EBADF */
	int devnull, err_w, ctl;       /* stdin, stdout+stderr, socket to the start-up thread */
	int cgroup_procs;              /* caller's cgroup.procs (written "0") or -EBADF */
	uid_t uid, gid;                /* the caller's ids inside its user namespace */
	char uid_str[24], gid_str[24]; /* the same in decimal, for fsconfig */
	gid_t groups[64];
	int n_groups;
	struct fuse_confine confine;
	bool fusermount;
	bool ro;
	bool detached; /* new mount API: the mount comes back to notifyd, no target */
	uint64_t attr; /* MOUNT_ATTR_* */
	char source[256], subtype[64];
	char mountpoint[256];         /* as the program is told (fusermount: the caller's target
	                                 or, detached, a placeholder directory) */
	struct fuse_fsopt fsopts[32]; /* kernel FUSE options */
	int n_fsopts;
	char *argv[48];
	char *envp[8];
	char argbuf[8192];
	char envbuf[1024];
};

void fuse_plan_init(struct fuse_plan *pl);
void fuse_plan_close(struct fuse_plan *pl);

/* One start-up: the request (deferred) and what is needed to finish it. */
struct fuse_job {
	struct request *rq;
	struct fuse_plan *pl;
	int mntns_fd; /* the container's mount namespace, for the daemon's supervisor */
	char prog_name[64];
	unsigned startup_timeout_ms;
	bool reserved;     /* a max-fuse-daemons slot (fuse_daemon_reserve) */
	bool starting;     /* a start-up slot (fuse_startup_reserve) */
	struct decision d; /* the rule it runs under; then its outcome */
	/* Detached (fuse_action_create()): gets the mount once the program answered,
	 * or -errno if the start-up failed; exactly once (created_called). */
	int (*created)(struct request *rq, int mnt_fd, uint64_t mnt_id, void *userdata);
	void *userdata;
	bool created_called;
};

/*
 * Take a start-up slot for c: 0, or -EAGAIN when c already has max_per_c
 * start-ups in progress (*global false) or all containers together have
 * FUSE_MAX_STARTING_ALL (*global true).
 */
int fuse_startup_reserve(struct container *c, unsigned max_per_c, bool *global);
void fuse_startup_release(struct container *c);

/*
 * Run the job: the request is deferred (request_defer), *d becomes
 * DECISION_DEFERRED, and a thread of the start-up's own answers it
 * (request_finish()), frees the job and releases its slots.  Should the
 * thread not start, the job runs here (answered the same way).  Should the
 * request not be deferrable, the job runs here and its outcome is left in
 * *d for the worker to answer.  Always consumes the job.
 */
void fuse_startup_run(struct fuse_job *job, struct decision *d);

#endif
