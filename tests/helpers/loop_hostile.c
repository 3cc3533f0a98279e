/* SPDX-License-Identifier: MIT */
/*
 * loop_hostile: a static helper run inside test containers that feeds
 * notifyd's loop emulation what util-linux never sends, one line per case:
 *   case=NAME rc=R errno=NAME
 *
 *   loop_hostile IMAGE
 *	Gets a device with LOOP_CTL_GET_FREE on /dev/loop-control and tries:
 *	LOOP_CONFIGURE and LOOP_SET_STATUS64 with unreadable pointers, an fd
 *	that is not open, a directory and the loop device itself as backing
 *	file; LOOP_GET_STATUS64 into an unmapped page; a request number with
 *	high bits set (the kernel reads an unsigned int, so it must still be
 *	trapped and answered as LOOP_GET_STATUS64); LOOP_CTL_REMOVE of a
 *	device that is bound (EBUSY) and of one that does not exist (EPERM);
 *	then a thread that keeps swapping the fd number between the loop
 *	device and /dev/null while another calls LOOP_CLR_FD/LOOP_CONFIGURE on
 *	it: every answer must be an answer for one of the two files.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc)
{
	printf("case=%s rc=%ld errno=%s\n", name, rc,
	       rc < 0 ? (strerrorname_np(errno) ?: "?") : "0");
	fflush(stdout);
}

static volatile int stop;
static int swap_fd, dev_fd, null_fd;

static void *swapper(void *arg)
{
	(void)arg;
	while (!stop) {
		dup2(null_fd, swap_fd);
		dup2(dev_fd, swap_fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct loop_config cfg;
	struct loop_info64 info;
	char dev[32];
	void *hole;
	int ctl, nr, img, dir;
	long rc;

	if (argc != 2) {
		fprintf(stderr, "usage: loop_hostile IMAGE\n");
		return 2;
	}
	hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	nr = ioctl(ctl, LOOP_CTL_GET_FREE);
	report("get-free", nr < 0 ? -1 : 0);
	if (nr < 0)
		return 1;
	snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
	dev_fd = open(dev, O_RDWR | O_CLOEXEC);
	img = open(argv[1], O_RDWR | O_CLOEXEC);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	report("open-dev", dev_fd < 0 ? -1 : 0);

	report("configure-null-ptr", ioctl(dev_fd, LOOP_CONFIGURE, NULL));
	report("configure-hole", ioctl(dev_fd, LOOP_CONFIGURE, hole));
	report("configure-kernel-ptr", ioctl(dev_fd, LOOP_CONFIGURE, (void *)0xffffffff81000000ul));
	memset(&cfg, 0, sizeof(cfg));
	cfg.fd = 987;
	report("configure-fd-not-open", ioctl(dev_fd, LOOP_CONFIGURE, &cfg));
	cfg.fd = (uint32_t)dir;
	report("configure-directory", ioctl(dev_fd, LOOP_CONFIGURE, &cfg));
	cfg.fd = (uint32_t)dev_fd;
	report("configure-itself", ioctl(dev_fd, LOOP_CONFIGURE, &cfg));
	report("set-fd-not-open", ioctl(dev_fd, LOOP_SET_FD, 987));
	report("clr-fd-bad-fd", ioctl(987, LOOP_CLR_FD, 0));
	cfg.fd = (uint32_t)img;
	report("configure-image", ioctl(dev_fd, LOOP_CONFIGURE, &cfg));
	report("set-status-hole", ioctl(dev_fd, LOOP_SET_STATUS64, hole));
	report("get-status-hole", ioctl(dev_fd, LOOP_GET_STATUS64, hole));
	memset(&info, 0, sizeof(info));
	rc = syscall(SYS_ioctl, dev_fd, (unsigned long)LOOP_GET_STATUS64 | (1ul << 32), &info);
	report("get-status-high-bits", rc);
	printf("high-bits-number=%u\n", info.lo_number);
	report("ctl-remove-bound", ioctl(ctl, LOOP_CTL_REMOVE, nr));
	report("ctl-remove-missing", ioctl(ctl, LOOP_CTL_REMOVE, 4000));
	report("ctl-add-too-big", ioctl(ctl, LOOP_CTL_ADD, 1 << 21));
	report("clr-fd", ioctl(dev_fd, LOOP_CLR_FD, 0));

	/* The fd number changes under the request: answers stay per file. */
	{
		pthread_t th;
		unsigned bad = 0, n = 0;

		swap_fd = dup(dev_fd);
		pthread_create(&th, NULL, swapper, NULL);
		for (; n < 400; n++) {
			int e;

			cfg.fd = (uint32_t)img;
			rc = ioctl(swap_fd, n % 2 ? LOOP_CLR_FD : LOOP_CONFIGURE,
			           n % 2 ? NULL : &cfg);
			e = errno;
			/* loop: ok, EBUSY, ENXIO; /dev/null: ENOTTY; swapped mid-dup2: EBADF */
			if (rc < 0 && e != EBUSY && e != ENXIO && e != ENOTTY && e != EBADF) {
				if (bad++ < 5)
					printf("race unexpected errno=%s\n",
					       strerrorname_np(e) ?: "?");
			}
		}
		stop = 1;
		pthread_join(th, NULL);
		printf("race calls=%u unexpected=%u\n", n, bad);
	}
	ioctl(dev_fd, LOOP_CLR_FD, 0);
	return 0;
}
