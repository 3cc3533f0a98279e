/* SPDX-License-Identifier: MIT */
/*
 * A hostile container's /etc/ld.so.preload library (tests/security/
 * notifyd_fuse_confine.sh).  notifyd runs a host FUSE program (fuse2fs)
 * chrooted into the container, so this constructor runs inside it, before
 * its main(), and tries to escape.  It writes what it found, one
 * "key value" line each, to /tmp/preload-out/<pid> in the container:
 *
 *   fd N LINK walk=contained|ESCAPED       every open fd: ".." walked to a root
 *   procfd N walk=...                      the same through /proc/self/fd/N/..
 *   secret none|READ                       the host secret (path in /etc/mvtest-secret)
 *   hosttmp none|CREATED                   a file in the host's /tmp (name in /etc/mvtest-escape)
 *   CapInh: ... NoNewPrivs: ... Seccomp:   its /proc/self/status lines
 *   mount|unshare|unshare_mount|open_tree|fsopen|setns|clone_newns|chroot|
 *   open_tree_attr|ioctl_loop ERRNO|ok
 *   cgroup LINE                            its /proc/self/cgroup
 *   done                                   last line
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int out = -1;
static char secret_rel[8192], escape_rel[8192];
static int secret_read, host_created;

static void say(const char *fmt, ...)
{
	char buf[1024];
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

static const char *err_name(int r)
{
	if (r == 0)
		return "ok";
	return strerrorname_np(errno) ? strerrorname_np(errno) : "error";
}

/* Read a one-line file of the container into buf (newline stripped). */
static void read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (fd >= 0)
		close(fd);
}

/*
 * From directory dfd, walk ".." until it stops moving (a root: ours, or the
 * host's if dfd leads outside), then try the host secret and the host /tmp.
 * Returns 1 if anything of the host was reached.
 */
static int walk(int dfd)
{
	int cur = openat(dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC), escaped = 0;

	if (cur < 0)
		return -1; /* not a directory */
	for (int i = 0; i < 256; i++) {
		struct stat a, b;
		int up = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (up < 0)
			break;
		if (fstat(cur, &a) == 0 && fstat(up, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			close(up);
			break;
		}
		close(cur);
		cur = up;
	}
	if (secret_rel[0]) {
		int s = openat(cur, secret_rel, O_RDONLY | O_CLOEXEC);
		if (s >= 0) {
			secret_read = escaped = 1;
			close(s);
		}
	}
	if (escape_rel[0]) {
		int c = openat(cur, escape_rel, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (c >= 0) {
			host_created = escaped = 1;
			close(c);
		}
	}
	close(cur);
	return escaped;
}

/* Run fn in a child (it may change our namespaces); report its errno name. */
static void probe(const char *name, int (*fn)(void))
{
	int pp[2];
	pid_t pid;
	char res[64] = "no-answer";

	if (pipe(pp) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		int r = fn();
		const char *e = err_name(r);
		(void)!write(pp[1], e, strlen(e));
		_exit(0);
	}
	close(pp[1]);
	if (pid > 0) {
		ssize_t n = read(pp[0], res, sizeof(res) - 1);
		res[n > 0 ? n : 0] = '\0';
		waitpid(pid, NULL, 0);
	}
	close(pp[0]);
	say("%s %s", name, res);
}

static int do_mount(void)
{
	return mount("none", "/mnt/c", "tmpfs", 0, NULL);
}
static int do_unshare(void)
{
	return unshare(CLONE_NEWUSER | CLONE_NEWNS);
}
static int do_unshare_mount(void)
{
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 && unshare(CLONE_NEWNS) < 0)
		return -1;
	return mount("none", "/mnt/c", "tmpfs", 0, NULL);
}
static int do_open_tree(void)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */);
	return fd < 0 ? -1 : 0;
}
static int do_fsopen(void)
{
	int fd = (int)syscall(SYS_fsopen, "tmpfs", 0);
	return fd < 0 ? -1 : 0;
}
static int do_setns(void)
{
	int fd = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return setns(fd, CLONE_NEWNS);
}
static int do_clone_newns(void)
{
	long pid = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	return pid < 0 ? -1 : 0;
}
static int do_chroot(void)
{
	return chroot("/tmp");
}
static int do_open_tree_attr(void) /* 467 on x86_64: newer than libseccomp 2.5 */
{
	int fd = (int)syscall(467, AT_FDCWD, "/", 1 /* OPEN_TREE_CLONE */, NULL, 0);
	return fd < 0 ? -1 : 0;
}
static int do_ioctl_loop(void) /* LOOP_GET_STATUS64 on the image (fd 3, a loop device) */
{
	char info[512];
	return ioctl(3, 0x4C05, info);
}

__attribute__((constructor)) static void hostile(void)
{
	char path[128], buf[8192], link[512];
	int fd;
	ssize_t n;

	mkdir("/tmp/preload-out", 01777);
	snprintf(path, sizeof(path), "/tmp/preload-out/%d", (int)getpid());
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return;
	read_line("/etc/mvtest-secret", buf, sizeof(buf));
	snprintf(secret_rel, sizeof(secret_rel), "%s", buf[0] == '/' ? buf + 1 : buf);
	read_line("/etc/mvtest-escape", buf, sizeof(buf));
	snprintf(escape_rel, sizeof(escape_rel), "%s", buf[0] == '/' ? buf + 1 : buf);
	read_line("/proc/self/comm", buf, sizeof(buf));
	say("comm %s", buf);

	for (fd = 0; fd < 1024; fd++) {
		struct stat st;
		if (fd == out || fstat(fd, &st) < 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		int w = walk(fd);
		say("fd %d %s walk=%s", fd, link, w < 0 ? "notdir" : w ? "ESCAPED" : "contained");
		snprintf(path, sizeof(path), "/proc/self/fd/%d/..", fd);
		int pfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (pfd >= 0) {
			w = walk(pfd);
			close(pfd);
			say("procfd %d walk=%s", fd, w ? "ESCAPED" : "contained");
		} else {
			say("procfd %d walk=%s", fd, strerrorname_np(errno));
		}
	}
	/* The usual suspects of /proc too. */
	{
		static const char *const links[] = {"/proc/self/cwd", "/proc/self/root",
		                                    "/proc/1/root", "/proc/1/cwd"};
		for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
			int d = open(links[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
			int w = d >= 0 ? walk(d) : -1;
			if (d >= 0)
				close(d);
			say("link %s walk=%s", links[i],
			    w < 0 ? "notdir"
			    : w   ? "ESCAPED"
			          : "contained");
		}
	}
	say("secret %s", secret_read ? "READ" : "none");
	say("hosttmp %s", host_created ? "CREATED" : "none");

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11) ||
		    !strncmp(line, "Seccomp:", 8) || !strncmp(line, "Uid:", 4))
			say("%s", line);

	probe("mount", do_mount);
	probe("unshare", do_unshare);
	probe("unshare_mount", do_unshare_mount);
	probe("open_tree", do_open_tree);
	probe("fsopen", do_fsopen);
	probe("setns", do_setns);
	probe("clone_newns", do_clone_newns);
	probe("chroot", do_chroot);
	probe("open_tree_attr", do_open_tree_attr);
	probe("ioctl_loop", do_ioctl_loop);

	fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, "0::", 3))
			say("cgroup %s", line);
	say("done");
	close(out);
	out = -1;
}
