/* SPDX-License-Identifier: MIT */
/*
 * The checks every emulated mount (the kernel and fuse actions) makes before
 * it resolves anything in the caller's view (mount_check.h).
 */
#include "notifyd/mount_check.h"
#include "notifyd/mount_record.h"
#include "notifyd/newapi_handle.h"

#include <errno.h>
#include <string.h>

int mount_check_prepare(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                        struct mount_flags *mf, struct mount_opts *opts, struct proc_creds *cr,
                        struct decision *d)
{
	return mount_check_prepare_flags(rq, p, fs, rq->notif.data.args[3], mf, opts, cr, d);
}

int mount_check_admin(struct request *rq, struct proc_creds *cr, struct decision *d)
{
	int r = target_check_admin(&rq->t, cr);

	if (r < 0)
		return decision_fail(d, r == -EPERM ? EPERM : -r,
		                     "caller lacks CAP_SYS_ADMIN over its own mount namespace");
	return 0;
}

int mount_check_prepare_flags(struct request *rq, const struct profile *p,
                              const struct profile_fs *fs, unsigned long flags,
                              struct mount_flags *mf, struct mount_opts *opts,
                              struct proc_creds *cr, struct decision *d)
{
	const char *bad = NULL;
	unsigned n_mounts;
	int r;

	/* mount_record_*() take the container's lock themselves: never hold it here. */
	/* The mounts the new API's fsmount handed out count too (newapi_handle.h). */
	n_mounts = newapi_handle_mounts(rq->c);
	n_mounts += mount_record_count(rq->c);
	/* At the limit: records of mounts gone by other means (a lazily detached
	 * parent) and handles of processes gone do not count. */
	if (n_mounts >= p->max_mounts &&
	    (newapi_handle_sweep_gone(rq->c) > 0 ||
	     (target_open_proc(&rq->t) >= 0 && mount_record_prune_at(rq->c, rq->t.procfd) > 0))) {
		n_mounts = newapi_handle_mounts(rq->c);
		n_mounts += mount_record_count(rq->c);
	}
	if (n_mounts >= p->max_mounts)
		return decision_fail(d, ENOSPC, "container has %u mounts, profile max-mounts = %u",
		                     n_mounts, p->max_mounts);
	r = mount_check_admin(rq, cr, d);
	if (r < 0)
		return r;
	r = mount_flags_translate(flags, mf);
	if (r < 0)
		return decision_fail(d, EINVAL, "mount flags %s not supported for a new mount",
		                     rq->flags);
	r = mount_opts_split(rq->data, opts);
	if (r >= 0 && mount_opts_check(opts, fs, &bad) < 0)
		return decision_fail(d, EINVAL, "option '%s' is not in allowed-options", bad);
	for (size_t i = 0; r >= 0 && fs->options[i]; i++)
		r = mount_opts_add(opts, fs->options[i]);
	if (r < 0)
		return decision_fail(d, -r, "%s", strerror(-r));
	return r;
}
