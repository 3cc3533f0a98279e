/* SPDX-License-Identifier: MIT */
/*
 * The forked children of a FUSE start-up (fuse_children.h, docs/fuse.md):
 * the mounter (a fork() of notifyd) and the FUSE daemon (clone3() of the
 * mounter, which execs the program).
 *
 * notifyd is multi-threaded.  After fork() only the forking thread exists in
 * the child, and any lock another thread held at that moment (malloc's
 * arenas, stdio's FILE locks, the locale, the logger's mutex, libseccomp's
 * and libcap-ng's allocations) stays held for ever.  So until execve() or
 * _exit() these children run only async-signal-safe code (signal-safety(7)):
 * every string, number and buffer they need is prepared by the worker in
 * struct fuse_plan (fuse_action.c, fuse_plan.c, fuse_confine_prepare()),
 * including the seccomp program as a ready struct sock_fprog and the
 * capability sets as raw masks.  Calls used here and in
 * fuse_confine_shim()/fuse_confine_apply(), and why each is safe:
 *
 *   - system calls through their thin glibc wrappers, listed as
 *     async-signal-safe in signal-safety(7): open, openat, close, read,
 *     write, dup2, dup3, fcntl(F_DUPFD_CLOEXEC), fchdir, chroot, mount,
 *     sendmsg (fd_send_with_fds: stack buffers and memcpy only), fstat,
 *     stat, fstatfs, statx, sigaction, _exit; unshare, setns, prctl,
 *     sendfile: single-system-call wrappers that touch no lock or heap;
 *   - syscall(2) for calls glibc wraps with process-wide bookkeeping or does
 *     not wrap: clone3, close_range, execveat, seccomp, capset, open_tree,
 *     and setgroups/setresuid/setresgid (glibc's wrappers broadcast to all
 *     threads through a lock; the raw call changes the one thread there is);
 *     fsopen, fsconfig, fsmount, move_mount, mount_setattr
 *     (common/kernel_compat.h: inline syscall(2) wrappers);
 *   - memset, memcpy and our own fuse_children_utoa()/fuse_children_strlcpy()
 *     below: no locale, no allocation (no snprintf, strerror, dprintf).
 *
 * Error texts are fixed strings from the plan or this file; an errno is
 * sent as a number (MSG_FAILED) or written in decimal (the daemon's stderr).
 */
#include "notifyd/fuse_children.h"
#include "notifyd/inflight.h"
#include "notifyd/ns_child.h"
#include "notifyd/fuse_confine.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

size_t fuse_children_utoa(uint64_t v, char *buf, size_t size)
{
	char tmp[21];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(tmp));
	if (size == 0)
		return 0;
	if (n >= size)
		n = size - 1;
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

size_t fuse_children_strlcpy(char *dst, const char *src, size_t size)
{
	size_t i = 0;

	if (size == 0)
		return 0;
	for (; src[i] && i + 1 < size; i++)
		dst[i] = src[i];
	dst[i] = '\0';
	return i;
}

static void child_send(int ctl, int kind, int err, const char *text, int fd)
{
	struct mounter_msg m;

	memset(&m, 0, sizeof(m));
	m.kind = kind;
	m.err = err;
	if (text)
		fuse_children_strlcpy(m.text, text, sizeof(m.text));
	if (fd >= 0)
		fd_send_with_fds(ctl, &m, sizeof(m), &fd, 1);
	else
		(void)!write(ctl, &m, sizeof(m));
}

static __attribute__((noreturn)) void child_fail(int ctl, int err, const char *what)
{
	child_send(ctl, MSG_FAILED, err, what, -1);
	_exit(1);
}

/* Move fd to a number >= 100 (CLOEXEC) so the final dup2()s cannot collide. */
static int park(int fd)
{
	return fd < 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 100);
}

/* One line on fd: a, b, ": errno N" (when err), newline; one write(). */
static void say(int fd, const char *a, const char *b, int err)
{
	char line[512];
	size_t n = 0;

	n += fuse_children_strlcpy(line + n, a, sizeof(line) - n);
	n += fuse_children_strlcpy(line + n, b, sizeof(line) - n);
	if (err > 0) {
		n += fuse_children_strlcpy(line + n, ": errno ", sizeof(line) - n);
		n += fuse_children_utoa((unsigned)err, line + n, sizeof(line) - n);
	}
	if (n + 1 < sizeof(line))
		line[n++] = '\n';
	(void)!write(fd, line, n);
}

/* The daemon could not be confined: say why, exit with FUSE_CONFINE_EXIT (EPERM). */
static __attribute__((noreturn)) void confine_fail(int errw, const char *what, int err)
{
	say(errw, "mountvisor: confining the program failed: ", what, err);
	_exit(FUSE_CONFINE_EXIT);
}

/*
 * The daemon's final fd table: 0 /dev/null, 1-2 the pipe, 3 the image, 4
 * the connection, 6 the program and 7 the stand-in (both close-on-exec),
 * nothing else - in particular none of notifyd's fds (the mounter is a fork
 * of notifyd), before anything follows a path the container chose.  Returns
 * whether the stand-in is at DFD_SHIM.
 */
static bool daemon_fds(const struct fuse_plan *pl, int fusefd)
{
	int img = park(pl->image), fuse = park(fusefd), shim = park(pl->shim),
	    prog = park(pl->prog), nul = park(pl->devnull), errw = park(pl->err_w);

	if (dup2(nul, 0) < 0 || dup2(errw, 1) < 0 || dup2(errw, 2) < 0 ||
	    (img >= 0 && dup2(img, DFD_IMAGE) < 0) || dup2(fuse, DFD_FUSE) < 0 ||
	    dup3(prog, DFD_EXEC, O_CLOEXEC) < 0 ||
	    (shim >= 0 && dup3(shim, DFD_SHIM, O_CLOEXEC) < 0))
		_exit(126);
	syscall(SYS_close_range, DFD_SHIM + 1, ~0U, 0);
	close(5);
	if (img < 0)
		close(DFD_IMAGE);
	if (shim < 0)
		close(DFD_SHIM);
	return shim >= 0;
}

static __attribute__((noreturn)) void daemon_child(const struct fuse_plan *pl, int fusefd)
{
	bool has_shim = daemon_fds(pl, fusefd);
	const int errw = 2;
	const char *what = "";
	int r;

	/* A view of its own: the FUSE mount never appears in it (no deadlock on a
	 * stat() of the mountpoint), and the stand-in can be placed in it. */
	if (unshare(CLONE_NEWNS) < 0)
		confine_fail(errw, "unshare(CLONE_NEWNS)", errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		confine_fail(errw, "making its mount namespace private", errno);
	if (pl->fusermount) {
		struct sigaction sa;

		r = has_shim ? fuse_confine_shim(DFD_SHIM, pl->mountpoint, &what) : -EBADF;
		if (r < 0)
			confine_fail(errw, what, -r);
		/* libfuse2 never reaps the fusermount it ran with auto_unmount. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGCHLD, &sa, NULL);
	}
	close(DFD_SHIM);
	r = fuse_confine_apply(&pl->confine, pl->uid, pl->gid, pl->groups, pl->n_groups, &what);
	if (r < 0)
		confine_fail(errw, what, -r);
	syscall(SYS_execveat, DFD_EXEC, "", pl->argv, pl->envp, AT_EMPTY_PATH);
	say(2, "mountvisor: cannot execute ", pl->argv[0], errno);
	_exit(127);
}

/*
 * The daemon's other namespaces, joined while still host root (they may be
 * owned by an ancestor of the container's user namespace, e.g. a cgroup
 * namespace it did not unshare); pid applies to the child cloned later.
 */
static void mounter_join_others(const struct fuse_plan *pl)
{
	int ctl = pl->ctl;

	if (setns(pl->pidns, CLONE_NEWPID) < 0)
		child_fail(ctl, errno, "setns(pid)");
	if ((pl->ipcns >= 0 && setns(pl->ipcns, CLONE_NEWIPC) < 0) ||
	    (pl->utsns >= 0 && setns(pl->utsns, CLONE_NEWUTS) < 0) ||
	    (pl->netns >= 0 && setns(pl->netns, CLONE_NEWNET) < 0) ||
	    (pl->cgroupns >= 0 && setns(pl->cgroupns, CLONE_NEWCGROUP) < 0))
		child_fail(ctl, errno, "setns(ipc/uts/net/cgroup)");
}

/*
 * The mounter's way into the container: the daemon's namespaces (joined
 * while still host root), /dev/fuse, the caller's cgroup, root of the
 * user namespace, the mount namespace, root and cwd.  Returns the /dev/fuse
 * fd; reports and exits on failure.
 */
static int mounter_enter(const struct fuse_plan *pl)
{
	int ctl = pl->ctl, fusefd;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Host root's supplementary groups must not follow us into the container. */
	if (syscall(SYS_setgroups, 0, NULL) < 0)
		child_fail(ctl, errno, "dropping notifyd's supplementary groups");
	mounter_join_others(pl);
	if (setns(pl->userns, CLONE_NEWUSER) < 0)
		child_fail(ctl, errno, "setns(user)");
	/*
	 * Opened in the container's user namespace (FUSE wants the device's opener
	 * and the mount to share it) but still with host uid 0, so a 0600 host
	 * node opens.  The host's node: the container needs none.
	 */
	fusefd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fusefd < 0)
		child_fail(ctl, errno, "open /dev/fuse");
	/* Into the caller's cgroup (the daemon inherits it); only now, as its
	 * device policy would refuse /dev/fuse.  The write is checked with the
	 * credentials and cgroup namespace of notifyd, which opened the file. */
	if (pl->cgroup_procs >= 0 && write(pl->cgroup_procs, "0", 1) != 1)
		child_fail(ctl, EPERM, "confining the program: joining the caller's cgroup");
	if (syscall(SYS_setresgid, 0, 0, 0) < 0 || syscall(SYS_setresuid, 0, 0, 0) < 0)
		child_fail(ctl, errno, "becoming root of the container's user namespace");
	if (setns(pl->mntns, CLONE_NEWNS) < 0)
		child_fail(ctl, errno, "setns(mnt)");
	if (fchdir(pl->root) < 0 || chroot(".") < 0 || fchdir(pl->cwd) < 0)
		child_fail(ctl, errno, "entering the caller's root");
	return fusefd;
}

/* The FUSE superblock on fusefd, mounted detached.  Returns the mount fd; exits on failure. */
static int mounter_fsmount(const struct fuse_plan *pl, int fusefd)
{
	int ctl = pl->ctl, fsfd, mntfd;
	char num[24];

	fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		child_fail(ctl, errno, "fsopen(fuse)");
	fuse_children_utoa((unsigned)fusefd, num, sizeof(num));
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", pl->source, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "subtype", pl->subtype, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "fd", num, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "rootmode", "40000", 0) < 0)
		child_fail(ctl, errno, "fsconfig");
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "user_id", pl->uid_str, 0) < 0)
		child_fail(ctl, errno, "fsconfig user_id");
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "group_id", pl->gid_str, 0) < 0)
		child_fail(ctl, errno, "fsconfig group_id");
	for (int i = 0; i < pl->n_fsopts; i++) {
		const struct fuse_fsopt *o = &pl->fsopts[i];
		if ((o->flag ? fsconfig(fsfd, FSCONFIG_SET_FLAG, o->key, NULL, 0)
		             : fsconfig(fsfd, FSCONFIG_SET_STRING, o->key, o->value, 0)) < 0)
			child_fail(ctl, errno, o->text);
	}
	if (pl->ro && fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
		child_fail(ctl, errno, "fsconfig ro");
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		child_fail(ctl, errno, "creating the FUSE superblock");
	mntfd = fsmount(fsfd, FSMOUNT_CLOEXEC, (unsigned)pl->attr);
	if (mntfd < 0)
		child_fail(ctl, errno, "fsmount");
	close(fsfd);
	return mntfd;
}

/* Attach the ready mount at the target and report its ids; exits. */
static __attribute__((noreturn)) void mounter_attach(const struct fuse_plan *pl, int mntfd)
{
	struct mounter_msg m;
	struct statx stx;

	/*
	 * Its id into the request's in-flight log entry before it is attached
	 * (the log is shared memory, also with this forked child), so a
	 * successor of a notifyd that dies now can tell whether it got there.
	 */
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) < 0)
		stx.stx_mnt_id = 0;
	if (stx.stx_mnt_id)
		inflight_mark_slot(inflight_current(), INFLIGHT_MOUNT_ATTACHING, stx.stx_mnt_id, 0);
	if (move_mount(mntfd, "", pl->target, "",
	               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		child_fail(pl->ctl, errno, "attaching the mount at the target");
	if (stx.stx_mnt_id)
		inflight_mark_slot(inflight_current(), INFLIGHT_MOUNT_ATTACHED, stx.stx_mnt_id, 0);
	inflight_helper(inflight_current(), 0);
	memset(&m, 0, sizeof(m));
	m.kind = MSG_ATTACHED;
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) == 0)
		m.mnt_id = stx.stx_mnt_id;
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == 0)
		m.mnt_id_old = stx.stx_mnt_id;
	(void)!write(pl->ctl, &m, sizeof(m));
	ns_child_test_stop();
	_exit(0);
}

/*
 * Detached (the new mount API's FSCONFIG_CMD_CREATE): send the ready mount's
 * fd and ids back instead of attaching it; notifyd hands it out at fsmount
 * and attaches it at move_mount.  No attach stage is marked: the request's
 * in-flight entry stays at "daemon started", so a successor of a notifyd
 * that dies before answering stops the daemon (the detached mount dies with
 * notifyd's fd and ours).  Exits.
 */
static __attribute__((noreturn)) void mounter_hand_back(const struct fuse_plan *pl, int mntfd)
{
	struct mounter_msg m;
	struct statx stx;
	ssize_t n;

	memset(&m, 0, sizeof(m));
	m.kind = MSG_DETACHED;
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) == 0)
		m.mnt_id = stx.stx_mnt_id;
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == 0)
		m.mnt_id_old = stx.stx_mnt_id;
	n = fd_send_with_fds(pl->ctl, &m, sizeof(m), &mntfd, 1);
	if (n < 0)
		child_fail(pl->ctl, (int)-n, "sending the mount back");
	inflight_helper(inflight_current(), 0);
	ns_child_test_stop();
	_exit(0);
}

void fuse_children_mounter(const struct fuse_plan *pl)
{
	int ctl = pl->ctl, fusefd, mntfd, pidfd = -1;
	struct statfs sfs;
	char go;
	struct clone_args ca;
	long pid;

	int keep[] = {0,         1,           2,          pl->userns, pl->mntns,
	              pl->pidns, pl->ipcns,   pl->utsns,  pl->netns,  pl->cgroupns,
	              pl->root,  pl->cwd,     pl->target, pl->image,  pl->prog,
	              pl->shim,  pl->devnull, pl->err_w,  pl->ctl,    pl->cgroup_procs};

	/* Acting for the request from here on: a successor stops us before it looks. */
	inflight_helper(inflight_current(), (pid_t)syscall(SYS_getpid));
	/* Nothing of notifyd's but the plan (and stdio) comes along. */
	ns_child_close_all_but(keep, ARRAY_SIZE(keep));
	fusefd = mounter_enter(pl);
	mntfd = mounter_fsmount(pl, fusefd);

	memset(&ca, 0, sizeof(ca));
	ca.flags = CLONE_PIDFD | CLONE_PARENT;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = 0;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0)
		child_fail(ctl, errno, "clone3");
	if (pid == 0)
		daemon_child(pl, fusefd);
	/* Only the daemon may hold the connection: if it dies, the mount must fail. */
	close(fusefd);
	child_send(ctl, MSG_STARTED, 0, NULL, pidfd);
	close(pidfd);

	/* Blocks until the daemon answered FUSE_INIT; ENOTCONN if it died first. */
	if (fstatfs(mntfd, &sfs) < 0)
		child_fail(ctl, errno, "statfs on the new mount");
	child_send(ctl, MSG_READY, 0, NULL, -1);
	if (read(ctl, &go, 1) != 1)
		_exit(0); /* the start-up gave up: the detached mount goes with us */
	if (pl->detached)
		mounter_hand_back(pl, mntfd);
	mounter_attach(pl, mntfd);
}
