/* SPDX-License-Identifier: MIT */
/*
 * opcount DIR PHASE N: one phase of bench/vfsd_syscalls.sh's workload, so the
 * back-end's syscalls can be counted around each phase alone.  Phases:
 *   create  N empty files f0000000.. (open O_CREAT|O_EXCL, close)
 *   stat    stat() each of them by name
 *   readdir list DIR (N entries expected)
 *   unlink  unlink each of them
 *   mkdata  a 1 MiB file "data" (untraced preparation for read/write)
 *   read    N preads of 4 KiB at 4 KiB-aligned offsets of "data", O_DIRECT
 *   write   N pwrites of 4 KiB likewise
 *   rmdata  unlink "data"
 * Exit status 0 when every call succeeded.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int io(const char *phase, unsigned long n)
{
	static char buf[4096] __attribute__((aligned(4096)));
	int fd = open("data", (strcmp(phase, "read") ? O_WRONLY : O_RDONLY) | O_DIRECT);

	if (fd < 0)
		return 1;
	memset(buf, 'x', sizeof(buf));
	for (unsigned long i = 0; i < n; i++) {
		off_t off = (off_t)((i * 7) % 256) * 4096;
		ssize_t r = strcmp(phase, "read") ? pwrite(fd, buf, sizeof(buf), off)
		                                  : pread(fd, buf, sizeof(buf), off);

		if (r != (ssize_t)sizeof(buf))
			return 1;
	}
	return close(fd) < 0;
}

int main(int argc, char **argv)
{
	char name[64];
	struct stat st;
	unsigned long n, seen = 0;
	const char *phase;

	if (argc != 4 || chdir(argv[1]) < 0) {
		fprintf(stderr, "usage: opcount DIR PHASE N\n");
		return 2;
	}
	phase = argv[2];
	n = strtoul(argv[3], NULL, 10);
	if (!strcmp(phase, "read") || !strcmp(phase, "write"))
		return io(phase, n);
	if (!strcmp(phase, "mkdata")) {
		int fd = open("data", O_WRONLY | O_CREAT | O_TRUNC, 0644);

		return fd < 0 || ftruncate(fd, 1 << 20) < 0 || close(fd) < 0;
	}
	if (!strcmp(phase, "rmdata"))
		return unlink("data") < 0;
	if (!strcmp(phase, "readdir")) {
		DIR *d = opendir(".");

		if (!d)
			return 1;
		while (readdir(d))
			seen++;
		closedir(d);
		return seen < n;
	}
	for (unsigned long i = 0; i < n; i++) {
		int r;

		snprintf(name, sizeof(name), "f%07lu", i);
		if (!strcmp(phase, "create")) {
			r = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (r >= 0)
				r = close(r);
		} else if (!strcmp(phase, "stat")) {
			r = stat(name, &st);
		} else if (!strcmp(phase, "unlink")) {
			r = unlink(name);
		} else {
			fprintf(stderr, "opcount: unknown phase %s\n", phase);
			return 2;
		}
		if (r < 0) {
			perror(name);
			return 1;
		}
	}
	return 0;
}
