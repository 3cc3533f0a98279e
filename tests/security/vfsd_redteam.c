// SPDX-License-Identifier: MIT
/*
 * Red-team attacks on vfsd by a hostile guest (run by
 * tests/security/vfsd_redteam.sh), through the raw front-end of
 * tests/helpers/vfsd_frontend.h.  What is checked here is the threat model's
 * rule that "setuid/setgid bits and ownership rules are those a kernel would
 * apply for the guest's uid": every request below is sent with the guest
 * caller uid/gid 1000 (fuse_in_header.uid/gid), against files the host made
 * as root, and each must answer what a kernel answers a uid-1000 process.
 * The host state is checked afterwards with plain syscalls, so a request
 * that "fails" with a wrong errno but changed nothing is not counted as a
 * hole.
 *
 *  cred-open     OPEN of root's 0600 file for reading, and of root's 0644
 *                file (and a setuid-root one) for writing, by uid 1000
 *  cred-setattr  SETATTR chown of uid 1000's own file to root, chmod of
 *                root's file, chown+chmod to a setuid-root file, utimes of
 *                root's file, truncate of root's file
 *  cred-xattr    SETXATTR security.capability (file capabilities) and a
 *                system.posix_acl_access on root's file, by uid 1000
 *  cred-dir      UNLINK, RENAME, LINK, in root's 0755 directory by uid 1000
 *  moved-out     a directory the guest holds, moved out of the share by the
 *                host: LOOKUP+READ of a file now outside, CREATE, READDIR
 *  readonly      (--readonly runs) every modifying op answers EROFS, the
 *                host's files are unchanged, READ leaves atime alone
 *  memshrink     (VMM) the front-end shrinks the memfd of guest memory under
 *                vfsd, then kicks a request: vfsd must survive
 *
 * Usage: vfsd_redteam --share DIR [--outside DIR] --sandbox MODE [--tag TAG]
 *        [--vfsd-opt OPT]... [--only LIST]
 * Prints TAP lines; exit 0 when all passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/helpers/vfsd_frontend.h"

static const char *tag = "vfsd";

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

static void as_user(void)
{
	req_uid = req_gid = 1000;
}

static void as_root(void)
{
	req_uid = req_gid = 0;
}

static char *hpath(const char *name)
{
	static char p[4][600];
	static unsigned i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", share, name);
	return p[i];
}

/* A host file made by root: name, mode, contents. */
static void host_file(const char *name, mode_t mode, const char *data)
{
	int fd;

	/* Rewritten in place: the guest's node for the name stays this file. */
	fd = open(hpath(name), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		if (data)
			(void)!write(fd, data, strlen(data));
		(void)!fchown(fd, 0, 0);
		fchmod(fd, mode);
		close(fd);
	}
}

static bool host_has(const char *name, const char *data)
{
	char buf[256] = {0};
	int fd = open(hpath(name), O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(data) && !memcmp(buf, data, (size_t)n);
}

static uint64_t lk(uint64_t dir, const char *name)
{
	int e;
	uint64_t n;

	as_root(); /* lookups are not what is attacked */
	n = lookup(dir, name, &e);
	as_user();
	return n;
}

static void release_fh(uint64_t node, uint64_t fh)
{
	struct fuse_release_in rel = {.fh = fh};

	CALL(FUSE_RELEASE, node, &rel, sizeof(rel));
}

static struct reply setattr(uint64_t node, uint32_t valid, uint32_t mode, uint32_t uid,
                            uint32_t gid, uint64_t size)
{
	struct fuse_setattr_in in = {
	    .valid = valid, .mode = mode, .uid = uid, .gid = gid, .size = size};

	if (valid & (FATTR_ATIME | FATTR_MTIME)) {
		in.atime = 12345;
		in.mtime = 12345;
	}
	return CALL(FUSE_SETATTR, node, &in, sizeof(in));
}

/* --- cred-open ------------------------------------------------------------ */

static void test_cred_open(void)
{
	uint64_t node, fh = 0;
	struct stat st;
	int e;

	host_file("root-secret", 0600, "ROOT-ONLY-SECRET");
	host_file("root-ro", 0644, "ROOT-CONTENT");
	host_file("root-suid", 04755, "ROOT-SUID-BINARY");
	host_file("mine-o", 0600, "MINE");
	(void)!chown(hpath("mine-o"), 1000, 1000);

	node = lk(1, "mine-o");
	as_user();
	e = open_node(node, O_RDWR, &fh);
	T(e == 0, "%s: cred-open: uid 1000 may open its own 0600 file O_RDWR (%s)", tag,
	  err_name(e));
	if (e == 0)
		release_fh(node, fh);

	node = lk(1, "root-secret");
	as_user();
	e = open_node(node, O_RDONLY, &fh);
	if (e == 0) {
		struct fuse_read_in rd = {.fh = fh, .size = 64};
		struct reply r = CALL(FUSE_READ, node, &rd, sizeof(rd));

		T(!(r.error == 0 && r.len >= 16 && !memcmp(r.data, "ROOT-ONLY-SECRET", 16)),
		  "%s: cred-open: uid 1000 cannot READ root's 0600 file (OPEN %s, READ %s)", tag,
		  err_name(e), r.error == 0 ? "returned the secret" : err_name(r.error));
		release_fh(node, fh);
	} else {
		T(e == -EACCES, "%s: cred-open: OPEN of root's 0600 file by uid 1000: EACCES (%s)",
		  tag, err_name(e));
	}

	node = lk(1, "root-ro");
	as_user();
	e = open_node(node, O_WRONLY, &fh);
	if (e == 0) {
		struct fuse_write_in wr = {.fh = fh, .offset = 0, .size = 12};

		fuse_call(1, FUSE_WRITE, node, &wr, sizeof(wr), "GUEST-WROTE!", 12, 256);
		release_fh(node, fh);
	}
	T(e == -EACCES && host_has("root-ro", "ROOT-CONTENT"),
	  "%s: cred-open: uid 1000 cannot write root's 0644 file (OPEN O_WRONLY %s, file %s)", tag,
	  err_name(e), host_has("root-ro", "ROOT-CONTENT") ? "unchanged" : "OVERWRITTEN");

	/* O_TRUNC through OPEN: the truncation happens in open itself. */
	host_file("root-ro", 0644, "ROOT-CONTENT");
	node = lk(1, "root-ro");
	as_user();
	e = open_node(node, O_RDONLY | O_TRUNC, &fh);
	if (e == 0)
		release_fh(node, fh);
	T(host_has("root-ro", "ROOT-CONTENT"),
	  "%s: cred-open: uid 1000 cannot truncate root's 0644 file with OPEN O_TRUNC (%s, file %s)",
	  tag, err_name(e), host_has("root-ro", "ROOT-CONTENT") ? "unchanged" : "TRUNCATED");

	/* Writing into root's setuid binary, without KILL_SUIDGID: a trojan that stays setuid. */
	node = lk(1, "root-suid");
	as_user();
	e = open_node(node, O_WRONLY, &fh);
	if (e == 0) {
		struct fuse_write_in wr = {.fh = fh, .offset = 0, .size = 16};

		fuse_call(1, FUSE_WRITE, node, &wr, sizeof(wr), "TROJAN-BY-GUEST!", 16, 256);
		release_fh(node, fh);
	}
	T(stat(hpath("root-suid"), &st) == 0 &&
	      !(host_has("root-suid", "TROJAN-BY-GUEST!") && (st.st_mode & S_ISUID) && st.st_uid == 0),
	  "%s: cred-open: uid 1000 cannot write root's setuid binary and leave it setuid-root "
	  "(OPEN %s, mode %o uid %u)",
	  tag, err_name(e), (unsigned)st.st_mode & 07777, (unsigned)st.st_uid);
	as_root();
}

/* --- cred-setattr --------------------------------------------------------- */

static void test_cred_setattr(void)
{
	uint64_t node;
	struct stat st;
	struct reply r;

	/* uid 1000's own file, made by the host so CREATE's behaviour does not matter. */
	host_file("mine", 0755, "#!/bin/sh\nid\n");
	(void)!chown(hpath("mine"), 1000, 1000);
	node = lk(1, "mine");
	as_user();
	r = setattr(node, FATTR_MODE, S_IFREG | 0700, 0, 0, 0);
	stat(hpath("mine"), &st);
	T(r.error == 0 && (st.st_mode & 07777) == 0700,
	  "%s: cred-setattr: uid 1000 may chmod its own file (%s, mode %o)", tag, err_name(r.error),
	  (unsigned)st.st_mode & 07777);
	r = setattr(node, FATTR_UID | FATTR_GID, 0, 0, 0, 0);
	stat(hpath("mine"), &st);
	T(r.error == -EPERM && st.st_uid == 1000,
	  "%s: cred-setattr: uid 1000 cannot chown its file to root: EPERM (%s, owner now %u)", tag,
	  err_name(r.error), (unsigned)st.st_uid);
	/* ... and so make it setuid-root: chown (which clears S_ISUID), then chmod. */
	r = setattr(node, FATTR_MODE, S_IFREG | 04755, 0, 0, 0);
	stat(hpath("mine"), &st);
	T(!((st.st_mode & S_ISUID) && st.st_uid == 0),
	  "%s: cred-setattr: uid 1000 cannot make a setuid-root file by chown+chmod "
	  "(chmod %s, mode %o uid %u)",
	  tag, err_name(r.error), (unsigned)st.st_mode & 07777, (unsigned)st.st_uid);

	/* Setgid for a group the caller is not in: the kernel clears S_ISGID (no EPERM). */
	host_file("mine-g", 0755, "x");
	(void)!chown(hpath("mine-g"), 1000, 0);
	node = lk(1, "mine-g");
	as_user();
	r = setattr(node, FATTR_MODE, S_IFREG | 02755, 0, 0, 0);
	stat(hpath("mine-g"), &st);
	T(!(st.st_mode & S_ISGID),
	  "%s: cred-setattr: uid 1000's chmod g+s of its file in group 0 makes no setgid-root "
	  "file (%s, mode %o)",
	  tag, err_name(r.error), (unsigned)st.st_mode & 07777);

	/* Root's files. */
	host_file("root-f", 0644, "ROOT-CONTENT");
	node = lk(1, "root-f");
	as_user();
	r = setattr(node, FATTR_MODE, S_IFREG | 04777, 0, 0, 0);
	stat(hpath("root-f"), &st);
	T(r.error == -EPERM && (st.st_mode & 07777) == 0644,
	  "%s: cred-setattr: uid 1000 cannot chmod root's file: EPERM (%s, mode now %o)", tag,
	  err_name(r.error), (unsigned)st.st_mode & 07777);
	host_file("root-f", 0644, "ROOT-CONTENT");
	r = setattr(node, FATTR_UID | FATTR_GID, 0, 1000, 1000, 0);
	stat(hpath("root-f"), &st);
	T(r.error == -EPERM && st.st_uid == 0,
	  "%s: cred-setattr: uid 1000 cannot chown root's file to itself: EPERM (%s, owner %u)", tag,
	  err_name(r.error), (unsigned)st.st_uid);
	host_file("root-f", 0644, "ROOT-CONTENT");
	r = setattr(node, FATTR_ATIME | FATTR_MTIME, 0, 0, 0, 0);
	stat(hpath("root-f"), &st);
	T(r.error == -EPERM && st.st_mtime != 12345,
	  "%s: cred-setattr: uid 1000 cannot set times of root's file: EPERM (%s, mtime %s)", tag,
	  err_name(r.error), st.st_mtime == 12345 ? "CHANGED" : "kept");
	host_file("root-f", 0644, "ROOT-CONTENT");
	r = setattr(node, FATTR_SIZE, 0, 0, 0, 0);
	T(r.error == -EACCES && host_has("root-f", "ROOT-CONTENT"),
	  "%s: cred-setattr: uid 1000 cannot truncate root's 0644 file: EACCES (%s, file %s)", tag,
	  err_name(r.error), host_has("root-f", "ROOT-CONTENT") ? "unchanged" : "TRUNCATED");
	as_root();
}

/* --- cred-xattr ----------------------------------------------------------- */

static struct reply setxattr_req(uint64_t node, const char *name, const void *val, uint32_t size)
{
	struct {
		uint32_t size, flags;
		char rest[512];
	} in = {.size = size};
	size_t nl = strlen(name) + 1;

	memcpy(in.rest, name, nl);
	memcpy(in.rest + nl, val, size);
	return CALL(FUSE_SETXATTR, node, &in, 8 + nl + size);
}

static void test_cred_xattr(void)
{
	struct vfs_ns_cap_data cap = {0};
	uint64_t node;
	struct reply r;
	char buf[64];
	/* user::rwx group::r-- other::r-- plus user:1000:rwx, mask rwx */
	struct {
		uint32_t version;
		struct {
			uint16_t tag, perm;
			uint32_t id;
		} e[5];
	} acl = {2,
	         {{0x01, 7, ~0u}, {0x02, 7, 1000}, {0x04, 4, ~0u}, {0x10, 7, ~0u}, {0x20, 4, ~0u}}};

	/* security.capability: cap_setuid+ep on uid 1000's own program. */
	host_file("mine-cap", 0755, "#!/bin/sh\n");
	(void)!chown(hpath("mine-cap"), 1000, 1000);
	node = lk(1, "mine-cap");
	as_user();
	cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
	cap.data[0].permitted = 1u << CAP_SETUID;
	r = setxattr_req(node, "security.capability", &cap, XATTR_CAPS_SZ_2);
	T(r.error != 0 && getxattr(hpath("mine-cap"), "security.capability", buf, sizeof(buf)) < 0,
	  "%s: cred-xattr: uid 1000 cannot give its file capabilities (security.capability: %s)",
	  tag, err_name(r.error));

	/* An ACL granting uid 1000 write on root's 0644 file. */
	host_file("root-acl", 0644, "ROOT-CONTENT");
	node = lk(1, "root-acl");
	as_user();
	r = setxattr_req(node, "system.posix_acl_access", &acl, sizeof(acl));
	T(r.error == -EPERM &&
	      getxattr(hpath("root-acl"), "system.posix_acl_access", buf, sizeof(buf)) < 0,
	  "%s: cred-xattr: uid 1000 cannot set an ACL on root's file: EPERM (%s)", tag,
	  err_name(r.error));
	/* trusted.* is CAP_SYS_ADMIN's; vfsd has not got it, so only the errno is checked. */
	r = setxattr_req(node, "trusted.redteam", "x", 1);
	T(r.error != 0, "%s: cred-xattr: uid 1000 cannot set trusted.* (%s)", tag,
	  err_name(r.error));
	as_root();
}

/* --- cred-dir ------------------------------------------------------------- */

static void test_cred_dir(void)
{
	uint64_t dir, mine;
	struct reply r;
	char p[700];

	mkdir(hpath("rootdir"), 0755);
	chmod(hpath("rootdir"), 0755);
	snprintf(p, sizeof(p), "%s/victim", hpath("rootdir"));
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			close(fd);
	}
	host_file("mine2", 0644, "x");
	(void)!chown(hpath("mine2"), 1000, 1000);
	dir = lk(1, "rootdir");
	mine = lk(1, "mine2");
	as_user();
	r = CALL(FUSE_UNLINK, dir, "victim", 7);
	T(r.error == -EACCES && access(p, F_OK) == 0,
	  "%s: cred-dir: uid 1000 cannot UNLINK in root's 0755 directory: EACCES (%s)", tag,
	  err_name(r.error));
	{
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			close(fd);
	}
	{
		struct {
			struct fuse_link_in in;
			char name[16];
		} ln = {.in = {.oldnodeid = mine}, .name = "planted"};

		r = CALL(FUSE_LINK, dir, &ln, sizeof(ln.in) + 8);
		snprintf(p, sizeof(p), "%s/planted", hpath("rootdir"));
		T(r.error == -EACCES && access(p, F_OK) < 0,
		  "%s: cred-dir: uid 1000 cannot LINK into root's 0755 directory: EACCES (%s)", tag,
		  err_name(r.error));
	}
	{
		struct {
			struct fuse_rename_in in;
			char names[32];
		} rn = {.in = {.newdir = 1}};

		memcpy(rn.names, "victim\0stolen", 14);
		r = CALL(FUSE_RENAME, dir, &rn, sizeof(rn.in) + 14);
		T(r.error == -EACCES && access(hpath("stolen"), F_OK) < 0,
		  "%s: cred-dir: uid 1000 cannot RENAME out of root's 0755 directory: EACCES (%s)",
		  tag, err_name(r.error));
	}
	as_root();
}

/* --- moved-out ------------------------------------------------------------ */

/*
 * A directory the guest holds, moved out of the share by a host process
 * (e.g. "mv share/d /root/d"): the guest's node still names it, and
 * everything relative to it is outside the share.  '..' is checked
 * (dir_in_share); nothing else is.
 */
static void test_moved_out(const char *outside)
{
	char in[600], away[600], p[700];
	uint64_t d, n, fh;
	struct reply r;
	int e, fd;

	snprintf(in, sizeof(in), "%s/box", share);
	snprintf(away, sizeof(away), "%s/box", outside);
	mkdir(in, 0755);
	d = lk(1, "box");
	as_root();
	T(d != 0 && rename(in, away) == 0, "%s: moved-out: host moves box/ (held by the guest) out",
	  tag);
	snprintf(p, sizeof(p), "%s/hostfile", away);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		(void)!write(fd, "OUTSIDE-SECRET", 14);
		close(fd);
	}
	n = lookup(d, "hostfile", &e);
	if (n) {
		e = open_node(n, O_RDWR, &fh);
		if (e == 0) {
			struct fuse_read_in rd = {.fh = fh, .size = 64};

			r = CALL(FUSE_READ, n, &rd, sizeof(rd));
			if (r.error == 0 && r.len >= 14 && !memcmp(r.data, "OUTSIDE-SECRET", 14))
				e = 1;
			release_fh(n, fh);
		}
	}
	T(n == 0, "%s: moved-out: a file outside the share is not looked up / read through the "
	          "moved directory (LOOKUP %s, %s)",
	  tag, n ? "success" : err_name(e), e == 1 ? "READ returned it" : "not read");
	{
		struct {
			struct fuse_create_in in;
			char name[16];
		} cr = {.in = {.flags = O_RDWR, .mode = S_IFREG | 0644}, .name = "planted"};

		r = CALL(FUSE_CREATE, d, &cr, sizeof(cr.in) + 8);
		snprintf(p, sizeof(p), "%s/planted", away);
		T(access(p, F_OK) < 0,
		  "%s: moved-out: CREATE through the moved directory makes nothing outside (%s)", tag,
		  err_name(r.error));
		if (r.error == 0)
			release_fh(((struct fuse_entry_out *)r.data)->nodeid,
			           ((struct fuse_open_out *)(r.data + sizeof(struct fuse_entry_out)))->fh);
	}
	{
		struct fuse_open_in oi = {.flags = O_RDONLY};
		bool listed = false;

		r = CALL(FUSE_OPENDIR, d, &oi, sizeof(oi));
		if (r.error == 0) {
			uint64_t dfh = ((struct fuse_open_out *)r.data)->fh;
			struct fuse_read_in rd = {.fh = dfh, .size = 4096};
			struct fuse_release_in rel = {.fh = dfh};

			r = CALL(FUSE_READDIR, d, &rd, sizeof(rd));
			listed = r.error == 0 && r.len && memmem(r.data, r.len, "hostfile", 8);
			CALL(FUSE_RELEASEDIR, d, &rel, sizeof(rel));
		}
		T(!listed, "%s: moved-out: the moved directory's contents are not listed", tag);
	}
	snprintf(p, sizeof(p), "rm -rf '%s'", away);
	(void)!system(p);
}

/* --- memshrink (VMM) ------------------------------------------------------ */

/*
 * The front-end shrinks the guest-memory memfd under vfsd after
 * ADD_MEM_REG, then kicks a request whose buffers lie past the new end:
 * vfsd's loads from its mapping raise SIGBUS.  (vfsd_mem_add() checks the
 * size once, and says memfd seals would be the fix.)
 */
static void test_memshrink(void)
{
	struct fuse_in_header *ih = (void *)(g + IN_BUF);
	struct vfsd_vring_desc *d = drv_desc(1);
	struct fuse_getattr_in ga = {0};
	uint32_t used = 0;
	int r;

	*ih = (struct fuse_in_header){.len = sizeof(*ih) + sizeof(ga),
	                              .opcode = FUSE_GETATTR,
	                              .unique = unique++,
	                              .nodeid = 1};
	memcpy(ih + 1, &ga, sizeof(ga));
	d[0] = (struct vfsd_vring_desc){IN_BUF, (uint32_t)(sizeof(*ih) + sizeof(ga)),
	                                VFSD_VRING_DESC_F_NEXT, 1};
	d[1] = (struct vfsd_vring_desc){OUT_BUF, 4096, VFSD_VRING_DESC_F_WRITE, 0};
	/* Rings stay (they are below IN_BUF); the request and reply buffers go. */
	T(ftruncate(memfd, IN_BUF) == 0, "%s: memshrink: front-end shrinks guest memory to 1 MiB",
	  tag);
	int st = 0;
	pid_t w;

	r = drv_submit(1, &used);
	usleep(200000);
	w = waitpid(vfsd_pid, &st, WNOHANG);
	T(w == 0, "%s: memshrink: vfsd survives a front-end shrinking guest memory "
	          "(request %s; vfsd %s %d)",
	  tag, r == 0 ? "answered" : "unanswered",
	  w == 0 ? "running" : WIFSIGNALED(st) ? "killed by signal" : "exited",
	  w == 0 ? 0 : WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	if (w == vfsd_pid)
		vfsd_pid = 0;
}

/* --- readonly ------------------------------------------------------------- */

static void test_readonly(void)
{
	uint64_t node, fh = 0, dirfh = 0;
	struct reply r;
	struct stat before, after;
	int e, bad = 0;

	/* The script made "ro-file" (0644, "ROOT-CONTENT") and "ro-dir" before vfsd started. */
	stat(hpath("ro-file"), &before);
	node = lk(1, "ro-file");
	as_root();
	e = open_node(node, O_RDONLY, &fh);
	T(e == 0, "%s: readonly: OPEN O_RDONLY works (%s)", tag, err_name(e));
	{
		struct fuse_write_in wr = {.fh = fh, .size = 4};
		struct fuse_fallocate_in fa = {.fh = fh, .offset = 0, .length = 1 << 20};
		struct fuse_copy_file_range_in cf = {
		    .fh_in = fh, .nodeid_out = node, .fh_out = fh, .off_out = 4, .len = 4};
		struct fuse_lk_in lki = {.fh = fh, .lk = {.type = F_WRLCK, .end = INT64_MAX}};
		uint32_t opens[] = {O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND,
		                    O_ACCMODE};

		r = fuse_call(1, FUSE_WRITE, node, &wr, sizeof(wr), "EVIL", 4, 256);
		bad += r.error != -EROFS;
		r = CALL(FUSE_FALLOCATE, node, &fa, sizeof(fa));
		bad += r.error != -EROFS;
		fa.mode = 0x02 | 0x01; /* PUNCH_HOLE|KEEP_SIZE */
		r = CALL(FUSE_FALLOCATE, node, &fa, sizeof(fa));
		bad += r.error != -EROFS;
		r = CALL(FUSE_COPY_FILE_RANGE, node, &cf, sizeof(cf));
		bad += r.error != -EROFS;
		r = CALL(FUSE_SETLK, node, &lki, sizeof(lki)); /* a lock changes nothing on disk */
		for (unsigned i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
			uint64_t f2;

			e = open_node(node, opens[i], &f2);
			bad += e != -EROFS;
			if (e == 0)
				release_fh(node, f2);
		}
	}
	r = setattr(node, FATTR_MODE, S_IFREG | 0777, 0, 0, 0);
	bad += r.error != -EROFS;
	r = setattr(node, FATTR_SIZE, 0, 0, 0, 0);
	bad += r.error != -EROFS;
	r = setattr(node, FATTR_MTIME, 0, 0, 0, 0);
	bad += r.error != -EROFS;
	r = setxattr_req(node, "user.x", "y", 1);
	bad += r.error != -EROFS;
	r = CALL(FUSE_REMOVEXATTR, node, "user.x", 7);
	bad += r.error != -EROFS;
	{
		struct {
			struct fuse_create_in in;
			char name[16];
		} cr = {.in = {.flags = O_RDONLY, .mode = S_IFREG | 0644}, .name = "ro-file"};
		struct {
			struct fuse_mknod_in in;
			char name[16];
		} mk = {.in = {.mode = S_IFIFO | 0644}, .name = "fifo"};
		struct {
			struct fuse_link_in in;
			char name[16];
		} ln = {.in = {.oldnodeid = node}, .name = "ln"};
		struct {
			struct fuse_rename2_in in;
			char names[32];
		} rn = {.in = {.newdir = 1, .flags = RENAME_EXCHANGE}};

		r = CALL(FUSE_CREATE, 1, &cr, sizeof(cr.in) + 8);
		bad += r.error != -EROFS;
		memcpy(cr.name, "new", 4);
		r = CALL(FUSE_CREATE, 1, &cr, sizeof(cr.in) + 4);
		bad += r.error != -EROFS;
		r = CALL(FUSE_MKNOD, 1, &mk, sizeof(mk.in) + 5);
		bad += r.error != -EROFS;
		r = CALL(FUSE_LINK, 1, &ln, sizeof(ln.in) + 3);
		bad += r.error != -EROFS;
		memcpy(rn.names, "ro-file\0ro-dir", 15);
		r = CALL(FUSE_RENAME2, 1, &rn, sizeof(rn.in) + 15);
		bad += r.error != -EROFS;
		r = CALL(FUSE_UNLINK, 1, "ro-file", 8);
		bad += r.error != -EROFS;
		r = CALL(FUSE_RMDIR, 1, "ro-dir", 7);
		bad += r.error != -EROFS;
		r = CALL(FUSE_SYMLINK, 1, "sl\0ro-file", 11);
		bad += r.error != -EROFS;
	}
	/* OPENDIR then FSYNCDIR is harmless; a directory opened for write never is. */
	{
		uint64_t d = lk(1, "ro-dir");
		struct fuse_open_in oi = {.flags = O_RDWR | O_DIRECTORY};

		as_root();
		r = CALL(FUSE_OPENDIR, d, &oi, sizeof(oi));
		if (r.error == 0)
			dirfh = ((struct fuse_open_out *)r.data)->fh;
	}
	(void)dirfh;
	T(bad == 0, "%s: readonly: every modifying request answers EROFS (%d did not)", tag, bad);
	/* Reading through a read-only share changes no timestamp either (atime). */
	{
		struct timespec old[2] = {{.tv_sec = 1000000}, {.tv_sec = 2000000}};
		struct fuse_read_in rd = {.fh = fh, .size = 64};
		struct stat st;

		utimensat(AT_FDCWD, hpath("ro-file"), old, 0); /* atime older than mtime */
		r = CALL(FUSE_READ, node, &rd, sizeof(rd));
		stat(hpath("ro-file"), &st);
		T(r.error == 0 && st.st_atime == 1000000,
		  "%s: readonly: READ leaves the host file's atime alone (%s, atime %s)", tag,
		  err_name(r.error), st.st_atime == 1000000 ? "kept" : "UPDATED");
		stat(hpath("ro-file"), &before);
	}
	T(stat(hpath("ro-file"), &after) == 0 && host_has("ro-file", "ROOT-CONTENT") &&
	      after.st_mode == before.st_mode && after.st_mtime == before.st_mtime &&
	      after.st_nlink == 1 && after.st_blocks == before.st_blocks &&
	      access(hpath("ro-dir"), F_OK) == 0 && access(hpath("new"), F_OK) < 0 &&
	      access(hpath("fifo"), F_OK) < 0 && access(hpath("ln"), F_OK) < 0 &&
	      access(hpath("sl"), F_OK) < 0,
	  "%s: readonly: the share is unchanged", tag);
	if (fh)
		release_fh(node, fh);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"share", required_argument, NULL, 's'},    {"sandbox", required_argument, NULL, 'S'},
	    {"tag", required_argument, NULL, 't'},      {"vfsd-opt", required_argument, NULL, 'O'},
	    {"only", required_argument, NULL, 'y'},     {"outside", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *sandbox = "none", *args[16] = {NULL}, *only = NULL, *outside = NULL;
	char sb[64], seccomp[32];
	unsigned nargs = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(share, sizeof(share), "%s", optarg);
			break;
		case 'S':
			sandbox = optarg;
			break;
		case 't':
			tag = optarg;
			break;
		case 'y':
			only = optarg;
			break;
		case 'o':
			outside = optarg;
			break;
		case 'O':
			if (nargs < 10)
				args[nargs++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!share[0]) {
		fprintf(stderr, "usage: %s --share DIR --sandbox MODE ...\n", argv[0]);
		return 2;
	}
	snprintf(sock_path, sizeof(sock_path), "%s.%s.sock", share, tag);
	snprintf(log_path, sizeof(log_path), "%s.%s.log", share, tag);
	snprintf(sb, sizeof(sb), "--sandbox=%s", sandbox);
	snprintf(seccomp, sizeof(seccomp), "--seccomp=%s", SECCOMP_MODE);
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
	if (WANT("cred-open"))
		test_cred_open();
	if (WANT("cred-setattr"))
		test_cred_setattr();
	if (WANT("cred-xattr"))
		test_cred_xattr();
	if (WANT("cred-dir"))
		test_cred_dir();
	if (outside && WANT("moved-out"))
		test_moved_out(outside);
	if (only && strstr(only, "readonly"))
		test_readonly();
	if (only && strstr(only, "memshrink")) /* last: it may kill vfsd */
		test_memshrink();
	else
		T(vfsd_alive(), "%s: vfsd still running", tag);
	stop_vfsd();
	{
		char cmd[700];

		snprintf(cmd, sizeof(cmd), "! grep -q 'Sanitizer\\|runtime error' %s", log_path);
		T(system(cmd) == 0, "%s: no sanitizer report in vfsd's log", tag);
	}
	TAP_EXIT();
}
