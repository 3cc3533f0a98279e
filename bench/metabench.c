/* SPDX-License-Identifier: MIT */
/*
 * metabench DIR N: metadata operations per second in DIR, one line:
 *   create=OPS stat=OPS readdir=ENTRIES_PER_S unlink=OPS
 * creating N empty files, stat()ing each by name, listing the directory,
 * and unlinking them.  Before the stats it waits 1.5 s: a FUSE mount's
 * entries and attributes (1 s with cache=auto) have then all expired, so
 * every stat reaches the back-end, however long the creates took.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char name[64];
	struct stat st;
	double t0, create, statt, list, unl;
	unsigned long n, seen = 0;

	if (argc != 3 || chdir(argv[1]) < 0) {
		fprintf(stderr, "usage: metabench DIR N\n");
		return 2;
	}
	n = strtoul(argv[2], NULL, 10);
	if (mkdir("mb", 0755) < 0 || chdir("mb") < 0) {
		perror("mb");
		return 1;
	}
	t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%07lu", i);
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0) {
			perror(name);
			return 1;
		}
		close(fd);
	}
	create = now() - t0;
	usleep(1500 * 1000);
	t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%07lu", i);
		if (stat(name, &st) < 0)
			return 1;
	}
	statt = now() - t0;
	t0 = now();
	DIR *d = opendir(".");
	while (readdir(d))
		seen++;
	closedir(d);
	list = now() - t0;
	t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%07lu", i);
		if (unlink(name) < 0)
			return 1;
	}
	unl = now() - t0;
	if (chdir("..") < 0 || rmdir("mb") < 0)
		return 1;
	printf("create=%.0f stat=%.0f readdir=%.0f unlink=%.0f\n", n / create, n / statt,
	       seen / list, n / unl);
	return seen == n + 2 ? 0 : 1;
}
