/* SPDX-License-Identifier: MIT */
#include "notifyd/source_open.h"
#include "notifyd/ns_child.h"
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OPEN_TIMEOUT_MS 5000

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
};

static const char *const step_names[] = {
    [STEP_DEVICES_CGROUP] = "joining the caller's devices cgroup",
    [STEP_CREDS] = "taking the caller's ids",
    [STEP_USERNS] = "entering the caller's user namespace",
    [STEP_CAPS] = "taking the caller's capabilities",
    [STEP_OPEN] = "opening the source as the caller",
};

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

/*
 * Where notifyd sees the root of a cgroup hierarchy: the first mount of
 * fstype (cgroup2, or cgroup with the devices controller) whose root is the
 * hierarchy's root.  Returns an O_PATH fd of it or -ENOENT.
 */
static int cgroup_root_open(bool v1_devices)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL, *root, *mnt, *sep, *fstype, *opts;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		fstype = strtok_r(sep + 3, " \n", &save);
		(void)strtok_r(NULL, " \n", &save); /* source */
		opts = strtok_r(NULL, " \n", &save);
		if (!fstype || !opts)
			continue;
		if (v1_devices) {
			if (strcmp(fstype, "cgroup") != 0)
				continue;
			char o[512];
			snprintf(o, sizeof(o), ",%s,", opts);
			if (!strstr(o, ",devices,"))
				continue;
		} else if (strcmp(fstype, "cgroup2") != 0) {
			continue;
		}
		save = NULL;
		(void)strtok_r(line, " ", &save); /* mount id */
		(void)strtok_r(NULL, " ", &save); /* parent id */
		(void)strtok_r(NULL, " ", &save); /* major:minor */
		root = strtok_r(NULL, " ", &save);
		mnt = strtok_r(NULL, " ", &save);
		if (!root || !mnt || strcmp(root, "/") != 0)
			continue;
		unescape(mnt);
		int fd = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
	}
	return -ENOENT;
}

/* rel ("/a/b", from /proc/PID/cgroup) beneath the hierarchy root rootfd. */
static int cgroup_open_beneath(int rootfd, const char *rel, const char *file, int oflags)
{
	char path[PATH_MAX];
	struct open_how how = {
	    .flags = (uint64_t)(oflags | O_CLOEXEC),
	    .resolve =
	        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	int n = snprintf(path, sizeof(path), ".%s%s%s", rel, file ? "/" : "", file ? file : "");

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* The v2 path and the v1 devices path of a /proc/PID/cgroup text (cut in place). */
static void parse_cgroups(char *buf, char **v2, char **v1)
{
	*v2 = *v1 = NULL;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c1 || !c2 || c2[1] != '/')
			continue;
		*c1 = *c2 = '\0';
		if (strcmp(line, "0") == 0 && c1[1] == '\0') {
			*v2 = c2 + 1;
		} else {
			char ctl[256];
			snprintf(ctl, sizeof(ctl), ",%s,", c1 + 1);
			if (strstr(ctl, ",devices,"))
				*v1 = c2 + 1;
		}
	}
}

static bool same_path(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/*
 * The caller's cgroup v2 directory (O_RDONLY, for CLONE_INTO_CGROUP) and its
 * v1 devices group's cgroup.procs (O_WRONLY), each -EBADF when it has none
 * or when it is notifyd's own (the helper inherits that one; a v1 move would
 * cost a cgroup-wide lock for nothing).
 */
static int caller_cgroups(int procfd, int *v2_dir, int *v1_procs, const char **why)
{
	char buf[8192], own_buf[8192];
	char *v2, *v1, *own_v2 = NULL, *own_v1 = NULL;
	int r;

	*v2_dir = *v1_procs = -EBADF;
	r = (int)fd_read_file_at(procfd, "cgroup", buf, sizeof(buf));
	if (r < 0) {
		*why = "reading the caller's /proc/PID/cgroup";
		return r;
	}
	parse_cgroups(buf, &v2, &v1);
	if (fd_read_file_at(AT_FDCWD, "/proc/self/cgroup", own_buf, sizeof(own_buf)) >= 0)
		parse_cgroups(own_buf, &own_v2, &own_v1);
	if (!v2 && !v1) {
		*why = "the caller is in no cgroup notifyd can see";
		return -EPERM;
	}
	if (v2 && !same_path(v2, own_v2)) {
		_cleanup_close_ int root = cgroup_root_open(false);
		if (root < 0) {
			*why = "no cgroup2 hierarchy mounted where notifyd can see it";
			return -EPERM;
		}
		*v2_dir = cgroup_open_beneath(root, v2, NULL, O_RDONLY | O_DIRECTORY);
		if (*v2_dir < 0) {
			*why = "opening the caller's cgroup v2 directory";
			return -EPERM;
		}
	}
	if (v1 && !same_path(v1, own_v1)) {
		_cleanup_close_ int root = cgroup_root_open(true);
		if (root < 0 && strcmp(v1, "/") != 0) {
			*why =
			    "the caller has a cgroup v1 devices group but no devices hierarchy is "
			    "mounted where notifyd can see it";
			*v2_dir = safe_close(*v2_dir);
			return -EPERM;
		}
		if (root >= 0) {
			*v1_procs = cgroup_open_beneath(root, strcmp(v1, "/") ? v1 : "",
			                                "cgroup.procs", O_WRONLY);
			if (*v1_procs < 0) {
				*why = "opening the caller's devices cgroup";
				*v2_dir = safe_close(*v2_dir);
				return -EPERM;
			}
		}
	}
	return 0;
}

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

/* In the helper, already in the caller's cgroup v2 directory; async-signal-safe. */
static __attribute__((noreturn)) void open_child(void *arg, int sock)
{
	const struct open_args *a = arg;
	const struct proc_creds *cr = a->cr;
	int fd;

	if (a->devices_procs >= 0 && write(a->devices_procs, "0", 1) != 1)
		ns_child_report(sock, errno, STEP_DEVICES_CGROUP, 0, -1);
	/*
	 * The caller's host ids, keeping our capabilities for the setns below.
	 * Raw system calls: glibc's wrappers would try to apply them to every
	 * thread notifyd had (setxid broadcast), taking its locks in a copy.
	 */
	if (syscall(SYS_SETGROUPS, (size_t)cr->n_groups, cr->groups) < 0 ||
	    syscall(SYS_SETRESGID, cr->fsgid, cr->fsgid, cr->fsgid) < 0 ||
	    prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_SETRESUID, cr->fsuid, cr->fsuid, cr->fsuid) < 0)
		ns_child_report(sock, errno, STEP_CREDS, 0, -1);
	if (a->userns_fd >= 0) {
		if (set_caps(1ULL << CAP_SYS_ADMIN) < 0)
			ns_child_report(sock, errno, STEP_CAPS, 0, -1);
		if (setns(a->userns_fd, CLONE_NEWUSER) < 0)
			ns_child_report(sock, errno, STEP_USERNS, 0, -1);
	}
	/* Exactly the caller's effective capabilities, in its user namespace. */
	if (set_caps(cr->cap_eff) < 0)
		ns_child_report(sock, errno, STEP_CAPS, 0, -1);
	fd = open(a->path, a->oflags | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		ns_child_report(sock, errno, STEP_OPEN, 0, -1);
	ns_child_report(sock, 0, 0, 0, fd);
}

int source_open_as_caller(int procfd, const struct proc_creds *cr, int path_fd, int oflags,
                          const char **why)
{
	_cleanup_close_ int v2_dir = -EBADF, v1_procs = -EBADF, userns = -EBADF, own = -EBADF;
	const char *dummy;
	struct ns_child_msg m;
	struct stat a, b;
	int fd = -EBADF, r;

	if (!why)
		why = &dummy;
	*why = "helper";
	r = caller_cgroups(procfd, &v2_dir, &v1_procs, why);
	if (r < 0)
		return r;
	userns = ns_open_at(procfd, "user");
	own = open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC);
	if (userns < 0 || own < 0) {
		*why = "opening the caller's user namespace";
		return userns < 0 ? userns : -errno;
	}
	r = ns_same(userns, own);
	if (r < 0)
		return r;
	if (r == 1)
		userns = safe_close(userns);

	struct open_args args = {
	    .devices_procs = v1_procs,
	    .userns_fd = userns,
	    .path_fd = path_fd,
	    .oflags = oflags & (O_ACCMODE | O_NONBLOCK),
	    .cr = cr,
	};
	snprintf(args.path, sizeof(args.path), "/proc/self/fd/%d", path_fd);
	const int keep[] = {v1_procs, userns, path_fd};
	r = ns_child_run(v2_dir, keep, ARRAY_SIZE(keep), open_child, &args, OPEN_TIMEOUT_MS, &m,
	                 &fd);
	if (r < 0) {
		*why = r == -ETIMEDOUT ? "the helper did not answer in time"
		       : r == -EAGAIN  ? "no room for a helper in the caller's cgroup (pids.max)"
		                       : "starting the helper in the caller's cgroup";
		return r;
	}
	if (m.err) {
		*why = m.step > 0 && (size_t)m.step < ARRAY_SIZE(step_names) && step_names[m.step]
		           ? step_names[m.step]
		           : "helper";
		return -m.err;
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
