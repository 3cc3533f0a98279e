// SPDX-License-Identifier: MIT
/*
 * FUSE operations on names and attributes: LOOKUP, FORGET, GETATTR, SETATTR,
 * READLINK, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME(2), LINK, STATFS,
 * ACCESS.
 *
 * Path safety: the guest only ever names one component relative to an inode
 * it was given; names with '/' are refused, "." and ".." only LOOKUP takes,
 * ".." of the shared root is the root and any other ".." is checked to lie
 * inside the share (dir_in_share()), and nothing is ever followed on the
 * host (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, or the inode's own fd), so symlinks
 * in the share are resolved by the guest, inside the guest.  Inodes are
 * O_PATH fds; a file is opened only by vfsd_inode_open() (OPEN, OPENDIR,
 * SETATTR of the size, SYNCFS), which refuses all but regular files and
 * directories, and by CREATE (fuse_ops_file.c), which does the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vfsd/seccomp.h"
#include "vfsd/fuse_creds.h"
#include "vfsd/fuse_server.h"

#define STATX_WANT (STATX_BASIC_STATS | STATX_MNT_ID)
/* Deepest directory dir_in_share() walks up from (PATH_MAX / 2 components). */
#define VFSD_MAX_DEPTH 2048

int vfsd_inode_statx(struct vfsd_inode *ino, struct statx *st)
{
	if (statx(ino->fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_WANT, st) < 0)
		return -errno;
	return 0;
}

void vfsd_fill_attr(const struct vfsd_fs *fs, struct fuse_attr *a, const struct statx *st)
{
	*a = (struct fuse_attr){
	    .ino = st->stx_ino,
	    .size = st->stx_size,
	    .blocks = st->stx_blocks,
	    .atime = (uint64_t)st->stx_atime.tv_sec,
	    .mtime = (uint64_t)st->stx_mtime.tv_sec,
	    .ctime = (uint64_t)st->stx_ctime.tv_sec,
	    .atimensec = st->stx_atime.tv_nsec,
	    .mtimensec = st->stx_mtime.tv_nsec,
	    .ctimensec = st->stx_ctime.tv_nsec,
	    .mode = st->stx_mode,
	    .nlink = st->stx_nlink,
	    .uid = vfsd_idmap_to_guest(fs->cfg.uid_map, st->stx_uid),
	    .gid = vfsd_idmap_to_guest(fs->cfg.gid_map, st->stx_gid),
	    .rdev = (uint32_t)makedev(st->stx_rdev_major, st->stx_rdev_minor),
	    .blksize = st->stx_blksize,
	};
}

static void fill_entry(struct vfsd_fs *fs, struct fuse_entry_out *e, struct vfsd_inode *ino,
                       const struct statx *st, uint64_t parent_mnt)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = ino->nodeid;
	e->generation = ino->generation;
	e->entry_valid = fs->timeout;
	e->attr_valid = fs->timeout;
	vfsd_fill_attr(fs, &e->attr, st);
	/* A directory on another mount: let the guest give it its own st_dev. */
	if ((fs->flags & FUSE_SUBMOUNTS) && S_ISDIR(st->stx_mode) && st->stx_mnt_id != parent_mnt)
		e->attr.flags |= FUSE_ATTR_SUBMOUNT;
}

int vfsd_entry_from_fd(struct vfsd_fs *fs, int fd, uint64_t parent_mnt, struct fuse_entry_out *e)
{
	struct vfsd_inode *ino;
	struct statx st;
	int r;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_WANT, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = vfsd_inode_insert(&fs->inodes, fd, &st, &ino);
	if (r < 0)
		return r;
	fill_entry(fs, e, ino, &st, parent_mnt);
	vfsd_inode_put(&fs->inodes, ino);
	return 0;
}

/*
 * Is the directory behind @fd (O_PATH) inside the share?  Walks up with ".."
 * until it meets the shared root (yes) or a directory that is its own
 * parent, the root of vfsd's file-system view (no).  Needed because a host
 * process may move a directory the guest holds out of the share: with the
 * chroot and none sandboxes nothing in the kernel then stops ".." of that
 * directory from climbing to the host's "/" (the namespace sandbox's bind
 * mount does: ENOENT).  Return: 0 inside, -ENOENT outside, other -errno.
 */
static int dir_in_share(struct vfsd_fs *fs, int fd)
{
	const struct vfsd_inode *root = fs->inodes.root; /* never freed */
	_cleanup_close_ int cur = -EBADF;
	struct statx st;
	uint64_t prev_ino = 0, prev_dev = 0, prev_mnt = 0;

	for (unsigned depth = 0; depth < VFSD_MAX_DEPTH; depth++) {
		int at = cur >= 0 ? cur : fd, up;
		uint64_t dev;

		if (statx(at, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
		          STATX_TYPE | STATX_INO | STATX_MNT_ID, &st) < 0)
			return -errno;
		dev = makedev(st.stx_dev_major, st.stx_dev_minor);
		if (st.stx_ino == root->ino && dev == root->dev && st.stx_mnt_id == root->mnt_id)
			return 0;
		/* ".." of the top of our view is itself: we got there without the root. */
		if (depth > 0 && st.stx_ino == prev_ino && dev == prev_dev &&
		    st.stx_mnt_id == prev_mnt)
			return -ENOENT;
		prev_ino = st.stx_ino;
		prev_dev = dev;
		prev_mnt = st.stx_mnt_id;
		up = openat(at, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			return -errno;
		safe_close(cur);
		cur = up;
	}
	return -ELOOP;
}

/*
 * A name's entry when it probably names an inode the table knows: one statx
 * of the name (never followed, no automount), and if the table has that
 * (st_ino, st_dev, mnt_id) with an fd pinning it, that is the answer — the
 * attributes are the name's at the moment of the statx, as the open-then-
 * statx they replace would give.  Otherwise the name is opened O_PATH and
 * the fd's own statx makes the entry, so a name replaced after the probe
 * yields the file actually opened.  Return: 0 or -errno.
 */
/* A checked name's entry from the file it names now, opened O_PATH (never followed). */
static int lookup_open(struct vfsd_fs *fs, struct vfsd_inode *parent, const char *name,
                       struct fuse_entry_out *e)
{
	int fd = openat(parent->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return vfsd_entry_from_fd(fs, fd, parent->mnt_id, e);
}

static int lookup_known(struct vfsd_fs *fs, struct vfsd_inode *parent, const char *name,
                        struct fuse_entry_out *e)
{
	struct vfsd_inode *ino;
	struct statx st;

	if (statx(parent->fd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_WANT, &st) < 0)
		return -errno;
	ino = vfsd_inode_find(&fs->inodes, &st);
	if (!ino)
		return lookup_open(fs, parent, name, e);
	fill_entry(fs, e, ino, &st, parent->mnt_id);
	vfsd_inode_put(&fs->inodes, ino);
	return 0;
}

int vfsd_do_lookup_new(struct vfsd_fs *fs, struct vfsd_inode *parent, const char *name,
                       struct fuse_entry_out *e)
{
	int r = vfsd_name_check(name);

	return r < 0 ? r : lookup_open(fs, parent, name, e);
}

int vfsd_do_lookup(struct vfsd_fs *fs, struct vfsd_inode *parent, const char *name,
                   struct fuse_entry_out *e)
{
	int fd, r;

	if (strcmp(name, ".") == 0 || (strcmp(name, "..") == 0 && parent->nodeid == VFSD_ROOT_ID)) {
		fd = openat(parent->fd, ".", O_PATH | O_CLOEXEC);
	} else if (strcmp(name, "..") == 0) {
		fd = openat(parent->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0 && (r = dir_in_share(fs, fd)) < 0) {
			close(fd);
			return r;
		}
	} else if ((r = vfsd_name_check(name)) < 0) {
		return r;
	} else {
		return lookup_known(fs, parent, name, e);
	}
	if (fd < 0)
		return -errno;
	return vfsd_entry_from_fd(fs, fd, parent->mnt_id, e);
}

/* Inode named by the request's node id, with a reference. */
static struct vfsd_inode *req_inode(struct vfsd_req *req, uint64_t nodeid)
{
	return vfsd_inode_get(&req->fs->inodes, nodeid);
}

#define PUT(ino) vfsd_inode_put(&req->fs->inodes, (ino))

/* Send an entry; if the guest never receives it, drop the lookup it would have counted. */
static int reply_entry(struct vfsd_req *req, const struct fuse_entry_out *e)
{
	int r = vfsd_reply(req, e, sizeof(*e));

	if (r < 0)
		vfsd_inode_forget(&req->fs->inodes, e->nodeid, 1);
	return r;
}

int vfsd_op_lookup(struct vfsd_req *req)
{
	size_t off = 0;
	const char *name = vfsd_req_str(req, &off);
	struct vfsd_inode *dir;
	struct fuse_entry_out e;
	int r;

	if (!name)
		return -EINVAL;
	dir = req_inode(req, req->in.nodeid);
	if (!dir)
		return -ESTALE;
	r = vfsd_do_lookup(req->fs, dir, name, &e);
	PUT(dir);
	if (r < 0)
		return r;
	return reply_entry(req, &e);
}

int vfsd_op_forget(struct vfsd_req *req)
{
	const struct fuse_forget_in *in = (const void *)req->arg;

	vfsd_inode_forget(&req->fs->inodes, req->in.nodeid, in->nlookup);
	return 0;
}

int vfsd_op_batch_forget(struct vfsd_req *req)
{
	const struct fuse_batch_forget_in *in = (const void *)req->arg;
	const struct fuse_forget_one *one = (const void *)(in + 1);

	if (in->count > (req->arglen - sizeof(*in)) / sizeof(*one))
		return -EINVAL;
	for (uint32_t i = 0; i < in->count; i++) {
		struct fuse_forget_one f;

		memcpy(&f, &one[i], sizeof(f));
		vfsd_inode_forget(&req->fs->inodes, f.nodeid, f.nlookup);
	}
	return 0;
}

static int reply_attr(struct vfsd_req *req, struct vfsd_inode *ino)
{
	struct fuse_attr_out out = {0};
	struct statx st;
	int r = vfsd_inode_statx(ino, &st);

	if (r < 0)
		return r;
	out.attr_valid = req->fs->timeout;
	vfsd_fill_attr(req->fs, &out.attr, &st);
	return vfsd_reply(req, &out, sizeof(out));
}

int vfsd_op_getattr(struct vfsd_req *req)
{
	struct vfsd_inode *ino = req_inode(req, req->in.nodeid);
	int r;

	if (!ino)
		return -ESTALE;
	r = reply_attr(req, ino);
	PUT(ino);
	return r;
}

/* The attributes a SETATTR can change (not FATTR_FH, FATTR_LOCKOWNER, the kill flag). */
#define SETATTR_WHAT                                                                               \
	(FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE | FATTR_ATIME | FATTR_MTIME |             \
	 FATTR_ATIME_NOW | FATTR_MTIME_NOW | FATTR_CTIME)

static int setattr_inode(struct vfsd_req *req, struct vfsd_inode *ino,
                         const struct fuse_setattr_in *in)
{
	struct vfsd_fs *fs = req->fs;
	struct vfsd_handle *h = NULL;
	uint32_t uid = (uint32_t)-1, gid = (uint32_t)-1;
	char name[16];
	bool kill;
	int r = 0;

	/* The new owner in host ids; a forbidden one changes nothing at all. */
	if ((in->valid & FATTR_UID) && vfsd_idmap_to_host(fs->cfg.uid_map, in->uid, &uid) < 0)
		return -EPERM;
	if ((in->valid & FATTR_GID) && vfsd_idmap_to_host(fs->cfg.gid_map, in->gid, &gid) < 0)
		return -EPERM;
	if (in->valid & FATTR_FH) {
		h = vfsd_handle_get(&fs->handles, in->fh, false);
		if (!h)
			return -EBADF;
	}
	vfsd_fd_name(ino->fd, name);
	/*
	 * Chown and truncate by a guest caller without CAP_FSETID must clear
	 * setuid/setgid (KILLPRIV_V2): run them without it, the kernel does it.
	 */
	kill =
	    (in->valid & FATTR_KILL_SUIDGID) && (in->valid & (FATTR_UID | FATTR_GID | FATTR_SIZE));
	if (in->valid & FATTR_MODE) {
		if (h ? fchmod(h->fd, in->mode) : fchmodat(fs->proc_self_fd, name, in->mode, 0))
			r = -errno;
	}
	if (kill && r >= 0)
		kill = vfsd_creds_drop_fsetid();
	if (r >= 0 && (in->valid & (FATTR_UID | FATTR_GID))) {
		if (fchownat(ino->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	} else if (r >= 0 && (fs->flags & FUSE_HANDLE_KILLPRIV_V2) && !(in->valid & SETATTR_WHAT)) {
		/*
		 * chown(f, -1, -1): with KILLPRIV_V2 the guest sends no owner and
		 * no kill flag, nothing at all (a utimensat that changes nothing
		 * never leaves the guest's VFS), yet on the host it clears
		 * setuid/setgid: do the same chown.  The same empty SETATTR is the
		 * guest's file_remove_privs() before a write or fallocate by
		 * another uid, which must clear the bits whoever the caller is:
		 * so it runs as vfsd, not with the caller's fsuid.
		 */
		if (fchownat(ino->fd, "", (uid_t)-1, (gid_t)-1,
		             AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			r = -errno;
	}
	if (r >= 0 && (in->valid & FATTR_SIZE)) {
		if (h) {
			if (ftruncate(h->fd, (off_t)in->size) < 0)
				r = -errno;
		} else {
			_cleanup_close_ int fd = vfsd_inode_open(fs, ino, O_WRONLY);

			if (fd < 0)
				r = fd;
			else if (ftruncate(fd, (off_t)in->size) < 0)
				r = -errno;
		}
	}
	vfsd_creds_restore_fsetid(kill);
	if (r >= 0 && (in->valid & (FATTR_ATIME | FATTR_MTIME))) {
		struct timespec ts[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_nsec = UTIME_OMIT}};

		if (in->valid & FATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (in->valid & FATTR_ATIME)
			ts[0] = (struct timespec){(time_t)in->atime, in->atimensec};
		if (in->valid & FATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (in->valid & FATTR_MTIME)
			ts[1] = (struct timespec){(time_t)in->mtime, in->mtimensec};
		/*
		 * A symlink's own times: the kernel takes its O_PATH fd with
		 * AT_EMPTY_PATH (never followed); the /proc path would follow it.
		 */
		if (ino->type == S_IFLNK) {
			if (utimensat(ino->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
				r = -errno;
		} else if (h ? futimens(h->fd, ts) : utimensat(fs->proc_self_fd, name, ts, 0)) {
			r = -errno;
		}
	}
	vfsd_handle_put(&fs->handles, h);
	return r;
}

int vfsd_op_setattr(struct vfsd_req *req)
{
	const struct fuse_setattr_in *in = (const void *)req->arg;
	struct vfsd_inode *ino = req_inode(req, req->in.nodeid);
	int r;

	if (!ino)
		return -ESTALE;
	r = setattr_inode(req, ino, in);
	if (r >= 0)
		r = reply_attr(req, ino);
	PUT(ino);
	return r;
}

int vfsd_op_readlink(struct vfsd_req *req)
{
	struct vfsd_inode *ino = req_inode(req, req->in.nodeid);
	char *buf = (char *)req->t->outbuf;
	ssize_t n;
	int r;

	if (!ino)
		return -ESTALE;
	n = readlinkat(ino->fd, "", buf, 4096);
	r = n < 0 ? -errno : vfsd_reply(req, buf, (size_t)n);
	PUT(ino);
	return r;
}

/* The creating ops: run with the guest caller's fsuid/fsgid, then look up. */
enum mk_kind { MK_NOD, MK_DIR, MK_SYMLINK };

static int make_node(struct vfsd_req *req, enum mk_kind kind, const char *name, mode_t mode,
                     dev_t rdev, const char *target)
{
	struct vfsd_inode *dir;
	struct fuse_entry_out e;
	struct vfsd_creds saved;
	int r;

	r = vfsd_name_check(name);
	if (r < 0)
		return r;
	dir = req_inode(req, req->in.nodeid);
	if (!dir)
		return -ESTALE;
	r = vfsd_req_creds_switch(req, &saved);
	if (r >= 0) {
		switch (kind) {
		case MK_NOD:
			r = mknodat(dir->fd, name, mode, rdev);
			break;
		case MK_DIR:
			r = mkdirat(dir->fd, name, mode);
			break;
		case MK_SYMLINK:
			r = symlinkat(target, dir->fd, name);
			break;
		}
		if (r < 0)
			r = -errno;
		vfsd_creds_restore(&saved);
	}
	if (r >= 0)
		r = vfsd_do_lookup_new(req->fs, dir, name, &e);
	PUT(dir);
	if (r < 0)
		return r;
	return reply_entry(req, &e);
}

int vfsd_op_mknod(struct vfsd_req *req)
{
	const struct fuse_mknod_in *in = (const void *)req->arg;
	size_t off = sizeof(*in);
	const char *name = vfsd_req_str(req, &off);

	if (!name)
		return -EINVAL;
	return make_node(req, MK_NOD, name, in->mode, in->rdev, NULL);
}

int vfsd_op_mkdir(struct vfsd_req *req)
{
	const struct fuse_mkdir_in *in = (const void *)req->arg;
	size_t off = sizeof(*in);
	const char *name = vfsd_req_str(req, &off);

	if (!name)
		return -EINVAL;
	return make_node(req, MK_DIR, name, in->mode, 0, NULL);
}

int vfsd_op_symlink(struct vfsd_req *req)
{
	size_t off = 0;
	const char *name = vfsd_req_str(req, &off);
	const char *target = name ? vfsd_req_str(req, &off) : NULL;

	if (!target || !*target)
		return -EINVAL;
	return make_node(req, MK_SYMLINK, name, 0, 0, target);
}

static int remove_entry(struct vfsd_req *req, int flags)
{
	size_t off = 0;
	const char *name = vfsd_req_str(req, &off);
	struct vfsd_inode *dir;
	int r = 0;

	if (!name)
		return -EINVAL;
	r = vfsd_name_check(name);
	if (r < 0)
		return r;
	dir = req_inode(req, req->in.nodeid);
	if (!dir)
		return -ESTALE;
	if (unlinkat(dir->fd, name, flags) < 0)
		r = -errno;
	PUT(dir);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_unlink(struct vfsd_req *req)
{
	return remove_entry(req, 0);
}

int vfsd_op_rmdir(struct vfsd_req *req)
{
	return remove_entry(req, AT_REMOVEDIR);
}

static int do_rename(struct vfsd_req *req, uint64_t newdir_id, unsigned flags, size_t off)
{
	const char *old = vfsd_req_str(req, &off);
	const char *new = old ? vfsd_req_str(req, &off) : NULL;
	struct vfsd_inode *a, *b;
	int r = 0;

	if (!new)
		return -EINVAL;
	r = vfsd_name_check(old);
	if (r >= 0)
		r = vfsd_name_check(new);
	if (r < 0)
		return r;
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
		return -EINVAL;
	a = req_inode(req, req->in.nodeid);
	b = req_inode(req, newdir_id);
	if (!a || !b) {
		r = -ESTALE;
	} else if (flags & RENAME_WHITEOUT) {
		/* The whiteout left behind is a new node: the guest caller's, like make_node()'s.
		 */
		struct vfsd_creds saved;

		r = vfsd_req_creds_switch(req, &saved);
		if (r >= 0) {
			if (renameat2(a->fd, old, b->fd, new, flags) < 0)
				r = -errno;
			vfsd_creds_restore(&saved);
		}
	} else if (renameat2(a->fd, old, b->fd, new, flags) < 0) {
		r = -errno;
	}
	PUT(a);
	PUT(b);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_rename(struct vfsd_req *req)
{
	const struct fuse_rename_in *in = (const void *)req->arg;

	return do_rename(req, in->newdir, 0, sizeof(*in));
}

int vfsd_op_rename2(struct vfsd_req *req)
{
	const struct fuse_rename2_in *in = (const void *)req->arg;

	return do_rename(req, in->newdir, in->flags, sizeof(*in));
}

int vfsd_op_link(struct vfsd_req *req)
{
	const struct fuse_link_in *in = (const void *)req->arg;
	size_t off = sizeof(*in);
	const char *name = vfsd_req_str(req, &off);
	struct vfsd_inode *src, *dir;
	struct fuse_entry_out e;
	char fdname[16];
	int r = 0;

	if (!name)
		return -EINVAL;
	r = vfsd_name_check(name);
	if (r < 0)
		return r;
	src = req_inode(req, in->oldnodeid);
	dir = req_inode(req, req->in.nodeid);
	if (!src || !dir) {
		r = -ESTALE;
	} else if (src->type == S_IFDIR) {
		r = -EPERM;
	} else {
		/* Through /proc/self/fd: AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH. */
		vfsd_fd_name(src->fd, fdname);
		if (linkat(req->fs->proc_self_fd, fdname, dir->fd, name, AT_SYMLINK_FOLLOW) < 0)
			r = -errno;
	}
	if (r >= 0)
		r = vfsd_do_lookup(req->fs, dir, name, &e);
	PUT(src);
	PUT(dir);
	if (r < 0)
		return r;
	return reply_entry(req, &e);
}

int vfsd_op_statfs(struct vfsd_req *req)
{
	struct vfsd_inode *ino = req_inode(req, req->in.nodeid);
	struct fuse_statfs_out out = {0};
	struct statfs sf;
	int r = 0;

	if (!ino)
		return -ESTALE;
	if (fstatfs(ino->fd, &sf) < 0)
		r = -errno;
	PUT(ino);
	if (r < 0)
		return r;
	out.st = (struct fuse_kstatfs){
	    .blocks = sf.f_blocks,
	    .bfree = sf.f_bfree,
	    .bavail = sf.f_bavail,
	    .files = sf.f_files,
	    .ffree = sf.f_ffree,
	    .bsize = (uint32_t)sf.f_bsize,
	    .namelen = (uint32_t)sf.f_namelen,
	    .frsize = (uint32_t)sf.f_frsize,
	};
	return vfsd_reply(req, &out, sizeof(out));
}

/*
 * ACCESS with --translate-uid/gid, checked as the Rust virtiofsd does: the
 * guest caller's ids against the owner the guest is shown, and the mode bits.
 * Switching to the translated host ids and asking the kernel instead would
 * answer EPERM for a forbid-guest id, which the Rust virtiofsd does only for
 * requests that create files or change their owner, and would deny the
 * guest's root what a host root owns (an fsuid other than 0 has no
 * CAP_DAC_OVERRIDE).  Guest root may read and write anything and execute what
 * has an x bit.  Return: 0, -EACCES or another -errno.
 */
static int access_translated(struct vfsd_req *req, struct vfsd_inode *ino, uint32_t mask)
{
	const struct vfsd_fs_config *cfg = &req->fs->cfg;
	uint32_t uid = req->in.uid, gid = req->in.gid;
	struct statx st;
	uint32_t owner, group, bits;
	int r = vfsd_inode_statx(ino, &st);

	if (r < 0)
		return r;
	owner = vfsd_idmap_to_guest(cfg->uid_map, st.stx_uid);
	group = vfsd_idmap_to_guest(cfg->gid_map, st.stx_gid);
	/* Permission bits that apply to this caller, as an rwx triple. */
	bits = st.stx_mode & 07;
	if (owner == uid)
		bits |= (st.stx_mode >> 6) & 07;
	if (group == gid)
		bits |= (st.stx_mode >> 3) & 07;
	if (uid == 0)
		bits |= R_OK | W_OK | ((st.stx_mode & 0111) ? X_OK : 0);
	return (mask & 7 & ~bits) ? -EACCES : 0;
}

int vfsd_op_access(struct vfsd_req *req)
{
	const struct fuse_access_in *in = (const void *)req->arg;
	struct vfsd_inode *ino = req_inode(req, req->in.nodeid);
	struct vfsd_creds saved;
	char name[16];
	int r;

	if (!ino)
		return -ESTALE;
	if ((in->mask & W_OK) && req->fs->cfg.readonly) {
		PUT(ino);
		return -EROFS;
	}
	if (vfsd_idmap_active(req->fs->cfg.uid_map) || vfsd_idmap_active(req->fs->cfg.gid_map)) {
		r = access_translated(req, ino, in->mask);
		PUT(ino);
		return r < 0 ? r : vfsd_reply(req, NULL, 0);
	}
	vfsd_fd_name(ino->fd, name);
	r = vfsd_creds_switch(&saved, req->in.uid, req->in.gid);
	if (r >= 0) {
		/* AT_EACCESS: check with the fsuid we just set, not the real uid. */
		if (faccessat(req->fs->proc_self_fd, name, (int)(in->mask & 7), AT_EACCESS) < 0)
			r = -errno;
		vfsd_creds_restore(&saved);
	}
	PUT(ino);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_fuse_entry[] = {
    "openat",    "statx",      "fchmod",  "fchmodat",  "fchownat",   "ftruncate", "utimensat",
    "futimesat", "readlinkat", "mknodat", "mkdirat",   "symlinkat",  "unlinkat",  "renameat2",
    "renameat",  "linkat",     "fstatfs", "faccessat", "faccessat2", NULL,
};
