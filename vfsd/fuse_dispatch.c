// SPDX-License-Identifier: MIT
/*
 * FUSE request dispatch for virtio-fs.
 *
 * vfsd_fuse_handle() is the one place a request from the guest is checked:
 * the header and arguments are copied out of guest memory (the guest may
 * change them while we work), the length fields are compared with what the
 * chain really holds, the opcode is looked up in a designated-initializer
 * table with one range check, and the argument size is compared with the
 * table's minimum before the handler sees it.  Every request that expects a
 * reply gets exactly one: the handler's, or an error built here.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vfsd/fuse_server.h"
#include "vfsd/vhost_user.h"

/* Copy len bytes starting at byte off of an iovec array into dst. */
static size_t iov_copy_from(const struct iovec *iov, unsigned n, size_t off, void *dst, size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t c = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)dst + done, (uint8_t *)iov[i].iov_base + off, c);
		done += c;
		off = 0;
	}
	return done;
}

static size_t iov_copy_to(const struct iovec *iov, unsigned n, size_t off, const void *src,
                          size_t len)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		size_t c = l - off < len - done ? l - off : len - done;
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)src + done, c);
		done += c;
		off = 0;
	}
	return done;
}

static void write_out_header(struct vfsd_req *req, int err, size_t len)
{
	struct fuse_out_header oh = {
	    .len = (uint32_t)(sizeof(oh) + len),
	    .error = err,
	    .unique = req->in.unique,
	};

	iov_copy_to(req->wr, req->n_wr, 0, &oh, sizeof(oh));
	req->out_len = oh.len;
	req->replied = true;
}

int vfsd_reply(struct vfsd_req *req, const void *data, size_t len)
{
	if (req->replied)
		return -EALREADY;
	if (sizeof(struct fuse_out_header) + len > req->wr_len)
		return -ERANGE; /* caller turns this into an error reply */
	iov_copy_to(req->wr, req->n_wr, sizeof(struct fuse_out_header), data, len);
	write_out_header(req, 0, len);
	return 0;
}

void vfsd_reply_err(struct vfsd_req *req, int err)
{
	if (req->replied || req->wr_len < sizeof(struct fuse_out_header))
		return;
	write_out_header(req, err < 0 ? err : -err, 0);
}

const char *vfsd_req_str(struct vfsd_req *req, size_t *off)
{
	const char *s, *end;

	if (*off >= req->arglen)
		return NULL;
	s = (const char *)req->arg + *off;
	end = memchr(s, '\0', req->arglen - *off);
	if (!end)
		return NULL;
	*off += (size_t)(end - s) + 1;
	return s;
}

int vfsd_name_check(const char *name)
{
	size_t l = strlen(name);

	/* "." and ".." name other directories than an entry would: LOOKUP only. */
	if (l == 0 || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	/* The guest's kernel passes components up to FUSE_NAME_MAX (1024): answer as a host fs. */
	if (l > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

void vfsd_fd_name(int fd, char buf[16])
{
	snprintf(buf, 16, "%d", fd);
}

/* --- session ops ------------------------------------------------------- */

static int op_init(struct vfsd_req *req)
{
	const struct fuse_init_in *in = (const void *)req->arg;
	struct vfsd_fs *fs = req->fs;
	struct fuse_init_out out = {0};
	uint64_t offered, want;
	size_t outlen = sizeof(out);

	if (in->major < 7)
		return -EPROTO;
	out.major = FUSE_KERNEL_VERSION;
	out.minor = FUSE_KERNEL_MINOR_VERSION;
	if (in->major > 7) /* the guest retries with our major */
		return vfsd_reply(req, &out, FUSE_COMPAT_INIT_OUT_SIZE);
	if (in->minor < 31) /* every virtio-fs guest speaks 7.31 or later */
		return -EPROTO;

	offered = in->flags;
	if ((in->flags & FUSE_INIT_EXT) && req->arglen >= sizeof(*in))
		offered |= (uint64_t)in->flags2 << 32;
	want = FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES |
	       FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_INIT_EXT;
	if (fs->cfg.killpriv_v2)
		want |= FUSE_HANDLE_KILLPRIV_V2;
	if (fs->cfg.cache != VFSD_CACHE_NEVER)
		want |= FUSE_AUTO_INVAL_DATA;
	if (fs->cfg.readdirplus)
		want |= FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO;
	if (fs->cfg.writeback)
		want |= FUSE_WRITEBACK_CACHE;
	if (fs->cfg.announce_submounts)
		want |= FUSE_SUBMOUNTS;
	/* Host-shared locks (fuse_ops_lock.c); without them the guest keeps its own. */
	if (fs->cfg.posix_lock)
		want |= FUSE_POSIX_LOCKS;
	if (fs->cfg.flock)
		want |= FUSE_FLOCK_LOCKS;
	/* Only what the guest offered; a new guest starts from scratch. */
	if (__atomic_load_n(&fs->initialized, __ATOMIC_SEQ_CST))
		vfsd_fs_reset(fs);
	fs->flags = offered & want;
	fs->proto_minor = in->minor;
	out.max_readahead = in->max_readahead;
	out.flags = (uint32_t)fs->flags;
	out.flags2 = (uint32_t)(fs->flags >> 32);
	out.max_background = 64;
	out.congestion_threshold = 48;
	out.max_write = VFSD_FUSE_MAX_WRITE;
	out.time_gran = 1;
	out.max_pages = VFSD_FUSE_MAX_WRITE / 4096;
	__atomic_store_n(&fs->initialized, true, __ATOMIC_SEQ_CST);
	log_info("guest FUSE %u.%u initialised, flags 0x%llx", in->major, in->minor,
	         (unsigned long long)fs->flags);
	return vfsd_reply(req, &out, outlen);
}

static int op_destroy(struct vfsd_req *req)
{
	vfsd_fs_reset(req->fs);
	return vfsd_reply(req, NULL, 0);
}

static int op_interrupt(struct vfsd_req *req)
{
	const struct fuse_interrupt_in *in = (const void *)req->arg;

	/* Only a waiting SETLKW outlives its handler; everything else is done. */
	vfsd_locks_interrupt(req->fs, in->unique);
	return 0;
}

static int op_syncfs(struct vfsd_req *req)
{
	_cleanup_close_ int fd = -EBADF;
	struct vfsd_inode *root = vfsd_inode_get(&req->fs->inodes, VFSD_ROOT_ID);
	int r = 0;

	if (!root)
		return -EIO;
	fd = vfsd_inode_open(req->fs, root, O_RDONLY | O_DIRECTORY);
	vfsd_inode_put(&req->fs->inodes, root);
	if (fd < 0)
		return fd;
	if (syncfs(fd) < 0)
		r = -errno;
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

/* --- the table ----------------------------------------------------------- */

struct fuse_op_desc {
	vfsd_fuse_op fn;
	const char *name;
	uint32_t min_in; /* argument bytes after fuse_in_header */
	bool noreply;    /* FORGET, BATCH_FORGET, INTERRUPT */
	bool modifies;   /* refused with EROFS on --readonly */
};

#define OP(code, f, arg, ...) [code] = {f, #code + 5, arg, __VA_ARGS__}

static const struct fuse_op_desc fuse_ops[FUSE_SYNCFS + 1] = {
    OP(FUSE_LOOKUP, vfsd_op_lookup, 2),
    OP(FUSE_FORGET, vfsd_op_forget, sizeof(struct fuse_forget_in), true),
    OP(FUSE_GETATTR, vfsd_op_getattr, sizeof(struct fuse_getattr_in)),
    OP(FUSE_SETATTR, vfsd_op_setattr, sizeof(struct fuse_setattr_in), false, true),
    OP(FUSE_READLINK, vfsd_op_readlink, 0),
    OP(FUSE_SYMLINK, vfsd_op_symlink, 4, false, true),
    OP(FUSE_MKNOD, vfsd_op_mknod, sizeof(struct fuse_mknod_in) + 2, false, true),
    OP(FUSE_MKDIR, vfsd_op_mkdir, sizeof(struct fuse_mkdir_in) + 2, false, true),
    OP(FUSE_UNLINK, vfsd_op_unlink, 2, false, true),
    OP(FUSE_RMDIR, vfsd_op_rmdir, 2, false, true),
    OP(FUSE_RENAME, vfsd_op_rename, sizeof(struct fuse_rename_in) + 4, false, true),
    OP(FUSE_LINK, vfsd_op_link, sizeof(struct fuse_link_in) + 2, false, true),
    OP(FUSE_OPEN, vfsd_op_open, sizeof(struct fuse_open_in)),
    OP(FUSE_READ, vfsd_op_read, sizeof(struct fuse_read_in)),
    OP(FUSE_WRITE, vfsd_op_write, sizeof(struct fuse_write_in), false, true),
    OP(FUSE_STATFS, vfsd_op_statfs, 0),
    OP(FUSE_RELEASE, vfsd_op_release, sizeof(struct fuse_release_in)),
    OP(FUSE_FSYNC, vfsd_op_fsync, sizeof(struct fuse_fsync_in)),
    OP(FUSE_SETXATTR, vfsd_op_setxattr, FUSE_COMPAT_SETXATTR_IN_SIZE + 2, false, true),
    OP(FUSE_GETXATTR, vfsd_op_getxattr, sizeof(struct fuse_getxattr_in) + 2),
    OP(FUSE_LISTXATTR, vfsd_op_listxattr, sizeof(struct fuse_getxattr_in)),
    OP(FUSE_REMOVEXATTR, vfsd_op_removexattr, 2, false, true),
    OP(FUSE_FLUSH, vfsd_op_flush, sizeof(struct fuse_flush_in)),
    OP(FUSE_INIT, op_init, offsetof(struct fuse_init_in, flags2)),
    OP(FUSE_OPENDIR, vfsd_op_opendir, sizeof(struct fuse_open_in)),
    OP(FUSE_READDIR, vfsd_op_readdir, sizeof(struct fuse_read_in)),
    OP(FUSE_RELEASEDIR, vfsd_op_releasedir, sizeof(struct fuse_release_in)),
    OP(FUSE_FSYNCDIR, vfsd_op_fsyncdir, sizeof(struct fuse_fsync_in)),
    OP(FUSE_GETLK, vfsd_op_getlk, sizeof(struct fuse_lk_in)),
    OP(FUSE_SETLK, vfsd_op_setlk, sizeof(struct fuse_lk_in)),
    OP(FUSE_SETLKW, vfsd_op_setlk, sizeof(struct fuse_lk_in)),
    OP(FUSE_ACCESS, vfsd_op_access, sizeof(struct fuse_access_in)),
    OP(FUSE_CREATE, vfsd_op_create, sizeof(struct fuse_create_in) + 2, false, true),
    OP(FUSE_INTERRUPT, op_interrupt, sizeof(struct fuse_interrupt_in), true),
    OP(FUSE_DESTROY, op_destroy, 0),
    OP(FUSE_BATCH_FORGET, vfsd_op_batch_forget, sizeof(struct fuse_batch_forget_in), true),
    OP(FUSE_FALLOCATE, vfsd_op_fallocate, sizeof(struct fuse_fallocate_in), false, true),
    OP(FUSE_READDIRPLUS, vfsd_op_readdirplus, sizeof(struct fuse_read_in)),
    OP(FUSE_RENAME2, vfsd_op_rename2, sizeof(struct fuse_rename2_in) + 4, false, true),
    OP(FUSE_LSEEK, vfsd_op_lseek, sizeof(struct fuse_lseek_in)),
    OP(FUSE_COPY_FILE_RANGE, vfsd_op_copy_file_range, sizeof(struct fuse_copy_file_range_in), false,
       true),
    OP(FUSE_SYNCFS, op_syncfs, sizeof(struct fuse_syncfs_in)),
};

uint32_t vfsd_fuse_handle(struct vfsd_fs_thread *t, struct vfsd_vq_elem *elem)
{
	struct vfsd_fs *fs = t->fs;
	const struct fuse_op_desc *op = NULL;
	struct vfsd_req req = {
	    .fs = fs,
	    .t = t,
	    .elem = elem,
	    .wr = elem->iov + elem->n_rd,
	    .n_wr = elem->n_wr,
	    .wr_len = elem->wr_len,
	};
	size_t copy, hdr = sizeof(struct fuse_in_header);
	int r;

	/* Without a header there is no unique to answer: return the chain empty. */
	if (elem->rd_len < hdr || iov_copy_from(elem->iov, elem->n_rd, 0, &req.in, hdr) != hdr) {
		log_debug("request without a FUSE header dropped");
		return 0;
	}
	if (req.in.len < hdr || req.in.len > elem->rd_len) {
		r = -EINVAL;
		goto reply;
	}
	if (req.in.opcode < ARRAY_SIZE(fuse_ops) && fuse_ops[req.in.opcode].fn)
		op = &fuse_ops[req.in.opcode];
	if (!op) {
		log_debug("opcode %u not implemented", req.in.opcode);
		r = -ENOSYS;
		goto reply;
	}
	/*
	 * The virtio-fs spec puts only requests without replies on the hiprio
	 * queue; anything else there is a confused or hostile driver.
	 */
	if (t->hiprio && !op->noreply) {
		log_debug("%s on the hiprio queue refused", op->name);
		r = -EINVAL;
		goto reply;
	}
	if (!op->noreply && req.wr_len < sizeof(struct fuse_out_header)) {
		log_debug("%s without room for a reply", op->name);
		return 0;
	}
	if (req.in.opcode != FUSE_INIT && !__atomic_load_n(&fs->initialized, __ATOMIC_SEQ_CST)) {
		r = -EIO;
		goto reply;
	}
	/* Arguments: all of them, except the payload of WRITE which stays in place. */
	copy = req.in.len - hdr;
	if (req.in.opcode == FUSE_WRITE)
		copy = copy < sizeof(struct fuse_write_in) ? copy : sizeof(struct fuse_write_in);
	if (copy > VFSD_FUSE_ARG_MAX) {
		r = -E2BIG;
		goto reply;
	}
	req.arglen = iov_copy_from(elem->iov, elem->n_rd, hdr, t->argbuf, copy);
	t->argbuf[req.arglen] = '\0';
	req.arg = t->argbuf;
	/* Request extensions (7.37+) are only sent for features we never negotiate. */
	if ((size_t)req.in.total_extlen * 8 > req.arglen) {
		r = -EINVAL;
		goto reply;
	}
	req.arglen -= (size_t)req.in.total_extlen * 8;
	if (req.arglen < op->min_in) {
		r = -EINVAL;
		goto reply;
	}
	if (req.in.opcode == FUSE_WRITE) {
		const struct fuse_write_in *w = (const void *)req.arg;
		unsigned n = 0;
		size_t skip = hdr + sizeof(*w);

		if (w->size > req.in.len - skip || w->size > VFSD_FUSE_MAX_WRITE) {
			r = -EINVAL;
			goto reply;
		}
		/* Point at the payload inside guest memory: no bounce buffer. */
		for (unsigned i = 0; i < elem->n_rd && req.data_len < w->size; i++) {
			size_t l = elem->iov[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			t->iov[n].iov_base = (uint8_t *)elem->iov[i].iov_base + skip;
			t->iov[n].iov_len = l - skip;
			if (req.data_len + t->iov[n].iov_len > w->size)
				t->iov[n].iov_len = w->size - req.data_len;
			req.data_len += t->iov[n].iov_len;
			n++;
			skip = 0;
		}
		req.data = t->iov;
		req.n_data = n;
	}
	if (op->modifies && fs->cfg.readonly) {
		r = -EROFS;
		goto reply;
	}
	r = op->fn(&req);
	if (r == -ERANGE && !req.replied && req.in.opcode != FUSE_GETXATTR &&
	    req.in.opcode != FUSE_LISTXATTR)
		log_debug("%s reply larger than the guest's buffer", op->name);
reply:
	if (op && op->noreply)
		return 0;
	if (req.deferred)
		return VFSD_VU_DEFERRED;
	if (!req.replied)
		vfsd_reply_err(&req, r < 0 ? r : -EIO);
	return req.out_len;
}

/* --- set-up ------------------------------------------------------------- */

int vfsd_fs_init(struct vfsd_fs *fs, const struct vfsd_fs_config *cfg, int root_fd,
                 int proc_self_fd)
{
	int r;

	memset(fs, 0, sizeof(*fs));
	fs->cfg = *cfg;
	fs->proc_self_fd = proc_self_fd;
	switch (cfg->cache) {
	case VFSD_CACHE_NEVER:
		fs->timeout = 0;
		break;
	case VFSD_CACHE_AUTO:
		fs->timeout = 1;
		break;
	default:
		fs->timeout = 86400;
		break;
	}
	r = vfsd_inodes_init(&fs->inodes, root_fd, cfg->max_fds * 3 / 4, proc_self_fd,
	                     cfg->file_handles);
	if (r < 0)
		return r;
	/*
	 * Lock owners' fds come out of what main() keeps outside the budget
	 * (512 fds, or half the limit when it is small).
	 */
	r = vfsd_locks_init(&fs->locks, cfg->max_fds >= 1024 ? 256 : cfg->max_fds / 4 + 1);
	if (r < 0)
		return r;
	return vfsd_handles_init(&fs->handles, cfg->max_fds / 4);
}

void vfsd_fs_reset(struct vfsd_fs *fs)
{
	__atomic_store_n(&fs->initialized, false, __ATOMIC_SEQ_CST);
	/* Waiters first: they hold handles and owner fds. */
	vfsd_locks_reset(fs);
	vfsd_handles_reset(&fs->handles);
	vfsd_inodes_reset(&fs->inodes);
}

void vfsd_fs_destroy(struct vfsd_fs *fs)
{
	vfsd_locks_destroy(fs);
	vfsd_handles_destroy(&fs->handles);
	vfsd_inodes_destroy(&fs->inodes);
}

int vfsd_fs_thread_init(struct vfsd_fs_thread *t, struct vfsd_fs *fs)
{
	t->fs = fs;
	t->argbuf = malloc(VFSD_FUSE_ARG_MAX + 1);
	t->outbuf = malloc(VFSD_FUSE_ARG_MAX);
	if (!t->argbuf || !t->outbuf) {
		vfsd_fs_thread_fini(t);
		return -ENOMEM;
	}
	return 0;
}

void vfsd_fs_thread_fini(struct vfsd_fs_thread *t)
{
	free(t->argbuf);
	free(t->outbuf);
	t->argbuf = t->outbuf = NULL;
}
