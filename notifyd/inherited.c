// SPDX-License-Identifier: MIT
/*
 * What a notifyd before us left running (inherited.h).  After an exec in
 * place (an upgrade, the crash hook) its children are ours: the daemons of
 * restored mounts, helpers and daemons of requests in flight, and - if it
 * stopped between starting a daemon and writing its pid into the in-flight
 * log - a daemon nothing names.  Each is either supervised again, stopped
 * and reaped, or reaped when it exits: a zombie in a container's pid
 * namespace keeps that namespace's init from finishing its exit, so the
 * container would never end for its runtime.
 */
#include "notifyd/inherited.h"
#include "notifyd/container.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The children found at inherited_note(): pid, start time, named by the log. */
static struct child {
	pid_t pid;
	uint64_t start;
	bool named;
} * children;
static size_t n_children;

static void *reap_thread(void *arg)
{
	int pidfd = (int)(intptr_t)arg;
	siginfo_t si;

	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(pidfd);
	return NULL;
}

/* Is pid our child?  Its parent is field 4 of /proc/PID/stat, after the comm's last ')'. */
static bool parent_is_us(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return fd_read_file_at(AT_FDCWD, path, buf, sizeof(buf)) >= 0 && (p = strrchr(buf, ')')) &&
	       strtol(p + 3, NULL, 10) == (long)getpid();
}

void inherited_reap(pid_t pid)
{
	pthread_attr_t attr;
	pthread_t t;
	int pidfd;

	if (pid <= 0)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	if (!parent_is_us(pid)) {
		close(pidfd);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_create(&t, &attr, reap_thread, (void *)(intptr_t)pidfd) != 0)
		close(pidfd);
	pthread_attr_destroy(&attr);
}

void inherited_stop(pid_t pid, uint64_t start)
{
	_cleanup_close_ int pidfd = -EBADF;
	uint64_t now = 0;

	if (pid <= 0)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	/* Checked with the pidfd open: the pid cannot be reused behind it. */
	if (container_proc_start(pid, &now) < 0 || now != start)
		return;
	/*
	 * SIGTERM first: a FUSE program may be writing its image (fuse2fs
	 * updates the superblock as it opens it), and SIGKILL in the middle
	 * tears it.  Then SIGKILL, should it not be gone within a second.
	 */
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0)
		return;
	if (poll(&p, 1, 1000) <= 0)
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	log_info("recovery: stopped pid %d, started for a request in flight", (int)pid);
}

void inherited_stop_helper(pid_t pid)
{
	_cleanup_close_ int pidfd = -EBADF;
	struct stat self, exe;
	char path[64];
	struct pollfd p;

	if (pid <= 0)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	if (stat("/proc/self/exe", &self) < 0 || stat(path, &exe) < 0 ||
	    self.st_dev != exe.st_dev || self.st_ino != exe.st_ino)
		return;
	if (syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
		return;
	p = (struct pollfd){.fd = pidfd, .events = POLLIN};
	if (poll(&p, 1, 2000) <= 0)
		log_warn("recovery: helper pid %d of the notifyd before us does not exit",
		         (int)pid);
	else
		log_info("recovery: stopped helper pid %d of the notifyd before us", (int)pid);
	inherited_reap(pid);
}

/* The pids one /proc/self/task/TID/children file lists (as many as there are). */
static void note_children_of(const char *tid)
{
	_cleanup_free_ char *buf = NULL;
	char path[sizeof("/proc/self/task//children") + NAME_MAX], *p, *end;
	size_t size = 4096;
	struct child *v;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%s/children", tid);
	for (;;) {
		free(buf);
		buf = malloc(size);
		if (!buf)
			return;
		n = fd_read_file_at(AT_FDCWD, path, buf, size);
		if (n != -EFBIG || size >= (16u << 20))
			break;
		size *= 2;
	}
	if (n < 0)
		return;
	for (p = buf;; p = end) {
		long pid = strtol(p, &end, 10);
		uint64_t start = 0;

		if (end == p || pid <= 0)
			break;
		/* Read after the list: still ours, so the start time is our child's. */
		if (container_proc_start((pid_t)pid, &start) < 0 || !parent_is_us((pid_t)pid))
			continue;
		v = realloc(children, (n_children + 1) * sizeof(*v));
		if (!v)
			return;
		children = v;
		children[n_children++] = (struct child){.pid = (pid_t)pid, .start = start};
	}
}

void inherited_note(void)
{
	_cleanup_closedir_ DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			note_children_of(e->d_name);
	if (n_children)
		log_info("%zu processes of the notifyd before us are our children", n_children);
}

void inherited_named(pid_t pid)
{
	for (size_t i = 0; i < n_children; i++)
		if (pid > 0 && children[i].pid == pid)
			children[i].named = true;
}

void inherited_stop_unnamed(bool (*known)(pid_t pid))
{
	for (size_t i = 0; i < n_children; i++) {
		const struct child *ch = &children[i];

		if (ch->named || known(ch->pid))
			continue;
		log_info("recovery: pid %d of the notifyd before us is named by no record",
		         ch->pid);
		inherited_stop(ch->pid, ch->start);
		inherited_reap(ch->pid);
	}
	free(children);
	children = NULL;
	n_children = 0;
}
