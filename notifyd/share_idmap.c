/* SPDX-License-Identifier: MIT */
/*
 * Why an inverse namespace.  A container's files sit on the host's disk
 * under the host ids its user namespace maps to: its root's files are disk
 * uid 100000.  An idmapped mount shows a file of disk id d as the id the
 * mount's namespace maps d to, taking d as an id inside that namespace; so
 * a mount idmapped with the container's own namespace would show disk
 * 100000 as 200000.  The share's vfsd runs as host root and must see disk
 * 100000 as 0, and store what 0 creates as disk 100000: the mount is
 * idmapped with a namespace in which id 100000 maps to host 0, the
 * container's maps turned around.  Ids the container does not map stay
 * unmapped (the overflow id, no capability applies to them).
 *
 * The namespace is made by a clone3(CLONE_NEWUSER) child that waits on a
 * pipe (holding nothing else of notifyd's) while notifyd writes its maps
 * and opens its ns/user; then notifyd kills it and the fd keeps the
 * namespace.
 */
#include "notifyd/share_idmap.h"
#include "notifyd/ns_child.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int share_idmap_invert(const char *map, char *buf, size_t size)
{
	size_t len = 0;
	const char *p = map;

	buf[0] = '\0';
	while (*p) {
		unsigned long long in, out, count;
		int used = 0, n;

		if (sscanf(p, " %llu %llu %llu%n", &in, &out, &count, &used) != 3)
			break;
		if (count == 0 || in > UINT32_MAX || out > UINT32_MAX || count > UINT32_MAX ||
		    in + count > (1ULL << 32) || out + count > (1ULL << 32))
			return -EINVAL;
		n = snprintf(buf + len, size - len, "%llu %llu %llu\n", out, in, count);
		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
		len += (size_t)n;
		p += used;
	}
	p += strspn(p, " \t\n");
	if (*p || len == 0)
		return -EINVAL;
	return (int)len;
}

static int write_map(pid_t pid, const char *name, const char *text)
{
	char path[64];
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(text);

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		return -errno;
	return 0;
}

int share_idmap_userns(int procfd)
{
	char map[4096], uid_inv[4096], gid_inv[4096], path[64];
	_cleanup_close_ int pidfd = -EBADF, wait_r = -EBADF, wait_w = -EBADF;
	siginfo_t si;
	int p[2], r, nsfd = -EBADF;
	long pid;

	if (fd_read_file_at(procfd, "uid_map", map, sizeof(map)) < 0 ||
	    (r = share_idmap_invert(map, uid_inv, sizeof(uid_inv))) < 0)
		return -EINVAL;
	if (fd_read_file_at(procfd, "gid_map", map, sizeof(map)) < 0 ||
	    (r = share_idmap_invert(map, gid_inv, sizeof(gid_inv))) < 0)
		return -EINVAL;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	wait_r = p[0];
	wait_w = p[1];
	struct clone_args ca = {
	    .flags = CLONE_NEWUSER | CLONE_PIDFD,
	    .pidfd = (uint64_t)(uintptr_t)&pidfd,
	    .exit_signal = SIGCHLD,
	};
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0)
		return -errno;
	if (pid == 0) { /* async-signal-safe: hold nothing of notifyd's, wait to be killed */
		int keep[] = {wait_r};
		char c;

		ns_child_close_all_but(keep, 1);
		(void)!read(wait_r, &c, 1);
		_exit(0);
	}
	r = write_map((pid_t)pid, "uid_map", uid_inv);
	if (r >= 0)
		r = write_map((pid_t)pid, "gid_map", gid_inv);
	if (r >= 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			r = -errno;
	}
	/* Done with it: killed rather than told, so no fd of another request's
	 * child can keep it (and this worker) waiting. */
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	(void)waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
	return r < 0 ? r : nsfd;
}
