/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FUSE_INODE_H
#define VFSD_FUSE_INODE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/*
 * The inode table: what the guest knows as node ids.  A node id is an index
 * into slots[] (never a pointer), so a forged id from the guest can at worst
 * name another inode of the same share, never arbitrary memory.  Inodes are
 * keyed by (st_ino, st_dev, mnt_id) so a file reached by two paths is one
 * node, and each holds an O_PATH fd.  The number of those fds is capped below
 * RLIMIT_NOFILE: past the budget, lookups fail with EMFILE and a log line.
 */

#define VFSD_ROOT_ID 1

struct vfsd_inode {
	int fd; /* O_PATH|O_NOFOLLOW */
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
	size_t nslots, cap;
	size_t *free_ids;
	size_t nfree;
	struct vfsd_inode **hash;
	size_t hsize;
	unsigned nfds, max_fds;
	uint64_t generation;
	bool budget_warned;
};

/* Takes root_fd (O_PATH of the shared directory). */
int vfsd_inodes_init(struct vfsd_inodes *t, int root_fd, unsigned max_fds);
void vfsd_inodes_destroy(struct vfsd_inodes *t);
/* Forget every inode but the root (guest went away or re-initialised). */
void vfsd_inodes_reset(struct vfsd_inodes *t);
/* Inode for a guest node id with a reference, or NULL if it is not live. */
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
/* Guest drops n lookups of nodeid (FORGET); bogus ids are ignored. */
void vfsd_inode_forget(struct vfsd_inodes *t, uint64_t nodeid, uint64_t n);
/* Number of live inodes (for tests and logs). */
size_t vfsd_inodes_count(struct vfsd_inodes *t);

#endif
