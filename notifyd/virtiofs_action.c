/* SPDX-License-Identifier: MIT */
/*
 * The `virtiofs` action, in a worker thread (docs/virtiofs.md):
 *
 *   1. checks: max-mounts, the caller's CAP_SYS_ADMIN, options against the
 *      profile (mount_check.c), each option turned into a vfsd argument
 *      (share_args()), max-shares;
 *   2. the source resolved as the caller sees it: a directory it may read,
 *      on a file system that stores files (check_source_fs()); writable
 *      only if the caller could write it and the options allow;
 *   3. the share: an open_tree(OPEN_TREE_CLONE) copy of the source taken
 *      in the caller's mount namespace, nosuid, nodev, idmapped into the
 *      caller's user namespace where the file system allows (vfsd then runs
 *      as host root over it, file handles possible), else served by a vfsd
 *      that runs as root of the caller's user namespace (share_clone());
 *   4. the listening socket, owned by the caller, bound nowhere on the host
 *      (share_socket());
 *   5. vfsd started in the caller's cgroup with only the capabilities the
 *      caller has (share_launch.c), its socket attached over the target
 *      with locked flags (mount_lock.c), recorded as the container's mount,
 *      and supervised through its pidfd (fuse_daemon.c): unmounting the
 *      target stops it, its death detaches the target.
 */
#include "notifyd/virtiofs_action.h"
#include "notifyd/inflight.h"
#include "notifyd/caller_cgroup.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/mount_check.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/mount_lock.h"
#include "notifyd/mount_options.h"
#include "notifyd/mount_record.h"
#include "notifyd/mount_resolve.h"
#include "notifyd/share_idmap.h"
#include "notifyd/share_launch.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/kernel_compat.h"
#include "common/log.h"
#include "common/nsutil.h"
#include "common/unix_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SHARE_SOCKET_DIR SHARE_RUN_DIR "/sockets"
#define SHARE_LAUNCH_MS  5000
#define SHARE_TYPE_NAME  "vhost-user-fs"
#define FH_DEFAULT       "never"
#define POOL_SIZE_MAX    64
#define SQUASH_ID_COUNT  "4294967295"

/* Option values vfsd takes, NULL-terminated. */
static const char *const cache_values[] = {"never", "auto", "always", "metadata", NULL};
static const char *const fh_values[] = {"never", "prefer", "mandatory", NULL};

/*
 * The options a container may give (if its profile allows them), each the
 * vfsd argument it becomes: a flag, or "--name=value" with value checked
 * against values (NULL: a number 0..POOL_SIZE_MAX).  The names are the
 * Rust virtiofsd's; "ro" is mount(8)'s.
 */
static const struct share_opt {
	const char *name;
	const char *arg;
	bool has_value;
	const char *const *values;
} share_opts[] = {
    {"ro", "--readonly", false, NULL},
    {"rw", NULL, false, NULL},
    {"cache", "--cache", true, cache_values},
    {"xattr", "--xattr", false, NULL},
    {"announce-submounts", "--announce-submounts", false, NULL},
    {"thread-pool-size", "--thread-pool-size", true, NULL},
    {"inode-file-handles", "--inode-file-handles", true, fh_values},
    {"writeback", "--writeback", false, NULL},
    {"allow-direct-io", "--allow-direct-io", false, NULL},
    {"no-readdirplus", "--no-readdirplus", false, NULL},
    {"killpriv-v2", "--killpriv-v2", false, NULL},
};

/* What share_args() learnt from the options. */
struct share_settings {
	bool ro;
	const char *file_handles; /* never|prefer|mandatory */
};

/* The file systems a share may serve: those that store files.  Never
 * procfs, sysfs, cgroupfs and the like, whose files act on the host for
 * whoever opens them (vfsd opens them as host root). */
static const unsigned long share_fs_magic[] = {
    EXT4_SUPER_MAGIC,      XFS_SUPER_MAGIC,          BTRFS_SUPER_MAGIC,    TMPFS_MAGIC,
    OVERLAYFS_SUPER_MAGIC, SQUASHFS_MAGIC,           EROFS_SUPER_MAGIC_V1, F2FS_SUPER_MAGIC,
    MSDOS_SUPER_MAGIC,     0x2011BAB0UL /* exfat */, NFS_SUPER_MAGIC,
};

/* The capabilities vfsd keeps (vfsd_drop_caps()), by vfsd's --modcaps names. */
static const struct {
	int cap;
	const char *name;
} share_caps[] = {
    {CAP_CHOWN, "chown"},   {CAP_DAC_OVERRIDE, "dac_override"},
    {CAP_FOWNER, "fowner"}, {CAP_FSETID, "fsetid"},
    {CAP_SETGID, "setgid"}, {CAP_SETUID, "setuid"},
    {CAP_MKNOD, "mknod"},   {CAP_SETFCAP, "setfcap"},
};

static pthread_once_t vfsd_once = PTHREAD_ONCE_INIT;
static char vfsd_path[PATH_MAX];
static atomic_uint share_seq;

/* vfsd: $MOUNTVISOR_VFSD, else the vfsd next to notifyd (make install puts both in bin/). */
static void find_vfsd(void)
{
	const char *env = getenv("MOUNTVISOR_VFSD");
	char self[PATH_MAX];
	ssize_t n;

	if (env && env[0] == '/') {
		snprintf(vfsd_path, sizeof(vfsd_path), "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return;
	self[n] = '\0';
	snprintf(vfsd_path, sizeof(vfsd_path), "%s/vfsd", dirname(self));
}

static bool is_number(const char *v, unsigned max)
{
	unsigned long n;
	char *end;

	if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 4)
		return false;
	n = strtoul(v, &end, 10);
	return n <= max;
}

/* Each option as its vfsd argument.  0, or -errno with the refusal in *d. */
static int share_args(const struct mount_opts *opts, struct share_plan *pl,
                      struct share_settings *set, struct decision *d)
{
	for (size_t i = 0; i < opts->n; i++) {
		const char *o = opts->v[i], *eq = strchr(o, '=');
		size_t klen = eq ? (size_t)(eq - o) : strlen(o);
		const struct share_opt *so = NULL;

		for (size_t j = 0; j < ARRAY_SIZE(share_opts); j++)
			if (strlen(share_opts[j].name) == klen &&
			    !strncmp(o, share_opts[j].name, klen))
				so = &share_opts[j];
		if (!so)
			return decision_fail(d, EINVAL,
			                     "option '%s' is not a virtiofs share option", o);
		if (so->has_value != (eq != NULL))
			return decision_fail(d, EINVAL, "option '%s' %s a value", o,
			                     so->has_value ? "needs" : "takes no");
		if (so->has_value) {
			bool ok = !so->values && is_number(eq + 1, POOL_SIZE_MAX);
			for (size_t k = 0; so->values && so->values[k]; k++)
				ok |= !strcmp(eq + 1, so->values[k]);
			if (!ok)
				return decision_fail(d, EINVAL, "option '%s': bad value", o);
		}
		if (!strcmp(so->name, "ro"))
			set->ro = true;
		else if (!strcmp(so->name, "rw"))
			set->ro = false;
		else if (!strcmp(so->name, "inode-file-handles"))
			set->file_handles = eq + 1;
		if (!so->arg || !strcmp(so->name, "ro") || !strcmp(so->name, "inode-file-handles"))
			continue; /* decided once all options are seen */
		if ((so->has_value ? share_plan_arg(pl, "%s=%s", so->arg, eq + 1)
		                   : share_plan_arg(pl, "%s", so->arg)) < 0)
			return decision_fail(d, E2BIG, "too many options");
	}
	return 0;
}

/* Does the source's file system store files (share_fs_magic)?  0, or -EPERM in *d. */
static int check_source_fs(const struct request *rq, int source_fd, struct decision *d)
{
	struct statfs sfs;

	if (fstatfs(source_fd, &sfs) < 0)
		return decision_fail(d, errno, "source %s: %s", rq->source, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(share_fs_magic); i++)
		if ((unsigned long)sfs.f_type == share_fs_magic[i])
			return 0;
	return decision_fail(d, EPERM,
	                     "source %s is on a file system that is never shared (type 0x%lx: "
	                     "only file systems that store files are)",
	                     rq->source, (unsigned long)sfs.f_type);
}

/* Every mount of the detached tree fd private: no propagation in or out. */
static int share_make_private(int fd)
{
	struct mount_attr a = {.propagation = MS_PRIVATE};

	if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

/*
 * The share: a detached copy of the source with every mount below it (as
 * `mount --rbind`: a copy without them would show what the container's
 * mounts cover, which the kernel refuses to reveal to the container
 * itself), taken in the caller's mount namespace (open_tree() copies only
 * from the current one), nosuid, nodev, read-only if asked, and -- when the
 * caller has a user namespace of its own (userns_fd >= 0) -- idmapped so
 * that host-root vfsd sees the files as the caller does (share_idmap.c).
 * *idmapped says whether that worked.  Where some mount of the copy refuses
 * (a file system that cannot be idmapped: procfs, sysfs, cgroupfs, devpts
 * the container mounted below the source, or a mount that is idmapped
 * already), the copy stays unmapped and vfsd runs as root of the caller's
 * user namespace instead: the kernel then checks every access as it would
 * for the container, and maps its ids the same way.  Returns the mount fd,
 * or -errno with the refusal in *d.
 */
static int share_clone(struct request *rq, int source_fd, bool ro, int userns_fd, bool *idmapped,
                       struct decision *d)
{
	_cleanup_close_ int inverse = -EBADF;
	_cleanup_close_ int tree = -EBADF;
	struct mount_attr a = {
	    .attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (ro ? MOUNT_ATTR_RDONLY : 0),
	};
	int r;

	r = view_enter(rq->t.procfd, 0);
	if (r < 0)
		return decision_fail(d, -r, "cannot enter the caller's mount namespace: %s",
		                     strerror(-r));
	tree = (int)syscall(SYS_open_tree, source_fd, "",
	                    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	r = tree < 0 ? -errno : 0;
	view_leave();
	if (r < 0)
		return decision_fail(d, -r, "copying %s: %s", rq->source, strerror(-r));
	/*
	 * A copy of a shared mount joins its peer group: what the container
	 * mounted below the source later (a procfs, after the idmapping was
	 * decided) would appear in vfsd's view.  Cut it off first; the mounts
	 * checked below are then all the copy will ever have.
	 */
	r = share_make_private(tree);
	if (r < 0)
		return decision_fail(d, -r, "making the copy of %s private: %s", rq->source,
		                     strerror(-r));
	*idmapped = false;
	if (userns_fd >= 0) {
		struct mount_attr ai = a;

		inverse = share_idmap_userns(rq->t.procfd);
		if (inverse < 0)
			return decision_fail(
			    d, -inverse, "cannot make the share's idmapping from the caller's: %s",
			    strerror(-inverse));
		ai.attr_set |= MOUNT_ATTR_IDMAP;
		ai.userns_fd = (uint64_t)inverse;
		if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &ai, sizeof(ai)) == 0) {
			*idmapped = true;
			return TAKE_FD(tree);
		}
		log_debug("%s: %s cannot be idmapped (%m); vfsd runs in the container's user "
		          "namespace",
		          rq->c->id, rq->source);
	}
	if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
		return decision_fail(d, errno, "setting nosuid,nodev on the copy of %s: %s",
		                     rq->source, strerror(errno));
	return TAKE_FD(tree);
}

/*
 * The listening vhost-user socket, 0600 and owned by the caller (the VMM
 * runs as it; the container's root may chown it to another of its users),
 * and a detached mount of its file to bind over the target.  The caller
 * unlinks path once the mount is attached (the kernel refuses to attach a
 * mount whose root was unlinked): from then on only the mount leads to it.
 * Returns 0, or -errno with the refusal in *d.
 */
static int share_socket(const struct proc_creds *cr, char path[108], int *ret_sock, int *ret_mnt,
                        struct decision *d)
{
	struct unix_listener_opts lo = {
	    .type = SOCK_STREAM, .mode = 0600, .uid = cr->fsuid, .gid = cr->fsgid, .backlog = 16};
	struct mount_attr a = {.attr_set =
	                           MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC};
	_cleanup_close_ int sock = -EBADF, mnt = -EBADF;
	int r;

	/*
	 * The sockets' directory is root's alone: until the mount is attached a
	 * socket has a host path, and only root may reach it there (whoever
	 * connects first is the share's front-end).  The empty directory vfsd
	 * finds the share on must be reachable by a vfsd that runs as root of
	 * a container's user namespace, so SHARE_RUN_DIR is searchable.
	 */
	if ((mkdir(SHARE_RUN_DIR, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(SHARE_SOCKET_DIR, 0700) < 0 && errno != EEXIST) ||
	    chmod(SHARE_SOCKET_DIR, 0700) < 0 ||
	    (mkdir(SHARE_STAGE_DIR, 0700) < 0 && errno != EEXIST))
		return decision_fail(d, errno, "creating the directories under %s: %s",
		                     SHARE_RUN_DIR, strerror(errno));
	snprintf(path, 108, SHARE_SOCKET_DIR "/vfsd-%d-%u.sock", (int)getpid(),
	         atomic_fetch_add(&share_seq, 1));
	sock = unix_listener_open(path, &lo, NULL);
	if (sock < 0) {
		path[0] = '\0';
		return decision_fail(d, -sock, "creating the share's socket: %s", strerror(-sock));
	}
	mnt = (int)syscall(SYS_open_tree, AT_FDCWD, path,
	                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	r = mnt < 0 ? -errno : share_make_private(mnt);
	if (r < 0)
		return decision_fail(d, -r, "copying the share's socket: %s", strerror(-r));
	if (mount_setattr(mnt, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
		return decision_fail(d, errno, "setting the socket mount's flags: %s",
		                     strerror(errno));
	*ret_sock = TAKE_FD(sock);
	*ret_mnt = TAKE_FD(mnt);
	return 0;
}

/*
 * vfsd's capabilities: of the file-operation set it keeps, only those the
 * caller has (in its own user namespace); CAP_MKNOD only when the rule
 * allows device nodes; file handles (CAP_DAC_READ_SEARCH in vfsd) only for
 * a caller that may read what it likes anyway.  0, or -errno in *d.
 */
static int share_caps_args(const struct profile_fs *fs, const struct proc_creds *cr,
                           const char *file_handles, struct share_plan *pl, struct decision *d)
{
	char mods[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_SIZE(share_caps); i++) {
		bool keep = cr->cap_eff & (1ULL << share_caps[i].cap);

		if (share_caps[i].cap == CAP_MKNOD && !fs->devices)
			keep = false;
		if (!keep)
			len += (size_t)snprintf(mods + len, sizeof(mods) - len, "%s-%s",
			                        len ? ":" : "", share_caps[i].name);
	}
	if (strcmp(file_handles, "never") &&
	    !(cr->cap_eff & ((1ULL << CAP_DAC_READ_SEARCH) | (1ULL << CAP_DAC_OVERRIDE))))
		return decision_fail(
		    d, EPERM,
		    "inode-file-handles=%s needs a caller with CAP_DAC_READ_SEARCH "
		    "or CAP_DAC_OVERRIDE",
		    file_handles);
	if ((len && share_plan_arg(pl, "--modcaps=%s", mods) < 0) ||
	    share_plan_arg(pl, "--inode-file-handles=%s", file_handles) < 0)
		return decision_fail(d, E2BIG, "too many options");
	return 0;
}

/* The fixed part of vfsd's command line. */
static int share_base_args(const struct profile_fs *fs, struct share_plan *pl)
{
	int r = share_plan_arg(pl, "vfsd");

	if (r >= 0)
		r = share_plan_arg(pl, "--fd=%d", SFD_SOCK);
	if (r >= 0)
		r = share_plan_arg(pl, "--shared-dir=%s", SHARE_STAGE_DIR);
	if (r >= 0)
		r = share_plan_arg(pl, "--sandbox=namespace");
		/* A sanitizer build's vfsd makes system calls of its own: log them instead of
		 * dying. */
#if defined(__SANITIZE_ADDRESS__)
	if (r >= 0)
		r = share_plan_arg(pl, "--seccomp=log");
#endif
	if (r >= 0)
		r = share_plan_arg(pl, "--log-level=info");
	if (r >= 0 && fs->squash)
		r = share_plan_arg(pl, "--translate-uid=squash-guest:0:%u:" SQUASH_ID_COUNT,
		                   fs->squash_uid);
	if (r >= 0 && fs->squash)
		r = share_plan_arg(pl, "--translate-gid=squash-guest:0:%u:" SQUASH_ID_COUNT,
		                   fs->squash_gid);
	return r;
}

/* What the share runs with: namespaces, cgroup, stdio.  0, or -errno in *d. */
static int share_caller(struct request *rq, struct share_plan *pl, int *err_r, struct decision *d)
{
	const char *why = "";
	int p[2], r;

	r = caller_cgroup_open(rq->t.procfd, &pl->cgroup_dir, &pl->v1_procs, &why);
	if (r < 0)
		return decision_fail(d, EPERM, "cannot place vfsd in the caller's cgroup: %s", why);
	pl->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (pl->devnull < 0 || pipe2(p, O_CLOEXEC) < 0)
		return decision_fail(d, errno, "%s", strerror(errno));
	pl->err_w = p[1];
	*err_r = p[0];
	/* The supervisor reads what vfsd writes without ever blocking. */
	if (fcntl(*err_r, F_SETFL, O_NONBLOCK) < 0)
		return decision_fail(d, errno, "%s", strerror(errno));
	pthread_once(&vfsd_once, find_vfsd);
	pl->exec = vfsd_path[0] ? open(vfsd_path, O_PATH | O_CLOEXEC) : -ENOENT;
	if (pl->exec < 0)
		return decision_fail(d, EOPNOTSUPP,
		                     "vfsd not found (%s; set MOUNTVISOR_VFSD or install it next "
		                     "to notifyd)",
		                     vfsd_path[0] ? vfsd_path : "no path");
	return 0;
}

/* The caller's user namespace, or -EBADF when it is notifyd's own (nothing to map into). */
static int caller_userns(struct request *rq, struct decision *d)
{
	_cleanup_close_ int own = -EBADF, userns = -EBADF;
	int r;

	userns = ns_open_at(rq->t.procfd, "user");
	own = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	if (userns < 0 || own < 0)
		return decision_fail(d, ESRCH, "the caller's user namespace is gone");
	r = ns_same(userns, own);
	if (r < 0)
		return decision_fail(d, -r, "comparing user namespaces: %s", strerror(-r));
	return r == 1 ? -EBADF : TAKE_FD(userns);
}

/* Stop a vfsd that never served (its share could not be attached). */
static void share_abort(int pidfd)
{
	siginfo_t si;

	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
}

/* Attach the socket over the target, record it, supervise vfsd.  0, or -errno in *d. */
static int share_attach(struct request *rq, struct fuse_daemon_info *info, int sock_mnt,
                        int target_fd, struct decision *d)
{
	_cleanup_close_ int nsfd = -EBADF;
	const char *step = "";
	uint64_t ns_id = 0;
	int r;

	if (target_valid(&rq->t) < 0)
		return decision_fail(
		    d, ENOENT, "caller gave up before the share at %s was attached", rq->target);
	r = mount_lock_attach(sock_mnt, rq->t.procfd, target_fd, &info->mnt_id, &step);
	if (r < 0)
		return decision_fail(d, -r, "attaching the socket at %s: %s: %s", rq->target, step,
		                     strerror(-r));
	nsfd = ns_open_at(rq->t.procfd, "mnt");
	if (nsfd < 0 || mount_record_ns_id(nsfd, &ns_id) < 0 ||
	    mount_record_old_id(info->mnt_id, ns_id, &info->mnt_id_old) < 0)
		info->mnt_id_old = 0;
	r = mount_record_add(rq->c, info->mnt_id, info->mnt_id_old, SHARE_TYPE_NAME, rq->source,
	                     rq->target);
	if (r < 0) {
		char tbuf[PATH_MAX];
		log_warn("%s: share at %s made but not recorded: %s", rq->c->id,
		         log_printable(rq->target, tbuf, sizeof(tbuf)), strerror(-r));
	}
	info->mntns_fd = TAKE_FD(nsfd);
	return 0;
}

void virtiofs_action_mount(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                           struct decision *d)
{
	_cleanup_close_ int target_fd = -EBADF, source_fd = -EBADF, userns_fd = -EBADF,
	                    sock_mnt = -EBADF, pidfd = -EBADF, err_r = -EBADF;
	_cleanup_free_ char *optstr = NULL;
	char sock_path[108] = "";
	struct share_settings set = {.file_handles = FH_DEFAULT};
	struct mount_opts opts = {0};
	struct share_plan pl;
	struct mount_flags mf;
	struct proc_creds cr;
	bool reserved = false, idmapped = false, ro_forced = false;
	const char *what = "";
	pid_t pid = 0;
	int r;

	share_plan_init(&pl);
	d->action = DECISION_VIRTIOFS;
	if (mount_check_prepare(rq, p, fs, &mf, &opts, &cr, d) < 0)
		goto out;
	set.ro = mf.sb_ro || (mf.attr & MOUNT_ATTR_RDONLY);
	if (share_base_args(fs, &pl) < 0 || share_args(&opts, &pl, &set, d) < 0)
		goto out;
	if (mount_opts_join(&opts, &optstr) < 0) {
		decision_fail(d, ENOMEM, "out of memory");
		goto out;
	}
	/* Shares whose socket went by other means (a lazy umount of a parent,
	 * left to the kernel) must not hold a slot: drop their records, stop
	 * their vfsd (the reservation waits up to 2 s for one to exit). */
	if (target_open_proc(&rq->t) >= 0 && mount_record_prune_at(rq->c, rq->t.procfd) > 0)
		fuse_daemon_stop_unmounted(rq->c);
	r = fuse_daemon_reserve(rq->c, FUSE_DAEMON_VFSD, p->max_shares);
	if (r < 0) {
		decision_fail(d, -r, "container has max-shares = %u shares", p->max_shares);
		goto out;
	}
	reserved = true;
	if (mount_resolve_paths(rq, MOUNT_SOURCE_DIR, false, &cr, &target_fd, &source_fd, d) < 0 ||
	    check_source_fs(rq, source_fd, d) < 0)
		goto out;
	/* Written to only as far as the caller could write it itself. */
	if (!set.ro && mount_resolve_may_access(rq, source_fd, &cr, true) < 0)
		set.ro = ro_forced = true;
	userns_fd = caller_userns(rq, d);
	if (userns_fd < 0 && userns_fd != -EBADF)
		goto out;
	if (share_caller(rq, &pl, &err_r, d) < 0)
		goto out;
	pl.tree = share_clone(rq, source_fd, set.ro, userns_fd, &idmapped, d);
	if (pl.tree < 0)
		goto out;
	if (userns_fd >= 0 && !idmapped) {
		/* vfsd runs as root of the caller's user namespace: no file handles there. */
		if (!strcmp(set.file_handles, "mandatory")) {
			decision_fail(
			    d, EOPNOTSUPP,
			    "inode-file-handles=mandatory needs an idmapped share, and %s "
			    "cannot be idmapped",
			    rq->source);
			goto out;
		}
		set.file_handles = "never";
		pl.userns = TAKE_FD(userns_fd);
	}
	if ((set.ro && share_plan_arg(&pl, "--readonly") < 0) ||
	    share_caps_args(fs, &cr, set.file_handles, &pl, d) < 0)
		goto out;
	if (share_socket(&cr, sock_path, &pl.sock, &sock_mnt, d) < 0)
		goto out;

	r = share_launch(&pl, SHARE_LAUNCH_MS, &pidfd, &pid, &what);
	if (r < 0) {
		decision_fail(d, -r == ENOENT ? EOPNOTSUPP : -r, "starting vfsd: %s: %s", what,
		              strerror(-r));
		goto out;
	}
	/* In the in-flight log: a successor kills it unless its socket got attached. */
	inflight_mark_daemon(pid);
	inflight_crash_point("after-daemon-start");
	struct fuse_daemon_info info = {
	    .kind = FUSE_DAEMON_VFSD,
	    .pidfd = -EBADF,
	    .stderr_fd = -EBADF,
	    .mntns_fd = -EBADF,
	    .pid = pid,
	    .program = "vfsd",
	    .target = rq->target,
	    .source = rq->source,
	    .options = optstr,
	};
	if (share_attach(rq, &info, sock_mnt, target_fd, d) < 0) {
		share_abort(pidfd);
		goto out;
	}
	info.pidfd = TAKE_FD(pidfd);
	info.stderr_fd = TAKE_FD(err_r);
	reserved = false; /* fuse_daemon_add owns the reservation now, even on failure */
	r = fuse_daemon_add(rq->c, &info);
	if (r < 0 && info.pidfd >= 0) /* not taken: nobody would ever stop it */
		share_abort(info.pidfd);
	if (r < 0)
		log_warn("%s: vfsd pid=%d for %s could not be supervised and was stopped: %s",
		         rq->c->id, (int)pid, rq->target, strerror(-r));
	safe_close(info.pidfd);
	safe_close(info.stderr_fd);
	safe_close(info.mntns_fd);
	decision_ok(d, 0);
	decision_why(d, "vfsd pid=%d mnt_id=%llu ids=%s%s%s%s", (int)pid,
	             (unsigned long long)info.mnt_id,
	             idmapped         ? "idmapped"
	             : pl.userns >= 0 ? "userns"
	                              : "host",
	             fs->squash ? " squash" : "", set.ro ? " ro" : "",
	             ro_forced ? " (the caller may not write the source)" : "");
out:
	if (sock_path[0])
		unlink(sock_path);
	if (reserved)
		fuse_daemon_unreserve(rq->c, FUSE_DAEMON_VFSD);
	share_plan_close(&pl);
	mount_opts_free(&opts);
}
