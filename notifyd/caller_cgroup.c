/* SPDX-License-Identifier: MIT */
#include "notifyd/caller_cgroup.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount/libmount.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Where notifyd sees the root of a cgroup hierarchy: the first mount of
 * fstype (cgroup2, or cgroup with the devices controller) whose root is the
 * hierarchy's root.  Returns an O_PATH fd of it or -ENOENT.  The table is
 * notifyd's own (libmount parses it and undoes its escapes).
 */
static int cgroup_root_open(bool v1_devices)
{
	struct libmnt_table *tb = mnt_new_table();
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	int r = -ENOMEM;

	if (!tb || !it)
		goto out;
	r = mnt_table_parse_file(tb, "/proc/self/mountinfo");
	if (r < 0)
		goto out;
	r = -ENOENT;
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *root = mnt_fs_get_root(fs), *target = mnt_fs_get_target(fs);
		const char *type = mnt_fs_get_fstype(fs), *opts = mnt_fs_get_fs_options(fs);
		int fd;

		if (!root || !target || strcmp(root, "/") != 0)
			continue;
		if (!type || strcmp(type, v1_devices ? "cgroup" : "cgroup2") != 0)
			continue;
		if (v1_devices &&
		    (!opts || mnt_optstr_get_option(opts, "devices", NULL, NULL) != 0))
			continue;
		fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			r = fd;
			break;
		}
	}
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return r;
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

/* See caller_cgroup.h. */
int caller_cgroup_open(int procfd, int *v2_dir, int *v1_procs, const char **why)
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

int caller_cgroup_v2_procs(int procfd)
{
	char buf[8192];
	char *v2, *v1;
	_cleanup_close_ int root = -EBADF;

	if (fd_read_file_at(procfd, "cgroup", buf, sizeof(buf)) < 0)
		return -ESRCH;
	parse_cgroups(buf, &v2, &v1);
	if (!v2)
		return -ENOMEDIUM;
	root = cgroup_root_open(false);
	if (root < 0)
		return -ENOMEDIUM;
	return cgroup_open_beneath(root, strcmp(v2, "/") ? v2 : "", "cgroup.procs", O_WRONLY);
}

/* See caller_cgroup.h. */
int caller_cgroup_transient_dir(bool v1_devices)
{
	char buf[8192], rel[PATH_MAX], *v2, *v1, *own, *slash;
	_cleanup_close_ int root = -EBADF, parent = -EBADF;
	int fd;

	if (fd_read_file_at(AT_FDCWD, "/proc/self/cgroup", buf, sizeof(buf)) < 0)
		return -ESRCH;
	parse_cgroups(buf, &v2, &v1);
	own = v1_devices ? v1 : v2;
	/* No line for a mounted hierarchy: notifyd is in its root. */
	if (!own)
		own = "/";
	root = cgroup_root_open(v1_devices);
	if (root < 0)
		return -ENOMEDIUM;
	/*
	 * Beside notifyd's own cgroup, never beneath it: in cgroup v2 a cgroup
	 * with processes may not enable controllers for its children, and a
	 * service manager may have delegated notifyd's own cgroup to it.
	 */
	snprintf(rel, sizeof(rel), "%s", own);
	slash = strrchr(rel, '/');
	if (slash)
		*slash = '\0';
	parent = cgroup_open_beneath(root, rel, NULL, O_RDONLY | O_DIRECTORY);
	if (parent < 0)
		return parent;
	if (mkdirat(parent, CALLER_CGROUP_TRANSIENT, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = cgroup_open_beneath(parent, "/" CALLER_CGROUP_TRANSIENT, NULL, O_RDONLY | O_DIRECTORY);
	return fd;
}
