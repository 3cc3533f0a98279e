/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_lock.h"
#include "notifyd/inflight.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/ns_child.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/nsutil.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LOCK_TIMEOUT_MS 10000
#define STAGE           "/stage"
#define STAGE_FILE      "/stage-file" /* for a mount of a file (a virtiofs share's socket) */

/*
 * A mount namespace whose whole tree is one small tmpfs with an empty
 * directory /stage and an empty file /stage-file.  Each attach copies it twice (unshare), so its
 * cost does not grow with the host's mount table.  Made once, kept open.
 */
static pthread_once_t staging_once = PTHREAD_ONCE_INIT;
static int staging_ns = -EBADF;
static int staging_err;

enum {
	STEP_UNSHARE = 1,
	STEP_PRIVATE,
	STEP_TMPFS,
	STEP_PIVOT,
	STEP_NSFD,
	STEP_ENTER_STAGING,
	STEP_STAGE,
	STEP_USERNS,
	STEP_LOCK,
	STEP_CLONE,
	STEP_ENTER_TARGET,
	STEP_ATTACH,
};

static const char *const step_names[] = {
    [STEP_UNSHARE] = "unshare(CLONE_NEWNS)",
    [STEP_PRIVATE] = "making the staging namespace private",
    [STEP_TMPFS] = "creating the staging tmpfs",
    [STEP_PIVOT] = "pivot_root into the staging tmpfs",
    [STEP_NSFD] = "opening the staging namespace",
    [STEP_ENTER_STAGING] = "setns(staging mount namespace)",
    [STEP_STAGE] = "moving the mount onto the staging directory",
    [STEP_USERNS] = "setns(container user namespace)",
    [STEP_LOCK] = "unshare(CLONE_NEWNS) in the container's user namespace",
    [STEP_CLONE] = "open_tree(OPEN_TREE_CLONE) of the locked mount",
    [STEP_ENTER_TARGET] = "setns(container mount namespace)",
    [STEP_ATTACH] = "move_mount onto the target",
};

static const char *step_name(int step)
{
	if (step <= 0 || (size_t)step >= ARRAY_SIZE(step_names) || !step_names[step])
		return "helper";
	return step_names[step];
}

static __attribute__((noreturn)) void staging_child(void *arg, int sock)
{
	int nsfd, fsfd, mfd, fd;

	(void)arg;
	if (unshare(CLONE_NEWNS) < 0)
		ns_child_report(sock, errno, STEP_UNSHARE, 0, -1);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		ns_child_report(sock, errno, STEP_PRIVATE, 0, -1);
	nsfd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		ns_child_report(sock, errno, STEP_NSFD, 0, -1);
	fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		ns_child_report(sock, errno, STEP_TMPFS, 0, -1);
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC,
	              MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
	if (mfd < 0 || mkdirat(mfd, STAGE + 1, 0700) < 0)
		ns_child_report(sock, errno, STEP_TMPFS, 0, -1);
	fd = openat(mfd, STAGE_FILE + 1, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		ns_child_report(sock, errno, STEP_TMPFS, 0, -1);
	close(fd);
	/* Over "/", then make it the root and drop the host's tree underneath. */
	if (move_mount(mfd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 || fchdir(mfd) < 0 ||
	    syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
		ns_child_report(sock, errno, STEP_PIVOT, 0, -1);
	ns_child_report(sock, 0, 0, 0, nsfd);
}

static void staging_make(void)
{
	struct ns_child_msg m;
	int fd = -EBADF;
	int r = ns_child_run(-1, NS_CHILD_SHARE_MM, NULL, 0, staging_child, NULL, LOCK_TIMEOUT_MS,
	                     &m, &fd);

	if (r >= 0 && m.err)
		r = -m.err;
	else if (r >= 0 && fd < 0)
		r = -EIO;
	if (r < 0) {
		safe_close(fd);
		staging_err = r;
		return;
	}
	staging_ns = fd;
}

struct lock_args {
	int staging_ns, mnt_fd, userns_fd, mntns_fd, target_fd;
	struct inflight_slot *slot; /* the request's in-flight log entry, or NULL */
	bool crash;                 /* test hook: die before the attach */
	bool crash_kill;            /* ... killing notifyd (else it re-executes itself) */
	const char *stage;          /* STAGE, or STAGE_FILE for the mount of a file */
	bool clone_only;            /* hand the locked clone back instead of attaching it */
};

/* The recipe of the header comment; async-signal-safe. */
static __attribute__((noreturn)) void lock_child(void *arg, int sock)
{
	const struct lock_args *a = arg;
	struct statx stx;
	int tree;

	/* Acting for the request from here on: a successor stops us before it looks. */
	inflight_helper(a->slot, (pid_t)syscall(SYS_getpid));

	if (setns(a->staging_ns, CLONE_NEWNS) < 0)
		ns_child_report(sock, errno, STEP_ENTER_STAGING, 0, -1);
	if (unshare(CLONE_NEWNS) < 0)
		ns_child_report(sock, errno, STEP_UNSHARE, 0, -1);
	if (move_mount(a->mnt_fd, "", AT_FDCWD, a->stage, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		ns_child_report(sock, errno, STEP_STAGE, 0, -1);
	if (setns(a->userns_fd, CLONE_NEWUSER) < 0)
		ns_child_report(sock, errno, STEP_USERNS, 0, -1);
	/* The credential change may have reset the shared memory's dumpable flag
	 * to fs.suid_dumpable: never let the container's CAP_SYS_PTRACE in. */
	prctl(PR_SET_DUMPABLE, 0);
	/* The copy belongs to the container's user namespace: the kernel locks
	 * nodev, nosuid, noexec, ro and the atime flags of every mount in it. */
	if (unshare(CLONE_NEWNS) < 0)
		ns_child_report(sock, errno, STEP_LOCK, 0, -1);
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, a->stage, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (tree < 0)
		ns_child_report(sock, errno, STEP_CLONE, 0, -1);
	if (a->clone_only) {
		memset(&stx, 0, sizeof(stx));
		if (statx(tree, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) <
		    0)
			ns_child_report(sock, errno, STEP_CLONE, 0, -1);
		ns_child_report(sock, 0, 0, stx.stx_mnt_id, tree);
	}
	if (setns(a->mntns_fd, CLONE_NEWNS) < 0)
		ns_child_report(sock, errno, STEP_ENTER_TARGET, 0, -1);
	/*
	 * The clone's id before it is attached, into the request's slot of the
	 * in-flight log (shared memory: the one write this child makes outside
	 * its stack).  If notifyd dies now, its successor looks for it.
	 */
	memset(&stx, 0, sizeof(stx));
	if (statx(tree, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) < 0)
		stx.stx_mnt_id = 0;
	if (stx.stx_mnt_id)
		inflight_mark_slot(a->slot, INFLIGHT_MOUNT_ATTACHING, stx.stx_mnt_id, 0);
	if (a->crash) {
		/* Test hook: notifyd dies, and the detached clone with this child. */
		if (a->crash_kill)
			kill(inflight_crash_pid(), SIGKILL);
		_exit(1);
	}
	if (move_mount(tree, "", a->target_fd, "",
	               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		ns_child_report(sock, errno, STEP_ATTACH, 0, -1);
	if (stx.stx_mnt_id)
		inflight_mark_slot(a->slot, INFLIGHT_MOUNT_ATTACHED, stx.stx_mnt_id, 0);
	inflight_helper(a->slot, 0);
	ns_child_report(sock, 0, 0, stx.stx_mnt_id, -1);
}

/*
 * The caller's user namespace into *userns_fd: 1 when it is ours (nothing
 * to lock against), 0 when it is another, or -errno.
 */
static int open_caller_userns(int procfd, int *userns_fd)
{
	_cleanup_close_ int own = -EBADF;

	*userns_fd = ns_open_at(procfd, "user");
	if (*userns_fd < 0)
		return *userns_fd;
	own = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	if (own < 0)
		return -errno;
	return ns_same(*userns_fd, own);
}

/* The staging mount namespace, made at first use: 0, or -errno with *step. */
static int staging_ready(const char **step)
{
	pthread_once(&staging_once, staging_make);
	if (staging_ns >= 0)
		return 0;
	if (step)
		*step = "making the staging mount namespace";
	return staging_err ? staging_err : -EIO;
}

int mount_lock_attach(int mnt_fd, int procfd, int target_fd, uint64_t *mnt_id, const char **step)
{
	_cleanup_close_ int userns = -EBADF, mntns = -EBADF;
	struct ns_child_msg m;
	int r;

	if (step)
		*step = "helper";
	r = open_caller_userns(procfd, &userns);
	if (r < 0)
		return r;
	if (r == 1) {
		/* As privileged as we are: no lock to gain.  Attach in a worker's view. */
		r = kernel_mount_id(mnt_fd, mnt_id);
		if (r >= 0)
			r = view_enter(procfd, 0);
		if (r >= 0) {
			inflight_mark(INFLIGHT_MOUNT_ATTACHING, *mnt_id, 0);
			inflight_crash_point("before-attach");
			r = kernel_mount_attach(mnt_fd, target_fd);
			if (r >= 0)
				inflight_mark(INFLIGHT_MOUNT_ATTACHED, *mnt_id, 0);
			view_leave();
		}
		if (r >= 0)
			inflight_crash_point("after-attach");
		return r;
	}
	mntns = ns_open_at(procfd, "mnt");
	if (mntns < 0)
		return mntns;

	r = staging_ready(step);
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(mnt_fd, &st) < 0)
		return -errno;
	struct lock_args a = {
	    .stage = S_ISDIR(st.st_mode) ? STAGE : STAGE_FILE,
	    .staging_ns = staging_ns,
	    .mnt_fd = mnt_fd,
	    .userns_fd = userns,
	    .mntns_fd = mntns,
	    .target_fd = target_fd,
	    .slot = inflight_current(),
	    .crash = inflight_crash_point_child("before-attach"),
	};
	const int keep[] = {a.staging_ns, a.mnt_fd, a.userns_fd, a.mntns_fd, a.target_fd};
	a.crash_kill = a.crash && !inflight_crash_exec_mode();
	r = ns_child_run(-1, NS_CHILD_SHARE_MM, keep, ARRAY_SIZE(keep), lock_child, &a,
	                 LOCK_TIMEOUT_MS, &m, NULL);
	if (a.crash)
		inflight_crash_now();
	if (r < 0)
		return r;
	if (m.err) {
		if (step)
			*step = step_name(m.step);
		return -m.err;
	}
	*mnt_id = m.value;
	inflight_crash_point("after-attach");
	return 0;
}

int mount_lock_clone(int mnt_fd, int procfd, int *clone_fd, uint64_t *mnt_id, const char **step)
{
	_cleanup_close_ int userns = -EBADF, fd = -EBADF;
	struct ns_child_msg m;
	struct statx stx = {0};
	int r;

	if (step)
		*step = "helper";
	r = open_caller_userns(procfd, &userns);
	if (r < 0)
		return r;
	if (r == 1) {
		/* As privileged as we are: nothing to lock against. */
		fd = (int)syscall(SYS_open_tree, mnt_fd, "",
		                  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (fd < 0)
			return -errno;
		r = kernel_mount_id(fd, mnt_id);
		if (r < 0)
			return r;
		*clone_fd = TAKE_FD(fd);
		return 0;
	}
	r = staging_ready(step);
	if (r < 0)
		return r;
	/* A FUSE mount (the fuse action's) answers notifyd no attribute: EACCES.
	 * Its root is a directory (the mounter's rootmode=40000). */
	if (statx(mnt_fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &stx) < 0) {
		if (errno != EACCES)
			return -errno;
		stx.stx_mode = S_IFDIR;
	}
	struct lock_args a = {
	    .stage = S_ISDIR(stx.stx_mode) ? STAGE : STAGE_FILE,
	    .staging_ns = staging_ns,
	    .mnt_fd = mnt_fd,
	    .userns_fd = userns,
	    .mntns_fd = -EBADF,
	    .target_fd = -EBADF,
	    .clone_only = true,
	};
	const int keep[] = {a.staging_ns, a.mnt_fd, a.userns_fd};
	r = ns_child_run(-1, NS_CHILD_SHARE_MM, keep, ARRAY_SIZE(keep), lock_child, &a,
	                 LOCK_TIMEOUT_MS, &m, &fd);
	if (r < 0)
		return r;
	if (m.err) {
		if (step)
			*step = step_name(m.step);
		return -m.err;
	}
	if (fd < 0)
		return -EIO;
	*mnt_id = m.value;
	*clone_fd = TAKE_FD(fd);
	return 0;
}
