/* SPDX-License-Identifier: MIT */
/*
 * mountloop: mount + umount the same thing N times and report latency.
 *   mountloop TYPE SOURCE TARGET DATA COUNT
 * Prints one line:
 *   n=N ok=N p50_us=X p99_us=X mean_us=X mount_p50_us=X umount_p50_us=X
 *   elapsed_s=X first_error=E
 * p50/p99/mean are of one mount+umount pair.  Used by bench/ both as the
 * bare-syscall anchor (run as root) and inside containers supervised by notifyd.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>

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

static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	const char *type, *source, *target, *data;
	double *pair, *mnt, *umnt, t0, t1, start, sum = 0;
	long n, ok = 0;
	int first_err = 0;

	if (argc != 6) {
		fprintf(stderr, "usage: mountloop TYPE SOURCE TARGET DATA COUNT\n");
		return 2;
	}
	type = argv[1];
	source = argv[2];
	target = argv[3];
	data = argv[4][0] ? argv[4] : NULL;
	n = strtol(argv[5], NULL, 10);
	if (n <= 0 || n > 10000000)
		return 2;
	pair = calloc((size_t)n, sizeof(*pair));
	mnt = calloc((size_t)n, sizeof(*mnt));
	umnt = calloc((size_t)n, sizeof(*umnt));
	if (!pair || !mnt || !umnt)
		return 1;
	start = now_us();
	for (long i = 0; i < n; i++) {
		t0 = now_us();
		int r = mount(source, target, type, 0, data);
		t1 = now_us();
		mnt[i] = t1 - t0;
		if (r == 0) {
			if (umount2(target, 0) == 0)
				ok++;
			else if (!first_err)
				first_err = errno;
		} else if (!first_err) {
			first_err = errno;
		}
		umnt[i] = now_us() - t1;
		pair[i] = mnt[i] + umnt[i];
		sum += pair[i];
	}
	double elapsed = (now_us() - start) / 1e6;
	qsort(pair, (size_t)n, sizeof(*pair), cmp_double);
	printf("n=%ld ok=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f mount_p50_us=%.1f "
	       "umount_p50_us=%.1f elapsed_s=%.3f first_error=%s\n",
	       n, ok, pair[n / 2], pair[(n * 99) / 100], sum / (double)n, median(mnt, n),
	       median(umnt, n), elapsed, first_err ? strerrorname_np(first_err) : "none");
	free(pair);
	free(mnt);
	free(umnt);
	return ok == n ? 0 : 1;
}
