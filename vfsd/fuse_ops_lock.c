// SPDX-License-Identifier: MIT
/*
 * FUSE lock operations: GETLK, SETLK, SETLKW, backed by the host's
 * open-file-description (OFD) locks and flock(2) (see fuse_ops_lock.h).
 *
 * Why OFD locks: classic POSIX locks belong to the process, so every guest
 * owner would be vfsd itself (no conflicts between guest processes) and any
 * close() in vfsd (FLUSH closes a duplicate) would drop all of them.  An OFD
 * lock belongs to one open file description: reopening the file once per
 * (file, lock_owner) gives each guest owner its own, conflicting with the
 * others, with host processes' POSIX and OFD locks, and released by closing
 * that one fd.
 *
 * SETLKW: the request is first tried without waiting; if it would block, a
 * waiter thread takes a copy of the chain and a reference to the owner fd
 * (or the handle, for flock), waits in the host's F_OFD_SETLKW/flock, and
 * completes the chain through fs->complete.  Cancelling sets a flag and
 * sends VFSD_LOCK_SIGNAL (a no-op handler installed without SA_RESTART, so
 * the wait returns EINTR); the canceller repeats the signal every 10 ms
 * while it waits, which covers a signal that lands just before the waiter
 * enters the syscall.  Waiters unlink themselves under the table lock after
 * their chain is completed and their references are dropped, so "no waiter
 * left on queue q" means every deferred chain of q is on the used ring.
 *
 * The answer of a cancelled wait is EINTR only for INTERRUPT: the guest
 * kernel turns a lock's EINTR into ERESTARTSYS, which without a pending
 * signal reaches the program as errno 512.  Every other cancel (RELEASE,
 * queue stop, DESTROY, INIT) answers ENOLCK.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "vfsd/fuse_server.h"
#include "vfsd/seccomp.h"

#define VFSD_LOCK_SIGNAL     SIGUSR2
#define VFSD_LOCK_STACK_SIZE (256u << 10)

struct vfsd_lock_owner {
	struct vfsd_lock_owner *next;
	dev_t dev;
	ino_t ino;
	uint64_t owner;
	uint64_t fh;   /* the handle it was made through: dropped at its RELEASE */
	int fd;        /* this owner's open file description */
	uint32_t pid;  /* the guest's pid that last took a lock, for GETLK */
	unsigned refs; /* the table's (while linked) + waiters' */
	bool linked;
};

struct vfsd_lock_waiter {
	struct vfsd_lock_waiter *next;
	struct vfsd_fs *fs;
	pthread_t thread;
	unsigned qidx;
	uint64_t unique, fh;
	bool cancel;                /* accessed atomically */
	int cancel_err;             /* the answer once cancelled, set before cancel */
	struct vfsd_lock_owner *lo; /* POSIX: the owner's fd */
	struct vfsd_handle *h;      /* flock: the handle */
	struct flock fl;
	int flock_op;
	uint32_t pid;              /* the guest's, recorded in the owner when granted */
	struct vfsd_vq_elem *elem; /* copy of the chain (head and used iovecs) */
	bool answered;             /* its chain is on the used ring (l->lock) */
	bool abandoned;            /* answered by a canceller that gave up waiting (l->lock) */
};

/* How long a canceller that must see waiters gone waits before it answers for them. */
#define VFSD_LOCK_CANCEL_WAIT_MS 2000

static void lock_signal_handler(int sig)
{
	(void)sig; /* only there to make the waiting syscall return EINTR */
}

int vfsd_locks_init(struct vfsd_locks *l, unsigned max_owners)
{
	struct sigaction sa = {.sa_handler = lock_signal_handler};

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->changed, NULL);
	l->max_owners = max_owners;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VFSD_LOCK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

static unsigned owner_bucket(dev_t dev, ino_t ino, uint64_t owner)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ owner * 0xc2b2ae3d27d4eb4full ^ dev;

	return (unsigned)(h >> 40) % VFSD_LOCK_BUCKETS;
}

/*
 * Drops one reference; with the last the owner is freed and its fd handed
 * back for the caller to close once l->lock is dropped: closing runs the
 * file system's flush and lock release, which a FUSE file system in the
 * share may hold forever (red team, vfsd_redteam18 "slowclose").  Under
 * l->lock.  Return: the fd to close, or -EBADF.
 */
static int owner_put_locked(struct vfsd_locks *l, struct vfsd_lock_owner *lo)
{
	int fd;

	if (!lo || --lo->refs)
		return -EBADF;
	fd = lo->fd;
	free(lo);
	l->nowners--;
	return fd;
}

/* owner_put_locked() and the close, without l->lock held. */
static void owner_put(struct vfsd_locks *l, struct vfsd_lock_owner *lo)
{
	int fd;

	if (!lo)
		return;
	pthread_mutex_lock(&l->lock);
	fd = owner_put_locked(l, lo);
	pthread_mutex_unlock(&l->lock);
	safe_close(fd);
}

/* Takes lo out of the table and drops the table's reference (see owner_put_locked()). */
static int owner_unlink_locked(struct vfsd_locks *l, struct vfsd_lock_owner *lo)
{
	struct vfsd_lock_owner **p = &l->owners[owner_bucket(lo->dev, lo->ino, lo->owner)];

	while (*p && *p != lo)
		p = &(*p)->next;
	if (*p)
		*p = lo->next;
	lo->linked = false;
	return owner_put_locked(l, lo);
}

/* The owner (dev, ino, owner) in bucket b, or NULL.  Under l->lock. */
static struct vfsd_lock_owner *owner_find_locked(struct vfsd_locks *l, unsigned b, dev_t dev,
                                                 ino_t ino, uint64_t owner)
{
	struct vfsd_lock_owner *lo;

	for (lo = l->owners[b]; lo; lo = lo->next)
		if (lo->dev == dev && lo->ino == ino && lo->owner == owner)
			break;
	return lo;
}

/*
 * owner_get() - the lock owner's entry for the file open as hd, with a
 * reference, created when create is set.  The new fd is a reopen of the
 * handle's fd with the same access mode (locks are checked against the
 * handle's own mode, handle_may_lock()).  The reopen runs outside the table
 * lock: it is an open() of a guest-chosen file, which a FUSE file system
 * mounted in the share may hold as long as it likes, and under the lock it
 * held every lock request of every queue and the cancelling of waiters (a
 * queue stop, a disconnect) with it (red team, vfsd_redteam18 "slowopen").
 * Its place under the cap is taken before the open.
 * Return: 0 (*ret NULL if absent and !create), -ENOLCK past the owner cap,
 * or -errno.
 */
static int owner_get(struct vfsd_fs *fs, struct vfsd_handle *hd, uint64_t owner, bool create,
                     struct vfsd_lock_owner **ret)
{
	struct vfsd_locks *l = &fs->locks;
	struct vfsd_lock_owner *lo, *other;
	struct stat st;
	char name[16];
	unsigned b;
	int fl;

	*ret = NULL;
	/*
	 * Every FLUSH and RELEASE asks; with no owner fd open anywhere (a guest
	 * that takes no POSIX locks) the answer needs no fstat.
	 */
	if (!create) {
		pthread_mutex_lock(&l->lock);
		b = l->nowners;
		pthread_mutex_unlock(&l->lock);
		if (b == 0)
			return 0;
	}
	if (fstat(hd->fd, &st) < 0)
		return -errno;
	b = owner_bucket(st.st_dev, st.st_ino, owner);
	pthread_mutex_lock(&l->lock);
	lo = owner_find_locked(l, b, st.st_dev, st.st_ino, owner);
	if (lo || !create || l->nowners >= l->max_owners) {
		if (lo)
			lo->refs++;
		pthread_mutex_unlock(&l->lock);
		*ret = lo;
		return lo || !create ? 0 : -ENOLCK;
	}
	l->nowners++; /* our place under the cap while we open */
	pthread_mutex_unlock(&l->lock);

	lo = calloc(1, sizeof(*lo));
	fl = fcntl(hd->fd, F_GETFL);
	if (lo && fl >= 0) {
		/* Handles are regular files (vfsd_op_open, vfsd_op_create). */
		vfsd_fd_name(hd->fd, name);
		lo->fd = openat(fs->proc_self_fd, name,
		                (fl & O_ACCMODE) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (!lo || fl < 0 || lo->fd < 0) {
		int r = !lo ? -ENOMEM : -errno;

		free(lo);
		pthread_mutex_lock(&l->lock);
		l->nowners--;
		pthread_mutex_unlock(&l->lock);
		return r;
	}
	lo->dev = st.st_dev;
	lo->ino = st.st_ino;
	lo->owner = owner;
	lo->fh = hd->id;
	pthread_mutex_lock(&l->lock);
	other = owner_find_locked(l, b, st.st_dev, st.st_ino, owner);
	if (other) {
		/* Another request of the owner made it meanwhile: use that one. */
		other->refs++;
		l->nowners--;
		pthread_mutex_unlock(&l->lock);
		safe_close(lo->fd);
		free(lo);
		*ret = other;
		return 0;
	}
	lo->refs = 2; /* the table's and ours */
	lo->linked = true;
	lo->next = l->owners[b];
	l->owners[b] = lo;
	pthread_mutex_unlock(&l->lock);
	*ret = lo;
	return 0;
}

void vfsd_locks_flush(struct vfsd_fs *fs, int fd, uint64_t owner)
{
	struct vfsd_locks *l = &fs->locks;
	struct vfsd_lock_owner *lo;
	struct stat st;
	int drop = -EBADF;
	unsigned n;

	/* Every FLUSH comes here: with no owner fd open, no fstat is needed. */
	pthread_mutex_lock(&l->lock);
	n = l->nowners;
	pthread_mutex_unlock(&l->lock);
	if (n == 0)
		return;
	if (fstat(fd, &st) < 0)
		return;
	pthread_mutex_lock(&l->lock);
	for (lo = l->owners[owner_bucket(st.st_dev, st.st_ino, owner)]; lo; lo = lo->next)
		if (lo->dev == st.st_dev && lo->ino == st.st_ino && lo->owner == owner) {
			drop = owner_unlink_locked(l, lo);
			break;
		}
	pthread_mutex_unlock(&l->lock);
	safe_close(drop);
}

/* --- waiters ------------------------------------------------------------- */

/*
 * Marks the matching waiters cancelled (answer err, unless an earlier cancel
 * chose one) and signals them.  Under l->lock.
 */
static void waiter_complete(struct vfsd_lock_waiter *w, int err);

/*
 * With abandon, a matching waiter not answered yet is answered here (its
 * cancel errno) and left to end on its own: its thread is stuck in a
 * file system that ignores the signal (FUSE waits killable once it has
 * sent INTERRUPT).  Return: whether a matching waiter is left to wait for
 * (abandoned ones are not).
 */
static bool cancel_matching_locked(struct vfsd_locks *l,
                                   bool (*match)(struct vfsd_lock_waiter *, uint64_t), uint64_t arg,
                                   int err, bool abandon, unsigned *nabandoned)
{
	bool any = false;

	for (struct vfsd_lock_waiter *w = l->waiters; w; w = w->next) {
		if (!match(w, arg) || w->abandoned)
			continue;
		if (!__atomic_load_n(&w->cancel, __ATOMIC_SEQ_CST)) {
			w->cancel_err = err;
			__atomic_store_n(&w->cancel, true, __ATOMIC_SEQ_CST);
		}
		if (abandon && !w->answered) {
			waiter_complete(w, w->cancel_err);
			w->answered = w->abandoned = true;
			(*nabandoned)++;
			continue;
		}
		any = true;
		pthread_kill(w->thread, VFSD_LOCK_SIGNAL);
	}
	return any;
}

/*
 * Cancels the matching waiters; with wait, until none of them is left, or
 * answered for them after VFSD_LOCK_CANCEL_WAIT_MS (a waiter that a file
 * system in the share holds — a FUSE mount that ignores INTERRUPT — once
 * kept a disconnect, and so every later front-end, waiting forever: red
 * team, vfsd_redteam18 "slowwait").
 */
static void cancel_waiters(struct vfsd_fs *fs, bool (*match)(struct vfsd_lock_waiter *, uint64_t),
                           uint64_t arg, int err, bool wait)
{
	struct vfsd_locks *l = &fs->locks;
	struct timespec start, now;
	bool abandon = false;
	unsigned gave_up = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	pthread_mutex_lock(&l->lock);
	while (cancel_matching_locked(l, match, arg, err, abandon, &gave_up) && wait) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &now);
		abandon =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    VFSD_LOCK_CANCEL_WAIT_MS;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&l->changed, &l->lock, &ts);
	}
	pthread_mutex_unlock(&l->lock);
	if (gave_up)
		log_warn("%u lock waiter(s) did not end when cancelled (a file system in the share "
		         "holds them): answered ENOLCK, their threads end when it lets go",
		         gave_up);
}

static bool match_all(struct vfsd_lock_waiter *w, uint64_t arg)
{
	(void)w;
	(void)arg;
	return true;
}

static bool match_queue(struct vfsd_lock_waiter *w, uint64_t qidx)
{
	return w->qidx == qidx;
}

static bool match_unique(struct vfsd_lock_waiter *w, uint64_t unique)
{
	return w->unique == unique;
}

static bool match_fh(struct vfsd_lock_waiter *w, uint64_t fh)
{
	return w->fh == fh;
}

void vfsd_locks_quiesce(struct vfsd_fs *fs, unsigned qidx)
{
	cancel_waiters(fs, match_queue, qidx, -ENOLCK, true);
}

void vfsd_locks_interrupt(struct vfsd_fs *fs, uint64_t unique)
{
	cancel_waiters(fs, match_unique, unique, -EINTR, false);
}

void vfsd_locks_release(struct vfsd_fs *fs, uint64_t fh)
{
	struct vfsd_locks *l = &fs->locks;

	cancel_waiters(fs, match_fh, fh, -ENOLCK, false);
	/*
	 * The guest's last close of the file: its OFD locks, owned by the file
	 * itself and so never named by a FLUSH, go with it (they stayed held
	 * for good; found by tests/posix/difftest --locks).  A process's POSIX
	 * locks taken through this file were dropped by the FLUSH of its close.
	 */
	for (unsigned b = 0; b < VFSD_LOCK_BUCKETS; b++)
		for (;;) {
			struct vfsd_lock_owner *lo;
			int fd = -EBADF;

			/* One at a time: each close runs without the lock (owner_put_locked()). */
			pthread_mutex_lock(&l->lock);
			for (lo = l->owners[b]; lo && lo->fh != fh; lo = lo->next)
				;
			if (lo)
				fd = owner_unlink_locked(l, lo);
			pthread_mutex_unlock(&l->lock);
			if (!lo)
				break;
			safe_close(fd);
		}
}

void vfsd_locks_reset(struct vfsd_fs *fs)
{
	struct vfsd_locks *l = &fs->locks;

	cancel_waiters(fs, match_all, 0, -ENOLCK, true);
	for (unsigned b = 0; b < VFSD_LOCK_BUCKETS; b++)
		for (;;) {
			int fd = -EBADF;
			bool more;

			/* One at a time: each close runs without the lock. */
			pthread_mutex_lock(&l->lock);
			more = l->owners[b] != NULL;
			if (more)
				fd = owner_unlink_locked(l, l->owners[b]);
			pthread_mutex_unlock(&l->lock);
			if (!more)
				break;
			safe_close(fd);
		}
}

void vfsd_locks_destroy(struct vfsd_fs *fs)
{
	vfsd_locks_reset(fs);
	pthread_cond_destroy(&fs->locks.changed);
	pthread_mutex_destroy(&fs->locks.lock);
}

/* Writes the reply header into the chain copy and puts it on the used ring. */
static void waiter_complete(struct vfsd_lock_waiter *w, int err)
{
	struct vfsd_vq_elem *e = w->elem;
	struct vfsd_req req = {
	    .fs = w->fs,
	    .in = {.unique = w->unique},
	    .wr = e->iov + e->n_rd,
	    .n_wr = e->n_wr,
	    .wr_len = e->wr_len,
	};

	if (err < 0)
		vfsd_reply_err(&req, err);
	else
		vfsd_reply(&req, NULL, 0);
	w->fs->complete(w->fs->complete_ctx, w->qidx, e, req.out_len);
}

static void *waiter_main(void *arg)
{
	struct vfsd_lock_waiter *w = arg;
	struct vfsd_locks *l = &w->fs->locks;
	sigset_t set;
	int r, drop;

	sigemptyset(&set);
	sigaddset(&set, VFSD_LOCK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		if (__atomic_load_n(&w->cancel, __ATOMIC_SEQ_CST)) {
			r = w->cancel_err;
			break;
		}
		r = w->h ? flock(w->h->fd, w->flock_op) : fcntl(w->lo->fd, F_OFD_SETLKW, &w->fl);
		if (r == 0) {
			if (w->lo)
				__atomic_store_n(&w->lo->pid, w->pid, __ATOMIC_RELAXED);
			break;
		}
		r = -errno;
		if (r != -EINTR)
			break;
	}
	/* Under the lock: a canceller that gave up on us may have answered already. */
	pthread_mutex_lock(&l->lock);
	if (!w->answered)
		waiter_complete(w, r);
	w->answered = true;
	pthread_mutex_unlock(&l->lock);
	vfsd_handle_put(&w->fs->handles, w->h);
	pthread_mutex_lock(&l->lock);
	drop = owner_put_locked(l, w->lo);
	for (struct vfsd_lock_waiter **p = &l->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	l->nwaiters--;
	pthread_cond_broadcast(&l->changed);
	pthread_mutex_unlock(&l->lock);
	safe_close(drop);
	free(w->elem);
	free(w);
	return NULL;
}

/*
 * start_waiter() - hand a SETLKW that would block to a waiter thread; it
 * takes over the references in lo or h.  The request is then deferred.
 * Return: 0, -ENOLCK past VFSD_LOCK_WAITERS or when no thread can start
 * (not EAGAIN: F_SETLKW callers do not expect "would block"), -ENOMEM.
 */
static int start_waiter(struct vfsd_req *req, struct vfsd_lock_owner *lo, struct vfsd_handle *h,
                        const struct flock *fl, int flock_op, uint64_t fh)
{
	struct vfsd_locks *l = &req->fs->locks;
	struct vfsd_vq_elem *e = req->elem;
	struct vfsd_lock_waiter *w;
	pthread_attr_t attr;
	int r = 0;

	if (!req->fs->complete || !e)
		return -ENOLCK;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->elem = malloc(sizeof(*w->elem));
	if (!w->elem) {
		free(w);
		return -ENOMEM;
	}
	/* The head, the lengths and the iovecs in use. */
	memcpy(w->elem, e,
	       offsetof(struct vfsd_vq_elem, iov) + (e->n_rd + e->n_wr) * sizeof(e->iov[0]));
	w->fs = req->fs;
	w->qidx = req->t->qidx;
	w->unique = req->in.unique;
	w->fh = fh;
	w->lo = lo;
	w->h = h;
	w->fl = *fl;
	w->flock_op = flock_op;
	w->pid = ((const struct fuse_lk_in *)req->arg)->lk.pid;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, VFSD_LOCK_STACK_SIZE);
	pthread_mutex_lock(&l->lock);
	if (l->nwaiters >= VFSD_LOCK_WAITERS) {
		r = -ENOLCK;
	} else {
		/* Linked before it runs: it cannot unlink itself before we unlock. */
		w->next = l->waiters;
		l->waiters = w;
		l->nwaiters++;
		if (pthread_create(&w->thread, &attr, waiter_main, w)) {
			l->waiters = w->next;
			l->nwaiters--;
			r = -ENOLCK;
		}
	}
	pthread_mutex_unlock(&l->lock);
	pthread_attr_destroy(&attr);
	if (r < 0) {
		free(w->elem);
		free(w);
		return r;
	}
	req->deferred = true;
	return 0;
}

/* --- the operations ------------------------------------------------------ */

/* A FUSE lock range as a struct flock; -EINVAL for what no kernel sends. */
static int lk_to_flock(const struct fuse_file_lock *lk, struct flock *fl)
{
	if (lk->type != F_RDLCK && lk->type != F_WRLCK && lk->type != F_UNLCK)
		return -EINVAL;
	if (lk->start > INT64_MAX || lk->end < lk->start)
		return -EINVAL;
	*fl = (struct flock){
	    .l_type = (short)lk->type,
	    .l_whence = SEEK_SET,
	    .l_start = (off_t)lk->start,
	    /* The kernel sends OFFSET_MAX for "to the end". */
	    .l_len = lk->end >= INT64_MAX ? 0 : (off_t)(lk->end - lk->start + 1),
	};
	return 0;
}

/*
 * holder_pid() - the guest pid to report for a conflicting lock c seen from
 * the requester's fd: OFD locks (l_pid -1) on this file may belong to another
 * guest owner, which does not see its own lock when it asks about c's range;
 * the first such owner is taken.  0 for host locks (host pids mean nothing in
 * the guest) and when no owner fits.
 */
static uint32_t holder_pid(struct vfsd_locks *l, const struct vfsd_lock_owner *me, dev_t dev,
                           ino_t ino, const struct flock *c)
{
	_cleanup_free_ struct vfsd_lock_owner **cand = NULL;
	unsigned n = 0;
	uint32_t pid = 0;

	if (c->l_pid != -1)
		return 0;
	/*
	 * The other owners of the file, with a reference each, asked without
	 * l->lock: F_OFD_GETLK reaches the file system, which a FUSE mount in
	 * the share may never answer (red team, vfsd_redteam18).
	 */
	pthread_mutex_lock(&l->lock);
	cand = calloc(l->nowners ? l->nowners : 1, sizeof(*cand));
	for (unsigned b = 0; cand && b < VFSD_LOCK_BUCKETS; b++)
		for (struct vfsd_lock_owner *lo = l->owners[b]; lo && n < l->nowners; lo = lo->next)
			if (lo != me && lo->dev == dev && lo->ino == ino) {
				lo->refs++;
				cand[n++] = lo;
			}
	pthread_mutex_unlock(&l->lock);
	for (unsigned i = 0; i < n && !pid; i++) {
		struct flock q = {.l_type = F_WRLCK,
		                  .l_whence = SEEK_SET,
		                  .l_start = c->l_start,
		                  .l_len = c->l_len};

		if (fcntl(cand[i]->fd, F_OFD_GETLK, &q) < 0)
			continue;
		if (q.l_type == F_UNLCK || q.l_start != c->l_start || q.l_len != c->l_len ||
		    q.l_type != c->l_type)
			pid = __atomic_load_n(&cand[i]->pid, __ATOMIC_RELAXED);
	}
	for (unsigned i = 0; i < n; i++)
		owner_put(l, cand[i]);
	return pid;
}

/*
 * handle_may_lock() - may the guest's open h take a lock of this type?  As
 * fcntl(2) on the host: a read lock needs an open for reading, a write lock
 * one for writing (EBADF otherwise); unlocking is always allowed.
 */
static int handle_may_lock(struct vfsd_handle *h, short type)
{
	int fl;

	if (type == F_UNLCK)
		return 0;
	fl = fcntl(h->fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (type == F_RDLCK && (fl & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (type == F_WRLCK && (fl & O_ACCMODE) == O_RDONLY)
		return -EBADF;
	return 0;
}

/* What GETLK and SETLK(W) of a POSIX lock check first: 0 with the range in *fl and the open in *h.
 */
static int posix_lock_begin(struct vfsd_req *req, const struct fuse_lk_in *in, struct flock *fl,
                            struct vfsd_handle **h)
{
	int r;

	if (!(req->fs->flags & FUSE_POSIX_LOCKS))
		return -ENOSYS;
	r = lk_to_flock(&in->lk, fl);
	if (r < 0)
		return r;
	*h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	return *h ? 0 : -EBADF;
}

int vfsd_op_getlk(struct vfsd_req *req)
{
	const struct fuse_lk_in *in = (const void *)req->arg;
	struct fuse_lk_out out = {0};
	struct vfsd_lock_owner *lo = NULL;
	struct vfsd_handle *h;
	struct flock fl;
	struct stat st;
	int r;

	r = posix_lock_begin(req, in, &fl, &h);
	if (r < 0)
		return r;
	/*
	 * The owner's own locks never conflict with it: ask through its fd.
	 * Without one it holds no locks, and the handle's fd (which never
	 * holds OFD locks) sees every other owner's and the host's.
	 */
	r = owner_get(req->fs, h, in->owner, false, &lo);
	if (r >= 0 && fcntl(lo ? lo->fd : h->fd, F_OFD_GETLK, &fl) < 0)
		r = -errno;
	if (r >= 0 && fl.l_type != F_UNLCK && fstat(h->fd, &st) == 0)
		out.lk.pid = holder_pid(&req->fs->locks, lo, st.st_dev, st.st_ino, &fl);
	owner_put(&req->fs->locks, lo);
	vfsd_handle_put(&req->fs->handles, h);
	if (r < 0)
		return r;
	out.lk.type = (uint32_t)fl.l_type;
	if (fl.l_type != F_UNLCK) {
		out.lk.start = (uint64_t)fl.l_start;
		out.lk.end = fl.l_len ? (uint64_t)(fl.l_start + fl.l_len - 1) : INT64_MAX;
	}
	return vfsd_reply(req, &out, sizeof(out));
}

static int setlk_flock(struct vfsd_req *req, const struct fuse_lk_in *in, bool sleep)
{
	struct vfsd_handle *h;
	struct flock none = {0};
	int op, r = 0;

	if (!(req->fs->flags & FUSE_FLOCK_LOCKS))
		return -ENOSYS;
	if (in->lk.type != F_RDLCK && in->lk.type != F_WRLCK && in->lk.type != F_UNLCK)
		return -EINVAL;
	op = in->lk.type == F_UNLCK ? LOCK_UN : in->lk.type == F_RDLCK ? LOCK_SH : LOCK_EX;
	h = vfsd_handle_get(&req->fs->handles, in->fh, false);
	if (!h)
		return -EBADF;
	if (flock(h->fd, op | LOCK_NB) < 0)
		r = -errno;
	if (r == -EWOULDBLOCK && sleep) {
		r = start_waiter(req, NULL, h, &none, op, in->fh);
		if (r == 0)
			return 0; /* the waiter owns h now */
	}
	vfsd_handle_put(&req->fs->handles, h);
	if (r == -EWOULDBLOCK)
		r = -EAGAIN;
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

int vfsd_op_setlk(struct vfsd_req *req)
{
	const struct fuse_lk_in *in = (const void *)req->arg;
	bool sleep = req->in.opcode == FUSE_SETLKW;
	struct vfsd_lock_owner *lo = NULL;
	struct vfsd_handle *h;
	struct flock fl;
	int r;

	if (in->lk_flags & FUSE_LK_FLOCK)
		return setlk_flock(req, in, sleep);
	r = posix_lock_begin(req, in, &fl, &h);
	if (r < 0)
		return r;
	/*
	 * The guest's open decides, not the owner's fd: that one was reopened
	 * from whichever open first locked for this owner, maybe a read-write
	 * one since released.  Without this a guest wrote-locked host files
	 * through read-only opens (red team, vfsd_redteam18 "lockmode").
	 */
	r = handle_may_lock(h, fl.l_type);
	/* Unlocking an owner without an fd has nothing to drop. */
	if (r >= 0)
		r = owner_get(req->fs, h, in->owner, fl.l_type != F_UNLCK, &lo);
	vfsd_handle_put(&req->fs->handles, h);
	if (r < 0 || !lo)
		return r < 0 ? r : vfsd_reply(req, NULL, 0);
	if (fcntl(lo->fd, F_OFD_SETLK, &fl) < 0)
		r = -errno;
	else if (fl.l_type != F_UNLCK)
		__atomic_store_n(&lo->pid, in->lk.pid, __ATOMIC_RELAXED);
	if ((r == -EAGAIN || r == -EACCES) && sleep) {
		r = start_waiter(req, lo, NULL, &fl, 0, in->fh);
		if (r == 0)
			return 0; /* the waiter owns lo now */
	}
	owner_put(&req->fs->locks, lo);
	if (r == -EACCES)
		r = -EAGAIN;
	return r < 0 ? r : vfsd_reply(req, NULL, 0);
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_fuse_lock[] = {
    /* owner fds: fstat for the file's identity, a /proc/self/fd reopen */
    "fstat",
    "newfstatat",
    "openat",
    "fcntl",
    "flock",
    "close",
    /* waiter threads (clone is checked in seccomp.c) and their wake-up signal */
    "tgkill",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "clock_gettime",
    NULL,
};
