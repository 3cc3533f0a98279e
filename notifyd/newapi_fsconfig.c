/* SPDX-License-Identifier: MIT */
/*
 * fsconfig on a context notifyd's fsopen made (newapi_request.c): SET_FLAG
 * and SET_STRING judged by the profile and by the kernel's own parser on H,
 * in the caller's view, and recorded; CMD_CREATE runs the kernel action's
 * creation step of mount(2) on the recorded parameters, or starts the
 * fuse action's program (docs/new-mount-api.md).
 */
#include "notifyd/newapi_internal.h"
#include "notifyd/kernel_action.h"
#include "notifyd/fuse_newapi.h"
#include "notifyd/newapi.h"
#include "notifyd/profile_store.h"
#include "notifyd/view.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

/* The kernel's limits on fsconfig's arguments (fs/fsopen.c): strndup_user(.., 256), 1 MiB. */
#define FSCONFIG_STR_MAX 256
#define FSCONFIG_BIN_MAX (1024 * 1024)

static const char *fsconfig_cmd_name(unsigned cmd)
{
	static const char *const names[] = {
	    [FSCONFIG_SET_FLAG] = "SET_FLAG",
	    [FSCONFIG_SET_STRING] = "SET_STRING",
	    [FSCONFIG_SET_BINARY] = "SET_BINARY",
	    [FSCONFIG_SET_PATH] = "SET_PATH",
	    [FSCONFIG_SET_PATH_EMPTY] = "SET_PATH_EMPTY",
	    [FSCONFIG_SET_FD] = "SET_FD",
	    [FSCONFIG_CMD_CREATE] = "CMD_CREATE",
	    [FSCONFIG_CMD_RECONFIGURE] = "CMD_RECONFIGURE",
	    [NEWAPI_CMD_CREATE_EXCL] = "CMD_CREATE_EXCL",
	};
	return cmd < ARRAY_SIZE(names) && names[cmd] ? names[cmd] : "unknown";
}

/*
 * Copy a string argument of fsconfig as the kernel does (strndup_user(.., 256)):
 * EFAULT unreadable, EINVAL too long.
 */
static int copy_str(struct request *rq, uint64_t addr, char *buf, size_t size, struct decision *d)
{
	int r = target_read_string(&rq->t, addr, buf, size, NULL);

	if (r == -ENOENT)
		return decision_fail(d, ENOENT, "caller gave up the request");
	if (r == -ENAMETOOLONG)
		return decision_fail(d, EINVAL, "key or value longer than %d bytes",
		                     FSCONFIG_STR_MAX - 1);
	if (r < 0)
		return decision_fail(d, EFAULT, "key or value is not readable");
	return 0;
}

/* fsconfig(H, SET_*, ...): judged by H's parser and by the profile, then recorded.  h locked. */
/*
 * The kernel's parser judges an option on H: its errno, its message in H's
 * log where the caller reads it.  Some parsers look up paths right away
 * (overlay's lowerdir/upperdir/workdir, ext4's journal_path): H was opened
 * by notifyd, so the lookup would be in notifyd's view and tell the
 * container which host paths exist.  So the call runs inside the caller's
 * view (mount namespace, root, cwd).  For the `fuse` action the program
 * parses the options, not the kernel: H is only the handle, nothing is
 * applied to it.  0 or -errno.
 */
static int judge_on_handle(struct request *rq, const struct newapi_handle *h, unsigned cmd,
                           const char *key, const char *value)
{
	int r;

	if (h->action == PROFILE_ACTION_FUSE)
		return 0;
	r = target_open_proc(&rq->t);
	if (r < 0)
		return r;
	r = view_enter(rq->t.procfd, 1);
	if (r < 0)
		return r;
	r = fsconfig(h->fd, cmd, key, cmd == FSCONFIG_SET_STRING ? value : NULL, 0) < 0 ? -errno
	                                                                                : 0;
	view_leave();
	return r;
}

static void fsconfig_set(struct request *rq, struct newapi_handle *h, unsigned cmd,
                         struct decision *d)
{
	const struct seccomp_data *a = &rq->notif.data;
	int aux = (int)a->args[4];
	char key[FSCONFIG_STR_MAX], value[FSCONFIG_STR_MAX] = "";
	_cleanup_free_ void *bin = NULL;
	struct profile_set *set = NULL;
	const struct profile *p;
	const struct profile_fs *fs;
	enum profile_action action;
	char opt[2 * FSCONFIG_STR_MAX];
	bool sb_set = false;
	unsigned long sb;
	int r;

	d->action = h->action == PROFILE_ACTION_FUSE ? DECISION_FUSE : DECISION_KERNEL;
	if (copy_str(rq, a->args[2], key, sizeof(key), d) < 0)
		return;
	if (cmd == FSCONFIG_SET_STRING && copy_str(rq, a->args[3], value, sizeof(value), d) < 0)
		return;
	if (cmd == FSCONFIG_SET_BINARY) {
		bin = malloc((size_t)aux);
		if (!bin) {
			decision_fail(d, ENOMEM, "no memory for a %d byte value", aux);
			return;
		}
		r = target_read_mem(&rq->t, a->args[3], bin, (size_t)aux);
		if (r < 0) {
			decision_fail(d, r == -ENOENT ? ENOENT : EFAULT, "value is not readable");
			return;
		}
	}
	if (target_valid(&rq->t) < 0) {
		decision_fail(d, ENOENT, "caller gave up the request");
		return;
	}
	snprintf(rq->data, sizeof(rq->data), "%s%s%s", key, cmd == FSCONFIG_SET_STRING ? "=" : "",
	         value);
	if (h->state != NEWAPI_PARAMS) {
		decision_fail(d, EBUSY, "the context is past its parameters (%s)",
		              h->state == NEWAPI_FAILED ? "creation failed" : "created");
		return;
	}
	set = profile_store_get();
	if (newapi_rule_of(rq, set, h->type, &p, &fs, &action, d) < 0)
		goto out;
	if (!fs)
		fs = &kernel_action_default_fs;

	if (strcmp(key, "source") == 0) {
		if (cmd != FSCONFIG_SET_STRING) {
			/* The kernel's own answer for a source that is not a string, in H's log. */
			r = fsconfig(h->fd, FSCONFIG_SET_FD, "source", NULL, h->fd) < 0 ? -errno
			                                                                : 0;
			decision_fail(d, r < 0 ? -r : EINVAL, "a source that is not a string");
			goto out;
		}
		if (fsconfig(h->fd, FSCONFIG_SET_STRING, key, value, 0) < 0) {
			decision_fail(d, errno, "the filesystem refused the source: %s",
			              strerror(errno));
			goto out;
		}
		snprintf(h->source, sizeof(h->source), "%s", value);
		snprintf(rq->source, sizeof(rq->source), "%s", value);
		decision_ok(d, 0);
		decision_why(d, "source recorded, resolved at CMD_CREATE");
		goto out;
	}
	sb = cmd == FSCONFIG_SET_FLAG ? newapi_sb_flag(key, &sb_set) : 0;
	if (!sb) {
		/* An option: allowed as in mount(2)'s data string, or EINVAL as there. */
		struct mount_opts one = {0};
		const char *bad = NULL;
		char *v[] = {opt, NULL};

		snprintf(opt, sizeof(opt), "%s%s%s", key, cmd == FSCONFIG_SET_STRING ? "=" : "",
		         value);
		one.v = v;
		one.n = 1;
		if (mount_opts_check(&one, fs, &bad) < 0) {
			decision_fail(d, EINVAL, "option '%s' is not in allowed-options", key);
			goto out;
		}
		if (cmd != FSCONFIG_SET_FLAG && cmd != FSCONFIG_SET_STRING) {
			/*
			 * A path or fd would be resolved by H's parser in notifyd's view,
			 * and a binary value has no mount(2) spelling to check and record.
			 */
			decision_fail(d, EPERM, "%s values are not emulated: use a string",
			              fsconfig_cmd_name(cmd));
			goto out;
		}
	}
	r = judge_on_handle(rq, h, cmd, key, value);
	if (r < 0) {
		decision_fail(d, -r, "the filesystem refused '%s': %s", key, strerror(-r));
		goto out;
	}
	if (sb) {
		h->sb_flags = sb_set ? h->sb_flags | sb : h->sb_flags & ~sb;
	} else {
		r = mount_opts_add(&h->opts, opt);
		if (r < 0) {
			decision_fail(d, -r, "cannot record '%s'", key);
			goto out;
		}
	}
	decision_ok(d, 0);
	decision_why(d, "recorded");
out:
	profile_store_put(set);
}

/*
 * The kernel's own failed context, with the filesystem's messages, where the
 * caller reads them: its fd number now names R instead of H
 * (SECCOMP_ADDFD_FLAG_SETFD), and R answers EBUSY to fsconfig and EINVAL to
 * fsmount as any failed context; H is no longer held by the caller (later
 * calls are "not ours": the kernel answers on R).  Only if that number
 * still is H (a thread of the caller may have closed and reused it).
 */
static void hand_failed_context(struct request *rq, struct newapi_handle *h, int failed_fc)
{
	int fd = (int)rq->notif.data.args[0];

	if (target_same_file(&rq->t, fd, h->fd) != 1)
		return;
	if (target_addfd(&rq->t, failed_fc, fd, h->cloexec, false) < 0)
		return;
	newapi_handle_drop(rq->c, h);
}

/* fsconfig(H, CMD_CREATE): the kernel action's creation step on the recorded parameters. */
static void fsconfig_create(struct request *rq, struct newapi_handle *h, struct decision *d)
{
	_cleanup_free_ char *data = NULL;
	struct profile_set *set = NULL;
	const struct profile *p;
	const struct profile_fs *fs;
	enum profile_action action;
	_cleanup_close_ int failed_fc = -EBADF;
	bool interrupted = false;
	int mnt_fd = -EBADF, r;

	d->action = DECISION_KERNEL;
	snprintf(rq->type, sizeof(rq->type), "%s", h->type);
	snprintf(rq->source, sizeof(rq->source), "%s", h->source);
	rq->target[0] = '\0';
	r = mount_opts_join(&h->opts, &data);
	if (r < 0) {
		decision_fail(d, -r, "cannot join the options");
		goto done;
	}
	if (strlen(data) >= sizeof(rq->data)) {
		decision_fail(d, EINVAL, "options longer than a page");
		goto done;
	}
	snprintf(rq->data, sizeof(rq->data), "%s", data);
	mount_flags_format(h->sb_flags, rq->flags, sizeof(rq->flags));
	set = profile_store_get();
	if (newapi_rule_of(rq, set, h->type, &p, &fs, &action, d) < 0)
		goto done;
	if (action != h->action) {
		decision_fail(d, EPERM, "the profile's action changed since fsopen");
		goto done;
	}
	if (action == PROFILE_ACTION_FUSE) {
		/* The start-up answers and sets h's state (fuse_newapi.c); rq is its own. */
		fuse_newapi_create(rq, h, p, fs, d);
		profile_store_put(set);
		return;
	}
	mnt_fd = kernel_action_make(rq, p, fs ? fs : &kernel_action_default_fs, h->sb_flags, NULL,
	                            &failed_fc, d);
	if (failed_fc >= 0)
		hand_failed_context(rq, h, failed_fc);
	if (mnt_fd >= 0 && target_valid(&rq->t) < 0) {
		/*
		 * Interrupted (a signal) or gone: nothing is kept, and a restarted
		 * CMD_CREATE finds the parameters as they were.
		 */
		mnt_fd = safe_close(mnt_fd);
		interrupted = true;
		decision_fail(d, ENOENT, "caller gave up during CMD_CREATE: superblock released");
	} else if (mnt_fd >= 0) {
		h->idmapped = (fs ? fs : &kernel_action_default_fs)->idmap;
		decision_ok(d, 0);
		decision_why(d, "superblock created%s; fsmount hands it out",
		             h->idmapped ? " (idmapped)" : "");
	}
done:
	profile_store_put(set);
	if (mnt_fd < 0 && !interrupted && target_valid(&rq->t) < 0)
		interrupted = true; /* whatever failed, the caller will not see it */
	pthread_mutex_lock(&h->lock);
	h->mnt_fd = mnt_fd;
	h->state = mnt_fd >= 0 ? NEWAPI_CREATED : interrupted ? NEWAPI_PARAMS : NEWAPI_FAILED;
	pthread_mutex_unlock(&h->lock);
}

struct decision newapi_fsconfig(struct request *rq)
{
	const struct seccomp_data *a = &rq->notif.data;
	unsigned cmd = (unsigned)a->args[1];
	struct container *c = rq->c; /* a deferred rq (fuse) may be gone at out */
	struct decision d = {0};
	struct newapi_handle *h;
	int r;

	snprintf(rq->flags, sizeof(rq->flags), "%s", fsconfig_cmd_name(cmd));
	h = newapi_handle_for(rq, (int)a->args[0], NEWAPI_CONTEXT, &d);
	if (!h)
		return d;
	d.action = h->action == PROFILE_ACTION_FUSE ? DECISION_FUSE : DECISION_KERNEL;
	decision_rule(&d, "context made by notifyd's fsopen");
	/* The kernel's checks of the arguments, in its order. */
	r = newapi_fsconfig_args(cmd, a->args[2], a->args[3], (int)a->args[4]);
	if (r < 0) {
		decision_fail(&d, -r, "invalid fsconfig arguments");
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	if (h->state == NEWAPI_CREATING) {
		pthread_mutex_unlock(&h->lock);
		decision_fail(&d, EBUSY, "the context is being created");
		goto out;
	}
	switch (cmd) {
	case FSCONFIG_CMD_CREATE:
	case NEWAPI_CMD_CREATE_EXCL:
		if (h->state != NEWAPI_PARAMS) {
			pthread_mutex_unlock(&h->lock);
			decision_fail(&d, EBUSY, "the context was created already");
			break;
		}
		h->state = NEWAPI_CREATING;
		pthread_mutex_unlock(&h->lock);
		fsconfig_create(rq, h, &d);
		break;
	case FSCONFIG_CMD_RECONFIGURE:
		pthread_mutex_unlock(&h->lock);
		decision_fail(&d, EBUSY, "not a reconfiguration context");
		break;
	default:
		fsconfig_set(rq, h, cmd, &d);
		pthread_mutex_unlock(&h->lock);
		break;
	}
out:
	newapi_handle_put(c, h);
	return d;
}
