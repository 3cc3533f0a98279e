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
 *
 *   loop_hostile --race N IMAGE
 *	Issue 13 item 6: two loop devices of its own, and threads that keep
 *	swapping the number of the fd the ioctl names among the loop device,
 *	/dev/null, a FIFO, a directory, a socket and the second loop device, and
 *	the number of the backing fd among the image, the FIFO, the directory,
 *	the socket and the second loop device, while the main thread sends N
 *	rounds of LOOP_CONFIGURE with LO_FLAGS_PARTSCAN, LOOP_SET_FD,
 *	LOOP_SET_STATUS64 with LO_FLAGS_PARTSCAN and LOOP_CLR_FD.  After every
 *	call both devices are read back through their own fds: PARTSCAN set, or
 *	a bound device whose backing inode is not the image's, is a breach.
 *	Prints "devices=A,B" first (for the host-side watcher), then
 *	"race2 rounds=N calls=C ok=O partscan=P nonregular=Q unexpected=U" and
 *	"errnos NAME=COUNT...".  Before the race, one "case=" line per file
 *	kind, as above, for the answers that need no race.
 *
 *   loop_hostile --hold SECONDS IMAGE
 *	Keeps loop devices of its own unbound, or lets them become unbound,
 *	while the host binds files of its own with losetup -f, for SECONDS in
 *	three phases: (fresh) a device from LOOP_CTL_GET_FREE opened and never
 *	bound; (cleared) bound to IMAGE, LOOP_CLR_FD, the fd kept, the node
 *	reopened again and again; (autoclear) bound with LO_FLAGS_AUTOCLEAR,
 *	closed, the node reopened again and again.  Every open fd is read at
 *	offset 0 and asked LOOP_GET_STATUS64: data or a backing inode that is
 *	not IMAGE's is a foreign file reached through a device of its own.
 *	Prints "hold fresh=A cleared=B autoclear=C reads=R bound=N foreign=F".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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

/* --race: the fd numbers the ioctls name, swapped among files of every kind. */
static int ioctl_fd = -1, back_fd = -1;
static int *ioctl_pool, *back_pool, n_ioctl_pool, n_back_pool;

static void *swap_ioctl_fd(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !stop; i++) {
		dup2(ioctl_pool[i % (unsigned)n_ioctl_pool], ioctl_fd);
		sched_yield(); /* let each file stay a moment under the number */
	}
	return NULL;
}

static void *swap_back_fd(void *arg)
{
	(void)arg;
	for (unsigned i = 0; !stop; i++) {
		dup2(back_pool[i % (unsigned)n_back_pool], back_fd);
		sched_yield();
	}
	return NULL;
}

/* A loop device of ours, read through its own fd: PARTSCAN or a backing file not the image. */
static void inspect(int fd, ino_t img_ino, dev_t img_dev, unsigned *partscan, unsigned *nonreg)
{
	struct loop_info64 info;

	char c;

	if (ioctl(fd, LOOP_GET_STATUS64, &info) < 0)
		return; /* unbound */
	/* Given up by notifyd (fresh too long): parked on an empty file of its own. */
	if ((info.lo_flags & (LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR)) ==
	        (LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR) &&
	    pread(fd, &c, 1, 0) == 0)
		return;
	if (info.lo_flags & LO_FLAGS_PARTSCAN)
		++*partscan;
	if (info.lo_inode != img_ino || info.lo_device != img_dev)
		++*nonreg;
}

static int race_main(unsigned rounds, const char *image)
{
	unsigned calls = 0, ok = 0, partscan = 0, nonreg = 0, unexpected = 0, errs[200] = {0};
	unsigned op_ok[4] = {0}, reopen_waits = 0, reopen_max = 0, expired = 0;
	int ctl, nr1, nr2, dev1, dev2, img, dir, fifo, sv[2];
	char path[64], fifo_path[] = "/tmp/loop_hostile.fifo";
	struct loop_config cfg;
	struct loop_info64 info;
	struct stat st;
	pthread_t t1, t2;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	nr1 = ioctl(ctl, LOOP_CTL_GET_FREE);
	snprintf(path, sizeof(path), "/dev/loop%d", nr1);
	dev1 = open(path, O_RDWR | O_CLOEXEC);
	nr2 = ioctl(ctl, LOOP_CTL_ADD, nr1 + 1) < 0 ? ioctl(ctl, LOOP_CTL_GET_FREE) : nr1 + 1;
	/* GET_FREE hands out dev1 again while it is unbound: bind it first. */
	if (nr2 == nr1) {
		memset(&cfg, 0, sizeof(cfg));
		img = open(image, O_RDWR | O_CLOEXEC);
		cfg.fd = (uint32_t)img;
		ioctl(dev1, LOOP_CONFIGURE, &cfg);
		nr2 = ioctl(ctl, LOOP_CTL_GET_FREE);
		ioctl(dev1, LOOP_CLR_FD, 0);
		close(img);
	}
	snprintf(path, sizeof(path), "/dev/loop%d", nr2);
	dev2 = open(path, O_RDWR | O_CLOEXEC);
	img = open(image, O_RDWR | O_CLOEXEC);
	dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	unlink(fifo_path);
	mkfifo(fifo_path, 0600);
	fifo = open(fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	printf("devices=%d,%d\n", nr1, nr2);
	fflush(stdout);
	if (nr1 < 0 || nr2 < 0 || nr1 == nr2 || dev1 < 0 || dev2 < 0 || img < 0 || dir < 0 ||
	    fifo < 0 || null_fd < 0 || fstat(img, &st) < 0) {
		printf("race2 setup failed: nr=%d,%d fds=%d,%d,%d,%d,%d,%d\n", nr1, nr2, dev1, dev2,
		       img, dir, fifo, null_fd);
		return 1;
	}
	/* Each file kind once, without a race: the answers the kernel would give. */
	{
		static const struct {
			const char *name;
			int which; /* backing: 0 fifo, 1 dir, 2 socket, 3 block device */
		} backs[] = {{"back-fifo", 0},
		             {"back-directory", 1},
		             {"back-socket", 2},
		             {"back-blockdev", 3}};
		int bfd[] = {fifo, dir, sv[1], dev2};

		/* A bound loop device is a backing file the kernel itself would take. */
		report("bind-second-device", ioctl(dev2, LOOP_SET_FD, img));

		for (size_t i = 0; i < sizeof(backs) / sizeof(backs[0]); i++) {
			char name[64];

			memset(&cfg, 0, sizeof(cfg));
			cfg.fd = (uint32_t)bfd[backs[i].which];
			snprintf(name, sizeof(name), "configure-%s", backs[i].name);
			report(name, ioctl(dev1, LOOP_CONFIGURE, &cfg));
			snprintf(name, sizeof(name), "set-fd-%s", backs[i].name);
			report(name, ioctl(dev1, LOOP_SET_FD, bfd[backs[i].which]));
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)img;
		cfg.info.lo_flags = LO_FLAGS_PARTSCAN;
		report("configure-partscan", ioctl(dev1, LOOP_CONFIGURE, &cfg));
		report("configure-on-null", ioctl(null_fd, LOOP_CONFIGURE, &cfg));
		report("configure-on-fifo", ioctl(fifo, LOOP_CONFIGURE, &cfg));
		report("configure-on-directory", ioctl(dir, LOOP_CONFIGURE, &cfg));
		report("configure-on-socket", ioctl(sv[0], LOOP_CONFIGURE, &cfg));
		report("configure-on-image", ioctl(img, LOOP_CONFIGURE, &cfg));
		report("set-fd-on-null", ioctl(null_fd, LOOP_SET_FD, img));
		report("ctl-get-free-on-image", ioctl(img, LOOP_CTL_GET_FREE));
		report("ctl-get-free-on-loop", ioctl(dev1, LOOP_CTL_GET_FREE));
		report("set-fd-on-control", ioctl(ctl, LOOP_SET_FD, img));
		{
			int opath = open(path, O_PATH | O_CLOEXEC);
			report("get-status-o-path", ioctl(opath, LOOP_GET_STATUS64, &info));
			close(opath);
		}
		report("unknown-cmd-on-loop", ioctl(dev1, 0x4C7F, 0));
		ioctl(dev1, LOOP_CLR_FD, 0);
		ioctl(dev2, LOOP_CLR_FD, 0); /* detached when the race reopens it */
	}
	/* Half of the time a loop device, so both kinds of answer keep coming. */
	int ip[] = {dev1, null_fd, dev2, fifo, dev1, dir, dev2, sv[0]};
	int bp[] = {img, fifo, img, dir, img, sv[1], img, dev2};
	ioctl_pool = ip;
	n_ioctl_pool = (int)(sizeof(ip) / sizeof(ip[0]));
	back_pool = bp;
	n_back_pool = (int)(sizeof(bp) / sizeof(bp[0]));
	ioctl_fd = dup(dev1);
	back_fd = dup(img);
	for (unsigned r = 0; r < rounds; r++) {
		/*
		 * Fresh opens every round: LOOP_CLR_FD on a device that is still open
		 * only marks it for detaching at the last close (new opens get ENXIO
		 * meanwhile), and such a device answers EBUSY to every LOOP_SET_FD.
		 */
		close(ioctl_fd);
		dup2(img, back_fd); /* it may hold the second device's file */
		for (int k = 0; k < 2; k++) {
			int fresh = -1, *slot = k ? &dev2 : &dev1;

			snprintf(path, sizeof(path), "/dev/loop%d", k ? nr2 : nr1);
			close(*slot);
			/* notifyd revokes the node until it has the detached device back (EACCES).
			 */
			int tries = 0;

			for (; fresh < 0 && tries < 1000; tries++) {
				fresh = open(path, O_RDWR | O_CLOEXEC);
				if (fresh < 0)
					usleep(1000);
			}
			reopen_waits += (unsigned)tries - 1;
			reopen_max =
			    (unsigned)tries - 1 > reopen_max ? (unsigned)tries - 1 : reopen_max;
			/*
			 * notifyd gives up a device left unbound for 2 s (its node
			 * then stays EACCES): take a new one, as losetup would.
			 */
			int gone = fresh < 0 && errno == EACCES;
			int next = (nr1 > nr2 ? nr1 : nr2) + 1;

			for (int a = 0; gone && fresh < 0 && a < 200; a++) {
				/* GET_FREE would name the other one if it is fresh: ADD. */
				int nr = ioctl(ctl, LOOP_CTL_ADD, next);

				if (nr < 0) {
					if (errno == EAGAIN) /* notifyd's rate limit */
						usleep(20000);
					else
						next++; /* EEXIST: taken */
					continue;
				}
				*(k ? &nr2 : &nr1) = nr;
				expired++;
				snprintf(path, sizeof(path), "/dev/loop%d", nr);
				fresh = open(path, O_RDWR | O_CLOEXEC);
			}
			if (fresh < 0) {
				printf("race2 cannot reopen %s: %s\n", path, strerror(errno));
				return 1;
			}
			if (fresh !=
			    *slot) { /* the number just closed is often the one open() gives */
				dup2(fresh, *slot);
				close(fresh);
			}
		}
		ioctl_fd = dup(dev1);
		stop = 0;
		pthread_create(&t1, NULL, swap_ioctl_fd, NULL);
		pthread_create(&t2, NULL, swap_back_fd, NULL);
		for (int op = 0; op < 4; op++) {
			long rc;
			int e;

			switch (op) {
			case 0: /* LOOP_CONFIGURE asking for partition scanning */
				memset(&cfg, 0, sizeof(cfg));
				cfg.fd = (uint32_t)back_fd;
				cfg.info.lo_flags =
				    LO_FLAGS_PARTSCAN | (r & 1 ? LO_FLAGS_AUTOCLEAR : 0);
				rc = ioctl(ioctl_fd, LOOP_CONFIGURE, &cfg);
				break;
			case 1: /* LOOP_SET_FD with whatever the backing number names now */
				rc = ioctl(ioctl_fd, LOOP_SET_FD, back_fd);
				break;
			case 2: /* PARTSCAN on a bound device */
				memset(&info, 0, sizeof(info));
				info.lo_flags = LO_FLAGS_PARTSCAN;
				rc = ioctl(ioctl_fd, LOOP_SET_STATUS64, &info);
				break;
			default:
				rc = ioctl(ioctl_fd, LOOP_CLR_FD, 0);
				break;
			}
			e = errno;
			calls++;
			if (rc == 0) {
				ok++;
				op_ok[op]++;
			} else if (e > 0 && e < 200)
				errs[e]++;
			/* Answers that fit one of the files: loop (EBUSY, ENXIO, EINVAL for a
			 * non-regular backing file, EOPNOTSUPP for PARTSCAN, EBADF for a
			 * backing number mid-dup2), not a loop device (ENOTTY). */
			/* EPERM: a device notifyd gave up (left unbound for 2 s). */
			if (rc < 0 && e != EBUSY && e != ENXIO && e != EINVAL && e != EOPNOTSUPP &&
			    e != ENOTTY && e != EBADF && e != EPERM)
				unexpected++;
			inspect(dev1, st.st_ino, st.st_dev, &partscan, &nonreg);
			inspect(dev2, st.st_ino, st.st_dev, &partscan, &nonreg);
		}
		stop = 1;
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		ioctl(dev1, LOOP_CLR_FD, 0);
		ioctl(dev2, LOOP_CLR_FD, 0);
	}
	ioctl(dev1, LOOP_CLR_FD, 0);
	ioctl(dev2, LOOP_CLR_FD, 0);
	unlink(fifo_path);
	printf("race2 rounds=%u calls=%u ok=%u partscan=%u nonregular=%u unexpected=%u\n", rounds,
	       calls, ok, partscan, nonreg, unexpected);
	printf("reopen waits=%u max=%u (1 ms each) expired=%u\n", reopen_waits, reopen_max,
	       expired);
	printf("ok-per-op configure=%u set-fd=%u set-status=%u clr-fd=%u\n", op_ok[0], op_ok[1],
	       op_ok[2], op_ok[3]);
	printf("errnos");
	for (int e = 1; e < 200; e++)
		if (errs[e])
			printf(" %s=%u", strerrorname_np(e) ?: "?", errs[e]);
	printf("\n");
	return 0;
}

/* --hold: one look through fd; 1 if it reaches a file that is not the image. */
static int hold_look(int fd, const struct stat *img, unsigned *reads, unsigned *bound)
{
	struct loop_info64 info;
	char buf[512];
	ssize_t n;

	n = pread(fd, buf, sizeof(buf), 0);
	if (n > 0)
		++*reads;
	if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0) {
		++*bound;
		/*
		 * A fresh device notifyd gave up (not bound in time) is parked:
		 * read-only, autoclear, on an empty file of notifyd's.  Nothing.
		 */
		if (n == 0 && (info.lo_flags & (LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR)) ==
		                  (LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR))
			return 0;
		if (info.lo_inode != img->st_ino || info.lo_device != img->st_dev)
			return 1;
	}
	/* The images here start with zeros; the host's file starts with HOSTBIND. */
	return n >= 8 && !memcmp(buf, "HOSTBIND", 8);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hold_main(double seconds, const char *image)
{
	unsigned reads = 0, bound = 0, foreign = 0, opens[3] = {0};
	struct loop_config cfg;
	struct stat st;
	char path[64];
	int ctl, nr, dev, img;
	double end;

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	img = open(image, O_RDWR | O_CLOEXEC);
	if (ctl < 0 || img < 0 || fstat(img, &st) < 0) {
		printf("hold setup failed: %s\n", strerror(errno));
		return 1;
	}
	for (int phase = 0; phase < 3; phase++) {
		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		snprintf(path, sizeof(path), "/dev/loop%d", nr);
		dev = nr < 0 ? -1 : open(path, O_RDWR | O_CLOEXEC);
		if (dev < 0) {
			printf("hold phase %d: no device: %s\n", phase, strerror(errno));
			return 1;
		}
		printf("phase=%d device=%d\n", phase, nr);
		fflush(stdout);
		if (phase > 0) {
			memset(&cfg, 0, sizeof(cfg));
			cfg.fd = (uint32_t)img;
			cfg.info.lo_flags = phase == 2 ? LO_FLAGS_AUTOCLEAR : 0;
			if (ioctl(dev, LOOP_CONFIGURE, &cfg) < 0)
				printf("phase=%d configure: %s\n", phase, strerror(errno));
			if (phase == 1)
				ioctl(dev, LOOP_CLR_FD, 0);
			else
				dev = (close(dev), -1);
		}
		end = now() + seconds / 3;
		while (now() < end) {
			int fd = dev >= 0 ? dev : open(path, O_RDWR | O_CLOEXEC);

			if (fd >= 0) {
				opens[phase]++;
				foreign += (unsigned)hold_look(fd, &st, &reads, &bound);
				if (fd != dev)
					close(fd);
			}
			if (phase == 1 && dev >= 0 && opens[1] > 50) /* then reopen the node */
				dev = (close(dev), -1);
			usleep(1000);
		}
		if (dev >= 0)
			close(dev);
	}
	printf("hold fresh=%u cleared=%u autoclear=%u reads=%u bound=%u foreign=%u\n", opens[0],
	       opens[1], opens[2], reads, bound, foreign);
	return 0;
}

int main(int argc, char **argv)
{
	struct loop_config cfg;
	struct loop_info64 info;
	char dev[32];
	void *hole;
	int ctl, nr, img, dir;
	long rc;

	if (argc == 4 && !strcmp(argv[1], "--race"))
		return race_main((unsigned)strtoul(argv[2], NULL, 10), argv[3]);
	if (argc == 4 && !strcmp(argv[1], "--hold"))
		return hold_main(strtod(argv[2], NULL), argv[3]);
	if (argc != 2) {
		fprintf(stderr,
		        "usage: loop_hostile IMAGE | --race N IMAGE | --hold SECONDS IMAGE\n");
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
