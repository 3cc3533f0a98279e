/* SPDX-License-Identifier: MIT */
/*
 * mount_race: a static helper that runs inside test containers (whose root
 * file system holds nothing but busybox) and drives notifyd.
 *
 *   mount_race race DEV COUNT OKTYPE BADTYPE OKDATA BADDATA
 *	Thread A calls mount(SRC, target, type, 0, data) COUNT times while
 *	thread B keeps rewriting the target ("/mnt/a" <-> "/mnt/b"), type
 *	(OKTYPE <-> BADTYPE) and data (OKDATA <-> BADDATA)  buffers that A passes,
 *	holding each whole state 10 to 50 us (dwell()).
 *	After each call A looks in /proc/self/mountinfo for what, if anything,
 *	got mounted on /mnt/a or /mnt/b, prints one line and unmounts it:
 *	  attempt=N src=SRC rc=R errno=NAME at=/mnt/a|/mnt/b|none|both fstype=T
 *	  opts=O super=S flipped=0|1
 *	(flipped: B rewrote the buffers while the call was in the kernel.)
 *	COUNT is a minimum: under CPU load the flipper may not run while A's
 *	calls are in notifyd, so A goes on (up to 10 * COUNT attempts) until
 *	both outcomes (mounted, refused) were seen and at least one call
 *	overlapped a rewrite; the last line says how many attempts it made:
 *	  race done attempts=N
 *	SRC is /tmp/mr/N, a symlink to DEV made for attempt N alone, so the
 *	test can find notifyd's decision line for each attempt by its source
 *	(decision lines are logged after the answer, by whichever worker, so
 *	their order is not reliable).  A mount must land exactly where, and
 *	with the type, notifyd logged, because notifyd acts on its own copy.
 *
 *   mount_race storm DEV COUNT
 *	Issues at least COUNT trapped syscalls in a fixed cycle (ext4 mount and
 *	umount, tmpfs mount and umount, denied type, disallowed option, fsopen
 *	of the denied type, a bad pointer) and prints a summary line
 *	  storm requests=N unexpected=M
 *	plus one "unexpected ..." line for each of the first 20 surprises.
 *	The profile the test writes decides what is expected (see the table).
 *
 *   mount_race newapi
 *	Mounts a tmpfs on /mnt/b as libmount would with the new mount API
 *	(fsopen, fsconfig, fsmount, move_mount), then fsopen(NULL), an unknown
 *	type and xfs, fspick on /, open_tree(OPEN_TREE_CLONE) of /tmp,
 *	mount_setattr(noexec) on that detached clone and a move_mount by path;
 *	one line each, "NAME errno=NAME".
 *
 *   mount_race fsopen TYPE
 *	fsopen(TYPE, FSOPEN_CLOEXEC), closes what it got; prints
 *	"fsopen errno=NAME".
 *
 *   mount_race attach-by-path DEV TARGET dot|procfd
 *	fsopen("ext4") .. fsmount on DEV, then attaches the mount fd at TARGET
 *	without MOVE_MOUNT_F_EMPTY_PATH: move_mount(FD, ".", ...) (dot) or
 *	MS_MOVE of /proc/self/fd/FD (procfd); prints "attach errno=NAME".
 *
 *   mount_race badptr SOURCE TYPE [DATA]
 *	mount(2) with arguments the supervisor cannot read: NULL, pointers
 *	into an unmapped (PROT_NONE) page or kernel space, strings that run
 *	without a NUL into an unmapped page, strings longer than PATH_MAX or
 *	than a page of options, and strings that cross into a mapped next page
 *	(valid); then umount2 with the same kinds of pointers while something
 *	is mounted on /mnt/a.  Target is /mnt/a.  Prints one line a case
 *	  badptr case=NAME rc=R errno=NAME
 *	and unmounts whatever a case mounted.  Run it with and without a
 *	supervisor to compare the answers with the kernel's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* By its path from here: static helpers are built without -I. */
#include "../../common/kernel_compat.h"

#define BUFSZ 64

static const char *errname(int e)
{
	const char *n;

	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	return n ? n : "UNKNOWN";
}

/* ---- mountinfo ---------------------------------------------------------- */

struct mnt {
	int found;
	char fstype[BUFSZ];
	char opts[256];
	char super[512];
};

/* Undo mountinfo's octal escapes (\040 for space) in place. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
}

/*
 * Fill a (for /mnt/a) and b (for /mnt/b) with the topmost mount on each.
 * Returns 0, or -errno if mountinfo cannot be read.
 */
static int scan_mounts(struct mnt *a, struct mnt *b)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source super */
		char *save = NULL, *tok, *mp = NULL, *opts = NULL, *fstype = NULL, *super = NULL;
		int i = 0, after_dash = 0;
		struct mnt *m;

		line[strcspn(line, "\n")] = '\0';
		for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
			if (i == 4)
				mp = tok;
			else if (i == 5)
				opts = tok;
			else if (!after_dash && i > 5 && strcmp(tok, "-") == 0)
				after_dash = 1;
			else if (after_dash == 1) {
				fstype = tok;
				after_dash = 2;
			} else if (after_dash == 2) {
				after_dash = 3; /* source */
			} else if (after_dash == 3) {
				super = tok;
				after_dash = 4;
			}
		}
		if (!mp || !opts || !fstype)
			continue;
		unescape(mp);
		if (strcmp(mp, "/mnt/a") == 0)
			m = a;
		else if (strcmp(mp, "/mnt/b") == 0)
			m = b;
		else
			continue;
		/* Later lines are mounted on top of earlier ones: keep the last. */
		m->found++;
		snprintf(m->fstype, sizeof(m->fstype), "%s", fstype);
		snprintf(m->opts, sizeof(m->opts), "%s", opts);
		snprintf(m->super, sizeof(m->super), "%s", super ? super : "");
	}
	fclose(f);
	return 0;
}

/* Unmount everything on path; returns how many umount2 calls failed. */
static int umount_all(const char *path, int n)
{
	int failed = 0;

	while (n-- > 0) {
		if (umount2(path, 0) < 0) {
			fprintf(stderr, "umount2(%s): %s\n", path, strerror(errno));
			failed++;
			if (umount2(path, MNT_DETACH) < 0)
				break;
		}
	}
	return failed;
}

/* ---- race --------------------------------------------------------------- */

/* The buffers thread A hands to mount(2) and thread B rewrites under it. */
static char target_buf[BUFSZ], type_buf[BUFSZ], data_buf[BUFSZ];
static char ok_type[BUFSZ], bad_type[BUFSZ], ok_data[BUFSZ], bad_data[BUFSZ];
static char target_a[BUFSZ], target_b[BUFSZ];
static atomic_int stop;
static atomic_ulong flips; /* rewrites so far */

static void put(char *dst, const char *src)
{
	/* Whole-buffer copy so readers see every mix of old and new bytes. */
	volatile char *d = dst;

	for (size_t i = 0; i < BUFSZ; i++)
		d[i] = src[i];
}

/*
 * Hold state k for 10 to 50 us (varied, so the states do not fall into step
 * with A's calls).  Rewriting without a pause leaves the buffers torn most
 * of the time, so a copy notifyd takes is almost never a whole "ok" state
 * and a loaded machine saw no mount succeed at all; with the pause its
 * copies land on whole states of every kind as well as on torn ones, while
 * a kernel mount (hundreds of microseconds in notifyd) still spans rewrites.
 */
static void dwell(unsigned long k)
{
	long ns = 10000 + (long)((k * 2654435761UL) % 40000);
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < ns &&
	       !atomic_load_explicit(&stop, memory_order_relaxed));
}

static void *flipper(void *arg)
{
	unsigned long k = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		put(target_buf, (k & 1) ? target_b : target_a);
		put(type_buf, (k & 2) ? bad_type : ok_type);
		put(data_buf, (k & 4) ? bad_data : ok_data);
		atomic_store_explicit(&flips, ++k, memory_order_relaxed);
		dwell(k);
		if ((k & 63) == 0)
			sched_yield();
	}
	return NULL;
}

static void setbuf_arg(char *dst, const char *src, const char *what)
{
	if (strlen(src) >= BUFSZ) {
		fprintf(stderr, "mount_race: %s too long\n", what);
		exit(2);
	}
	memset(dst, 0, BUFSZ);
	memcpy(dst, src, strlen(src));
}

static int do_race(int argc, char **argv)
{
	const char *dev;
	long count;
	pthread_t th;
	struct mnt a, b;
	int r, stuck = 0;
	long i, n_ok = 0, n_fail = 0, n_flipped = 0;

	if (argc != 8) {
		fprintf(stderr, "usage: mount_race race DEV COUNT OKTYPE BADTYPE OKDATA BADDATA\n");
		return 2;
	}
	dev = argv[2];
	count = strtol(argv[3], NULL, 10);
	setbuf_arg(target_a, "/mnt/a", "target");
	setbuf_arg(target_b, "/mnt/b", "target");
	setbuf_arg(ok_type, argv[4], "OKTYPE");
	setbuf_arg(bad_type, argv[5], "BADTYPE");
	setbuf_arg(ok_data, argv[6], "OKDATA");
	setbuf_arg(bad_data, argv[7], "BADDATA");
	put(target_buf, target_a);
	put(type_buf, ok_type);
	put(data_buf, ok_data);

	r = scan_mounts(&a, &b);
	if (r < 0) {
		fprintf(stderr, "mount_race: /proc/self/mountinfo: %s\n", strerror(-r));
		return 1;
	}
	if (a.found || b.found) {
		fprintf(stderr, "mount_race: /mnt/a or /mnt/b already has a mount\n");
		return 1;
	}
	r = pthread_create(&th, NULL, flipper, NULL);
	if (r) {
		fprintf(stderr, "mount_race: pthread_create: %s\n", strerror(r));
		return 1;
	}
	if (mkdir("/tmp/mr", 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mount_race: mkdir /tmp/mr: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < 10 * count; i++) {
		const char *at;
		const struct mnt *m = NULL;
		unsigned long f0;
		char src[64];
		int e, flipped;

		if (i >= count && n_ok && n_fail && n_flipped)
			break;
		snprintf(src, sizeof(src), "/tmp/mr/%ld", i);
		unlink(src);
		if (symlink(dev, src) < 0) {
			fprintf(stderr, "mount_race: symlink %s: %s\n", src, strerror(errno));
			return 1;
		}
		f0 = atomic_load(&flips);
		r = mount(src, target_buf, type_buf, 0, data_buf);
		e = r < 0 ? errno : 0;
		flipped = atomic_load(&flips) != f0;
		n_flipped += flipped;
		if (r == 0)
			n_ok++;
		else
			n_fail++;
		unlink(src);
		scan_mounts(&a, &b);
		if (a.found && b.found)
			at = "both";
		else if (a.found)
			at = "/mnt/a", m = &a;
		else if (b.found)
			at = "/mnt/b", m = &b;
		else
			at = "none";
		printf("attempt=%ld src=%s rc=%d errno=%s at=%s fstype=%s opts=%s super=%s "
		       "flipped=%d\n",
		       i, src, r, errname(e), at, m ? m->fstype : "-", m ? m->opts : "-",
		       m && m->super[0] ? m->super : "-", flipped);
		fflush(stdout);
		stuck += umount_all("/mnt/a", a.found);
		stuck += umount_all("/mnt/b", b.found);
		if (stuck > 5) {
			fprintf(stderr, "mount_race: cannot unmount, giving up\n");
			i++;
			break;
		}
		/*
		 * A pause of 0 to 100 us: on a loaded machine B may get a CPU
		 * only while A sleeps, and would otherwise hand every call the
		 * same state.  What notifyd copies is still only what B wrote.
		 */
		struct timespec pause = {.tv_nsec = (long)((i * 2654435761UL) % 100000)};
		nanosleep(&pause, NULL);
	}
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	printf("race done attempts=%ld\n", i);
	return 0;
}

/* ---- storm -------------------------------------------------------------- */

enum expect { EXPECT_OK, EXPECT_ERR };

struct step {
	const char *what;
	enum expect expect;
	int want_errno; /* 0 = any error */
};

/* One cycle; the test's profile: ext4 kernel (no "data"), tmpfs continue, xfs deny. */
static const struct step steps[] = {
    {"mount ext4 /mnt/a", EXPECT_OK, 0},
    {"umount2 /mnt/a", EXPECT_OK, 0},
    {"mount tmpfs /mnt/b", EXPECT_OK, 0},
    {"umount2 /mnt/b", EXPECT_OK, 0},
    {"mount xfs (denied type)", EXPECT_ERR, EPERM},
    {"mount ext4 data=journal (option not allowed)", EXPECT_ERR, EINVAL},
    {"fsopen xfs (denied type)", EXPECT_ERR, EPERM},
    {"mount with unreadable source pointer", EXPECT_ERR, 0},
};

static int run_step(size_t i, const char *dev)
{
	switch (i) {
	case 0:
		return mount(dev, "/mnt/a", "ext4", 0, "");
	case 1:
		return umount2("/mnt/a", 0);
	case 2:
		return mount("storm", "/mnt/b", "tmpfs", 0, "size=1m");
	case 3:
		return umount2("/mnt/b", 0);
	case 4:
		return mount(dev, "/mnt/a", "xfs", 0, "");
	case 5:
		return mount(dev, "/mnt/a", "ext4", 0, "data=journal");
	case 6: {
		long fd = syscall(SYS_fsopen, "xfs", 0);
		if (fd >= 0)
			close((int)fd);
		return fd < 0 ? -1 : 0;
	}
	case 7:
		return mount((const char *)16, "/mnt/a", "ext4", 0, "");
	}
	errno = EINVAL;
	return -1;
}

static int do_storm(int argc, char **argv)
{
	const size_t nsteps = sizeof(steps) / sizeof(steps[0]);
	long count, requests = 0, unexpected = 0;
	struct mnt a, b;

	if (argc != 4) {
		fprintf(stderr, "usage: mount_race storm DEV COUNT\n");
		return 2;
	}
	count = strtol(argv[3], NULL, 10);
	while (requests < count) {
		for (size_t i = 0; i < nsteps; i++) {
			int r = run_step(i, argv[2]);
			int e = r < 0 ? errno : 0;
			int bad =
			    steps[i].expect == EXPECT_OK
			        ? r != 0
			        : (r == 0 || (steps[i].want_errno && e != steps[i].want_errno));

			requests++;
			if (bad) {
				if (unexpected < 20)
					printf(
					    "unexpected request=%ld step=\"%s\" rc=%d errno=%s\n",
					    requests, steps[i].what, r, errname(e));
				unexpected++;
				/* Do not let a stray mount stack up. */
				if (scan_mounts(&a, &b) == 0) {
					umount_all("/mnt/a", a.found);
					umount_all("/mnt/b", b.found);
				}
			}
		}
	}
	printf("storm requests=%ld unexpected=%ld\n", requests, unexpected);
	return 0;
}

/* ---- newapi ------------------------------------------------------------- */

static void newapi_report(const char *name, long r)
{
	printf("%s errno=%s\n", name, errname(r < 0 ? errno : 0));
}

/*
 * What libmount does for a continue-action type (tmpfs), then one call of
 * each kind the rules treat differently.  Trapped under oci-seccomp.json:
 * fsopen (x4), fsconfig, fsmount, move_mount with MOVE_MOUNT_F_EMPTY_PATH;
 * not trapped: fspick, open_tree, mount_setattr, move_mount by path.
 */
static int do_newapi(void)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_NOEXEC};
	long fs, mnt, r;

	fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	newapi_report("fsopen_tmpfs", fs);
	r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", "1m", 0);
	newapi_report("fsconfig_size", r);
	r = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	newapi_report("fsconfig_create", r);
	mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
	newapi_report("fsmount", mnt);
	r = syscall(SYS_move_mount, mnt, "", AT_FDCWD, "/mnt/b", MOVE_MOUNT_F_EMPTY_PATH);
	newapi_report("move_mount", r);
	if (mnt >= 0)
		close((int)mnt);
	if (fs >= 0)
		close((int)fs);

	newapi_report("fsopen_null", syscall(SYS_fsopen, NULL, 0));
	newapi_report("fsopen_unknown", syscall(SYS_fsopen, "mountvisor-no-such-fs", 0));
	r = syscall(SYS_fsopen, "xfs", FSOPEN_CLOEXEC);
	newapi_report("fsopen_xfs", r);
	if (r >= 0)
		close((int)r);

	/* On "/" and on a detached clone: nothing here changes the container. */
	r = syscall(SYS_fspick, AT_FDCWD, "/", FSPICK_CLOEXEC);
	newapi_report("fspick", r);
	if (r >= 0)
		close((int)r);
	mnt = syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	newapi_report("open_tree", mnt);
	newapi_report("mount_setattr",
	              syscall(SYS_mount_setattr, mnt, "", AT_EMPTY_PATH, &attr, sizeof(attr)));
	if (mnt >= 0)
		close((int)mnt);
	newapi_report("move_mount_path",
	              syscall(SYS_move_mount, AT_FDCWD, "/mnt/no-such-dir", AT_FDCWD, "/mnt/a", 0));
	return 0;
}

/* fsopen(TYPE), as libmount's first call, and the answer as "fsopen errno=NAME". */
static int do_fsopen(const char *type)
{
	long fs = syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);

	newapi_report("fsopen", fs);
	if (fs >= 0)
		close((int)fs);
	return 0;
}

/*
 * fsopen("ext4") .. fsmount on DEV as libmount would, then attach the mount fd
 * by a path instead of MOVE_MOUNT_F_EMPTY_PATH (which the shipped rules trap):
 * "dot" is move_mount(FD, ".", AT_FDCWD, TARGET, 0), "procfd" is
 * mount("/proc/self/fd/FD", TARGET, NULL, MS_MOVE, NULL).  Prints
 * "attach errno=NAME" (or the first call that failed and its errno).
 */
static int do_attach_by_path(const char *dev, const char *target, const char *how)
{
	char path[64];
	long fs, mnt, r;

	mkdir(target, 0755);
	fs = syscall(SYS_fsopen, "ext4", FSOPEN_CLOEXEC);
	if (fs < 0) {
		newapi_report("fsopen", fs);
		return 0;
	}
	r = syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", dev, 0);
	if (r == 0)
		r = syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (r < 0) {
		newapi_report("fsconfig", r);
		close((int)fs);
		return 0;
	}
	mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	close((int)fs);
	if (mnt < 0) {
		newapi_report("fsmount", mnt);
		return 0;
	}
	if (strcmp(how, "dot") == 0) {
		r = syscall(SYS_move_mount, mnt, ".", AT_FDCWD, target, 0);
	} else {
		snprintf(path, sizeof(path), "/proc/self/fd/%ld", mnt);
		r = mount(path, target, NULL, MS_MOVE, NULL);
	}
	newapi_report("attach", r);
	close((int)mnt);
	return 0;
}

/* ---- badptr ------------------------------------------------------------- */

static char *bp_area; /* page 0: readable, page 1: PROT_NONE, page 2 + 3: readable */
static size_t bp_page;

/* s without its NUL, ending exactly where the unmapped page starts. */
static const char *bp_unterminated(const char *s)
{
	size_t n = strlen(s);
	char *p = bp_area + bp_page - n;

	memcpy(p, s, n);
	return p;
}

/* s (with its NUL) starting back bytes before the end of page 2: crosses into page 3. */
static const char *bp_straddle(const char *s, size_t back)
{
	char *p = bp_area + 3 * bp_page - back;

	memset(bp_area + 2 * bp_page, 0, 2 * bp_page);
	memcpy(p, s, strlen(s) + 1);
	return p;
}

/* Print a case's outcome; then unmount whatever is on /mnt/a if clean is set. */
static void bp_report(const char *name, int r, int e, int clean)
{
	struct mnt a, b;

	printf("badptr case=%s rc=%d errno=%s\n", name, r, errname(r < 0 ? e : 0));
	fflush(stdout);
	if (clean && scan_mounts(&a, &b) == 0 && a.found)
		umount_all("/mnt/a", a.found);
}

#define BP(name, src, tgt, typ, dat)                                                               \
	do {                                                                                       \
		int r_ = mount((src), (tgt), (typ), 0, (dat));                                     \
		bp_report((name), r_, errno, 1);                                                   \
	} while (0)

#define UM(name, tgt)                                                                              \
	do {                                                                                       \
		int r_ = umount2((tgt), 0);                                                        \
		bp_report((name), r_, errno, 0);                                                   \
	} while (0)

static int do_badptr(int argc, char **argv)
{
	const char *src, *type, *data;
	const char *unmapped, *kernel = (const char *)0xffff888000000000UL;
	static char longtype[300], longpath[5000], longdata[5000];

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: mount_race badptr SOURCE TYPE [DATA]\n");
		return 2;
	}
	src = argv[2];
	type = argv[3];
	data = argc == 5 ? argv[4] : "";
	bp_page = (size_t)sysconf(_SC_PAGESIZE);
	bp_area =
	    mmap(NULL, 4 * bp_page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bp_area == MAP_FAILED || mprotect(bp_area + bp_page, bp_page, PROT_NONE) < 0) {
		perror("mount_race: mmap");
		return 1;
	}
	unmapped = bp_area + bp_page + 16;

	BP("null_type", src, "/mnt/a", NULL, data);
	BP("null_target", src, NULL, type, data);
	BP("empty_target", src, "", type, data);
	BP("unmapped_type", src, "/mnt/a", unmapped, data);
	BP("unmapped_source", unmapped, "/mnt/a", type, data);
	BP("unmapped_target", src, unmapped, type, data);
	BP("unmapped_data", src, "/mnt/a", type, unmapped);
	BP("kernel_type", src, "/mnt/a", kernel, data);
	BP("kernel_target", src, kernel, type, data);
	BP("low_source", (const char *)16, "/mnt/a", type, data);
	BP("unterminated_type", src, "/mnt/a", bp_unterminated(type), data);
	BP("unterminated_source", bp_unterminated(src), "/mnt/a", type, data);
	BP("unterminated_target", src, bp_unterminated("/mnt/a"), type, data);
	BP("unterminated_data", src, "/mnt/a", type, bp_unterminated(data[0] ? data : "x"));
	memset(longtype, 'x', sizeof(longtype) - 1);
	longtype[sizeof(longtype) - 1] = '\0';
	BP("long_type", src, "/mnt/a", longtype, data);
	memset(longpath, '/', sizeof(longpath) - 1);
	BP("long_source", longpath, "/mnt/a", type, data);
	BP("long_target", src, longpath, type, data);
	memset(longdata, 'x', sizeof(longdata) - 1);
	BP("long_data", src, "/mnt/a", type, longdata);
	/* Valid, but each string crosses a page boundary: must mount. */
	BP("straddle_target", src, bp_straddle("/mnt/a", 3), type, data);
	BP("straddle_type", src, "/mnt/a", bp_straddle(type, 2), data);
	/* umount2 with the same pointers while a mount (notifyd's own, under the kernel action) is
	 * there. */
	int r = mount(src, "/mnt/a", type, 0, data);
	bp_report("umount_setup", r, errno, 0);
	UM("umount_null", NULL);
	UM("umount_unmapped", unmapped);
	UM("umount_kernel", kernel);
	UM("umount_unterminated", bp_unterminated("/mnt/a"));
	UM("umount_long", longpath);
	if (r == 0)
		UM("umount_valid", "/mnt/a");
	BP("valid", src, "/mnt/a", type, data);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "race") == 0)
		return do_race(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "storm") == 0)
		return do_storm(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "newapi") == 0)
		return do_newapi();
	if (argc == 3 && strcmp(argv[1], "fsopen") == 0)
		return do_fsopen(argv[2]);
	if (argc == 5 && strcmp(argv[1], "attach-by-path") == 0)
		return do_attach_by_path(argv[2], argv[3], argv[4]);
	if (argc >= 2 && strcmp(argv[1], "badptr") == 0)
		return do_badptr(argc, argv);
	fprintf(stderr, "usage: mount_race race|storm|newapi|fsopen|attach-by-path|badptr ...\n");
	return 2;
}
