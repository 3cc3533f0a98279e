/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FUSE_HANDLE_H
#define VFSD_FUSE_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Open files and directories: fh values given to the guest are indices into
 * this table, with a reference count so a RELEASE racing a READ on another
 * queue cannot close the fd under it.
 */
struct vfsd_handle {
	uint64_t id;
	int fd;
	bool dir;
	uint32_t refs;
	bool released;
	pthread_mutex_t lock; /* directory streams: position and getdents */
};

struct vfsd_handles {
	pthread_mutex_t lock;
	struct vfsd_handle **slots;
	size_t nslots, cap;
	size_t *free_ids;
	size_t nfree;
	unsigned count, max;
};

int vfsd_handles_init(struct vfsd_handles *h, unsigned max);
void vfsd_handles_reset(struct vfsd_handles *h);
void vfsd_handles_destroy(struct vfsd_handles *h);
/* Stores fd (consumed); returns the fh in *ret. 0, -ENOMEM, -EMFILE. */
int vfsd_handle_add(struct vfsd_handles *h, int fd, bool dir, uint64_t *ret);
/* Handle with a reference, or NULL if fh is not live or of the wrong kind. */
struct vfsd_handle *vfsd_handle_get(struct vfsd_handles *h, uint64_t fh, bool dir);
void vfsd_handle_put(struct vfsd_handles *h, struct vfsd_handle *hd);
/* RELEASE: the fd is closed once the last in-flight user is done. */
int vfsd_handle_release(struct vfsd_handles *h, uint64_t fh, bool dir);

#endif
