// SPDX-License-Identifier: MIT
/*
 * Inode table (see fuse_inode.h).  One mutex guards the table; inode fields
 * other than the counters never change after insertion, so callers holding a
 * reference read them without the lock.
 */
#include "vfsd/fuse_inode.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vfsd/seccomp.h"

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

/* The entry for (ino, dev, mnt_id), or NULL; table lock held. */
static struct vfsd_inode *hash_find(struct vfsd_inodes *t, uint64_t ino, uint64_t dev,
                                    uint64_t mnt_id)
{
	struct vfsd_inode *p = t->hash[key_hash(ino, dev, mnt_id, t->hsize)];

	for (; p; p = p->hnext)
		if (p->ino == ino && p->dev == dev && p->mnt_id == mnt_id)
			return p;
	return NULL;
}

/* --- the LRU list of idle handle inodes that still hold an fd ----------- */

static void lru_del(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	if (!ino->on_lru)
		return;
	*(ino->lru_prev ? &ino->lru_prev->lru_next : &t->lru_head) = ino->lru_next;
	*(ino->lru_next ? &ino->lru_next->lru_prev : &t->lru_tail) = ino->lru_prev;
	ino->lru_prev = ino->lru_next = NULL;
	ino->on_lru = false;
}

static void lru_add(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	ino->lru_prev = t->lru_tail;
	ino->lru_next = NULL;
	*(t->lru_tail ? &t->lru_tail->lru_next : &t->lru_head) = ino;
	t->lru_tail = ino;
	ino->on_lru = true;
}

static void drop_fd(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	if (ino->fd >= 0) {
		safe_close(ino->fd);
		ino->fd = -1;
		t->nfds--;
	}
}

/* Closes the least recently used idle fd; false if there is none. */
static bool evict_one(struct vfsd_inodes *t)
{
	struct vfsd_inode *ino = t->lru_head;

	if (!ino)
		return false;
	lru_del(t, ino);
	drop_fd(t, ino);
	return true;
}

/*
 * Frees an inode with no users; table lock held.  With @deferred, its fd is
 * handed there for the caller to close after unlocking: the last close of an
 * unlinked file frees it in the host file system (the guest's FORGET after
 * an unlink), which is too slow to do while every other request waits for
 * the table lock.
 */
static void inode_free(struct vfsd_inodes *t, struct vfsd_inode *ino, int *deferred)
{
	hash_del(t, ino);
	lru_del(t, ino);
	t->slots[ino->nodeid] = NULL;
	t->free_ids[t->nfree++] = ino->nodeid;
	if (deferred && ino->fd >= 0) {
		*deferred = ino->fd;
		ino->fd = -1;
		t->nfds--;
	}
	drop_fd(t, ino);
	free(ino->fh);
	free(ino);
}

/* --- file handles --------------------------------------------------------- */

/*
 * The fd open_by_handle_at() resolves handles against, for the mount of @fd.
 * It must be a real open file, so the first directory seen on a mount is
 * reopened read-only through /proc/self/fd.  Inodes on a mount entered
 * through a non-directory (a bind-mounted file) keep their O_PATH fd.
 */
static int mount_fd_for(struct vfsd_inodes *t, int fd, const struct statx *st)
{
	struct vfsd_mount_fd *m;
	char name[16];
	int mfd;

	for (size_t i = 0; i < t->nmounts; i++)
		if (t->mounts[i].mnt_id == st->stx_mnt_id)
			return t->mounts[i].fd;
	if (!S_ISDIR(st->stx_mode))
		return -ENOTDIR;
	m = realloc(t->mounts, (t->nmounts + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	t->mounts = m;
	snprintf(name, sizeof(name), "%d", fd);
	mfd = openat(t->proc_self_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	t->mounts[t->nmounts++] = (struct vfsd_mount_fd){.mnt_id = st->stx_mnt_id, .fd = mfd};
	return mfd;
}

/* A handle for @fd, trimmed to its size (usually 8 to 40 bytes). */
static int make_handle(struct vfsd_inodes *t, int fd, const struct statx *st,
                       struct file_handle **ret, int *mount_fd)
{
	_cleanup_free_ struct file_handle *fh = malloc(sizeof(*fh) + MAX_HANDLE_SZ);
	struct file_handle *small;
	int mnt, mfd = mount_fd_for(t, fd, st);

	if (mfd < 0)
		return mfd;
	if (!fh)
		return -ENOMEM;
	fh->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", fh, &mnt, AT_EMPTY_PATH) < 0)
		return -errno;
	small = realloc(fh, sizeof(*fh) + fh->handle_bytes);
	if (small)
		fh = small;
	*ret = TAKE_PTR(fh);
	*mount_fd = mfd;
	return 0;
}

/* Does @fd have the handle @fh?  False on any doubt. */
static bool same_handle(int fd, const struct file_handle *fh)
{
	_cleanup_free_ struct file_handle *cur = malloc(sizeof(*cur) + MAX_HANDLE_SZ);
	int mnt;

	if (!fh || !cur)
		return false;
	cur->handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", cur, &mnt, AT_EMPTY_PATH) < 0)
		return false;
	return cur->handle_type == fh->handle_type && cur->handle_bytes == fh->handle_bytes &&
	       memcmp(cur->f_handle, fh->f_handle, fh->handle_bytes) == 0;
}

const char *const vfsd_syscalls_fuse_inode[] = {"name_to_handle_at", "open_by_handle_at", NULL};

/* --- the table ------------------------------------------------------------ */

static void maybe_free(struct vfsd_inodes *t, struct vfsd_inode *ino, int *deferred)
{
	if (ino->nlookup == 0 && ino->refs == 0 && ino->nodeid != VFSD_ROOT_ID)
		inode_free(t, ino, deferred);
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
	_cleanup_free_ struct file_handle *fh = NULL;
	uint64_t dev = makedev(st->stx_dev_major, st->stx_dev_minor);
	struct vfsd_inode *ino;
	int r = 0, mount_fd = -1;
	size_t id;

	pthread_mutex_lock(&t->lock);
	ino = hash_find(t, st->stx_ino, dev, st->stx_mnt_id);
	/*
	 * A handle inode whose fd was evicted no longer pins its file: that
	 * may be gone and its inode number reused by a new file, maybe of
	 * another type (a FIFO where a regular file was).  Only the handle,
	 * which carries the generation, tells; a stale entry leaves the hash
	 * (the guest's node id then answers ESTALE) and the new file gets its
	 * own.  Types are compared too: an entry's type must never be wrong,
	 * vfsd_inode_open() trusts it.
	 */
	if (ino && (ino->type != (st->stx_mode & S_IFMT) ||
	            (ino->fd < 0 && !same_handle(owned, ino->fh)))) {
		hash_del(t, ino);
		ino = NULL;
	}
	if (ino) {
		ino->nlookup++;
		ino->refs++;
		lru_del(t, ino);
		if (ino->fd < 0) { /* a handle inode whose fd was evicted: adopt ours */
			ino->fd = TAKE_FD(owned);
			t->nfds++;
		}
		*ret = ino;
		goto out; /* owned closes a duplicate fd */
	}
	if (t->fh_mode != VFSD_FH_NEVER && (r = make_handle(t, owned, st, &fh, &mount_fd)) < 0) {
		if (!t->fh_warned)
			log_warn("no file handle for an inode (%s)%s", strerror(-r),
			         t->fh_mode == VFSD_FH_MANDATORY
			             ? ": lookup refused (--inode-file-handles=mandatory)"
			             : "; it keeps an O_PATH fd");
		t->fh_warned = true;
		if (t->fh_mode == VFSD_FH_MANDATORY)
			goto out;
		r = 0;
	}
	if (t->nfds >= t->max_fds && !evict_one(t)) {
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
	    .fh = TAKE_PTR(fh),
	    .mount_fd = mount_fd,
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

struct vfsd_inode *vfsd_inode_find(struct vfsd_inodes *t, const struct statx *st)
{
	uint64_t dev = makedev(st->stx_dev_major, st->stx_dev_minor);
	struct vfsd_inode *ino;

	pthread_mutex_lock(&t->lock);
	ino = hash_find(t, st->stx_ino, dev, st->stx_mnt_id);
	/*
	 * Only an entry whose fd pins its file proves that @st names it: a
	 * handle inode with an evicted fd may stand for a deleted file whose
	 * number was reused, which vfsd_inode_insert() sorts out with the
	 * handle.  The type is checked for the same reason as there.
	 */
	if (ino && (ino->fd < 0 || ino->type != (st->stx_mode & S_IFMT)))
		ino = NULL;
	if (ino) {
		ino->nlookup++;
		ino->refs++;
		lru_del(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

bool vfsd_inode_known(struct vfsd_inodes *t, uint64_t ino, uint64_t dev, uint64_t mnt_id)
{
	bool known;

	pthread_mutex_lock(&t->lock);
	known = hash_find(t, ino, dev, mnt_id) != NULL;
	pthread_mutex_unlock(&t->lock);
	return known;
}

size_t vfsd_inodes_count(struct vfsd_inodes *t)
{
	return t->nslots - t->nfree - (t->nslots ? 1 : 0);
}

struct vfsd_inode *vfsd_inode_get(struct vfsd_inodes *t, uint64_t nodeid)
{
	struct vfsd_inode *ino = NULL;

	int fd;

	pthread_mutex_lock(&t->lock);
	if (nodeid < t->nslots && t->slots[nodeid]) {
		ino = t->slots[nodeid];
		ino->refs++;
		lru_del(t, ino);
	}
	pthread_mutex_unlock(&t->lock);
	if (!ino || ino->fd >= 0)
		return ino;
	/*
	 * A handle inode without an fd.  fh and mount_fd never change, so the
	 * reopen runs unlocked; two racing users each open and one fd is kept.
	 * In-flight users may take the fd count past the budget (by at most
	 * the number of requests in flight): only idle fds are evicted.
	 */
	fd = open_by_handle_at(ino->mount_fd, ino->fh, O_PATH | O_CLOEXEC);
	pthread_mutex_lock(&t->lock);
	if (fd < 0) {
		ino->refs--;
		maybe_free(t, ino, NULL);
		ino = NULL;
	} else if (ino->fd >= 0) {
		close(fd);
	} else {
		ino->fd = fd;
		if (++t->nfds > t->max_fds)
			evict_one(t);
	}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void vfsd_inode_put(struct vfsd_inodes *t, struct vfsd_inode *ino)
{
	int fd = -EBADF;

	if (!ino)
		return;
	pthread_mutex_lock(&t->lock);
	ino->refs--;
	if (ino->refs == 0 && ino->fh && ino->fd >= 0 && ino->nlookup > 0)
		lru_add(t, ino);
	maybe_free(t, ino, &fd);
	pthread_mutex_unlock(&t->lock);
	safe_close(fd);
}

void vfsd_inode_forget(struct vfsd_inodes *t, uint64_t nodeid, uint64_t n)
{
	int fd = -EBADF;

	pthread_mutex_lock(&t->lock);
	if (nodeid < t->nslots && t->slots[nodeid]) {
		struct vfsd_inode *ino = t->slots[nodeid];

		ino->nlookup = n > ino->nlookup ? 0 : ino->nlookup - n;
		maybe_free(t, ino, &fd);
	}
	pthread_mutex_unlock(&t->lock);
	safe_close(fd);
}

/*
 * Can handles be made and opened here?  open_by_handle_at needs
 * CAP_DAC_READ_SEARCH (absent in a user namespace) and filesystem support.
 */
static int probe_handles(struct vfsd_inodes *t, int root_fd, const struct statx *st)
{
	_cleanup_free_ struct file_handle *fh = NULL;
	_cleanup_close_ int fd = -EBADF;
	int mount_fd, r;

	r = make_handle(t, root_fd, st, &fh, &mount_fd);
	if (r < 0)
		return r;
	fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
	return fd < 0 ? -errno : 0;
}

int vfsd_inodes_init(struct vfsd_inodes *t, int root_fd, unsigned max_fds, int proc_self_fd,
                     enum vfsd_fh_mode fh_mode)
{
	struct statx st;
	struct vfsd_inode *root;
	size_t id;
	int r;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->max_fds = max_fds;
	t->proc_self_fd = proc_self_fd;
	t->fh_mode = VFSD_FH_NEVER; /* the root keeps its fd for good */
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
	t->root = root;
	if (fh_mode == VFSD_FH_NEVER)
		return 0;
	r = probe_handles(t, root->fd, &st);
	if (r == 0) {
		t->fh_mode = fh_mode;
		vfsd_seccomp_allow_file_handles();
		log_info("inodes keep file handles; at most %u of their fds stay open", max_fds);
	} else if (fh_mode == VFSD_FH_MANDATORY) {
		log_error("--inode-file-handles=mandatory: file handles do not work on the shared "
		          "directory (%s%s)",
		          strerror(-r),
		          r == -EPERM ? ": open_by_handle_at needs CAP_DAC_READ_SEARCH" : "");
		return r;
	} else {
		log_warn("--inode-file-handles=prefer: file handles do not work here (%s); "
		         "inodes keep O_PATH fds",
		         strerror(-r));
	}
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
		maybe_free(t, ino, NULL);
	}
	pthread_mutex_unlock(&t->lock);
}

void vfsd_inodes_destroy(struct vfsd_inodes *t)
{
	for (size_t i = 0; i < t->nslots; i++)
		if (t->slots[i]) {
			safe_close(t->slots[i]->fd);
			free(t->slots[i]->fh);
			free(t->slots[i]);
		}
	for (size_t i = 0; i < t->nmounts; i++)
		safe_close(t->mounts[i].fd);
	free(t->mounts);
	free(t->slots);
	free(t->free_ids);
	free(t->hash);
	pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof(*t));
}
