// SPDX-License-Identifier: MIT
/*
 * DOC: Theory of operation
 *
 * vfsd runs with the privilege of whoever starts it (root for a host share,
 * root-in-a-user-namespace in a container) and gives up what it can before
 * the first guest request:
 *
 *  1. vfsd_sandbox_enter(): the file-system view shrinks to the share
 *     (pivot_root or chroot); the net namespace is emptied; /proc is only
 *     reachable as our own fd directory, which is how O_PATH inodes are
 *     reopened.
 *  2. Supplementary groups dropped, umask 0 (the guest's mode bits count).
 *  3. vfsd_drop_caps(): capabilities reduced to the file-operation set.
 *  4. vfsd_seccomp_load(): the syscall allowlist (seccomp.c).
 *
 * The listening socket is created before step 1, so its path may lie
 * outside the share.  Before step 1 vfsd_close_inherited_fds() closes every
 * fd the launcher left open but the socket and stdio, so nothing that leads
 * outside the share survives into the sandbox.
 *
 * In namespace mode the launching process stays outside as the parent of
 * the sandboxed child, only to wait for it and forward signals.  It needs
 * nothing else, so parent_harden() takes everything else away: every fd
 * but stdio, every capability (bounding set too), new privileges, and all
 * syscalls but wait4, exit and kill of the child.
 */
#include "vfsd/sandbox.h"
#include "vfsd/seccomp.h"

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"

static pid_t sandbox_child;
static sigset_t stop_signals; /* SIGTERM, SIGINT, SIGHUP: forwarded, then the child's exit */

/* We are pid 1 of the new namespace: signals without a handler are ignored. */
static void child_exit(int sig)
{
	_exit(128 + sig);
}

static void forward_signal(int sig)
{
	if (sandbox_child > 0)
		kill(sandbox_child, sig);
}

/*
 * parent_harden() - strip the waiting parent down to what wait_child()
 * uses: stdio (for nothing but a last error message), signal handlers
 * already installed, and the syscalls wait4, exit, and kill of the child.
 */
static int parent_harden(enum vfsd_seccomp action, pid_t child)
{
	static const int allowed[] = {
	    SCMP_SYS(wait4), SCMP_SYS(waitid),     SCMP_SYS(rt_sigreturn),
	    SCMP_SYS(exit),  SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
	};
	scmp_filter_ctx ctx;
	int r = 0;

	/* The listening socket, the share and anything else: the child has them. */
	if (close_range(3, ~0u, 0) < 0)
		return -errno;
	capng_clear(CAPNG_SELECT_BOTH);
	/* The bounding set needs CAP_SETPCAP; without it NO_NEW_PRIVS stands in. */
	if (capng_apply(CAPNG_SELECT_BOTH) < 0 && capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (action == VFSD_SECCOMP_NONE)
		return 0;
	ctx = seccomp_init(vfsd_seccomp_default_action(action));
	if (!ctx)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(allowed) && r >= 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
		                     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)child));
	if (r >= 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	return r;
}

/* The parent left outside the namespaces: wait, forward, exit like the child. */
static void __attribute__((noreturn)) wait_child(pid_t pid, enum vfsd_seccomp action)
{
	struct sigaction sa = {.sa_handler = forward_signal};
	int status, r;

	sandbox_child = pid;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &stop_signals, NULL); /* blocked across fork() */
	r = parent_harden(action, pid);
	if (r < 0) {
		log_error("cannot confine the waiting parent: %s", strerror(-r));
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	if (r < 0)
		_exit(1);
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

/*
 * The share's bind mount (and every mount below it) gets nodev and nosuid,
 * and rdonly for --readonly: a device node the guest creates stays unopenable
 * even if some path were to open it.  mount_setattr() changes only these
 * flags; the remount fallback must repeat the flags a user namespace may
 * have locked (noexec, ro, atime), or it fails with EPERM.
 */
static int share_mount_attrs(const char *dir, bool readonly)
{
	struct mount_attr a = {
	    .attr_set = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | (readonly ? MOUNT_ATTR_RDONLY : 0),
	};
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NODEV | MS_NOSUID;
	struct statvfs sv;

	if (mount_setattr(AT_FDCWD, dir, AT_RECURSIVE, &a, sizeof(a)) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	if (statvfs(dir, &sv) < 0)
		return -errno;
	flags |= sv.f_flag & (ST_RDONLY | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
	if (readonly)
		flags |= MS_RDONLY;
	if (mount(NULL, dir, NULL, flags, NULL) < 0)
		return -errno;
	return 0;
}

static int sandbox_namespace(const char *dir, bool readonly, enum vfsd_seccomp seccomp,
                             int *ret_root, int *ret_proc)
{
	_cleanup_close_ int proc = -EBADF, root = -EBADF;
	pid_t pid;
	int r;

	int parent;

	if (unshare(CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET) < 0)
		return -errno;
	/* The child watches this to see whether we died before it could follow. */
	parent = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (parent < 0)
		return -errno;
	/*
	 * Until each side has its handler: the parent forwards a stop to the
	 * child, and the child, pid 1 of its namespace, would drop a signal it
	 * has no handler for (one that came early, while a launcher stopped
	 * the share it was just starting).  Blocked, it waits instead.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		wait_child(pid, seccomp);
	/*
	 * The parent may die without passing a signal on (a launcher that
	 * gives up SIGKILLs it): follow it.  getppid() is 0 in here, so a
	 * parent that died before the prctl() shows as its pidfd readable.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	{
		struct pollfd pfd = {.fd = parent, .events = POLLIN};

		if (poll(&pfd, 1, 0) != 0)
			_exit(1);
		close(parent);
	}
	{
		struct sigaction sa = {.sa_handler = child_exit};

		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);
	}
	/* Nothing we mount may reach the host's mount namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -errno;
	/* A procfs of our pid namespace, then only its self/fd directory kept. */
	if (mount("proc", "/proc", "proc", MS_NODEV | MS_NOEXEC | MS_NOSUID, NULL) < 0)
		return -errno;
	if (mount("/proc/self/fd", "/proc", NULL, MS_BIND, NULL) < 0)
		return -errno;
	proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return -errno;
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	r = share_mount_attrs(dir, readonly);
	if (r < 0)
		return r;
	if (chdir(dir) < 0)
		return -errno;
	/* pivot_root(".", "."): the old root ends up on top and is detached. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return -errno;
	if (umount2(".", MNT_DETACH) < 0)
		return -errno;
	if (chdir("/") < 0)
		return -errno;
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	*ret_root = TAKE_FD(root);
	*ret_proc = TAKE_FD(proc);
	return 0;
}

static int sandbox_chroot(const char *dir, int *ret_root, int *ret_proc)
{
	_cleanup_close_ int proc = -EBADF, root = -EBADF;

	proc = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return -errno;
	if (chroot(dir) < 0 || chdir("/") < 0)
		return -errno;
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	*ret_root = TAKE_FD(root);
	*ret_proc = TAKE_FD(proc);
	return 0;
}

int vfsd_sandbox_enter(enum vfsd_sandbox mode, const char *dir, bool readonly,
                       enum vfsd_seccomp seccomp, int *ret_root, int *ret_proc)
{
	_cleanup_close_ int proc = -EBADF, root = -EBADF;

	switch (mode) {
	case VFSD_SANDBOX_NAMESPACE:
		return sandbox_namespace(dir, readonly, seccomp, ret_root, ret_proc);
	case VFSD_SANDBOX_CHROOT:
		return sandbox_chroot(dir, ret_root, ret_proc);
	case VFSD_SANDBOX_NONE:
		break;
	}
	proc = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc < 0)
		return -errno;
	root = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	*ret_root = TAKE_FD(root);
	*ret_proc = TAKE_FD(proc);
	return 0;
}

int vfsd_close_inherited_fds(const int *keep, size_t n)
{
	unsigned from = 3; /* stdio stays */

	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || (i && keep[i] <= keep[i - 1]))
			return -EINVAL;
		if ((unsigned)keep[i] < from)
			continue;
		if ((unsigned)keep[i] > from && close_range(from, (unsigned)keep[i] - 1, 0) < 0)
			return -errno;
		from = (unsigned)keep[i] + 1;
	}
	if (close_range(from, ~0u, 0) < 0)
		return -errno;
	return 0;
}

int vfsd_drop_caps(const char *modcaps, bool file_handles)
{
	static const int keep[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID,
	                           CAP_SETGID, CAP_SETUID,       CAP_MKNOD,  CAP_SETFCAP};
	_cleanup_free_ char *mods = NULL;
	char *save = NULL;

	if (capng_get_caps_process() < 0)
		return -EIO;
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE)
		return 0;
	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, (unsigned)keep[i]))
			return -EIO;
	if (file_handles &&
	    capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_DAC_READ_SEARCH))
		return -EIO;
	if (modcaps) {
		mods = strdup(modcaps);
		if (!mods)
			return -ENOMEM;
		for (char *m = strtok_r(mods, ":", &save); m; m = strtok_r(NULL, ":", &save)) {
			int cap;

			if ((m[0] != '+' && m[0] != '-') ||
			    (cap = capng_name_to_capability(m + 1)) < 0)
				return -EINVAL;
			if (capng_update(m[0] == '+' ? CAPNG_ADD : CAPNG_DROP,
			                 CAPNG_EFFECTIVE | CAPNG_PERMITTED, (unsigned)cap))
				return -EINVAL;
		}
	}
	/* Bounding set too when allowed (needs CAP_SETPCAP), else just the sets. */
	if (capng_apply(CAPNG_SELECT_BOTH) < 0 && capng_apply(CAPNG_SELECT_CAPS) < 0)
		return -EPERM;
	return 0;
}

long vfsd_raise_nofile(unsigned long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (!want)
		want = rl.rlim_max < 1000000 ? rl.rlim_max : 1000000;
	if (want > rl.rlim_max)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return (long)rl.rlim_cur;
}
