/* SPDX-License-Identifier: MIT */
#include "notifyd/control.h"
#include "notifyd/inflight.h"
#include "notifyd/container.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/mount_record.h"
#include "notifyd/profile_store.h"
#include "notifyd/request.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <json-c/json.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

static void list_resource(const char *name, unsigned n, void *userdata)
{
	FILE *out = userdata;

	fprintf(out, " %s=%u", name, n);
}

static void list_one(struct container *c, void *userdata)
{
	FILE *out = userdata;
	unsigned n_mounts = mount_record_count(c);

	pthread_mutex_lock(&c->lock);
	fprintf(out, "%-24s %8d %-16s %-7s %6u %7u %8llu %6llu %8llu %6llu %6llu %6llu", c->id,
	        (int)c->init_pid, c->profile, c->runtime, n_mounts, c->pending,
	        (unsigned long long)c->counters.requests, (unsigned long long)c->counters.kernel,
	        (unsigned long long)c->counters.continued, (unsigned long long)c->counters.denied,
	        (unsigned long long)c->counters.enosys, (unsigned long long)c->counters.failed);
	container_resource_counts(c, list_resource, out);
	if (c->k8s_ns[0])
		fprintf(out, " k8s-namespace=%s k8s-allowlist=%s", c->k8s_ns, c->k8s_verdict);
	fputc('\n', out);
	pthread_mutex_unlock(&c->lock);
}

/* Totals of each kind of resource over every entry, for `stats`. */
struct resource_totals {
	size_t n;
	struct {
		const char *name; /* the ops table's: static */
		unsigned long long sum;
	} v[8];
};

static void total_resource(const char *name, unsigned n, void *userdata)
{
	struct resource_totals *t = userdata;
	size_t i;

	for (i = 0; i < t->n && strcmp(t->v[i].name, name); i++)
		;
	if (i == ARRAY_SIZE(t->v))
		return;
	if (i == t->n)
		t->v[t->n++].name = name;
	t->v[i].sum += n;
}

static void total_one(struct container *c, void *userdata)
{
	pthread_mutex_lock(&c->lock);
	container_resource_counts(c, total_resource, userdata);
	pthread_mutex_unlock(&c->lock);
}

struct mounts_out {
	const struct container *c;
	FILE *out;
};

static void mount_one(const struct mount_record *m, void *userdata)
{
	const struct mounts_out *mo = userdata;
	char type[64], source[PATH_MAX], target[PATH_MAX];

	/* The container chose these: each record stays one line (log_printable()). */
	fprintf(mo->out, "%-24s %10llu %-10s %-24s %s\n", mo->c->id, (unsigned long long)m->mnt_id,
	        log_printable(m->type, type, sizeof(type)),
	        m->source[0] ? log_printable(m->source, source, sizeof(source)) : "-",
	        log_printable(m->target, target, sizeof(target)));
}

static void mounts_one(struct container *c, void *userdata)
{
	struct mounts_out mo = {c, userdata};

	mount_record_foreach(c, mount_one, &mo);
}

/*
 * What vfsd moved for a share: its I/O counters (/proc/PID/io) summed over
 * the process and its children (the namespace sandbox serves from a child).
 */
static void share_io(pid_t pid, unsigned long long *rchar, unsigned long long *wchar)
{
	char path[64], buf[1024], *p;
	pid_t pids[4] = {pid};
	size_t n = 1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (fd_read_file_at(-EBADF, path, buf, sizeof(buf)) >= 0)
		for (p = buf; *p && n < ARRAY_SIZE(pids);
		     p = strchr(p, ' ') ? strchr(p, ' ') + 1 : "")
			pids[n++] = (pid_t)atoi(p);
	*rchar = *wchar = 0;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/io", (int)pids[i]);
		if (pids[i] <= 0 || fd_read_file_at(-EBADF, path, buf, sizeof(buf)) < 0)
			continue;
		if ((p = strstr(buf, "rchar: ")))
			*rchar += strtoull(p + 7, NULL, 10);
		if ((p = strstr(buf, "wchar: ")))
			*wchar += strtoull(p + 7, NULL, 10);
	}
}

static void share_one(const struct fuse_daemon_share *sh, void *userdata)
{
	const struct mounts_out *mo = userdata;
	char source[PATH_MAX], target[PATH_MAX], options[512];
	unsigned long long rchar, wchar;

	share_io(sh->pid, &rchar, &wchar);
	fprintf(mo->out,
	        "%-24s pid=%d source=%s target=%s options=%s started=%llu read-bytes=%llu "
	        "written-bytes=%llu\n",
	        mo->c->id, (int)sh->pid, log_printable(sh->source, source, sizeof(source)),
	        log_printable(sh->target, target, sizeof(target)),
	        sh->options[0] ? log_printable(sh->options, options, sizeof(options)) : "-",
	        (unsigned long long)sh->started, rchar, wchar);
}

static void shares_one(struct container *c, void *userdata)
{
	struct mounts_out mo = {c, userdata};

	fuse_daemon_foreach_share(c, share_one, &mo);
}

/* json-c setters that keep going: a failed add leaves a shorter object, never a crash. */
static void put_u64(struct json_object *o, const char *key, unsigned long long v)
{
	struct json_object *n = json_object_new_uint64(v);

	if (n && json_object_object_add(o, key, n) < 0)
		json_object_put(n);
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
	struct json_object *n = json_object_new_string(v ? v : "");

	if (n && json_object_object_add(o, key, n) < 0)
		json_object_put(n);
}

/*
 * `stats --json`: the numbers of `stats` as one object, with the same keys
 * (docs/metrics.md); in-flight, the resources and the profiles nested.
 */
static void stats_json(FILE *out, const struct control_info *info)
{
	struct json_object *o = json_object_new_object(), *res, *inf, *profs;
	struct profile_set *set = profile_store_get();
	struct resource_totals rt = {0};
	struct request_totals t;
	unsigned slots, used = inflight_used(&slots);

	request_totals(&t);
	container_foreach(total_one, &rt);
	if (!o) {
		fprintf(out, "error: out of memory\n");
		profile_store_put(set);
		return;
	}
	put_u64(o, "pid", (unsigned long long)info->pid);
	put_u64(o, "restarts", info->restarts);
	put_u64(o, "containers", container_count());
	put_u64(o, "requests", t.requests);
	put_u64(o, "kernel", t.kernel);
	put_u64(o, "continue", t.continued);
	put_u64(o, "denied", t.denied);
	put_u64(o, "enosys", t.enosys);
	put_u64(o, "failed", t.failed);
	put_u64(o, "callers-gone", t.callers_gone);
	put_u64(o, "recovered", t.recovered);
	inf = json_object_new_object();
	if (inf) {
		put_u64(inf, "used", used);
		put_u64(inf, "slots", slots);
		if (json_object_object_add(o, "in-flight", inf) < 0)
			json_object_put(inf);
	}
	res = json_object_new_object();
	if (res) {
		for (size_t i = 0; i < rt.n; i++)
			put_u64(res, rt.v[i].name, rt.v[i].sum);
		if (json_object_object_add(o, "resources", res) < 0)
			json_object_put(res);
	}
	put_u64(o, "open-fds", (unsigned long long)fd_count_open());
	put_str(o, "profiles-dir", info->profiles_dir);
	profs = json_object_new_array();
	if (profs) {
		for (size_t i = 0; set && i < set->n; i++) {
			struct json_object *n = json_object_new_string(set->v[i]->name);
			if (n && json_object_array_add(profs, n) < 0)
				json_object_put(n);
		}
		if (json_object_object_add(o, "profiles", profs) < 0)
			json_object_put(profs);
	}
	put_str(o, "features", info->features);
	profile_store_put(set);
	fprintf(out, "%s\n",
	        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	                                              JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static void answer(FILE *out, const char *cmd, const struct control_info *info)
{
	if (strcmp(cmd, "ping") == 0) {
		fprintf(out, "pong\n");
	} else if (strcmp(cmd, "list") == 0) {
		fprintf(out, "%-24s %8s %-16s %-7s %6s %7s %8s %6s %8s %6s %6s %6s\n", "ID", "PID",
		        "PROFILE", "RUNTIME", "MOUNTS", "PENDING", "REQUESTS", "KERNEL", "CONTINUE",
		        "DENIED", "ENOSYS", "FAILED RESOURCES");
		container_foreach(list_one, out);
	} else if (strcmp(cmd, "mounts") == 0) {
		fprintf(out, "%-24s %10s %-10s %-24s %s\n", "ID", "MNT_ID", "TYPE", "SOURCE",
		        "TARGET");
		container_foreach(mounts_one, out);
	} else if (strcmp(cmd, "shares") == 0) {
		container_foreach(shares_one, out);
	} else if (strcmp(cmd, "stats --json") == 0) {
		stats_json(out, info);
	} else if (strcmp(cmd, "stats") == 0) {
		struct request_totals t;
		struct profile_set *set = profile_store_get();
		request_totals(&t);
		fprintf(out, "pid: %d\nrestarts: %u\n", (int)info->pid, info->restarts);
		fprintf(out, "containers: %u\n", container_count());
		fprintf(out,
		        "requests: %llu\nkernel: %llu\ncontinue: %llu\ndenied: %llu\n"
		        "enosys: %llu\nfailed: %llu\ncallers-gone: %llu\nrecovered: %llu\n",
		        (unsigned long long)t.requests, (unsigned long long)t.kernel,
		        (unsigned long long)t.continued, (unsigned long long)t.denied,
		        (unsigned long long)t.enosys, (unsigned long long)t.failed,
		        (unsigned long long)t.callers_gone, (unsigned long long)t.recovered);
		{
			unsigned slots, used = inflight_used(&slots);
			fprintf(out, "in-flight: %u of %u\n", used, slots);
		}
		struct resource_totals rt = {0};
		container_foreach(total_one, &rt);
		for (size_t i = 0; i < rt.n; i++)
			fprintf(out, "%s: %llu\n", rt.v[i].name, rt.v[i].sum);
		fprintf(out, "open-fds: %d\n", fd_count_open());
		fprintf(out, "profiles-dir: %s\nprofiles:", info->profiles_dir);
		for (size_t i = 0; set && i < set->n; i++)
			fprintf(out, " %s", set->v[i]->name);
		fprintf(out, "\nfeatures: %s\n", info->features);
		profile_store_put(set);
	} else {
		fprintf(out,
		        "error: unknown command '%s' (list, mounts, shares, stats, stats --json, "
		        "ping)\n",
		        cmd);
	}
}

void control_serve(int fd, const struct control_info *info)
{
	struct timeval tv = {.tv_sec = 1};
	char cmd[64];
	size_t len = 0;
	_cleanup_free_ char *text = NULL;
	size_t text_len = 0;
	FILE *out;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len < sizeof(cmd) - 1) {
		ssize_t n = recv(fd, cmd + len, sizeof(cmd) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(cmd, '\n', len))
			break;
	}
	cmd[len] = '\0';
	cmd[strcspn(cmd, "\r\n")] = '\0';
	out = open_memstream(&text, &text_len);
	if (!out)
		return;
	answer(out, cmd, info);
	fclose(out);
	(void)fd_write_all(fd, text, text_len);
}

struct control_job {
	int fd;
	const struct control_info *info;
};

static void *control_thread(void *arg)
{
	struct control_job *job = arg;

	control_serve(job->fd, job->info);
	safe_close(job->fd);
	free(job);
	return NULL;
}

void control_serve_async(int fd, const struct control_info *info)
{
	struct control_job *job = malloc(sizeof(*job));
	pthread_attr_t attr;
	pthread_t t;

	if (!job) {
		safe_close(fd);
		return;
	}
	job->fd = fd;
	job->info = info;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, control_thread, job) != 0) {
		safe_close(fd);
		free(job);
	}
	pthread_attr_destroy(&attr);
}
