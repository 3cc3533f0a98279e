/* SPDX-License-Identifier: MIT */
/*
 * A hostile container's /etc/ld.so.preload library for the "fuse_abi" group
 * of tests/security/notifyd_redteam2.sh.  It runs inside the FUSE program
 * (fuse2fs) notifyd starts and tries the mount and namespace calls through
 * the doors a denylist by name can miss: the i386 ABI (int $0x80 from this
 * 64-bit process), the x32 ABI (syscall number | 0x40000000), io_uring,
 * clone3, calls newer than libseccomp (open_tree_attr, listmount), and
 * NS_GET_USERNS.  One "key RESULT" line each to /tmp/preload-out/abi-<pid>:
 * RESULT is "ok" or the errno name.  EPERM/ENOSYS mean notifyd's filter
 * stopped the call; EFAULT/EINVAL/EBADF/ENOENT mean it reached the kernel.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <unistd.h>

static int out = -1;

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(out, buf, (size_t)n);
}

static const char *res(long r)
{
	if (r >= 0)
		return "ok";
	return strerrorname_np((int)-r) ? strerrorname_np((int)-r) : "error";
}

/* A system call through the i386 entry (int $0x80); returns -errno. */
static long sys32(long nr, long a, long b, long c, long d, long e)
{
	long ret;

	__asm__ volatile("int $0x80"
	                 : "=a"(ret)
	                 : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
	                 : "memory", "r8", "r9", "r10", "r11");
	return (long)(int)ret;
}

static long sys64(long nr, long a, long b, long c, long d, long e)
{
	long r = syscall(nr, a, b, c, d, e);
	return r < 0 ? -errno : r;
}

__attribute__((constructor)) static void attack(void)
{
	char comm[32] = "", path[64];
	int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
	long r;

	if (fd >= 0) {
		ssize_t n = read(fd, comm, sizeof(comm) - 1);
		comm[n > 0 ? n : 0] = '\0';
		comm[strcspn(comm, "\n")] = '\0';
		close(fd);
	}
	if (strcmp(comm, "fuse2fs") != 0)
		return;
	snprintf(path, sizeof(path), "/tmp/preload-out/abi-%d", (int)getpid());
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return;
	say("comm %s", comm);
	/* i386: mount 21, umount 22, umount2 52, chroot 61, pivot_root 217,
	 * unshare 310, setns 346, clone 120, fsopen 430, open_tree 428,
	 * mount_setattr 442, open_tree_attr 467, clone3 435, ioctl 54,
	 * keyctl 288, io_uring_setup 425. */
	say("i386_mount %s", res(sys32(21, 0, 0, 0, 0, 0)));
	say("i386_umount %s", res(sys32(22, 0, 0, 0, 0, 0)));
	say("i386_umount2 %s", res(sys32(52, 0, 0, 0, 0, 0)));
	say("i386_chroot %s", res(sys32(61, 0, 0, 0, 0, 0)));
	say("i386_pivot_root %s", res(sys32(217, 0, 0, 0, 0, 0)));
	say("i386_unshare_newns %s", res(sys32(310, CLONE_NEWNS, 0, 0, 0, 0)));
	say("i386_unshare_newuser %s", res(sys32(310, CLONE_NEWUSER, 0, 0, 0, 0)));
	fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	say("i386_setns %s", res(sys32(346, fd, CLONE_NEWNS, 0, 0, 0)));
	/* NS_GET_USERNS (_IO(0xb7, 0x1)): the namespace's owner as an fd (information only). */
	r = sys64(SYS_ioctl, fd, 0xb701, 0, 0, 0);
	say("ns_get_userns %s", res(r));
	if (r >= 0) {
		say("setns_owner %s", res(sys64(SYS_setns, r, CLONE_NEWUSER, 0, 0, 0)));
		close((int)r);
	}
	if (fd >= 0)
		close(fd);
	r = sys32(120, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
	if (r == 0)
		syscall(SYS_exit_group, 0); /* the child of a clone that went through */
	say("i386_clone_newns %s", res(r));
	say("i386_fsopen %s", res(sys32(430, 0, 0, 0, 0, 0)));
	say("i386_open_tree %s", res(sys32(428, -1, 0, 0, 0, 0)));
	say("i386_mount_setattr %s", res(sys32(442, -1, 0, 0, 0, 0)));
	say("i386_open_tree_attr %s", res(sys32(467, -1, 0, 0, 0, 0)));
	say("i386_clone3 %s", res(sys32(435, 0, 0, 0, 0, 0)));
	say("i386_ioctl_loop %s", res(sys32(54, -1, 0x4C82, 0, 0, 0)));
	say("i386_keyctl %s", res(sys32(288, 0, 0, 0, 0, 0)));
	say("i386_io_uring_setup %s", res(sys32(425, 1, 0, 0, 0, 0)));
	/* x32: x86_64 numbers | 0x40000000 (mount 165, unshare 272). */
	say("x32_mount %s", res(sys64(0x40000000 | 165, 0, 0, 0, 0, 0)));
	say("x32_unshare_newns %s", res(sys64(0x40000000 | 272, CLONE_NEWNS, 0, 0, 0, 0)));
	/* x86_64 */
	say("io_uring_setup %s", res(sys64(425, 1, 0, 0, 0, 0)));
	say("clone3 %s", res(sys64(435, 0, 0, 0, 0, 0)));
	say("listmount %s", res(sys64(458, 0, 0, 0, 0, 0)));
	say("open_tree_attr %s", res(sys64(467, -1, 0, 0, 0, 0)));
	say("fsconfig %s", res(sys64(SYS_fsconfig, -1, 0, 0, 0, 0)));
	say("personality %s", res(sys64(SYS_personality, 0xffffffff, 0, 0, 0, 0)));
	/* Calls a stricter caller filter may refuse (group broken_callerfilter). */
	r = sys64(SYS_socket, 2 /* AF_INET */, 2 /* SOCK_DGRAM */, 0, 0, 0);
	say("caller_socket %s", res(r));
	if (r >= 0)
		close((int)r);
	r = sys64(SYS_pidfd_open, getpid(), 0, 0, 0, 0);
	say("caller_pidfd_open %s", res(r));
	if (r >= 0)
		close((int)r);
	say("done");
	close(out);
}
