/* SPDX-License-Identifier: MIT */
/*
 * umount2() from a container.  A mount notifyd attached is unmounted by
 * notifyd (in the caller's view, with the caller's flags) so its records stay
 * true; anything else is left to the kernel, which checks the caller's own
 * rights — nothing notifyd read decides what the kernel then does.
 */
#include "notifyd/request.h"
#include "notifyd/inflight.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/mount_record.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/newapi_handle.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/nsutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * umount2(), tried again for up to 50 ms on EBUSY.  Our own check of
 * the mount held an fd of it (closed just before), and a helper process
 * another worker clones at that moment (ns_child.c) gets a copy of that fd
 * until it closes what it does not need: a mount busy only because of that
 * is free again within microseconds.  A mount the container really keeps
 * busy still gets EBUSY.
 */
static int umount_retrying_busy(const char *target, int flags)
{
	for (int i = 0;; i++) {
		if (umount2(target, flags) == 0)
			return 0;
		if (errno != EBUSY || (flags & MNT_DETACH) || i == 50)
			return -1;
		usleep(1000);
	}
}

/*
 * Unmount the notifyd mount mnt_id the caller's path named when it was
 * checked, and keep the records true.
 *
 * The check (view_open() + statx) and umount2(2) are two lookups of the
 * caller's string: a second thread of the caller can mount something over
 * the target in between, and then the kernel unmounts that topmost mount,
 * not ours.  notifyd cannot unmount exactly the mount it checked: only an fd
 * names it, and that fd is itself a reference that makes a non-lazy
 * umount2() fail with EBUSY.  So notifyd does what the caller asked, by path,
 * and lets the kernel say afterwards what is gone: a record is dropped only
 * when statmount(2) no longer finds its unique mount id in the namespace it
 * was seen in (unique ids are never reused, a mount never changes namespace;
 * mount_record_prune()).  If the path named another mount by then, that
 * one was unmounted -- which is what the caller's own umount2() would have
 * done at that moment: it holds CAP_SYS_ADMIN over its mount namespace
 * (checked), the kernel refuses locked mounts to notifyd as to anybody, and
 * MNT_FORCE is refused -- and the record of ours stays with its mount.  Any
 * other record of this namespace whose mount went (it was under the path, or
 * a parent was detached earlier) is dropped on the way.
 *
 * Without statmount (before Linux 6.8) or mount namespace ids (6.11) the
 * record is dropped when umount2() succeeds, as before: the race stays open
 * there (docs/security.md).
 */
static void umount_notifyd_mount(struct request *rq, unsigned long flags, uint64_t mnt_id,
                                 struct decision *d)
{
	_cleanup_close_ int nsfd = -EBADF;
	uint64_t ns_id = 0;
	bool exact;
	int r;

	nsfd = ns_open_at(rq->t.procfd, "mnt");
	exact = nsfd >= 0 && mount_record_ns_id(nsfd, &ns_id) == 0 &&
	        (r = mount_record_present(mnt_id, ns_id)) >= 0;
	if (exact && r == 0) {
		/* Reached through a cwd or root outside the caller's namespace: not ours to do. */
		decision_continue(d, "notifyd mount outside the caller's mount namespace");
		return;
	}
	/* Learn this namespace for records not placed yet, before anything goes. */
	if (exact)
		mount_record_prune(rq->c, ns_id);
	if ((r = target_valid(&rq->t)) < 0) {
		decision_fail(d, ENOENT, "caller gave up the request");
		return;
	}
	inflight_mark(INFLIGHT_UMOUNTING, mnt_id, ns_id);
	if (umount_retrying_busy(rq->target, (int)flags) < 0) {
		decision_fail(d, errno, "%s", strerror(errno));
		return;
	}
	inflight_mark(INFLIGHT_UMOUNTED, mnt_id, ns_id);
	inflight_crash_point("after-umount");
	decision_ok(d, 0);
	/*
	 * New mount API contexts the container closed (docs/new-mount-api.md):
	 * one still in the registry keeps its superblock, and a FUSE program
	 * serving it, alive after the last mount went (the kernel's own context
	 * would be gone with its fd).
	 */
	if (newapi_handle_count(rq->c))
		(void)newapi_handle_sweep(rq->c, true);
	if (!exact) {
		mount_record_remove(rq->c, mnt_id);
		fuse_daemon_stop_unmounted(rq->c);
		return;
	}
	r = mount_record_prune(rq->c, ns_id);
	/* A share whose socket went stops serving (its vfsd exits). */
	fuse_daemon_stop_unmounted(rq->c);
	if (mount_record_present(mnt_id, ns_id) == 1)
		decision_why(
		    d,
		    "the path named another mount by the time of umount2; mnt_id=%llu stays "
		    "recorded",
		    (unsigned long long)mnt_id);
	else if (r > 1)
		decision_why(d, "%d records of mounts gone dropped", r);
}

/*
 * Is the mount fd is on (a mount root, stx from statx() with an empty mask)
 * one of c's records?  Its unique id answers for most file systems; a FUSE
 * mount refuses every statx() attribute, the unique id too, to notifyd (not
 * in its daemon's user namespace) but the empty-mask statx() still gave its
 * old id (stx_mnt_id), which the record of a FUSE mount carries as well.
 */
static bool own_mount(struct container *c, int fd, const struct statx *stx, uint64_t *mnt_id)
{
	if (kernel_mount_id(fd, mnt_id) == 0)
		return mount_record_owns(c, *mnt_id);
	return (stx->stx_mask & STATX_MNT_ID) && mount_record_owns_old(c, stx->stx_mnt_id, mnt_id);
}

struct decision umount_request_handle(struct request *rq)
{
	struct decision d = {0};
	/*
	 * umount(target) (32-bit x86 nr 22, trapped since the profiles list it)
	 * is umount2(target, 0): its second register is whatever the caller left
	 * there, and read as flags it would let the caller pick MNT_DETACH, or
	 * unknown bits that hand a notifyd mount to the kernel unseen.
	 */
	unsigned long flags = strcmp(rq->syscall, "umount") == 0 ? 0 : rq->notif.data.args[1];
	_cleanup_close_ int fd = -EBADF;
	struct proc_creds cr;
	struct statx stx;
	uint64_t mnt_id = 0;
	int r;

	snprintf(rq->flags, sizeof(rq->flags), "0x%lx", flags);
	/*
	 * A mount fsmount handed out that the container attached by a path
	 * becomes a record here (newapi_handle.h), and our handle stops
	 * pinning it (it made the container's umount2 EBUSY).
	 */
	if (newapi_handle_count(rq->c))
		(void)newapi_handle_mounts(rq->c);
	if (flags & ~(unsigned long)(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) {
		decision_continue(&d, "unknown flags: the kernel answers");
		return d;
	}
	r = target_read_string(&rq->t, rq->notif.data.args[0], rq->target, sizeof(rq->target),
	                       NULL);
	if (r >= 0)
		r = target_valid(&rq->t);
	if (r < 0) {
		decision_fail(&d,
		              r == -ENAMETOOLONG ? ENAMETOOLONG
		              : r == -ENOENT     ? ENOENT
		                                 : EFAULT,
		              "cannot read target");
		return d;
	}

	r = target_open_proc(&rq->t);
	if (r >= 0)
		r = view_enter(rq->t.procfd, 1);
	if (r < 0) {
		decision_fail(&d, -r, "cannot enter the caller's mount namespace");
		return d;
	}
	fd = view_open(rq->target, O_PATH | ((flags & UMOUNT_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && own_mount(rq->c, fd, &stx, &mnt_id)) {
		fd = safe_close(fd); /* our own reference would keep the mount busy */
		d.action = DECISION_UMOUNT;
		decision_rule(&d, "mount made by notifyd (mnt_id=%llu)",
		              (unsigned long long)mnt_id);
		r = target_check_admin(&rq->t, &cr);
		if (r < 0)
			decision_fail(&d, EPERM,
			              "caller lacks CAP_SYS_ADMIN over its mount namespace");
		else if (flags & MNT_FORCE)
			/* The kernel wants CAP_SYS_ADMIN in the initial namespace for this. */
			decision_fail(&d, EPERM, "MNT_FORCE needs host privilege");
		else
			umount_notifyd_mount(rq, flags, mnt_id, &d);
	} else {
		decision_continue(&d, "not a notifyd mount: the kernel decides");
	}
	view_leave();
	return d;
}
