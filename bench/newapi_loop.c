/* SPDX-License-Identifier: MIT */
/*
 * newapi_loop: the new mount API's mount+umount cycle N times, with latency,
 * for bench/newapi.sh (the counterpart of tests/helpers/mountloop's mount(2)).
 *   newapi_loop TYPE SOURCE TARGET COUNT
 * One cycle: fsopen(TYPE), fsconfig(SET_STRING "source" SOURCE) (skipped for
 * SOURCE "none"), fsconfig(CMD_CREATE), fsmount, move_mount(F_EMPTY_PATH) onto
 * TARGET, close of both fds, umount2(TARGET) -- libmount's (>= 2.39) order for
 * a new superblock.  Prints one line:
 *   n=N ok=N p50_us=X p99_us=X mean_us=X fsopen_p50_us=X fsconfig_p50_us=X
 *   create_p50_us=X fsmount_p50_us=X move_p50_us=X umount_p50_us=X
 *   elapsed_s=X first_error=STEP:ERRNO
 * Static: it runs in the busybox containers of the benchmark.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/kernel_compat.h"

enum { S_FSOPEN, S_FSCONFIG, S_CREATE, S_FSMOUNT, S_MOVE, S_UMOUNT, S_COUNT };
static const char *const step_name[S_COUNT] = {"fsopen",  "fsconfig", "create",
                                               "fsmount", "move",     "umount"};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[(long)((double)(n - 1) * p)];
}

int main(int argc, char **argv)
{
	double *pair, *step[S_COUNT], t[S_COUNT + 1], start, sum = 0;
	char first_err[64] = "none";
	long n, ok = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: newapi_loop TYPE SOURCE TARGET COUNT\n");
		return 2;
	}
	const char *type = argv[1], *source = argv[2], *target = argv[3];
	n = strtol(argv[4], NULL, 10);
	if (n <= 0 || n > 10000000)
		return 2;
	pair = calloc((size_t)n, sizeof(*pair));
	for (int s = 0; s < S_COUNT; s++)
		step[s] = calloc((size_t)n, sizeof(double));
	for (int s = 0; s < S_COUNT; s++)
		if (!step[s])
			return 1;
	if (!pair)
		return 1;
	start = now_us();
	for (long i = 0; i < n; i++) {
		int fd = -1, m = -1, s = S_FSOPEN, r;

		t[0] = now_us();
		fd = (int)syscall(SYS_fsopen, type, FSOPEN_CLOEXEC);
		r = fd;
		t[1] = now_us();
		if (r >= 0 && strcmp(source, "none") != 0) {
			s = S_FSCONFIG;
			r = (int)syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, "source", source,
			                 0);
		}
		t[2] = now_us();
		if (r >= 0) {
			s = S_CREATE;
			r = (int)syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
		}
		t[3] = now_us();
		if (r >= 0) {
			s = S_FSMOUNT;
			r = m = (int)syscall(SYS_fsmount, fd, FSMOUNT_CLOEXEC, 0);
		}
		t[4] = now_us();
		if (r >= 0) {
			s = S_MOVE;
			r = (int)syscall(SYS_move_mount, m, "", AT_FDCWD, target,
			                 MOVE_MOUNT_F_EMPTY_PATH);
		}
		int err = errno;
		if (m >= 0)
			close(m);
		if (fd >= 0)
			close(fd);
		t[5] = now_us();
		if (r >= 0) {
			s = S_UMOUNT;
			r = (int)syscall(SYS_umount2, target, 0);
			err = errno;
		}
		t[6] = now_us();
		if (r < 0) {
			if (strcmp(first_err, "none") == 0)
				snprintf(first_err, sizeof(first_err), "%s:%d", step_name[s], err);
			pair[i] = t[6] - t[0];
			for (int k = 0; k < S_COUNT; k++)
				step[k][i] = t[k + 1] - t[k];
			continue;
		}
		ok++;
		pair[i] = t[6] - t[0];
		sum += pair[i];
		for (int k = 0; k < S_COUNT; k++)
			step[k][i] = t[k + 1] - t[k];
	}
	double elapsed = (now_us() - start) / 1e6;
	printf("n=%ld ok=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f", n, ok, pct(pair, n, 0.5),
	       pct(pair, n, 0.99), ok ? sum / (double)ok : 0.0);
	for (int s = 0; s < S_COUNT; s++)
		printf(" %s_p50_us=%.1f", step_name[s], pct(step[s], n, 0.5));
	printf(" elapsed_s=%.3f first_error=%s\n", elapsed, first_err);
	for (int s = 0; s < S_COUNT; s++)
		free(step[s]);
	free(pair);
	return ok == n ? 0 : 1;
}
