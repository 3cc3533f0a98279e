/* SPDX-License-Identifier: MIT */
/*
 * umount2() from a container.  A mount notifyd attached is unmounted by
 * notifyd (in the caller's view, with the caller's flags) so its records stay
 * true; anything else is left to the kernel, which checks the caller's own
 * rights — nothing notifyd read decides what the kernel then does.
 */
#include "notifyd/request.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

static void umount_continue(struct request *rq, const char *why)
{
	rq->action = "continue";
	request_set_rule(rq, "%s", why);
	rq->answer = ANSWER_CONTINUE;
}

void umount_request_handle(struct request *rq)
{
	unsigned long flags = rq->notif.data.args[1];
	_cleanup_close_ int fd = -EBADF;
	struct proc_creds cr;
	struct statx stx;
	uint64_t mnt_id = 0;
	int r;

	snprintf(rq->flags, sizeof(rq->flags), "0x%lx", flags);
	if (flags & ~(unsigned long)(MNT_FORCE | MNT_DETACH | MNT_EXPIRE | UMOUNT_NOFOLLOW)) {
		umount_continue(rq, "unknown flags: the kernel answers");
		return;
	}
	r = target_read_string(&rq->t, rq->notif.data.args[0], rq->target, sizeof(rq->target),
	                       NULL);
	if (r >= 0)
		r = target_valid(&rq->t);
	if (r < 0) {
		request_deny(rq,
		             r == -ENAMETOOLONG ? ENAMETOOLONG
		             : r == -ENOENT     ? ENOENT
		                                : EFAULT,
		             "cannot read target");
		return;
	}

	r = target_open_proc(&rq->t);
	if (r >= 0)
		r = view_enter(rq->t.procfd, 1);
	if (r < 0) {
		request_deny(rq, -r, "cannot enter the caller's mount namespace");
		return;
	}
	fd = view_open(rq->target, O_PATH | ((flags & UMOUNT_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd >= 0 && statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &stx) == 0 &&
	    (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	    (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) && kernel_mount_id(fd, &mnt_id) == 0 &&
	    container_owns_mount(rq->c, mnt_id)) {
		fd = safe_close(fd); /* our own reference would keep the mount busy */
		rq->action = "umount";
		request_set_rule(rq, "mount made by notifyd (mnt_id=%llu)",
		                 (unsigned long long)mnt_id);
		r = target_check_admin(&rq->t, &cr);
		if (r < 0)
			request_deny(rq, EPERM,
			             "caller lacks CAP_SYS_ADMIN over its mount namespace");
		else if (flags & MNT_FORCE)
			/* The kernel wants CAP_SYS_ADMIN in the initial namespace for this. */
			request_deny(rq, EPERM, "MNT_FORCE needs host privilege");
		else if ((r = target_valid(&rq->t)) < 0)
			request_deny(rq, ENOENT, "caller gave up the request");
		else if (umount2(rq->target, (int)flags) < 0)
			request_deny(rq, errno, "%s", strerror(errno));
		else {
			rq->answer = ANSWER_ERRNO;
			rq->err = 0;
			container_remove_mount(rq->c, mnt_id);
		}
	} else {
		umount_continue(rq, "not a notifyd mount: the kernel decides");
	}
	view_leave();
}
