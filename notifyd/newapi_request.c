/* SPDX-License-Identifier: MIT */
/*
 * The new mount API from a container (docs/new-mount-api.md): fsopen,
 * fsconfig, fsmount and move_mount, decided per profile with the same rules
 * as mount(2) (mount_request.c).  Here: fsopen, the dispatch and what the
 * handlers share (newapi_internal.h); fsconfig in newapi_fsconfig.c;
 * fsmount, move_mount and mount_setattr in newapi_mount.c.
 *
 * For a type whose action is `kernel`, fsopen() gets a handle H: a context
 * notifyd opened with its own creds, so the container can do nothing with
 * it by itself (its FSCONFIG_CMD_CREATE fails EPERM: mount_capable() checks
 * the opener's user namespace; its fsmount fails EINVAL: nothing created).
 * Each fsconfig SET_* on H is judged by the kernel's own parser on H (its
 * errno, its message in H's log where the caller reads it) and by the
 * profile, and recorded; CMD_CREATE on H runs the kernel action's creation
 * step of mount(2) (kernel_action_make()) on the recorded parameters;
 * fsmount hands out a clone of that mount, nosuid,nodev and locked
 * (mount_lock_clone()); move_mount of that clone attaches it in the
 * caller's view and records it as mount(2)'s mounts are.
 */
#include "notifyd/newapi_internal.h"
#include "notifyd/mount_check.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/newapi.h"
#include "notifyd/profile_store.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

/* The profile's rule for type: 0 with *p, *fs (NULL: the default), *action; or -errno in *d. */
int newapi_rule_of(struct request *rq, const struct profile_set *set, const char *type,
                   const struct profile **p, const struct profile_fs **fs,
                   enum profile_action *action, struct decision *d)
{
	*p = set ? profile_set_find(set, rq->c->profile) : NULL;
	if (!*p) {
		decision_rule(d, "profile '%s' is not loaded", rq->c->profile);
		return decision_fail(d, EPERM, "unknown profile");
	}
	*fs = profile_find_fs(*p, type);
	*action = *fs ? (*fs)->action : (*p)->default_action;
	if (*fs)
		decision_rule(d, "%s [fs %s] action=%s", (*p)->name, (*fs)->type,
		              profile_action_name(*action));
	else
		decision_rule(d, "%s default-action=%s", (*p)->name, profile_action_name(*action));
	return 0;
}

struct decision newapi_not_ours(const char *what)
{
	struct decision d = {0};

	decision_continue(&d, "%s is not a %s notifyd made for this container: the kernel decides",
	                  "fd", what);
	return d;
}

struct newapi_handle *newapi_handle_for(struct request *rq, int fd, enum newapi_kind kind,
                                        struct decision *d)
{
	struct newapi_handle *h;
	int err;

	h = newapi_handle_find(rq->c, &rq->t, fd, kind, &err);
	if (err == -ENOENT) {
		*d = (struct decision){0};
		decision_fail(d, ENOENT, "caller gave up the request");
		return NULL;
	}
	if (!h) {
		*d = newapi_not_ours(kind == NEWAPI_CONTEXT ? "context" : "mount");
		return NULL;
	}
	snprintf(rq->type, sizeof(rq->type), "%s", h->type);
	return h;
}

/* The `kernel` (or `fuse`) action's fsopen: make H, register it, install it into the caller. */
static void fsopen_kernel(struct request *rq, const struct profile *p, unsigned flags,
                          enum profile_action action, struct decision *d)
{
	struct newapi_handle *h = NULL;
	struct proc_creds cr;
	bool needs_dev;
	int fd, r;

	d->action = action == PROFILE_ACTION_FUSE ? DECISION_FUSE : DECISION_KERNEL;
	if (rq->t.lxc) {
		/* LXC's proxy cannot install an fd: libmount falls back to mount(2). */
		d->action = DECISION_ENOSYS;
		decision_fail(d, ENOSYS, "LXC's seccomp proxy cannot hand out an fd: use mount(2)");
		return;
	}
	if (!newapi_addfd_supported()) {
		d->action = DECISION_ENOSYS;
		decision_fail(d, ENOSYS,
		              "this kernel has no SECCOMP_ADDFD_FLAG_SEND: use mount(2)");
		return;
	}
	if (mount_check_admin(rq, &cr, d) < 0)
		return;
	fd = fsopen(rq->type, FSOPEN_CLOEXEC);
	if (fd < 0) {
		decision_fail(d, errno, "fsopen(%s): %s", rq->type, strerror(errno));
		return;
	}
	r = newapi_handle_add(rq->c, &rq->t, p->max_fs_contexts, NEWAPI_CONTEXT, fd, &h);
	if (r < 0) {
		decision_fail(d, -r,
		              r == -EMFILE ? "container holds max-fs-contexts = %u handles"
		                           : "cannot register the context (%u)",
		              p->max_fs_contexts);
		return;
	}
	(void)needs_dev;
	snprintf(h->type, sizeof(h->type), "%s", rq->type);
	h->cloexec = flags & FSOPEN_CLOEXEC;
	h->action = action;
	h->state = NEWAPI_PARAMS;
	r = target_addfd(&rq->t, h->fd, -1, flags & FSOPEN_CLOEXEC, true);
	if (r < 0) {
		newapi_handle_drop(rq->c, h);
		newapi_handle_put(rq->c, h);
		decision_fail(d, -r,
		              r == -ENOENT ? "caller gave up the request"
		                           : "cannot install the context: %s",
		              strerror(-r));
		return;
	}
	newapi_handle_put(rq->c, h);
	d->answered = true;
	decision_ok(d, r);
	decision_why(d, "fd=%d context (parameters recorded by notifyd)", r);
}

static struct decision newapi_fsopen(struct request *rq)
{
	struct decision d = {0};
	unsigned flags = (unsigned)rq->notif.data.args[1];
	struct profile_set *set = NULL;
	const struct profile *p;
	const struct profile_fs *fs;
	enum profile_action action;
	bool needs_dev;
	int was_null = 0, r;

	snprintf(rq->flags, sizeof(rq->flags), "0x%x", flags);
	r = target_read_string(&rq->t, rq->notif.data.args[0], rq->type, sizeof(rq->type),
	                       &was_null);
	if (r == -ENOENT || (r >= 0 && target_valid(&rq->t) < 0)) {
		decision_fail(&d, ENOENT, "caller gave up the request");
		return d;
	}
	if (r < 0 || was_null) {
		/* NULL, unreadable, or longer than any type: the kernel's EFAULT/EINVAL/ENODEV. */
		decision_continue(&d, "no readable filesystem type: the kernel answers");
		return d;
	}
	if (flags & ~FSOPEN_CLOEXEC) {
		decision_continue(&d, "unknown fsopen flags: the kernel answers EINVAL");
		return d;
	}
	set = profile_store_get();
	if (newapi_rule_of(rq, set, rq->type, &p, &fs, &action, &d) < 0)
		goto out;
	switch (action) {
	case PROFILE_ACTION_CONTINUE:
		d.action = DECISION_CONTINUE;
		break;
	case PROFILE_ACTION_DENY: {
		int err = fs ? fs->deny_errno : p->default_errno;
		if (!fs && kernel_fs_lookup(rq->type, false, &needs_dev) == -ENODEV)
			err = ENODEV;
		d.action = DECISION_DENY;
		decision_fail(&d, err, "denied by profile");
		break;
	}
	case PROFILE_ACTION_KERNEL:
	case PROFILE_ACTION_FUSE:
		/*
		 * The handle H; at CMD_CREATE the kernel action's creation step, or
		 * the FUSE program (fuse_newapi_create()).  H is opened as this type,
		 * so a type the kernel lacks gets the kernel's own ENODEV.
		 */
		if (kernel_fs_lookup(rq->type, true, &needs_dev) == -ENODEV) {
			d.action = DECISION_CONTINUE;
			decision_why(&d, "this kernel has no filesystem '%s': the kernel answers",
			             rq->type);
			break;
		}
		fsopen_kernel(rq, p, flags, action, &d);
		break;
	case PROFILE_ACTION_VIRTIOFS:
		d.action = DECISION_DENY;
		decision_fail(&d, ENODEV,
		              "virtiofs is no kernel filesystem type: served through "
		              "mount(2) only");
		break;
	default:
		decision_fail(&d, EOPNOTSUPP, "action %s not implemented",
		              profile_action_name(action));
		break;
	}
out:
	profile_store_put(set);
	return d;
}

static struct decision newapi_kernel_decides(struct request *rq)
{
	struct decision d = {0};

	(void)rq;
	decision_continue(&d, "the kernel decides, as for mount(2)'s bind/remount/propagation "
	                      "(notifyd's mounts are locked)");
	return d;
}

struct decision newapi_request_handle(struct request *rq)
{
	if (strcmp(rq->syscall, "fsopen") == 0)
		return newapi_fsopen(rq);
	if (strcmp(rq->syscall, "fsconfig") == 0)
		return newapi_fsconfig(rq);
	if (strcmp(rq->syscall, "fsmount") == 0)
		return newapi_fsmount(rq);
	if (strcmp(rq->syscall, "move_mount") == 0)
		return newapi_move_mount(rq);
	if (strcmp(rq->syscall, "mount_setattr") == 0)
		return newapi_mount_setattr(rq);
	return newapi_kernel_decides(rq);
}
