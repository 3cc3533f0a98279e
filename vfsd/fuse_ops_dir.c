// SPDX-License-Identifier: MIT
/*
 * FUSE directory operations: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR,
 * FSYNCDIR.  Offsets handed to the guest are the d_off cookies of
 * getdents64, so a READDIR at any offset is an lseek away.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vfsd/seccomp.h"
#include "vfsd/fuse_server.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int vfsd_op_opendir(struct vfsd_req *req)
{
	struct fuse_open_out out = {0};
	struct vfsd_inode *ino = vfsd_inode_get(&req->fs->inodes, req->in.nodeid);
	int fd, r;

	if (!ino)
		return -ESTALE;
	fd =
	    ino->type == S_IFDIR ? vfsd_inode_open(req->fs, ino, O_RDONLY | O_DIRECTORY) : -ENOTDIR;
	vfsd_inode_put(&req->fs->inodes, ino);
	if (fd < 0)
		return fd;
	r = vfsd_handle_add(&req->fs->handles, fd, true, &out.fh);
	if (r < 0)
		return r;
	if (req->fs->cfg.cache == VFSD_CACHE_ALWAYS)
		out.open_flags = FOPEN_CACHE_DIR;
	r = vfsd_reply(req, &out, sizeof(out));
	if (r < 0)
		vfsd_handle_release(&req->fs->handles, out.fh, true);
	return r;
}

static int do_readdir(struct vfsd_req *req, bool plus)
{
	const struct fuse_read_in *in = (const void *)req->arg;
	struct vfsd_fs *fs = req->fs;
	struct vfsd_handle *h;
	struct vfsd_inode *dir = NULL;
	uint8_t *out = req->t->outbuf;
	size_t room = req->wr_len - sizeof(struct fuse_out_header), used = 0;
	char buf[16384];
	int r = 0;
	bool full = false;

	if (room > in->size)
		room = in->size;
	if (room > VFSD_FUSE_ARG_MAX)
		room = VFSD_FUSE_ARG_MAX;
	h = vfsd_handle_get(&fs->handles, in->fh, true);
	if (!h)
		return -EBADF;
	if (plus) {
		dir = vfsd_inode_get(&fs->inodes, req->in.nodeid);
		if (!dir) {
			vfsd_handle_put(&fs->handles, h);
			return -ESTALE;
		}
	}
	pthread_mutex_lock(&h->lock);
	if (lseek(h->fd, (off_t)in->offset, SEEK_SET) < 0) {
		r = -errno;
		goto out;
	}
	/*
	 * Read about as many entries as the reply can take: what does not fit is
	 * read again after the next lseek, so a 16 KiB getdents for a 4 KiB
	 * reply would list each entry four times.  A direntplus is ~4 times
	 * larger than a dirent64, a dirent about the same size.
	 */
	size_t want = (plus ? room / 4 : room) + 512;

	if (want > sizeof(buf))
		want = sizeof(buf);
	while (!full) {
		long n = syscall(SYS_getdents64, h->fd, buf, want);

		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		for (long pos = 0; pos < n;) {
			struct linux_dirent64 *d = (void *)(buf + pos);
			size_t nl = strlen(d->d_name);
			size_t base =
			    plus ? sizeof(struct fuse_direntplus) - sizeof(struct fuse_dirent) : 0;
			size_t sz = FUSE_DIRENT_ALIGN(base + FUSE_NAME_OFFSET + nl);
			struct fuse_direntplus dp;

			pos += d->d_reclen;
			if (used + sz > room) {
				full = true;
				break;
			}
			memset(&dp, 0, sizeof(dp));
			if (plus && strcmp(d->d_name, ".") && strcmp(d->d_name, "..")) {
				/*
				 * d_ino says whether the table probably has the
				 * entry: then one statx of the name may do, else
				 * open it at once (see lookup_known()).
				 */
				int lr =
				    vfsd_inode_known(&fs->inodes, d->d_ino, dir->dev, dir->mnt_id)
				        ? vfsd_do_lookup(fs, dir, d->d_name, &dp.entry_out)
				        : vfsd_do_lookup_new(fs, dir, d->d_name, &dp.entry_out);

				/* Raced with an unlink: leave the entry out. */
				if (lr == -ENOENT)
					continue;
				if (lr < 0) {
					r = used ? 0 : lr;
					full = true;
					break;
				}
			}
			dp.dirent.ino = d->d_ino;
			dp.dirent.off = (uint64_t)d->d_off;
			dp.dirent.namelen = (uint32_t)nl;
			dp.dirent.type = d->d_type;
			if (plus) {
				memcpy(out + used, &dp, sizeof(dp));
				memcpy(out + used + sizeof(dp), d->d_name, nl);
			} else {
				memcpy(out + used, &dp.dirent, sizeof(dp.dirent));
				memcpy(out + used + sizeof(dp.dirent), d->d_name, nl);
			}
			memset(out + used + base + FUSE_NAME_OFFSET + nl, 0,
			       sz - (base + FUSE_NAME_OFFSET + nl));
			used += sz;
		}
	}
out:
	pthread_mutex_unlock(&h->lock);
	vfsd_handle_put(&fs->handles, h);
	vfsd_inode_put(&fs->inodes, dir);
	if (r < 0)
		return r;
	return vfsd_reply(req, out, used);
}

int vfsd_op_readdir(struct vfsd_req *req)
{
	return do_readdir(req, false);
}

int vfsd_op_readdirplus(struct vfsd_req *req)
{
	return do_readdir(req, true);
}

int vfsd_op_releasedir(struct vfsd_req *req)
{
	const struct fuse_release_in *in = (const void *)req->arg;
	int r = vfsd_handle_release(&req->fs->handles, in->fh, true);

	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_fsyncdir(struct vfsd_req *req)
{
	const struct fuse_fsync_in *in = (const void *)req->arg;
	struct vfsd_handle *h = vfsd_handle_get(&req->fs->handles, in->fh, true);
	int r = 0;

	if (!h)
		return -EBADF;
	if (((in->fsync_flags & FUSE_FSYNC_FDATASYNC) ? fdatasync(h->fd) : fsync(h->fd)) < 0)
		r = -errno;
	vfsd_handle_put(&req->fs->handles, h);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_fuse_dir[] = {"getdents64", "lseek", "fsync", "fdatasync", NULL};
