/* SPDX-License-Identifier: MIT */
/*
 * Counters a node agent scrapes (docs/metrics.md): requests by
 * syscall/action/result, a latency histogram of request handling, and
 * gauges read at scrape time (containers, mounts, FUSE daemons, loop
 * devices by state, in-flight slots, fds).  Every label value comes from a
 * fixed table, never from a container, so no container can grow the
 * output.  Counting is a few relaxed atomic adds, from any thread.
 *
 * The Prometheus text format (0.0.4) is served on an opt-in listener
 * (`notifyd --metrics unix:PATH|ADDR:PORT`) by libmicrohttpd on a thread of
 * its own, with a connection cap, a timeout and a request size cap.
 */
#ifndef MV_METRICS_H
#define MV_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "notifyd/control.h"
#include "notifyd/decision.h"

/* CLOCK_MONOTONIC in ns: a request's receipt, for metrics_count_request(). */
uint64_t metrics_now_ns(void);
/* At start: the start time notifyd_start_time_seconds reports. */
void metrics_init(void);
/*
 * One answered request: its syscall name (matched against the trapped
 * set; others count as "other"), the decision, the result of answering it
 * (send_err: 0, -ENOENT caller gone, other -errno) and when it was
 * received (0: unknown, e.g. recovered from a predecessor; not timed).
 */
void metrics_count_request(const char *syscall, const struct decision *d, int send_err,
                           uint64_t received_ns);
/* The whole exposition, Prometheus text format 0.0.4. */
void metrics_render(FILE *out, const struct control_info *info);
/*
 * Serve GET /metrics on spec ("unix:PATH", "127.0.0.1:PORT", "[::1]:PORT";
 * only loopback addresses).  The listening socket is kept in the fd store
 * (a restarted notifyd serves on the same one).  A unix socket is 0600, or
 * 0660 with group gid when gid is not (gid_t)-1.  0, or -errno with *why set.
 */
int metrics_listen(const char *spec, gid_t gid, const struct control_info *info, char *why,
                   size_t size);
/* Stop serving and remove the unix socket file we made. */
void metrics_stop(void);

#endif
