/* SPDX-License-Identifier: MIT */
/*
 * restart_flip SECONDS : for tests/security/notifyd_restart_redteam.sh (group
 * "flip"), in a container whose tmpfs mounts notifyd makes (action = kernel).
 *
 * One thread calls mount("t", buf, "tmpfs", 0, "size=1m") in a loop while a
 * second thread flips buf between "/mnt/x" and "/mnt/y" all the time, and the
 * host SIGKILLs and upgrades notifyd meanwhile: a request notifyd had in hand
 * when it died is replayed by its successor, which reads the arguments again
 * -- by then another target.  After each call the helper counts the tmpfs
 * mounts on both targets: a call answered 0 must have made exactly one, a
 * failed call none (a replay that made a second mount, or answered 0 for a
 * mount made elsewhere or not at all, shows here).  Then it unmounts by fixed
 * paths.  Prints "calls N ok N failed N inconsistent N" and each failure's
 * errno, one line per distinct errno.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

static char target[8] = "/mnt/x";
static atomic_bool stop;

static void *flipper(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		/* One byte: the string is always one of the two paths. */
		*(volatile char *)&target[5] = 'y';
		*(volatile char *)&target[5] = 'x';
	}
	return NULL;
}

/* tmpfs mounts on /mnt/x and /mnt/y, from mountinfo. */
static int count_mounts(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if ((strstr(line, " /mnt/x ") || strstr(line, " /mnt/y ")) &&
		    strstr(line, " - tmpfs "))
			n++;
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 10;
	long calls = 0, ok = 0, failed = 0, inconsistent = 0;
	int errs[256] = {0};
	time_t end = time(NULL) + seconds;
	pthread_t t;

	if (pthread_create(&t, NULL, flipper, NULL) != 0)
		return 2;
	while (time(NULL) < end) {
		int r = mount("t", target, "tmpfs", 0, "size=1m");
		int e = errno;
		int n = count_mounts();

		calls++;
		if (r == 0) {
			ok++;
			if (n != 1) {
				inconsistent++;
				printf(
				    "call %ld: answered 0, %d tmpfs mounts on /mnt/x and /mnt/y\n",
				    calls, n);
			}
		} else {
			failed++;
			errs[e & 255]++;
			if (n != 0) {
				inconsistent++;
				printf(
				    "call %ld: failed (%s), %d tmpfs mounts on /mnt/x and /mnt/y\n",
				    calls, strerror(e), n);
			}
		}
		/* Fixed paths, never the flipping buffer; also stacked mounts. */
		for (int i = 0; i < 8; i++)
			if (umount2("/mnt/x", 0) < 0 && umount2("/mnt/y", 0) < 0)
				break;
		if (count_mounts() != 0) {
			printf("call %ld: cannot unmount everything\n", calls);
			break;
		}
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	printf("calls %ld ok %ld failed %ld inconsistent %ld\n", calls, ok, failed, inconsistent);
	for (int i = 0; i < 256; i++)
		if (errs[i])
			printf("errno %d (%s): %d\n", i, strerror(i), errs[i]);
	return 0;
}
