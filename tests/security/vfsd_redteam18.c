// SPDX-License-Identifier: MIT
/*
 * Red team of issue 18's vfsd changes (host-shared locks, the known-inode
 * LOOKUP, READDIRPLUS by d_ino, cached fsuid/fsgid), run by
 * tests/security/vfsd_redteam18.sh.  The program is VMM and guest driver at
 * once (tests/helpers/vfsd_frontend.h) and forges what no Linux guest sends;
 * the host side (this program too) races the guest in the share.
 *
 *  - lockmode: a POSIX write lock through a read-only open (or a read lock
 *    through a write-only one) of a lock owner whose descriptor came from a
 *    read-write open of the same file: EBADF, as on the host;
 *  - swaplock: the host renames a FIFO and a device node over the name of a
 *    file the guest holds open, and the guest takes locks for new owners
 *    (each a /proc/self/fd reopen): never a special file opened, the locks
 *    land on the file the guest opened;
 *  - creds: CREATE, MKDIR, MKNOD and SYMLINK alternating between callers on
 *    one queue, and ids vfsd cannot take: every file belongs to its caller,
 *    nothing is created as root for a caller that is not root, and ACCESS
 *    checks the caller of that request;
 *  - plusflip: the host swaps a known regular file's name with a FIFO, a
 *    symlink out of the share and a directory while the guest reads the
 *    directory with READDIRPLUS and LOOKUPs: a node id never changes type
 *    and nothing but the regular file opens;
 *  - budget: lock owners, handles and waiters all at their caps at once:
 *    vfsd answers the rest with errnos (never dies, never blocks a queue),
 *    and a disconnect gives every fd and lock back.
 */
#define QNUM 256 /* room for the waiters of the budget case */
#include "tests/helpers/vfsd_frontend.h"

#include <getopt.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/sysmacros.h>

#define NSLOT       120
#define SLOT_SZ     512
#define SLOT_IN(i)  (IN_BUF + (uint64_t)(i)*SLOT_SZ)
#define SLOT_OUT(i) (OUT_BUF + (uint64_t)(i)*SLOT_SZ)
#define CAP         64 /* VFSD_LOCK_WAITERS */

static const char *tag = "rt18";
static dev_t share_dev;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct reply call(uint32_t opcode, uint64_t nodeid, const void *arg, size_t arglen)
{
	return fuse_call(1, opcode, nodeid, arg, arglen, NULL, 0, OUT_MAX);
}

/* --- chains in flight (SETLKW) -------------------------------------------- */

static struct slot {
	bool busy, done;
	uint64_t unique;
	int error;
} slot[NSLOT];

static void a_submit(unsigned i, uint32_t opcode, uint64_t nodeid, const void *arg, size_t arglen)
{
	struct fuse_in_header *ih = (void *)(g + SLOT_IN(i));
	struct vfsd_vring_desc *d = drv_desc(1);
	uint16_t *avail = drv_avail(1);
	uint64_t one = 1;
	uint64_t u = unique++;

	slot[i] = (struct slot){.busy = true, .unique = u};
	*ih = (struct fuse_in_header){.len = (uint32_t)(sizeof(*ih) + arglen),
	                              .opcode = opcode,
	                              .unique = u,
	                              .nodeid = nodeid,
	                              .uid = req_uid,
	                              .gid = req_gid};
	memcpy(ih + 1, arg, arglen);
	d[2 * i] = (struct vfsd_vring_desc){SLOT_IN(i), ih->len, VFSD_VRING_DESC_F_NEXT,
	                                    (uint16_t)(2 * i + 1)};
	d[2 * i + 1] = (struct vfsd_vring_desc){SLOT_OUT(i), SLOT_SZ, VFSD_VRING_DESC_F_WRITE, 0};
	avail[2 + dq[1].avail_idx % QNUM] = (uint16_t)(2 * i);
	__atomic_store_n(&avail[1], ++dq[1].avail_idx, __ATOMIC_RELEASE);
	(void)!write(dq[1].kick, &one, 8);
}

static void a_wait(int ms)
{
	uint16_t *used = drv_used(1), *avail = drv_avail(1);
	struct vfsd_vring_used_elem *ue = (void *)(used + 2);
	double t0 = now_s();

	while (now_s() - t0 < ms / 1000.0) {
		struct pollfd p = {.fd = dq[1].call, .events = POLLIN};
		uint64_t v;

		while (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) != dq[1].used_seen) {
			struct vfsd_vring_used_elem e = ue[dq[1].used_seen % QNUM];
			unsigned i = e.id / 2;
			struct fuse_out_header *oh = (void *)(g + SLOT_OUT(i));

			dq[1].used_seen++;
			if (i >= NSLOT || !slot[i].busy)
				continue;
			slot[i].busy = false;
			slot[i].done = true;
			slot[i].error = oh->unique == slot[i].unique ? oh->error : 1001;
		}
		avail[2 + QNUM] = dq[1].used_seen;
		poll(&p, 1, 10);
		(void)!read(dq[1].call, &v, 8);
	}
}

/* --- guest operations ------------------------------------------------------- */

static int init_with_locks(void)
{
	struct fuse_init_in in = {.major = 7,
	                          .minor = 38,
	                          .max_readahead = 65536,
	                          .flags = FUSE_ASYNC_READ | FUSE_INIT_EXT | FUSE_MAX_PAGES |
	                                   FUSE_DO_READDIRPLUS | FUSE_POSIX_LOCKS |
	                                   FUSE_FLOCK_LOCKS};

	return call(FUSE_INIT, 0, &in, sizeof(in)).error;
}

static struct fuse_lk_in lk(uint64_t fh, uint64_t owner, uint32_t type, bool flock_)
{
	return (struct fuse_lk_in){.fh = fh,
	                           .owner = owner,
	                           .lk = {.start = 0, .end = INT64_MAX, .type = type, .pid = 42},
	                           .lk_flags = flock_ ? FUSE_LK_FLOCK : 0};
}

static int lock_call(uint32_t op, uint64_t node, struct fuse_lk_in in)
{
	return call(op, node, &in, sizeof(in)).error;
}

static uint64_t guest_lookup(uint64_t dir, const char *name, struct fuse_entry_out *e, int *err)
{
	struct reply r = call(FUSE_LOOKUP, dir, name, strlen(name) + 1);

	*err = r.error;
	if (r.error || r.len < sizeof(*e))
		return 0;
	if (e)
		memcpy(e, r.data, sizeof(*e));
	return ((struct fuse_entry_out *)r.data)->nodeid;
}

static void guest_release(uint64_t node, uint64_t fh)
{
	struct fuse_release_in rel = {.fh = fh};

	call(FUSE_RELEASE, node, &rel, sizeof(rel));
}

static void guest_forget(uint64_t node, uint64_t n)
{
	struct fuse_forget_in in = {.nlookup = n};

	fuse_call(0, FUSE_FORGET, node, &in, sizeof(in), NULL, 0, 0);
}

/* close() in the guest: FLUSH with the closing process's lock owner. */
static void guest_flush(uint64_t node, uint64_t fh, uint64_t owner)
{
	struct fuse_flush_in in = {.fh = fh, .lock_owner = owner};

	call(FUSE_FLUSH, node, &in, sizeof(in));
}

/* vfsd's fds on non-regular, non-directory files of the share that are not O_PATH. */
static unsigned open_special_fds(void)
{
	char path[300];
	int pid = vfsd_server_pid();
	unsigned bad = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return 1000;
	while ((de = readdir(d))) {
		struct stat st;
		char line[128];
		unsigned long flags = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		/* A device node of the share stats as the share's file system's. */
		if (stat(path, &st) < 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
		    st.st_dev != share_dev)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "flags: %lo", &flags) == 1)
				break;
		if (f)
			fclose(f);
		bad += !(flags & O_PATH);
	}
	closedir(d);
	return bad;
}

/* Does the host see a lock (OFD F_GETLK of a write lock) on path? */
static bool host_sees_lock(const char *path)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool locked = fd < 0 || fcntl(fd, F_OFD_GETLK, &fl) < 0 || fl.l_type != F_UNLCK;

	if (fd >= 0)
		close(fd);
	return locked;
}

/* Is there a write lock (POSIX/OFD) held on the file open as fd? */
static short lock_type_on(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -1;
	return fl.l_type;
}

static void spath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", share, name);
}

/* --- lockmode ------------------------------------------------------------- */

static void test_lockmode(void)
{
	char p[400];
	int err, e1, e2, e3, e4;
	uint64_t node, fh_rw = 0, fh_ro = 0, fh_wo = 0;

	spath(p, sizeof(p), "lm");
	close(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	node = guest_lookup(1, "lm", NULL, &err);
	T(node && open_node(node, O_RDWR, &fh_rw) == 0 && open_node(node, O_RDONLY, &fh_ro) == 0 &&
	      open_node(node, O_WRONLY, &fh_wo) == 0,
	  "%s: lockmode: the guest opens the file read-write, read-only and write-only", tag);
	/* Owner 7's descriptor is a read-write reopen. */
	e1 = lock_call(FUSE_SETLK, node, lk(fh_rw, 7, F_RDLCK, false));
	T(e1 == 0, "%s: lockmode: a read lock through the read-write open (%d)", tag, e1);
	e2 = lock_call(FUSE_SETLK, node, lk(fh_ro, 7, F_WRLCK, false));
	T(e2 == -EBADF,
	  "%s: lockmode: the same owner's write lock through the read-only open: EBADF as on "
	  "the host (%d)",
	  tag, e2);
	e3 = lock_call(FUSE_SETLK, node, lk(fh_wo, 7, F_RDLCK, false));
	T(e3 == -EBADF,
	  "%s: lockmode: its read lock through the write-only open: EBADF as on the host (%d)", tag,
	  e3);
	/* The read-write open goes without FLUSH: the owner's fd stays. */
	guest_release(node, fh_rw);
	e4 = lock_call(FUSE_SETLKW, node, lk(fh_ro, 7, F_WRLCK, false));
	T(e4 == -EBADF,
	  "%s: lockmode: after the read-write open is released, a write lock (SETLKW) through "
	  "the read-only one: EBADF (%d)",
	  tag, e4);
	T(!host_sees_lock(p) || e1 == 0,
	  "%s: lockmode: no write lock of the guest on the host file", tag);
	{
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		short t = lock_type_on(fd);

		T(t != F_WRLCK || (e2 != 0 && e4 != 0),
		  "%s: lockmode: the host sees no write lock taken through a read-only open", tag);
		close(fd);
	}
	guest_flush(node, fh_ro, 7);
	guest_release(node, fh_ro);
	guest_release(node, fh_wo);
}

/* --- swaplock --------------------------------------------------------------- */

static void test_swaplock(void)
{
	char p[400], fifo[400], dev[400], keep[400];
	int err, granted = 0, fd;
	uint64_t node, fh = 0;

	spath(p, sizeof(p), "sw");
	spath(fifo, sizeof(fifo), "sw.fifo");
	spath(dev, sizeof(dev), "sw.dev");
	spath(keep, sizeof(keep), "sw.kept");
	close(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	node = guest_lookup(1, "sw", NULL, &err);
	T(node && open_node(node, O_RDWR, &fh) == 0, "%s: swaplock: the guest opens the file", tag);
	/* The opened file stays reachable for the host under another name. */
	T(link(p, keep) == 0, "%s: swaplock: the host keeps a link to it", tag);
	for (unsigned i = 0; i < 40; i++) {
		unlink(fifo);
		unlink(dev);
		if (i % 2 == 0) {
			(void)!mkfifo(fifo, 0666);
			(void)!rename(fifo, p);
		} else {
			(void)!mknod(dev, S_IFCHR | 0666, makedev(1, 3));
			(void)!rename(dev, p);
		}
		/* A new owner each time: a new reopen through /proc/self/fd. */
		granted += lock_call(FUSE_SETLK, node, lk(fh, 100 + i, F_RDLCK, false)) == 0;
	}
	T(open_special_fds() == 0, "%s: swaplock: vfsd never opened the FIFO or device node", tag);
	T(granted == 40, "%s: swaplock: each new owner's read lock granted (%d of 40)", tag,
	  granted);
	fd = open(keep, O_RDWR | O_CLOEXEC);
	T(fd >= 0 && lock_type_on(fd) != F_UNLCK,
	  "%s: swaplock: the locks are on the file the guest opened", tag);
	if (fd >= 0)
		close(fd);
	for (unsigned i = 0; i < 40; i++)
		guest_flush(node, fh, 100 + i);
	guest_release(node, fh);
	unlink(p);
	unlink(keep);
}

/* --- creds ---------------------------------------------------------------- */

static int as_caller(uint32_t uid, uint32_t gid)
{
	req_uid = uid;
	req_gid = gid;
	return 0;
}

static int g_create(const char *name, uint64_t *fh_out)
{
	struct {
		struct fuse_create_in in;
		char name[64];
	} cr = {.in = {.flags = O_RDWR, .mode = S_IFREG | 0644}};
	struct reply r;

	snprintf(cr.name, sizeof(cr.name), "%s", name);
	r = call(FUSE_CREATE, 1, &cr, sizeof(cr.in) + strlen(name) + 1);
	if (r.error == 0 && fh_out)
		*fh_out = ((struct fuse_open_out *)(r.data + sizeof(struct fuse_entry_out)))->fh;
	return r.error;
}

static int g_mkdir(const char *name)
{
	struct {
		struct fuse_mkdir_in in;
		char name[64];
	} mk = {.in = {.mode = 0755}};

	snprintf(mk.name, sizeof(mk.name), "%s", name);
	return call(FUSE_MKDIR, 1, &mk, sizeof(mk.in) + strlen(name) + 1).error;
}

static int g_mknod(const char *name)
{
	struct {
		struct fuse_mknod_in in;
		char name[64];
	} mk = {.in = {.mode = S_IFIFO | 0644}};

	snprintf(mk.name, sizeof(mk.name), "%s", name);
	return call(FUSE_MKNOD, 1, &mk, sizeof(mk.in) + strlen(name) + 1).error;
}

static int g_symlink(const char *name)
{
	char buf[200];
	size_t l = strlen(name) + 1;

	memcpy(buf, name, l);
	memcpy(buf + l, "target", 7);
	return call(FUSE_SYMLINK, 1, buf, l + 7).error;
}

static int g_access(uint64_t node, uint32_t mask)
{
	struct fuse_access_in in = {.mask = mask};

	return call(FUSE_ACCESS, node, &in, sizeof(in)).error;
}

static void test_creds(void)
{
	static const uint32_t who[][2] = {{0, 0},    {1000, 1000}, {1000, 1000}, {2000, 3000},
	                                  {0, 0},    {0, 0},       {2000, 3000}, {1000, 1000},
	                                  {0, 5000}, {5000, 0},    {1000, 1000}, {0, 0}};
	unsigned wrong = 0, made = 0, bogus_root = 0;
	char p[400], name[64], what[400] = "";
	struct stat st;
	int err;
	uint64_t node;

	/* Everyone may create in the share's root (as in /tmp). */
	chmod(share, 01777);
	for (unsigned k = 0; k < 4; k++)
		for (unsigned i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
			int e;

			as_caller(who[i][0], who[i][1]);
			snprintf(name, sizeof(name), "cr%u.%u", k, i);
			switch (k) {
			case 0: {
				uint64_t fh = 0;

				e = g_create(name, &fh);
				if (e == 0)
					guest_release(0, fh);
				break;
			}
			case 1:
				e = g_mkdir(name);
				break;
			case 2:
				e = g_mknod(name);
				break;
			default:
				e = g_symlink(name);
			}
			spath(p, sizeof(p), name);
			if (e != 0 || lstat(p, &st) < 0)
				continue;
			made++;
			if (st.st_uid != who[i][0] || st.st_gid != who[i][1]) {
				wrong++;
				snprintf(what + strlen(what), sizeof(what) - strlen(what),
				         " %s:%u:%u(want %u:%u)", name, st.st_uid, st.st_gid,
				         who[i][0], who[i][1]);
			}
		}
	T(made == 48 && wrong == 0,
	  "%s: creds: 48 files made by callers alternating on one queue, each its caller's "
	  "(%u made, %u wrong:%s)",
	  tag, made, wrong, what);
	/* Many in flight at once (a pool's workers take them in any order). */
	{
		unsigned async_wrong = 0, async_made = 0;

		for (unsigned i = 0; i < 60; i++) {
			struct {
				struct fuse_mkdir_in in;
				char name[32];
			} mk = {.in = {.mode = 0755}};

			as_caller(who[i % 12][0], who[i % 12][1]);
			snprintf(mk.name, sizeof(mk.name), "as%u", i);
			a_submit(i + 1, FUSE_MKDIR, 1, &mk, sizeof(mk.in) + strlen(mk.name) + 1);
		}
		a_wait(1500);
		for (unsigned i = 0; i < 60; i++) {
			snprintf(name, sizeof(name), "as%u", i);
			spath(p, sizeof(p), name);
			if (!slot[i + 1].done || slot[i + 1].error || lstat(p, &st) < 0)
				continue;
			async_made++;
			async_wrong += st.st_uid != who[i % 12][0] || st.st_gid != who[i % 12][1];
		}
		T(async_made == 60 && async_wrong == 0,
		  "%s: creds: 60 MKDIR in flight at once from alternating callers, each its "
		  "caller's (%u made, %u wrong)",
		  tag, async_made, async_wrong);
		as_caller(0, 0);
	}
	/* Ids no one can become: the request fails, nothing is created as root. */
	static const uint32_t bad[][2] = {{~0u, 0}, {0, ~0u}, {~0u, ~0u}, {1000, ~0u}, {~0u, 1000}};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		as_caller(bad[i][0], bad[i][1]);
		snprintf(name, sizeof(name), "bad%u", i);
		g_create(name, NULL);
		spath(p, sizeof(p), name);
		if (lstat(p, &st) == 0 && (st.st_uid != bad[i][0] || st.st_gid != bad[i][1]))
			bogus_root++;
		/* The next request, as 1000, must run as 1000. */
		as_caller(1000, 1000);
		snprintf(name, sizeof(name), "after%u", i);
		g_mkdir(name);
		spath(p, sizeof(p), name);
		if (lstat(p, &st) == 0 && (st.st_uid != 1000 || st.st_gid != 1000))
			bogus_root++;
	}
	T(bogus_root == 0,
	  "%s: creds: ids vfsd cannot take create nothing as someone else, and the next "
	  "caller's files are its own (%u wrong)",
	  tag, bogus_root);
	/* ACCESS: a root-only file, asked alternately by root and by 1000. */
	spath(p, sizeof(p), "rootonly");
	close(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600));
	(void)!chown(p, 0, 0);
	as_caller(0, 0);
	node = guest_lookup(1, "rootonly", NULL, &err);
	unsigned acc_wrong = 0;
	for (unsigned i = 0; i < 12; i++) {
		int want = i % 3 == 1 ? -EACCES : 0;

		as_caller(i % 3 == 1 ? 1000 : 0, i % 3 == 1 ? 1000 : 0);
		acc_wrong += g_access(node, R_OK | W_OK) != want;
	}
	as_caller(0, 0);
	T(node && acc_wrong == 0,
	  "%s: creds: ACCESS to a root-only file alternating root and uid 1000: each gets its own "
	  "answer (%u wrong)",
	  tag, acc_wrong);
}

/* --- plusflip --------------------------------------------------------------- */

static volatile int flipping;

static void *flipper(void *arg)
{
	char a[400], b[400], c[400], d[400];

	spath(a, sizeof(a), "pf/x");
	spath(b, sizeof(b), "pf/fifo");
	spath(c, sizeof(c), "pf/link");
	spath(d, sizeof(d), "pf/dir");
	while (flipping) {
		(void)!renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
		(void)!renameat2(AT_FDCWD, a, AT_FDCWD, c, RENAME_EXCHANGE);
		(void)!renameat2(AT_FDCWD, a, AT_FDCWD, d, RENAME_EXCHANGE);
	}
	return arg;
}

/* Node id -> type seen first; 0 when a node id came back with another type. */
#define NT 4096
static struct {
	uint64_t node;
	uint32_t type;
} seen[NT];
static unsigned nseen, mistyped;

static void saw(uint64_t node, uint32_t type)
{
	for (unsigned i = 0; i < nseen; i++)
		if (seen[i].node == node) {
			mistyped += seen[i].type != type;
			return;
		}
	if (nseen < NT)
		seen[nseen++] = (typeof(seen[0])){node, type};
}

static void test_plusflip(const char *outside)
{
	char p[400];
	pthread_t th;
	struct fuse_open_in oi = {.flags = O_RDONLY | O_DIRECTORY};
	unsigned entries = 0, opened_other = 0, opened = 0, forgets = 0;
	double t0;
	int err;
	uint64_t dir, dfh = 0, regnode = 0;
	struct fuse_entry_out e;

	spath(p, sizeof(p), "pf");
	mkdir(p, 0755);
	spath(p, sizeof(p), "pf/x");
	close(open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	spath(p, sizeof(p), "pf/fifo");
	mkfifo(p, 0644);
	spath(p, sizeof(p), "pf/link");
	(void)!symlink(outside, p);
	spath(p, sizeof(p), "pf/dir");
	mkdir(p, 0755);
	dir = guest_lookup(1, "pf", NULL, &err);
	/* Every name known first: READDIRPLUS and LOOKUP then take the statx path. */
	const char *names[] = {"x", "fifo", "link", "dir"};
	for (unsigned i = 0; i < 4; i++) {
		uint64_t n = guest_lookup(dir, names[i], &e, &err);

		if (n)
			saw(n, e.attr.mode & S_IFMT);
		if (n && S_ISREG(e.attr.mode))
			regnode = n;
	}
	flipping = 1;
	pthread_create(&th, NULL, flipper, NULL);
	t0 = now_s();
	while (now_s() - t0 < 1.5) {
		struct reply r = call(FUSE_OPENDIR, dir, &oi, sizeof(oi));
		struct fuse_read_in rd = {.size = 8192};
		struct fuse_release_in rel;

		if (r.error)
			continue;
		dfh = ((struct fuse_open_out *)r.data)->fh;
		rd.fh = dfh;
		r = call(FUSE_READDIRPLUS, dir, &rd, sizeof(rd));
		for (size_t off = 0; !r.error && off + sizeof(struct fuse_direntplus) <= r.len;) {
			const struct fuse_direntplus *dp = (const void *)(r.data + off);
			size_t l = FUSE_DIRENTPLUS_SIZE(dp);

			if (dp->entry_out.nodeid) {
				uint64_t fh;

				entries++;
				saw(dp->entry_out.nodeid, dp->entry_out.attr.mode & S_IFMT);
				if (open_node(dp->entry_out.nodeid, O_RDONLY, &fh) == 0) {
					opened++;
					opened_other += dp->entry_out.nodeid != regnode;
					guest_release(dp->entry_out.nodeid, fh);
				}
				/* Drop the lookup: the table keeps the entry for the names. */
				if (dp->entry_out.nodeid != dir && ++forgets % 2)
					guest_forget(dp->entry_out.nodeid, 1);
			}
			off += l;
		}
		rel = (struct fuse_release_in){.fh = dfh};
		call(FUSE_RELEASEDIR, dir, &rel, sizeof(rel));
		for (unsigned i = 0; i < 4; i++) {
			uint64_t n = guest_lookup(dir, names[i], &e, &err), fh;

			if (!n)
				continue;
			saw(n, e.attr.mode & S_IFMT);
			if (open_node(n, O_RDONLY, &fh) == 0) {
				opened++;
				opened_other += n != regnode && !S_ISDIR(e.attr.mode);
				guest_release(n, fh);
			}
		}
	}
	flipping = 0;
	pthread_join(th, NULL);
	T(entries > 0 && mistyped == 0,
	  "%s: plusflip: names swapped among a file, FIFO, symlink and directory under "
	  "READDIRPLUS and LOOKUP: a node id never changes type (%u entries, %u nodes, %u "
	  "mistyped)",
	  tag, entries, nseen, mistyped);
	T(opened_other == 0 && open_special_fds() == 0,
	  "%s: plusflip: only the regular file's node opens (%u opens, %u of another node)", tag,
	  opened, opened_other);
}

/* --- slowopen ------------------------------------------------------------- */

/*
 * A FUSE file system in the share (tests/helpers/slow_fuse at share/fz) that
 * hangs opens while the flag file exists.  A new owner's lock on its file
 * reopens it: that may hang its own request, never the lock requests of
 * other files (with a pool: other workers answer them).
 */
static void test_slowopen(const char *flag)
{
	int err, fd;
	uint64_t dir = guest_lookup(1, "fz", NULL, &err), node_s = 0, fh_s = 0, node_f, fh_f = 0;

	if (dir)
		node_s = guest_lookup(dir, "slow", NULL, &err);
	node_f = guest_lookup(1, "f", NULL, &err);
	if (!node_s) {
		printf("ok - %s: slowopen # SKIP the FUSE mount is not in vfsd's view (%d)\n", tag,
		       err);
		return;
	}
	T(open_node(node_s, O_RDWR, &fh_s) == 0 && open_node(node_f, O_RDWR, &fh_f) == 0,
	  "%s: slowopen: the guest opens a file of the FUSE mount and one beside it", tag);
	fd = open(flag, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(fd);
	{
		struct fuse_lk_in a = lk(fh_s, 500, F_RDLCK, false);
		struct fuse_lk_in b = lk(fh_f, 501, F_RDLCK, false);
		struct fuse_lk_in c = lk(fh_f, 502, F_WRLCK, false);

		a_submit(1, FUSE_SETLK, node_s, &a, sizeof(a));
		a_wait(300);
		a_submit(2, FUSE_SETLK, node_f, &b, sizeof(b));
		a_submit(3, FUSE_GETLK, node_f, &c, sizeof(c));
		a_wait(2000);
	}
	T(!slot[1].done, "%s: slowopen: the lock on the FUSE file hangs in its reopen", tag);
	T(slot[2].done && slot[2].error == 0 && slot[3].done && slot[3].error == 0,
	  "%s: slowopen: meanwhile a new owner's SETLK and a GETLK on another file are answered "
	  "(%s %d, %s %d)",
	  tag, slot[2].done ? "done" : "hung", slot[2].error, slot[3].done ? "done" : "hung",
	  slot[3].error);
	unlink(flag);
	a_wait(1500);
	T(slot[1].done && slot[2].done && slot[3].done,
	  "%s: slowopen: every request answered once the FUSE file system lets go", tag);
	/*
	 * The close of an owner's fd (FLUSH) hangs in the FUSE file system:
	 * other files' lock requests are answered meanwhile.
	 */
	{
		char cflag[600];
		struct fuse_lk_in a = lk(fh_s, 600, F_RDLCK, false);
		struct fuse_lk_in b = lk(fh_f, 601, F_RDLCK, false);
		struct fuse_lk_in c = lk(fh_f, 602, F_WRLCK, false);
		struct fuse_flush_in fl = {.fh = fh_s, .lock_owner = 600};

		snprintf(cflag, sizeof(cflag), "%s.close", flag);
		T(lock_call(FUSE_SETLK, node_s, a) == 0, "%s: slowclose: a lock on the FUSE file",
		  tag);
		close(open(cflag, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		a_submit(4, FUSE_FLUSH, node_s, &fl, sizeof(fl));
		a_wait(300);
		a_submit(5, FUSE_SETLK, node_f, &b, sizeof(b));
		a_submit(6, FUSE_GETLK, node_f, &c, sizeof(c));
		a_wait(2000);
		T(!slot[4].done, "%s: slowclose: the FLUSH hangs in the owner fd's close", tag);
		T(slot[5].done && slot[5].error == 0 && slot[6].done && slot[6].error == 0,
		  "%s: slowclose: meanwhile a new owner's SETLK and a GETLK on another file are "
		  "answered (%s %d, %s %d)",
		  tag, slot[5].done ? "done" : "hung", slot[5].error,
		  slot[6].done ? "done" : "hung", slot[6].error);
		unlink(cflag);
		a_wait(1500);
		T(slot[4].done && slot[5].done && slot[6].done,
		  "%s: slowclose: every request answered once the FUSE file system lets go", tag);
	}
	guest_flush(node_s, fh_s, 500);
	guest_flush(node_f, fh_f, 501);
	guest_flush(node_f, fh_f, 601);
	guest_release(node_s, fh_s);
	guest_release(node_f, fh_f);
	/*
	 * slowwait: a SETLKW whose wait the FUSE file system holds (it ignores
	 * INTERRUPT, so after the signal the kernel waits killable), then the
	 * front-end goes away: vfsd must still serve the next one.
	 */
	{
		char lflag[600];
		struct fuse_lk_in w = lk(0, 700, F_WRLCK, false);
		double t0;
		bool served;

		snprintf(lflag, sizeof(lflag), "%s.lock", flag);
		int t0n;

		T(open_node(node_s, O_RDWR, &w.fh) == 0, "%s: slowwait: the FUSE file opens again",
		  tag);
		t0n = vfsd_threads();
		close(open(lflag, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		a_submit(7, FUSE_SETLKW, node_s, &w, sizeof(w));
		a_wait(500);
		T(!slot[7].done, "%s: slowwait: the SETLKW waits in the FUSE file system", tag);
		vu_teardown();
		t0 = now_s();
		/*
		 * One round trip first: vfsd answers it once the old front-end's
		 * reset is over, which may still write the old rings (same memory).
		 */
		{
			uint64_t v;

			served = vu_connect() == 0 && vu_get_u64(VHOST_USER_GET_FEATURES, &v) == 0;
		}
		served = served && vu_setup() == 0 && init_with_locks() == 0 &&
		         guest_lookup(1, "f", NULL, &err) != 0;
		T(served && now_s() - t0 < 8,
		  "%s: slowwait: the front-end went away with the waiter stuck: a new one is "
		  "served "
		  "(%.1f s)",
		  tag, now_s() - t0);
		unlink(lflag);
		for (int k = 0; k < 50 && vfsd_threads() > t0n; k++)
			usleep(100000);
		T(vfsd_threads() <= t0n,
		  "%s: slowwait: the stuck waiter's thread ends once the file system lets go (%d "
		  "threads, %d before)",
		  tag, vfsd_threads(), t0n);
	}
}

/* --- budget --------------------------------------------------------------- */

static void test_budget(const char *fpath, int fd_base, int t_base)
{
	int err, enolck = 0, emfile = 0, owners = 0, handles = 0, waiting = 0, hostfd;
	uint64_t node = guest_lookup(1, "f", NULL, &err), fh = 0, node2;
	struct fuse_getattr_in ga = {0};
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 1000, .l_len = 1};

	T(node && open_node(node, O_RDWR, &fh) == 0, "%s: budget: the file opens", tag);
	/* Owners to the cap (their fds outlive the handles: no FLUSH). */
	for (unsigned i = 0; i < 400; i++) {
		struct fuse_lk_in in = lk(fh, 10000 + i, F_RDLCK, false);

		in.lk.start = i;
		in.lk.end = i;
		int e = lock_call(FUSE_SETLK, node, in);

		owners += e == 0;
		enolck += e == -ENOLCK;
	}
	T(owners > 0 && enolck > 0 && owners + enolck == 400,
	  "%s: budget: lock owners stop at a cap with ENOLCK (%d owners, %d ENOLCK)", tag, owners,
	  enolck);
	/* Handles to the cap. */
	for (unsigned i = 0; i < 5000 && !emfile; i++) {
		uint64_t h;
		int e = open_node(node, O_RDONLY, &h);

		if (e == 0)
			handles++;
		else
			emfile = e;
	}
	T(emfile == -EMFILE, "%s: budget: handles stop at a cap with EMFILE (%d handles, %d)", tag,
	  handles, emfile);
	/* The host holds byte 1000; 64 waiters on it, from owners that exist. */
	hostfd = open(fpath, O_RDWR | O_CLOEXEC);
	T(hostfd >= 0 && fcntl(hostfd, F_OFD_SETLK, &fl) == 0, "%s: budget: the host locks a byte",
	  tag);
	for (unsigned i = 1; i <= CAP + 8; i++) {
		struct fuse_lk_in in = lk(fh, 10000 + i, F_WRLCK, false);

		in.lk.start = in.lk.end = 1000;
		a_submit(i, FUSE_SETLKW, node, &in, sizeof(in));
	}
	a_wait(1500);
	for (unsigned i = 1; i <= CAP + 8; i++)
		waiting += !slot[i].done;
	/* Owners 10001.. exist up to the owner cap; later ones get ENOLCK. */
	T(waiting > 0 && waiting == (owners - 1 < CAP ? owners - 1 : CAP),
	  "%s: budget: %d SETLKW wait (waiter cap %d, %d owners)", tag, waiting, CAP, owners);
	/* Everything at its cap: the queue still answers, and a new name still resolves. */
	struct reply r = call(FUSE_GETATTR, 1, &ga, sizeof(ga));
	T(r.error == 0, "%s: budget: GETATTR answered with every cap reached (%d)", tag, r.error);
	close(open(fpath, O_RDONLY)); /* nothing */
	{
		char p[400];

		spath(p, sizeof(p), "late");
		close(open(p, O_WRONLY | O_CREAT, 0644));
	}
	node2 = guest_lookup(1, "late", NULL, &err);
	T(node2 != 0, "%s: budget: LOOKUP of a new name still works (%d)", tag, err);
	T(vfsd_alive(), "%s: budget: vfsd alive with every cap reached", tag);
	/* Disconnect: every fd, thread and lock goes. */
	vu_teardown();
	for (int k = 0; k < 30 && (vfsd_fds() > fd_base + 2 || vfsd_threads() > t_base); k++)
		usleep(100000);
	T(vfsd_fds() <= fd_base + 2 && vfsd_threads() <= t_base,
	  "%s: budget: after the disconnect vfsd's fds and threads are back (%d fds, %d at the "
	  "start; %d threads, %d)",
	  tag, vfsd_fds(), fd_base, vfsd_threads(), t_base);
	if (hostfd >= 0)
		close(hostfd);
	T(!host_sees_lock(fpath), "%s: budget: no lock of the gone guest on the host", tag);
	T(vu_connect() == 0 && vu_setup() == 0 && init_with_locks() == 0 &&
	      guest_lookup(1, "f", NULL, &err) != 0,
	  "%s: budget: a new front-end is served", tag);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"share", required_argument, NULL, 's'},
	    {"outside", required_argument, NULL, 'o'},
	    {"tag", required_argument, NULL, 't'},
	    {"vfsd-opt", required_argument, NULL, 'O'},
	    {"only", required_argument, NULL, 'y'},
	    {"slow-flag", required_argument, NULL, 'F'},
	    {NULL, 0, NULL, 0},
	};
	const char *outside = NULL, *args[16] = {NULL}, *only = NULL, *slow_flag = NULL;
	char fpath[400];
	unsigned nargs = 0;
	struct stat st;
	int c, fd_base, t_base;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(share, sizeof(share), "%s", optarg);
			break;
		case 'o':
			outside = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'y':
			only = optarg;
			break;
		case 'F':
			slow_flag = optarg;
			break;
		case 'O':
			if (nargs < 12)
				args[nargs++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!share[0] || !outside || stat(share, &st) < 0) {
		fprintf(stderr, "usage: %s --share DIR --outside FILE [--vfsd-opt OPT]...\n",
		        argv[0]);
		return 2;
	}
	share_dev = st.st_dev;
	snprintf(sock_path, sizeof(sock_path), "%s.%s.sock", share, tag);
	snprintf(log_path, sizeof(log_path), "%s.%s.log", share, tag);
	snprintf(fpath, sizeof(fpath), "%s/f", share);
	close(open(fpath, O_WRONLY | O_CREAT, 0644));
	args[nargs++] = "--seccomp=" SECCOMP_MODE;
	args[nargs] = NULL;
	if (fe_guest_mem_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (start_vfsd_args(args) < 0 || vu_setup() < 0 || init_with_locks() != 0) {
		printf("not ok - %s: vfsd came up\n", tag);
		stop_vfsd();
		return 1;
	}
	fd_base = vfsd_fds();
	t_base = vfsd_threads();
#define WANT(name) (!only || strstr(only, name))
	if (WANT("lockmode"))
		test_lockmode();
	if (WANT("swaplock"))
		test_swaplock();
	if (WANT("creds"))
		test_creds();
	if (WANT("plusflip"))
		test_plusflip(outside);
	if (slow_flag && WANT("slowopen"))
		test_slowopen(slow_flag);
	if (WANT("budget"))
		test_budget(fpath, fd_base, t_base);
	T(vfsd_alive(), "%s: vfsd still running", tag);
	stop_vfsd();
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "! grep -q 'Sanitizer\\|runtime error' %s", log_path);
		T(system(cmd) == 0, "%s: no sanitizer report in vfsd's log", tag);
	}
	if (tap_failed) {
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "tail -n 30 %s | sed 's/^/# /'", log_path);
		(void)!system(cmd);
	}
	TAP_EXIT();
}
