/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FUSE_SERVER_H
#define VFSD_FUSE_SERVER_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "vfsd/fuse_handle.h"
#include "vfsd/fuse_inode.h"
#include "vfsd/fuse_ops_lock.h"
#include "vfsd/idmap.h"
#include "vfsd/virtqueue.h"

/*
 * The FUSE server: requests arrive as virtqueue chains (virtio-fs: the
 * device-readable part is fuse_in_header + arguments, the device-writable
 * part receives fuse_out_header + reply).  fuse_dispatch.c copies the header
 * and arguments out of guest memory once, checks them against the opcode
 * table, and calls one handler; WRITE and READ data move directly between
 * the file and guest memory.
 */

enum vfsd_cache { VFSD_CACHE_NEVER, VFSD_CACHE_AUTO, VFSD_CACHE_ALWAYS, VFSD_CACHE_METADATA };

struct vfsd_fs_config {
	const char *shared_dir;
	enum vfsd_cache cache;
	bool readonly;
	bool xattr;
	bool announce_submounts;
	bool readdirplus;
	bool writeback;
	bool allow_direct_io;
	bool killpriv_v2; /* offer FUSE_HANDLE_KILLPRIV_V2 */
	bool posix_lock;  /* offer FUSE_POSIX_LOCKS (fuse_ops_lock.c) */
	bool flock;       /* offer FUSE_FLOCK_LOCKS */
	enum vfsd_fh_mode file_handles;
	unsigned max_fds; /* fd budget for inodes + open files */
	/* --translate-uid/gid (NULL or empty: ids pass unchanged) */
	const struct vfsd_idmap *uid_map, *gid_map;
};

struct vfsd_fs {
	struct vfsd_fs_config cfg;
	int proc_self_fd; /* /proc/self/fd, for reopening O_PATH fds */
	struct vfsd_inodes inodes;
	struct vfsd_handles handles;
	struct vfsd_locks locks;
	/*
	 * Completes a chain later than its handler returned (a SETLKW granted
	 * after a wait): puts it on queue qidx's used ring and notifies.
	 */
	void (*complete)(void *ctx, unsigned qidx, struct vfsd_vq_elem *elem, uint32_t len);
	void *complete_ctx;
	bool initialized; /* accessed atomically */
	uint32_t proto_minor;
	uint64_t flags;   /* negotiated FUSE_* init flags */
	uint64_t timeout; /* entry/attr validity, seconds */
};

/* Per queue-thread buffers. */
#define VFSD_FUSE_ARG_MAX   (128u << 10) /* largest non-WRITE request accepted */
#define VFSD_FUSE_MAX_WRITE (1u << 20)

struct vfsd_fs_thread {
	struct vfsd_fs *fs;
	bool hiprio;     /* serves queue 0: FORGET, BATCH_FORGET and INTERRUPT only */
	unsigned qidx;   /* the queue this thread serves */
	uint8_t *argbuf; /* VFSD_FUSE_ARG_MAX + 1, NUL at the end */
	uint8_t *outbuf; /* VFSD_FUSE_ARG_MAX */
	struct iovec iov[VFSD_VQ_MAX_IOV];
};

struct vfsd_req {
	struct vfsd_fs *fs;
	struct vfsd_fs_thread *t;
	struct vfsd_vq_elem *elem; /* the chain, for a handler that defers its reply */
	struct fuse_in_header in;
	const uint8_t *arg; /* copied arguments, NUL-terminated one past arglen */
	size_t arglen;
	const struct iovec *data; /* WRITE payload, still in guest memory */
	unsigned n_data;
	size_t data_len;
	const struct iovec *wr; /* guest's reply buffers */
	unsigned n_wr;
	size_t wr_len;
	uint32_t out_len;
	bool replied;
	bool deferred; /* a handler took the chain over and completes it itself */
};

int vfsd_fs_init(struct vfsd_fs *fs, const struct vfsd_fs_config *cfg, int root_fd,
                 int proc_self_fd);
void vfsd_fs_reset(struct vfsd_fs *fs);
void vfsd_fs_destroy(struct vfsd_fs *fs);
int vfsd_fs_thread_init(struct vfsd_fs_thread *t, struct vfsd_fs *fs);
void vfsd_fs_thread_fini(struct vfsd_fs_thread *t);
/*
 * Handles one chain; returns bytes written into its writable part, or
 * VFSD_VU_DEFERRED when a handler keeps the chain to complete it later.
 */
uint32_t vfsd_fuse_handle(struct vfsd_fs_thread *t, struct vfsd_vq_elem *elem);

/* --- for the op handlers ------------------------------------------------ */

/* Send header + len bytes of data as the reply.  Return 0 or -errno. */
int vfsd_reply(struct vfsd_req *req, const void *data, size_t len);
/* Reply with an error (negative errno). */
void vfsd_reply_err(struct vfsd_req *req, int err);
/*
 * Next NUL-terminated string in the arguments at *off; advances *off.
 * NULL if there is none within arglen (the guest lied).
 */
const char *vfsd_req_str(struct vfsd_req *req, size_t *off);
/*
 * A guest-supplied name for a directory entry: 0 if it has no '/', is not
 * empty, "." or ".." (-EINVAL) and is at most NAME_MAX long (-ENAMETOOLONG).
 */
int vfsd_name_check(const char *name);

/* statx of an inode's fd; -errno. */
int vfsd_inode_statx(struct vfsd_inode *ino, struct statx *st);
struct vfsd_creds;
/* Attributes as the guest sees them (owner translated by --translate-uid/gid). */
void vfsd_fill_attr(const struct vfsd_fs *fs, struct fuse_attr *a, const struct statx *st);
/*
 * vfsd_req_creds_switch() - become the request's caller, its guest uid/gid
 * translated to host ids, for a request that creates a file (fuse_creds.h).
 * Return: 0, -EPERM for an id a forbid-guest rule covers, or another -errno.
 */
int vfsd_req_creds_switch(struct vfsd_req *req, struct vfsd_creds *saved);
/*
 * vfsd_do_lookup() - look name up in parent and fill e (nlookup raised).
 * Return: 0 or -errno.
 */
int vfsd_do_lookup(struct vfsd_fs *fs, struct vfsd_inode *parent, const char *name,
                   struct fuse_entry_out *e);
/*
 * vfsd_do_lookup_new() - vfsd_do_lookup() of a name that has just been
 * created (not "." or ".."): opened at once, with no probe for a known inode.
 */
int vfsd_do_lookup_new(struct vfsd_fs *fs, struct vfsd_inode *parent, const char *name,
                       struct fuse_entry_out *e);
/*
 * vfsd_entry_from_fd() - the entry for an O_PATH fd (consumed): inode found
 * or added (nlookup raised), attributes from the fd itself.
 * Return: 0 or -errno.
 */
int vfsd_entry_from_fd(struct vfsd_fs *fs, int fd, uint64_t parent_mnt, struct fuse_entry_out *e);
/* Opens the file behind an O_PATH inode with flags; only regular files and dirs. */
int vfsd_inode_open(struct vfsd_fs *fs, struct vfsd_inode *ino, int flags);
/* "N" for /proc/self/fd/N relative paths. */
void vfsd_fd_name(int fd, char buf[16]);

typedef int (*vfsd_fuse_op)(struct vfsd_req *req);

/* Operation handlers (fuse_ops_*.c).  Each returns 0 after replying or -errno. */
int vfsd_op_lookup(struct vfsd_req *req);
int vfsd_op_forget(struct vfsd_req *req);
int vfsd_op_batch_forget(struct vfsd_req *req);
int vfsd_op_getattr(struct vfsd_req *req);
int vfsd_op_setattr(struct vfsd_req *req);
int vfsd_op_readlink(struct vfsd_req *req);
int vfsd_op_symlink(struct vfsd_req *req);
int vfsd_op_mknod(struct vfsd_req *req);
int vfsd_op_mkdir(struct vfsd_req *req);
int vfsd_op_unlink(struct vfsd_req *req);
int vfsd_op_rmdir(struct vfsd_req *req);
int vfsd_op_rename(struct vfsd_req *req);
int vfsd_op_rename2(struct vfsd_req *req);
int vfsd_op_link(struct vfsd_req *req);
int vfsd_op_statfs(struct vfsd_req *req);
int vfsd_op_access(struct vfsd_req *req);
int vfsd_op_open(struct vfsd_req *req);
int vfsd_op_create(struct vfsd_req *req);
int vfsd_op_read(struct vfsd_req *req);
int vfsd_op_write(struct vfsd_req *req);
int vfsd_op_release(struct vfsd_req *req);
int vfsd_op_flush(struct vfsd_req *req);
int vfsd_op_fsync(struct vfsd_req *req);
int vfsd_op_fallocate(struct vfsd_req *req);
int vfsd_op_lseek(struct vfsd_req *req);
int vfsd_op_copy_file_range(struct vfsd_req *req);
int vfsd_op_getlk(struct vfsd_req *req);
int vfsd_op_setlk(struct vfsd_req *req);
int vfsd_op_opendir(struct vfsd_req *req);
int vfsd_op_readdir(struct vfsd_req *req);
int vfsd_op_readdirplus(struct vfsd_req *req);
int vfsd_op_releasedir(struct vfsd_req *req);
int vfsd_op_fsyncdir(struct vfsd_req *req);
int vfsd_op_setxattr(struct vfsd_req *req);
int vfsd_op_getxattr(struct vfsd_req *req);
int vfsd_op_listxattr(struct vfsd_req *req);
int vfsd_op_removexattr(struct vfsd_req *req);

#endif
