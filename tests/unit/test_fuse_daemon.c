/* SPDX-License-Identifier: MIT */
/*
 * fuse_daemon_reserve()/unreserve() from threads, against a real container
 * entry (no kernel objects needed: no notify fd, no pidfd).
 *
 * The lost wake-up: a reserve that finds the container full waits for an
 * unreserve.  If the unreserve lands between the reserve's look at the
 * count and its wait (the count and the condition variable under different
 * mutexes), the wake-up is lost and, with no other daemon exiting, the
 * reserve fails with ENOSPC after its 2 s deadline although the slot is free.
 * Each round below sets that up: one slot, held by the main thread, released
 * after a varying delay while the other thread reserves.  Against the code
 * with two mutexes it failed in 4 runs of 4 (after 4 to 11780 rounds).
 */
#include "notifyd/container.h"
#include "notifyd/fuse_daemon.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static struct container *c;
static atomic_uint go, done;
static atomic_int result;
static atomic_bool stop;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void spin(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		;
}

/* The second reserver: one reserve + unreserve per round. */
static void *contender(void *arg)
{
	unsigned round = 0;

	(void)arg;
	while (!atomic_load(&stop)) {
		if (atomic_load(&go) == round) {
			sched_yield();
			continue;
		}
		round = atomic_load(&go);
		int r = fuse_daemon_reserve(c, FUSE_DAEMON_PROGRAM, 1);
		if (r == 0)
			fuse_daemon_unreserve(c, FUSE_DAEMON_PROGRAM);
		atomic_store(&result, r);
		atomic_store(&done, round);
	}
	return NULL;
}

static void sum_count(const char *name, unsigned n, void *userdata)
{
	if (strcmp(name, "fuse-daemons") == 0)
		*(unsigned *)userdata += n;
}

static unsigned fuse_count(void)
{
	unsigned n = 0;

	pthread_mutex_lock(&c->lock);
	container_resource_counts(c, sum_count, &n);
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Threads hammering a limit of max: never more than max at once, no spurious ENOSPC. */
static atomic_uint holding, peak, spurious;
static unsigned hammer_max;

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000; i++) {
		if (fuse_daemon_reserve(c, FUSE_DAEMON_PROGRAM, hammer_max) < 0) {
			atomic_fetch_add(&spurious, 1);
			continue;
		}
		unsigned h = atomic_fetch_add(&holding, 1) + 1;
		for (unsigned p = atomic_load(&peak);
		     h > p && !atomic_compare_exchange_weak(&peak, &p, h);)
			;
		sched_yield();
		atomic_fetch_sub(&holding, 1);
		fuse_daemon_unreserve(c, FUSE_DAEMON_PROGRAM);
	}
	return NULL;
}

int main(void)
{
	pthread_t t, h[4];
	unsigned rounds = 0, failed = 0;
	uint64_t worst = 0, start;

	CHECK(container_new("unit", "default", "oci", 1, -EBADF, -EBADF, &c) == 0,
	      "a container entry");
	CHECK(fuse_count() == 0, "no fuse-daemons resource before the first reserve");

	/* The handoff: a slot freed while the other thread is about to wait for it. */
	pthread_create(&t, NULL, contender, NULL);
	start = now_us();
	while (rounds < 40000 && now_us() - start < 4000000 && !failed) {
		uint64_t t0;
		if (fuse_daemon_reserve(c, FUSE_DAEMON_PROGRAM, 1) < 0) {
			failed++;
			break;
		}
		rounds++;
		atomic_store(&go, rounds);
		spin((rounds * 37) % 1500); /* sweep the release across the contender's check */
		fuse_daemon_unreserve(c, FUSE_DAEMON_PROGRAM);
		t0 = now_us();
		while (atomic_load(&done) != rounds)
			sched_yield();
		if (now_us() - t0 > worst)
			worst = now_us() - t0;
		if (atomic_load(&result) != 0)
			failed++;
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	CHECK(failed == 0,
	      "a slot freed during another thread's reserve is taken: %u of %u rounds "
	      "failed (worst wait %llu us)",
	      failed, rounds, (unsigned long long)worst);
	CHECK(worst < 1000000, "no reserve waited for its deadline (worst %llu us)",
	      (unsigned long long)worst);
	CHECK(fuse_count() == 0, "count back to 0 after %u rounds", rounds);

	/* Many threads, a limit of 2. */
	hammer_max = 2;
	for (int i = 0; i < 4; i++)
		pthread_create(&h[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(h[i], NULL);
	CHECK(atomic_load(&spurious) == 0, "4 threads x 20000 reserves under max 2: %u ENOSPC",
	      atomic_load(&spurious));
	CHECK(atomic_load(&peak) <= 2, "never more than max held at once (peak %u)",
	      atomic_load(&peak));
	CHECK(fuse_count() == 0, "count back to 0");

	/* Full: the deadline, then ENOSPC (and the count stays). */
	CHECK(fuse_daemon_reserve(c, FUSE_DAEMON_PROGRAM, 1) == 0, "reserve the only slot");
	start = now_us();
	CHECK(fuse_daemon_reserve(c, FUSE_DAEMON_PROGRAM, 1) == -ENOSPC,
	      "a second reserve past max gets ENOSPC");
	CHECK(now_us() - start >= 1900000, "after waiting for its deadline (%llu ms)",
	      (unsigned long long)((now_us() - start) / 1000));
	CHECK(fuse_count() == 1, "count is 1");
	fuse_daemon_unreserve(c, FUSE_DAEMON_PROGRAM);

	container_forget(c); /* frees the entry and its resource */
	fuse_daemon_shutdown();
	TAP_EXIT();
}
