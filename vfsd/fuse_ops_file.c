// SPDX-License-Identifier: MIT
/*
 * FUSE operations on open files: OPEN, CREATE, READ, WRITE, RELEASE, FLUSH,
 * FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE (locks: fuse_ops_lock.c).
 *
 * Opening goes through the inode's O_PATH fd (/proc/self/fd/N) and is
 * refused for anything but regular files and directories: opening a device
 * node or FIFO the guest created would act on the host (CVE-2020-35517).
 * READ and WRITE move data with preadv/pwritev straight between the file and
 * the guest's buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vfsd/seccomp.h"
#include "vfsd/fuse_creds.h"
#include "vfsd/fuse_server.h"

#define PUT(ino) vfsd_inode_put(&req->fs->inodes, (ino))

int vfsd_inode_open(struct vfsd_fs *fs, struct vfsd_inode *ino, int flags)
{
	char name[16];
	int fd;

	if (ino->type != S_IFREG && ino->type != S_IFDIR)
		return -EPERM;
	vfsd_fd_name(ino->fd, name);
	flags = (flags & ~O_CREAT) | O_CLOEXEC | O_NOCTTY;
	/*
	 * --readonly promises the host's files stay as they are, atime
	 * included; only the namespace sandbox has a read-only mount to
	 * enforce that, so reads and READDIR go through O_NOATIME fds.
	 * O_NOATIME needs CAP_FOWNER or ownership of the file: without
	 * either (an unprivileged vfsd, --modcaps=-fowner) open normally.
	 */
	if (fs->cfg.readonly) {
		fd = openat(fs->proc_self_fd, name, flags | O_NOATIME);
		if (fd >= 0 || errno != EPERM)
			return fd < 0 ? -errno : fd;
	}
	fd = openat(fs->proc_self_fd, name, flags);
	return fd < 0 ? -errno : fd;
}

/* Open flags from the guest, cleaned of what must not reach the host. */
static int guest_open_flags(struct vfsd_fs *fs, uint32_t flags)
{
	/*
	 * O_NOFOLLOW: the guest resolved the name already, and on our
	 * /proc/self/fd reopen it would make every open fail with ELOOP.
	 */
	int f = (int)flags &
	        ~(O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC | O_PATH | O_TMPFILE | O_NOFOLLOW);

	if (!fs->cfg.allow_direct_io)
		f &= ~O_DIRECT;
	/* With writeback caching the guest may read pages of a write-only file. */
	if (fs->cfg.writeback) {
		if ((f & O_ACCMODE) == O_WRONLY)
			f = (f & ~O_ACCMODE) | O_RDWR;
		f &= ~O_APPEND;
	}
	return f;
}

static bool flags_write(int f)
{
	return (f & O_ACCMODE) != O_RDONLY || (f & O_TRUNC);
}

static uint32_t open_out_flags(struct vfsd_fs *fs)
{
	switch (fs->cfg.cache) {
	case VFSD_CACHE_NEVER:
		return FOPEN_DIRECT_IO;
	case VFSD_CACHE_ALWAYS:
		return FOPEN_KEEP_CACHE;
	default:
		return 0;
	}
}

int vfsd_op_open(struct vfsd_req *req)
{
	const struct fuse_open_in *in = (const void *)req->arg;
	struct fuse_open_out out = {0};
	struct vfsd_inode *ino;
	int f = guest_open_flags(req->fs, in->flags), fd, r;

	if (req->fs->cfg.readonly && flags_write(f))
		return -EROFS;
	ino = vfsd_inode_get(&req->fs->inodes, req->in.nodeid);
	if (!ino)
		return -ESTALE;
	if (ino->type == S_IFREG) {
		/* O_TRUNC by a guest caller without CAP_FSETID (KILLPRIV_V2) */
		bool kill = (in->open_flags & FUSE_OPEN_KILL_SUIDGID) && (f & O_TRUNC) &&
		            vfsd_creds_drop_fsetid();

		fd = vfsd_inode_open(req->fs, ino, f);
		vfsd_creds_restore_fsetid(kill);
	} else {
		fd = -EPERM;
	}
	PUT(ino);
	if (fd < 0)
		return fd;
	r = vfsd_handle_add(&req->fs->handles, fd, false, &out.fh);
	if (r < 0)
		return r;
	out.open_flags = open_out_flags(req->fs);
	r = vfsd_reply(req, &out, sizeof(out));
	if (r < 0)
		vfsd_handle_release(&req->fs->handles, out.fh, false);
	return r;
}

/*
 * CREATE found the name taken (and the guest did not ask for O_EXCL): open
 * it as OPEN would, which means never a device node, FIFO, socket or
 * symlink (CVE-2020-35517).  The name is opened O_PATH, which runs no
 * driver's open and never blocks; its type is checked; then that very inode
 * is reopened through /proc/self/fd, so a name swapped for a FIFO between the
 * check and the open is never opened.  The reopen runs with the caller's
 * fsuid/fsgid: the guest sent CREATE because it believed the name free, so
 * it has not checked the caller's permission on this file.
 * Return: the open fd (entry in *e), -ENOENT when the name vanished again,
 * -EISDIR, -EPERM for anything but a regular file, or another -errno.
 */
static int create_open_existing(struct vfsd_req *req, struct vfsd_inode *dir, const char *name,
                                int f, struct fuse_entry_out *e)
{
	const struct fuse_create_in *in = (const void *)req->arg;
	_cleanup_close_ int path = -EBADF, fd = -EBADF;
	struct vfsd_creds saved;
	struct statx st;
	char fdname[16];
	bool kill;
	int r;

	path = openat(dir->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path < 0)
		return -errno;
	if (statx(path, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE, &st) < 0)
		return -errno;
	if (S_ISDIR(st.stx_mode))
		return -EISDIR;
	if (!S_ISREG(st.stx_mode))
		return -EPERM;
	vfsd_fd_name(path, fdname);
	r = vfsd_req_creds_switch(req, &saved);
	if (r < 0)
		return r;
	kill =
	    (in->open_flags & FUSE_OPEN_KILL_SUIDGID) && (f & O_TRUNC) && vfsd_creds_drop_fsetid();
	fd = openat(req->fs->proc_self_fd, fdname, f | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		r = -errno;
	vfsd_creds_restore_fsetid(kill);
	vfsd_creds_restore(&saved);
	if (r < 0)
		return r;
	r = vfsd_entry_from_fd(req->fs, TAKE_FD(path), dir->mnt_id, e);
	return r < 0 ? r : TAKE_FD(fd);
}

/*
 * A new file with O_CREAT|O_EXCL, which never opens anything that exists;
 * the entry is made from the new file itself, not by looking its name up
 * again.  Return: the open fd (entry in *e) or -errno (-EEXIST: name taken).
 */
static int create_new(struct vfsd_req *req, struct vfsd_inode *dir, const char *name, int f,
                      struct fuse_entry_out *e)
{
	const struct fuse_create_in *in = (const void *)req->arg;
	_cleanup_close_ int fd = -EBADF;
	struct vfsd_creds saved;
	char fdname[16];
	int path, r;

	r = vfsd_req_creds_switch(req, &saved);
	if (r < 0)
		return r;
	fd = openat(dir->fd, name, f | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
	            in->mode & 07777);
	if (fd < 0)
		r = -errno;
	vfsd_creds_restore(&saved);
	if (r < 0)
		return r;
	vfsd_fd_name(fd, fdname);
	path = openat(req->fs->proc_self_fd, fdname, O_PATH | O_CLOEXEC);
	if (path < 0)
		return -errno;
	r = vfsd_entry_from_fd(req->fs, path, dir->mnt_id, e);
	return r < 0 ? r : TAKE_FD(fd);
}

int vfsd_op_create(struct vfsd_req *req)
{
	const struct fuse_create_in *in = (const void *)req->arg;
	size_t off = sizeof(*in);
	const char *name = vfsd_req_str(req, &off);
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out = {0};
	struct vfsd_inode *dir;
	int f = guest_open_flags(req->fs, in->flags), fd = -EEXIST, r;

	if (!name)
		return -EINVAL;
	r = vfsd_name_check(name);
	if (r < 0)
		return r;
	dir = vfsd_inode_get(&req->fs->inodes, req->in.nodeid);
	if (!dir)
		return -ESTALE;
	/*
	 * Without O_EXCL an existing name is opened instead; if it vanishes
	 * between the two attempts, try again (a few times: the host may be
	 * creating and deleting it in a loop).
	 */
	for (int tries = 0; tries < 4 && fd == -EEXIST; tries++) {
		fd = create_new(req, dir, name, f, &out.e);
		if (fd == -EEXIST && !(in->flags & O_EXCL)) {
			fd = create_open_existing(req, dir, name, f, &out.e);
			if (fd == -ENOENT)
				fd = -EEXIST;
		}
		if (in->flags & O_EXCL)
			break;
	}
	vfsd_inode_put(&req->fs->inodes, dir);
	if (fd < 0)
		return fd;
	r = vfsd_handle_add(&req->fs->handles, fd, false, &out.o.fh);
	if (r < 0) {
		vfsd_inode_forget(&req->fs->inodes, out.e.nodeid, 1);
		return r;
	}
	out.o.open_flags = open_out_flags(req->fs);
	r = vfsd_reply(req, &out, sizeof(out));
	if (r < 0) {
		vfsd_handle_release(&req->fs->handles, out.o.fh, false);
		vfsd_inode_forget(&req->fs->inodes, out.e.nodeid, 1);
	}
	return r;
}

/* Writable guest iovecs after the reply header, trimmed to len bytes. */
static unsigned reply_data_iov(struct vfsd_req *req, struct iovec *out, size_t len)
{
	size_t skip = sizeof(struct fuse_out_header), got = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < req->n_wr && got < len; i++) {
		size_t l = req->wr[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		out[n].iov_base = (uint8_t *)req->wr[i].iov_base + skip;
		out[n].iov_len = l - skip < len - got ? l - skip : len - got;
		got += out[n].iov_len;
		n++;
		skip = 0;
	}
	return n;
}

int vfsd_op_read(struct vfsd_req *req)
{
	const struct fuse_read_in *in = (const void *)req->arg;
	struct fuse_out_header oh;
	struct vfsd_handle *h;
	size_t room = req->wr_len - sizeof(oh), want = in->size < room ? in->size : room;
	unsigned n;
	ssize_t got;

	h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	if (!h)
		return -EBADF;
	n = reply_data_iov(req, req->t->iov, want);
	got = n ? preadv(h->fd, req->t->iov, (int)n, (off_t)in->offset) : 0;
	vfsd_handle_put(&req->fs->handles, h);
	if (got < 0)
		return -errno;
	/* The data is already in place: only the header is left to write. */
	oh = (struct fuse_out_header){.len = (uint32_t)(sizeof(oh) + (size_t)got),
	                              .unique = req->in.unique};
	{
		size_t done = 0;

		for (unsigned i = 0; i < req->n_wr && done < sizeof(oh); i++) {
			size_t c = req->wr[i].iov_len < sizeof(oh) - done ? req->wr[i].iov_len
			                                                  : sizeof(oh) - done;
			memcpy(req->wr[i].iov_base, (uint8_t *)&oh + done, c);
			done += c;
		}
	}
	req->out_len = oh.len;
	req->replied = true;
	return 0;
}

int vfsd_op_write(struct vfsd_req *req)
{
	const struct fuse_write_in *in = (const void *)req->arg;
	struct fuse_write_out out = {0};
	struct vfsd_handle *h;
	ssize_t n = 0;

	h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	if (!h)
		return -EBADF;
	if (req->n_data) {
		bool kill = (in->write_flags & FUSE_WRITE_KILL_SUIDGID) && vfsd_creds_drop_fsetid();

		n = pwritev(h->fd, req->data, (int)req->n_data, (off_t)in->offset);
		if (n < 0)
			n = -errno;
		vfsd_creds_restore_fsetid(kill);
	}
	vfsd_handle_put(&req->fs->handles, h);
	if (n < 0)
		return (int)n;
	out.size = (uint32_t)n;
	return vfsd_reply(req, &out, sizeof(out));
}

int vfsd_op_release(struct vfsd_req *req)
{
	const struct fuse_release_in *in = (const void *)req->arg;
	struct vfsd_handle *h;
	int r;

	/* A SETLKW still waiting on this file is answered EINTR. */
	vfsd_locks_release(req->fs, in->fh);
	/*
	 * The guest's last close of a file it flock()ed: unlock now, not when
	 * a READ still in flight on another queue drops the fd.
	 */
	if ((in->release_flags & FUSE_RELEASE_FLOCK_UNLOCK) &&
	    (h = vfsd_handle_get(&req->fs->handles, in->fh, false))) {
		(void)flock(h->fd, LOCK_UN);
		vfsd_handle_put(&req->fs->handles, h);
	}
	r = vfsd_handle_release(&req->fs->handles, in->fh, false);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_flush(struct vfsd_req *req)
{
	const struct fuse_flush_in *in = (const void *)req->arg;
	struct vfsd_handle *h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	int fd, r = 0;

	if (!h)
		return -EBADF;
	/* Closing a duplicate gives the file system its close-time semantics. */
	fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || close(fd) < 0)
		r = -errno;
	/* A close() drops the closing process's POSIX locks on the file. */
	vfsd_locks_flush(req->fs, h->fd, in->lock_owner);
	vfsd_handle_put(&req->fs->handles, h);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_fsync(struct vfsd_req *req)
{
	const struct fuse_fsync_in *in = (const void *)req->arg;
	struct vfsd_handle *h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	int r = 0;

	if (!h)
		return -EBADF;
	if (((in->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd)) < 0)
		r = -errno;
	vfsd_handle_put(&req->fs->handles, h);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_fallocate(struct vfsd_req *req)
{
	const struct fuse_fallocate_in *in = (const void *)req->arg;
	struct vfsd_handle *h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	int r = 0;

	if (!h)
		return -EBADF;
	if (fallocate(h->fd, (int)in->mode, (off_t)in->offset, (off_t)in->length) < 0)
		r = -errno;
	vfsd_handle_put(&req->fs->handles, h);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_lseek(struct vfsd_req *req)
{
	const struct fuse_lseek_in *in = (const void *)req->arg;
	struct fuse_lseek_out out = {0};
	struct vfsd_handle *h;
	off_t o;

	if (in->whence != SEEK_DATA && in->whence != SEEK_HOLE)
		return -EINVAL;
	h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	if (!h)
		return -EBADF;
	o = lseek(h->fd, (off_t)in->offset, (int)in->whence);
	vfsd_handle_put(&req->fs->handles, h);
	if (o < 0)
		return -errno;
	out.offset = (uint64_t)o;
	return vfsd_reply(req, &out, sizeof(out));
}

int vfsd_op_copy_file_range(struct vfsd_req *req)
{
	const struct fuse_copy_file_range_in *in = (const void *)req->arg;
	struct fuse_write_out out = {0};
	struct vfsd_handle *a, *b;
	loff_t oi = (loff_t)in->off_in, oo = (loff_t)in->off_out;
	ssize_t n = -1;
	int r = 0;

	a = vfsd_handle_get(&req->fs->handles, in->fh_in, false);
	b = vfsd_handle_get(&req->fs->handles, in->fh_out, false);
	if (!a || !b)
		r = -EBADF;
	else if ((n = copy_file_range(a->fd, &oi, b->fd, &oo, in->len, (unsigned)in->flags)) < 0)
		r = -errno;
	vfsd_handle_put(&req->fs->handles, a);
	vfsd_handle_put(&req->fs->handles, b);
	if (r < 0)
		return r;
	out.size = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
	return vfsd_reply(req, &out, sizeof(out));
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_fuse_file[] = {
    "openat",   "preadv", "pwritev",   "preadv2",   "pwritev2", "pread64",
    "pwrite64", "fsync",  "fdatasync", "fallocate", "lseek",    "copy_file_range",
    "fcntl",    "flock",  "close",     NULL,
};
