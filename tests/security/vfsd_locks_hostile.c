// SPDX-License-Identifier: MIT
/*
 * A hostile guest against vfsd's host-shared locks (fuse_ops_lock.c), run by
 * tests/security/vfsd_locks_hostile.sh.  The program is VMM and guest driver
 * at once (tests/helpers/vfsd_frontend.h) and keeps many chains in flight:
 *
 *  - garbage in GETLK/SETLK/SETLKW (fh, lock type, ranges, short arguments,
 *    a directory's fh, a write lock through a read-only open): EBADF/EINVAL,
 *    never a lock;
 *  - a symlink in the share that points outside it: no open, no lock on the
 *    outside file whatever nodeid/fh the guest names;
 *  - a flood of SETLKW against a host-held lock: VFSD_LOCK_WAITERS (64) wait,
 *    the rest get ENOLCK at once, vfsd's thread count grows by the cap at
 *    most, other requests keep being answered, INTERRUPT ends one waiter with
 *    EINTR, RELEASE of its file ends another with ENOLCK, and the host's
 *    unlock grants the others;
 *  - the front-end disconnects with 64 waiters: vfsd cancels them, its threads
 *    and fds come back to where they were, the guest's locks are gone, and a
 *    new front-end connects and is served.
 */
#define QNUM 256 /* room for more chains than the waiter cap */
#include "tests/helpers/vfsd_frontend.h"

#include <dirent.h>
#include <getopt.h>
#include <sys/file.h>

#define NSLOT       120
#define SLOT_SZ     512
#define SLOT_IN(i)  (IN_BUF + (uint64_t)(i)*SLOT_SZ)
#define SLOT_OUT(i) (OUT_BUF + (uint64_t)(i)*SLOT_SZ)
#define CAP         64 /* VFSD_LOCK_WAITERS */

static const char *tag = "locks";

/* --- chains in flight ----------------------------------------------------- */

static struct slot {
	bool busy, done;
	unsigned q;
	uint64_t unique;
	int error;
} slot[NSLOT];

/* Queues one request on q in slot i (header + arg, a 512-byte reply buffer). */
static void a_submit(unsigned i, unsigned q, uint32_t opcode, uint64_t nodeid, const void *arg,
                     size_t arglen)
{
	struct fuse_in_header *ih = (void *)(g + SLOT_IN(i));
	struct vfsd_vring_desc *d = drv_desc(q);
	uint16_t *avail = drv_avail(q);
	uint64_t one = 1;

	uint64_t u = unique++;

	slot[i] = (struct slot){.busy = true, .q = q, .unique = u};
	*ih = (struct fuse_in_header){.len = (uint32_t)(sizeof(*ih) + arglen),
	                              .opcode = opcode,
	                              .unique = slot[i].unique,
	                              .nodeid = nodeid};
	memcpy(ih + 1, arg, arglen);
	memset(g + SLOT_OUT(i), 0xee, sizeof(struct fuse_out_header));
	d[2 * i] = (struct vfsd_vring_desc){SLOT_IN(i), ih->len, VFSD_VRING_DESC_F_NEXT,
	                                    (uint16_t)(2 * i + 1)};
	d[2 * i + 1] = (struct vfsd_vring_desc){SLOT_OUT(i), SLOT_SZ, VFSD_VRING_DESC_F_WRITE, 0};
	avail[2 + dq[q].avail_idx % QNUM] = (uint16_t)(2 * i);
	__atomic_store_n(&avail[1], ++dq[q].avail_idx, __ATOMIC_RELEASE);
	(void)!write(dq[q].kick, &one, 8);
}

/* Collects completed chains of q. */
static void a_reap(unsigned q)
{
	uint16_t *used = drv_used(q), *avail = drv_avail(q);
	struct vfsd_vring_used_elem *ue = (void *)(used + 2);

	while (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != dq[q].used_seen) {
		struct vfsd_vring_used_elem e = ue[dq[q].used_seen % QNUM];
		unsigned i = e.id / 2;

		dq[q].used_seen++;
		if (i >= NSLOT || !slot[i].busy)
			continue;
		struct fuse_out_header *oh = (void *)(g + SLOT_OUT(i));

		slot[i].done = true;
		slot[i].busy = false;
		slot[i].error = e.len >= sizeof(*oh) && oh->unique == slot[i].unique ? oh->error
		                : e.len == 0                                         ? 0
		                                                                     : 1001;
	}
	avail[2 + QNUM] = dq[q].used_seen; /* used_event: call on the next completion */
}

/* Reaps for ms milliseconds, or until slot i (if >= 0) is done. */
static void a_wait(int i, int ms)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p[2] = {{.fd = dq[0].call, .events = POLLIN},
		                      {.fd = dq[1].call, .events = POLLIN}};
		uint64_t v;

		a_reap(0);
		a_reap(1);
		if (i >= 0 && slot[i].done)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >=
		    ms)
			return;
		poll(p, 2, 10);
		(void)!read(dq[0].call, &v, 8);
		(void)!read(dq[1].call, &v, 8);
	}
}

/* --- vfsd's resources ----------------------------------------------------- */

/* Waits up to 3 s for vfsd's threads to drop to n or fewer. */
static int threads_settle(int n)
{
	int t = vfsd_threads();

	for (int k = 0; k < 30 && t > n; k++) {
		usleep(100000);
		t = vfsd_threads();
	}
	return t;
}

/* --- requests --------------------------------------------------------------- */

static struct fuse_lk_in lk(uint64_t fh, uint64_t owner, uint32_t type, uint64_t start,
                            uint64_t end, bool flock_)
{
	return (struct fuse_lk_in){.fh = fh,
	                           .owner = owner,
	                           .lk = {.start = start, .end = end, .type = type},
	                           .lk_flags = flock_ ? FUSE_LK_FLOCK : 0};
}

static int lock_call(uint32_t op, uint64_t node, struct fuse_lk_in in)
{
	return CALL(op, node, &in, sizeof(in)).error;
}

static int init_with_locks(uint32_t *flags)
{
	struct fuse_init_in in = {.major = 7,
	                          .minor = 38,
	                          .max_readahead = 65536,
	                          .flags = FUSE_ASYNC_READ | FUSE_INIT_EXT | FUSE_MAX_PAGES |
	                                   FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS};
	struct reply r = CALL(FUSE_INIT, 0, &in, sizeof(in));

	if (r.error)
		return r.error;
	*flags = ((struct fuse_init_out *)r.data)->flags;
	return 0;
}

/* Does the host see any lock on path (an OFD F_GETLK for a write lock)? */
static bool host_sees_lock(const char *path)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool locked = fd < 0 || fcntl(fd, F_OFD_GETLK, &fl) < 0 || fl.l_type != F_UNLCK;

	if (fd >= 0)
		close(fd);
	return locked;
}

/*
 * The host's own OFD write lock and exclusive flock on path (the two kinds do
 * not conflict with each other): returns the fd, -1 if either is refused.
 */
static int host_lock(const char *path)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd >= 0 && (fcntl(fd, F_OFD_SETLK, &fl) < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_garbage(uint64_t node, uint64_t fh, uint64_t fh_ro)
{
	struct reply r;
	uint64_t dfh = 0;
	struct fuse_open_in oi = {.flags = O_RDONLY | O_DIRECTORY};

	T(lock_call(FUSE_SETLK, node, lk(123456, 1, F_WRLCK, 0, INT64_MAX, false)) == -EBADF,
	  "%s: SETLK with an fh never opened: EBADF", tag);
	T(lock_call(FUSE_SETLKW, node, lk(123456, 1, F_WRLCK, 0, INT64_MAX, false)) == -EBADF,
	  "%s: SETLKW with an fh never opened: EBADF", tag);
	T(lock_call(FUSE_GETLK, node, lk(~0ull, 1, F_WRLCK, 0, INT64_MAX, false)) == -EBADF,
	  "%s: GETLK with fh ~0: EBADF", tag);
	T(lock_call(FUSE_SETLKW, node, lk(~0ull, 1, F_WRLCK, 0, 0, true)) == -EBADF,
	  "%s: flock SETLKW with fh ~0: EBADF", tag);
	T(lock_call(FUSE_SETLK, node, lk(fh, 1, 7, 0, INT64_MAX, false)) == -EINVAL,
	  "%s: SETLK with lock type 7: EINVAL", tag);
	T(lock_call(FUSE_SETLKW, node, lk(fh, 1, 0xffffffff, 0, 0, true)) == -EINVAL,
	  "%s: flock SETLKW with lock type ~0: EINVAL", tag);
	T(lock_call(FUSE_SETLK, node, lk(fh, 1, F_WRLCK, 1ull << 63, ~0ull, false)) == -EINVAL,
	  "%s: SETLK starting beyond OFFSET_MAX: EINVAL", tag);
	T(lock_call(FUSE_SETLKW, node, lk(fh, 1, F_RDLCK, 100, 10, false)) == -EINVAL,
	  "%s: SETLKW whose end is before its start: EINVAL", tag);
	T(lock_call(FUSE_GETLK, node, lk(fh, 1, F_RDLCK, 100, 10, false)) == -EINVAL,
	  "%s: GETLK whose end is before its start: EINVAL", tag);
	T(lock_call(FUSE_SETLK, node, lk(fh_ro, 1, F_WRLCK, 0, INT64_MAX, false)) == -EBADF,
	  "%s: a write lock through a read-only open: EBADF, as on the host", tag);
	r = fuse_call(1, FUSE_SETLKW, node, &(uint64_t){fh}, 8, NULL, 0, OUT_MAX);
	T(r.error == -EINVAL, "%s: SETLKW with 8 bytes of argument: EINVAL (%d)", tag, r.error);
	r = CALL(FUSE_OPENDIR, 1, &oi, sizeof(oi));
	if (!r.error)
		dfh = ((struct fuse_open_out *)r.data)->fh;
	T(!r.error && lock_call(FUSE_SETLK, 1, lk(dfh, 1, F_RDLCK, 0, INT64_MAX, false)) == -EBADF,
	  "%s: a directory handle's fh is not a file's: EBADF", tag);
}

static void test_outside(uint64_t fh, const char *outside_file)
{
	int err, bad = 0;
	uint64_t esc = lookup(1, "esc", &err), up = lookup(1, "..", &err), f2;

	T(esc && open_node(esc, O_RDWR, &f2) != 0,
	  "%s: the symlink out of the share cannot be opened", tag);
	/* Whatever nodeid and fh the guest names, locks land on files it opened. */
	for (uint64_t h = 0; h < 24; h++) {
		int e1 = lock_call(FUSE_SETLK, esc, lk(h, 77, F_WRLCK, 0, INT64_MAX, false));
		int e2 = lock_call(FUSE_SETLK, up ? up : 1, lk(h, 78, F_RDLCK, 0, INT64_MAX, true));

		bad += host_sees_lock(outside_file);
		(void)e1;
		(void)e2;
	}
	T(bad == 0, "%s: no lock request ever locks the file outside the share (%d times)", tag,
	  bad);
	/* Drop what landed on f (owner 77 and 78's flock) before the flood. */
	lock_call(FUSE_SETLK, 1, lk(fh, 77, F_UNLCK, 0, INT64_MAX, false));
	for (uint64_t h = 0; h < 24; h++)
		lock_call(FUSE_SETLK, 1, lk(h, 78, F_UNLCK, 0, INT64_MAX, true));
}

/* 80 SETLKW against the host's lock: 64 wait, 16 get ENOLCK. */
static void test_flood(uint64_t node, uint64_t fh, uint64_t fh2, const char *fpath)
{
	int hostfd = host_lock(fpath), t0 = vfsd_threads(), fd0 = vfsd_fds(), waiting = 0,
	    enolck = 0, other = 0, granted = 0, tmax;
	struct fuse_getattr_in ga = {0};

	T(hostfd >= 0, "%s: the host holds a write lock on the file", tag);
	for (unsigned i = 1; i <= 80; i++) {
		struct fuse_lk_in in = lk(fh, 1000 + i, F_RDLCK, 0, INT64_MAX, i % 2 == 0);

		a_submit(i, 1, FUSE_SETLKW, node, &in, sizeof(in));
	}
	a_wait(-1, 1500);
	for (unsigned i = 1; i <= 80; i++) {
		if (!slot[i].done)
			waiting++;
		else if (slot[i].error == -ENOLCK)
			enolck++;
		else
			other++;
	}
	tmax = vfsd_threads();
	T(waiting == CAP && enolck == 80 - CAP && other == 0,
	  "%s: 80 SETLKW: %d wait (cap %d), %d ENOLCK at once, %d other answers", tag, waiting, CAP,
	  enolck, other);
	T(tmax - t0 <= CAP, "%s: vfsd's threads grow by the cap at most (%d -> %d)", tag, t0, tmax);
	T(vfsd_fds() - fd0 <= 80,
	  "%s: vfsd's fds grow by one owner fd per request at most (%d -> %d)", tag, fd0,
	  vfsd_fds());
	/* Other requests are answered meanwhile, on the same queue. */
	a_submit(100, 1, FUSE_GETATTR, 1, &ga, sizeof(ga));
	a_wait(100, 2000);
	T(slot[100].done && slot[100].error == 0, "%s: GETATTR answered while %d SETLKW wait", tag,
	  waiting);
	struct fuse_lk_in in = lk(fh, 999, F_WRLCK, 0, INT64_MAX, false);
	a_submit(101, 1, FUSE_SETLK, node, &in, sizeof(in));
	a_wait(101, 2000);
	T(slot[101].done && slot[101].error == -EAGAIN, "%s: a SETLK meanwhile gets EAGAIN (%d)",
	  tag, slot[101].error);
	/* INTERRUPT (hiprio queue) ends one waiter with EINTR. */
	unsigned k = 0;
	for (unsigned i = 1; i <= 80 && !k; i++)
		if (!slot[i].done)
			k = i;
	struct fuse_interrupt_in ii = {.unique = slot[k].unique};
	a_submit(102, 0, FUSE_INTERRUPT, 0, &ii, sizeof(ii));
	a_wait((int)k, 2000);
	T(slot[k].done && slot[k].error == -EINTR,
	  "%s: INTERRUPT ends a waiting SETLKW with EINTR (%d)", tag, slot[k].error);
	/*
	 * RELEASE of a file with a waiting SETLKW: ENOLCK (not EINTR: no
	 * signal).  The interrupted waiter leaves the cap when its thread is
	 * done, a little after its reply.
	 */
	threads_settle(tmax - 1);
	struct fuse_lk_in in2 = lk(fh2, 9999, F_RDLCK, 0, INT64_MAX, false);
	struct fuse_release_in rel = {.fh = fh2};
	a_submit(103, 1, FUSE_SETLKW, node, &in2, sizeof(in2));
	a_wait(103, 300);
	T(!slot[103].done, "%s: a SETLKW waits in the slot the interrupted one left", tag);
	a_submit(104, 1, FUSE_RELEASE, node, &rel, sizeof(rel));
	a_wait(103, 2000);
	a_wait(104, 2000);
	T(slot[103].done && slot[103].error == -ENOLCK && slot[104].done && slot[104].error == 0,
	  "%s: RELEASE of its file ends it with ENOLCK (%d, RELEASE %d)", tag, slot[103].error,
	  slot[104].error);
	/* The host lets go: every waiter (read locks) is granted. */
	close(hostfd);
	a_wait(-1, 2000);
	for (unsigned i = 1; i <= 80; i++)
		granted += slot[i].done && slot[i].error == 0;
	T(granted == CAP - 1, "%s: the host's unlock grants the %d other waiters (%d granted)", tag,
	  CAP - 1, granted);
	T(threads_settle(t0) <= t0, "%s: the waiter threads are gone (%d threads, %d before)", tag,
	  vfsd_threads(), t0);
	T(host_sees_lock(fpath), "%s: the granted read locks are held on the host", tag);
}

/* The front-end goes away with 64 waiters; a new one is served. */
static void test_disconnect(const char *fpath, int t_base, int fd_base)
{
	int hostfd = host_lock(fpath), waiting = 0, err, t1;
	uint32_t flags = 0;
	uint64_t node, fh = 0;

	/* The flood's granted read locks are still held: drop them first. */
	vu_teardown();
	usleep(300000);
	if (vu_connect() < 0 || vu_setup() < 0 || init_with_locks(&flags) != 0) {
		T(false, "%s: reconnected after the flood", tag);
		return;
	}
	if (hostfd < 0)
		hostfd = host_lock(fpath);
	T(hostfd >= 0, "%s: the guest's locks went with its front-end (the host can lock)", tag);
	node = lookup(1, "f", &err);
	T(node && open_node(node, O_RDWR, &fh) == 0, "%s: the file opens again", tag);
	for (unsigned i = 1; i <= CAP; i++) {
		struct fuse_lk_in in = lk(fh, 5000 + i, F_WRLCK, 0, INT64_MAX, i % 2 == 0);

		a_submit(i, 1, FUSE_SETLKW, node, &in, sizeof(in));
	}
	a_wait(-1, 1000);
	for (unsigned i = 1; i <= CAP; i++)
		waiting += !slot[i].done;
	t1 = vfsd_threads();
	T(waiting == CAP, "%s: %d SETLKW wait before the disconnect", tag, waiting);
	vu_teardown();
	T(threads_settle(t_base) <= t_base,
	  "%s: disconnect with %d waiters: their threads are gone (%d -> %d, %d at the start)", tag,
	  waiting, t1, vfsd_threads(), t_base);
	if (vu_connect() < 0 || vu_setup() < 0 || init_with_locks(&flags) != 0) {
		T(false, "%s: a new front-end connects after the disconnect", tag);
		close(hostfd);
		return;
	}
	T(lookup(1, "f", &err) != 0, "%s: a new front-end connects and is served", tag);
	T(vfsd_fds() <= fd_base + 2, "%s: vfsd's fds are back (%d, %d at the start)", tag,
	  vfsd_fds(), fd_base);
	close(hostfd);
	T(!host_sees_lock(fpath), "%s: no lock of the old guest is left on the host", tag);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"share", required_argument, NULL, 's'},
	    {"outside-file", required_argument, NULL, 'o'},
	    {"tag", required_argument, NULL, 't'},
	    {"vfsd-opt", required_argument, NULL, 'O'},
	    {NULL, 0, NULL, 0},
	};
	const char *outside_file = NULL, *args[12] = {NULL};
	char fpath[400];
	unsigned nargs = 0;
	uint32_t flags = 0;
	uint64_t node, fh = 0, fh_ro = 0, fh2 = 0;
	int c, err, t_base, fd_base;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(share, sizeof(share), "%s", optarg);
			break;
		case 'o':
			outside_file = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'O':
			if (nargs < 8)
				args[nargs++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!share[0] || !outside_file) {
		fprintf(stderr, "usage: %s --share DIR --outside-file FILE [--vfsd-opt OPT]...\n",
		        argv[0]);
		return 2;
	}
	snprintf(sock_path, sizeof(sock_path), "%s.%s.sock", share, tag);
	snprintf(log_path, sizeof(log_path), "%s.%s.log", share, tag);
	snprintf(fpath, sizeof(fpath), "%s/f", share);
	args[nargs++] = "--seccomp=" SECCOMP_MODE;
	args[nargs] = NULL;
	if (fe_guest_mem_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (start_vfsd_args(args) < 0 || vu_setup() < 0 || init_with_locks(&flags) != 0) {
		printf("not ok - %s: vfsd came up\n", tag);
		stop_vfsd();
		return 1;
	}
	T((flags & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS)) == (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS),
	  "%s: INIT grants POSIX and flock locks (flags 0x%x)", tag, flags);
	t_base = vfsd_threads();
	fd_base = vfsd_fds();
	node = lookup(1, "f", &err);
	T(node && open_node(node, O_RDWR, &fh) == 0 && open_node(node, O_RDONLY, &fh_ro) == 0 &&
	      open_node(node, O_RDONLY, &fh2) == 0,
	  "%s: the guest opens the file", tag);
	test_garbage(node, fh, fh_ro);
	test_outside(fh, outside_file);
	test_flood(node, fh, fh2, fpath);
	test_disconnect(fpath, t_base, fd_base);
	T(vfsd_alive(), "%s: vfsd still running", tag);
	stop_vfsd();
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "! grep -q 'Sanitizer\\|runtime error' %s", log_path);
		T(system(cmd) == 0, "%s: no sanitizer report in vfsd's log", tag);
	}
	if (tap_failed) {
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "tail -n 40 %s | sed 's/^/# /'", log_path);
		(void)!system(cmd);
	}
	TAP_EXIT();
}
