/* SPDX-License-Identifier: MIT */
/*
 * fsmount, move_mount and mount_setattr on what notifyd's fsopen and
 * fsmount made (newapi_request.c): fsmount hands out a clone of the created
 * mount, nosuid,nodev and locked (mount_lock_clone()); move_mount attaches
 * it in the caller's view and records it as mount(2)'s mounts are;
 * mount_setattr's access-time change of such a mount is made by notifyd, as
 * the kernel locks those flags (docs/new-mount-api.md).
 */
#include "notifyd/newapi_internal.h"
#include "notifyd/mount_check.h"
#include "notifyd/inflight.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/fuse_newapi.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/mount_lock.h"
#include "notifyd/mount_record.h"
#include "notifyd/profile_store.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef ST_NOSYMFOLLOW
#define ST_NOSYMFOLLOW 0x2000 /* glibc < 2.34 */
#endif

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200
#endif
#define MOVE_MOUNT_KNOWN                                                                           \
	(MOVE_MOUNT_F_SYMLINKS | MOVE_MOUNT_F_AUTOMOUNTS | MOVE_MOUNT_F_EMPTY_PATH |               \
	 MOVE_MOUNT_T_SYMLINKS | MOVE_MOUNT_T_AUTOMOUNTS | MOVE_MOUNT_T_EMPTY_PATH |               \
	 MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_BENEATH)
#define FSMOUNT_ATTR_KNOWN                                                                         \
	(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |            \
	 MOUNT_ATTR__ATIME | MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW)

/*
 * What fsmount (and mount_setattr's atime change) hands out: clone (a new
 * mount of the superblock, used up) with attributes attr plus nosuid,nodev,
 * its flags locked by the user-namespace hop (mount_lock_clone()), into
 * *tree_fd (O_PATH, kept by notifyd: closing it dissolves the detached
 * mount) and *mnt_id.  SECCOMP_ADDFD installs no O_PATH file (it fget()s
 * srcfd), and mount fds are O_PATH: the caller gets the mount's root opened
 * O_RDONLY instead -- the same mount for move_mount, mount_setattr, openat
 * and fchdir.  Returns that fd, or -errno with the refusal in *d.
 */
static int lock_and_open(struct request *rq, int clone, unsigned attr, enum profile_action action,
                         int *tree_fd, uint64_t *mnt_id, struct decision *d)
{
	_cleanup_close_ int locked = -EBADF;
	const char *step = "";
	struct stat st;
	int handed, r;
	struct mount_attr ma = {
	    .attr_set = attr | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
	    .attr_clr = MOUNT_ATTR__ATIME,
	};

	if (mount_setattr(clone, "", AT_EMPTY_PATH, &ma, sizeof(ma)) < 0)
		return decision_fail(d, errno, "setting the mount's flags: %s", strerror(errno));
	r = mount_lock_clone(clone, rq->t.procfd, &locked, mnt_id, &step);
	if (r < 0)
		return decision_fail(d, -r, "locking the mount's flags: %s: %s", step,
		                     strerror(-r));
	if (action == PROFILE_ACTION_FUSE) {
		/* FUSE answers notifyd nothing: a helper in the caller's user namespace opens it.
		 */
		handed = fuse_newapi_open_root(locked, rq->t.procfd);
		if (handed < 0)
			return decision_fail(d, -handed, "opening the FUSE mount's root: %s",
			                     strerror(-handed));
	} else if (fstat(locked, &st) < 0 || !S_ISDIR(st.st_mode)) {
		return decision_fail(d, EOPNOTSUPP,
		                     "a mount whose root is not a directory: not emulated");
	} else {
		handed = openat(locked, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (handed < 0)
			return decision_fail(d, errno, "opening the mount's root: %s",
			                     strerror(errno));
	}
	*tree_fd = TAKE_FD(locked);
	return handed;
}

/*
 * max-mounts, as mount(2) checks it, counting also the mounts fsmount handed
 * out and no record holds yet: a handed-out mount can be attached by a path
 * (move_mount(FD, ".", ...), MS_MOVE of /proc/self/fd/FD), which no rule
 * traps, so it counts from fsmount on.  self: 1 when the caller's own
 * handle (being attached) is among them.  0, or -ENOSPC with a decision.
 */
static int check_max_mounts(struct request *rq, const struct profile *p, unsigned self,
                            struct decision *d)
{
	unsigned handed = newapi_handle_mounts(rq->c); /* first: it turns some into records */
	unsigned n = mount_record_count(rq->c) + handed - self;

	if (n >= p->max_mounts && (newapi_handle_sweep_gone(rq->c) > 0 ||
	                           mount_record_prune_at(rq->c, rq->t.procfd) > 0)) {
		handed = newapi_handle_mounts(rq->c);
		n = mount_record_count(rq->c) + handed - self;
	}
	if (n >= p->max_mounts)
		return decision_fail(d, ENOSPC,
		                     "container has %u mounts (%u of them handed out by fsmount), "
		                     "profile max-mounts = %u",
		                     n, handed - self, p->max_mounts);
	return 0;
}

struct decision newapi_fsmount(struct request *rq)
{
	const struct seccomp_data *a = &rq->notif.data;
	unsigned flags = (unsigned)a->args[1], attr = (unsigned)a->args[2];
	_cleanup_close_ int clone = -EBADF, locked = -EBADF, handed = -EBADF;
	struct decision d = {0};
	struct newapi_handle *h, *m = NULL;
	struct profile_set *set = NULL;
	const struct profile *p;
	const struct profile_fs *fs;
	enum profile_action action;
	struct proc_creds cr;
	uint64_t mnt_id = 0;
	bool claimed = false;
	int r;

	snprintf(rq->flags, sizeof(rq->flags), "0x%x attr=0x%x", flags, attr);
	h = newapi_handle_for(rq, (int)a->args[0], NEWAPI_CONTEXT, &d);
	if (!h)
		return d;
	d.action = DECISION_KERNEL;
	set = profile_store_get();
	if (newapi_rule_of(rq, set, h->type, &p, &fs, &action, &d) < 0)
		goto out;
	/* The kernel's order: may_mount(), the flags, then the context. */
	if (mount_check_admin(rq, &cr, &d) < 0)
		goto out;
	if ((flags & ~FSMOUNT_CLOEXEC) || (attr & ~FSMOUNT_ATTR_KNOWN)) {
		decision_fail(&d, EINVAL, "unknown fsmount flags");
		goto out;
	}
	switch (attr & MOUNT_ATTR__ATIME) {
	case MOUNT_ATTR_RELATIME:
	case MOUNT_ATTR_NOATIME:
	case MOUNT_ATTR_STRICTATIME:
		break;
	default:
		decision_fail(&d, EINVAL, "invalid atime attribute");
		goto out;
	}
	if (check_max_mounts(rq, p, 0, &d) < 0)
		goto out;
	pthread_mutex_lock(&h->lock);
	if (h->state == NEWAPI_CREATING) {
		pthread_mutex_unlock(&h->lock);
		decision_fail(&d, EBUSY, "the context is being created");
		goto out;
	}
	if (h->state != NEWAPI_CREATED) {
		pthread_mutex_unlock(&h->lock);
		decision_fail(&d, EINVAL,
		              "the context has no superblock (no successful CMD_CREATE)");
		goto out;
	}
	if (h->mounted) {
		/* The kernel's context leaves FS_CONTEXT_AWAITING_MOUNT at its fsmount. */
		pthread_mutex_unlock(&h->lock);
		decision_fail(&d, EBUSY, "the context was fsmount()ed already");
		goto out;
	}
	/* Claimed here, given back below unless the caller got its mount. */
	h->mounted = claimed = true;
	clone = (int)syscall(SYS_open_tree, h->mnt_fd, "",
	                     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	pthread_mutex_unlock(&h->lock);
	if (clone < 0) {
		decision_fail(&d, errno, "cloning the new mount: %s", strerror(errno));
		goto out;
	}
	handed = lock_and_open(rq, clone, attr, h->action, &locked, &mnt_id, &d);
	if (handed < 0)
		goto out;
	r = newapi_handle_add(rq->c, &rq->t, p->max_fs_contexts, NEWAPI_MOUNT, TAKE_FD(handed), &m);
	if (r < 0) {
		decision_fail(&d, -r,
		              r == -EMFILE ? "container holds max-fs-contexts = %u handles"
		                           : "cannot register the mount (%u)",
		              p->max_fs_contexts);
		goto out;
	}
	m->mnt_id = mnt_id;
	m->tree_fd = TAKE_FD(locked);
	m->cloexec = flags & FSMOUNT_CLOEXEC;
	pthread_mutex_lock(&h->lock);
	m->sb_fd = fcntl(h->mnt_fd, F_DUPFD_CLOEXEC, 3); /* for mount_setattr's atime change */
	pthread_mutex_unlock(&h->lock);
	m->idmapped = h->idmapped;
	m->action = h->action;
	snprintf(m->type, sizeof(m->type), "%s", h->type);
	snprintf(m->source, sizeof(m->source), "%s", h->source);
	r = target_addfd(&rq->t, m->fd, -1, flags & FSMOUNT_CLOEXEC, true);
	if (r < 0) {
		newapi_handle_drop(rq->c, m);
		decision_fail(&d, -r,
		              r == -ENOENT ? "caller gave up the request"
		                           : "cannot install the mount: %s",
		              strerror(-r));
		goto out;
	}
	d.answered = true;
	decision_ok(&d, r);
	decision_why(&d, "fd=%d mnt_id=%llu detached locked%s", r, (unsigned long long)mnt_id,
	             m->idmapped ? " idmapped" : "");
out:
	if (claimed && d.err) {
		/* The caller got no mount: the context is not fsmount()ed. */
		pthread_mutex_lock(&h->lock);
		h->mounted = false;
		pthread_mutex_unlock(&h->lock);
	}
	profile_store_put(set);
	newapi_handle_put(rq->c, m);
	newapi_handle_put(rq->c, h);
	return d;
}

/*
 * move_mount's target, as the caller resolves it: to_dfd and to_path
 * (MOVE_MOUNT_T_EMPTY_PATH: to_dfd itself), the last component followed
 * only with MOVE_MOUNT_T_SYMLINKS.  In the caller's view (entered).
 */
static int open_move_target(struct request *rq, int dirfd, int to_dfd, unsigned flags,
                            struct decision *d)
{
	struct open_how how = {
	    .flags = O_PATH | O_CLOEXEC | ((flags & MOVE_MOUNT_T_SYMLINKS) ? 0 : O_NOFOLLOW),
	    .resolve = RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (!rq->target[0])
		return dirfd >= 0 ? fcntl(dirfd, F_DUPFD_CLOEXEC, 3)
		                  : decision_fail(d, ENOENT, "empty target path");
	fd =
	    (int)syscall(SYS_openat2, rq->target[0] == '/' || to_dfd == AT_FDCWD ? AT_FDCWD : dirfd,
	                 rq->target, &how, sizeof(how));
	if (fd < 0)
		return decision_fail(d, errno, "target %s: %s", rq->target, strerror(errno));
	return fd;
}

struct decision newapi_move_mount(struct request *rq)
{
	const struct seccomp_data *a = &rq->notif.data;
	int from_dfd = (int)a->args[0], to_dfd = (int)a->args[2];
	unsigned flags = (unsigned)a->args[4];
	_cleanup_close_ int dirfd = -EBADF, target_fd = -EBADF;
	char from[PATH_MAX];
	struct decision d = {0};
	struct newapi_handle *h;
	struct proc_creds cr;
	uint64_t mnt_id_old = 0;
	struct profile_set *set = NULL;
	const struct profile *p;
	int target_null = 0, r;

	snprintf(rq->flags, sizeof(rq->flags), "0x%x", flags);
	if (!(flags & MOVE_MOUNT_F_EMPTY_PATH))
		return newapi_not_ours("mount"); /* a path: an attached mount, MS_MOVE's case */
	r = target_read_string(&rq->t, a->args[1], from, sizeof(from), NULL);
	if (r == -ENOENT) {
		decision_fail(&d, ENOENT, "caller gave up the request");
		return d;
	}
	if (r < 0 || from[0])
		return newapi_not_ours("mount");
	h = newapi_handle_for(rq, from_dfd, NEWAPI_MOUNT, &d);
	if (!h)
		return d;
	d.action = h->action == PROFILE_ACTION_FUSE ? DECISION_FUSE : DECISION_KERNEL;
	decision_rule(&d, "mount made by notifyd's fsmount");
	snprintf(rq->source, sizeof(rq->source), "%s", h->source);
	if (flags & ~MOVE_MOUNT_KNOWN) {
		decision_fail(&d, EINVAL, "unknown move_mount flags");
		goto out;
	}
	if (flags & (MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_BENEATH)) {
		decision_fail(&d, EINVAL,
		              "MOVE_MOUNT_SET_GROUP/BENEATH of a notifyd mount: not "
		              "emulated");
		goto out;
	}
	r = target_read_string(&rq->t, a->args[3], rq->target, sizeof(rq->target), &target_null);
	if (r < 0 || target_null) {
		decision_fail(&d,
		              r == -ENOENT         ? ENOENT
		              : r == -ENAMETOOLONG ? ENAMETOOLONG
		                                   : EFAULT,
		              "target path is not readable");
		goto out;
	}
	if (mount_check_admin(rq, &cr, &d) < 0)
		goto out;
	/*
	 * As mount(2): the container's mounts are bounded by max-mounts.  This
	 * mount counted from its fsmount on; a profile reloaded with a lower
	 * max-mounts since is honoured here.
	 */
	set = profile_store_get();
	p = set ? profile_set_find(set, rq->c->profile) : NULL;
	if (!p) {
		decision_fail(&d, EPERM, "profile '%s' is not loaded", rq->c->profile);
		goto out;
	}
	if (check_max_mounts(rq, p, 1, &d) < 0)
		goto out;
	if (!rq->target[0] && !(flags & MOVE_MOUNT_T_EMPTY_PATH)) {
		decision_fail(&d, ENOENT, "empty target path");
		goto out;
	}
	if (to_dfd != AT_FDCWD && rq->target[0] != '/') {
		dirfd = target_open_path(&rq->t, to_dfd);
		if (dirfd < 0) {
			decision_fail(&d, dirfd == -ENOENT ? ENOENT : EBADF, "to_dfd %d", to_dfd);
			goto out;
		}
	}
	r = view_enter(rq->t.procfd, 1);
	if (r < 0) {
		decision_fail(&d, -r, "cannot enter the caller's mount namespace: %s",
		              strerror(-r));
		goto out;
	}
	target_fd = open_move_target(rq, dirfd, to_dfd, flags, &d);
	if (target_fd >= 0) {
		if (target_valid(&rq->t) < 0)
			r = decision_fail(&d, ENOENT, "caller gave up before the attach");
		else {
			/* As mount(2)'s attach: a successor records what we attached. */
			inflight_mark(INFLIGHT_MOUNT_ATTACHING, h->mnt_id, 0);
			r = kernel_mount_attach(h->tree_fd, target_fd);
			if (r >= 0)
				inflight_mark(INFLIGHT_MOUNT_ATTACHED, h->mnt_id, 0);
		}
		if (r < 0 && d.err == 0)
			decision_fail(&d, -r, "attaching at %s: %s", rq->target, strerror(-r));
	}
	view_leave();
	if (target_fd < 0 || r < 0)
		goto out;
	if (!rq->target[0] && to_dfd >= 0) {
		/* MOVE_MOUNT_T_EMPTY_PATH: the record and the log name to_dfd's path, as the
		 * caller sees it (its /proc/<tid>/fd link, relative to its root). */
		char link[32];
		ssize_t n;

		snprintf(link, sizeof(link), "fd/%d", to_dfd);
		n = readlinkat(rq->t.procfd, link, rq->target, sizeof(rq->target) - 1);
		rq->target[n > 0 ? n : 0] = '\0';
	}
	/* The mount record owns it from here (made already if a count found it attached). */
	bool recorded = !newapi_handle_drop(rq->c, h);
	/* A FUSE mount: its program serves it now (notifyctl, its exit detaches
	 * it); notifyd's umount knows it by its mountinfo id. */
	if (h->action == PROFILE_ACTION_FUSE &&
	    fuse_daemon_set_target(rq->c, h->tree_fd, h->mnt_id, rq->target, &mnt_id_old) < 0)
		log_warn("%s: the FUSE program of mount %llu is not known any more", rq->c->id,
		         (unsigned long long)h->mnt_id);
	r = recorded
	        ? 0
	        : mount_record_add(rq->c, h->mnt_id, mnt_id_old, h->type, h->source, rq->target);
	if (r < 0) {
		char tbuf[PATH_MAX];
		log_warn("%s: mount at %s made but not recorded: %s", rq->c->id,
		         log_printable(rq->target, tbuf, sizeof(tbuf)), strerror(-r));
	}
	decision_ok(&d, 0);
	decision_why(&d, "mnt_id=%llu locked%s", (unsigned long long)h->mnt_id,
	             h->idmapped ? " idmapped" : "");
out:
	profile_store_put(set);
	newapi_handle_put(rq->c, h);
	return d;
}

/* fspick, open_tree, mount_setattr: the kernel decides with the caller's rights. */
/*
 * mount_setattr(M, "", AT_EMPTY_PATH, attr) on a mount notifyd's fsmount
 * handed out (libmount >= 2.39 sets the mount's VFS flags that way, between
 * fsmount and move_mount).  M's flags are locked, and the kernel locks the
 * access-time flags of such a mount whatever they are (MNT_LOCK_ATIME):
 * an atime change would get EPERM where mount(2)'s "-o noatime" works.  So
 * an atime change is made as the kernel would make it, on a new locked
 * mount of the superblock with the flags M has and the change, which then
 * replaces M under the caller's fd number (SECCOMP_ADDFD_FLAG_SETFD).
 * Everything else -- ro, noexec, nosymfollow, propagation, a refused
 * clearing of nosuid/nodev or an idmap -- the kernel does (or refuses) on M
 * itself: continue.
 */
struct decision newapi_mount_setattr(struct request *rq)
{
	const struct seccomp_data *a = &rq->notif.data;
	int dfd = (int)a->args[0], handed = -EBADF, r;
	unsigned flags = (unsigned)a->args[2];
	size_t usize = (size_t)a->args[4];
	_cleanup_close_ int clone = -EBADF, tree = -EBADF;
	struct decision d = {0};
	struct newapi_handle *m = NULL;
	struct mount_attr ma = {0};
	struct statvfs sv;
	uint64_t mnt_id = 0;
	char path[2];
	unsigned attr;

	snprintf(rq->flags, sizeof(rq->flags), "0x%x", flags);
	if (!(flags & AT_EMPTY_PATH) || usize < MOUNT_ATTR_SIZE_VER0 ||
	    target_read_string(&rq->t, a->args[1], path, sizeof(path), NULL) != 0 || path[0] ||
	    target_read_mem(&rq->t, a->args[3], &ma, MOUNT_ATTR_SIZE_VER0) < 0 ||
	    target_valid(&rq->t) < 0)
		return newapi_not_ours(
		    "mount"); /* not libmount's form, or unreadable: the kernel's answer */
	if (!(ma.attr_clr & MOUNT_ATTR__ATIME) &&
	    !((ma.attr_set | ma.attr_clr) & MOUNT_ATTR_NODIRATIME))
		return newapi_not_ours(
		    "mount's access-time change"); /* nothing locked is changed */
	m = newapi_handle_for(rq, dfd, NEWAPI_MOUNT, &d);
	if (!m)
		return d;
	snprintf(rq->source, sizeof(rq->source), "%s", m->source);
	d.action = m->action == PROFILE_ACTION_FUSE ? DECISION_FUSE : DECISION_KERNEL;
	decision_rule(&d, "mount made by notifyd's fsmount");
	if ((ma.attr_set | ma.attr_clr) & ~(unsigned long long)FSMOUNT_ATTR_KNOWN ||
	    ma.propagation || ma.userns_fd ||
	    (ma.attr_clr & (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)) ||
	    usize > MOUNT_ATTR_SIZE_VER0 || (flags & ~AT_EMPTY_PATH)) {
		/* Anything but plain flags: not emulated, the kernel's own answer on M. */
		newapi_handle_put(rq->c, m);
		return newapi_not_ours("mount's plain flag change");
	}
	switch (ma.attr_set & MOUNT_ATTR__ATIME) {
	case MOUNT_ATTR_RELATIME:
	case MOUNT_ATTR_NOATIME:
	case MOUNT_ATTR_STRICTATIME:
		break;
	default:
		decision_fail(&d, EINVAL, "invalid atime attribute");
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	if (m->tree_fd < 0 || m->sb_fd < 0 || fstatvfs(m->tree_fd, &sv) < 0) {
		pthread_mutex_unlock(&m->lock);
		decision_fail(&d, EINVAL, "the mount is not detached any more");
		goto out;
	}
	/* The flags M has now (the caller may have set ro or noexec itself), then the change. */
	attr = (sv.f_flag & ST_RDONLY ? MOUNT_ATTR_RDONLY : 0) |
	       (sv.f_flag & ST_NOEXEC ? MOUNT_ATTR_NOEXEC : 0) |
	       (sv.f_flag & ST_NOSYMFOLLOW ? MOUNT_ATTR_NOSYMFOLLOW : 0) |
	       (sv.f_flag & ST_NODIRATIME ? MOUNT_ATTR_NODIRATIME : 0) |
	       (sv.f_flag & ST_NOATIME    ? MOUNT_ATTR_NOATIME
	        : sv.f_flag & ST_RELATIME ? MOUNT_ATTR_RELATIME
	                                  : MOUNT_ATTR_STRICTATIME);
	attr = (attr & ~(unsigned)ma.attr_clr) | (unsigned)ma.attr_set;
	clone = (int)syscall(SYS_open_tree, m->sb_fd, "",
	                     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	pthread_mutex_unlock(&m->lock);
	if (clone < 0) {
		decision_fail(&d, errno, "cloning the new mount: %s", strerror(errno));
		goto out;
	}
	handed = lock_and_open(rq, clone, attr & ~(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV), m->action,
	                       &tree, &mnt_id, &d);
	if (handed < 0)
		goto out;
	/* Only if dfd still is M: a thread of the caller may have closed and reused it. */
	if (target_same_file(&rq->t, dfd, m->fd) != 1) {
		safe_close(handed);
		decision_fail(&d, EBADF, "fd %d is not the mount any more", dfd);
		goto out;
	}
	r = target_addfd(&rq->t, handed, dfd, m->cloexec, false);
	if (r < 0) {
		safe_close(handed);
		decision_fail(&d, -r, "cannot replace the mount: %s", strerror(-r));
		goto out;
	}
	pthread_mutex_lock(&m->lock);
	safe_close(m->fd);
	m->fd = handed;
	safe_close(m->tree_fd);
	m->tree_fd = TAKE_FD(tree);
	m->mnt_id = mnt_id;
	pthread_mutex_unlock(&m->lock);
	decision_ok(&d, 0);
	decision_why(&d, "mnt_id=%llu locked with the new access-time flags (replaces fd %d)",
	             (unsigned long long)mnt_id, dfd);
out:
	newapi_handle_put(rq->c, m);
	return d;
}
