/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FUSE_INODE_H
#define VFSD_FUSE_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct file_handle;

/*
 * The inode table: what the guest knows as node ids.  A node id is an index
 * into slots[] (never a pointer), so a forged id from the guest can at worst
 * name another inode of the same share, never arbitrary memory.  Inodes are
 * keyed by (st_ino, st_dev, mnt_id) so a file reached by two paths is one
 * node, and each holds an O_PATH fd.  The number of those fds is capped below
 * RLIMIT_NOFILE: past the budget, lookups fail with EMFILE and a log line.
 *
 * With --inode-file-handles an inode also keeps a file handle
 * (name_to_handle_at) and its fd becomes a cache: held while a request uses
 * the inode, kept afterwards on an LRU list of idle fds, closed when the
 * budget needs room and reopened with open_by_handle_at on the next use.  So
 * a million-inode tree costs memory for handles, not a million fds.
 */

#define VFSD_ROOT_ID 1

enum vfsd_fh_mode { VFSD_FH_NEVER, VFSD_FH_PREFER, VFSD_FH_MANDATORY };

struct vfsd_inode {
	int fd; /* O_PATH|O_NOFOLLOW; -1 only for a handle inode with no cached fd */
	struct file_handle *fh; /* NULL: the fd is the inode's only reference */
	int mount_fd;           /* borrowed from vfsd_inodes.mounts, with fh */
	bool on_lru;
	struct vfsd_inode *lru_prev, *lru_next; /* idle handle inodes with an fd */
	uint64_t ino, dev, mnt_id;
	uint32_t type; /* S_IFMT bits, fixed for the inode's life */
	uint64_t nodeid;
	uint64_t generation;
	uint64_t nlookup; /* references held by the guest */
	uint32_t refs;    /* requests in flight using it */
	struct vfsd_inode *hnext;
};

struct vfsd_inodes {
	pthread_mutex_t lock;
	struct vfsd_inode **slots; /* slots[nodeid]; [0] unused */
	struct vfsd_inode *root;   /* slots[VFSD_ROOT_ID], for readers without the lock */
	size_t nslots, cap;
	size_t *free_ids;
	size_t nfree;
	struct vfsd_inode **hash;
	size_t hsize;
	unsigned nfds, max_fds; /* inode fds held, and their budget */
	uint64_t generation;
	bool budget_warned, fh_warned;
	enum vfsd_fh_mode fh_mode; /* NEVER after a failed start-up probe in PREFER */
	int proc_self_fd;
	struct vfsd_mount_fd {
		uint64_t mnt_id;
		int fd; /* O_RDONLY directory: open_by_handle_at refuses O_PATH */
	} * mounts;
	size_t nmounts;
	struct vfsd_inode *lru_head, *lru_tail; /* least recently used first */
};

/*
 * vfsd_inodes_init() - the table with the root inode.
 * @root_fd: O_PATH of the shared directory, consumed.
 * @proc_self_fd: /proc/self/fd, to reopen directories as mount fds.
 * @fh_mode: NEVER, or PREFER/MANDATORY: probe that handles work here
 * (filesystem support, CAP_DAC_READ_SEARCH); PREFER falls back to fds with
 * one log line, MANDATORY fails with -errno.
 */
int vfsd_inodes_init(struct vfsd_inodes *t, int root_fd, unsigned max_fds, int proc_self_fd,
                     enum vfsd_fh_mode fh_mode);
void vfsd_inodes_destroy(struct vfsd_inodes *t);
/* Forget every inode but the root (guest went away or re-initialised). */
void vfsd_inodes_reset(struct vfsd_inodes *t);
/*
 * Inode for a guest node id with a reference and a usable ->fd, or NULL if it
 * is not live or its file handle no longer opens (deleted: ESTALE).
 */
struct vfsd_inode *vfsd_inode_get(struct vfsd_inodes *t, uint64_t nodeid);
void vfsd_inode_put(struct vfsd_inodes *t, struct vfsd_inode *ino);
/*
 * vfsd_inode_insert() - find or add the inode for an O_PATH fd.
 * @fd: consumed (stored in a new inode or closed).
 * @st: statx of fd with STATX_INO, STATX_TYPE and STATX_MNT_ID.
 * On success *ret holds a reference and the guest's lookup count is raised.
 * Return: 0, -ENOMEM, -EMFILE (fd budget).
 */
int vfsd_inode_insert(struct vfsd_inodes *t, int fd, const struct statx *st,
                      struct vfsd_inode **ret);
/*
 * vfsd_inode_find() - the inode a statx of a name found, if the table has it.
 * @st: statx with STATX_INO, STATX_TYPE and STATX_MNT_ID (of the name, not
 * followed).  LOOKUP of a known inode costs that one statx: no fd is opened.
 * Return: the inode with a reference and the guest's lookup count raised, or
 * NULL (not in the table, or no fd that pins it): open the name and insert.
 */
struct vfsd_inode *vfsd_inode_find(struct vfsd_inodes *t, const struct statx *st);
/* Is (ino, dev, mnt_id) in the table?  A hint only: it may change at once. */
bool vfsd_inode_known(struct vfsd_inodes *t, uint64_t ino, uint64_t dev, uint64_t mnt_id);
/* Guest drops n lookups of nodeid (FORGET); bogus ids are ignored. */
void vfsd_inode_forget(struct vfsd_inodes *t, uint64_t nodeid, uint64_t n);
/* Number of live inodes (for tests and logs). */
size_t vfsd_inodes_count(struct vfsd_inodes *t);

#endif
