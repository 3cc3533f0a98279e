/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FUSE_OPS_LOCK_H
#define VFSD_FUSE_OPS_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * POSIX (fcntl) and flock locks shared with the host (fuse_ops_lock.c).
 *
 * FUSE names a POSIX lock's owner by lock_owner (one per guest process file
 * table); the host has open-file-description locks, which belong to one open
 * file.  So each (file, lock_owner) gets its own reopened fd and its OFD
 * locks stand for that owner's locks; FLUSH with the owner closes it, which
 * drops them.  flock locks go on the handle's own fd (one per guest open: an
 * open file description, which is what flock locks belong to).
 *
 * A SETLKW that cannot be granted at once is handed to a waiter thread that
 * blocks in the host's F_OFD_SETLKW/flock and completes the chain itself
 * when the lock comes; queue threads never wait.  At most VFSD_LOCK_WAITERS
 * waiters per device (ENOLCK past that); INTERRUPT cancels one (EINTR);
 * RELEASE of the file, a queue stop, DESTROY and a new INIT cancel them
 * (ENOLCK).
 */
#define VFSD_LOCK_WAITERS 64
#define VFSD_LOCK_BUCKETS 256

struct vfsd_lock_owner;
struct vfsd_lock_waiter;

struct vfsd_locks {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a waiter left */
	struct vfsd_lock_owner *owners[VFSD_LOCK_BUCKETS];
	unsigned nowners, max_owners; /* owner fds open (linked or held by a waiter) */
	struct vfsd_lock_waiter *waiters;
	unsigned nwaiters;
};

struct vfsd_fs;

/* max_owners bounds the fds the owner table may hold (ENOLCK past it). */
int vfsd_locks_init(struct vfsd_locks *l, unsigned max_owners);
/* Cancels every waiter, waits for them, and closes every owner fd. */
void vfsd_locks_reset(struct vfsd_fs *fs);
void vfsd_locks_destroy(struct vfsd_fs *fs);
/*
 * vfsd_locks_quiesce() - cancel the waiters of queue qidx (ENOLCK) and wait until
 * each has completed its chain: called before the queue stops, while its
 * rings are still mapped.
 */
void vfsd_locks_quiesce(struct vfsd_fs *fs, unsigned qidx);
/* FUSE_INTERRUPT: a waiting SETLKW with this unique is answered EINTR. */
void vfsd_locks_interrupt(struct vfsd_fs *fs, uint64_t unique);
/* FLUSH: the owner's POSIX locks on the file behind fd go (close semantics). */
void vfsd_locks_flush(struct vfsd_fs *fs, int fd, uint64_t owner);
/* RELEASE: waiters on that handle are cancelled (ENOLCK; the guest closed the file). */
void vfsd_locks_release(struct vfsd_fs *fs, uint64_t fh);

#endif
