/* SPDX-License-Identifier: MIT */
/*
 * mount(2) from a container: copy the arguments once, find the profile rule,
 * and deny, continue, or perform the mount with host privilege (`kernel`).
 */
#include "notifyd/request.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/loop_device.h"
#include "notifyd/mount_lock.h"
#include "notifyd/mount_options.h"
#include "notifyd/mount_resolve.h"
#include "notifyd/mount_verify.h"
#include "notifyd/fuse_action.h"
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
static const struct profile_fs default_fs = {
    .type = "*",
    .action = PROFILE_ACTION_KERNEL,
    .options = no_options,
    .allowed_options = no_options,
};

/* Copy a string argument; on failure answer with the errno the kernel would give. */
/*
 * Copy a string argument; on failure answer with the errno mount(2) would
 * give for it: a type longer than any filesystem name is simply unknown
 * (ENODEV), a source or data string past a page is EINVAL, a target path
 * past PATH_MAX is ENAMETOOLONG.
 */
static int copy_arg(struct request *rq, unsigned idx, char *buf, size_t size, int *was_null)
{
	int r = target_read_string(&rq->t, rq->notif.data.args[idx], buf, size, was_null);

	if (r == -ENOENT) /* the caller went away; the answer will not be seen */
		request_deny(rq, ENOENT, "caller gave up the request");
	else if (r == -ENAMETOOLONG)
		request_deny(rq,
		             idx == 1   ? ENAMETOOLONG
		             : idx == 2 ? ENODEV
		                        : EINVAL,
		             "argument %u too long", idx);
	else if (r < 0)
		request_deny(rq, EFAULT, "argument %u is not readable", idx);
	return r;
}

int mount_request_prepare(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                          struct mount_flags *mf, struct mount_opts *opts, struct proc_creds *cr)
{
	const char *bad = NULL;
	unsigned n_mounts;
	int r;

	pthread_mutex_lock(&rq->c->lock);
	n_mounts = rq->c->n_mounts;
	pthread_mutex_unlock(&rq->c->lock);
	/* At the limit: records of mounts gone by other means (a lazily detached
	 * parent) do not count. */
	if (n_mounts >= p->max_mounts && target_open_proc(&rq->t) >= 0 &&
	    container_mounts_prune_at(rq->c, rq->t.procfd) > 0) {
		pthread_mutex_lock(&rq->c->lock);
		n_mounts = rq->c->n_mounts;
		pthread_mutex_unlock(&rq->c->lock);
	}
	if (n_mounts >= p->max_mounts) {
		request_deny(rq, ENOSPC, "container has %u mounts, profile max-mounts = %u",
		             n_mounts, p->max_mounts);
		return -ENOSPC;
	}
	r = target_check_admin(&rq->t, cr);
	if (r < 0) {
		request_deny(rq, r == -EPERM ? EPERM : -r,
		             "caller lacks CAP_SYS_ADMIN over its own mount namespace");
		return r;
	}
	r = mount_flags_translate(rq->notif.data.args[3], mf);
	if (r < 0) {
		request_deny(rq, EINVAL, "mount flags %s not supported for a new mount", rq->flags);
		return r;
	}
	r = mount_opts_split(rq->data, opts);
	if (r >= 0 && mount_opts_check(opts, fs, &bad) < 0) {
		request_deny(rq, EINVAL, "option '%s' is not in allowed-options", bad);
		return -EINVAL;
	}
	for (size_t i = 0; r >= 0 && fs->options[i]; i++)
		r = mount_opts_add(opts, fs->options[i]);
	if (r < 0)
		request_deny(rq, -r, "%s", strerror(-r));
	return r;
}

/* Is the resolved source a loop device notifyd gave this container? */
static bool is_own_loop(const struct request *rq, int source_fd)
{
	struct stat st;

	return fstat(source_fd, &st) == 0 && S_ISBLK(st.st_mode) &&
	       loop_device_access(rq->c->id, st.st_rdev) == LOOP_OWNED;
}

static void kernel_action(struct request *rq, const struct profile *p, const struct profile_fs *fs)
{
	_cleanup_close_ int target_fd = -EBADF, source_fd = -EBADF, userns_fd = -EBADF,
	                    mnt_fd = -EBADF, fs_fd = -EBADF;
	struct mount_opts opts = {0};
	struct mount_flags mf;
	struct proc_creds cr;
	bool needs_dev = false;
	uint64_t mnt_id = 0;
	const char *step = "";
	char msg[512];
	int r;

	rq->action = "kernel";
	if (mount_request_prepare(rq, p, fs, &mf, &opts, &cr) < 0)
		goto out;
	if (kernel_fs_lookup(rq->type, true, &needs_dev) < 0) {
		request_deny(rq, ENODEV, "this kernel has no filesystem '%s'", rq->type);
		goto out;
	}
	if (fs->idmap) {
		userns_fd = ns_open_at(rq->t.procfd, "user");
		if (userns_fd < 0) {
			request_deny(rq, -userns_fd, "cannot open the caller's user namespace");
			goto out;
		}
	}
	if (mount_resolve_paths(rq, needs_dev ? MOUNT_SOURCE_BLOCK : MOUNT_SOURCE_NONE, !mf.sb_ro,
	                        &cr, &target_fd, &source_fd) < 0)
		goto out;

	if (source_fd >= 0 && p->max_loop_devices == 0 && is_own_loop(rq, source_fd)) {
		/*
		 * Defence in depth: a profile that gives no loop devices (perhaps
		 * lowered by a reload) does not mount the ones handed out before.
		 */
		request_deny(rq, EPERM,
		             "%s is a loop device notifyd gave the container, and profile %s has "
		             "max-loop-devices = 0",
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
	if (!needs_dev) {
		mnt_fd = kernel_mount_create(&km, msg, sizeof(msg));
	} else {
		/*
		 * A block filesystem: creating its superblock opens devices (the
		 * source, and what the image names: an external journal, other
		 * btrfs members, a log device), as whoever creates it.  So the
		 * source is checked as the caller and the superblock created as
		 * host root, both in the caller's cgroup (source_open.c): its
		 * device cgroup applies to every one of those opens.
		 */
		fs_fd = kernel_mount_prepare(&km, msg, sizeof(msg));
		if (fs_fd < 0) {
			request_deny(rq, -fs_fd, "%s%s%s", strerror(-fs_fd), msg[0] ? ": " : "",
			             msg);
			goto out;
		}
		if (mount_source_create(rq, &cr, source_fd, !mf.sb_ro, fs_fd) < 0)
			goto out;
		msg[0] = '\0';
		mnt_fd = kernel_mount_finish(fs_fd, &km);
	}
	if (mnt_fd < 0) {
		request_deny(rq, -mnt_fd, "%s%s%s", strerror(-mnt_fd), msg[0] ? ": " : "", msg);
		goto out;
	}
	/* What the kernel applied, the image's stored defaults included (mount_verify.c). */
	r = mount_verify_effective(mnt_fd, fs, msg, sizeof(msg));
	if (r < 0) {
		if (r == -EPERM)
			request_deny(
			    rq, EPERM,
			    "the new superblock has option '%s' from the image's stored "
			    "default mount options, which the profile neither allows nor forces",
			    msg);
		else
			request_deny(rq, EPERM, "cannot check the new superblock's options: %s: %s",
			             msg, strerror(-r));
		goto out;
	}
	/* Last look before the mount becomes visible: is the caller still waiting? */
	r = target_valid(&rq->t);
	if (r < 0) {
		request_deny(rq, ENOENT, "caller gave up before the mount at %s was attached",
		             rq->target);
		goto out;
	}
	r = mount_lock_attach(mnt_fd, rq->t.procfd, target_fd, &mnt_id, &step);
	if (r < 0) {
		request_deny(rq, -r, "attaching at %s: %s: %s", rq->target, step, strerror(-r));
		goto out;
	}
	r = container_add_mount(rq->c, mnt_id, rq->type, rq->source, rq->target);
	if (r < 0)
		log_warn("%s: mount at %s made but not recorded: %s", rq->c->id, rq->target,
		         strerror(-r));
	rq->answer = ANSWER_ERRNO;
	rq->err = 0;
	snprintf(rq->detail, sizeof(rq->detail), "mnt_id=%llu locked%s", (unsigned long long)mnt_id,
	         fs->idmap ? " idmapped" : "");
out:
	mount_opts_free(&opts);
}

void mount_request_handle(struct request *rq)
{
	unsigned long flags = rq->notif.data.args[3];
	struct profile_set *set = NULL;
	const struct profile *p;
	const struct profile_fs *fs;
	enum profile_action action;
	int type_null, target_null;

	mount_flags_format(flags, rq->flags, sizeof(rq->flags));
	if (flags & MS_NOT_NEW) {
		/* Flags live in a register the caller cannot change: the kernel decides these. */
		rq->action = "continue";
		request_set_rule(rq, "not a new mount (bind/remount/move/propagation)");
		rq->answer = ANSWER_CONTINUE;
		return;
	}
	/* In mount(2)'s own order: type, source and data are copied, then the target looked up. */
	if (copy_arg(rq, 2, rq->type, sizeof(rq->type), &type_null) < 0 ||
	    copy_arg(rq, 0, rq->source, sizeof(rq->source), NULL) < 0 ||
	    copy_arg(rq, 4, rq->data, sizeof(rq->data), NULL) < 0 ||
	    copy_arg(rq, 1, rq->target, sizeof(rq->target), &target_null) < 0)
		return;
	/* One check after all copies, before anything is decided on them. */
	if (target_valid(&rq->t) < 0) {
		request_deny(rq, ENOENT, "caller gave up the request");
		return;
	}
	if (target_null) { /* a NULL path is an unreadable one, to mount(2) too */
		request_deny(rq, EFAULT, "argument 1 is not readable");
		return;
	}
	if (!rq->target[0]) {
		request_deny(rq, ENOENT, "empty target");
		return;
	}
	if (type_null || !rq->type[0]) {
		request_deny(rq, EINVAL, "no filesystem type");
		return;
	}

	set = profile_store_get();
	p = set ? profile_set_find(set, rq->c->profile) : NULL;
	if (!p) {
		request_set_rule(rq, "profile '%s' is not loaded", rq->c->profile);
		request_deny(rq, EPERM, "unknown profile");
		goto out;
	}
	fs = profile_find_fs(p, rq->type);
	action = fs ? fs->action : p->default_action;
	if (fs)
		request_set_rule(rq, "%s [fs %s] action=%s", p->name, fs->type,
		                 profile_action_name(action));
	else
		request_set_rule(rq, "%s default-action=%s", p->name, profile_action_name(action));

	switch (action) {
	case PROFILE_ACTION_CONTINUE:
		/* Only safe because the kernel re-checks everything with the caller's own rights.
		 */
		rq->action = "continue";
		rq->answer = ANSWER_CONTINUE;
		break;
	case PROFILE_ACTION_KERNEL:
		kernel_action(rq, p, fs ? fs : &default_fs);
		break;
	case PROFILE_ACTION_FUSE:
		mount_fuse_action(rq, p, fs);
		break;
	case PROFILE_ACTION_DENY: {
		bool needs_dev;
		int err = fs ? fs->deny_errno : p->default_errno;
		/* A type the kernel does not know at all gets the kernel's own answer. */
		if (!fs && kernel_fs_lookup(rq->type, false, &needs_dev) == -ENODEV)
			err = ENODEV;
		rq->action = "deny";
		request_deny(rq, err, "denied by profile");
		break;
	}
	default:
		request_deny(rq, EOPNOTSUPP, "action %s not implemented",
		             profile_action_name(action));
		break;
	}
out:
	profile_store_put(set);
}
