/* SPDX-License-Identifier: MIT */
/*
 * difftest [options] REFDIR TESTDIR: differential tester of a file system.
 *
 * From a seed, generates a random sequence of file-system operations and runs
 * each one in lock-step in REFDIR (a local directory: the reference) and in
 * TESTDIR (e.g. a vhost-user-fs-mount mount of vfsd), comparing every return
 * value, errno and returned data, and every few operations a snapshot of both
 * trees (type, mode, owner, nlink, size, content, link target, xattrs, and
 * mtime where it was set explicitly; atime and ctime legitimately differ).
 * Names come from a small pool so that operations collide (exists or not,
 * file or directory), with long (255/256 bytes), non-UTF-8, ".", "..",
 * trailing-slash and deep paths.  Some operations run as uid 1000 or 1001 in
 * a forked child, for the permission checks.
 *
 * On a mismatch it prints the seed, the operation's index and, with
 * --shrink, a minimal reproducer: operations are dropped while the mismatch
 * persists, each try replayed in emptied directories.  A mismatch whose key
 * (the operation's name, or "tree:" and the name of the operation before a
 * snapshot that differs) is listed in the --known file is counted as known;
 * then both trees are emptied and the run goes on.  --keep-going does the
 * same for every mismatch and lists the keys that differed at the end.
 *
 * Needs root (chown, the uid switches).  Exit: 0 no unknown mismatch, 1
 * mismatch, 2 usage or set-up error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

/* --- random numbers: xorshift64*, so a seed gives the same run everywhere --- */
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* --- operation classes and kinds ------------------------------------------- */
enum cls { C_FILE, C_NAME, C_ATTR, C_XATTR, C_LOCK, C_DEV, C_USER, C_ODD, C_NCLS };
static const char *const cls_name[C_NCLS] = {"file", "name", "attr", "xattr",
                                             "lock", "dev",  "user", "odd"};

enum kind {
	K_OPEN,
	K_CLOSE,
	K_READ,
	K_WRITE,
	K_FTRUNCATE,
	K_TRUNCATE,
	K_FALLOCATE,
	K_FSTAT,
	K_STAT,
	K_READDIR,
	K_RENAME,
	K_LINK,
	K_SYMLINK,
	K_READLINK,
	K_MKNOD,
	K_MKDIR,
	K_RMDIR,
	K_UNLINK,
	K_CHMOD,
	K_FCHMOD,
	K_CHOWN,
	K_FCHOWN,
	K_UTIMENS,
	K_FUTIMENS,
	K_SETXATTR,
	K_GETXATTR,
	K_LISTXATTR,
	K_REMOVEXATTR,
	K_FLOCK,
	K_SETLK,
	K_LOCKPROBE,
	K_NKIND
};

static const struct {
	const char *name;
	enum cls cls;
	unsigned weight;
} kinds[K_NKIND] = {
    [K_OPEN] = {"open", C_FILE, 14},
    [K_CLOSE] = {"close", C_FILE, 4},
    [K_READ] = {"read", C_FILE, 5},
    [K_WRITE] = {"write", C_FILE, 8},
    [K_FTRUNCATE] = {"ftruncate", C_FILE, 3},
    [K_TRUNCATE] = {"truncate", C_FILE, 3},
    [K_FALLOCATE] = {"fallocate", C_FILE, 3},
    [K_FSTAT] = {"fstat", C_FILE, 2},
    [K_STAT] = {"stat", C_NAME, 3},
    [K_READDIR] = {"readdir", C_NAME, 2},
    [K_RENAME] = {"rename", C_NAME, 8},
    [K_LINK] = {"link", C_NAME, 4},
    [K_SYMLINK] = {"symlink", C_NAME, 4},
    [K_READLINK] = {"readlink", C_NAME, 2},
    [K_MKNOD] = {"mknod", C_NAME, 3},
    [K_MKDIR] = {"mkdir", C_NAME, 8},
    [K_RMDIR] = {"rmdir", C_NAME, 4},
    [K_UNLINK] = {"unlink", C_NAME, 6},
    [K_CHMOD] = {"chmod", C_ATTR, 4},
    [K_FCHMOD] = {"fchmod", C_ATTR, 2},
    [K_CHOWN] = {"chown", C_ATTR, 3},
    [K_FCHOWN] = {"fchown", C_ATTR, 2},
    [K_UTIMENS] = {"utimensat", C_ATTR, 5},
    [K_FUTIMENS] = {"futimens", C_ATTR, 2},
    [K_SETXATTR] = {"setxattr", C_XATTR, 4},
    [K_GETXATTR] = {"getxattr", C_XATTR, 3},
    [K_LISTXATTR] = {"listxattr", C_XATTR, 2},
    [K_REMOVEXATTR] = {"removexattr", C_XATTR, 2},
    [K_FLOCK] = {"flock", C_LOCK, 2},
    [K_SETLK] = {"setlk", C_LOCK, 2},
    [K_LOCKPROBE] = {"lockprobe", C_LOCK, 2},
};

#define NSLOT 4

struct op {
	uint8_t kind;
	uint8_t slot;
	uint8_t variant; /* kind-specific: flags family, mknod type, rename flags... */
	uint16_t user;   /* 0: as root; else run as this uid/gid in a child */
	uint16_t p1, p2; /* indices into paths[] */
	int flags;
	unsigned mode;
	int64_t a, b;
	struct timespec ts[2];
	uint32_t seed; /* write data */
	bool dead;     /* dropped while shrinking */
};

/* --- the name pool ----------------------------------------------------------- */
#define NPLAIN 12 /* paths[0..NPLAIN) are the common ones */
static const char *paths[64];
static unsigned npaths, nodd_start;
static char long255[256], long256[257], deep[64], sub255[300], sub256[300];

static void paths_init(void)
{
	static const char *const plain[NPLAIN] = {"a",   "b",   "c",   "d",     "a/a", "a/b",
	                                          "d/c", "d/d", "b/a", "d/d/a", "c/x", "d/d/d"};
	static const char *const odd[] = {".",  "a/.", "a/..",     "d/d/..",     "a/",      "d/",
	                                  "c/", "",    "\xff\xfe", "a/\x01\x7f", "d/ \t?*", "-"};

	memset(long255, 'L', 255);
	memset(long256, 'M', 256);
	snprintf(sub255, sizeof(sub255), "d/%s", long255);
	snprintf(sub256, sizeof(sub256), "a/%s", long256);
	snprintf(deep, sizeof(deep), "d/d/d/d/d/d/d/d/d/d/d/d");
	for (unsigned i = 0; i < NPLAIN; i++)
		paths[npaths++] = plain[i];
	paths[npaths++] = "d/d/d/d";
	paths[npaths++] = "d/d/d/d/d/d";
	paths[npaths++] = deep;
	nodd_start = npaths;
	for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		paths[npaths++] = odd[i];
	paths[npaths++] = long255;
	paths[npaths++] = long256;
	paths[npaths++] = sub255;
	paths[npaths++] = sub256;
}

/* Printable form of a path for reports. */
static const char *show(const char *p, char *buf, size_t n)
{
	size_t o = 0, l = strlen(p);

	if (l > 200) {
		/* "d/LLL...": the prefix, then the run length. */
		const char *last = strrchr(p, '/');
		size_t pre = last ? (size_t)(last - p) + 1 : 0;

		snprintf(buf, n, "%.*s%c*%zu", (int)pre, p, p[pre], l - pre);
		return buf;
	}
	for (; *p && o + 5 < n; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '"')
			o += (size_t)snprintf(buf + o, n - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

/* --- settings ----------------------------------------------------------------- */
static bool skip_cls[C_NCLS];
static unsigned check_every = 20;
static bool verbose;
static char known[128][96];
static unsigned nknown;

/* --- the two trees ---------------------------------------------------------------- */
struct tree {
	const char *path;
	int root;
	int slot[NSLOT];
};
static struct tree tr[2];

struct res {
	long rc;
	int err;
	size_t dlen;
	char data[8192];
};

/* --- generation --------------------------------------------------------------- */
static unsigned gen_path(void)
{
	if (!skip_cls[C_ODD] && pick(100) < 12)
		return nodd_start + pick(npaths - nodd_start);
	return pick(pick(4) ? NPLAIN : nodd_start);
}

static void gen_times(struct timespec ts[2])
{
	for (int i = 0; i < 2; i++) {
		unsigned w = pick(10);

		if (w < 6)
			ts[i] = (struct timespec){1000000000 + (time_t)pick(400000000),
			                          (long)pick(1000000000)};
		else if (w < 8)
			ts[i] = (struct timespec){0, UTIME_NOW};
		else
			ts[i] = (struct timespec){0, UTIME_OMIT};
	}
}

static const int open_flags[] = {O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW};
static const unsigned modes[] = {0644, 0600, 0755, 0000, 0777, 0640, 04755, 02755, 01777, 0444};
static const char *const xnames[] = {"user.a", "user.b", "user.c", "trusted.t", "user."};

static void gen(struct op *o)
{
	unsigned total = 0, w;
	enum kind k;

	memset(o, 0, sizeof(*o));
	for (k = 0; k < K_NKIND; k++)
		if (!skip_cls[kinds[k].cls])
			total += kinds[k].weight;
	w = pick(total);
	for (k = 0; k < K_NKIND; k++) {
		if (skip_cls[kinds[k].cls])
			continue;
		if (w < kinds[k].weight)
			break;
		w -= kinds[k].weight;
	}
	o->kind = (uint8_t)k;
	o->slot = (uint8_t)pick(NSLOT);
	o->p1 = (uint16_t)gen_path();
	o->p2 = (uint16_t)gen_path();
	o->seed = (uint32_t)rnd();
	o->mode = modes[pick(sizeof(modes) / sizeof(modes[0]))];
	switch (k) {
	case K_OPEN:
		o->flags = (int)pick(3); /* O_RDONLY, O_WRONLY, O_RDWR */
		for (unsigned i = 0; i < sizeof(open_flags) / sizeof(open_flags[0]); i++)
			if (pick(100) < (open_flags[i] == O_CREAT ? 60 : 15))
				o->flags |= open_flags[i];
		if (pick(100) < 8)
			o->flags =
			    O_PATH | (pick(2) ? O_NOFOLLOW : 0) | (pick(3) ? 0 : O_DIRECTORY);
		break;
	case K_READ:
	case K_WRITE:
		o->variant = (uint8_t)pick(2); /* plain, positioned */
		o->a = pick(6) ? pick(5000) : pick(70000);
		o->b = pick(3) ? pick(20000) : (int64_t)pick(1u << 20);
		break;
	case K_FTRUNCATE:
	case K_TRUNCATE:
		o->a = pick(5) ? pick(30000) : (pick(2) ? -1 : (int64_t)pick(1u << 20));
		break;
	case K_FALLOCATE: {
		static const int fm[] = {0, FALLOC_FL_KEEP_SIZE,
		                         FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		                         FALLOC_FL_ZERO_RANGE, FALLOC_FL_PUNCH_HOLE};
		o->flags = fm[pick(5)];
		o->a = pick(20000);
		o->b = pick(8) ? 1 + pick(20000) : 0;
		break;
	}
	case K_STAT:
		o->flags = pick(2) ? AT_SYMLINK_NOFOLLOW : 0;
		break;
	case K_RENAME: {
		static const unsigned rf[] = {
		    0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT};
		o->flags = (int)rf[pick(6)];
		break;
	}
	case K_LINK:
		o->flags = pick(4) ? 0 : AT_SYMLINK_FOLLOW;
		break;
	case K_SYMLINK:
		o->p1 = (uint16_t)pick(NPLAIN); /* relative targets without "..": stay inside */
		break;
	case K_MKNOD:
		o->variant = (uint8_t)(skip_cls[C_DEV] ? pick(2) : pick(3)); /* fifo, reg, chr */
		break;
	case K_CHMOD:
		o->flags = pick(5) ? 0 : AT_SYMLINK_NOFOLLOW;
		break;
	case K_CHOWN:
	case K_FCHOWN: {
		static const unsigned ids[] = {0, 1000, 1001, (unsigned)-1};
		o->a = ids[pick(4)];
		o->b = ids[pick(4)];
		o->flags = pick(3) ? 0 : AT_SYMLINK_NOFOLLOW;
		break;
	}
	case K_UTIMENS:
		o->flags = pick(2) ? AT_SYMLINK_NOFOLLOW : 0;
		o->variant = (uint8_t)(pick(6) == 0); /* times NULL: now */
		gen_times(o->ts);
		break;
	case K_FUTIMENS:
		o->variant = (uint8_t)pick(2); /* futimens, or utimensat(fd, "", AT_EMPTY_PATH) */
		gen_times(o->ts);
		break;
	case K_SETXATTR: {
		static const int xf[] = {0, XATTR_CREATE, XATTR_REPLACE};
		o->flags = xf[pick(3)];
		o->variant = (uint8_t)pick(3); /* path, lpath, fd */
		o->a = pick(10) ? pick(200) : 70000;
		o->b = pick(sizeof(xnames) / sizeof(xnames[0]));
		break;
	}
	case K_GETXATTR:
	case K_REMOVEXATTR:
	case K_LISTXATTR: {
		static const long sz[] = {0, 3, 64, 4096};
		o->variant = (uint8_t)pick(3);
		o->a = sz[pick(4)];
		o->b = pick(sizeof(xnames) / sizeof(xnames[0]));
		break;
	}
	case K_FLOCK: {
		static const int lk[] = {LOCK_SH | LOCK_NB, LOCK_EX | LOCK_NB, LOCK_UN};
		o->flags = lk[pick(3)];
		break;
	}
	case K_SETLK: {
		static const int lt[] = {F_RDLCK, F_WRLCK, F_UNLCK};
		o->flags = lt[pick(3)];
		o->a = pick(100);
		o->b = pick(100);
		break;
	}
	default:
		break;
	}
	if (!skip_cls[C_USER] && pick(100) < 10 && k != K_OPEN && k != K_CLOSE &&
	    kinds[k].cls != C_LOCK)
		o->user = pick(2) ? 1000 : 1001;
	if (!skip_cls[C_USER] && k == K_OPEN && pick(100) < 10)
		o->user = pick(2) ? 1000 : 1001; /* the child's fd is dropped with it */
}

/* A readable form of an operation. */
static void describe(const struct op *o, char *buf, size_t n)
{
	char a[600], b[600];
	const char *p1 = show(paths[o->p1], a, sizeof(a)), *p2 = show(paths[o->p2], b, sizeof(b));
	int l = 0;

	if (o->user)
		l = snprintf(buf, n, "[uid %u] ", o->user);
	buf += l;
	n -= (size_t)l;
	switch (o->kind) {
	case K_OPEN:
		snprintf(buf, n, "slot%u = open(\"%s\", %s%s%s%s%s%s%s%s, 0%o)", o->slot, p1,
		         (o->flags & O_PATH)           ? "O_PATH"
		         : (o->flags & O_ACCMODE) == 0 ? "O_RDONLY"
		         : (o->flags & O_ACCMODE) == 1 ? "O_WRONLY"
		                                       : "O_RDWR",
		         o->flags & O_CREAT ? "|O_CREAT" : "", o->flags & O_EXCL ? "|O_EXCL" : "",
		         o->flags & O_TRUNC ? "|O_TRUNC" : "",
		         o->flags & O_APPEND ? "|O_APPEND" : "",
		         o->flags & O_DIRECTORY ? "|O_DIRECTORY" : "",
		         o->flags & O_NOFOLLOW ? "|O_NOFOLLOW" : "", "", o->mode);
		break;
	case K_CLOSE:
	case K_FSTAT:
		snprintf(buf, n, "%s(slot%u)", kinds[o->kind].name, o->slot);
		break;
	case K_READ:
	case K_WRITE:
		snprintf(buf, n, "%s%s(slot%u, %" PRId64 " bytes, off %" PRId64 ")",
		         o->variant ? "p" : "", kinds[o->kind].name, o->slot, o->a,
		         o->variant ? o->b : (int64_t)-1);
		break;
	case K_FTRUNCATE:
		snprintf(buf, n, "ftruncate(slot%u, %" PRId64 ")", o->slot, o->a);
		break;
	case K_TRUNCATE:
		snprintf(buf, n, "truncate(\"%s\", %" PRId64 ")", p1, o->a);
		break;
	case K_FALLOCATE:
		snprintf(buf, n, "fallocate(slot%u, 0x%x, %" PRId64 ", %" PRId64 ")", o->slot,
		         o->flags, o->a, o->b);
		break;
	case K_STAT:
		snprintf(buf, n, "fstatat(\"%s\", %s)", p1, o->flags ? "AT_SYMLINK_NOFOLLOW" : "0");
		break;
	case K_READDIR:
	case K_READLINK:
	case K_RMDIR:
	case K_UNLINK:
	case K_LOCKPROBE:
		snprintf(buf, n, "%s(\"%s\")", kinds[o->kind].name, p1);
		break;
	case K_RENAME:
		snprintf(buf, n, "renameat2(\"%s\", \"%s\", %s)", p1, p2,
		         o->flags == 0                  ? "0"
		         : o->flags == RENAME_NOREPLACE ? "RENAME_NOREPLACE"
		         : o->flags == RENAME_EXCHANGE  ? "RENAME_EXCHANGE"
		                                        : "RENAME_WHITEOUT");
		break;
	case K_LINK:
		snprintf(buf, n, "linkat(\"%s\", \"%s\", %s)", p1, p2,
		         o->flags ? "AT_SYMLINK_FOLLOW" : "0");
		break;
	case K_SYMLINK:
		snprintf(buf, n, "symlink(\"%s\", \"%s\")", p1, p2);
		break;
	case K_MKNOD:
		snprintf(buf, n, "mknod(\"%s\", %s|0%o)", p1,
		         o->variant == 0   ? "S_IFIFO"
		         : o->variant == 1 ? "S_IFREG"
		                           : "S_IFCHR 1:3",
		         o->mode);
		break;
	case K_MKDIR:
		snprintf(buf, n, "mkdir(\"%s\", 0%o)", p1, o->mode);
		break;
	case K_CHMOD:
		snprintf(buf, n, "fchmodat(\"%s\", 0%o, %s)", p1, o->mode,
		         o->flags ? "AT_SYMLINK_NOFOLLOW" : "0");
		break;
	case K_FCHMOD:
		snprintf(buf, n, "fchmod(slot%u, 0%o)", o->slot, o->mode);
		break;
	case K_CHOWN:
		snprintf(buf, n, "fchownat(\"%s\", %d, %d, %s)", p1, (int)o->a, (int)o->b,
		         o->flags ? "AT_SYMLINK_NOFOLLOW" : "0");
		break;
	case K_FCHOWN:
		snprintf(buf, n, "fchown(slot%u, %d, %d)", o->slot, (int)o->a, (int)o->b);
		break;
	case K_UTIMENS:
	case K_FUTIMENS: {
		char t[2][40];

		for (int i = 0; i < 2; i++) {
			if (o->ts[i].tv_nsec == UTIME_NOW)
				snprintf(t[i], sizeof(t[i]), "UTIME_NOW");
			else if (o->ts[i].tv_nsec == UTIME_OMIT)
				snprintf(t[i], sizeof(t[i]), "UTIME_OMIT");
			else
				snprintf(t[i], sizeof(t[i]), "%lld.%09ld",
				         (long long)o->ts[i].tv_sec, o->ts[i].tv_nsec);
		}
		if (o->kind == K_UTIMENS && o->variant)
			snprintf(buf, n, "utimensat(\"%s\", NULL, %s)", p1,
			         o->flags ? "AT_SYMLINK_NOFOLLOW" : "0");
		else if (o->kind == K_UTIMENS)
			snprintf(buf, n, "utimensat(\"%s\", {%s, %s}, %s)", p1, t[0], t[1],
			         o->flags ? "AT_SYMLINK_NOFOLLOW" : "0");
		else
			snprintf(buf, n, "%s(slot%u, {%s, %s}%s)",
			         o->variant ? "utimensat-empty" : "futimens", o->slot, t[0], t[1],
			         o->variant ? ", AT_EMPTY_PATH" : "");
		break;
	}
	case K_SETXATTR:
	case K_GETXATTR:
	case K_REMOVEXATTR:
	case K_LISTXATTR: {
		static const char *const via[] = {"path", "lpath", "fd"};
		snprintf(buf, n, "%s[%s](%s%s%s, %s, size %" PRId64 ", flags %d)",
		         kinds[o->kind].name, via[o->variant], o->variant == 2 ? "slot" : "\"",
		         o->variant == 2 ? (char[2]){(char)('0' + o->slot), 0} : p1,
		         o->variant == 2 ? "" : "\"", xnames[o->b], o->a, o->flags);
		break;
	}
	case K_FLOCK:
		snprintf(buf, n, "flock(slot%u, %s)", o->slot,
		         o->flags == LOCK_UN               ? "LOCK_UN"
		         : o->flags == (LOCK_SH | LOCK_NB) ? "LOCK_SH|LOCK_NB"
		                                           : "LOCK_EX|LOCK_NB");
		break;
	case K_SETLK:
		snprintf(buf, n, "fcntl(slot%u, F_OFD_SETLK, %s %" PRId64 "+%" PRId64 ")", o->slot,
		         o->flags == F_RDLCK   ? "F_RDLCK"
		         : o->flags == F_WRLCK ? "F_WRLCK"
		                               : "F_UNLCK",
		         o->a, o->b);
		break;
	default:
		snprintf(buf, n, "?");
	}
}

/* The key a mismatch is known by: the op's name and the variant that matters. */
static void op_key(const struct op *o, char *buf, size_t n)
{
	const char *v = "";

	if (o->kind == K_MKNOD)
		v = o->variant == 0 ? "-fifo" : o->variant == 1 ? "-reg" : "-chr";
	else if (o->kind == K_RENAME)
		v = o->flags == RENAME_WHITEOUT    ? "-whiteout"
		    : o->flags == RENAME_EXCHANGE  ? "-exchange"
		    : o->flags == RENAME_NOREPLACE ? "-noreplace"
		                                   : "";
	else if ((o->kind == K_CHOWN || o->kind == K_FCHOWN) && (int)o->a == -1 && (int)o->b == -1)
		v = "-noop";
	else if (o->kind == K_SETXATTR || o->kind == K_GETXATTR || o->kind == K_REMOVEXATTR)
		v = strncmp(xnames[o->b], "trusted.", 8) == 0 ? "-trusted" : "";
	snprintf(buf, n, "%s%s%s", o->user ? "user-" : "", kinds[o->kind].name, v);
}

/*
 * The key of a mismatch at @o: op_key(), "tree:" first for a snapshot
 * difference, "-fifo" after read/write/fstat on a FIFO (the guest's FUSE client
 * keeps a FIFO's times itself: S_NOCMTIME).
 */
static void mismatch_key(const struct op *o, bool tree, char *buf, size_t n)
{
	struct stat st;
	char k[64];
	int fd = tr[0].slot[o->slot];

	op_key(o, k, sizeof(k));
	snprintf(buf, n, "%s%s%s", tree ? "tree:" : "", k,
	         (o->kind == K_READ || o->kind == K_WRITE || o->kind == K_FSTAT) && fd >= 0 &&
	                 fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)
	             ? "-fifo"
	             : "");
}

/* --- execution ------------------------------------------------------------------ */
static void fill(char *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
}

static void put_data(struct res *r, const void *p, size_t n)
{
	if (n > sizeof(r->data) - r->dlen)
		n = sizeof(r->data) - r->dlen;
	memcpy(r->data + r->dlen, p, n);
	r->dlen += n;
}

static void put_str(struct res *r, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put_data(r, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sort a NUL-separated list in place (listxattr's order is the fs's own). */
static void sort_list(char *buf, size_t len)
{
	char *items[512] = {0}, tmp[8192];
	size_t n = 0, o = 0;

	for (size_t i = 0; i < len && n < 512; i += strlen(buf + i) + 1)
		items[n++] = buf + i;
	qsort(items, n, sizeof(items[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(items[i]) + 1;
		memcpy(tmp + o, items[i], l);
		o += l;
	}
	memcpy(buf, tmp, o);
}

static uint64_t hash_buf(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

static void stat_str(struct res *r, const struct stat *st)
{
	put_str(r, "mode=0%o uid=%u gid=%u nlink=%lu", st->st_mode, st->st_uid, st->st_gid,
	        (unsigned long)st->st_nlink);
	if (!S_ISDIR(st->st_mode))
		put_str(r, " size=%lld", (long long)st->st_size);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		put_str(r, " rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
	/*
	 * mtimes set explicitly (1e9..1.4e9) must match; "now" ones only both be
	 * recent.  atime and ctime legitimately differ (reads served from the
	 * guest's page cache never reach the host; ctime is always "now").
	 */
	if (st->st_mtim.tv_sec < 1500000000)
		put_str(r, " mtime=%lld.%09ld", (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	else
		put_str(r, " mtime=now");
}

static int lock_child(const char *path, int root)
{
	/* Another process's view: may it lock the file now? */
	int fd = openat(root, path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	int a, b;

	if (fd < 0)
		return 100 + errno;
	a = fcntl(fd, F_OFD_SETLK, &fl) < 0 ? errno : 0;
	b = flock(fd, LOCK_EX | LOCK_NB) < 0 ? errno : 0;
	return (a ? 1 : 0) | (b ? 2 : 0);
}

static void exec_op(const struct op *o, struct tree *t, struct res *r)
{
	const char *p1 = paths[o->p1], *p2 = paths[o->p2];
	int fd = t->slot[o->slot], rd = t->root;
	char buf[70000];
	long rc = 0;

	memset(r, 0, offsetof(struct res, data));
	errno = 0;
	switch (o->kind) {
	case K_OPEN:
		rc = openat(rd, p1, o->flags | O_NONBLOCK | O_CLOEXEC, o->mode);
		if (rc >= 0) {
			if (t->slot[o->slot] >= 0)
				close(t->slot[o->slot]);
			t->slot[o->slot] = (int)rc;
			rc = 0;
		}
		break;
	case K_CLOSE:
		rc = fd < 0 ? 0 : close(fd);
		t->slot[o->slot] = -1;
		break;
	case K_READ:
		rc = o->variant ? pread(fd, buf, (size_t)o->a, o->b) : read(fd, buf, (size_t)o->a);
		if (rc > 0)
			put_str(r, "data=%016" PRIx64, hash_buf(buf, (size_t)rc));
		break;
	case K_WRITE:
		fill(buf, (size_t)o->a, o->seed);
		rc =
		    o->variant ? pwrite(fd, buf, (size_t)o->a, o->b) : write(fd, buf, (size_t)o->a);
		break;
	case K_FTRUNCATE:
		rc = ftruncate(fd, o->a);
		break;
	case K_TRUNCATE:
		rc = -1;
		{
			/* truncate(2) by path, relative to the root: through /proc/self/fd. */
			char pp[700];
			snprintf(pp, sizeof(pp), "/proc/self/fd/%d/%s", rd, p1);
			rc = truncate(pp, o->a);
		}
		break;
	case K_FALLOCATE:
		rc = fallocate(fd, o->flags, o->a, o->b);
		break;
	case K_FSTAT:
	case K_STAT: {
		struct stat st;

		rc = o->kind == K_FSTAT ? fstat(fd, &st) : fstatat(rd, p1, &st, o->flags);
		if (rc == 0)
			stat_str(r, &st);
		break;
	}
	case K_READDIR: {
		int dfd = openat(rd, p1, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
		char *names[256] = {0};
		unsigned n = 0;
		struct dirent *de;

		if (!d) {
			rc = -1;
			if (dfd >= 0)
				close(dfd);
			break;
		}
		while ((de = readdir(d)) && n < 256)
			names[n++] = strdup(de->d_name);
		closedir(d);
		qsort(names, n, sizeof(names[0]), cmp_str);
		for (unsigned i = 0; i < n; i++) {
			put_str(r, "%s/", names[i]);
			free(names[i]);
		}
		rc = n;
		break;
	}
	case K_RENAME:
		rc = renameat2(rd, p1, rd, p2, (unsigned)o->flags);
		break;
	case K_LINK:
		rc = linkat(rd, p1, rd, p2, o->flags);
		break;
	case K_SYMLINK:
		rc = symlinkat(p1, rd, p2);
		break;
	case K_READLINK:
		rc = readlinkat(rd, p1, buf, sizeof(buf));
		if (rc > 0)
			put_data(r, buf, (size_t)rc);
		break;
	case K_MKNOD:
		rc = mknodat(rd, p1,
		             (o->variant == 0   ? S_IFIFO
		              : o->variant == 1 ? S_IFREG
		                                : S_IFCHR) |
		                 (o->mode & 0777),
		             o->variant == 2 ? makedev(1, 3) : 0);
		break;
	case K_MKDIR:
		rc = mkdirat(rd, p1, o->mode);
		break;
	case K_RMDIR:
		rc = unlinkat(rd, p1, AT_REMOVEDIR);
		break;
	case K_UNLINK:
		rc = unlinkat(rd, p1, 0);
		break;
	case K_CHMOD:
		rc = fchmodat(rd, p1, o->mode, o->flags);
		break;
	case K_FCHMOD:
		rc = fchmod(fd, o->mode);
		break;
	case K_CHOWN:
		rc = fchownat(rd, p1, (uid_t)o->a, (gid_t)o->b, o->flags);
		break;
	case K_FCHOWN:
		rc = fchown(fd, (uid_t)o->a, (gid_t)o->b);
		break;
	case K_UTIMENS:
		rc = utimensat(rd, p1, o->variant ? NULL : o->ts, o->flags);
		break;
	case K_FUTIMENS:
		rc = o->variant ? utimensat(fd, "", o->ts, AT_EMPTY_PATH) : futimens(fd, o->ts);
		break;
	case K_SETXATTR:
	case K_GETXATTR:
	case K_REMOVEXATTR:
	case K_LISTXATTR: {
		char pp[700];
		const char *xn = xnames[o->b];

		snprintf(pp, sizeof(pp), "/proc/self/fd/%d/%s", rd, p1);
		if (o->kind == K_SETXATTR) {
			fill(buf, (size_t)o->a, o->seed);
			rc = o->variant == 0   ? setxattr(pp, xn, buf, (size_t)o->a, o->flags)
			     : o->variant == 1 ? lsetxattr(pp, xn, buf, (size_t)o->a, o->flags)
			                       : fsetxattr(fd, xn, buf, (size_t)o->a, o->flags);
		} else if (o->kind == K_GETXATTR) {
			rc = o->variant == 0   ? getxattr(pp, xn, buf, (size_t)o->a)
			     : o->variant == 1 ? lgetxattr(pp, xn, buf, (size_t)o->a)
			                       : fgetxattr(fd, xn, buf, (size_t)o->a);
			if (rc > 0 && o->a)
				put_data(r, buf, (size_t)rc);
		} else if (o->kind == K_REMOVEXATTR) {
			rc = o->variant == 0   ? removexattr(pp, xn)
			     : o->variant == 1 ? lremovexattr(pp, xn)
			                       : fremovexattr(fd, xn);
		} else {
			rc = o->variant == 0   ? listxattr(pp, buf, (size_t)o->a)
			     : o->variant == 1 ? llistxattr(pp, buf, (size_t)o->a)
			                       : flistxattr(fd, buf, (size_t)o->a);
			if (rc > 0 && o->a) {
				sort_list(buf, (size_t)rc);
				put_data(r, buf, (size_t)rc);
			}
		}
		break;
	}
	case K_FLOCK:
		rc = flock(fd, o->flags);
		break;
	case K_SETLK: {
		struct flock fl = {.l_type = (short)o->flags,
		                   .l_whence = SEEK_SET,
		                   .l_start = o->a,
		                   .l_len = o->b};
		rc = fcntl(fd, F_OFD_SETLK, &fl);
		break;
	}
	case K_LOCKPROBE: {
		pid_t pid = fork();
		int status;

		if (pid == 0)
			_exit(lock_child(p1, rd));
		rc = pid < 0 || waitpid(pid, &status, 0) < 0 ? -1 : WEXITSTATUS(status);
		break;
	}
	default:
		break;
	}
	r->rc = rc;
	r->err = rc < 0 ? errno : 0;
}

/* Run the op as uid/gid o->user in a child; the result comes back through a pipe. */
static void exec_as_user(const struct op *o, struct tree *t, struct res *r)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r->rc = -2;
		r->err = errno;
		return;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) || setresgid(o->user, o->user, o->user) ||
		    setresuid(o->user, o->user, o->user))
			_exit(3);
		/* The uid change made us undumpable: /proc/self/fd would be root's. */
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		exec_op(o, t, r);
		if (write(p[1], r, offsetof(struct res, data) + r->dlen) < 0)
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	memset(r, 0, offsetof(struct res, data));
	r->rc = -2;
	if (pid > 0) {
		size_t got = 0;
		ssize_t n;

		while ((n = read(p[0], (char *)r + got, sizeof(*r) - got)) > 0)
			got += (size_t)n;
		waitpid(pid, NULL, 0);
		if (got >= offsetof(struct res, data))
			r->dlen = got - offsetof(struct res, data);
	}
	close(p[0]);
}

static void run_one(const struct op *o, struct tree *t, struct res *r)
{
	if (o->user)
		exec_as_user(o, t, r);
	else
		exec_op(o, t, r);
}

/* --- snapshots of the trees ------------------------------------------------- */
struct snap {
	char *buf;
	size_t len, cap;
};

static void snap_add(struct snap *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(s->buf + s->len, s->cap - s->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < s->cap - s->len)
			break;
		s->cap = s->cap * 2 + 4096;
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			abort();
	}
	s->len += (size_t)n;
}

static uint64_t hash_fd(int fd, long long *size)
{
	uint64_t h = 1469598103934665603ULL;
	char buf[65536];
	ssize_t n;

	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
		*size += n;
	}
	return n < 0 ? 0 : h;
}

static void snap_xattrs(struct snap *s, int dirfd, const char *name)
{
	char pp[700], list[4096], val[256];
	ssize_t n;

	snprintf(pp, sizeof(pp), "/proc/self/fd/%d/%s", dirfd, name);
	n = llistxattr(pp, list, sizeof(list));
	if (n <= 0)
		return;
	sort_list(list, (size_t)n);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		ssize_t v = lgetxattr(pp, list + i, val, sizeof(val));
		uint64_t h = 1469598103934665603ULL;

		for (ssize_t j = 0; j < v; j++)
			h = (h ^ (unsigned char)val[j]) * 1099511628211ULL;
		snap_add(s, " x:%s=%zd/%016" PRIx64, list + i, v, h);
	}
}

static void snap_dir(struct snap *s, int dfd, const char *rel, unsigned depth)
{
	char *names[512] = {0};
	unsigned n = 0;
	int dup_fd = dup(dfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (!d) {
		snap_add(s, "%s: opendir %s\n", rel, strerrorname_np(errno) ?: "?");
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	rewinddir(d); /* the dup shares the root fd's offset, at the end since last time */
	while ((de = readdir(d)) && n < 512)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	for (unsigned i = 0; i < n; i++) {
		char path[8192], sh[600];
		struct stat st;
		struct res r;

		snprintf(path, sizeof(path), "%s/%s", rel, show(names[i], sh, sizeof(sh)));
		if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			snap_add(s, "%s: lstat %s\n", path, strerrorname_np(errno) ?: "?");
			free(names[i]);
			continue;
		}
		r.dlen = 0;
		stat_str(&r, &st);
		snap_add(s, "%s: %.*s", path, (int)r.dlen, r.data);
		if (S_ISREG(st.st_mode)) {
			int fd = openat(dfd, names[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			long long sz;

			if (fd >= 0) {
				snap_add(s, " data=%016" PRIx64, hash_fd(fd, &sz));
				close(fd);
			}
		} else if (S_ISLNK(st.st_mode)) {
			char t[4096];
			ssize_t l = readlinkat(dfd, names[i], t, sizeof(t));
			snap_add(s, " -> %.*s", (int)(l > 0 ? l : 0), t);
		}
		snap_xattrs(s, dfd, names[i]);
		snap_add(s, "\n");
		if (S_ISDIR(st.st_mode) && depth < 40) {
			int sub =
			    openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				snap_dir(s, sub, path, depth + 1);
				close(sub);
			}
		}
		free(names[i]);
	}
}

static void snapshot(struct tree *t, struct snap *s)
{
	struct stat st;
	struct res r = {.dlen = 0};

	s->len = 0;
	snap_add(s, "");
	if (fstat(t->root, &st) == 0) {
		stat_str(&r, &st);
		snap_add(s, ".: %.*s", (int)r.dlen, r.data);
		snap_xattrs(s, t->root, ".");
		snap_add(s, "\n");
	}
	snap_dir(s, t->root, ".", 0);
}

/* --- resetting the trees ------------------------------------------------------ */
static void rm_contents(int dfd)
{
	int dup_fd = dup(dfd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	rewinddir(d); /* the dup shares the root fd's offset, at the end since last time */
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dfd, de->d_name, 0) < 0 && (errno == EISDIR || errno == EPERM)) {
			int sub = openat(dfd, de->d_name,
			                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0) {
				rm_contents(sub);
				close(sub);
			}
			unlinkat(dfd, de->d_name, AT_REMOVEDIR);
		}
	}
	closedir(d);
}

static int reset_trees(void)
{
	for (int i = 0; i < 2; i++) {
		struct tree *t = &tr[i];
		char list[4096];
		ssize_t n;

		for (int j = 0; j < NSLOT; j++) {
			if (t->slot[j] >= 0)
				close(t->slot[j]);
			t->slot[j] = -1;
		}
		rm_contents(t->root);
		n = flistxattr(t->root, list, sizeof(list));
		for (ssize_t k = 0; k < n; k += (ssize_t)strlen(list + k) + 1)
			fremovexattr(t->root, list + k);
		if (fchown(t->root, 0, 0) < 0 || fchmod(t->root, 0777) < 0 ||
		    futimens(t->root, NULL) < 0) {
			fprintf(stderr, "difftest: resetting %s: %m\n", t->path);
			return -1;
		}
	}
	return 0;
}

/* --- comparing ---------------------------------------------------------------- */
static const char *ename(int e)
{
	return e ? (strerrorname_np(e) ?: "?") : "0";
}

static void show_res(const char *who, const struct res *r)
{
	size_t i;

	fprintf(stderr, "    %-4s rc=%ld errno=%s", who, r->rc, ename(r->err));
	if (r->dlen) {
		fprintf(stderr, " data(%zu)=", r->dlen);
		for (i = 0; i < r->dlen && i < 96; i++) {
			unsigned char c = (unsigned char)r->data[i];
			fprintf(stderr, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
		}
		if (i < r->dlen)
			fprintf(stderr, "...");
	}
	fputc('\n', stderr);
}

static bool same_res(const struct res *a, const struct res *b)
{
	return a->rc == b->rc && a->err == b->err && a->dlen == b->dlen &&
	       memcmp(a->data, b->data, a->dlen) == 0;
}

/* First differing line of two snapshots, printed. */
static void show_snap_diff(const struct snap *a, const struct snap *b)
{
	const char *p = a->buf, *q = b->buf;

	while (*p && *q) {
		const char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
		size_t pl = pe ? (size_t)(pe - p) : strlen(p),
		       ql = qe ? (size_t)(qe - q) : strlen(q);

		if (pl != ql || memcmp(p, q, pl)) {
			fprintf(stderr, "    ref  %.*s\n    test %.*s\n", (int)pl, p, (int)ql, q);
			return;
		}
		p += pl + (pe ? 1 : 0);
		q += ql + (qe ? 1 : 0);
	}
	fprintf(stderr, "    ref  %.200s\n    test %.200s\n", *p ? p : "(end)", *q ? q : "(end)");
}

static struct snap snaps[2];
static unsigned long ops_compared, snaps_compared;
static long max_tries = 300; /* replays a shrink may take */
static bool counting = true; /* not while shrinking or printing a replay */

/*
 * Run ops[from..to) on both trees (emptied first).  Return the index of the
 * first op whose results (or the snapshot after it) differ, or -1.  *tree_diff
 * says which of the two it was; quiet: print nothing.
 */
static long run_seq(struct op *ops, long from, long to, bool quiet, bool *tree_diff)
{
	long last = -1;
	struct res ra, rb;

	if (reset_trees() < 0)
		exit(2);
	for (long i = from; i < to; i++) {
		if (ops[i].dead)
			continue;
		run_one(&ops[i], &tr[0], &ra);
		run_one(&ops[i], &tr[1], &rb);
		ops_compared += counting;
		last = i;
		if (!same_res(&ra, &rb)) {
			if (!quiet) {
				char d[1200];
				describe(&ops[i], d, sizeof(d));
				fprintf(stderr, "  op %ld: %s\n", i, d);
				show_res("ref", &ra);
				show_res("test", &rb);
			}
			*tree_diff = false;
			return i;
		}
		if (verbose && counting) {
			char d[1200];
			describe(&ops[i], d, sizeof(d));
			fprintf(stderr, "  op %ld: %s = %ld %s\n", i, d, ra.rc, ename(ra.err));
		}
		if ((i + 1) % check_every == 0 || i + 1 == to) {
			snapshot(&tr[0], &snaps[0]);
			snapshot(&tr[1], &snaps[1]);
			snaps_compared += counting;
			if (snaps[0].len != snaps[1].len ||
			    memcmp(snaps[0].buf, snaps[1].buf, snaps[0].len)) {
				if (!quiet) {
					char d[1200];
					describe(&ops[i], d, sizeof(d));
					fprintf(stderr, "  trees differ after op %ld: %s\n", i, d);
					show_snap_diff(&snaps[0], &snaps[1]);
				}
				*tree_diff = true;
				return last;
			}
		}
	}
	return -1;
}

static bool is_known(const char *key);
static void mismatch_key(const struct op *o, bool tree, char *buf, size_t n);

/* Drop ops while a mismatch remains (ddmin-like, chunks halving); a budget of replays. */
static long shrink(struct op *ops, long from, long fail_at, const char *want)
{
	long n = fail_at + 1 - from, chunk = n / 2, tries = 0;
	long *cut = calloc((size_t)n + 1, sizeof(*cut));
	bool td;

	if (!cut)
		return fail_at;
	counting = false;
	while (chunk >= 1 && tries < max_tries) {
		for (long i = from; i <= fail_at && tries < max_tries;) {
			long j, ncut = 0;

			for (j = i; j <= fail_at && ncut < chunk; j++)
				if (!ops[j].dead) {
					ops[j].dead = true;
					cut[ncut++] = j;
				}
			if (ncut == 0)
				break;
			tries++;
			long f = run_seq(ops, from, fail_at + 1, true, &td);
			char key[96];

			if (f >= 0)
				mismatch_key(&ops[f], td, key, sizeof(key));
			/* The same mismatch (a tree one: any tree one that is not a known one). */
			if (f >= 0 && (td ? strncmp(want, "tree:", 5) == 0 && !is_known(key)
			                  : strcmp(key, want) == 0)) {
				fail_at = f; /* still failing (maybe earlier): keep the cut */
			} else {
				for (long k = 0; k < ncut; k++)
					ops[cut[k]].dead = false;
				i = j;
			}
		}
		chunk /= 2;
	}
	counting = true;
	free(cut);
	return fail_at;
}

static bool is_known(const char *key)
{
	for (unsigned i = 0; i < nknown; i++)
		if (!strcmp(known[i], key))
			return true;
	return false;
}

static void load_known(const char *file)
{
	FILE *f = fopen(file, "re");
	char line[512];

	if (!f) {
		fprintf(stderr, "difftest: %s: %m\n", file);
		exit(2);
	}
	while (fgets(line, sizeof(line), f) && nknown < 128) {
		char key[64];

		if (line[0] == '#' || sscanf(line, "%63s", key) != 1)
			continue;
		snprintf(known[nknown++], sizeof(known[0]), "%s", key);
	}
	fclose(f);
}

/* Keys that differed, with counts, for the summary. */
static char seen_key[128][96];
static unsigned long seen_cnt[128];
static unsigned nseen;

static void count_key(const char *key)
{
	for (unsigned i = 0; i < nseen; i++)
		if (!strcmp(seen_key[i], key)) {
			seen_cnt[i]++;
			return;
		}
	if (nseen < 128) {
		snprintf(seen_key[nseen], sizeof(seen_key[0]), "%s", key);
		seen_cnt[nseen++] = 1;
	}
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: difftest [--seed N] [--ops N] [--check-every N] [--shrink] [--keep-going]\n"
	        "                [--skip CLASS[,CLASS...]] [--locks] [--known FILE] [--verbose]\n"
	        "                REFDIR TESTDIR\n"
	        "classes: file name attr xattr lock dev user odd (lock is off unless --locks)\n");
}

int main(int argc, char **argv)
{
	unsigned long long seed = 1;
	long nops = 1000, seg_start = 0, known_hits = 0, unknown_hits = 0;
	bool do_shrink = false, keep_going = false;
	struct op *ops;
	int i;

	skip_cls[C_LOCK] = true;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--shrink")) {
			do_shrink = true;
		} else if (!strcmp(a, "--keep-going")) {
			keep_going = true;
		} else if (!strcmp(a, "--locks")) {
			skip_cls[C_LOCK] = false;
		} else if (!strcmp(a, "--verbose")) {
			verbose = true;
		} else if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (v && !strcmp(a, "--seed")) {
			seed = strtoull(v, NULL, 0);
			i++;
		} else if (v && !strcmp(a, "--ops")) {
			nops = strtol(v, NULL, 0);
			i++;
		} else if (v && !strcmp(a, "--check-every")) {
			check_every = (unsigned)strtoul(v, NULL, 0);
			if (!check_every)
				check_every = 1;
			i++;
		} else if (v && !strcmp(a, "--known")) {
			load_known(v);
			i++;
		} else if (v && !strcmp(a, "--skip")) {
			char *dup = strdup(v), *save = NULL;

			for (char *c = strtok_r(dup, ",", &save); c;
			     c = strtok_r(NULL, ",", &save)) {
				int k;
				for (k = 0; k < C_NCLS && strcmp(c, cls_name[k]); k++)
					;
				if (k == C_NCLS) {
					fprintf(stderr, "difftest: unknown class %s\n", c);
					return 2;
				}
				skip_cls[k] = true;
			}
			free(dup);
			i++;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (argc - i != 2 || nops <= 0) {
		usage(stderr);
		return 2;
	}
	for (int t = 0; t < 2; t++) {
		tr[t].path = argv[i + t];
		tr[t].root = open(tr[t].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tr[t].root < 0) {
			fprintf(stderr, "difftest: %s: %m\n", tr[t].path);
			return 2;
		}
		for (int j = 0; j < NSLOT; j++)
			tr[t].slot[j] = -1;
	}
	umask(022);
	/* A write to a FIFO whose reader slot was closed: EPIPE on both sides, no signal. */
	signal(SIGPIPE, SIG_IGN);
	paths_init();
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	ops = calloc((size_t)nops, sizeof(*ops));
	if (!ops)
		return 2;
	for (long k = 0; k < nops; k++)
		gen(&ops[k]);

	/* Run in segments: a segment ends at a mismatch, the trees are emptied, and on. */
	while (seg_start < nops) {
		bool td = false;
		char key[96];
		long f = run_seq(ops, seg_start, nops, true, &td);

		if (f < 0)
			break;
		if (td) {
			/* The op that made the trees differ: replay with a snapshot after each. */
			unsigned every = check_every;
			bool td1 = false;
			long g;

			check_every = 1;
			counting = false;
			g = run_seq(ops, seg_start, f + 1, true, &td1);
			counting = true;
			check_every = every;
			if (g >= 0 && td1)
				f = g;
		}
		mismatch_key(&ops[f], td, key, sizeof(key));
		count_key(key);
		if (is_known(key)) {
			known_hits++;
			fprintf(stderr, "difftest: seed %llu op %ld: known difference %s\n", seed,
			        f, key);
		} else {
			unknown_hits++;
			fprintf(stderr, "difftest: seed %llu op %ld: MISMATCH %s\n", seed, f, key);
			counting = false;
			run_seq(ops, seg_start, f + 1, false, &td);
			counting = true;
			if (do_shrink) {
				long s = shrink(ops, seg_start, f, key);
				long n = 0;

				fprintf(stderr,
				        "difftest: minimal reproducer (seed %llu, ops %ld..%ld):\n",
				        seed, seg_start, s);
				for (long k = seg_start; k <= s; k++) {
					char d[1200];
					if (ops[k].dead)
						continue;
					describe(&ops[k], d, sizeof(d));
					fprintf(stderr, "    %ld: %s\n", k, d);
					n++;
				}
				fprintf(stderr, "difftest: %ld ops; replayed:\n", n);
				counting = false;
				run_seq(ops, seg_start, s + 1, false, &td);
				counting = true;
				for (long k = seg_start; k <= s; k++)
					ops[k].dead = false;
			}
			if (!keep_going)
				break;
		}
		seg_start = f + 1;
	}
	printf("difftest: seed %llu: %lu ops compared, %lu snapshots, %ld known and %ld unknown "
	       "mismatches\n",
	       seed, ops_compared, snaps_compared, known_hits, unknown_hits);
	for (unsigned k = 0; k < nseen; k++)
		printf("difference %s %lu\n", seen_key[k], seen_cnt[k]);
	reset_trees();
	free(ops);
	free(snaps[0].buf);
	free(snaps[1].buf);
	return unknown_hits ? 1 : 0;
}
