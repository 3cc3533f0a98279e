/* SPDX-License-Identifier: MIT */
/*
 * Counters and the Prometheus listener (metrics.h, docs/metrics.md).
 *
 * The hot path (metrics_count_request(), from request_answer() in every
 * worker and deferred start-up thread) only does relaxed atomic adds into
 * fixed arrays indexed by fixed enums; a scrape reads them without a lock.
 * Gauges (containers, mounts, daemons, loop devices) are read at scrape
 * time from their owners, under the owners' locks, as `notifyctl stats`.
 */
#include "notifyd/metrics.h"
#include "notifyd/container.h"
#include "notifyd/fd_store.h"
#include "notifyd/inflight.h"
#include "notifyd/loop_device.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/unix_listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The syscall label: the names supervise.c traps; anything else is "other". */
static const char *const syscall_names[] = {
    "mount",   "umount2", "umount",     "ioctl",     "fsopen",        "fsconfig",
    "fsmount", "fspick",  "move_mount", "open_tree", "mount_setattr", "other",
};
#define N_SYSCALLS ARRAY_SIZE(syscall_names)

/* The action label: decision_action_name() of these (NONE counts as ERROR, one "error"). */
static const enum decision_action actions[] = {
    DECISION_KERNEL,   DECISION_FUSE, DECISION_VIRTIOFS, DECISION_UMOUNT, DECISION_LOOP,
    DECISION_CONTINUE, DECISION_DENY, DECISION_ENOSYS,   DECISION_ERROR,
};
#define N_ACTIONS ARRAY_SIZE(actions)

/*
 * The result label: "ok", "continue", an errno name from this table, or
 * "other_errno".  The errnos notifyd's handlers answer with, and a few the
 * kernel gives them; a new one shows up as other_errno until added here.
 */
static const int result_errnos[] = {
    EPERM,     ENOENT,    ESRCH,      EINTR,     EIO,       ENXIO,  E2BIG,  EBADF,        EAGAIN,
    ENOMEM,    EACCES,    EFAULT,     ENOTBLK,   EBUSY,     EEXIST, EXDEV,  ENODEV,       ENOTDIR,
    EISDIR,    EINVAL,    ENFILE,     EMFILE,    ENOSPC,    EROFS,  ELOOP,  ENAMETOOLONG, ENOSYS,
    ENOTEMPTY, EOVERFLOW, EOPNOTSUPP, ETIMEDOUT, ECANCELED, ESTALE, EDQUOT,
};
enum { RESULT_OK, RESULT_CONTINUE, RESULT_OTHER_ERRNO, RESULT_FIRST_ERRNO };
#define N_RESULTS (RESULT_FIRST_ERRNO + ARRAY_SIZE(result_errnos))

/* Upper bounds of the latency buckets, in µs; +Inf follows. */
static const uint64_t bucket_us[] = {
    50,    100,    250,    500,    1000,    2500,    5000,    10000,    25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
#define N_BUCKETS (ARRAY_SIZE(bucket_us) + 1)

static struct {
	_Atomic uint64_t requests[N_SYSCALLS][N_ACTIONS][N_RESULTS];
	_Atomic uint64_t buckets[N_BUCKETS]; /* not cumulative; summed at render */
	_Atomic uint64_t duration_ns;        /* the histogram's _sum */
	_Atomic uint64_t callers_gone;       /* answered, but the caller had gone (ENOENT) */
	_Atomic uint64_t answer_failed;      /* the answer could not be sent (other errors) */
	time_t start;                        /* wall clock at metrics_init() */
} m;

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_init(void)
{
	m.start = time(NULL);
}

static unsigned syscall_index(const char *name)
{
	unsigned i;

	for (i = 0; name && i < N_SYSCALLS - 1; i++)
		if (strcmp(name, syscall_names[i]) == 0)
			return i;
	return N_SYSCALLS - 1;
}

static unsigned action_index(enum decision_action a)
{
	if (a == DECISION_NONE)
		a = DECISION_ERROR;
	for (unsigned i = 0; i < N_ACTIONS; i++)
		if (actions[i] == a)
			return i;
	return N_ACTIONS - 1; /* DEFERRED is never answered; anything else is an error */
}

static unsigned result_index(const struct decision *d)
{
	if (d->action == DECISION_CONTINUE)
		return RESULT_CONTINUE;
	if (d->err == 0)
		return RESULT_OK;
	for (unsigned i = 0; i < ARRAY_SIZE(result_errnos); i++)
		if (result_errnos[i] == d->err)
			return RESULT_FIRST_ERRNO + i;
	return RESULT_OTHER_ERRNO;
}

void metrics_count_request(const char *syscall, const struct decision *d, int send_err,
                           uint64_t received_ns)
{
	atomic_fetch_add_explicit(
	    &m.requests[syscall_index(syscall)][action_index(d->action)][result_index(d)], 1,
	    memory_order_relaxed);
	if (send_err == -ENOENT)
		atomic_fetch_add_explicit(&m.callers_gone, 1, memory_order_relaxed);
	else if (send_err < 0)
		atomic_fetch_add_explicit(&m.answer_failed, 1, memory_order_relaxed);
	if (received_ns) {
		uint64_t ns = metrics_now_ns() - received_ns;
		unsigned b;

		for (b = 0; b < ARRAY_SIZE(bucket_us) && ns > bucket_us[b] * 1000; b++)
			;
		atomic_fetch_add_explicit(&m.buckets[b], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&m.duration_ns, ns, memory_order_relaxed);
	}
}

static const char *result_name(unsigned r)
{
	if (r == RESULT_OK)
		return "ok";
	if (r == RESULT_CONTINUE)
		return "continue";
	if (r == RESULT_OTHER_ERRNO)
		return "other_errno";
	return strerrorname_np(result_errnos[r - RESULT_FIRST_ERRNO]) ?: "other_errno";
}

/* Resource gauges summed over the entries, by the names their modules give. */
struct gauges {
	unsigned long long mounts, fuse, vfsd, loop;
};

static void gauge_resource(const char *name, unsigned n, void *userdata)
{
	struct gauges *g = userdata;

	if (strcmp(name, "mounts") == 0)
		g->mounts += n;
	else if (strcmp(name, "fuse-daemons") == 0)
		g->fuse += n;
	else if (strcmp(name, "vfsd-shares") == 0)
		g->vfsd += n;
	else if (strcmp(name, "loop-devices") == 0)
		g->loop += n;
}

static void gauge_one(struct container *c, void *userdata)
{
	pthread_mutex_lock(&c->lock);
	container_resource_counts(c, gauge_resource, userdata);
	pthread_mutex_unlock(&c->lock);
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_render(FILE *out, const struct control_info *info)
{
	struct gauges g = {0};
	unsigned slots, used = inflight_used(&slots);
	unsigned loops[LOOP_STATE_COUNT] = {0};
	static const char *const loop_state_names[LOOP_STATE_COUNT] = {
	    [LOOP_STATE_FRESH] = "fresh",
	    [LOOP_STATE_BOUND] = "bound",
	    [LOOP_STATE_CLEARING] = "clearing",
	    [LOOP_STATE_GONE] = "gone",
	};
	uint64_t cum = 0;

	container_foreach(gauge_one, &g);
	loop_device_state_counts(loops);

	head(out, "notifyd_start_time_seconds", "gauge",
	     "Start time of this notifyd process since the Unix epoch (counters start at 0 then).");
	fprintf(out, "notifyd_start_time_seconds %lld\n", (long long)m.start);
	head(out, "notifyd_restarts_total", "counter",
	     "Starts of notifyd within the life of its fd store, minus one.");
	fprintf(out, "notifyd_restarts_total %u\n", info->restarts);
	head(out, "notifyd_requests_total", "counter",
	     "Requests answered, by trapped syscall, action and result.");
	for (unsigned s = 0; s < N_SYSCALLS; s++)
		for (unsigned a = 0; a < N_ACTIONS; a++)
			for (unsigned r = 0; r < N_RESULTS; r++) {
				uint64_t v = atomic_load_explicit(&m.requests[s][a][r],
				                                  memory_order_relaxed);
				if (v)
					fprintf(
					    out,
					    "notifyd_requests_total{syscall=\"%s\",action=\"%s\","
					    "result=\"%s\"} %llu\n",
					    syscall_names[s], decision_action_name(actions[a]),
					    result_name(r), (unsigned long long)v);
			}
	head(out, "notifyd_request_duration_seconds", "histogram",
	     "Time from a request's receipt to its answer.");
	for (unsigned b = 0; b < N_BUCKETS; b++) {
		cum += atomic_load_explicit(&m.buckets[b], memory_order_relaxed);
		if (b < ARRAY_SIZE(bucket_us))
			fprintf(out, "notifyd_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			        (double)bucket_us[b] / 1e6, (unsigned long long)cum);
		else
			fprintf(out, "notifyd_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			        (unsigned long long)cum);
	}
	fprintf(out, "notifyd_request_duration_seconds_sum %.9f\n",
	        (double)atomic_load_explicit(&m.duration_ns, memory_order_relaxed) / 1e9);
	fprintf(out, "notifyd_request_duration_seconds_count %llu\n", (unsigned long long)cum);
	head(out, "notifyd_request_errors_total", "counter",
	     "Answers that reached no caller: caller_gone (it died first, normal), "
	     "send_failed (the answer could not be sent).");
	fprintf(out, "notifyd_request_errors_total{kind=\"caller_gone\"} %llu\n",
	        (unsigned long long)atomic_load(&m.callers_gone));
	fprintf(out, "notifyd_request_errors_total{kind=\"send_failed\"} %llu\n",
	        (unsigned long long)atomic_load(&m.answer_failed));
	head(out, "notifyd_containers", "gauge", "Containers notifyd supervises.");
	fprintf(out, "notifyd_containers %u\n", container_count());
	head(out, "notifyd_mounts", "gauge", "Mounts notifyd made that are still attached.");
	fprintf(out, "notifyd_mounts %llu\n", g.mounts);
	head(out, "notifyd_daemons", "gauge", "FUSE programs and vfsd shares running.");
	fprintf(out, "notifyd_daemons{kind=\"fuse\"} %llu\n", g.fuse);
	fprintf(out, "notifyd_daemons{kind=\"vfsd\"} %llu\n", g.vfsd);
	head(out, "notifyd_loop_devices", "gauge", "Loop devices notifyd holds, by state.");
	for (unsigned i = 0; i < LOOP_STATE_COUNT; i++)
		fprintf(out, "notifyd_loop_devices{state=\"%s\"} %u\n", loop_state_names[i],
		        loops[i]);
	head(out, "notifyd_in_flight", "gauge",
	     "Requests being handled (in-flight log slots used).");
	fprintf(out, "notifyd_in_flight %u\n", used);
	head(out, "notifyd_in_flight_slots", "gauge", "Slots of the in-flight log.");
	fprintf(out, "notifyd_in_flight_slots %u\n", slots);
	head(out, "notifyd_open_fds", "gauge", "File descriptors notifyd has open.");
	fprintf(out, "notifyd_open_fds %d\n", fd_count_open());
}

/* ---- the listener ---- */

/*
 * Bounds against slow or hostile clients (tests/security/notifyd_metrics_hostile.sh):
 * libmicrohttpd accepts no connection past the cap (they wait in the listen
 * backlog), closes idle ones after the timeout, and answers a request whose
 * line and headers do not fit the memory limit with 414 or 431.
 */
#define METRICS_MAX_CONNECTIONS 16
#define METRICS_TIMEOUT_S       5
#define METRICS_MEMORY_LIMIT    (16 * 1024)

static struct {
	struct MHD_Daemon *daemon;
	const struct control_info *info;
	char *unix_path; /* the socket file we made, removed at metrics_stop() */
	struct unix_listener_id unix_id;
} srv;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *body,
                             size_t len, bool own, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
	    len, (void *)body, own ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result r;

	if (!resp) {
		if (own)
			free((void *)body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
	static const char not_found[] = "not found: only /metrics is served\n";
	static const char not_allowed[] = "method not allowed\n";
	static const char text[] = "text/plain; charset=utf-8";
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	(void)cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	/*
	 * Answered at the first call, with the headers: a body (none is
	 * expected) is never read, libmicrohttpd closes the connection instead.
	 */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed),
		             false, text);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found), false, text);
	out = open_memstream(&body, &len);
	if (!out)
		return MHD_NO;
	metrics_render(out, srv.info);
	if (fclose(out) != 0) {
		free(body);
		return MHD_NO;
	}
	return reply(conn, MHD_HTTP_OK, body, len, true,
	             "text/plain; version=0.0.4; charset=utf-8");
}

/* Loopback only: the counters tell which containers do what; a wider listener is a proxy's job. */
static int open_inet(const char *spec, char *why, size_t size)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	char host[64];
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;
	int fd, one = 1;

	if (!colon || (size_t)(colon - spec) >= sizeof(host)) {
		snprintf(why, size, "'%s' is neither unix:PATH nor ADDRESS:PORT", spec);
		return -EINVAL;
	}
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535) {
		snprintf(why, size, "bad port in '%s'", spec);
		return -EINVAL;
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		host[strlen(host) - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1) {
			snprintf(why, size, "bad IPv6 address in '%s'", spec);
			return -EINVAL;
		}
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
			snprintf(why, size, "'%s' is not a loopback address (only [::1])", spec);
			return -EPERM;
		}
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1) {
			snprintf(why, size, "bad IPv4 address in '%s' (numeric only)", spec);
			return -EINVAL;
		}
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127) {
			snprintf(why, size, "'%s' is not a loopback address (127.0.0.0/8)", spec);
			return -EPERM;
		}
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0)
		goto fail;
	return fd;
fail : {
	int r = -errno;
	snprintf(why, size, "%s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}
}

/* The fd store's name of spec's socket: a changed --metrics gets a new one. */
static void store_name(const char *spec, char *buf, size_t size)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)spec; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(buf, size, "metrics.%08x", h);
}

int metrics_listen(const char *spec, gid_t gid, const struct control_info *info, char *why,
                   size_t size)
{
	char name[32];
	int fd, r;

	srv.info = info;
	store_name(spec, name, sizeof(name));
	fd = fdstore_take(name);
	if (fd < 0 && strncmp(spec, "unix:", 5) == 0) {
		const struct unix_listener_opts lo = {.type = SOCK_STREAM,
		                                      .flags = SOCK_NONBLOCK,
		                                      .mode = gid == (gid_t)-1 ? 0600 : 0660,
		                                      .uid = (uid_t)-1,
		                                      .gid = gid,
		                                      .backlog = 64};
		fd = unix_listener_open(spec + 5, &lo, &srv.unix_id);
		if (fd < 0) {
			snprintf(why, size, "%s: %s", spec + 5, strerror(-fd));
			return fd;
		}
		srv.unix_path = strdup(spec + 5);
	} else if (fd < 0) {
		fd = open_inet(spec, why, size);
		if (fd < 0)
			return fd;
	} else if (strncmp(spec, "unix:", 5) == 0) {
		struct stat st;

		/* Handed back: the socket file at the path is the one we made, removed at exit. */
		if (lstat(spec + 5, &st) == 0 && S_ISSOCK(st.st_mode)) {
			srv.unix_id = (struct unix_listener_id){st.st_dev, st.st_ino, true};
			srv.unix_path = strdup(spec + 5);
		}
	}
	r = fdstore_put(name, fd);
	(void)r; /* without a store the socket is simply made again by the next notifyd */
	srv.daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL, on_request, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)METRICS_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)METRICS_TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)METRICS_MEMORY_LIMIT, MHD_OPTION_END);
	if (!srv.daemon) {
		snprintf(why, size, "%s: libmicrohttpd did not start", spec);
		fdstore_remove(name);
		close(fd);
		return -EIO;
	}
	return 0;
}

void metrics_stop(void)
{
	if (srv.daemon)
		MHD_stop_daemon(srv.daemon); /* closes the listening socket */
	srv.daemon = NULL;
	if (srv.unix_path)
		(void)unix_listener_remove(srv.unix_path, &srv.unix_id);
	free(srv.unix_path);
	srv.unix_path = NULL;
}
