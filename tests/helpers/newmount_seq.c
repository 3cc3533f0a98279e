/* SPDX-License-Identifier: MIT */
/*
 * newmount_seq: the system-call sequences of util-linux libmount >= 2.39
 * (libmount/src/hook_mount.c, the new mount API), one per subcommand, for
 * tests/integration/newmount_oci.sh.  Static: it runs in containers whose
 * root file system has only busybox, whose mount(8) still calls mount(2).
 *
 *   newmount_seq [-T] new TYPE SOURCE TARGET [OPTS]
 *       fsopen(TYPE, FSOPEN_CLOEXEC); fsconfig SET_STRING "source";
 *       configure_superblock(): per option, in order, SET_FLAG or SET_STRING
 *       ("ro"/"rw" and the MNT_SUPERBLOCK flags as flags, VFS flags skipped);
 *       FSCONFIG_CMD_CREATE; fsmount(FSMOUNT_CLOEXEC, 0); mount_setattr of
 *       the VFS flags (hook_set_vfsflags: norec, then rec); move_mount
 *       (F_EMPTY_PATH) onto TARGET; propagation options by mount_setattr
 *       on the attached tree (hook_set_propagation).
 *   newmount_seq [-T] bind SRC TARGET [OPTS]
 *       open_tree(OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC [|AT_RECURSIVE for
 *       "rbind"/"rec"]); mount_setattr of VFS flags; move_mount.
 *   newmount_seq remount TARGET OPTS
 *       open_tree(TARGET, OPEN_TREE_CLOEXEC); without "bind" in OPTS:
 *       fspick(FSPICK_EMPTY_PATH|FSPICK_NO_AUTOMOUNT), the options (plus
 *       "rw" when neither ro nor rw is given: force_rwro), CMD_RECONFIGURE;
 *       then mount_setattr of the VFS flags, clearing what a classic
 *       MS_REMOUNT resets (ro,nosuid,nodev,noexec,nosymfollow) unless named
 *       (mnt_optlist_get_attrs(): remount_reset).
 *   newmount_seq propagation TARGET private|shared|slave|unbindable|r...
 *       open_tree(TARGET, OPEN_TREE_CLOEXEC); mount_setattr(.propagation).
 *   newmount_seq umount TARGET
 *       umount2(TARGET, 0).
 *
 * The composefs-style modes of tests/integration/newmount_fuse.sh, one
 * fsconfig per OPTION argument (KEY=VALUE: SET_STRING, KEY: SET_FLAG),
 * SOURCE "-" for none, fsmount with no attributes, quiet output:
 *   newmount_seq mount|create|fsmount TYPE SOURCE TARGET [OPTION...]
 *       mount: the whole sequence, prints "mounted"; create: up to
 *       FSCONFIG_CMD_CREATE, then closes the context, prints "created";
 *       fsmount: up to fsmount, closes the mount unattached, prints
 *       "fsmounted".  A failing step prints "STEP: strerror (errno N)" and
 *       the context's messages as "log: ...", and exits 1.
 *
 * -T: libmount's "restricted" mode (mnt_context_target_fd_required()): the
 * target is opened O_PATH without following symlinks and move_mount gets it
 * with MOVE_MOUNT_T_EMPTY_PATH.
 *
 * Output, one line per system call:
 *   call=NAME[:DETAIL] rc=N errno=NAME
 * then one line per message read from the fs context fd after the call
 * (libmount's mnt_context_read_mesgs(): read() until it fails):
 *   mesg=TEXT
 * and last
 *   result=ok  |  result=NAME failed=CALL (strerror text)
 * Exit 0 on success, 1 on failure, 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* By its path from here: static helpers are built without -I. */
#include "../../common/kernel_compat.h"

#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif

static bool target_fd_mode;
static int fs_fd = -1; /* the fs context whose messages are read after each call */

static const char *ename(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "unknown";
}

/* libmount's mnt_context_read_mesgs(): read() until it fails (ENODATA). */
static void read_mesgs(void)
{
	char buf[BUFSIZ];
	ssize_t n;
	int saved = errno;

	if (fs_fd < 0)
		return;
	while ((n = read(fs_fd, buf, sizeof(buf) - 1)) != -1) {
		if (n <= 0)
			continue;
		if (buf[n - 1] == '\n')
			n--;
		buf[n] = '\0';
		if (*buf)
			printf("mesg=%s\n", buf);
	}
	errno = saved;
}

/* Print one call's line and the context's messages; keep errno. */
static long report(const char *name, const char *detail, long rc)
{
	int e = rc < 0 ? errno : 0;

	printf("call=%s%s%s rc=%ld errno=%s\n", name, detail ? ":" : "", detail ? detail : "", rc,
	       ename(e));
	read_mesgs();
	errno = e;
	return rc;
}

static int failed(const char *call)
{
	int e = errno;

	printf("result=%s failed=%s (%s)\n", ename(e), call, strerror(e));
	return 1;
}

/* The options of libmount's linux map (libmount/src/optmap.c), as far as
 * hook_mount.c treats them differently. */
enum opt_kind {
	OPT_FS,     /* not in the map: fsconfig SET_STRING / SET_FLAG */
	OPT_RO,     /* ro/rw: fsconfig flag and MOUNT_ATTR_RDONLY */
	OPT_SB,     /* MNT_SUPERBLOCK flags: fsconfig flag only */
	OPT_VFS,    /* mount attributes: mount_setattr only */
	OPT_PROP,   /* propagation: mount_setattr after attach */
	OPT_IGNORE, /* operations and flags libmount passes to neither */
};

struct optdef {
	const char *name;
	enum opt_kind kind;
	uint64_t attr;  /* MOUNT_ATTR_* (VFS), MS_* propagation (PROP) */
	bool invert;    /* MNT_INVERT: clears attr */
	bool recursive; /* r* propagation, rbind */
};

static const struct optdef optmap[] = {
    {"ro", OPT_RO, MOUNT_ATTR_RDONLY, false, false},
    {"rw", OPT_RO, MOUNT_ATTR_RDONLY, true, false},
    {"exec", OPT_VFS, MOUNT_ATTR_NOEXEC, true, false},
    {"noexec", OPT_VFS, MOUNT_ATTR_NOEXEC, false, false},
    {"suid", OPT_VFS, MOUNT_ATTR_NOSUID, true, false},
    {"nosuid", OPT_VFS, MOUNT_ATTR_NOSUID, false, false},
    {"dev", OPT_VFS, MOUNT_ATTR_NODEV, true, false},
    {"nodev", OPT_VFS, MOUNT_ATTR_NODEV, false, false},
    {"sync", OPT_SB, 0, false, false},
    {"async", OPT_SB, 0, true, false},
    {"dirsync", OPT_SB, 0, false, false},
    {"mand", OPT_SB, 0, false, false},
    {"nomand", OPT_SB, 0, true, false},
    {"lazytime", OPT_SB, 0, false, false},
    {"nolazytime", OPT_SB, 0, true, false},
    {"remount", OPT_IGNORE, 0, false, false},
    {"bind", OPT_IGNORE, 0, false, false},
    {"rbind", OPT_IGNORE, 0, false, true},
    {"rec", OPT_IGNORE, 0, false, true},
    {"silent", OPT_IGNORE, 0, false, false},
    {"loud", OPT_IGNORE, 0, true, false},
    {"iversion", OPT_IGNORE, 0, false, false},
    {"noiversion", OPT_IGNORE, 0, true, false},
    {"defaults", OPT_IGNORE, 0, false, false},
    {"atime", OPT_VFS, MOUNT_ATTR_NOATIME, true, false},
    {"noatime", OPT_VFS, MOUNT_ATTR_NOATIME, false, false},
    {"diratime", OPT_VFS, MOUNT_ATTR_NODIRATIME, true, false},
    {"nodiratime", OPT_VFS, MOUNT_ATTR_NODIRATIME, false, false},
    {"relatime", OPT_VFS, MOUNT_ATTR_RELATIME, false, false},
    {"norelatime", OPT_VFS, MOUNT_ATTR_RELATIME, true, false},
    {"strictatime", OPT_VFS, MOUNT_ATTR_STRICTATIME, false, false},
    {"nostrictatime", OPT_VFS, MOUNT_ATTR_STRICTATIME, true, false},
    {"symfollow", OPT_VFS, MOUNT_ATTR_NOSYMFOLLOW, true, false},
    {"nosymfollow", OPT_VFS, MOUNT_ATTR_NOSYMFOLLOW, false, false},
    {"unbindable", OPT_PROP, MS_UNBINDABLE, false, false},
    {"runbindable", OPT_PROP, MS_UNBINDABLE, false, true},
    {"private", OPT_PROP, MS_PRIVATE, false, false},
    {"rprivate", OPT_PROP, MS_PRIVATE, false, true},
    {"slave", OPT_PROP, MS_SLAVE, false, false},
    {"rslave", OPT_PROP, MS_SLAVE, false, true},
    {"shared", OPT_PROP, MS_SHARED, false, false},
    {"rshared", OPT_PROP, MS_SHARED, false, true},
};

static const struct optdef fs_opt = {NULL, OPT_FS, 0, false, false};

struct opt {
	char *name;
	char *value; /* NULL: a flag */
	const struct optdef *def;
};

#define MAX_OPTS 64
static struct opt opts[MAX_OPTS];
static size_t nopts;

/* Split OPTS at commas (no quoting: the test's options need none). */
static int parse_opts(char *s)
{
	char *tok, *save = NULL;

	nopts = 0;
	if (!s)
		return 0;
	for (tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct opt *o;
		char *eq;

		if (nopts == MAX_OPTS)
			return -E2BIG;
		o = &opts[nopts++];
		eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		o->name = tok;
		o->value = eq ? eq + 1 : NULL;
		o->def = &fs_opt;
		if (eq)
			continue;
		for (size_t i = 0; i < sizeof(optmap) / sizeof(optmap[0]); i++)
			if (!strcmp(optmap[i].name, tok))
				o->def = &optmap[i];
		/* ro and rw exclude each other in libmount's option list: the last wins */
		if (o->def->kind == OPT_RO) {
			size_t k = 0;

			for (size_t i = 0; i + 1 < nopts; i++)
				if (opts[i].def->kind != OPT_RO)
					opts[k++] = opts[i];
			opts[k++] = *o;
			nopts = k;
		}
	}
	return 0;
}

static bool has_opt(const char *name)
{
	for (size_t i = 0; i < nopts; i++)
		if (!strcmp(opts[i].name, name))
			return true;
	return false;
}

static bool is_recursive_bind(void)
{
	return has_opt("rbind") || has_opt("rec");
}

/* hook_mount.c configure_superblock(). */
static int configure_superblock(bool force_rwro)
{
	bool has_rwro = false;

	for (size_t i = 0; i < nopts; i++) {
		const struct opt *o = &opts[i];
		long rc;

		switch (o->def->kind) {
		case OPT_RO:
			has_rwro = true;
			/* fall through */
		case OPT_SB:
			rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_FLAG, o->name, NULL, 0);
			if (report("fsconfig", o->name, rc) < 0)
				return failed("fsconfig");
			break;
		case OPT_FS:
			if (o->value)
				rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_STRING, o->name,
				             o->value, 0);
			else
				rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_FLAG, o->name, NULL,
				             0);
			if (report("fsconfig", o->name, rc) < 0)
				return failed("fsconfig");
			break;
		default:
			break;
		}
	}
	if (force_rwro && !has_rwro) {
		long rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_FLAG, "rw", NULL, 0);
		if (report("fsconfig", "rw", rc) < 0)
			return failed("fsconfig");
	}
	return 0;
}

/* mnt_optlist_get_attrs(): the set and clear masks of one recursion class. */
static void get_attrs(bool rec, bool remount, uint64_t *set, uint64_t *clr)
{
	uint64_t reset = 0, atime = 0;

	*set = *clr = 0;
	if (remount && !has_opt("bind") && !rec)
		reset = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
		        MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NOSYMFOLLOW;
	for (size_t i = 0; i < nopts; i++) {
		const struct optdef *d = opts[i].def;
		uint64_t x = d->attr;
		bool is_atime;

		if ((d->kind != OPT_VFS && d->kind != OPT_RO) || d->recursive != rec)
			continue;
		reset &= ~x;
		is_atime = x == MOUNT_ATTR_RELATIME || x == MOUNT_ATTR_NOATIME ||
		           x == MOUNT_ATTR_STRICTATIME;
		if (d->invert) {
			*clr |= is_atime ? MOUNT_ATTR__ATIME : x;
		} else if (is_atime) {
			*clr |= MOUNT_ATTR__ATIME;
			atime = x;
		} else {
			*set |= x;
		}
	}
	*set |= atime;
	*clr |= reset;
}

/* hook_set_vfsflags(): mount_setattr, non-recursive then recursive. */
static int set_vfsflags(int tree, bool remount)
{
	for (int rec = 0; rec < 2; rec++) {
		struct mount_attr attr = {0};
		uint64_t set, clr;
		char detail[64];
		long rc;

		get_attrs(rec, remount, &set, &clr);
		attr.attr_set = set;
		attr.attr_clr = clr;
		if (!attr.attr_set && !attr.attr_clr)
			continue;
		snprintf(detail, sizeof(detail), "set=0x%llx,clr=0x%llx%s",
		         (unsigned long long)attr.attr_set, (unsigned long long)attr.attr_clr,
		         rec ? ",rec" : "");
		rc = syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0),
		             &attr, sizeof(attr));
		if (report("mount_setattr", detail, rc) < 0)
			return failed("mount_setattr");
	}
	return 0;
}

/* hook_set_propagation(): one mount_setattr per propagation option. */
static int set_propagation(int tree)
{
	for (size_t i = 0; i < nopts; i++) {
		const struct optdef *d = opts[i].def;
		struct mount_attr attr = {0};
		long rc;

		if (d->kind != OPT_PROP)
			continue;
		attr.propagation = d->attr;
		rc =
		    syscall(SYS_mount_setattr, tree, "",
		            AT_EMPTY_PATH | (d->recursive ? AT_RECURSIVE : 0), &attr, sizeof(attr));
		if (report("mount_setattr", d->name, rc) < 0)
			return failed("mount_setattr");
	}
	return 0;
}

/* hook_attach_target(). */
static int attach(int tree, const char *target)
{
	long rc;

	if (target_fd_mode) {
		int tfd = open(target, O_PATH | O_CLOEXEC | O_NOFOLLOW);

		if (report("open", target, tfd) < 0)
			return failed("open");
		rc = syscall(SYS_move_mount, tree, "", tfd, "",
		             MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
		report("move_mount", "t_empty_path", rc);
		close(tfd);
	} else {
		rc = syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
		report("move_mount", target, rc);
	}
	return rc < 0 ? failed("move_mount") : 0;
}

static int do_new(const char *type, const char *source, const char *target)
{
	long rc;
	int tree;

	fs_fd = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
	if (report("fsopen", type, fs_fd) < 0)
		return failed("fsopen");
	rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_SET_STRING, "source", source, 0);
	if (report("fsconfig", "source", rc) < 0)
		return failed("fsconfig");
	if (configure_superblock(false))
		return 1;
	rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	if (report("fsconfig", "create", rc) < 0)
		return failed("fsconfig");
	tree = (int)syscall(SYS_fsmount, fs_fd, FSMOUNT_CLOEXEC, 0);
	if (report("fsmount", NULL, tree) < 0)
		return failed("fsmount");
	if (set_vfsflags(tree, false) || attach(tree, target) || set_propagation(tree))
		return 1;
	return 0;
}

static int do_bind(const char *src, const char *target)
{
	unsigned flags =
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (is_recursive_bind() ? AT_RECURSIVE : 0);
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, flags);

	if (report("open_tree", is_recursive_bind() ? "clone,rec" : "clone", tree) < 0)
		return failed("open_tree");
	if (set_vfsflags(tree, false) || attach(tree, target) || set_propagation(tree))
		return 1;
	return 0;
}

static int do_remount(const char *target)
{
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, target, OPEN_TREE_CLOEXEC);
	long rc;

	if (report("open_tree", NULL, tree) < 0)
		return failed("open_tree");
	if (!has_opt("bind")) {
		fs_fd = (int)syscall(SYS_fspick, tree, "", FSPICK_EMPTY_PATH | FSPICK_NO_AUTOMOUNT);
		if (report("fspick", NULL, fs_fd) < 0)
			return failed("fspick");
		if (configure_superblock(true))
			return 1;
		rc = syscall(SYS_fsconfig, fs_fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0);
		if (report("fsconfig", "reconfigure", rc) < 0)
			return failed("fsconfig");
	}
	return set_vfsflags(tree, true);
}

static int do_propagation(const char *target)
{
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, target, OPEN_TREE_CLOEXEC);

	if (report("open_tree", NULL, tree) < 0)
		return failed("open_tree");
	return set_propagation(tree);
}

/* The quiet composefs-style modes (see the top of the file). */
static int composefs_fail(const char *step, int fsfd)
{
	char buf[1024];
	int err = errno;
	ssize_t n;

	printf("%s: %s (errno %d)\n", step, strerror(err), err);
	while (fsfd >= 0 && (n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		printf("log: %s\n", buf);
	}
	return 1;
}

static int do_composefs(const char *mode, int argc, char **argv)
{
	const char *type = argv[2], *source = argv[3], *target = argv[4];
	int fsfd, mfd;

	fsfd = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return composefs_fail("fsopen", -1);
	if (strcmp(source, "-") &&
	    syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
		return composefs_fail("fsconfig source", fsfd);
	for (int i = 5; i < argc; i++) {
		char key[256], *eq = strchr(argv[i], '=');
		long r;

		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - argv[i]) : (int)strlen(argv[i]),
		         argv[i]);
		r = eq ? syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0)
		       : syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
		if (r < 0) {
			char step[300];

			snprintf(step, sizeof(step), "fsconfig %s", argv[i]);
			return composefs_fail(step, fsfd);
		}
	}
	if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return composefs_fail("fsconfig create", fsfd);
	if (!strcmp(mode, "create")) {
		close(fsfd);
		printf("created\n");
		return 0;
	}
	mfd = (int)syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		return composefs_fail("fsmount", fsfd);
	close(fsfd);
	if (!strcmp(mode, "fsmount")) {
		close(mfd);
		printf("fsmounted\n");
		return 0;
	}
	if (syscall(SYS_move_mount, mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return composefs_fail("move_mount", -1);
	close(mfd);
	printf("mounted\n");
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
	        "usage: newmount_seq [-T] new TYPE SOURCE TARGET [OPTS]\n"
	        "       newmount_seq [-T] bind SRC TARGET [OPTS]\n"
	        "       newmount_seq remount TARGET OPTS\n"
	        "       newmount_seq propagation TARGET private|shared|slave|unbindable\n"
	        "       newmount_seq umount TARGET\n"
	        "       newmount_seq mount|create|fsmount TYPE SOURCE TARGET [OPTION...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *cmd;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "-T")) {
		target_fd_mode = true;
		argv++;
		argc--;
	}
	if (argc < 3)
		return usage();
	cmd = argv[1];
	if (!target_fd_mode && argc >= 5 &&
	    (!strcmp(cmd, "mount") || !strcmp(cmd, "create") || !strcmp(cmd, "fsmount")))
		return do_composefs(cmd, argc, argv);
	if (!strcmp(cmd, "new") && (argc == 5 || argc == 6)) {
		if (parse_opts(argc == 6 ? argv[5] : NULL) < 0)
			return usage();
		rc = do_new(argv[2], argv[3], argv[4]);
	} else if (!strcmp(cmd, "bind") && (argc == 4 || argc == 5)) {
		if (parse_opts(argc == 5 ? argv[4] : NULL) < 0)
			return usage();
		rc = do_bind(argv[2], argv[3]);
	} else if (!strcmp(cmd, "remount") && argc == 4) {
		if (parse_opts(argv[3]) < 0)
			return usage();
		rc = do_remount(argv[2]);
	} else if (!strcmp(cmd, "propagation") && argc == 4) {
		if (parse_opts(argv[3]) < 0 || nopts != 1 || opts[0].def->kind != OPT_PROP)
			return usage();
		rc = do_propagation(argv[2]);
	} else if (!strcmp(cmd, "umount") && argc == 3) {
		if (report("umount2", argv[2], umount2(argv[2], 0)) < 0)
			return failed("umount2");
		rc = 0;
	} else {
		return usage();
	}
	if (rc == 0)
		printf("result=ok\n");
	return rc;
}
