// SPDX-License-Identifier: MIT
/*
 * FUSE extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * O_PATH fds do not take f*xattr calls, so the path variants are used on
 * "/proc/self/fd/N" relative to our procfs handle: each queue thread has its
 * own cwd (unshare(CLONE_FS) at thread start) and fchdir()s there.  Opening
 * the file instead would not work for symlinks and special files.  Without
 * --xattr every call answers ENOSYS, which the guest caches.
 */
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "vfsd/seccomp.h"
#include "vfsd/fuse_server.h"

/* fchdir to /proc/self/fd and fill the name of ino there. */
static int xattr_prepare(struct vfsd_req *req, struct vfsd_inode **ret, char name[16])
{
	struct vfsd_inode *ino = NULL;

	if (!req->fs->cfg.xattr)
		return -ENOSYS;
	ino = vfsd_inode_get(&req->fs->inodes, req->in.nodeid);
	if (!ino)
		return -ESTALE;
	if (fchdir(req->fs->proc_self_fd) < 0) {
		int r = -errno;

		vfsd_inode_put(&req->fs->inodes, ino);
		return r;
	}
	vfsd_fd_name(ino->fd, name);
	*ret = ino;
	return 0;
}

int vfsd_op_setxattr(struct vfsd_req *req)
{
	const struct fuse_setxattr_in *in = (const void *)req->arg;
	size_t off = FUSE_COMPAT_SETXATTR_IN_SIZE;
	const char *xname = vfsd_req_str(req, &off);
	struct vfsd_inode *ino = NULL;
	char name[16];
	int r;

	if (!xname || in->size > req->arglen - off)
		return -EINVAL;
	r = xattr_prepare(req, &ino, name);
	if (r < 0)
		return r;
	if (setxattr(name, xname, req->arg + off, in->size, (int)in->flags) < 0)
		r = -errno;
	vfsd_inode_put(&req->fs->inodes, ino);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

/* GETXATTR and LISTXATTR: size 0 asks for the length only. */
static int reply_sized(struct vfsd_req *req, uint32_t size, ssize_t n, const void *buf)
{
	if (n < 0)
		return -errno;
	if (size == 0) {
		struct fuse_getxattr_out out = {.size = (uint32_t)n};

		return vfsd_reply(req, &out, sizeof(out));
	}
	if ((size_t)n > size)
		return -ERANGE;
	return vfsd_reply(req, buf, (size_t)n);
}

int vfsd_op_getxattr(struct vfsd_req *req)
{
	const struct fuse_getxattr_in *in = (const void *)req->arg;
	size_t off = sizeof(*in);
	const char *xname = vfsd_req_str(req, &off);
	size_t cap = in->size < VFSD_FUSE_ARG_MAX ? in->size : VFSD_FUSE_ARG_MAX;
	struct vfsd_inode *ino = NULL;
	char name[16];
	ssize_t n;
	int r;

	if (!xname)
		return -EINVAL;
	r = xattr_prepare(req, &ino, name);
	if (r < 0)
		return r;
	n = getxattr(name, xname, in->size ? req->t->outbuf : NULL, in->size ? cap : 0);
	r = reply_sized(req, in->size, n, req->t->outbuf);
	vfsd_inode_put(&req->fs->inodes, ino);
	return r;
}

int vfsd_op_listxattr(struct vfsd_req *req)
{
	const struct fuse_getxattr_in *in = (const void *)req->arg;
	size_t cap = in->size < VFSD_FUSE_ARG_MAX ? in->size : VFSD_FUSE_ARG_MAX;
	struct vfsd_inode *ino = NULL;
	char name[16];
	ssize_t n;
	int r;

	r = xattr_prepare(req, &ino, name);
	if (r < 0)
		return r;
	n = listxattr(name, in->size ? (char *)req->t->outbuf : NULL, in->size ? cap : 0);
	r = reply_sized(req, in->size, n, req->t->outbuf);
	vfsd_inode_put(&req->fs->inodes, ino);
	return r;
}

int vfsd_op_removexattr(struct vfsd_req *req)
{
	size_t off = 0;
	const char *xname = vfsd_req_str(req, &off);
	struct vfsd_inode *ino = NULL;
	char name[16];
	int r;

	if (!xname)
		return -EINVAL;
	r = xattr_prepare(req, &ino, name);
	if (r < 0)
		return r;
	if (removexattr(name, xname) < 0)
		r = -errno;
	vfsd_inode_put(&req->fs->inodes, ino);
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_fuse_xattr[] = {
    "fchdir",    "getxattr",  "setxattr",   "listxattr",    "removexattr",
    "lgetxattr", "lsetxattr", "llistxattr", "lremovexattr", NULL,
};
