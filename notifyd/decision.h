/* SPDX-License-Identifier: MIT */
/*
 * The answer to one request, as a value: what notifyd did (the action),
 * the result (errno or return value), and in words which rule decided and
 * why.  Handlers return it (request.h); request_answer() sends, counts and
 * logs it.  Helpers that can refuse take it as an error object and return
 * -errno, as crun's libcrun_error_t.
 */
#ifndef MV_DECISION_H
#define MV_DECISION_H

#include <stdbool.h>
#include <stdint.h>

/* What notifyd did with a request: the `action=` of its decision line. */
enum decision_action {
	DECISION_NONE = 0, /* not decided (logged as "error") */
	DECISION_KERNEL,   /* notifyd made the mount with host privilege */
	DECISION_FUSE,     /* a FUSE program serves the mount */
	DECISION_VIRTIOFS, /* vfsd serves the source; its socket is bound at the target */
	DECISION_UMOUNT,   /* notifyd unmounted one of its own mounts */
	DECISION_LOOP,     /* notifyd did the LOOP_* ioctl on the caller's file */
	DECISION_CONTINUE, /* the kernel runs the syscall with the caller's own rights */
	DECISION_DENY,     /* refused with err */
	DECISION_ENOSYS,   /* not handled: ENOSYS */
	DECISION_ERROR,    /* notifyd could not look at the request */
	DECISION_DEFERRED, /* another thread owns the request and answers it (request_defer) */
};

/* The answer to one request: what was done, the result, and in words which rule and why. */
struct decision {
	enum decision_action action;
	int err;        /* positive errno, 0 = success; unused for DECISION_CONTINUE */
	int64_t val;    /* the syscall's return value on success (LOOP_CTL_GET_FREE) */
	char rule[160]; /* which rule decided */
	char why[512];  /* why it failed, or what was done */
	/* The handler answered already (SECCOMP_ADDFD_FLAG_SEND): request_answer() only logs. */
	bool answered;
};

/* The decision line's name of an action. */
const char *decision_action_name(enum decision_action action);
/* Set the rule, in words. */
void decision_rule(struct decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set why (a failure) or what was done (a success). */
void decision_why(struct decision *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A refusal or failure: err (positive) and why; the action becomes
 * DECISION_DENY unless one was chosen already (a kernel mount that failed
 * stays `kernel`).  Returns -err, for `return decision_fail(d, ...)`.
 */
int decision_fail(struct decision *d, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A success with return value val (0 for most syscalls). */
void decision_ok(struct decision *d, int64_t val);
/* Let the kernel run the syscall with the caller's own rights, because of rule. */
void decision_continue(struct decision *d, const char *rule_fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
