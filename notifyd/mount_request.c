/* SPDX-License-Identifier: MIT */
/*
 * mount(2) from a container: copy the arguments once, find the profile rule,
 * and deny, continue, or perform the mount with host privilege (`kernel`).
 */
#include "notifyd/request.h"
#include "notifyd/mount_check.h"
#include "notifyd/kernel_action.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/loop_device.h"
#include "notifyd/mount_lock.h"
#include "notifyd/mount_options.h"
#include "notifyd/mount_record.h"
#include "notifyd/mount_resolve.h"
#include "notifyd/mount_verify.h"
#include "notifyd/fuse_action.h"
#include "notifyd/virtiofs_action.h"
#include "notifyd/view.h"
#include "notifyd/profile_store.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/* Flags that do not create a superblock: bind, move, remount, propagation. */
#define MS_NOT_NEW                                                                                 \
	(MS_REMOUNT | MS_BIND | MS_MOVE | MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE)

/* Used when default-action = kernel applies to a type without its own section. */
static char *no_options[] = {NULL};
const struct profile_fs kernel_action_default_fs = {
    .type = "*",
    .action = PROFILE_ACTION_KERNEL,
    .options = no_options,
    .allowed_options = no_options,
};

/*
 * Copy a string argument; on failure refuse with the errno mount(2) would
 * give for it: a type longer than any filesystem name is simply unknown
 * (ENODEV), a source or data string past a page is EINVAL, a target path
 * past PATH_MAX is ENAMETOOLONG.
 */
static int copy_arg(struct request *rq, unsigned idx, char *buf, size_t size, int *was_null,
                    struct decision *d)
{
	int r = target_read_string(&rq->t, rq->notif.data.args[idx], buf, size, was_null);

	if (r == -ENOENT) /* the caller went away; the answer will not be seen */
		return decision_fail(d, ENOENT, "caller gave up the request");
	if (r == -ENAMETOOLONG)
		return decision_fail(d,
		                     idx == 1   ? ENAMETOOLONG
		                     : idx == 2 ? ENODEV
		                                : EINVAL,
		                     "argument %u too long", idx);
	if (r < 0)
		return decision_fail(d, EFAULT, "argument %u is not readable", idx);
	return r;
}

/* Is the resolved source a loop device notifyd gave this container? */
static bool is_own_loop(const struct request *rq, int source_fd)
{
	struct stat st;

	return fstat(source_fd, &st) == 0 && S_ISBLK(st.st_mode) &&
	       loop_device_access(rq->c->id, st.st_rdev) == LOOP_OWNED;
}

/*
 * The new mount, detached: for a block filesystem the source is checked as
 * the caller and the superblock created as host root, both in the caller's
 * cgroup (source_open.c), because creating it opens devices (the source,
 * and what the image names: an external journal, other btrfs members, a log
 * device) as whoever creates it, and the caller's device cgroup must apply
 * to every one of those opens.  The mount fd, or -errno with the refusal in *d.
 */
/*
 * fsopen() and the options, in the caller's view (mount namespace, root,
 * cwd): some filesystems look a path option up while it is set (overlay's
 * lowerdir/upperdir/workdir), and notifyd's own view would hand the
 * container the host's directory.  Creating the superblock and the mount
 * happen back in notifyd's view.  The fs context fd or -errno (msg as
 * kernel_mount_prepare()).
 */
static int prepare_in_view(struct request *rq, const struct kernel_mount *km, char *msg,
                           size_t msglen)
{
	int fd, r;

	r = target_open_proc(&rq->t);
	if (r < 0)
		return r;
	r = view_enter(rq->t.procfd, 1);
	if (r < 0)
		return r;
	fd = kernel_mount_prepare(km, msg, msglen);
	view_leave();
	return fd;
}

static int kernel_make(struct request *rq, const struct kernel_mount *km, bool needs_dev,
                       const struct proc_creds *cr, bool want_write, int *failed_fc,
                       struct decision *d)
{
	_cleanup_close_ int fs_fd = -EBADF;
	bool failed_create = false;
	char msg[512] = "";
	int mnt_fd, r;

	fs_fd = prepare_in_view(rq, km, msg, sizeof(msg));
	if (fs_fd < 0)
		return decision_fail(d, -fs_fd, "%s%s%s", strerror(-fs_fd), msg[0] ? ": " : "",
		                     msg);
	if (needs_dev) {
		r = mount_source_create(rq, cr, km->source_fd, want_write, fs_fd,
		                        failed_fc ? &failed_create : NULL, d);
	} else {
		r = fsconfig(fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ? -errno : 0;
		failed_create = r < 0;
		if (r < 0 && failed_fc)
			decision_fail(
			    d, -r,
			    "%s (the filesystem's messages are left in the caller's context)",
			    strerror(-r));
		else if (r < 0) {
			kernel_mount_messages(fs_fd, msg, sizeof(msg));
			decision_fail(d, -r, "%s%s%s", strerror(-r), msg[0] ? ": " : "", msg);
		}
	}
	if (r < 0) {
		/* The failed context, its messages unread, for the caller to read. */
		if (failed_fc && failed_create)
			*failed_fc = TAKE_FD(fs_fd);
		return r;
	}
	mnt_fd = kernel_mount_finish(fs_fd, km);
	if (mnt_fd < 0)
		return decision_fail(d, -mnt_fd, "%s", strerror(-mnt_fd));
	return mnt_fd;
}

/*
 * The kernel action's creation step (kernel_action.h): what the kernel
 * applied is checked too (the image's stored default options included,
 * mount_verify.c).
 */
int kernel_action_make(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                       unsigned long flags, int *target_fd, int *failed_fc, struct decision *d)
{
	_cleanup_close_ int source_fd = -EBADF, userns_fd = -EBADF, mnt_fd = -EBADF;
	struct mount_opts opts = {0};
	struct mount_flags mf;
	struct proc_creds cr;
	bool needs_dev = false;
	char msg[512];
	int r;

	d->action = DECISION_KERNEL;
	r = mount_check_prepare_flags(rq, p, fs, flags, &mf, &opts, &cr, d);
	if (r < 0)
		goto out;
	if (kernel_fs_lookup(rq->type, true, &needs_dev) < 0) {
		r = decision_fail(d, ENODEV, "this kernel has no filesystem '%s'", rq->type);
		goto out;
	}
	if (fs->idmap) {
		userns_fd = ns_open_at(rq->t.procfd, "user");
		if (userns_fd < 0) {
			r = decision_fail(d, -userns_fd, "cannot open the caller's user namespace");
			goto out;
		}
	}
	r = mount_resolve_paths(rq, needs_dev ? MOUNT_SOURCE_BLOCK : MOUNT_SOURCE_NONE, !mf.sb_ro,
	                        &cr, target_fd, &source_fd, d);
	if (r < 0)
		goto out;

	if (source_fd >= 0 && p->max_loop_devices == 0 && is_own_loop(rq, source_fd)) {
		/*
		 * Defence in depth: a profile that gives no loop devices (perhaps
		 * lowered by a reload) does not mount the ones handed out before.
		 */
		r = decision_fail(d, EPERM,
		                  "%s is a loop device notifyd gave the container, and profile %s "
		                  "has max-loop-devices = 0",
		                  rq->source, p->name);
		goto out;
	}

	struct kernel_mount km = {
	    .type = rq->type,
	    .source = needs_dev ? NULL : rq->source,
	    .source_fd = source_fd,
	    .opts = &opts,
	    .flags = &mf,
	    .userns_fd = userns_fd,
	};
	mnt_fd = kernel_make(rq, &km, needs_dev, &cr, !mf.sb_ro, failed_fc, d);
	if (mnt_fd < 0) {
		r = mnt_fd;
		goto out;
	}
	r = mount_verify_effective(mnt_fd, fs, msg, sizeof(msg));
	if (r == -EPERM)
		r = decision_fail(
		    d, EPERM,
		    "the new superblock has option '%s' from the image's stored "
		    "default mount options, which the profile neither allows nor forces",
		    msg);
	else if (r < 0)
		r = decision_fail(d, EPERM, "cannot check the new superblock's options: %s: %s",
		                  msg, strerror(-r));
	if (r >= 0)
		r = TAKE_FD(mnt_fd);
out:
	mount_opts_free(&opts);
	if (r < 0 && target_fd && *target_fd >= 0)
		*target_fd = safe_close(*target_fd);
	return r;
}

/*
 * That the caller still waits, and attach the mount locked at the target
 * (mount_lock.c).  0 with *mnt_id, or -errno with the refusal in *d.
 */
static int kernel_attach(struct request *rq, int mnt_fd, int target_fd, uint64_t *mnt_id,
                         struct decision *d)
{
	const char *step = "";
	int r;

	/* Last look before the mount becomes visible: is the caller still waiting? */
	if (target_valid(&rq->t) < 0)
		return decision_fail(
		    d, ENOENT, "caller gave up before the mount at %s was attached", rq->target);
	r = mount_lock_attach(mnt_fd, rq->t.procfd, target_fd, mnt_id, &step);
	if (r < 0)
		return decision_fail(d, -r, "attaching at %s: %s: %s", rq->target, step,
		                     strerror(-r));
	return 0;
}

/* The `kernel` action: notifyd creates the mount and attaches it, locked, in the caller's view. */
static void kernel_action(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                          struct decision *d)
{
	_cleanup_close_ int target_fd = -EBADF, mnt_fd = -EBADF;
	uint64_t mnt_id = 0;
	int r;

	mnt_fd = kernel_action_make(rq, p, fs, rq->notif.data.args[3], &target_fd, NULL, d);
	if (mnt_fd < 0 || kernel_attach(rq, mnt_fd, target_fd, &mnt_id, d) < 0)
		return;
	r = mount_record_add(rq->c, mnt_id, 0, rq->type, rq->source, rq->target);
	if (r < 0) {
		char tbuf[PATH_MAX];
		log_warn("%s: mount at %s made but not recorded: %s", rq->c->id,
		         log_printable(rq->target, tbuf, sizeof(tbuf)), strerror(-r));
	}
	decision_ok(d, 0);
	decision_why(d, "mnt_id=%llu locked%s", (unsigned long long)mnt_id,
	             fs->idmap ? " idmapped" : "");
}

/*
 * Copy mount(2)'s arguments, in its own order: type, source and data, then
 * the target; one ID_VALID after all copies, before anything is decided on
 * them.  0, or -errno with the refusal in *d.
 */
static int copy_args(struct request *rq, struct decision *d)
{
	int type_null, target_null;

	if (copy_arg(rq, 2, rq->type, sizeof(rq->type), &type_null, d) < 0 ||
	    copy_arg(rq, 0, rq->source, sizeof(rq->source), NULL, d) < 0 ||
	    copy_arg(rq, 4, rq->data, sizeof(rq->data), NULL, d) < 0 ||
	    copy_arg(rq, 1, rq->target, sizeof(rq->target), &target_null, d) < 0)
		return -d->err;
	if (target_valid(&rq->t) < 0)
		return decision_fail(d, ENOENT, "caller gave up the request");
	if (target_null) /* a NULL path is an unreadable one, to mount(2) too */
		return decision_fail(d, EFAULT, "argument 1 is not readable");
	if (!rq->target[0])
		return decision_fail(d, ENOENT, "empty target");
	if (type_null || !rq->type[0])
		return decision_fail(d, EINVAL, "no filesystem type");
	return 0;
}

struct decision mount_request_handle(struct request *rq)
{
	struct decision d = {0};
	unsigned long flags = rq->notif.data.args[3];
	struct profile_set *set = NULL;
	const struct profile *p;
	const struct profile_fs *fs;
	enum profile_action action;

	mount_flags_format(flags, rq->flags, sizeof(rq->flags));
	if (flags & MS_NOT_NEW) {
		/* Flags live in a register the caller cannot change: the kernel decides these. */
		decision_continue(&d, "not a new mount (bind/remount/move/propagation)");
		return d;
	}
	if (copy_args(rq, &d) < 0)
		return d;

	set = profile_store_get();
	p = set ? profile_set_find(set, rq->c->profile) : NULL;
	if (!p) {
		decision_rule(&d, "profile '%s' is not loaded", rq->c->profile);
		decision_fail(&d, EPERM, "unknown profile");
		goto out;
	}
	fs = profile_find_fs(p, rq->type);
	action = fs ? fs->action : p->default_action;
	if (fs)
		decision_rule(&d, "%s [fs %s] action=%s", p->name, fs->type,
		              profile_action_name(action));
	else
		decision_rule(&d, "%s default-action=%s", p->name, profile_action_name(action));

	switch (action) {
	case PROFILE_ACTION_CONTINUE:
		/* Only safe because the kernel re-checks everything with the caller's own rights.
		 */
		d.action = DECISION_CONTINUE;
		break;
	case PROFILE_ACTION_KERNEL:
		kernel_action(rq, p, fs ? fs : &kernel_action_default_fs, &d);
		break;
	case PROFILE_ACTION_FUSE:
		fuse_action_mount(rq, p, fs, &d);
		break;
	case PROFILE_ACTION_VIRTIOFS:
		virtiofs_action_mount(rq, p, fs, &d);
		break;
	case PROFILE_ACTION_DENY: {
		bool needs_dev;
		int err = fs ? fs->deny_errno : p->default_errno;
		/* A type the kernel does not know at all gets the kernel's own answer. */
		if (!fs && kernel_fs_lookup(rq->type, false, &needs_dev) == -ENODEV)
			err = ENODEV;
		d.action = DECISION_DENY;
		decision_fail(&d, err, "denied by profile");
		break;
	}
	default:
		decision_fail(&d, EOPNOTSUPP, "action %s not implemented",
		              profile_action_name(action));
		break;
	}
out:
	profile_store_put(set);
	return d;
}
