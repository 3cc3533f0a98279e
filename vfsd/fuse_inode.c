// SPDX-License-Identifier: MIT
/*
 * Inode table (see fuse_inode.h).  One mutex guards the table; inode fields
 * other than the counters never change after insertion, so callers holding a
 * reference read them without the lock.
 */
#include "vfsd/fuse_inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/log.h"

static size_t key_hash(uint64_t ino, uint64_t dev, uint64_t mnt, size_t hsize)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;

	h ^= (dev + 0x7f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
	h ^= (mnt + 0x94d049bbull) * 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (size_t)(h & (hsize - 1));
}

static void hash_del(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	struct vfsd_inode **pp = &t->hash[key_hash(ino->ino, ino->dev, ino->mnt_id, t->hsize)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == ino) {
			*pp = ino->hnext;
			return;
		}
}

static int hash_grow(struct vfsd_inodes *t)
{
	size_t nsize = t->hsize ? t->hsize * 2 : 1024;
	struct vfsd_inode **nh = calloc(nsize, sizeof(*nh));

	if (!nh)
		return -ENOMEM;
	for (size_t i = 0; i < t->hsize; i++)
		for (struct vfsd_inode *p = t->hash[i], *next; p; p = next) {
			size_t b = key_hash(p->ino, p->dev, p->mnt_id, nsize);

			next = p->hnext;
			p->hnext = nh[b];
			nh[b] = p;
		}
	free(t->hash);
	t->hash = nh;
	t->hsize = nsize;
	return 0;
}

/* Frees an inode with no users; table lock held. */
static void inode_free(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	hash_del(t, ino);
	t->slots[ino->nodeid] = NULL;
	t->free_ids[t->nfree++] = ino->nodeid;
	safe_close(ino->fd);
	t->nfds--;
	free(ino);
}

static void maybe_free(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	if (ino->nlookup == 0 && ino->refs == 0 && ino->nodeid != VFSD_ROOT_ID)
		inode_free(t, ino);
}

static int slot_alloc(struct vfsd_inodes *t, size_t *ret)
{
	if (t->nfree) {
		*ret = t->free_ids[--t->nfree];
		return 0;
	}
	if (t->nslots == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		struct vfsd_inode **ns = realloc(t->slots, ncap * sizeof(*ns));
		size_t *nf;

		if (!ns)
			return -ENOMEM;
		t->slots = ns;
		nf = realloc(t->free_ids, ncap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		t->free_ids = nf;
		t->cap = ncap;
	}
	*ret = t->nslots++;
	return 0;
}

int vfsd_inode_insert(struct vfsd_inodes *t, int fd, const struct statx *st,
                      struct vfsd_inode **ret)
{
	_cleanup_close_ int owned = fd;
	uint64_t dev = makedev(st->stx_dev_major, st->stx_dev_minor);
	struct vfsd_inode *ino;
	size_t id;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	if (t->hsize) {
		for (ino = t->hash[key_hash(st->stx_ino, dev, st->stx_mnt_id, t->hsize)]; ino;
		     ino = ino->hnext)
			if (ino->ino == st->stx_ino && ino->dev == dev &&
			    ino->mnt_id == st->stx_mnt_id)
				break;
		if (ino) {
			ino->nlookup++;
			ino->refs++;
			*ret = ino;
			goto out; /* owned closes the duplicate fd */
		}
	}
	if (t->nfds >= t->max_fds) {
		if (!t->budget_warned)
			log_error("inode fd budget of %u reached: lookups fail with EMFILE "
			          "(raise RLIMIT_NOFILE or use --inode-file-handles)",
			          t->max_fds);
		t->budget_warned = true;
		r = -EMFILE;
		goto out;
	}
	if ((vfsd_inodes_count(t) + 1) * 2 > t->hsize && (r = hash_grow(t)) < 0)
		goto out;
	ino = calloc(1, sizeof(*ino));
	if (!ino) {
		r = -ENOMEM;
		goto out;
	}
	r = slot_alloc(t, &id);
	if (r < 0) {
		free(ino);
		goto out;
	}
	*ino = (struct vfsd_inode){
	    .fd = TAKE_FD(owned),
	    .ino = st->stx_ino,
	    .dev = dev,
	    .mnt_id = st->stx_mnt_id,
	    .type = st->stx_mode & S_IFMT,
	    .nodeid = id,
	    .generation = ++t->generation,
	    .nlookup = 1,
	    .refs = 1,
	};
	t->slots[id] = ino;
	size_t b = key_hash(ino->ino, ino->dev, ino->mnt_id, t->hsize);
	ino->hnext = t->hash[b];
	t->hash[b] = ino;
	t->nfds++;
	*ret = ino;
out:
	pthread_mutex_unlock(&t->lock);
	return r;
}

size_t vfsd_inodes_count(struct vfsd_inodes *t)
{
	return t->nslots - t->nfree - (t->nslots ? 1 : 0);
}

struct vfsd_inode *vfsd_inode_get(struct vfsd_inodes *t, uint64_t nodeid)
{
	struct vfsd_inode *ino = NULL;

	pthread_mutex_lock(&t->lock);
	if (nodeid < t->nslots && t->slots[nodeid]) {
		ino = t->slots[nodeid];
		ino->refs++;
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void vfsd_inode_put(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	if (!ino)
		return;
	pthread_mutex_lock(&t->lock);
	ino->refs--;
	maybe_free(t, ino);
	pthread_mutex_unlock(&t->lock);
}

void vfsd_inode_forget(struct vfsd_inodes *t, uint64_t nodeid, uint64_t n)
{
	pthread_mutex_lock(&t->lock);
	if (nodeid < t->nslots && t->slots[nodeid]) {
		struct vfsd_inode *ino = t->slots[nodeid];

		ino->nlookup = n > ino->nlookup ? 0 : ino->nlookup - n;
		maybe_free(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
}

int vfsd_inodes_init(struct vfsd_inodes *t, int root_fd, unsigned max_fds)
{
	struct statx st;
	struct vfsd_inode *root;
	size_t id;
	int r;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->max_fds = max_fds;
	if (statx(root_fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW,
	          STATX_TYPE | STATX_INO | STATX_MNT_ID, &st) < 0)
		return -errno;
	r = hash_grow(t);
	if (r < 0)
		return r;
	/* Slot 0 is never a node id (FUSE reserves it); slot 1 is the root. */
	if (slot_alloc(t, &id) < 0)
		return -ENOMEM;
	t->slots[0] = NULL;
	r = vfsd_inode_insert(t, root_fd, &st, &root);
	if (r < 0)
		return r;
	if (root->nodeid != VFSD_ROOT_ID)
		return -EINVAL;
	root->refs = 0;
	root->nlookup = 1;
	return 0;
}

void vfsd_inodes_reset(struct vfsd_inodes *t)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = VFSD_ROOT_ID + 1; i < t->nslots; i++) {
		struct vfsd_inode *ino = t->slots[i];

		if (!ino)
			continue;
		ino->nlookup = 0;
		/* In-flight users (none after a reset) would free it on put. */
		maybe_free(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
}

void vfsd_inodes_destroy(struct vfsd_inodes *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i]) {
			safe_close(t->slots[i]->fd);
			free(t->slots[i]);
		}
	free(t->slots);
	free(t->free_ids);
	free(t->hash);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}
