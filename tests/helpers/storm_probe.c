/* SPDX-License-Identifier: MIT */
/*
 * storm_probe: trapped calls made in a loop, every result kept, for the
 * restart storm (tests/integration/notifyd_restart_storm.sh) and the
 * recovery bench (bench/restart.sh).  Static: it runs in busybox containers.
 *
 *   storm_probe storm SECONDS LOG GOFILE IMG [PAUSE_MS]
 *       Waits (120 s at most) until GOFILE exists, then for SECONDS repeats
 *       mount -t tmpfs (size=64k) on /mnt/a + umount2, and a loop device set
 *       up like "losetup -f IMG" + "losetup -d" (LOOP_CTL_GET_FREE on
 *       /dev/loop-control, open /dev/loopN, LOOP_CONFIGURE, close, open,
 *       LOOP_CLR_FD), PAUSE_MS (default 20) between rounds.  One line per
 *       call in LOG:
 *         call t=NS op=OP rc=RC errno=NAME us=US
 *       and at the end
 *         summary calls=N ok=N failed=N max_us=US [errno:NAME=N ...]
 *   storm_probe probe SECONDS PATH PAUSE_US THRESH_US [STOPFILE]
 *       umount2(PATH) (not a mount point: a cheap trapped call) in a loop,
 *       for SECONDS or until STOPFILE exists;
 *       prints every call that took THRESH_US or more or failed with
 *       anything but EINVAL:
 *         slow start=NS end=NS us=US errno=NAME
 *       and at the end
 *         probe calls=N enosys=N other=N p50_us=X p99_us=X max_us=X
 *   storm_probe signal PID SIG   prints "t=NS" (CLOCK_MONOTONIC, which every
 *       namespace shares) right before kill(PID, SIG)
 *   storm_probe now              prints "t=NS"
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *errname(int e)
{
	const char *n;

	if (e == 0)
		return "0";
	n = strerrorname_np(e);
	return n ? n : "UNKNOWN";
}

/* Counters of one storm run. */
static long calls, oks, fails, max_us;
static long by_errno[256];
static FILE *log_out;

/* record: one result line; the call started at T0 and returned RC (errno E). */
static void record(const char *op, int64_t t0, long rc, int e)
{
	long us = (long)((now_ns() - t0) / 1000);

	calls++;
	if (rc < 0) {
		fails++;
		if (e > 0 && e < 256)
			by_errno[e]++;
	} else {
		oks++;
		e = 0;
	}
	if (us > max_us)
		max_us = us;
	fprintf(log_out, "call t=%lld op=%s rc=%ld errno=%s us=%ld\n", (long long)t0, op, rc,
	        errname(e), us);
}

/* One "losetup -f IMG" + "losetup -d /dev/loopN", every trapped call recorded. */
static void loop_round(const char *img)
{
	char dev[64];
	int64_t t0;
	long rc;
	int ctl, fd, back, e;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0) {
		record("open-loop-control", now_ns(), -1, errno);
		return;
	}
	t0 = now_ns();
	rc = ioctl(ctl, LOOP_CTL_GET_FREE);
	e = errno;
	record("LOOP_CTL_GET_FREE", t0, rc, e);
	close(ctl);
	if (rc < 0)
		return;
	snprintf(dev, sizeof(dev), "/dev/loop%ld", rc);
	t0 = now_ns();
	fd = open(dev, O_RDWR | O_CLOEXEC);
	record("open-loop", t0, fd, errno);
	if (fd < 0)
		return;
	back = open(img, O_RDWR | O_CLOEXEC);
	if (back < 0) {
		record("open-image", now_ns(), -1, errno);
		close(fd);
		return;
	}
	struct loop_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = (unsigned)back;
	t0 = now_ns();
	rc = ioctl(fd, LOOP_CONFIGURE, &cfg);
	e = errno;
	record("LOOP_CONFIGURE", t0, rc, e);
	close(back);
	close(fd);
	if (rc < 0)
		return;
	/* losetup -d opens the device anew. */
	t0 = now_ns();
	fd = open(dev, O_RDWR | O_CLOEXEC);
	record("open-loop", t0, fd, errno);
	if (fd < 0)
		return;
	t0 = now_ns();
	rc = ioctl(fd, LOOP_CLR_FD, 0);
	e = errno;
	record("LOOP_CLR_FD", t0, rc, e);
	close(fd);
}

static int storm(int argc, char **argv)
{
	const char *log, *go, *img;
	struct timespec pause = {0};
	int64_t end, t0;
	long secs, pause_ms = 20, rc;
	int i, e;

	if (argc < 6)
		return 2;
	secs = strtol(argv[2], NULL, 10);
	log = argv[3];
	go = argv[4];
	img = argv[5];
	if (argc > 6)
		pause_ms = strtol(argv[6], NULL, 10);
	pause.tv_sec = pause_ms / 1000;
	pause.tv_nsec = (pause_ms % 1000) * 1000000;
	log_out = fopen(log, "we");
	if (!log_out) {
		perror(log);
		return 1;
	}
	setvbuf(log_out, NULL, _IOLBF, 0);
	fprintf(log_out, "ready pid=%d\n", (int)getpid());
	for (i = 0; access(go, F_OK) != 0; i++) {
		if (i > 12000) {
			fprintf(log_out, "no go file %s in 120 s\n", go);
			return 1;
		}
		usleep(10000);
	}
	fprintf(log_out, "go t=%lld\n", (long long)now_ns());
	end = now_ns() + (int64_t)secs * 1000000000;
	while (now_ns() < end) {
		t0 = now_ns();
		rc = mount("storm", "/mnt/a", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k");
		e = errno;
		record("mount", t0, rc, e);
		if (rc == 0) {
			t0 = now_ns();
			rc = umount2("/mnt/a", 0);
			e = errno;
			record("umount2", t0, rc, e);
		}
		loop_round(img);
		nanosleep(&pause, NULL);
	}
	fprintf(log_out, "summary calls=%ld ok=%ld failed=%ld max_us=%ld", calls, oks, fails,
	        max_us);
	for (i = 1; i < 256; i++)
		if (by_errno[i])
			fprintf(log_out, " errno:%s=%ld", errname(i), by_errno[i]);
	fprintf(log_out, "\n");
	fclose(log_out);
	return 0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static int probe(int argc, char **argv)
{
	struct timespec pause = {0};
	const char *path, *stop = NULL;
	long secs, pause_us, thresh_us, n = 0, cap = 1 << 20, enosys = 0, other = 0;
	long *lat;
	int64_t end, t0, t1;
	int rc, e;

	if (argc < 6)
		return 2;
	secs = strtol(argv[2], NULL, 10);
	path = argv[3];
	pause_us = strtol(argv[4], NULL, 10);
	thresh_us = strtol(argv[5], NULL, 10);
	if (argc > 6)
		stop = argv[6];
	pause.tv_nsec = (pause_us % 1000000) * 1000;
	lat = calloc((size_t)cap, sizeof(*lat));
	if (!lat)
		return 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready pid=%d\n", (int)getpid());
	end = now_ns() + (int64_t)secs * 1000000000;
	while ((t0 = now_ns()) < end) {
		rc = umount2(path, 0);
		e = rc < 0 ? errno : 0;
		t1 = now_ns();
		if (n < cap)
			lat[n] = (long)((t1 - t0) / 1000);
		n++;
		if (e == ENOSYS)
			enosys++;
		else if (e != EINVAL)
			other++;
		if ((t1 - t0) / 1000 >= thresh_us || e != EINVAL)
			printf("slow start=%lld end=%lld us=%lld errno=%s\n", (long long)t0,
			       (long long)t1, (long long)((t1 - t0) / 1000), errname(e));
		if (pause_us > 0)
			nanosleep(&pause, NULL);
		if (stop && n % 256 == 0 && access(stop, F_OK) == 0)
			break;
	}
	if (n > cap)
		n = cap;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_long);
	printf("probe calls=%ld enosys=%ld other=%ld p50_us=%ld p99_us=%ld max_us=%ld\n", n, enosys,
	       other, n ? lat[n / 2] : 0, n ? lat[n * 99 / 100] : 0, n ? lat[n - 1] : 0);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "storm") == 0)
		return storm(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "probe") == 0)
		return probe(argc, argv);
	if (argc == 4 && strcmp(argv[1], "signal") == 0) {
		pid_t pid = (pid_t)strtol(argv[2], NULL, 10);
		int sig = (int)strtol(argv[3], NULL, 10);

		printf("t=%lld\n", (long long)now_ns());
		fflush(stdout);
		return kill(pid, sig) == 0 ? 0 : 1;
	}
	if (argc == 2 && strcmp(argv[1], "now") == 0) {
		printf("t=%lld\n", (long long)now_ns());
		return 0;
	}
	fprintf(stderr, "usage: storm_probe storm SECONDS LOG GOFILE IMG [PAUSE_MS]\n"
	                "       storm_probe probe SECONDS PATH PAUSE_US THRESH_US [STOPFILE]\n"
	                "       storm_probe signal PID SIGNUM | now\n");
	return 2;
}
