/* SPDX-License-Identifier: MIT */
/*
 * metrics.c's counting and exposition: labels from the fixed tables only,
 * whatever names and errnos come in; exact totals from concurrent threads;
 * the histogram's buckets.
 */
#include "notifyd/metrics.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct control_info info = {.profiles_dir = "/x", .features = "", .pid = 1};

static char *render(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		abort();
	metrics_render(out, &info);
	fclose(out);
	return text;
}

/* The value of the sample line that starts with series (then a space), or -1. */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static unsigned lines(const char *text)
{
	unsigned n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

static void count(const char *syscall, enum decision_action action, int err, int64_t val)
{
	struct decision d = {.action = action, .err = err, .val = val};

	metrics_count_request(syscall, &d, 0, 0);
}

static void *hammer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		count("mount", DECISION_KERNEL, 0, 0);
	return NULL;
}

int main(void)
{
	char *t;
	unsigned before;
	pthread_t th[4];
	struct decision d = {.action = DECISION_DENY, .err = EPERM};

	metrics_init();
	count("mount", DECISION_KERNEL, 0, 0);
	count("fsopen", DECISION_ENOSYS, ENOSYS, 0);
	count("ioctl", DECISION_LOOP, 0, 7); /* LOOP_CTL_GET_FREE's value: ok */
	count("umount2", DECISION_CONTINUE, 0, 0);
	count("mount", DECISION_NONE, EFAULT, 0);
	count("mount", DECISION_DENY, 4095, 0); /* no such errno */
	count(NULL, DECISION_DEFERRED, EPERM, 0);
	count("mount\"} 1\nfake_metric{", DECISION_DENY, EPERM, 0);
	t = render();
	CHECK(sample(t,
	             "notifyd_requests_total{syscall=\"mount\",action=\"kernel\",result=\"ok\"}") ==
	          1,
	      "mount kernel ok counted");
	CHECK(sample(t, "notifyd_requests_total{syscall=\"fsopen\",action=\"enosys\","
	                "result=\"ENOSYS\"}") == 1,
	      "fsopen enosys ENOSYS counted");
	CHECK(
	    sample(t, "notifyd_requests_total{syscall=\"ioctl\",action=\"loop\",result=\"ok\"}") ==
	        1,
	    "a value answer counts as ok");
	CHECK(sample(t, "notifyd_requests_total{syscall=\"umount2\",action=\"continue\","
	                "result=\"continue\"}") == 1,
	      "continue counted as continue");
	CHECK(sample(t, "notifyd_requests_total{syscall=\"mount\",action=\"error\","
	                "result=\"EFAULT\"}") == 1,
	      "an undecided request counts as action error");
	CHECK(sample(t, "notifyd_requests_total{syscall=\"mount\",action=\"deny\","
	                "result=\"other_errno\"}") == 1,
	      "an errno outside the table is other_errno");
	CHECK(sample(t, "notifyd_requests_total{syscall=\"other\",action=\"error\","
	                "result=\"EPERM\"}") == 1,
	      "no syscall name and a never-answered action: other / error");
	CHECK(sample(t, "notifyd_requests_total{syscall=\"other\",action=\"deny\","
	                "result=\"EPERM\"}") == 1,
	      "a syscall name with quotes and newlines becomes other");
	CHECK(!strstr(t, "fake_metric"), "no name passed in reaches the output");
	free(t);

	/* Unknown names of every kind: no new line in the output after the first. */
	count("other-1", DECISION_DENY, EINVAL, 0);
	t = render();
	before = lines(t);
	free(t);
	for (int i = 0; i < 5000; i++) {
		char name[32];
		snprintf(name, sizeof(name), "evil%d", i);
		d.err = 200 + i % 300;
		metrics_count_request(name, &d, 0, 0);
		count(name, DECISION_DENY, EINVAL, 0);
	}
	t = render();
	CHECK(lines(t) == before + 1, "5000 odd names and 300 odd errnos add one series (%u -> %u)",
	      before, lines(t));
	free(t);

	/* Four threads, 100000 each: exact. */
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, hammer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	t = render();
	CHECK(sample(t,
	             "notifyd_requests_total{syscall=\"mount\",action=\"kernel\",result=\"ok\"}") ==
	          400001,
	      "4 threads x 100000 counted exactly");
	CHECK(sample(t, "notifyd_request_duration_seconds_count") == 0,
	      "untimed requests stay out of the histogram");
	free(t);

	/* Timed: 3 ms falls in le=0.005, not le=0.0025; sum and count follow. */
	metrics_count_request("mount", &d, 0, metrics_now_ns() - 3000000);
	metrics_count_request("mount", &d, -ENOENT, metrics_now_ns() - 20000000000ull);
	metrics_count_request("mount", &d, -EPIPE, metrics_now_ns());
	t = render();
	CHECK(sample(t, "notifyd_request_duration_seconds_bucket{le=\"0.0025\"}") == 1,
	      "le=0.0025 holds the immediate one only");
	CHECK(sample(t, "notifyd_request_duration_seconds_bucket{le=\"0.005\"}") == 2,
	      "le=0.005 holds the 3 ms one too (cumulative)");
	CHECK(sample(t, "notifyd_request_duration_seconds_bucket{le=\"10\"}") == 2,
	      "20 s is past the last finite bucket");
	CHECK(sample(t, "notifyd_request_duration_seconds_bucket{le=\"+Inf\"}") == 3 &&
	          sample(t, "notifyd_request_duration_seconds_count") == 3,
	      "+Inf and _count hold all three");
	CHECK(sample(t, "notifyd_request_errors_total{kind=\"caller_gone\"}") == 1 &&
	          sample(t, "notifyd_request_errors_total{kind=\"send_failed\"}") == 1,
	      "caller gone and send failures counted apart");
	CHECK(sample(t, "notifyd_restarts_total") == 0 && sample(t, "notifyd_containers") == 0,
	      "gauges present with no containers");
	free(t);
	TAP_EXIT();
}
