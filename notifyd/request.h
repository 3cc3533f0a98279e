/* SPDX-License-Identifier: MIT */
/*
 * One trapped syscall on its way through notifyd: who asked, the private
 * copy of its arguments, and the answer being built.  Handlers fill in
 * `answer` and the decision fields; supervise.c sends the answer exactly
 * once and logs one line.
 */
#ifndef MV_REQUEST_H
#define MV_REQUEST_H

#include <limits.h>
#include <linux/seccomp.h>
#include <stdbool.h>

#include "notifyd/container.h"
#include "notifyd/mount_options.h"
#include "notifyd/profile.h"
#include "notifyd/target.h"

enum answer_kind {
	ANSWER_ERRNO,    /* fail with err (or succeed when err == 0) */
	ANSWER_CONTINUE, /* let the kernel run the syscall with the caller's own rights */
};

struct request {
	struct container *c;
	struct seccomp_notif notif;
	struct target t;

	/* Private copies of the caller's arguments. */
	char source[PATH_MAX];
	char target[PATH_MAX];
	char type[256];
	char data[4096];
	char flags[160]; /* formatted for the log */

	/* The decision. */
	const char *syscall;
	const char *action; /* kernel | continue | deny | enosys | error */
	char rule[160];     /* which rule decided, in words */
	char detail[512];   /* why, when it failed */
	enum answer_kind answer;
	int err;     /* positive errno for ANSWER_ERRNO, 0 = success */
	int64_t val; /* the syscall's return value on success (LOOP_CTL_GET_FREE) */

	/* Deferred (supervise_defer): answered later by supervise_finish(). */
	int own_notify_fd;           /* dup of the notify fd, or -EBADF */
	struct lxc_reply *own_reply; /* copy of LXC's reply, or NULL */
};

/* Handlers: each fills the decision; none answers the caller itself. */
void mount_request_handle(struct request *rq);
void umount_request_handle(struct request *rq);
void loop_request_handle(struct request *rq);

/*
 * What every emulated mount checks first: the container's max-mounts, the
 * caller's CAP_SYS_ADMIN over its own mount namespace (fills *cr), the
 * mount flags (fills *mf) and the options against the profile (fills *opts
 * with the caller's options plus the forced ones; the caller frees it, also
 * on failure).  On failure the request is denied and -errno returned.
 */
int mount_request_prepare(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                          struct mount_flags *mf, struct mount_opts *opts, struct proc_creds *cr);

/* Helpers shared by handlers. */
void request_deny(struct request *rq, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void request_set_rule(struct request *rq, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
