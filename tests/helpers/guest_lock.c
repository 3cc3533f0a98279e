// SPDX-License-Identifier: MIT
/*
 * Lock probe for the QEMU guest (tests/vm/guest-init.sh; static, the guest's
 * busybox has no flock applet and no fcntl tool).  One lock call per run:
 *
 *   guest_lock try PATH posix|flock        non-blocking write lock: prints ok or EAGAIN
 *   guest_lock hold PATH posix|flock MARK DONE
 *                                          takes the lock, creates MARK, waits (60 s at
 *                                          most) until DONE exists, then exits (unlocking)
 *   guest_lock wait PATH posix|flock       blocking write lock: prints "granted SECONDS"
 *
 * POSIX locks are classic fcntl(F_SETLK/F_SETLKW) write locks on the whole file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int lock(int fd, const char *kind, int block)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

	if (!strcmp(kind, "flock"))
		return flock(fd, LOCK_EX | (block ? 0 : LOCK_NB));
	return fcntl(fd, block ? F_SETLKW : F_SETLK, &fl);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct stat st;
	double t;
	int fd;

	if (argc < 4)
		return 2;
	fd = open(argv[2], O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(argv[2]);
		return 1;
	}
	if (!strcmp(argv[1], "try")) {
		if (lock(fd, argv[3], 0) == 0)
			puts("ok");
		else
			puts(errno == EAGAIN || errno == EACCES ? "EAGAIN" : strerror(errno));
		return 0;
	}
	if (!strcmp(argv[1], "hold") && argc == 6) {
		if (lock(fd, argv[3], 1) < 0) {
			perror("lock");
			return 1;
		}
		close(open(argv[4], O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
		for (int i = 0; i < 600 && stat(argv[5], &st) < 0; i++)
			usleep(100000);
		return 0;
	}
	if (!strcmp(argv[1], "wait")) {
		t = now();
		if (lock(fd, argv[3], 1) < 0) {
			perror("lock");
			return 1;
		}
		printf("granted %.2f\n", now() - t);
		return 0;
	}
	return 2;
}
