// SPDX-License-Identifier: MIT
/* Open-file and open-directory handles given to the guest (fuse_handle.h). */
#include "vfsd/fuse_handle.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

int vfsd_handles_init(struct vfsd_handles *h, unsigned max)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	h->max = max;
	return 0;
}

static void handle_free(struct vfsd_handles *h, size_t fh)
{
	struct vfsd_handle *hd = h->slots[fh];

	safe_close(hd->fd);
	pthread_mutex_destroy(&hd->lock);
	free(hd);
	h->slots[fh] = NULL;
	h->free_ids[h->nfree++] = fh;
	h->count--;
}

int vfsd_handle_add(struct vfsd_handles *h, int fd, bool dir, uint64_t *ret)
{
	_cleanup_close_ int owned = fd;
	struct vfsd_handle *hd;
	size_t id;
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (h->count >= h->max) {
		r = -EMFILE;
		goto out;
	}
	if (!h->nfree && h->nslots == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 256;
		struct vfsd_handle **ns = realloc(h->slots, ncap * sizeof(*ns));
		size_t *nf;

		if (!ns) {
			r = -ENOMEM;
			goto out;
		}
		h->slots = ns;
		nf = realloc(h->free_ids, ncap * sizeof(*nf));
		if (!nf) {
			r = -ENOMEM;
			goto out;
		}
		h->free_ids = nf;
		h->cap = ncap;
	}
	hd = calloc(1, sizeof(*hd));
	if (!hd) {
		r = -ENOMEM;
		goto out;
	}
	id = h->nfree ? h->free_ids[--h->nfree] : h->nslots++;
	hd->id = id;
	hd->fd = TAKE_FD(owned);
	hd->dir = dir;
	pthread_mutex_init(&hd->lock, NULL);
	h->slots[id] = hd;
	h->count++;
	*ret = id;
out:
	pthread_mutex_unlock(&h->lock);
	return r;
}

struct vfsd_handle *vfsd_handle_get(struct vfsd_handles *h, uint64_t fh, bool dir)
{
	struct vfsd_handle *hd = NULL;

	pthread_mutex_lock(&h->lock);
	if (fh < h->nslots && h->slots[fh] && !h->slots[fh]->released && h->slots[fh]->dir == dir) {
		hd = h->slots[fh];
		hd->refs++;
	}
	pthread_mutex_unlock(&h->lock);
	return hd;
}

void vfsd_handle_put(struct vfsd_handles *h, struct vfsd_handle *hd)
{
	if (!hd)
		return;
	pthread_mutex_lock(&h->lock);
	hd->refs--;
	if (hd->released && hd->refs == 0)
		handle_free(h, hd->id);
	pthread_mutex_unlock(&h->lock);
}

int vfsd_handle_release(struct vfsd_handles *h, uint64_t fh, bool dir)
{
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (fh >= h->nslots || !h->slots[fh] || h->slots[fh]->released || h->slots[fh]->dir != dir)
		r = -EBADF;
	else if (h->slots[fh]->refs == 0)
		handle_free(h, fh);
	else
		h->slots[fh]->released = true;
	pthread_mutex_unlock(&h->lock);
	return r;
}

void vfsd_handles_reset(struct vfsd_handles *h)
{
	pthread_mutex_lock(&h->lock);
	for (size_t i = 0; i < h->nslots; i++)
		if (h->slots[i]) {
			if (h->slots[i]->refs == 0)
				handle_free(h, i);
			else
				h->slots[i]->released = true;
		}
	pthread_mutex_unlock(&h->lock);
}

void vfsd_handles_destroy(struct vfsd_handles *h)
{
	vfsd_handles_reset(h);
	free(h->slots);
	free(h->free_ids);
	pthread_mutex_destroy(&h->lock);
	memset(h, 0, sizeof(*h));
}
