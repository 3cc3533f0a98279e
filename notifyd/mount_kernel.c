/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_kernel.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int fs_lookup_registered(const char *type, bool *needs_dev)
{
	char buf[4096];
	ssize_t n = fd_read_file_at(AT_FDCWD, "/proc/filesystems", buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *tab = strchr(line, '\t');
		if (!tab || strcmp(tab + 1, type) != 0)
			continue;
		*needs_dev = strncmp(line, "nodev", 5) != 0;
		return 0;
	}
	return -ENODEV;
}

int kernel_fs_lookup(const char *type, bool autoload, bool *needs_dev)
{
	int r = fs_lookup_registered(type, needs_dev);

	if (r == -ENODEV && autoload) {
		int fd = fsopen(type, FSOPEN_CLOEXEC);
		if (fd < 0)
			return -ENODEV;
		close(fd);
		r = fs_lookup_registered(type, needs_dev);
	}
	return r;
}

void kernel_mount_messages(int fsfd, char *msg, size_t msglen)
{
	char line[512];
	size_t len = 0;
	ssize_t n;

	if (msg && msglen)
		msg[0] = '\0';
	while ((n = read(fsfd, line, sizeof(line) - 1)) > 0) {
		if (!msg || msglen == 0)
			continue;
		line[n] = '\0';
		line[strcspn(line, "\n")] = '\0';
		len += (size_t)snprintf(msg + len, len < msglen ? msglen - len : 0, "%s%s",
		                        len ? "; " : "", line);
	}
}

static int fs_set(int fsfd, const char *opt)
{
	_cleanup_free_ char *key = strdup(opt);
	char *eq;
	int r;

	if (!key)
		return -ENOMEM;
	eq = strchr(key, '=');
	if (eq) {
		*eq = '\0';
		r = fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
	} else {
		r = fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
	}
	return r < 0 ? -errno : 0;
}

int kernel_mount_prepare(const struct kernel_mount *km, char *msg, size_t msglen)
{
	_cleanup_close_ int fsfd = -EBADF;
	const struct mount_flags *f = km->flags;
	int r = 0;

	if (msg && msglen)
		msg[0] = '\0';
	fsfd = fsopen(km->type, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	/*
	 * A device source (source_fd) is set by the helper that creates the
	 * superblock (source_create_as_caller()): the kernel looks it up by
	 * path then, and the caller's string must name the checked node there.
	 */
	if (km->source_fd < 0 && km->source && km->source[0]) {
		r = fsconfig(fsfd, FSCONFIG_SET_STRING, "source", km->source, 0) < 0 ? -errno : 0;
	}
	for (size_t i = 0; r >= 0 && i < km->opts->n; i++)
		r = fs_set(fsfd, km->opts->v[i]);
	if (r >= 0 && f->sb_ro)
		r = fs_set(fsfd, "ro");
	if (r >= 0 && f->sync)
		r = fs_set(fsfd, "sync");
	if (r >= 0 && f->dirsync)
		r = fs_set(fsfd, "dirsync");
	if (r >= 0 && f->lazytime)
		r = fs_set(fsfd, "lazytime");
	if (r < 0) {
		kernel_mount_messages(fsfd, msg, msglen);
		return r;
	}
	return TAKE_FD(fsfd);
}

int kernel_mount_finish(int fsfd, const struct kernel_mount *km)
{
	_cleanup_close_ int mntfd = fsmount(fsfd, FSMOUNT_CLOEXEC, (unsigned)km->flags->attr);

	if (mntfd < 0)
		return -errno;
	if (km->userns_fd >= 0) {
		struct mount_attr attr = {
		    .attr_set = MOUNT_ATTR_IDMAP,
		    .userns_fd = (uint64_t)km->userns_fd,
		};
		if (mount_setattr(mntfd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
			return -errno;
	}
	return TAKE_FD(mntfd);
}

int kernel_mount_attach(int mntfd, int target_fd)
{
	if (move_mount(mntfd, "", target_fd, "",
	               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

int kernel_mount_id(int fd, uint64_t *ret)
{
	struct statx stx = {0};

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID_UNIQUE, &stx) < 0)
		return -errno;
	if (!(stx.stx_mask & (STATX_MNT_ID_UNIQUE | STATX_MNT_ID)))
		return -EOPNOTSUPP;
	*ret = stx.stx_mnt_id;
	return 0;
}
