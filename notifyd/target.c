/* SPDX-License-Identifier: MIT */
#include "notifyd/target.h"
#include "notifyd/lxc_proxy.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/kcmp.h>
#include <unistd.h>

int target_valid(const struct target *t)
{
	uint64_t id = t->id;

	if (ioctl(t->notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	return 0;
}

int target_open(struct target *t, int notify_fd, const struct seccomp_notif *req)
{
	t->notify_fd = notify_fd;
	t->lxc = NULL;
	t->id = req->id;
	t->pid = (pid_t)req->pid;
	t->procfd = -EBADF;
	t->tgid = 0;
	if (req->pid == 0) /* not visible in our pid namespace */
		return -ESRCH;
	return 0;
}

int target_open_proc(struct target *t)
{
	char path[32];

	if (t->procfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d", (int)t->pid);
	t->procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (t->procfd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	/* Only now do we know /proc/<tid> was the caller and not a pid reused since. */
	return target_valid(t);
}

void target_close(struct target *t)
{
	t->procfd = safe_close(t->procfd);
}

int target_read_string(const struct target *t, uint64_t addr, char *buf, size_t size, int *was_null)
{
	size_t got = 0, page = (size_t)sysconf(_SC_PAGESIZE);

	if (was_null)
		*was_null = addr == 0;
	if (addr == 0) {
		buf[0] = '\0';
		return 0;
	}
	while (got < size) {
		/* Read at most to the end of the page: the next one may be unmapped. */
		size_t chunk = page - ((addr + got) % page);
		if (chunk > size - got)
			chunk = size - got;
		struct iovec local = {.iov_base = buf + got, .iov_len = chunk};
		struct iovec remote = {.iov_base = (void *)(uintptr_t)(addr + got),
		                       .iov_len = chunk};
		ssize_t n = process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
		if (n <= 0)
			return target_valid(t) < 0 ? -ENOENT : -EFAULT;
		char *nul = memchr(buf + got, '\0', (size_t)n);
		got += (size_t)n;
		if (nul)
			return 0;
	}
	buf[size - 1] = '\0';
	return target_valid(t) < 0 ? -ENOENT : -ENAMETOOLONG;
}

static int target_rw_mem(const struct target *t, uint64_t addr, void *buf, size_t len, bool write)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n;

	if (!addr)
		return -EFAULT;
	n = write ? process_vm_writev(t->pid, &local, 1, &remote, 1, 0)
	          : process_vm_readv(t->pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	return target_valid(t) < 0 ? -ENOENT : -EFAULT;
}

int target_read_mem(const struct target *t, uint64_t addr, void *buf, size_t len)
{
	return target_rw_mem(t, addr, buf, len, false);
}

int target_write_mem(const struct target *t, uint64_t addr, const void *buf, size_t len)
{
	return target_rw_mem(t, addr, (void *)buf, len, true);
}

int target_tgid(struct target *t, pid_t *tgid)
{
	char status[4096], *p;
	int r;

	if (t->tgid > 0) {
		*tgid = t->tgid;
		return 0;
	}
	r = target_open_proc(t);
	if (r < 0)
		return r;
	r = fd_read_file_at(t->procfd, "status", status, sizeof(status));
	if (r < 0)
		return r;
	p = strstr(status, "\nTgid:");
	if (!p)
		return -EIO;
	*tgid = t->tgid = (pid_t)strtol(p + 6, NULL, 10);
	return 0;
}

int target_getfd(struct target *t, int fd)
{
	_cleanup_close_ int pidfd = -EBADF, dup = -EBADF;
	pid_t tgid;
	int r;

	if (fd < 0)
		return -EBADF;
	/* pidfd_open() wants the thread group leader. */
	r = target_tgid(t, &tgid);
	if (r < 0)
		return r;
	pidfd = (int)syscall(SYS_pidfd_open, tgid, 0);
	if (pidfd < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	dup = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (dup < 0)
		return errno == ESRCH ? -ENOENT : -errno;
	/* The tid still names the caller, so the fd came from its process. */
	r = target_valid(t);
	if (r < 0)
		return r;
	return TAKE_FD(dup);
}

int target_open_path(struct target *t, int fd)
{
	char name[32];
	int path, r;

	if (fd < 0)
		return -EBADF;
	r = target_open_proc(t);
	if (r < 0)
		return r;
	/* O_PATH: no open (and no flush at close) reaches the file's file system. */
	snprintf(name, sizeof(name), "fd/%d", fd);
	path = openat(t->procfd, name, O_PATH | O_CLOEXEC);
	r = path < 0 ? -errno : 0;
	if (target_valid(t) < 0) {
		safe_close(path);
		return -ENOENT;
	}
	if (r < 0)
		return r == -ENOENT ? -EBADF : r;
	return path;
}

int target_check_admin(struct target *t, struct proc_creds *creds)
{
	_cleanup_close_ int userns = -EBADF, mntns = -EBADF, owner = -EBADF;
	int r;

	r = target_open_proc(t);
	if (r < 0)
		return r;
	r = proc_read_creds(t->procfd, creds);
	if (r < 0)
		return r;
	if (!(creds->cap_eff & (1ULL << CAP_SYS_ADMIN)))
		return -EPERM;
	userns = ns_open_at(t->procfd, "user");
	if (userns < 0)
		return userns;
	mntns = ns_open_at(t->procfd, "mnt");
	if (mntns < 0)
		return mntns;
	owner = ns_owner_userns(mntns);
	if (owner < 0)
		return owner;
	r = ns_same(owner, userns);
	if (r < 0)
		return r;
	if (r == 0) /* e.g. it unshared a user namespace but kept its parent's mounts */
		return -EPERM;
	return target_valid(t);
}

static int target_send(const struct target *t, int64_t val, int32_t err, uint32_t flags)
{
	if (t->lxc) /* LXC passes our answer to the kernel itself */
		return lxc_reply_send(t->lxc, val, err, flags);
	struct seccomp_notif_resp resp = {
	    .id = t->id,
	    .val = val,
	    .error = err,
	    .flags = flags,
	};

	if (ioctl(t->notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0)
		return -errno;
	return 0;
}

int target_addfd(const struct target *t, int srcfd, int newfd, bool cloexec, bool send)
{
	struct seccomp_notif_addfd a = {
	    .id = t->id,
	    .srcfd = (uint32_t)srcfd,
	    .newfd = newfd >= 0 ? (uint32_t)newfd : 0,
	    .newfd_flags = cloexec ? O_CLOEXEC : 0,
	    .flags =
	        (newfd >= 0 ? SECCOMP_ADDFD_FLAG_SETFD : 0) | (send ? SECCOMP_ADDFD_FLAG_SEND : 0),
	};
	int r;

	if (t->lxc)
		return -EOPNOTSUPP;
	r = ioctl(t->notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
	if (r < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	return r;
}

int target_same_file(struct target *t, int fd, int ours)
{
	pid_t tgid;
	int r;

	if (fd < 0)
		return 0;
	r = target_tgid(t, &tgid);
	if (r < 0)
		return r;
	r = (int)syscall(SYS_kcmp, tgid, getpid(), KCMP_FILE, (unsigned long)fd,
	                 (unsigned long)ours);
	if (r < 0)
		return errno == EBADF ? 0 : errno == ESRCH ? -ENOENT : -errno;
	r = r == 0;
	return target_valid(t) < 0 ? -ENOENT : r;
}

int target_respond_error(const struct target *t, int err)
{
	return target_send(t, 0, err ? -err : 0, 0);
}

int target_respond_value(const struct target *t, int64_t val)
{
	return target_send(t, val, 0, 0);
}

int target_respond_continue(const struct target *t)
{
	return target_send(t, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}
