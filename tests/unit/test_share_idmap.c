/* SPDX-License-Identifier: MIT */
/*
 * share_idmap.c: inverting a container's id maps, and the namespace made
 * from them, checked against a real idmapped mount: a file the "container"
 * owns on disk (100000) shows as 0 through the share, what 0 creates there
 * is 100000 on disk, and an id the container does not map stays unmapped.
 */
#include "notifyd/share_idmap.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_invert(void)
{
	char buf[256];

	CHECK(share_idmap_invert("         0     100000      65536\n", buf, sizeof(buf)) > 0 &&
	          !strcmp(buf, "100000 0 65536\n"),
	      "one line is turned around (%s)", buf);
	CHECK(share_idmap_invert("0 1000 1\n1 100000 65535\n", buf, sizeof(buf)) > 0 &&
	          !strcmp(buf, "1000 0 1\n100000 1 65535\n"),
	      "several lines keep their order (%s)", buf);
	CHECK(share_idmap_invert("0 0 4294967295\n", buf, sizeof(buf)) > 0 &&
	          !strcmp(buf, "0 0 4294967295\n"),
	      "the identity map of the host stays the identity");
	CHECK(share_idmap_invert("", buf, sizeof(buf)) == -EINVAL, "an empty map is refused");
	CHECK(share_idmap_invert("0 100000\n", buf, sizeof(buf)) == -EINVAL,
	      "a line with two numbers is refused");
	CHECK(share_idmap_invert("0 100000 0\n", buf, sizeof(buf)) == -EINVAL,
	      "a count of 0 is refused");
	CHECK(share_idmap_invert("0 4294967295 2\n", buf, sizeof(buf)) == -EINVAL,
	      "a range past 2^32 is refused");
	CHECK(share_idmap_invert("0 100000 65536\nx\n", buf, sizeof(buf)) == -EINVAL,
	      "junk after the lines is refused");
	CHECK(share_idmap_invert("0 100000 65536\n", buf, 8) == -ENOSPC,
	      "a buffer too small is -ENOSPC");
}

/* A child in a user namespace 0 -> 100000 (65536 ids), like a container's. */
static pid_t container_child(int *procfd)
{
	int p[2];
	char c, path[64];
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		(void)!read(p[0], &c, 1); /* mapped by the parent; wait until killed */
		pause();
		_exit(0);
	}
	close(p[0]);
	usleep(100000);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "0 100000 65536\n");
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "0 100000 65536\n");
		fclose(f);
	}
	if (write(p[1], "x", 1) != 1)
		return -1;
	close(p[1]);
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	*procfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return pid;
}

static void test_namespace(void)
{
	char dir[] = "/tmp/mv-share-idmap.XXXXXX", path[128];
	int procfd = -1, ns, tree;
	struct stat st;
	pid_t pid;

	if (geteuid() != 0) {
		printf("ok - idmapped share # SKIP needs root\n");
		return;
	}
	/* The shared directory is the container's own (through the share, a
	 * directory of host root's would be "other" even to root). */
	if (!mkdtemp(dir) || chown(dir, 100000, 100000) < 0 || chmod(dir, 0755) < 0)
		return;
	snprintf(path, sizeof(path), "%s/mine", dir);
	close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
	CHECK(chown(path, 100000, 100000) == 0, "a file of the container's root (100000 on disk)");
	snprintf(path, sizeof(path), "%s/hosts", dir);
	close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));

	pid = container_child(&procfd);
	ns = pid > 0 ? share_idmap_userns(procfd) : -1;
	CHECK(ns >= 0, "the inverse namespace is made (%d)", ns);
	tree = (int)syscall(SYS_open_tree, AT_FDCWD, dir, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)ns};
	CHECK(tree >= 0 && ns >= 0 && mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) == 0,
	      "a copy of the directory is idmapped with it (%s)", strerror(errno));
	CHECK(fstatat(tree, "mine", &st, 0) == 0 && st.st_uid == 0 && st.st_gid == 0,
	      "through it, the container's root's file is 0:0 (%u:%u)", st.st_uid, st.st_gid);
	CHECK(fstatat(tree, "hosts", &st, 0) == 0 && st.st_uid == 65534,
	      "host root's file is the overflow id (%u): unmapped", st.st_uid);
	int fd = openat(tree, "new", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	CHECK(fd >= 0, "root creates a file through it (%s)", strerror(errno));
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/new", dir);
	CHECK(stat(path, &st) == 0 && st.st_uid == 100000 && st.st_gid == 100000,
	      "and on disk it belongs to the container's root (%u:%u)", st.st_uid, st.st_gid);
	CHECK(fchownat(tree, "new", 70000, 70000, 0) < 0 && errno == EOVERFLOW,
	      "chown to an id the container does not map: EOVERFLOW (%s)", strerror(errno));

	if (tree >= 0)
		close(tree);
	if (ns >= 0)
		close(ns);
	if (procfd >= 0)
		close(procfd);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	(void)!system(path);
}

int main(void)
{
	test_invert();
	test_namespace();
	TAP_EXIT();
}
