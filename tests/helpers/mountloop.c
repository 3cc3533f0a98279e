/* SPDX-License-Identifier: MIT */
/*
 * mountloop: mount + umount the same thing N times and report latency.
 *   mountloop TYPE SOURCE TARGET DATA COUNT
 * Prints one line: "n=N ok=N p50_us=X p99_us=X mean_us=X elapsed_s=X first_error=E".
 * Used by bench/ both as the bare-syscall anchor (run as root) and inside
 * containers supervised by notifyd.
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

int main(int argc, char **argv)
{
	const char *type, *source, *target, *data;
	double *lat, t0, start, sum = 0;
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
	lat = calloc((size_t)n, sizeof(*lat));
	if (!lat)
		return 1;
	start = now_us();
	for (long i = 0; i < n; i++) {
		t0 = now_us();
		if (mount(source, target, type, 0, data) == 0) {
			if (umount2(target, 0) == 0)
				ok++;
			else if (!first_err)
				first_err = errno;
		} else if (!first_err) {
			first_err = errno;
		}
		lat[i] = now_us() - t0;
		sum += lat[i];
	}
	double elapsed = (now_us() - start) / 1e6;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("n=%ld ok=%ld p50_us=%.1f p99_us=%.1f mean_us=%.1f elapsed_s=%.3f first_error=%s\n",
	       n, ok, lat[n / 2], lat[(n * 99) / 100], sum / (double)n, elapsed,
	       first_err ? strerrorname_np(first_err) : "none");
	free(lat);
	return ok == n ? 0 : 1;
}
