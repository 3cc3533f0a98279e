/* SPDX-License-Identifier: MIT */
/*
 * The records of the mounts notifyd made for a container entry: what
 * max-mounts counts, what umount2 recognises as notifyd's, what `notifyctl
 * mounts` lists.  They are the entry's "mounts" resource (container.h),
 * under the entry's lock, and go with the entry.  A record names its mount
 * by the unique mount id (never reused) and the mount namespace it was seen
 * in; statmount(2) decides when a record goes.
 */
#ifndef MV_MOUNT_RECORD_H
#define MV_MOUNT_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "notifyd/container.h"

struct mount_record {
	struct mount_record *next;
	uint64_t mnt_id;     /* STATX_MNT_ID_UNIQUE of the mount notifyd attached */
	uint64_t mnt_id_old; /* its STATX_MNT_ID (as in mountinfo), 0 if not known */
	uint64_t mntns_id;   /* id of the mount namespace it was seen in; 0 until known */
	char *type, *source, *target;
};

/* How many records c holds (what max-mounts is compared with). */
unsigned mount_record_count(struct container *c);
/* Calls fn for each of c's records, with c's lock held (fn must not take it). */
void mount_record_foreach(struct container *c,
                          void (*fn)(const struct mount_record *m, void *userdata), void *userdata);

/* Records; each returns -errno.  mnt_id_old: 0 if not known. */
int mount_record_add(struct container *c, uint64_t mnt_id, uint64_t mnt_id_old, const char *type,
                     const char *source, const char *target);
bool mount_record_owns(struct container *c, uint64_t mnt_id);
/*
 * The record of the mount whose old id (STATX_MNT_ID, what statx() gives
 * anybody, also with an empty mask) is mnt_id_old, in the calling thread's
 * mount namespace: its unique id in *mnt_id and true, or false.  For mounts
 * that refuse notifyd their unique id: a FUSE mount answers no statx()
 * attribute to a process outside its daemon's user namespace.  Old ids are
 * reused, so the match is confirmed with statmount(2): the recorded unique
 * mount must be there and still carry that old id.  (Before Linux 6.8
 * records hold old ids only, and the match is taken as it is.)
 */
bool mount_record_owns_old(struct container *c, uint64_t mnt_id_old, uint64_t *mnt_id);
bool mount_record_remove(struct container *c, uint64_t mnt_id);

/*
 * Where records meet the kernel (statmount(2), Linux 6.8; namespace ids 6.11).
 * mount_record_present(): is mount mnt_id in mount namespace mntns_id
 * (0: the calling thread's)?  1 yes, 0 no, -errno when the kernel cannot say.
 * A unique mount id is never reused and a mount never changes namespace, so
 * "no" for a mount that was there means it is gone for good.
 */
int mount_record_present(uint64_t mnt_id, uint64_t mntns_id);
/*
 * The old id (STATX_MNT_ID, as in mountinfo) of mount mnt_id in mount
 * namespace mntns_id (0: the calling thread's): 0, or -errno (-ENOENT: not there).
 */
int mount_record_old_id(uint64_t mnt_id, uint64_t mntns_id, uint64_t *old_id);
/* The id of the mount namespace nsfd (an ns/mnt fd), or -errno. */
int mount_record_ns_id(int nsfd, uint64_t *ret);
/*
 * Reconcile c's records with mount namespace mntns_id (an id from
 * mount_record_ns_id(), not 0): a record whose namespace is not known
 * yet learns mntns_id if its mount is there; a record of a known namespace
 * whose mount is no longer there is dropped.  A record is never dropped on
 * the kernel's silence.  Returns the number dropped, or -errno.
 */
int mount_record_prune(struct container *c, uint64_t mntns_id);
/*
 * The same against the mount namespace of the thread whose /proc/<tid> is
 * procfd (a caller's): for the max-mounts check, so records of mounts that
 * went by other means do not count.  Returns the number dropped, or -errno.
 */
int mount_record_prune_at(struct container *c, int procfd);

/*
 * Restart (restart.c): rebuild c's records from what its state file holds
 * (the "mounts" part), then drop those whose mount went meanwhile.  0 or
 * -errno.  Every change to the records is saved (container_save()).
 */
int mount_record_restore(struct container *c, struct json_object *obj);

#endif
