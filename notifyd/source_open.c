/* SPDX-License-Identifier: MIT */
#include "notifyd/source_open.h"
#include "notifyd/ns_child.h"
#include "notifyd/caller_cgroup.h"
#include "notifyd/device_allow.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define OPEN_TIMEOUT_MS 5000
/*
 * The superblock helper's whole life: a file-system creation may read a
 * large journal and replay it.  Past this it is killed (a frozen cgroup).
 */
#define CREATE_TIMEOUT_MS 30000
#define CHECKER_STACK     (64 * 1024)

/* 32-bit ids where the plain calls take 16-bit ones (i386). */
#ifdef SYS_setgroups32
#define SYS_SETGROUPS SYS_setgroups32
#define SYS_SETRESGID SYS_setresgid32
#define SYS_SETRESUID SYS_setresuid32
#else
#define SYS_SETGROUPS SYS_setgroups
#define SYS_SETRESGID SYS_setresgid
#define SYS_SETRESUID SYS_setresuid
#endif

enum {
	STEP_DEVICES_CGROUP = 1,
	STEP_CREDS,
	STEP_USERNS,
	STEP_CAPS,
	STEP_OPEN,
	STEP_CHECKER,
	STEP_REOPEN,
	STEP_ALLOW,
	STEP_CREATE,
	STEP_NAME,
};

static const char *const step_names[] = {
    [STEP_DEVICES_CGROUP] = "joining the caller's devices cgroup",
    [STEP_CREDS] = "taking the caller's ids",
    [STEP_USERNS] = "entering the caller's user namespace",
    [STEP_CAPS] = "taking the caller's capabilities",
    [STEP_OPEN] = "opening the source as the caller",
    [STEP_CHECKER] = "starting the source check in the caller's cgroup",
    [STEP_REOPEN] = "keeping the source open read-only",
    [STEP_ALLOW] = "moving into the cgroup that allows only the source device",
    [STEP_CREATE] = "creating the superblock with only the source device allowed",
    [STEP_NAME] = "naming the source as the caller did",
};

struct open_args {
	int devices_procs, userns_fd, path_fd, oflags;
	const struct proc_creds *cr;
	char path[64];
};

static int set_caps(uint64_t caps)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {
	    {.effective = (uint32_t)caps, .permitted = (uint32_t)caps},
	    {.effective = (uint32_t)(caps >> 32), .permitted = (uint32_t)(caps >> 32)},
	};
	return (int)syscall(SYS_capset, &h, d);
}

/*
 * In a helper already in the caller's cgroups: become the caller (its host
 * ids, user namespace, effective capabilities) and open a->path.  Returns
 * the fd or -errno with *step.  Async-signal-safe; irreversible.
 */
static int open_as_caller_steps(const struct open_args *a, int *step)
{
	const struct proc_creds *cr = a->cr;
	int fd;

	/*
	 * The caller's host ids, keeping our capabilities for the setns below.
	 * Raw system calls: glibc's wrappers would try to apply them to every
	 * thread notifyd had (setxid broadcast), taking its locks in a copy.
	 */
	*step = STEP_CREDS;
	if (syscall(SYS_SETGROUPS, (size_t)cr->n_groups, cr->groups) < 0 ||
	    syscall(SYS_SETRESGID, cr->fsgid, cr->fsgid, cr->fsgid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_SETRESUID, cr->fsuid, cr->fsuid, cr->fsuid) < 0)
		return -errno;
	/*
	 * The id change reset the memory's dumpable flag to fs.suid_dumpable;
	 * with 1 ("debug") the caller could ptrace us, and this memory may be
	 * a host-root helper's (source_create_as_caller()).
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	if (a->userns_fd >= 0) {
		*step = STEP_CAPS;
		if (set_caps(1ULL << CAP_SYS_ADMIN) < 0)
			return -errno;
		*step = STEP_USERNS;
		if (setns(a->userns_fd, CLONE_NEWUSER) < 0)
			return -errno;
	}
	/* Exactly the caller's effective capabilities, in its user namespace. */
	*step = STEP_CAPS;
	if (set_caps(cr->cap_eff) < 0)
		return -errno;
	*step = STEP_OPEN;
	fd = open(a->path, a->oflags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	*step = 0;
	return fd;
}

/* In the helper, already in the caller's cgroup v2 directory; async-signal-safe. */
static __attribute__((noreturn)) void open_child(void *arg, int sock)
{
	const struct open_args *a = arg;
	int fd, step;

	if (a->devices_procs >= 0 && write(a->devices_procs, "0", 1) != 1)
		ns_child_report(sock, errno, STEP_DEVICES_CGROUP, 0, -1);
	fd = open_as_caller_steps(a, &step);
	if (fd < 0)
		ns_child_report(sock, -fd, step, 0, -1);
	ns_child_report(sock, 0, 0, 0, fd);
}

/*
 * What both helpers need: the caller's cgroups and user namespace (-EBADF
 * where they are notifyd's own).  Fills a and the fds it refers to.
 */
static int prepare(int procfd, const struct proc_creds *cr, int path_fd, int oflags,
                   struct open_args *a, int *v2_dir, int *v1_procs, int *userns, const char **why)
{
	_cleanup_close_ int own = -EBADF;
	int r;

	*why = "helper";
	r = caller_cgroup_open(procfd, v2_dir, v1_procs, why);
	if (r < 0)
		return r;
	*userns = ns_open_at(procfd, "user");
	own = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	if (*userns < 0 || own < 0) {
		*why = "opening the caller's user namespace";
		return *userns < 0 ? *userns : -errno;
	}
	r = ns_same(*userns, own);
	if (r < 0)
		return r;
	if (r == 1)
		*userns = safe_close(*userns);

	*a = (struct open_args){
	    .devices_procs = *v1_procs,
	    .userns_fd = *userns,
	    .path_fd = path_fd,
	    .oflags = oflags & (O_ACCMODE | O_NONBLOCK),
	    .cr = cr,
	};
	snprintf(a->path, sizeof(a->path), "/proc/self/fd/%d", path_fd);
	return 0;
}

/* Why a helper run failed, from ns_child_run()'s answer. */
static int helper_result(int r, const struct ns_child_msg *m, const char **why)
{
	if (r < 0) {
		*why = r == -ETIMEDOUT ? "the helper did not answer in time"
		       : r == -EAGAIN  ? "no room for a helper in the caller's cgroup (pids.max)"
		                       : "starting the helper in the caller's cgroup";
		return r;
	}
	if (m->err) {
		*why =
		    m->step > 0 && (size_t)m->step < ARRAY_SIZE(step_names) && step_names[m->step]
		        ? step_names[m->step]
		        : "helper";
		return -m->err;
	}
	return 0;
}

int source_open_as_caller(int procfd, const struct proc_creds *cr, int path_fd, int oflags,
                          const char **why)
{
	_cleanup_close_ int v2_dir = -EBADF, v1_procs = -EBADF, userns = -EBADF;
	const char *dummy;
	struct open_args args;
	struct ns_child_msg m;
	struct stat a, b;
	int fd = -EBADF, r;

	if (!why)
		why = &dummy;
	r = prepare(procfd, cr, path_fd, oflags, &args, &v2_dir, &v1_procs, &userns, why);
	if (r < 0)
		return r;
	const int keep[] = {v1_procs, userns, path_fd};
	r = ns_child_run(v2_dir, 0, keep, ARRAY_SIZE(keep), open_child, &args, OPEN_TIMEOUT_MS, &m,
	                 &fd);
	r = helper_result(r, &m, why);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	if (fd < 0) {
		*why = "the helper sent no fd";
		return -EIO;
	}
	/* The same inode we resolved, as it must be. */
	if (fstat(fd, &a) < 0 || fstat(path_fd, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino || ((a.st_mode ^ b.st_mode) & S_IFMT)) {
		safe_close(fd);
		*why = "the helper opened another file";
		return -EIO;
	}
	return fd;
}

/* "/proc/self/fd/N" without stdio (async-signal-safe); buf holds 32 bytes. */
static void fd_path(char *buf, int fd)
{
	static const char prefix[] = "/proc/self/fd/";
	char digits[12];
	size_t n = 0, len = sizeof(prefix) - 1;
	unsigned v = (unsigned)fd;

	memcpy(buf, prefix, len);
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) && n < sizeof(digits));
	while (n)
		buf[len++] = digits[--n];
	buf[len] = '\0';
}

struct create_args {
	struct open_args open;
	int fsfd;
	int mntns;        /* the caller's mount namespace, where path_fd's mount is */
	const char *name; /* the caller's source string */
	int allow_procs;  /* device_allow.h: the cgroup that allows only the source */
	pid_t helper;
	/* Written by the checker, which shares the helper's memory. */
	int open_fd, open_err, open_step;
};

/*
 * The checker: a vfork-style child of the create helper (its memory and fd
 * table).  It becomes the caller and opens the source; the fd lands in the
 * shared table.  Async-signal-safe.
 */
static int checker_main(void *p)
{
	struct create_args *c = p;
	int step;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != c->helper)
		_exit(1);
	int fd = open_as_caller_steps(&c->open, &step);
	c->open_step = step;
	c->open_err = fd < 0 ? -fd : 0;
	c->open_fd = fd;
	return 0;
}

/*
 * Walk name from this process's root and cwd (both the root of an empty
 * tmpfs of its own), making each directory it passes through, and mount the
 * clone of the checked node (node) on its last component, so that the
 * kernel's lookup of name at FSCONFIG_CMD_CREATE reaches that node and
 * nothing else: the tree holds only these directories and the node, no
 * symlink, no /proc, and ".." stops at the root.  Leaves the cwd at the root.
 * Async-signal-safe.
 */
static int build_name(const char *name, int node)
{
	char comp[NAME_MAX + 1];
	const char *p = name, *e;
	size_t len;
	int r = 0;

	for (;;) {
		while (*p == '/')
			p++;
		for (e = p; *e && *e != '/'; e++)
			;
		len = (size_t)(e - p);
		if (len == 0 || len > NAME_MAX) { /* empty or ends in '/': never a device */
			r = len ? -ENAMETOOLONG : -ENOTDIR;
			break;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		for (p = e; *p == '/'; p++)
			;
		if (*p == '\0') {
			if (*e == '/' || !strcmp(comp, ".") || !strcmp(comp, "..")) {
				r = -ENOTDIR;
				break;
			}
			if (mknod(comp, S_IFREG | 0600, 0) < 0 ||
			    move_mount(node, "", AT_FDCWD, comp, MOVE_MOUNT_F_EMPTY_PATH) < 0)
				r = -errno;
			break;
		}
		if (strcmp(comp, ".") == 0)
			continue;
		if ((strcmp(comp, "..") != 0 && mkdir(comp, 0700) < 0 && errno != EEXIST) ||
		    chdir(comp) < 0) {
			r = -errno;
			break;
		}
	}
	if (chdir("/") < 0 && r == 0)
		r = -errno;
	return r;
}

/*
 * Give fsfd the caller's own source string, as mount(2) would have: the
 * kernel records it for mountinfo, findmnt and df, and looks it up at
 * FSCONFIG_CMD_CREATE.  That lookup must reach the checked node and nothing
 * else, so it runs in a view made for it: a bind clone of the node (taken in
 * the caller's mount namespace, where the node's mount is; no path is
 * looked up there) on that very path in an empty tmpfs this process
 * chroot()s into.  Where that cannot be done (a string fsconfig refuses:
 * 256 bytes or more; the caller left the namespace) the source is the
 * checked fd, /proc/self/fd/N, as before.  Returns 0, or -errno with *step;
 * the only failure is one that would leave us in the caller's namespace.
 * Async-signal-safe.
 */
static int name_source(const struct create_args *c, int *step)
{
	int own = -1, root = -1, node = -1, tmp = -1, fs = -1, r = -EINVAL;
	bool chrooted = false;
	struct stat a, b;
	char path[32];

	*step = STEP_NAME;
	if (!c->name || !c->name[0] || strnlen(c->name, 256) >= 256 || c->mntns < 0)
		goto fallback;
	own = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (own < 0 || root < 0 || setns(c->mntns, CLONE_NEWNS) < 0)
		goto fallback;
	node = open_tree(c->open.path_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	/* setns() also took us to that namespace's root: back to ours, or stop here. */
	if (setns(own, CLONE_NEWNS) < 0)
		return -errno;
	/* The very node the checker opened. */
	if (node < 0 || fstat(node, &a) < 0 || fstat(c->open.path_fd, &b) < 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino || ((a.st_mode ^ b.st_mode) & S_IFMT) ||
	    !(S_ISBLK(a.st_mode) || S_ISREG(a.st_mode)))
		goto fallback;
	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto fallback;
	tmp =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (tmp < 0 || fchdir(tmp) < 0 || chroot(".") < 0)
		goto fallback;
	chrooted = true;
	if (build_name(c->name, node) < 0 ||
	    fsconfig(c->fsfd, FSCONFIG_SET_STRING, "source", c->name, 0) < 0)
		goto fallback;
	r = 0;
	goto out;
fallback:
	/* Back to notifyd's root, where /proc/self/fd/N is the checked node. */
	if (chrooted && (fchdir(root) < 0 || chroot(".") < 0 || chdir("/") < 0)) {
		r = -errno;
		goto out;
	}
	fd_path(path, c->open.path_fd);
	r = fsconfig(c->fsfd, FSCONFIG_SET_STRING, "source", path, 0) < 0 ? -errno : 0;
out:
	if (own >= 0)
		close(own);
	if (root >= 0)
		close(root);
	if (node >= 0)
		close(node);
	if (tmp >= 0)
		close(tmp);
	if (fs >= 0)
		close(fs);
	return r;
}

/*
 * The create helper: host root, in the caller's cgroup v2 directory since
 * its clone.  Joins the v1 devices group, lets the checker open the source
 * as the caller, then moves into the cgroup that allows only the source
 * device and runs FSCONFIG_CMD_CREATE with host privilege: the kernel may
 * open the source for the new superblock and no other device (an external
 * journal, another btrfs member, an xfs log device), even one the caller's
 * rules allow.  Async-signal-safe.
 */
static __attribute__((noreturn)) void create_child(void *arg, int sock)
{
	struct create_args *c = arg;
	const int rw = (c->open.oflags & O_ACCMODE) != O_RDONLY;
	char path[32];
	struct stat a, b;
	siginfo_t si;
	void *stack;
	long pid;

	if (c->open.devices_procs >= 0 && write(c->open.devices_procs, "0", 1) != 1)
		ns_child_report(sock, errno, STEP_DEVICES_CGROUP, 0, -1);
	/*
	 * Taking the caller's ids and user namespace is for good, and
	 * CMD_CREATE needs CAP_SYS_ADMIN in the initial user namespace: the
	 * check runs in a child.  It shares our memory and fds and we wait
	 * (vfork): no copy of the page tables; it cannot block on anything the
	 * container controls but what our timeout already covers.
	 */
	stack = mmap(NULL, CHECKER_STACK, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		ns_child_report(sock, errno, STEP_CHECKER, 0, -1);
	c->helper = (pid_t)getpid();
	c->open_fd = -1;
	c->open_err = ECHILD;
	c->open_step = STEP_CHECKER;
	pid = clone(checker_main, (char *)stack + CHECKER_STACK,
	            CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, c);
	if (pid < 0)
		ns_child_report(sock, errno, STEP_CHECKER, 0, -1);
	while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0 && errno == EINTR)
		;
	if (c->open_err)
		ns_child_report(sock, c->open_err, c->open_step, 0, -1);
	/* The same inode we resolved, as it must be. */
	if (fstat(c->open_fd, &a) < 0 || fstat(c->open.path_fd, &b) < 0 || a.st_dev != b.st_dev ||
	    a.st_ino != b.st_ino || ((a.st_mode ^ b.st_mode) & S_IFMT))
		ns_child_report(sock, EIO, STEP_OPEN, 0, -1);
	/*
	 * Keep the device open until the superblock holds it (the last close
	 * of a block device drops its page cache, which the mount would read
	 * again), but read-only: where writes to mounted block devices are
	 * restricted, an open writer makes the mount fail with EBUSY.
	 */
	if (rw) {
		fd_path(path, c->open_fd);
		/* Closed by our exit, after the creation. */
		int ro = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (ro < 0)
			ns_child_report(sock, errno, STEP_REOPEN, 0, -1);
		close(c->open_fd);
	}
	/*
	 * The source passed the caller's rules; from here on the kernel may
	 * open nothing else for this superblock: an external journal, another
	 * member or a log device the image names is refused even where the
	 * caller's own rules would allow it (`b 7:* rwm` reaches every host
	 * loop device).  Our v1 devices group stays the caller's.
	 */
	int step, r = name_source(c, &step);
	if (r < 0)
		ns_child_report(sock, -r, step, 0, -1);
	if (write(c->allow_procs, "0", 1) != 1)
		ns_child_report(sock, errno, STEP_ALLOW, 0, -1);
	if (fsconfig(c->fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		ns_child_report(sock, errno, STEP_CREATE, 0, -1);
	ns_child_report(sock, 0, 0, 0, -1);
}

int source_create_as_caller(int procfd, const struct proc_creds *cr, int path_fd, const char *name,
                            int oflags, int fsfd, const char **why, bool *in_create)
{
	_cleanup_close_ int v2_dir = -EBADF, v1_procs = -EBADF, userns = -EBADF, mntns = -EBADF;
	struct create_args args = {.fsfd = fsfd, .name = name};
	struct device_allow allow = DEVICE_ALLOW_INIT;
	struct ns_child_msg m = {0};
	struct stat st;
	int r;

	*in_create = false;
	r = prepare(procfd, cr, path_fd, oflags, &args.open, &v2_dir, &v1_procs, &userns, why);
	if (r < 0)
		return r;
	if (fstat(path_fd, &st) < 0) {
		*why = "reading the source";
		return -errno;
	}
	/* An image file as source: no block device at all (0:0 never exists). */
	r = device_allow_make(S_ISBLK(st.st_mode) ? st.st_rdev : makedev(0, 0), &allow, why);
	if (r < 0)
		return r;
	args.allow_procs = allow.procs;
	/* Where path_fd's mount is (name_source()); without it the fd is the name. */
	mntns = ns_open_at(procfd, "mnt");
	args.mntns = mntns;
	const int keep[] = {v1_procs, userns, path_fd, fsfd, allow.procs, mntns};
	r = ns_child_run(v2_dir, 0, keep, ARRAY_SIZE(keep), create_child, &args, CREATE_TIMEOUT_MS,
	                 &m, NULL);
	/* The helper is reaped (or was never made): its cgroup is empty. */
	device_allow_remove(&allow);
	r = helper_result(r, &m, why);
	if (r < 0 && m.step == STEP_CREATE)
		*in_create = true;
	return r;
}
