/* SPDX-License-Identifier: MIT */
/*
 * share_start: the timing half of bench/share.sh (the notifyd `virtiofs`
 * action, docs/virtiofs.md).  Three modes, each printing one line of
 * key=value pairs (times in µs):
 *
 *   share_start mount SRC TARGET N [OPTS]
 *       in a container: N times create TARGET, mount(SRC, TARGET,
 *       "vhost-user-fs", 0, OPTS), connect to TARGET, send a vhost-user
 *       GET_FEATURES and read the answer, umount(TARGET), remove TARGET.
 *       mount_*: mount(2) itself; accept_*: from the mount call to a
 *       connection accepted (notifyd's socket listens before mount(2)
 *       returns); answer_*: from the mount call to the answer (notifyd's
 *       checks, the copy, vfsd's start-up until it serves); umount_*:
 *       umount(2).
 *   share_start hold SRC TARGET [OPTS]
 *       in a container: create TARGET, mount the share, print
 *       "ready pid=PID" (PID as the host sees it: mv_launch makes no pid
 *       namespace) and wait until stdin ends; then umount.
 *   share_start direct N SOCKET VFSD ARGS...
 *       the anchor, as root: N times start VFSD ARGS... (which must listen
 *       on SOCKET), connect as soon as SOCKET accepts, send GET_FEATURES,
 *       read the answer, stop VFSD.  accept_*: fork to the first accepted
 *       connection; answer_*: fork to the answer; stop_*: SIGTERM to reaped.
 *
 * Timing never fails: a round that goes wrong is counted in n but not in
 * ok, and the exit status is 0 unless nothing could be measured.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VHOST_USER_GET_FEATURES 1
#define VHOST_USER_VERSION      0x1
#define VHOST_USER_REPLY        0x4
#define CONNECT_TIMEOUT_S       10.0

struct vu_header {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Print " NAME_p50_us=... NAME_p90_us=..." of the n values in v (sorted in place). */
static void print_pct(const char *name, double *v, unsigned n)
{
	if (n == 0) {
		printf(" %s_p50_us=0 %s_p90_us=0", name, name);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_double);
	printf(" %s_p50_us=%.1f %s_p90_us=%.1f", name, v[(n - 1) / 2], name, v[(n * 9 - 1) / 10]);
}

static int full_io(int fd, void *buf, size_t len, int writing)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = writing ? write(fd, p, len) : read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* A connected socket to path, or -errno (no retry). */
static int connect_once(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Connect to path, retrying every 50 µs while nothing listens there yet. */
static int connect_retry(const char *path)
{
	double until = now_us() + CONNECT_TIMEOUT_S * 1e6;
	struct timespec pause = {.tv_nsec = 50000};
	int fd;

	for (;;) {
		fd = connect_once(path);
		if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED) || now_us() > until)
			return fd;
		nanosleep(&pause, NULL);
	}
}

/* GET_FEATURES on a connected vhost-user socket; 0 once the answer is in. */
static int get_features(int fd)
{
	struct vu_header h = {.request = VHOST_USER_GET_FEATURES, .flags = VHOST_USER_VERSION};
	uint64_t features;
	int r;

	r = full_io(fd, &h, sizeof(h), 1);
	if (r == 0)
		r = full_io(fd, &h, sizeof(h), 0);
	if (r == 0 && (h.request != VHOST_USER_GET_FEATURES || !(h.flags & VHOST_USER_REPLY) ||
	               h.size != sizeof(features)))
		r = -EPROTO;
	if (r == 0)
		r = full_io(fd, &features, sizeof(features), 0);
	return r;
}

static int make_target(const char *target)
{
	int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int mode_mount(const char *src, const char *target, unsigned n, const char *opts)
{
	double *mnt = calloc(n, sizeof(double)), *conn = calloc(n, sizeof(double)),
	       *ans = calloc(n, sizeof(double)), *umnt = calloc(n, sizeof(double));
	unsigned ok = 0;
	int first_err = 0;

	if (!mnt || !conn || !ans || !umnt)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		double t0, t1, tc, t2, t3;
		int fd, r;

		r = make_target(target);
		if (r < 0)
			goto fail;
		t0 = now_us();
		if (mount(src, target, "vhost-user-fs", 0, opts) < 0) {
			r = -errno;
			goto fail;
		}
		t1 = now_us();
		fd = connect_retry(target);
		tc = now_us();
		r = fd < 0 ? fd : get_features(fd);
		t2 = now_us();
		if (fd >= 0)
			close(fd);
		if (umount(target) < 0 && r == 0)
			r = -errno;
		t3 = now_us();
		unlink(target);
		if (r < 0)
			goto fail;
		mnt[ok] = t1 - t0;
		conn[ok] = tc - t0;
		ans[ok] = t2 - t0;
		umnt[ok] = t3 - t2;
		ok++;
		continue;
	fail:
		if (!first_err) {
			first_err = -r;
			fprintf(stderr, "share_start: round %u: %s\n", i, strerror(-r));
		}
		unlink(target);
	}
	printf("n=%u ok=%u", n, ok);
	print_pct("mount", mnt, ok);
	print_pct("accept", conn, ok);
	print_pct("answer", ans, ok);
	print_pct("umount", umnt, ok);
	printf("\n");
	free(mnt);
	free(conn);
	free(ans);
	free(umnt);
	return ok ? 0 : 1;
}

static int mode_hold(const char *src, const char *target, const char *opts)
{
	char buf[64];
	int r = make_target(target);

	if (r == 0 && mount(src, target, "vhost-user-fs", 0, opts) < 0)
		r = -errno;
	if (r < 0) {
		printf("error %s\n", strerror(-r));
		return 1;
	}
	printf("ready pid=%d\n", (int)getpid());
	fflush(stdout);
	for (;;) {
		ssize_t got = read(STDIN_FILENO, buf, sizeof(buf));

		if (got == 0 || (got < 0 && errno != EINTR))
			break;
	}
	if (umount(target) < 0) {
		fprintf(stderr, "share_start: umount %s: %s\n", target, strerror(errno));
		return 1;
	}
	unlink(target);
	return 0;
}

static int mode_direct(unsigned n, const char *sock, char **argv)
{
	double *acc = calloc(n, sizeof(double)), *ans = calloc(n, sizeof(double)),
	       *stop = calloc(n, sizeof(double));
	unsigned ok = 0;
	int first_err = 0;

	if (!acc || !ans || !stop)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		double t0, t1, t2, t3;
		int fd, r, st;
		pid_t pid;

		unlink(sock);
		t0 = now_us();
		pid = fork();
		if (pid < 0) {
			r = -errno;
			goto fail;
		}
		if (pid == 0) {
			/* stdout carries this program's one line of figures */
			if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
				_exit(127);
			execv(argv[0], argv);
			_exit(127);
		}
		fd = connect_retry(sock);
		t1 = now_us();
		r = fd < 0 ? fd : get_features(fd);
		t2 = now_us();
		if (fd >= 0)
			close(fd);
		kill(pid, SIGTERM);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		t3 = now_us();
		unlink(sock);
		if (r < 0)
			goto fail;
		acc[ok] = t1 - t0;
		ans[ok] = t2 - t0;
		stop[ok] = t3 - t2;
		ok++;
		continue;
	fail:
		if (!first_err) {
			first_err = -r;
			fprintf(stderr, "share_start: round %u: %s\n", i, strerror(-r));
		}
	}
	printf("n=%u ok=%u", n, ok);
	print_pct("accept", acc, ok);
	print_pct("answer", ans, ok);
	print_pct("stop", stop, ok);
	printf("\n");
	free(acc);
	free(ans);
	free(stop);
	return ok ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: share_start mount SRC TARGET N [OPTS]\n"
	                "       share_start hold SRC TARGET [OPTS]\n"
	                "       share_start direct N SOCKET VFSD ARGS...\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long n;

	if (argc >= 5 && !strcmp(argv[1], "mount")) {
		n = strtoul(argv[4], NULL, 10);
		if (n < 1 || n > 100000)
			return usage();
		return mode_mount(argv[2], argv[3], (unsigned)n, argc > 5 ? argv[5] : "");
	}
	if (argc >= 4 && !strcmp(argv[1], "hold"))
		return mode_hold(argv[2], argv[3], argc > 4 ? argv[4] : "");
	if (argc >= 5 && !strcmp(argv[1], "direct")) {
		n = strtoul(argv[2], NULL, 10);
		if (n < 1 || n > 100000)
			return usage();
		return mode_direct((unsigned)n, argv[3], argv + 4);
	}
	return usage();
}
