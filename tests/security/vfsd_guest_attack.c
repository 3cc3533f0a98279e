// SPDX-License-Identifier: MIT
/*
 * A hostile virtio-fs guest against vfsd (run by tests/security/vfsd_guest.sh).
 * This program is the VMM and the guest driver at once
 * (tests/helpers/vfsd_frontend.h) and sends the FUSE requests a guest root
 * may forge, checking that:
 *
 *  - no request opens a device node, FIFO, socket or symlink on the host:
 *    CREATE (with and without O_EXCL, every access mode), OPEN, OPENDIR,
 *    SETATTR(size), and LINK/RENAME followed by CREATE/OPEN of the new name,
 *    over each special-file type, made by the guest (MKNOD, SYMLINK) and by
 *    the host; each gets an errno and never a handle, the contents of a
 *    real host block device (a loop device over a file holding a secret)
 *    never appear in any reply and its backing file never changes, and no
 *    descriptor vfsd holds on such a file is anything but O_PATH;
 *  - a name the host flips between a regular file and a FIFO while the
 *    guest CREATEs and OPENs it never leaves vfsd with an open FIFO;
 *  - no request blocks a queue thread: every reply within a second, and
 *    after all that the front-end disconnects and reconnects within one;
 *  - ".." of a directory the host moved out of the share while the guest
 *    holds it answers ENOENT or a directory inside the share.
 *
 * Usage: vfsd_guest_attack --share DIR --outside DIR --sandbox MODE
 *        [--blockdev DEV --secret TEXT --backing FILE] [--tag TAG]
 *        [--vfsd-opt OPT]... [--only create,special,flip,dotdot,reuse]
 * Prints TAP lines; exit 0 when all passed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/helpers/vfsd_frontend.h"

static const char *tag = "vfsd";
static const char *secret;
static size_t secret_len;
static unsigned secret_seen, slow_replies, transport_errors;
static dev_t share_dev;
static uint64_t plain_node; /* a regular file, for LINK onto special names */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Every request of this test goes through here: a reply slower than a
 * second (a queue thread stuck in open()), a lost reply, or the secret in
 * the reply is counted.
 */
static struct reply call(uint32_t opcode, uint64_t nodeid, const void *arg, size_t arglen)
{
	double t0 = now_s();
	struct reply r = {.error = 1000};

	/* A queue that lost a reply is wedged: fail the rest fast, not 3 s each. */
	if (transport_errors)
		return r;
	r = fuse_call(1, opcode, nodeid, arg, arglen, NULL, 0, OUT_MAX);
	if (now_s() - t0 > 1.0)
		slow_replies++;
	if (r.error >= 1000)
		transport_errors++;
	else if (secret && r.len && memmem(r.data, r.len, secret, secret_len))
		secret_seen++;
	return r;
}

static const char *err_name(int e)
{
	static char buf[64];

	if (e >= 1000)
		return "no reply";
	if (e == 0)
		return "success";
	snprintf(buf, sizeof(buf), "%s", strerror(-e));
	return buf;
}

/* CREATE name in dir; *fh and *node set on success. */
static int create(uint64_t dir, const char *name, uint32_t flags, uint64_t *node, uint64_t *fh)
{
	struct {
		struct fuse_create_in in;
		char name[256];
	} cr = {.in = {.flags = flags, .mode = S_IFREG | 0644}};
	struct reply r;

	snprintf(cr.name, sizeof(cr.name), "%s", name);
	r = call(FUSE_CREATE, dir, &cr, sizeof(cr.in) + strlen(name) + 1);
	if (r.error == 0 && r.len >= sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)) {
		*node = ((struct fuse_entry_out *)r.data)->nodeid;
		*fh = ((struct fuse_open_out *)(r.data + sizeof(struct fuse_entry_out)))->fh;
	}
	return r.error;
}

/*
 * What a guest does with a handle it should never have got: READ (the
 * secret check in call() sees device contents) and WRITE (the backing
 * file's check sees a change).
 */
static void use_handle(uint64_t node, uint64_t fh)
{
	struct fuse_read_in rd = {.fh = fh, .offset = 0, .size = 4096};
	struct fuse_write_in wr = {.fh = fh, .offset = 4096, .size = 10};

	call(FUSE_READ, node, &rd, sizeof(rd));
	if (!transport_errors)
		fuse_call(1, FUSE_WRITE, node, &wr, sizeof(wr), "GUESTWROTE", 10, 256);
}

static void release(uint64_t node, uint64_t fh)
{
	struct fuse_release_in rel = {.fh = fh};

	call(FUSE_RELEASE, node, &rel, sizeof(rel));
}

static uint64_t guest_lookup(uint64_t dir, const char *name, int *err)
{
	struct reply r = call(FUSE_LOOKUP, dir, name, strlen(name) + 1);

	*err = r.error;
	return r.error ? 0 : ((struct fuse_entry_out *)r.data)->nodeid;
}

static int guest_open(uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in in = {.flags = flags};
	struct reply r = call(FUSE_OPEN, node, &in, sizeof(in));

	if (!r.error)
		*fh = ((struct fuse_open_out *)r.data)->fh;
	return r.error;
}

static int guest_mknod(const char *name, mode_t mode, dev_t rdev)
{
	struct {
		struct fuse_mknod_in in;
		char name[256];
	} mk = {.in = {.mode = mode, .rdev = (uint32_t)rdev}};

	snprintf(mk.name, sizeof(mk.name), "%s", name);
	return call(FUSE_MKNOD, 1, &mk, sizeof(mk.in) + strlen(name) + 1).error;
}

static int guest_symlink(const char *name, const char *target)
{
	char buf[600];
	size_t l = strlen(name) + 1;

	memcpy(buf, name, l);
	memcpy(buf + l, target, strlen(target) + 1);
	return call(FUSE_SYMLINK, 1, buf, l + strlen(target) + 1).error;
}

static int guest_rename(const char *from, const char *to)
{
	char buf[sizeof(struct fuse_rename_in) + 600];
	struct fuse_rename_in in = {.newdir = 1};
	size_t a = strlen(from) + 1, b = strlen(to) + 1;

	memcpy(buf, &in, sizeof(in));
	memcpy(buf + sizeof(in), from, a);
	memcpy(buf + sizeof(in) + a, to, b);
	return call(FUSE_RENAME, 1, buf, sizeof(in) + a + b).error;
}

static int guest_link(uint64_t node, const char *to)
{
	char buf[sizeof(struct fuse_link_in) + 300];
	struct fuse_link_in in = {.oldnodeid = node};

	memcpy(buf, &in, sizeof(in));
	memcpy(buf + sizeof(in), to, strlen(to) + 1);
	return call(FUSE_LINK, 1, buf, sizeof(in) + strlen(to) + 1).error;
}

static void guest_unlink(const char *name)
{
	call(FUSE_UNLINK, 1, name, strlen(name) + 1);
}

/*
 * The invariant itself: every descriptor vfsd holds on a file of the share
 * that is neither a regular file nor a directory is an O_PATH one (which
 * never ran the device's or FIFO's open).  Returns the number of others.
 */
static unsigned open_special_fds(char *what, size_t len)
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
	*what = '\0';
	while ((de = readdir(d))) {
		struct stat st;
		char line[128];
		unsigned long flags = 0;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid, de->d_name);
		if (stat(path, &st) < 0 || st.st_dev != share_dev || S_ISREG(st.st_mode) ||
		    S_ISDIR(st.st_mode))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, de->d_name);
		f = fopen(path, "re");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "flags: %lo", &flags) == 1)
				break;
		if (f)
			fclose(f);
		if (!(flags & O_PATH)) {
			bad++;
			snprintf(what + strlen(what), len - strlen(what),
			         " fd %s (mode %o flags %lo)", de->d_name, st.st_mode, flags);
		}
	}
	closedir(d);
	return bad;
}

static void check_no_open_special(const char *when)
{
	char what[512];
	unsigned bad = open_special_fds(what, sizeof(what));

	T(bad == 0, "%s: %s: vfsd holds no non-O_PATH fd on a special file of the share%s", tag,
	  when, what);
}

/*
 * Everything a guest may try on one special file @name (node @node from
 * LOOKUP): no handle ever, an errno each time.
 */
static void attack_one(const char *name, uint64_t node)
{
	/* The order of the errnos in the messages below. */
	static const struct {
		uint32_t flags;
	} modes[] = {
	    {O_RDWR},
	    {O_RDONLY},
	    {O_WRONLY | O_TRUNC},
	    {O_RDONLY | O_NONBLOCK},
	};
	char alias[300];
	uint64_t fh = 0, n2 = 0;
	unsigned handles = 0, refused = 0, i;
	int e, create_errs[4] = {0}, open_errs[4] = {0};
	struct reply r;

	for (i = 0; i < 4; i++) {
		e = create(1, name, modes[i].flags, &n2, &fh);
		create_errs[i] = e;
		if (e == 0) {
			handles++;
			use_handle(n2, fh);
			release(n2, fh);
		}
		refused += e < 0;
	}
	T(handles == 0 && refused == 4,
	  "%s: %s: CREATE without O_EXCL refused in every mode (%s, %s, %s, %s)", tag, name,
	  err_name(create_errs[0]), err_name(create_errs[1]), err_name(create_errs[2]),
	  err_name(create_errs[3]));
	e = create(1, name, O_RDWR | O_EXCL, &n2, &fh);
	T(e == -EEXIST, "%s: %s: CREATE with O_EXCL: EEXIST (%s)", tag, name, err_name(e));
	if (e == 0)
		release(n2, fh);

	handles = refused = 0;
	for (i = 0; i < 4; i++) {
		e = guest_open(node, modes[i].flags, &fh);
		open_errs[i] = e;
		if (e == 0) {
			handles++;
			use_handle(node, fh);
			release(node, fh);
		}
		refused += e < 0;
	}
	T(handles == 0 && refused == 4, "%s: %s: OPEN refused in every mode (%s, %s, %s, %s)", tag,
	  name, err_name(open_errs[0]), err_name(open_errs[1]), err_name(open_errs[2]),
	  err_name(open_errs[3]));
	{
		struct fuse_open_in oi = {.flags = O_RDONLY};

		r = call(FUSE_OPENDIR, node, &oi, sizeof(oi));
		T(r.error < 0, "%s: %s: OPENDIR refused (%s)", tag, name, err_name(r.error));
		if (r.error == 0) {
			struct fuse_release_in rel = {.fh = ((struct fuse_open_out *)r.data)->fh};

			call(FUSE_RELEASEDIR, node, &rel, sizeof(rel));
		}
	}
	{
		struct fuse_setattr_in sa = {.valid = FATTR_SIZE, .size = 0};

		r = call(FUSE_SETATTR, node, &sa, sizeof(sa));
		T(r.error < 0, "%s: %s: SETATTR(size) refused (%s)", tag, name, err_name(r.error));
	}
	{
		struct {
			struct fuse_getxattr_in in;
			char name[16];
		} gx = {.in = {.size = 256}, .name = "user.x"};

		r = call(FUSE_GETXATTR, node, &gx, sizeof(gx.in) + 7);
		e = r.error;
		r = call(FUSE_LISTXATTR, node, &gx.in, sizeof(gx.in));
		T(e < 1000 && r.error < 1000, "%s: %s: GETXATTR/LISTXATTR answer (%s, %s)", tag,
		  name, err_name(e), err_name(r.error));
	}

	/* A second name for the same file (LINK), then a new name (RENAME): still inert. */
	snprintf(alias, sizeof(alias), "L.%s", name);
	e = guest_link(node, alias);
	if (e == 0) {
		int oe, ce, err;
		uint64_t ln = guest_lookup(1, alias, &err);

		oe = ln ? guest_open(ln, O_RDWR, &fh) : err;
		if (oe == 0)
			release(ln, fh);
		ce = create(1, alias, O_RDWR, &n2, &fh);
		if (ce == 0)
			release(n2, fh);
		T(oe < 0 && ce < 0,
		  "%s: %s: after LINK, OPEN and CREATE of the new name refused (%s, %s)", tag, name,
		  err_name(oe), err_name(ce));
		guest_unlink(alias);
	} else {
		T(e < 0 && e > -1000, "%s: %s: LINK answered (%s)", tag, name, err_name(e));
	}
	snprintf(alias, sizeof(alias), "R.%s", name);
	e = guest_rename(name, alias);
	if (e == 0) {
		int oe, ce, err;
		uint64_t rn = guest_lookup(1, alias, &err);

		oe = rn ? guest_open(rn, O_RDONLY, &fh) : err;
		if (oe == 0)
			release(rn, fh);
		ce = create(1, alias, O_RDONLY, &n2, &fh);
		if (ce == 0)
			release(n2, fh);
		T(oe < 0 && ce < 0,
		  "%s: %s: after RENAME, OPEN and CREATE of the new name refused (%s, %s)", tag,
		  name, err_name(oe), err_name(ce));
		guest_rename(alias, name);
	} else {
		T(false, "%s: %s: RENAME (%s)", tag, name, err_name(e));
	}
	/* LINK cannot put a regular file's inode under the special name either. */
	if (plain_node) {
		e = guest_link(plain_node, name);
		T(e == -EEXIST, "%s: %s: LINK of a regular file onto the name: EEXIST (%s)", tag,
		  name, err_name(e));
	}
}

/* READ with every fh a guest could guess: nothing is open, least of all a device. */
static void guess_handles(void)
{
	unsigned reads = 0;

	for (uint64_t fh = 0; fh < 64; fh++) {
		struct fuse_read_in rd = {.fh = fh, .offset = 0, .size = 4096};
		struct reply r = call(FUSE_READ, 1, &rd, sizeof(rd));

		reads += r.error == 0;
	}
	T(reads == 0, "%s: READ with guessed handles finds nothing open (%u answered)", tag, reads);
}

struct special {
	const char *name;
	mode_t mode;
	dev_t rdev;
	const char *target; /* symlinks */
};

static void make_host_special(const struct special *s)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", share, s->name);
	unlink(path);
	if (S_ISLNK(s->mode)) {
		(void)!symlink(s->target, path);
	} else if (S_ISSOCK(s->mode)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int fd;

		if (strlen(path) >= sizeof(sa.sun_path))
			return;
		memcpy(sa.sun_path, path, strlen(path) + 1);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			(void)!bind(fd, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
		}
	} else {
		(void)!mknod(path, s->mode, s->rdev);
	}
}

static void test_special_files(const char *blockdev)
{
	struct stat bst;
	dev_t blk_rdev = makedev(7, 0);
	char blk_target[300];
	int err;

	if (blockdev && stat(blockdev, &bst) == 0 && S_ISBLK(bst.st_mode))
		blk_rdev = bst.st_rdev;
	snprintf(blk_target, sizeof(blk_target), "%s", blockdev ? blockdev : "/dev/loop0");
	const struct special sp[] = {
	    {"blk.guest", S_IFBLK | 0666, blk_rdev, NULL},
	    {"chr.guest", S_IFCHR | 0666, makedev(1, 5), NULL}, /* /dev/zero */
	    {"sock.guest", S_IFSOCK | 0666, 0, NULL},
	    {"lnk.guest", S_IFLNK | 0777, 0, "blk.guest"},
	    {"abslnk.guest", S_IFLNK | 0777, 0, blk_target},
	    {"blk.host", S_IFBLK | 0666, blk_rdev, NULL},
	    {"chr.host", S_IFCHR | 0666, makedev(1, 5), NULL},
	    {"sock.host", S_IFSOCK | 0666, 0, NULL},
	    {"lnk.host", S_IFLNK | 0777, 0, "blk.host"},
	    {"abslnk.host", S_IFLNK | 0777, 0, blk_target},
	    /* Last: a vfsd that opens a FIFO wedges its queue for the rest. */
	    {"fifo.guest", S_IFIFO | 0666, 0, NULL},
	    {"fifo.host", S_IFIFO | 0666, 0, NULL},
	};

	{
		char path[600];

		snprintf(path, sizeof(path), "%s/plain", share);
		close(open(path, O_WRONLY | O_CREAT, 0644));
		plain_node = guest_lookup(1, "plain", &err);
	}
	for (size_t i = 0; i < sizeof(sp) / sizeof(sp[0]); i++) {
		const struct special *s = &sp[i];
		uint64_t node;

		if (strstr(s->name, ".guest")) {
			int e = S_ISLNK(s->mode) ? guest_symlink(s->name, s->target)
			                         : guest_mknod(s->name, s->mode, s->rdev);

			T(e == 0, "%s: guest made %s (%s)", tag, s->name, err_name(e));
		} else {
			make_host_special(s);
		}
		node = guest_lookup(1, s->name, &err);
		if (!node) {
			T(false, "%s: LOOKUP of %s (%s)", tag, s->name, err_name(err));
			continue;
		}
		attack_one(s->name, node);
	}
	{
		/* READDIRPLUS over all of them: lookups only, nothing opened, no wait. */
		struct fuse_open_in oi = {.flags = O_RDONLY};
		struct reply r = call(FUSE_OPENDIR, 1, &oi, sizeof(oi));
		uint64_t dfh = r.error ? 0 : ((struct fuse_open_out *)r.data)->fh;
		struct fuse_read_in ri = {.fh = dfh, .offset = 0, .size = 65536};

		r = call(FUSE_READDIRPLUS, 1, &ri, sizeof(ri));
		T(r.error == 0 && r.len > 0, "%s: READDIRPLUS over the special files (%s)", tag,
		  err_name(r.error));
		struct fuse_release_in rel = {.fh = dfh};
		call(FUSE_RELEASEDIR, 1, &rel, sizeof(rel));
	}
	guess_handles();
	check_no_open_special("after the special-file requests");
}

/* CREATE of ordinary names still behaves: the fix must not break it. */
static void test_create_regular(void)
{
	char path[600];
	uint64_t node, fh;
	int e, fd;

	snprintf(path, sizeof(path), "%s/reg", share);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	T(fd >= 0 && write(fd, "data", 4) == 4, "%s: host made a regular file", tag);
	if (fd >= 0)
		close(fd);
	e = create(1, "reg", O_RDWR, &node, &fh);
	T(e == 0, "%s: CREATE of an existing regular file without O_EXCL opens it (%s)", tag,
	  err_name(e));
	if (e == 0) {
		struct fuse_read_in rd = {.fh = fh, .offset = 0, .size = 16};
		struct reply r = call(FUSE_READ, node, &rd, sizeof(rd));

		T(r.error == 0 && r.len == 4 && !memcmp(r.data, "data", 4),
		  "%s: ... and READ gets its data", tag);
		release(node, fh);
	}
	e = create(1, "reg", O_RDWR | O_EXCL, &node, &fh);
	T(e == -EEXIST, "%s: CREATE with O_EXCL of an existing file: EEXIST (%s)", tag,
	  err_name(e));
	e = create(1, "reg", O_WRONLY | O_TRUNC, &node, &fh);
	T(e == 0 && access(path, F_OK) == 0, "%s: CREATE with O_TRUNC of an existing file (%s)",
	  tag, err_name(e));
	if (e == 0) {
		struct stat st;

		T(stat(path, &st) == 0 && st.st_size == 0, "%s: ... truncates it", tag);
		release(node, fh);
	}
	/* A file the caller may not write: the existing-name path checks as the caller. */
	chmod(path, 0600);
	req_uid = req_gid = 1000;
	e = create(1, "reg", O_WRONLY | O_TRUNC, &node, &fh);
	req_uid = req_gid = 0;
	T(e == -EACCES, "%s: CREATE of root's 0600 file by uid 1000: EACCES (%s)", tag,
	  err_name(e));
	if (e == 0)
		release(node, fh);
	T(chown(path, 1000, 1000) == 0, "%s: host gives the file to uid 1000", tag);
	req_uid = req_gid = 1000;
	e = create(1, "reg", O_WRONLY | O_TRUNC, &node, &fh);
	req_uid = req_gid = 0;
	T(e == 0, "%s: ... then CREATE of it by uid 1000 opens it (%s)", tag, err_name(e));
	if (e == 0)
		release(node, fh);
	unlink(path);
	e = create(1, "fresh", O_RDWR, &node, &fh);
	T(e == 0, "%s: CREATE of a new name (%s)", tag, err_name(e));
	if (e == 0)
		release(node, fh);
	snprintf(path, sizeof(path), "%s/fresh", share);
	unlink(path);
	snprintf(path, sizeof(path), "%s/adir", share);
	mkdir(path, 0755);
	e = create(1, "adir", O_RDWR, &node, &fh);
	T(e == -EISDIR, "%s: CREATE of an existing directory: EISDIR (%s)", tag, err_name(e));
	rmdir(path);
}

/* The host flips a name between a regular file and a FIFO; the guest keeps opening it. */
static volatile int flipping;

static void *flipper(void *arg)
{
	char a[600], b[600], c[600];

	snprintf(a, sizeof(a), "%s/flip", share);
	snprintf(b, sizeof(b), "%s/flip.fifo", share);
	snprintf(c, sizeof(c), "%s/flip.reg", share);
	while (flipping) {
		(void)!mkfifo(b, 0666);
		(void)!rename(b, a);
		close(open(c, O_WRONLY | O_CREAT, 0666));
		(void)!rename(c, a);
	}
	return arg;
}

static void test_flip_race(void)
{
	pthread_t th;
	unsigned opened = 0, refused = 0, bad = 0, looked = 0, mistyped = 0;
	char what[512] = "";
	double t0 = now_s();

	flipping = 1;
	pthread_create(&th, NULL, flipper, NULL);
	while (now_s() - t0 < 1.5) {
		uint64_t node, fh;
		int err, e = create(1, "flip", O_RDONLY, &node, &fh);

		if (e == 0) {
			opened++;
			bad += open_special_fds(what, sizeof(what));
			release(node, fh);
		} else {
			refused++;
		}
		/*
		 * A LOOKUP answers with the type the node really has: vfsd may
		 * take a known inode from one statx of the name, and must
		 * never pair a FIFO's attributes with a regular file's node or
		 * the other way round.
		 */
		struct reply lr = call(FUSE_LOOKUP, 1, "flip", sizeof("flip"));

		node = 0;
		if (lr.error == 0 && lr.len >= sizeof(struct fuse_entry_out)) {
			const struct fuse_entry_out *ent = (const void *)lr.data;
			struct fuse_getattr_in ga = {0};
			uint32_t type = ent->attr.mode & S_IFMT;
			struct reply gr;

			node = ent->nodeid;
			gr = call(FUSE_GETATTR, node, &ga, sizeof(ga));
			if (gr.error == 0 && gr.len >= sizeof(struct fuse_attr_out)) {
				looked++;
				if ((((const struct fuse_attr_out *)gr.data)->attr.mode & S_IFMT) !=
				    type)
					mistyped++;
			}
		}
		(void)err;
		if (node && guest_open(node, O_RDONLY, &fh) == 0) {
			opened++;
			bad += open_special_fds(what, sizeof(what));
			release(node, fh);
		}
	}
	flipping = 0;
	pthread_join(th, NULL);
	T(bad == 0 && opened > 0 && refused > 0,
	  "%s: a name flipping between file and FIFO: %u opens, %u refusals, never a FIFO "
	  "opened%s",
	  tag, opened, refused, what);
	T(looked > 0 && mistyped == 0,
	  "%s: a LOOKUP of the flipping name gives the type its node has (%u lookups, %u with "
	  "another type)",
	  tag, looked, mistyped);
}

/* ".." from a directory the host moved out of the share. */
static ino_t found_ino;
static int found;

static int find_ino(const char *p, const struct stat *st, int type, struct FTW *f)
{
	if (st->st_ino == found_ino && st->st_dev == share_dev && S_ISDIR(st->st_mode))
		found = 1;
	return 0;
}

static void test_dotdot(const char *outside)
{
	char up[600], moved[600], away[600];
	uint64_t nu, nm, n;
	int err;

	snprintf(up, sizeof(up), "%s/up", share);
	snprintf(moved, sizeof(moved), "%s/up/moved", share);
	snprintf(away, sizeof(away), "%s/moved", outside);
	mkdir(up, 0755);
	mkdir(moved, 0755);
	nu = guest_lookup(1, "up", &err);
	nm = nu ? guest_lookup(nu, "moved", &err) : 0;
	T(nu && nm, "%s: guest holds up/ and up/moved/", tag);
	n = guest_lookup(nm, "..", &err);
	T(nu && n == nu, "%s: '..' of up/moved is up (%s)", tag, err_name(err));
	n = guest_lookup(nu, "..", &err);
	T(n == 1, "%s: '..' of up is the root (%s)", tag, err_name(err));
	n = guest_lookup(1, "..", &err);
	T(n == 1, "%s: '..' of the root is the root (%s)", tag, err_name(err));

	T(rename(moved, away) == 0, "%s: host moves up/moved out of the share", tag);
	struct reply r = call(FUSE_LOOKUP, nm, "..", 3);
	if (r.error == 0) {
		found_ino = ((struct fuse_entry_out *)r.data)->attr.ino;
		found = 0;
		nftw(share, find_ino, 16, FTW_PHYS | FTW_MOUNT);
		T(found, "%s: '..' of the moved directory stays inside the share (ino %llu)", tag,
		  (unsigned long long)found_ino);
	} else {
		T(r.error == -ENOENT, "%s: '..' of the moved directory: ENOENT (%s)", tag,
		  err_name(r.error));
	}
	/* Nor one more level up, nor from a directory inside it. */
	mkdir(up, 0755);
	{
		char deeper[700];
		uint64_t nd;

		snprintf(deeper, sizeof(deeper), "%s/deeper", away);
		mkdir(deeper, 0755);
		nd = guest_lookup(nm, "deeper", &err);
		n = nd ? guest_lookup(nd, "..", &err) : 0;
		T(nd && (n == nm || (n == 0 && err == -ENOENT)),
		  "%s: '..' below the moved directory is that directory or ENOENT (%s)", tag,
		  err_name(err));
		rmdir(deeper);
	}
	rename(away, moved);
	n = guest_lookup(nm, "..", &err);
	T(nu && n == nu, "%s: moved back, '..' is up again (%s)", tag, err_name(err));
	rmdir(moved);
	rmdir(up);
}

/*
 * --inode-file-handles: an inode whose fd was evicted no longer pins its
 * file.  The host deletes it and makes a FIFO, which on ext4 gets the same
 * inode number.  A LOOKUP of the FIFO must not be taken for the old inode
 * (whose type says "regular file"), or OPEN would open the FIFO.  Run with
 * --inode-file-handles=mandatory --rlimit-nofile=600 on an ext4 share.
 */
static void test_handle_reuse(void)
{
	char path[600], name[32];
	struct stat st1, st2;
	uint64_t v, n, fh;
	unsigned looked = 0;
	int err, e;

	snprintf(path, sizeof(path), "%s/victim", share);
	close(open(path, O_WRONLY | O_CREAT, 0644));
	for (int i = 0; i < 400; i++) {
		char p2[700];

		snprintf(p2, sizeof(p2), "%s/f%03d", share, i);
		close(open(p2, O_WRONLY | O_CREAT, 0644));
	}
	v = guest_lookup(1, "victim", &err);
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "f%03d", i);
		looked += guest_lookup(1, name, &err) != 0;
	}
	T(v && looked == 400, "%s: guest looked up the victim, then 400 files past the fd budget",
	  tag);
	if (stat(path, &st1) < 0 || unlink(path) < 0 || mkfifo(path, 0666) < 0 ||
	    stat(path, &st2) < 0 || st1.st_ino != st2.st_ino) {
		printf("ok - %s: a FIFO reusing an evicted inode's number # SKIP the file system "
		       "did not reuse it\n",
		       tag);
		return;
	}
	n = guest_lookup(1, "victim", &err);
	T(n && n != v,
	  "%s: the FIFO with the deleted file's inode number is a new node (%llu, %llu)", tag,
	  (unsigned long long)v, (unsigned long long)n);
	e = guest_open(v, O_RDONLY, &fh);
	T(e < 0, "%s: OPEN of the deleted file's node refused (%s)", tag, err_name(e));
	if (e == 0)
		release(v, fh);
	e = n ? guest_open(n, O_RDONLY, &fh) : 0;
	T(e < 0, "%s: OPEN of the FIFO's node refused (%s)", tag, err_name(e));
	if (e == 0)
		release(n, fh);
	check_no_open_special("after the inode-number reuse");
}

static void test_reconnect(void)
{
	double t0;
	int err;
	bool ok;

	vu_teardown();
	t0 = now_s();
	ok = vu_connect() == 0 && vu_setup() == 0 && fuse_init().error == 0 &&
	     lookup(1, ".", &err) == 1;
	T(ok && now_s() - t0 < 1.0, "%s: disconnect and reconnect in %.2f s", tag, now_s() - t0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"share", required_argument, NULL, 's'},   {"outside", required_argument, NULL, 'o'},
	    {"sandbox", required_argument, NULL, 'S'}, {"blockdev", required_argument, NULL, 'b'},
	    {"secret", required_argument, NULL, 'x'},  {"backing", required_argument, NULL, 'B'},
	    {"tag", required_argument, NULL, 't'},     {"vfsd-opt", required_argument, NULL, 'O'},
	    {"only", required_argument, NULL, 'y'},    {NULL, 0, NULL, 0},
	};
	const char *outside = NULL, *sandbox = "none", *blockdev = NULL, *backing = NULL;
	const char *args[16] = {NULL}, *only = NULL;
	char sb[64], seccomp[32];
	unsigned nargs = 0;
	struct stat st;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(share, sizeof(share), "%s", optarg);
			break;
		case 'o':
			outside = optarg;
			break;
		case 'S':
			sandbox = optarg;
			break;
		case 'b':
			blockdev = optarg;
			break;
		case 'x':
			secret = optarg;
			secret_len = strlen(secret);
			break;
		case 'B':
			backing = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'y':
			only = optarg;
			break;
		case 'O':
			if (nargs < 10)
				args[nargs++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!share[0] || !outside || stat(share, &st) < 0) {
		fprintf(stderr, "usage: %s --share DIR --outside DIR --sandbox MODE ...\n",
		        argv[0]);
		return 2;
	}
	share_dev = st.st_dev;
	snprintf(sock_path, sizeof(sock_path), "%s.%s.sock", share, tag);
	snprintf(log_path, sizeof(log_path), "%s.%s.log", share, tag);
	snprintf(sb, sizeof(sb), "--sandbox=%s", sandbox);
#ifdef __SANITIZE_ADDRESS__
	snprintf(seccomp, sizeof(seccomp), "--seccomp=log");
#else
	snprintf(seccomp, sizeof(seccomp), "--seccomp=kill");
#endif
	args[nargs++] = sb;
	args[nargs++] = seccomp;
	args[nargs++] = "--xattr";
	args[nargs] = NULL;
	if (fe_guest_mem_init() < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);

	if (start_vfsd_args(args) < 0 || vu_setup() < 0 || fuse_init().error != 0) {
		printf("not ok - %s: vfsd came up\n", tag);
		stop_vfsd();
		return 1;
	}
#define WANT(name) (!only || strstr(only, name))
	if (WANT("create"))
		test_create_regular();
	if (WANT("special"))
		test_special_files(blockdev);
	if (WANT("flip"))
		test_flip_race();
	if (WANT("dotdot"))
		test_dotdot(outside);
	if (only && strstr(only, "reuse")) /* only when asked: needs ext4 and file handles */
		test_handle_reuse();
	T(slow_replies == 0 && transport_errors == 0,
	  "%s: every reply within a second (%u slow, %u lost)", tag, slow_replies,
	  transport_errors);
	test_reconnect();
	if (secret)
		T(secret_seen == 0, "%s: the block device's secret never in a reply (%u times)",
		  tag, secret_seen);
	if (backing && secret) {
		/* The script writes the secret and then zeros only. */
		static char buf[1 << 20];
		int fd = open(backing, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
		bool same = n >= (ssize_t)secret_len && !memcmp(buf, secret, secret_len);

		for (ssize_t i = (ssize_t)secret_len; same && i < n; i++)
			same = buf[i] == 0;
		T(same, "%s: the loop device's backing file is unchanged", tag);
		if (fd >= 0)
			close(fd);
	}
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
