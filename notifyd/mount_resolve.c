/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_resolve.h"
#include "notifyd/loop_device.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/mount_record.h"
#include "notifyd/source_open.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

/*
 * Could the caller itself open this node?  Mirrors the kernel's permission
 * check: owner/group/other bits for its fs ids, or CAP_DAC_OVERRIDE in its
 * user namespace over an inode whose ids are mapped there; and a device node
 * must not sit on a nodev mount.
 */
static int caller_may_open(const struct request *rq, int fd, const struct stat *st,
                           const struct proc_creds *cr, bool want_write)
{
	/* A directory is read by listing and searching it. */
	unsigned need = (want_write ? 06 : 04) | (S_ISDIR(st->st_mode) ? 01 : 0), bits;
	struct statvfs sfs;
	char map[4096];
	bool in_group = st->st_gid == cr->fsgid;

	if (fstatvfs(fd, &sfs) < 0)
		return -errno;
	if (S_ISBLK(st->st_mode) && (sfs.f_flag & ST_NODEV))
		return -EACCES;
	if (want_write && (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) &&
	    (sfs.f_flag & ST_RDONLY))
		return -EROFS;
	for (unsigned i = 0; i < cr->n_groups && !in_group; i++)
		in_group = st->st_gid == cr->groups[i];
	if (st->st_uid == cr->fsuid)
		bits = (st->st_mode >> 6) & 7;
	else if (in_group)
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	if ((bits & need) == need)
		return 0;
	if (!(cr->cap_eff & (1ULL << CAP_DAC_OVERRIDE)))
		return -EACCES;
	if (fd_read_file_at(rq->t.procfd, "uid_map", map, sizeof(map)) < 0 ||
	    !ns_id_mapped(map, st->st_uid))
		return -EACCES;
	if (fd_read_file_at(rq->t.procfd, "gid_map", map, sizeof(map)) < 0 ||
	    !ns_id_mapped(map, st->st_gid))
		return -EACCES;
	return 0;
}

int mount_resolve_may_access(const struct request *rq, int fd, const struct proc_creds *cr,
                             bool want_write)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	return caller_may_open(rq, fd, &st, cr, want_write);
}

/*
 * The target: a directory to mount on, or for the virtiofs action an
 * existing file the socket is bound over (a directory there is ENOTDIR,
 * as for a bind mount of a file onto a directory).
 */
static int open_target(const struct request *rq, enum mount_source_kind kind, struct decision *d)
{
	struct stat st;
	int fd;

	if (kind != MOUNT_SOURCE_DIR) {
		fd = view_open(rq->target, O_PATH | O_DIRECTORY);
		if (fd < 0)
			decision_fail(d, -fd, "target %s: %s", rq->target, strerror(-fd));
		return fd;
	}
	fd = view_open(rq->target, O_PATH);
	if (fd < 0)
		return decision_fail(d, -fd, "target %s: %s", rq->target, strerror(-fd));
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		return decision_fail(d, ENOTDIR,
		                     "target %s is a directory: the socket is bound over an "
		                     "existing file",
		                     rq->target);
	}
	return fd;
}

/* Is the node's type right for kind?  0, or -errno with the refusal in *d. */
static int check_source_type(const struct request *rq, enum mount_source_kind kind,
                             const struct stat *st, struct decision *d)
{
	if (kind == MOUNT_SOURCE_DIR)
		return S_ISDIR(st->st_mode)
		           ? 0
		           : decision_fail(d, ENOTDIR, "source %s is not a directory", rq->source);
	if (S_ISBLK(st->st_mode) || (kind == MOUNT_SOURCE_BLOCK_FILE && S_ISREG(st->st_mode)))
		return 0;
	return decision_fail(d, ENOTBLK, "source %s is not a block device%s", rq->source,
	                     kind == MOUNT_SOURCE_BLOCK_FILE ? " or an image file" : "");
}

int mount_resolve_paths(struct request *rq, enum mount_source_kind kind, bool want_write,
                        const struct proc_creds *cr, int *target_fd, int *source_fd,
                        struct decision *d)
{
	_cleanup_close_ int tfd = -EBADF, sfd = -EBADF;
	struct stat st;
	int r;

	r = view_enter(rq->t.procfd, 1);
	if (r < 0) {
		decision_fail(d, -r, "cannot enter the caller's mount namespace: %s", strerror(-r));
		return r;
	}
	if (target_fd) {
		tfd = open_target(rq, kind, d);
		if (tfd < 0) {
			r = tfd;
			goto out;
		}
	}
	if (kind != MOUNT_SOURCE_NONE) {
		if (!rq->source[0]) {
			r = -EINVAL;
			decision_fail(d, EINVAL, "no source given");
			goto out;
		}
		sfd = view_open(rq->source, O_PATH);
		if (sfd < 0) {
			r = sfd;
			decision_fail(d, -r, "source %s is not in the container: %s", rq->source,
			              strerror(-r));
			goto out;
		}
		if (fstat(sfd, &st) < 0) {
			r = -errno;
			decision_fail(d, -r, "source %s: %s", rq->source, strerror(-r));
			goto out;
		}
		r = check_source_type(rq, kind, &st, d);
		if (r < 0)
			goto out;
		if (S_ISBLK(st.st_mode) &&
		    loop_device_access(rq->c->id, st.st_rdev) == LOOP_FOREIGN) {
			r = -EPERM;
			decision_fail(d, EPERM, "%s is another container's loop device",
			              rq->source);
			goto out;
		}
		/*
		 * A device node on a file system notifyd mounted for this container
		 * came from the container's own image: never a source.  (Such mounts
		 * are nodev, locked, so caller_may_open() would refuse it too, also on
		 * bind copies, which have other mount ids.)
		 */
		uint64_t src_mnt;
		if (S_ISBLK(st.st_mode) && kernel_mount_id(sfd, &src_mnt) >= 0 &&
		    mount_record_owns(rq->c, src_mnt)) {
			r = -EPERM;
			decision_fail(d, EPERM,
			              "%s is a device node on a file system notifyd mounted for "
			              "the container",
			              rq->source);
			goto out;
		}
		r = caller_may_open(rq, sfd, &st, cr, want_write);
		if (r < 0) {
			decision_fail(d, -r, "the caller may not open %s%s", rq->source,
			              want_write ? " for writing" : "");
			goto out;
		}
	}
	r = 0;
out:
	view_leave();
	if (r == 0) {
		if (target_fd)
			*target_fd = TAKE_FD(tfd);
		*source_fd = TAKE_FD(sfd);
	}
	return r;
}

int mount_source_open(struct request *rq, const struct proc_creds *cr, int source_fd,
                      bool want_write, struct decision *d)
{
	const char *why = "";
	int fd = source_open_as_caller(rq->t.procfd, cr, source_fd, want_write ? O_RDWR : O_RDONLY,
	                               &why);

	if (fd < 0)
		decision_fail(d, -fd, "the caller may not open %s%s (%s: %s)", rq->source,
		              want_write ? " for writing" : "", why, strerror(-fd));
	return fd;
}

int mount_source_create(struct request *rq, const struct proc_creds *cr, int source_fd,
                        bool want_write, int fsfd, bool *failed_create, struct decision *d)
{
	const char *why = "";
	bool in_create = false;
	char msg[512];
	int r = source_create_as_caller(rq->t.procfd, cr, source_fd, rq->source,
	                                want_write ? O_RDWR : O_RDONLY, fsfd, &why, &in_create);

	if (r >= 0)
		return 0;
	if (failed_create)
		*failed_create = in_create;
	if (in_create && failed_create) {
		decision_fail(d, -r,
		              "%s (%s; the filesystem's messages are left in the caller's "
		              "context)",
		              strerror(-r), why);
	} else if (in_create) {
		kernel_mount_messages(fsfd, msg, sizeof(msg));
		decision_fail(d, -r, "%s%s%s (%s)", strerror(-r), msg[0] ? ": " : "", msg, why);
	} else {
		decision_fail(d, -r, "the caller may not open %s%s (%s: %s)", rq->source,
		              want_write ? " for writing" : "", why, strerror(-r));
	}
	return r;
}
