/* SPDX-License-Identifier: MIT */
/*
 * The `fuse` action.  One request, in a worker thread:
 *
 *   1. checks (limits, caller's CAP_SYS_ADMIN, options, target and source
 *      resolved in the caller's view, source openable by the caller);
 *   2. notifyd opens, in the host's view, everything the program will get:
 *      the program itself (or the container's, program = container:NAME),
 *      the image, the fusermount stand-in, /dev/null, a stderr pipe;
 *   3. a forked "mounter" joins the container's user namespace (a thread of
 *      this multi-threaded process cannot), opens /dev/fuse there, joins the
 *      mount namespace and the caller's root/cwd, creates the FUSE
 *      superblock with fsopen/fsconfig/fsmount (owned by the container's
 *      user namespace: its root may unmount it), and - still detached -
 *      clones the daemon into the container's pid/ipc/uts/net namespaces
 *      and cgroup (CLONE_PARENT: notifyd reaps it, CLONE_PIDFD: notifyd
 *      supervises it);
 *   4. the daemon gets a private copy of the mount namespace (where the
 *      fusermount stand-in covers /bin/fusermount), the caller's ids, and
 *      execs the program from notifyd's fd with the image at
 *      /proc/self/fd/3 and the connection at fd 4 (/dev/fd/4 for libfuse3,
 *      MOUNTVISOR_FUSE_FD for the stand-in);
 *   5. the mounter's fstatfs() on the detached mount returns once FUSE_INIT
 *      was answered; the worker checks the caller is still waiting and lets
 *      the mounter attach the mount at the target.  Since the mount is
 *      attached only after INIT, nothing the daemon does while starting
 *      (libfuse2 stat()s its mountpoint) can deadlock on it.
 *
 * A daemon that dies first turns into EINVAL (its stderr goes to the log),
 * a start-up longer than startup-timeout into ETIMEDOUT; both leave nothing.
 */
#include "notifyd/mount_fuse.h"
#include "notifyd/loop_device.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/mount_options.h"
#include "notifyd/mount_resolve.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <linux/sched.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/*
 * Start-ups in progress across all containers.  Each holds a worker thread
 * until its filesystem answers (normally milliseconds, at most the rule's
 * startup-timeout); capping them leaves the rest of the pool free for every
 * other request, so slow or hostile FUSE programs cannot stall other
 * containers.  Past the cap the caller gets EAGAIN.
 */
#define FUSE_MAX_STARTING 2
static pthread_mutex_t starting_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned n_starting;

/* Fixed fd numbers in the daemon. */
enum { DFD_IMAGE = 3, DFD_FUSE = 4, DFD_SHIMDIR = 5, DFD_EXEC = 6 };

enum { MSG_STARTED = 1, MSG_READY, MSG_ATTACHED, MSG_FAILED };
struct mounter_msg {
	int kind;
	int err; /* positive errno for MSG_FAILED */
	uint64_t mnt_id, mnt_id_old;
	char text[200];
};

/* Everything the mounter and the daemon need, prepared before fork(). */
struct fuse_plan {
	int userns, mntns, pidns, ipcns, utsns, netns, cgroupns;
	int root, cwd;           /* the caller's, O_PATH */
	int target;              /* O_PATH, resolved in the caller's view */
	int image;               /* opened source or -EBADF */
	int prog;                /* O_PATH of the program */
	int shimdir, shimtree;   /* fusermount stand-in: dir (PATH fallback), detached bind */
	int devnull, err_w, ctl; /* stdin, stdout+stderr, socket to the worker */
	int cgroup_procs;        /* caller's cgroup.procs (written "0") or -EBADF */
	uid_t uid, gid;          /* the caller's ids inside its user namespace */
	gid_t groups[64];
	int n_groups;
	bool fusermount;
	bool ro;
	uint64_t attr; /* MOUNT_ATTR_* */
	char source[256], subtype[64];
	char fsopts[32][128]; /* kernel FUSE options, key or key=value */
	int n_fsopts;
	char *argv[48];
	char *envp[8];
	char argbuf[8192];
	char envbuf[1024];
};

static void plan_init(struct fuse_plan *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->userns = pl->mntns = pl->pidns = pl->ipcns = pl->utsns = pl->netns = pl->cgroupns =
	    -EBADF;
	pl->root = pl->cwd = pl->target = pl->image = pl->prog = -EBADF;
	pl->shimdir = pl->shimtree = pl->devnull = pl->err_w = pl->ctl = pl->cgroup_procs = -EBADF;
}

static void plan_close(struct fuse_plan *pl)
{
	int *fds[] = {&pl->userns, &pl->mntns,    &pl->pidns,       &pl->ipcns,    &pl->utsns,
	              &pl->netns,  &pl->cgroupns, &pl->root,        &pl->cwd,      &pl->target,
	              &pl->image,  &pl->prog,     &pl->shimdir,     &pl->shimtree, &pl->devnull,
	              &pl->err_w,  &pl->ctl,      &pl->cgroup_procs};

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		*fds[i] = safe_close(*fds[i]);
}

/* ------------------------------------------------------------------------ */
/* The mounter and the daemon: forked children, async-signal-safe calls only. */

static void child_send(int ctl, int kind, int err, const char *text, int fd)
{
	struct mounter_msg m = {.kind = kind, .err = err};

	if (text)
		snprintf(m.text, sizeof(m.text), "%s", text);
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

static __attribute__((noreturn)) void daemon_child(struct fuse_plan *pl, int fusefd)
{
	int img = park(pl->image), fuse = park(fusefd), shimdir = park(pl->shimdir),
	    prog = park(pl->prog), nul = park(pl->devnull), errw = park(pl->err_w);

	/* A view of its own: the FUSE mount never appears in it (no deadlock on a
	 * stat() of the mountpoint), and the stand-in can cover /bin/fusermount. */
	if (unshare(CLONE_NEWNS) < 0) {
		dprintf(errw, "mountvisor: unshare(CLONE_NEWNS): %s\n", strerror(errno));
		_exit(126);
	}
	(void)mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (pl->fusermount) {
		struct stat st;
		if (stat("/bin/fusermount", &st) == 0 && S_ISREG(st.st_mode) && pl->shimtree >= 0)
			(void)move_mount(pl->shimtree, "", AT_FDCWD, "/bin/fusermount",
			                 MOVE_MOUNT_F_EMPTY_PATH);
		/* libfuse2 never reaps the fusermount it ran with auto_unmount. */
		signal(SIGCHLD, SIG_IGN);
	}
	if (pl->n_groups >= 0 && setgroups((size_t)pl->n_groups, pl->groups) < 0 &&
	    errno != EPERM) {
		dprintf(errw, "mountvisor: setgroups: %s\n", strerror(errno));
		_exit(126);
	}
	if (setresgid(pl->gid, pl->gid, pl->gid) < 0 || setresuid(pl->uid, pl->uid, pl->uid) < 0) {
		dprintf(errw, "mountvisor: cannot take the caller's ids %u:%u: %s\n", pl->uid,
		        pl->gid, strerror(errno));
		_exit(126);
	}
	if (dup2(nul, 0) < 0 || dup2(errw, 1) < 0 || dup2(errw, 2) < 0 ||
	    (img >= 0 && dup2(img, DFD_IMAGE) < 0) || dup2(fuse, DFD_FUSE) < 0 ||
	    (shimdir >= 0 && dup2(shimdir, DFD_SHIMDIR) < 0) || dup3(prog, DFD_EXEC, O_CLOEXEC) < 0)
		_exit(126);
	syscall(SYS_close_range, DFD_EXEC + 1, ~0U, 0);
	syscall(SYS_execveat, DFD_EXEC, "", pl->argv, pl->envp, AT_EMPTY_PATH);
	dprintf(2, "mountvisor: cannot execute %s: %s\n", pl->argv[0], strerror(errno));
	_exit(127);
}

static int fs_set(int fsfd, const char *opt)
{
	char key[128];
	const char *eq = strchr(opt, '=');

	if (!eq)
		return fsconfig(fsfd, FSCONFIG_SET_FLAG, opt, NULL, 0);
	snprintf(key, sizeof(key), "%.*s", (int)(eq - opt), opt);
	return fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
}

static __attribute__((noreturn)) void mounter_child(struct fuse_plan *pl)
{
	int ctl = pl->ctl, fusefd, fsfd, mntfd, pidfd = -1;
	struct statfs sfs;
	struct statx stx;
	char num[32], go;
	struct clone_args ca = {
	    .flags = CLONE_PIDFD | CLONE_PARENT,
	    .pidfd = (uint64_t)(uintptr_t)&pidfd,
	    .exit_signal = 0,
	};
	long pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * The daemon's other namespaces, joined while still host root (they may
	 * be owned by an ancestor of the container's user namespace, e.g. a
	 * cgroup namespace it did not unshare); pid applies to the child cloned
	 * below.
	 */
	if (setns(pl->pidns, CLONE_NEWPID) < 0)
		child_fail(ctl, errno, "setns(pid)");
	if ((pl->ipcns >= 0 && setns(pl->ipcns, CLONE_NEWIPC) < 0) ||
	    (pl->utsns >= 0 && setns(pl->utsns, CLONE_NEWUTS) < 0) ||
	    (pl->netns >= 0 && setns(pl->netns, CLONE_NEWNET) < 0) ||
	    (pl->cgroupns >= 0 && setns(pl->cgroupns, CLONE_NEWCGROUP) < 0))
		child_fail(ctl, errno, "setns(ipc/uts/net/cgroup)");
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
	 * device policy would refuse /dev/fuse. */
	if (pl->cgroup_procs >= 0)
		(void)!write(pl->cgroup_procs, "0", 1);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		child_fail(ctl, errno, "becoming root of the container's user namespace");
	if (setns(pl->mntns, CLONE_NEWNS) < 0)
		child_fail(ctl, errno, "setns(mnt)");
	if (fchdir(pl->root) < 0 || chroot(".") < 0 || fchdir(pl->cwd) < 0)
		child_fail(ctl, errno, "entering the caller's root");

	fsfd = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		child_fail(ctl, errno, "fsopen(fuse)");
	snprintf(num, sizeof(num), "%d", fusefd);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", pl->source, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "subtype", pl->subtype, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "fd", num, 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "rootmode", "40000", 0) < 0)
		child_fail(ctl, errno, "fsconfig");
	snprintf(num, sizeof(num), "%u", pl->uid);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "user_id", num, 0) < 0)
		child_fail(ctl, errno, "fsconfig user_id");
	snprintf(num, sizeof(num), "%u", pl->gid);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, "group_id", num, 0) < 0)
		child_fail(ctl, errno, "fsconfig group_id");
	for (int i = 0; i < pl->n_fsopts; i++)
		if (fs_set(fsfd, pl->fsopts[i]) < 0)
			child_fail(ctl, errno, pl->fsopts[i]);
	if (pl->ro && fsconfig(fsfd, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
		child_fail(ctl, errno, "fsconfig ro");
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		child_fail(ctl, errno, "creating the FUSE superblock");
	mntfd = fsmount(fsfd, FSMOUNT_CLOEXEC, (unsigned)pl->attr);
	if (mntfd < 0)
		child_fail(ctl, errno, "fsmount");
	close(fsfd);

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
		_exit(0); /* the worker gave up: the detached mount goes with us */
	if (move_mount(mntfd, "", pl->target, "",
	               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		child_fail(ctl, errno, "attaching the mount at the target");
	struct mounter_msg m = {.kind = MSG_ATTACHED};
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) == 0)
		m.mnt_id = stx.stx_mnt_id;
	memset(&stx, 0, sizeof(stx));
	if (statx(mntfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &stx) == 0)
		m.mnt_id_old = stx.stx_mnt_id;
	(void)!write(ctl, &m, sizeof(m));
	_exit(0);
}

/* ------------------------------------------------------------------------ */
/* Preparation in the worker. */

/* host id -> id inside a user namespace, from /proc/PID/{uid,gid}_map text. */
static int map_to_ns(const char *map, unsigned long host, unsigned *ret)
{
	for (const char *p = map; p && *p;) {
		unsigned long inside, outside, count;
		if (sscanf(p, "%lu %lu %lu", &inside, &outside, &count) == 3 && host >= outside &&
		    host - outside < count) {
			*ret = (unsigned)(inside + (host - outside));
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ERANGE;
}

/* Which hand-over does this program need?  libfuse2 programs: the stand-in. */
static bool links_libfuse2(int prog)
{
	char path[64], buf[65536];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	off_t off = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", prog);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* DT_NEEDED names sit in .dynstr, near the start of the file. */
	while (off < (off_t)(4 * sizeof(buf)) && (n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (memmem(buf, (size_t)n, "libfuse.so.2", 12))
			return true;
		if (memmem(buf, (size_t)n, "libfuse3.so", 11))
			return false;
		off += n > 16 ? n - 16 : n;
	}
	return false;
}

/* Where the fusermount stand-in lives: $MOUNTVISOR_FUSE_SHIM_DIR, else next to notifyd. */
static int open_shim_dir(void)
{
	char exe[PATH_MAX], dir[PATH_MAX + 16];
	const char *env = getenv("MOUNTVISOR_FUSE_SHIM_DIR");
	ssize_t n;

	if (env && *env)
		snprintf(dir, sizeof(dir), "%s", env);
	else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n < 0)
			return -errno;
		exe[n] = '\0';
		snprintf(dir, sizeof(dir), "%s/fuse-shim", dirname(exe));
	}
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The caller's cgroup v2 directory's cgroup.procs, opened for writing. */
static int open_cgroup_procs(int procfd)
{
	static const char *const roots[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	char buf[4096], path[PATH_MAX + 64];
	struct statfs sfs;
	char *line, *rel = NULL;

	if (fd_read_file_at(procfd, "cgroup", buf, sizeof(buf)) < 0)
		return -ENOENT;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "0::", 3) == 0) {
			rel = line + 3;
			rel[strcspn(rel, "\n")] = '\0';
			break;
		}
	if (!rel || strstr(rel, ".."))
		return -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		if (statfs(roots[i], &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		snprintf(path, sizeof(path), "%s%s/cgroup.procs", roots[i], rel);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		return fd < 0 ? -errno : fd;
	}
	return -ENOENT;
}

/* Append s to the plan's argument buffer; returns the copy or NULL when full. */
static char *plan_str(struct fuse_plan *pl, size_t *used, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p;

	if (*used + len > sizeof(pl->argbuf))
		return NULL;
	p = pl->argbuf + *used;
	memcpy(p, s, len);
	*used += len;
	return p;
}

static const char *const default_args_image[] = {"-f", "{options}", "{source}", "{mountpoint}",
                                                 NULL};
static const char *const default_args_none[] = {"-f", "{options}", "{mountpoint}", NULL};

/* argv from the rule's arguments with {source} {mountpoint} {options} filled in. */
static int plan_argv(struct fuse_plan *pl, const struct profile_fs *fs, const char *prog_name,
                     const struct mount_opts *opts, bool has_image, const char *mountpoint)
{
	const char *const *words = fs->arguments
	                               ? (const char *const *)fs->arguments
	                               : (fs->source_none ? default_args_none : default_args_image);
	char optstr[4096];
	size_t used = 0, len = 0;
	int n = 0;

	optstr[0] = '\0';
	for (size_t i = 0; i < opts->n; i++)
		len +=
		    (size_t)snprintf(optstr + len, len < sizeof(optstr) ? sizeof(optstr) - len : 0,
		                     "%s%s", i ? "," : "", opts->v[i]);
	if (len >= sizeof(optstr))
		return -E2BIG;
	pl->argv[n++] = plan_str(pl, &used, prog_name);
	for (size_t i = 0; words[i]; i++) {
		if (n + 3 >= (int)ARRAY_SIZE(pl->argv))
			return -E2BIG;
		if (!strcmp(words[i], "{options}")) {
			if (!optstr[0])
				continue;
			pl->argv[n++] = plan_str(pl, &used, "-o");
			pl->argv[n++] = plan_str(pl, &used, optstr);
		} else if (!strcmp(words[i], "{source}")) {
			if (!has_image)
				return -EINVAL;
			pl->argv[n++] = plan_str(pl, &used, "/proc/self/fd/3");
		} else if (!strcmp(words[i], "{mountpoint}")) {
			pl->argv[n++] = plan_str(pl, &used, mountpoint);
		} else {
			pl->argv[n++] = plan_str(pl, &used, words[i]);
		}
		if (!pl->argv[n - 1])
			return -E2BIG;
	}
	pl->argv[n] = NULL;
	return pl->argv[0] ? 0 : -E2BIG;
}

static void plan_env(struct fuse_plan *pl)
{
	size_t used = 0;
	int n = 0;
	const char *env[] = {
	    "PATH=/proc/self/fd/5:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    "MOUNTVISOR_FUSE_FD=4",
	    "HOME=/",
	    NULL,
	};

	for (int i = 0; env[i]; i++) {
		size_t len = strlen(env[i]) + 1;
		memcpy(pl->envbuf + used, env[i], len);
		pl->envp[n++] = pl->envbuf + used;
		used += len;
	}
	pl->envp[n] = NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Keep the tail of what the program wrote while starting (for the decision line). */
static void drain(int fd, char *buf, size_t size, size_t *len)
{
	char tmp[1024];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			char ch = tmp[i] == '\n' ? ' ' : tmp[i];
			if (*len + 1 >= size) {
				memmove(buf, buf + size / 2, *len - size / 2);
				*len -= size / 2;
			}
			buf[(*len)++] = ch;
		}
	}
	buf[*len] = '\0';
}

struct startup {
	pid_t mounter;
	int ctl;       /* worker end */
	int pidfd;     /* daemon, once MSG_STARTED arrived */
	int err_r;     /* daemon's output */
	char out[400]; /* its last words */
	size_t out_len;
};

/* Kill whatever is left of a failed start-up and reap it. */
static void startup_abort(struct startup *su)
{
	if (su->pidfd >= 0) {
		siginfo_t si;
		syscall(SYS_pidfd_send_signal, su->pidfd, SIGKILL, NULL, 0);
		(void)waitid(P_PIDFD, (id_t)su->pidfd, &si, WEXITED);
		su->pidfd = safe_close(su->pidfd);
	}
	if (su->mounter > 0) {
		kill(su->mounter, SIGKILL);
		(void)waitpid(su->mounter, NULL, 0);
		su->mounter = 0;
	}
	su->ctl = safe_close(su->ctl);
}

/*
 * Wait for the next message from the mounter until deadline, collecting the
 * daemon's output.  Returns 0 with *m filled, -ETIMEDOUT, -ECHILD when the
 * daemon died first (*status set), or -errno.
 */
static int startup_wait(struct startup *su, uint64_t deadline, struct mounter_msg *m, int *status)
{
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = su->ctl, .events = POLLIN},
		    {.fd = su->err_r, .events = POLLIN},
		    {.fd = su->pidfd, .events = POLLIN},
		};
		uint64_t now = now_ms();
		int r;

		if (now >= deadline)
			return -ETIMEDOUT;
		r = poll(pfd, su->pidfd >= 0 ? 3 : 2, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		if (pfd[1].revents)
			drain(su->err_r, su->out, sizeof(su->out), &su->out_len);
		if (pfd[0].revents & POLLIN) {
			int fds[1] = {-EBADF};
			size_t nfds = 1;
			ssize_t n = fd_recv_with_fds(su->ctl, m, sizeof(*m), fds, &nfds, 0);
			if (n == (ssize_t)sizeof(*m)) {
				if (m->kind == MSG_STARTED && nfds == 1 && su->pidfd < 0)
					su->pidfd = fds[0];
				else
					fd_close_all(fds, nfds);
				return 0;
			}
			fd_close_all(fds, nfds);
			if (n >= 0)
				return -EPROTO; /* the mounter died without a word */
			return (int)n;
		} else if (pfd[0].revents & (POLLHUP | POLLERR)) {
			return -EPROTO;
		}
		if (su->pidfd >= 0 && (pfd[2].revents & POLLIN)) {
			siginfo_t si = {0};
			/* Let its last words arrive before reaping it. */
			drain(su->err_r, su->out, sizeof(su->out), &su->out_len);
			if (waitid(P_PIDFD, (id_t)su->pidfd, &si, WEXITED) == 0)
				*status =
				    si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
			su->pidfd = safe_close(su->pidfd);
			return -ECHILD;
		}
	}
}

static void starting_put(void)
{
	pthread_mutex_lock(&starting_lock);
	n_starting--;
	pthread_mutex_unlock(&starting_lock);
}

/* Run the start-up; fills the decision.  Takes pl's fds. */
/* Wait up to timeout_ms for the started daemon to exit; 0 with its status, or -ETIMEDOUT. */
static int daemon_exit_status(struct startup *su, int timeout_ms, int *status)
{
	struct pollfd pfd = {.fd = su->pidfd, .events = POLLIN};
	siginfo_t si = {0};
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return -ETIMEDOUT;
	drain(su->err_r, su->out, sizeof(su->out), &su->out_len); /* its last words */
	if (waitid(P_PIDFD, (id_t)su->pidfd, &si, WEXITED) < 0)
		return -errno;
	*status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	su->pidfd = safe_close(su->pidfd);
	return 0;
}

static void fuse_start(struct request *rq, struct fuse_plan *pl, const struct profile_fs *fs,
                       const char *prog_name, struct fuse_daemon_info *info)
{
	int sp[2], pp[2], status = -1, r;
	struct startup su = {.ctl = -EBADF, .pidfd = -EBADF, .err_r = -EBADF};
	struct mounter_msg m;
	uint64_t deadline;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0 ||
	    pipe2(pp, O_CLOEXEC) < 0) {
		request_deny(rq, errno, "socketpair/pipe: %s", strerror(errno));
		return;
	}
	su.ctl = sp[0];
	pl->ctl = sp[1];
	su.err_r = pp[0];
	pl->err_w = pp[1];
	fd_set_nonblock(su.err_r, 1);

	pid = fork();
	if (pid < 0) {
		request_deny(rq, EAGAIN, "fork: %s", strerror(errno));
		su.ctl = safe_close(su.ctl);
		su.err_r = safe_close(su.err_r);
		return;
	}
	if (pid == 0)
		mounter_child(pl);
	su.mounter = pid;
	/* Our copies of what the children hold. */
	plan_close(pl);

	deadline = now_ms() + fs->startup_timeout_ms;
	for (;;) {
		r = startup_wait(&su, deadline, &m, &status);
		if (r < 0 || m.kind != MSG_STARTED)
			break;
	}
	if (r == 0 && m.kind == MSG_READY) {
		/* Last look before the mount becomes visible: is the caller still waiting? */
		if (target_valid(&rq->t) < 0) {
			request_deny(rq, ENOENT, "caller gave up while %s started", prog_name);
			goto fail;
		}
		if (write(su.ctl, "G", 1) != 1) {
			request_deny(rq, EIO, "mounter went away");
			goto fail;
		}
		r = startup_wait(&su, deadline, &m, &status);
	}
	if (r == -ETIMEDOUT) {
		request_deny(rq, ETIMEDOUT, "%s did not answer FUSE_INIT within %u s%s%s",
		             prog_name, fs->startup_timeout_ms / 1000, su.out_len ? ": " : "",
		             su.out);
		goto fail;
	}
	if (r == -ECHILD || (r == 0 && m.kind == MSG_FAILED && m.err == ENOTCONN && su.pidfd < 0)) {
		/* The program refused the image (or could not run): what mount(8) would say. */
		request_deny(rq, status == 127 || status == 126 ? ENOEXEC : EINVAL,
		             "%s exited with status %d before serving the mount%s%s", prog_name,
		             status, su.out_len ? ": " : "", su.out);
		goto fail;
	}
	if (r == 0 && m.kind == MSG_FAILED) {
		if (su.pidfd >= 0 && m.err == ENOTCONN) {
			/*
			 * statfs saw the connection die: the daemon is exiting.  Wait
			 * for its status on its pidfd alone (the mounter's socket
			 * hangs up too, and must not win that race).
			 */
			if (daemon_exit_status(&su, 1000, &status) == 0) {
				request_deny(
				    rq, EINVAL,
				    "%s exited with status %d before serving the mount%s%s",
				    prog_name, status, su.out_len ? ": " : "", su.out);
				goto fail;
			}
		}
		request_deny(rq, m.err, "%s: %s%s%s", m.text, strerror(m.err),
		             su.out_len ? "; program said: " : "", su.out);
		goto fail;
	}
	if (r < 0 || m.kind != MSG_ATTACHED) {
		request_deny(rq, r < 0 ? -r : EPROTO, "FUSE start-up of %s failed: %s%s%s",
		             prog_name, strerror(r < 0 ? -r : EPROTO),
		             su.out_len ? "; program said: " : "", su.out);
		goto fail;
	}
	(void)waitpid(su.mounter, NULL, 0);
	su.mounter = 0;
	su.ctl = safe_close(su.ctl);
	info->pidfd = TAKE_FD(su.pidfd);
	info->stderr_fd = TAKE_FD(su.err_r);
	info->mnt_id = m.mnt_id;
	info->mnt_id_old = m.mnt_id_old;
	rq->answer = ANSWER_ERRNO;
	rq->err = 0;
	if (su.out_len)
		log_info("%s: %s said while starting: %s", rq->c->id, prog_name, su.out);
	return;
fail:
	startup_abort(&su);
	su.err_r = safe_close(su.err_r);
}

/* Pid (in our namespace) of a pidfd, from its fdinfo. */
static pid_t pidfd_pid(int pidfd)
{
	char path[64], buf[1024];
	char *p;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (fd_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, "\nPid:");
	return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}

/* Is the resolved source a loop device notifyd gave this container? */
static bool is_own_loop(const struct request *rq, int source_fd, dev_t *rdev)
{
	struct stat st;

	if (fstat(source_fd, &st) < 0 || !S_ISBLK(st.st_mode))
		return false;
	*rdev = st.st_rdev;
	return loop_device_access(rq->c->id, st.st_rdev) == LOOP_OWNED;
}

void mount_fuse_action(struct request *rq, const struct profile *p, const struct profile_fs *fs)
{
	dev_t loop_rdev = 0;
	_cleanup_close_ int target_fd = -EBADF, source_fd = -EBADF;
	struct mount_opts opts = {0};
	struct mount_flags mf;
	struct proc_creds cr;
	struct fuse_plan *pl = NULL;
	struct fuse_daemon_info info = {.pidfd = -EBADF, .stderr_fd = -EBADF, .mntns_fd = -EBADF};
	const char *prog_path;
	char map[4096], prog_name[64], mountpoint[64];
	bool from_container, reserved = false, starting = false;
	int r;

	rq->action = "fuse";
	if (!fs || !fs->program) {
		request_deny(rq, EPERM, "fuse rule without a program");
		return;
	}
	from_container = strncmp(fs->program, "container:", 10) == 0;
	prog_path = from_container ? fs->program + 10 : fs->program;
	snprintf(prog_name, sizeof(prog_name), "%s",
	         strrchr(prog_path, '/') ? strrchr(prog_path, '/') + 1 : prog_path);

	r = mount_request_prepare(rq, p, fs, &mf, &opts, &cr);
	if (r < 0)
		goto out;
	if (mf.sb_ro) /* FUSE programs learn read-only from their options */
		r = mount_opts_add(&opts, "ro");
	if (r < 0) {
		request_deny(rq, -r, "%s", strerror(-r));
		goto out;
	}
	pl = calloc(1, sizeof(*pl));
	if (!pl) {
		request_deny(rq, ENOMEM, "out of memory");
		goto out;
	}
	plan_init(pl);
	pl->ro = mf.sb_ro;
	for (size_t i = 0; i < opts.n; i++)
		if (!strcmp(opts.v[i], "ro"))
			pl->ro = true;
	pl->attr = mf.attr | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

	r = fuse_daemon_reserve(rq->c, p->max_fuse_daemons);
	if (r < 0) {
		request_deny(rq, -r, "container runs its max-fuse-daemons = %u FUSE daemons",
		             p->max_fuse_daemons);
		goto out;
	}
	reserved = true;
	pthread_mutex_lock(&starting_lock);
	starting = n_starting < FUSE_MAX_STARTING;
	if (starting)
		n_starting++;
	pthread_mutex_unlock(&starting_lock);
	if (!starting) {
		request_deny(rq, EAGAIN, "%d FUSE start-ups already in progress",
		             FUSE_MAX_STARTING);
		goto out;
	}

	/* The host's program, opened before we look at anything of the container's. */
	if (!from_container) {
		pl->prog = open(prog_path, O_PATH | O_CLOEXEC);
		if (pl->prog < 0) {
			request_deny(rq, EOPNOTSUPP, "program %s: %s (fix the profile)", prog_path,
			             strerror(errno));
			goto out;
		}
	}
	if (mount_resolve_paths(rq, fs->source_none ? MOUNT_SOURCE_NONE : MOUNT_SOURCE_BLOCK_FILE,
	                        !pl->ro, &cr, &target_fd, &source_fd) < 0)
		goto out;
	if (from_container) {
		r = view_enter(rq->t.procfd, 1);
		if (r >= 0) {
			pl->prog = view_open(prog_path, O_PATH);
			view_leave();
			r = pl->prog < 0 ? pl->prog : 0;
		}
		if (r < 0) {
			request_deny(rq, -r, "program %s in the container: %s", prog_path,
			             strerror(-r));
			goto out;
		}
	}
	if (source_fd >= 0 && is_own_loop(rq, source_fd, &loop_rdev)) {
		/* The program gets the image file itself: no kernel loop on the data path. */
		pl->image = loop_device_open_backing(rq->c->id, loop_rdev, !pl->ro);
		if (pl->image < 0) {
			request_deny(rq, -pl->image, "%s: %s", rq->source,
			             pl->image == -EACCES  ? "loop device is read-only"
			             : pl->image == -ENXIO ? "loop device has no backing file"
			                                   : strerror(-pl->image));
			goto out;
		}
	} else if (source_fd >= 0) {
		/* Opened as the caller, in its cgroup: its device policy applies. */
		pl->image = mount_source_open(rq, &cr, source_fd, !pl->ro);
		if (pl->image < 0)
			goto out;
	}
	pl->target = TAKE_FD(target_fd);
	pl->fusermount = fs->handover == FUSE_HANDOVER_FUSERMOUNT ||
	                 (fs->handover == FUSE_HANDOVER_AUTO && links_libfuse2(pl->prog));
	if (pl->fusermount) {
		pl->shimdir = open_shim_dir();
		if (pl->shimdir < 0) {
			request_deny(rq, EOPNOTSUPP,
			             "%s needs the fusermount stand-in, not found next to notifyd "
			             "(fuse-shim/) or in MOUNTVISOR_FUSE_SHIM_DIR",
			             prog_name);
			goto out;
		}
		pl->shimtree = (int)syscall(SYS_open_tree, pl->shimdir, "fusermount",
		                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (pl->shimtree < 0)
			pl->shimtree = -EBADF; /* PATH (/proc/self/fd/5) still finds it */
	}
	/* libfuse2 stat()s the mountpoint it is given; libfuse3 takes the fd. */
	snprintf(mountpoint, sizeof(mountpoint), "/dev/fd/%d", DFD_FUSE);
	r = plan_argv(pl, fs, prog_name, &opts, pl->image >= 0,
	              pl->fusermount ? rq->target : mountpoint);
	if (r < 0) {
		request_deny(rq, EINVAL, "arguments of [fs %s] do not fit this mount (%s)",
		             fs->type, strerror(-r));
		goto out;
	}
	plan_env(pl);

	/* The caller's ids as its user namespace sees them. */
	if (fd_read_file_at(rq->t.procfd, "uid_map", map, sizeof(map)) < 0 ||
	    map_to_ns(map, cr.fsuid, &pl->uid) < 0 ||
	    fd_read_file_at(rq->t.procfd, "gid_map", map, sizeof(map)) < 0 ||
	    map_to_ns(map, cr.fsgid, &pl->gid) < 0) {
		request_deny(rq, EPERM, "the caller's ids are not mapped in its user namespace");
		goto out;
	}
	for (unsigned i = 0; i < cr.n_groups && pl->n_groups < (int)ARRAY_SIZE(pl->groups); i++) {
		unsigned g;
		if (map_to_ns(map, cr.groups[i], &g) == 0)
			pl->groups[pl->n_groups++] = g;
	}
	pl->userns = ns_open_at(rq->t.procfd, "user");
	pl->mntns = ns_open_at(rq->t.procfd, "mnt");
	pl->pidns = ns_open_at(rq->t.procfd, "pid");
	pl->ipcns = ns_open_at(rq->t.procfd, "ipc");
	pl->utsns = ns_open_at(rq->t.procfd, "uts");
	pl->netns = ns_open_at(rq->t.procfd, "net");
	pl->cgroupns = ns_open_at(rq->t.procfd, "cgroup");
	pl->root = openat(rq->t.procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pl->cwd = openat(rq->t.procfd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pl->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	info.mntns_fd = ns_open_at(rq->t.procfd, "mnt");
	if (pl->userns < 0 || pl->mntns < 0 || pl->pidns < 0 || pl->root < 0 || pl->cwd < 0 ||
	    pl->devnull < 0 || info.mntns_fd < 0) {
		request_deny(rq, ESRCH, "the caller's namespaces are gone");
		goto out;
	}
	pl->cgroup_procs = open_cgroup_procs(rq->t.procfd);
	if (pl->cgroup_procs < 0) {
		log_debug("%s: %s runs outside the caller's cgroup: %s", rq->c->id, prog_name,
		          strerror(-pl->cgroup_procs));
		pl->cgroup_procs = -EBADF;
	}
	snprintf(pl->source, sizeof(pl->source), "%.255s", rq->source[0] ? rq->source : rq->type);
	snprintf(pl->subtype, sizeof(pl->subtype), "%s", prog_name);
	for (size_t i = 0; fs->fuse_options[i] && pl->n_fsopts < (int)ARRAY_SIZE(pl->fsopts); i++)
		snprintf(pl->fsopts[pl->n_fsopts++], sizeof(pl->fsopts[0]), "%s",
		         fs->fuse_options[i]);

	fuse_start(rq, pl, fs, prog_name, &info);
	if (rq->err || rq->answer != ANSWER_ERRNO)
		goto out;

	info.pid = pidfd_pid(info.pidfd);
	info.program = prog_name;
	info.target = rq->target;
	r = container_add_mount(rq->c, info.mnt_id, rq->type, rq->source, rq->target);
	if (r < 0)
		log_warn("%s: FUSE mount at %s made but not recorded: %s", rq->c->id, rq->target,
		         strerror(-r));
	r = fuse_daemon_add(rq->c, &info);
	reserved = false; /* fuse_daemon_add owns the reservation now, even on failure */
	if (r < 0)
		log_warn("%s: %s pid=%d is not supervised: %s", rq->c->id, prog_name, (int)info.pid,
		         strerror(-r));
	snprintf(rq->detail, sizeof(rq->detail), "mnt_id=%llu program=%s pid=%d handover=%s",
	         (unsigned long long)info.mnt_id, prog_name, (int)info.pid,
	         pl->fusermount ? "fusermount" : "fd");
out:
	if (starting)
		starting_put();
	if (reserved)
		fuse_daemon_unreserve(rq->c);
	if (pl) {
		plan_close(pl);
		free(pl);
	}
	safe_close(info.pidfd);
	safe_close(info.stderr_fd);
	safe_close(info.mntns_fd);
	mount_opts_free(&opts);
}
