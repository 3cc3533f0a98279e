// SPDX-License-Identifier: MIT
/*
 * uevent_listen [-t SECONDS] [-r READYFILE] [-n] : print every uevent the
 * kernel broadcasts on NETLINK_KOBJECT_UEVENT group 1 (the group udevd
 * listens on) in this network namespace, one line each:
 *   uevent pid=SENDER ACTION@DEVPATH KEY=VAL KEY=VAL ...
 * pid is the sender's port id from the netlink address (0: the kernel).
 * -t: stop after SECONDS (default 30).  -r: create READYFILE once the
 * socket is bound (so a test starts its losetup only then).  -n: never read
 * (a listener that lets its queue fill up), just sleep.
 *
 * uevent_listen -F COUNT IMG : no listener; COUNT rounds of LOOP_CTL_GET_FREE,
 * open, LOOP_SET_FD of IMG, LOOP_CLR_FD, close, as fast as they go (a flood
 * of the requests notifyd sends uevents for); prints
 *   flood rounds=COUNT ok=N ms=T
 * Static (tests run it in busybox containers); tests/integration/notifyd_uevents.sh.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int flood(long rounds, const char *img)
{
	long ok = 0, t0 = now_ms();
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	int f = open(img, O_RDWR | O_CLOEXEC);

	if (ctl < 0 || f < 0) {
		perror("uevent_listen: flood: open");
		return 1;
	}
	for (long i = 0; i < rounds; i++) {
		char dev[32];
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE), d;

		if (nr < 0)
			continue;
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		d = open(dev, O_RDWR | O_CLOEXEC);
		if (d < 0)
			continue;
		if (ioctl(d, LOOP_SET_FD, f) == 0 && ioctl(d, LOOP_CLR_FD, 0) == 0)
			ok++;
		close(d);
	}
	printf("flood rounds=%ld ok=%ld ms=%ld\n", rounds, ok, now_ms() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	const char *ready = NULL;
	long secs = 30, end;
	int opt, fd, noread = 0;
	static char buf[16384];

	while ((opt = getopt(argc, argv, "t:r:nF:")) != -1) {
		switch (opt) {
		case 'F':
			if (optind >= argc)
				return 2;
			return flood(strtol(optarg, NULL, 10), argv[optind]);
		case 't':
			secs = strtol(optarg, NULL, 10);
			break;
		case 'r':
			ready = optarg;
			break;
		case 'n':
			noread = 1;
			break;
		default:
			fprintf(stderr,
			        "usage: %s [-t SECONDS] [-r READYFILE] [-n] | -F COUNT IMG\n",
			        argv[0]);
			return 2;
		}
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("uevent_listen: netlink socket");
		return 1;
	}
	if (ready) {
		int r = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (r >= 0)
			close(r);
	}
	printf("listening\n");
	fflush(stdout);
	end = now_ms() + secs * 1000;
	if (noread) {
		sleep((unsigned)secs);
		return 0;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct sockaddr_nl from;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
		struct msghdr mh = {.msg_name = &from,
		                    .msg_namelen = sizeof(from),
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1};
		long left = end - now_ms();
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recvmsg(fd, &mh, 0);
		if (n < 0) {
			if (errno == ENOBUFS) {
				printf("overrun\n");
				continue;
			}
			perror("uevent_listen: recvmsg");
			return 1;
		}
		buf[n] = '\0';
		/* udev's own broadcasts (libudev header) are not the kernel's format: skip. */
		if (n >= 8 && !memcmp(buf, "libudev", 8))
			continue;
		printf("uevent pid=%u", from.nl_pid);
		for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1) {
			/* One line per event: no newline from the payload. */
			for (char *c = buf + i; *c; c++)
				if (*c == '\n' || *c == ' ')
					*c = '_';
			printf(" %s", buf + i);
		}
		printf("\n");
		fflush(stdout);
	}
	return 0;
}
