/* SPDX-License-Identifier: MIT */
/*
 * notifyd: the seccomp user-notification supervisor.  One epoll loop accepts
 * runtimes' hand-overs (OCI listenerPath), receives notifications and hands
 * them to worker threads; it never does slow work itself.
 */
#include "notifyd/container.h"
#include "notifyd/control.h"
#include "notifyd/fd_store.h"
#include "notifyd/metrics.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/keeper.h"
#include "notifyd/kernel_check.h"
#include "notifyd/loop_device.h"
#include "notifyd/mount_record.h"
#include "notifyd/lxc_proxy.h"
#include "notifyd/ns_child.h"
#include "notifyd/oci_listener.h"
#include "notifyd/profile_store.h"
#include "notifyd/ns_allow.h"
#include "notifyd/restart.h"
#include "notifyd/inflight.h"
#include "notifyd/inherited.h"
#include "notifyd/state.h"
#include "notifyd/uevent.h"
#include "notifyd/supervise.h"
#include "notifyd/view.h"
#include "notifyd/worker.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"
#include "common/unix_listener.h"
#include "common/kernel_compat.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <getopt.h>
#include <grp.h>
#include <libgen.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

struct options {
	const char *socket_path;
	const char *lxc_socket_path; /* NULL: no LXC proxy socket */
	const char *control_path;
	const char *profiles_dir;
	const char *state_dir;
	unsigned workers;
	unsigned max_running;
	const char *namespaces_path; /* NULL: no Kubernetes namespace allowlist */
	const char *metrics;         /* --metrics unix:PATH|ADDR:PORT, or NULL: no listener */
	gid_t metrics_gid;           /* --metrics-group: the unix socket's group, or (gid_t)-1 */
};

enum watch_kind { W_OCI_LISTEN, W_OCI_CONN, W_LXC_LISTEN, W_LXC_CONN, W_CONTROL, W_SIGNAL };

struct watch {
	struct watch *next, **prevp; /* every watch, so shutdown can release them all */
	enum watch_kind kind;
	int fd;
	void *obj;
	uint64_t deadline_ms; /* W_OCI_CONN: when an incomplete hand-over is dropped */
	uint64_t seq;         /* W_OCI_CONN, W_LXC_CONN: kept in the fd store as o.SEQ / w.SEQ */
};

/*
 * A runtime sends its state at once; a connection that has not finished
 * within this time, or one past this many open at once, is dropped so idle
 * or abandoned connections cannot pile up descriptors.
 */
#define OCI_HANDOVER_TIMEOUT_MS 10000
#define OCI_MAX_HANDOVERS       64
/*
 * An LXC monitor connects when its container starts but sends its first
 * message only at the first trapped syscall, so waiting connections have no
 * deadline, only a cap.
 */
#define LXC_MAX_WAITING 1024

/*
 * The main thread's state: only the main thread touches it, except features
 * and info, written before the control socket is served and read by the
 * threads that serve it.
 */
static struct {
	int epfd;               /* the event loop's set: listeners, hand-overs, control, signals */
	struct watch *watches;  /* everything in epfd, so shutdown can release it all */
	unsigned n_handovers;   /* OCI connections whose state is not complete yet */
	unsigned n_lxc_waiting; /* LXC connections before their first message */
	char features[256];     /* kernel features probed at start, for the log and stats */
	int sync_wake_state;    /* SYNC_WAKE_UP: -1 not tried yet, 0 unavailable, 1 active */
	uint64_t conn_seq;      /* names hand-overs and waiting LXC connections in the fd store */
	struct control_info info;
} notifyd = {.epfd = -EBADF, .sync_wake_state = -1};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int watch_add(enum watch_kind kind, int fd, void *obj)
{
	struct watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!w)
		return -ENOMEM;
	w->kind = kind;
	w->fd = fd;
	w->obj = obj;
	ev.data.ptr = w;
	if (epoll_ctl(notifyd.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int r = -errno;
		free(w);
		return r;
	}
	w->next = notifyd.watches;
	if (notifyd.watches)
		notifyd.watches->prevp = &w->next;
	w->prevp = &notifyd.watches;
	notifyd.watches = w;
	return 0;
}

/*
 * Called before w's fd is closed: epoll forgets a file only when its last
 * fd anywhere is closed, and the fd store (the keeper, systemd) holds a
 * copy of most of them -- closing ours first would leave an entry that
 * reports events for freed memory.
 */
static void watch_del(struct watch *w)
{
	epoll_ctl(notifyd.epfd, EPOLL_CTL_DEL, w->fd, NULL);
	*w->prevp = w->next;
	if (w->next)
		w->next->prevp = w->prevp;
	free(w);
}

/* At exit: drop every half-read hand-over (containers belong to the worker pool). */
static void watch_release_all(void)
{
	while (notifyd.watches) {
		struct watch *w = notifyd.watches;
		enum watch_kind kind = w->kind;
		void *obj = w->obj;
		int fd = w->fd;

		watch_del(w); /* first, while its fd is open (see watch_del()) */
		if (kind == W_OCI_CONN)
			oci_conn_free(obj);
		if (kind == W_LXC_CONN)
			safe_close(fd);
	}
}

static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);

	return copy ? fd_mkdir_p(dirname(copy), 0755) : -ENOMEM;
}

/* Listening socket ids, so that shutdown removes only our own files. */
static struct unix_listener_id oci_id, ctl_id, lxc_id;

/*
 * What notifyd itself keeps in the state directory ("notifyd"): how many
 * times it started within its store's life, minus one, and which socket
 * files it created (so a successor that takes the sockets over still
 * removes only those at a clean stop).
 */
static struct json_object *daemon_prev; /* our predecessor's, or NULL */

static unsigned daemon_state_load(void)
{
	unsigned long long n = 0;

	if (fdstore_restarted() && state_read("notifyd", &daemon_prev) == 0 &&
	    state_get_u64(daemon_prev, "restarts", &n) == 0)
		n++;
	return (unsigned)n;
}

/* The file id our predecessor recorded for socket name, if any. */
static void daemon_prev_socket(const char *name, struct unix_listener_id *id)
{
	struct json_object *socks, *one;
	unsigned long long dev, ino;

	if (daemon_prev && json_object_object_get_ex(daemon_prev, "sockets", &socks) &&
	    json_object_object_get_ex(socks, name, &one) && state_get_u64(one, "dev", &dev) == 0 &&
	    state_get_u64(one, "ino", &ino) == 0)
		*id = (struct unix_listener_id){.dev = (dev_t)dev, .ino = (ino_t)ino, .set = true};
}

static void daemon_state_save(const char *const names[], const struct unix_listener_id *ids[],
                              size_t n)
{
	struct json_object *o = json_object_new_object(), *socks = json_object_new_object();

	if (!o || !socks || json_object_object_add(o, "sockets", socks) < 0) {
		json_object_put(socks);
		json_object_put(o);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *one;

		if (!ids[i]->set)
			continue;
		one = json_object_new_object();
		if (!one || json_object_object_add(socks, names[i], one) < 0) {
			json_object_put(one);
			continue;
		}
		/* Freed with o from here on. */
		(void)state_set_u64(one, "dev", (unsigned long long)ids[i]->dev);
		(void)state_set_u64(one, "ino", (unsigned long long)ids[i]->ino);
	}
	if (state_set_u64(o, "restarts", notifyd.info.restarts) == 0 &&
	    state_set_u64(o, "pid", (unsigned long long)getpid()) == 0)
		(void)state_write("notifyd", o);
	json_object_put(o);
}

/*
 * A listening socket: the one the fd store (a socket unit, the keeper, the
 * notifyd before us) hands in under name, or a new one, created 0600 from
 * the start (only root may hand us containers or ask us things) and given
 * to the store, so runtimes connecting while we restart wait in its backlog.
 * *ours: we created the file (and remove it at a clean stop).
 */
static int listen_unix(const char *name, const char *path, int type, struct unix_listener_id *id,
                       bool *ours)
{
	const struct unix_listener_opts lo = {.type = type,
	                                      .flags = SOCK_NONBLOCK,
	                                      .mode = 0600,
	                                      .uid = (uid_t)-1,
	                                      .gid = (gid_t)-1,
	                                      .backlog = 128};
	int fd = fdstore_take(name);
	int r;

	*ours = false;
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		daemon_prev_socket(name, id); /* a file our predecessor made stays ours */
		return fd;
	}
	r = mkdir_parents(path);
	if (r < 0)
		return r;
	fd = unix_listener_open(path, &lo, id);
	if (fd < 0)
		return fd;
	*ours = true;
	r = fdstore_put(name, fd);
	if (r < 0)
		log_warn("%s: the fd store did not take it (%s): it will not outlive notifyd", path,
		         strerror(-r));
	return fd;
}

static void probe_features(void)
{
	struct statx stx = {0};
	bool setattr = syscall(SYS_mount_setattr, -1, NULL, 0, NULL, 0) < 0 && errno != ENOSYS;
	bool uniq = statx(AT_FDCWD, "/", 0, STATX_MNT_ID_UNIQUE, &stx) == 0 &&
	            (stx.stx_mask & STATX_MNT_ID_UNIQUE);
	_cleanup_close_ int mntns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	uint64_t mntns_id = 0;
	/* Records follow the mounts (mount_record_prune()) where both work. */
	bool records = uniq && mntns >= 0 && mount_record_ns_id(mntns, &mntns_id) >= 0 &&
	               mount_record_present(stx.stx_mnt_id, mntns_id) == 1;

	snprintf(notifyd.features, sizeof(notifyd.features),
	         "mount_setattr=%s statx-mnt-id-unique=%s statmount-records=%s addfd-send=%s "
	         "sync-wake-up=%s",
	         setattr ? "yes" : "no", uniq ? "yes" : "no", records ? "yes" : "no",
	         kernel_check_addfd_send() ? "yes" : "no",
	         notifyd.sync_wake_state < 0 ? "untried"
	         : notifyd.sync_wake_state   ? "yes"
	                                     : "no");
}

static void try_sync_wake_up(int notify_fd)
{
	int was = notifyd.sync_wake_state;

	if (notifyd.sync_wake_state == 0)
		return;
	notifyd.sync_wake_state = ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS,
	                                SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == 0;
	if (was != notifyd.sync_wake_state) {
		probe_features();
		log_info("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP %s",
		         notifyd.sync_wake_state ? "active" : "unavailable");
	}
}

/*
 * The namespace allowlist's decision for a new OCI container, logged.
 * Returns false when the container is refused: notifyd kills the process
 * being started -- the init at create, the new process of a `runc exec`,
 * not the running container (the runtime has no way to hear a listener's
 * answer: runc and crun send the state and go on), so `runc create`/`start`
 * or `exec`, and the kubelet above them, see a process that died before it
 * ran.
 */
static bool admit_container(const struct oci_state *st, int pidfd, struct ns_allow_decision *d)
{
	int victim = -EBADF;
	char id[128];
	const char *ns = st->k8s_source == NS_SOURCE_VALID     ? st->k8s_ns
	                 : st->k8s_source == NS_SOURCE_INVALID ? "(invalid)"
	                                                       : "(none)";

	ns_allow_decide((enum ns_allow_source)st->k8s_source, st->k8s_ns, st->profile, d);
	log_printable(st->id, id, sizeof(id));
	if (st->k8s_source == NS_SOURCE_INVALID)
		log_warn("container %s: Kubernetes namespace annotation rejected: %s", id,
		         st->k8s_why);
	if (d->verdict == NS_ALLOW_OFF && st->k8s_source == NS_SOURCE_NONE)
		return true;
	log_msg(d->verdict == NS_ALLOW_ALLOWED || d->verdict == NS_ALLOW_OFF ? LOG_LVL_INFO
	                                                                     : LOG_LVL_WARN,
	        "namespace-allowlist id=%s k8s-namespace=%s asked=%s profile=%s verdict=%s", id, ns,
	        st->profile, d->verdict == NS_ALLOW_REFUSED ? "-" : d->profile,
	        ns_allow_verdict_name(d->verdict));
	if (d->verdict != NS_ALLOW_REFUSED)
		return true;
	if (st->process_pid != st->pid) {
		victim = (int)syscall(SYS_pidfd_open, st->process_pid, 0);
		pidfd = victim;
	}
	if (pidfd < 0 || syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0)
		log_error("container %s refused but not killed (pid %d): %m; its notify fd is "
		          "closed, so its mounts fail with ENOSYS",
		          id, (int)st->process_pid);
	safe_close(victim);
	return false;
}

static void adopt_container(const struct oci_state *st, int notify_fd)
{
	struct profile_set *set = profile_store_get();
	struct container *c;
	struct ns_allow_decision d = {0};
	int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
	int r;

	if (pidfd < 0)
		log_warn("container %s: pidfd_open(%d): %m", st->id, (int)st->pid);
	else
		fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	if (!admit_container(st, pidfd, &d)) {
		profile_store_put(set);
		safe_close(pidfd);
		safe_close(notify_fd);
		return;
	}
	if (!set || !profile_set_find(set, d.profile))
		log_warn(
		    "container %s asks for profile '%s', which is not loaded: its mounts get EPERM "
		    "until it is",
		    st->id, d.profile);
	profile_store_put(set);
	r = container_new(st->id, d.profile, "oci", st->pid, pidfd, notify_fd, &c);
	if (r < 0) {
		log_error("container %s: %s", st->id, strerror(-r));
		safe_close(pidfd);
		safe_close(notify_fd);
		return;
	}
	if (st->k8s_source != NS_SOURCE_NONE || d.verdict != NS_ALLOW_OFF)
		container_set_k8s(c,
		                  st->k8s_source == NS_SOURCE_VALID     ? st->k8s_ns
		                  : st->k8s_source == NS_SOURCE_INVALID ? "(invalid)"
		                                                        : "(none)",
		                  ns_allow_verdict_name(d.verdict));
	try_sync_wake_up(notify_fd);
	/*
	 * Stored before it is watched: once a worker can receive a request of
	 * it, a notifyd that dies must leave its successor the entry the
	 * request's in-flight log entry names.
	 */
	r = container_persist(c);
	if (r < 0)
		log_warn("container %s: its notify fd is not in the fd store (%s): it will not "
		         "outlive notifyd",
		         st->id, strerror(-r));
	r = worker_watch(c);
	if (r < 0) {
		log_error("container %s: cannot watch its notify fd: %s", st->id, strerror(-r));
		container_forget(c);
		return;
	}
	log_info("container %s pid=%d status=%s profile=%s adopted", st->id, (int)st->pid,
	         st->status[0] ? st->status : "?", d.profile);
}

/* The name of w's connection in the fd store. */
static void conn_name(const struct watch *w, char *buf, size_t size)
{
	snprintf(buf, size, "%c.%" PRIu64, w->kind == W_OCI_CONN ? 'o' : 'w', w->seq);
}

/* A hand-over finished (adopted or rejected): forget its connection. */
static void handover_done(struct watch *w)
{
	struct oci_conn *conn = w->obj;
	char name[32];

	conn_name(w, name, sizeof(name));
	watch_del(w); /* first, while its fd is open (see watch_del()) */
	fdstore_remove(name);
	oci_conn_free(conn);
	notifyd.n_handovers--;
}

static void on_oci_conn(struct watch *w)
{
	struct oci_conn *conn = w->obj;
	struct oci_state st;
	char err[256];
	int notify_fd = -EBADF;
	int r = oci_conn_read(conn, &st, &notify_fd, err, sizeof(err));

	if (r == 0)
		return;
	if (r < 0)
		log_warn("OCI hand-over rejected: %s", err);
	else
		adopt_container(&st, notify_fd);
	handover_done(w);
}

/*
 * Watch a runtime's connection until its state is complete.  It is kept in
 * the fd store as o.SEQ meanwhile: a successor reads what we had not (a
 * runtime sends everything at once, so normally all of it).
 */
static void watch_handover(int fd, uint64_t seq, bool store)
{
	struct oci_conn *conn;
	char name[32];

	if (notifyd.n_handovers >= OCI_MAX_HANDOVERS) {
		log_warn("OCI hand-over rejected: %u hand-overs already in progress",
		         notifyd.n_handovers);
		safe_close(fd);
		return;
	}
	if (oci_conn_new(fd, &conn) < 0) {
		safe_close(fd);
		return;
	}
	if (watch_add(W_OCI_CONN, fd, conn) < 0) {
		oci_conn_free(conn);
		return;
	}
	/* watch_add puts it first */
	notifyd.watches->deadline_ms = now_ms() + OCI_HANDOVER_TIMEOUT_MS;
	notifyd.watches->seq = seq;
	notifyd.n_handovers++;
	snprintf(name, sizeof(name), "o.%" PRIu64, seq);
	if (store)
		(void)fdstore_put(name, fd);
}

static void accept_handover(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd >= 0)
		watch_handover(fd, ++notifyd.conn_seq, true);
}

/* An LXC monitor's first message names its container: adopt it, give it to the workers. */
static void on_lxc_conn(struct watch *w)
{
	struct ucred cred = {0};
	socklen_t len = sizeof(cred);
	struct lxc_hello h;
	struct container *c;
	char err[256];
	char wname[32];
	int fd = w->fd, pidfd, r;

	conn_name(w, wname, sizeof(wname));
	getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
	r = lxc_proxy_hello(fd, cred.pid, &h, err, sizeof(err));
	if (r == 0)
		return;
	if (r == -EINVAL) {
		log_warn("LXC proxy: bad first message from pid %d, answered ENOSYS: %s",
		         (int)cred.pid, err);
		return;
	}
	/* Out of our loop while fd is open (see watch_del()); the workers take it from here. */
	watch_del(w);
	notifyd.n_lxc_waiting--;
	if (r < 0) {
		fdstore_remove(wname);
		safe_close(fd);
		return;
	}
	pidfd = (int)syscall(SYS_pidfd_open, h.init_pid, 0);
	if (pidfd >= 0)
		fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	r = container_new(h.id, h.profile, "lxc", h.init_pid, pidfd, -EBADF, &c);
	if (r < 0) {
		log_error("LXC container %s: %s", h.id, strerror(-r));
		fdstore_remove(wname);
		safe_close(pidfd);
		safe_close(fd);
		return;
	}
	c->lxc_sock = fd;
	/* Stored (and its state written) before a worker can take its first message. */
	(void)container_persist(c);
	fdstore_remove(wname); /* stored as the entry's x.KEY from now on */
	r = worker_watch(c);
	if (r < 0) {
		log_error("LXC container %s: cannot watch its connection: %s", h.id, strerror(-r));
		container_forget(c);
		return;
	}
	log_info("container %s pid=%d monitor=%d profile=%s adopted (LXC proxy)", h.id,
	         (int)h.init_pid, (int)h.monitor_pid, h.profile);
}

/*
 * An LXC connection waiting for its first message; it is kept in the fd
 * store as w.SEQ (SEQ in the watch's obj) so a successor can wait on.
 */
static void wait_lxc(int fd, uint64_t seq, bool store)
{
	char name[32];

	/* Without send times, answers LXC no longer waits for cannot be held back. */
	if (lxc_proxy_conn_init(fd) < 0)
		log_debug("LXC proxy connection: SO_TIMESTAMPNS: %m");
	if (notifyd.n_lxc_waiting >= LXC_MAX_WAITING || watch_add(W_LXC_CONN, fd, NULL) < 0) {
		log_warn("LXC proxy connection rejected: %u connections wait for a first message",
		         notifyd.n_lxc_waiting);
		safe_close(fd);
		return;
	}
	notifyd.n_lxc_waiting++;
	notifyd.watches->seq = seq; /* watch_add puts it first */
	snprintf(name, sizeof(name), "w.%" PRIu64, seq);
	if (store)
		(void)fdstore_put(name, fd);
}

static void accept_lxc(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd >= 0)
		wait_lxc(fd, ++notifyd.conn_seq, true);
}

/* A stored connection (o.SEQ, w.SEQ) of our predecessor: go on where it was. */
static void rewatch_conn(const char *name, int fd, void *userdata)
{
	unsigned long long seq = strtoull(name + 2, NULL, 10);
	int fl = fcntl(fd, F_GETFL);

	(void)userdata;
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (seq > notifyd.conn_seq)
		notifyd.conn_seq = seq;
	if (name[0] == 'o')
		watch_handover(fd, seq, false);
	else
		wait_lxc(fd, seq, false);
}

/* Drop hand-overs that did not complete in time. */
static void expire_handovers(void)
{
	uint64_t now = now_ms();

	for (struct watch *w = notifyd.watches, *next; w; w = next) {
		next = w->next;
		if (w->kind != W_OCI_CONN || w->deadline_ms > now)
			continue;
		log_warn("OCI hand-over rejected: no complete state within %d s",
		         OCI_HANDOVER_TIMEOUT_MS / 1000);
		handover_done(w);
	}
}

/* The namespace allowlist goes with the profiles: the same rules for start and SIGHUP. */
static int reload_namespaces(const char *path, bool initial)
{
	char err[512];
	int r;

	if (!path)
		return 0;
	r = ns_allow_load(path, err, sizeof(err));
	if (r < 0 && initial)
		log_error("namespace allowlist %s not loaded, not starting: %s", path, err);
	else if (r < 0)
		log_error("namespace allowlist %s not loaded, keeping the one in force: %s", path,
		          err);
	else
		log_info("namespace allowlist loaded from %s", path);
	return r;
}

/* At start (initial) a broken profile keeps notifyd from starting; on SIGHUP the old set stays. */
static int reload_profiles(const char *dir, bool initial)
{
	char err[512];
	int r = profile_store_load(dir, err, sizeof(err));

	if (r < 0 && initial)
		log_error("profiles in %s not loaded, not starting: %s", dir, err);
	else if (r < 0)
		log_error("profiles in %s not loaded, keeping the ones in force: %s", dir, err);
	else
		log_info("profiles loaded from %s", dir);
	return r;
}

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: notifyd [--socket PATH] [--lxc-socket PATH] [--control PATH] [--profiles DIR]\n"
	    "               [--state-dir DIR] [--workers N] [--max-running N]\n"
	    "               [--log-level error|warn|info|debug] [--keeper] [--no-uevents]\n"
	    "               [--namespaces FILE]\n"
	    "               [--metrics unix:PATH|127.0.0.1:PORT|[::1]:PORT] [--metrics-group "
	    "GROUP]\n"
	    "Seccomp user-notification supervisor for container mounts.\n"
	    "  --socket PATH     OCI seccomp agent socket (listenerPath), default "
	    "/run/mountvisor/notifyd.sock\n"
	    "  --lxc-socket PATH LXC seccomp proxy socket (lxc.seccomp.notify.proxy), off by "
	    "default\n"
	    "  --control PATH    notifyctl socket, default /run/mountvisor/notifyctl.sock\n"
	    "  --profiles DIR    profile directory (NAME.conf), default /etc/mountvisor/profiles\n"
	    "  --state-dir DIR   what a restarted notifyd takes over, default "
	    "/run/mountvisor/state\n"
	    "  --workers N       worker threads (default 4)\n"
	    "  --max-running N   requests of one container handled at once (default 2);\n"
	    "                    more wait in the kernel, so no container occupies every worker\n"
	    "  --keeper          run a keeper that holds notifyd's fds and restarts it with them\n"
	    "                    when it dies (for hosts without systemd; see notifyd(8))\n"
	    "  --namespaces FILE Kubernetes namespace -> profile allowlist (see "
	    "docs/kubernetes.md),\n"
	    "                    reloaded with the profiles on SIGHUP; off by default\n"
	    "  --metrics SPEC    serve Prometheus metrics (GET /metrics) on a unix socket\n"
	    "                    (0600) or a loopback TCP port; off by default\n"
	    "  --metrics-group GROUP  the metrics unix socket is 0660 with this group (name or "
	    "gid)\n"
	    "  --no-uevents      send no uevents for loop devices into containers' network\n"
	    "                    namespaces (docs/loop.md \"uevents\")\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"lxc-socket", required_argument, NULL, 'x'},
	    {"control", required_argument, NULL, 'c'},
	    {"profiles", required_argument, NULL, 'p'},
	    {"state-dir", required_argument, NULL, 'S'},
	    {"workers", required_argument, NULL, 'w'},
	    {"max-running", required_argument, NULL, 'm'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"namespaces", required_argument, NULL, 'N'},
	    {"help", no_argument, NULL, 'h'},
	    {"metrics", required_argument, NULL, 'M'},
	    {"metrics-group", required_argument, NULL, 'G'},
	    {"no-uevents", no_argument, NULL, 'U'},
	    {0},
	};
	int ch, level = LOG_LVL_INFO;
	char *end;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->socket_path = optarg;
			break;
		case 'x':
			o->lxc_socket_path = optarg;
			break;
		case 'c':
			o->control_path = optarg;
			break;
		case 'p':
			o->profiles_dir = optarg;
			break;
		case 'S':
			o->state_dir = optarg;
			break;
		case 'N':
			o->namespaces_path = optarg;
			break;
		case 'w':
		case 'm': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 1024) {
				fprintf(stderr, "notifyd: bad number '%s'\n", optarg);
				return -EINVAL;
			}
			if (ch == 'w')
				o->workers = (unsigned)v;
			else
				o->max_running = (unsigned)v;
			break;
		}
		case 'l':
			level = log_parse_level(optarg);
			if (level < 0) {
				fprintf(stderr, "notifyd: bad log level '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'M':
			o->metrics = optarg;
			break;
		case 'G': {
			struct group *gr = getgrnam(optarg); /* at start, single-threaded */
			unsigned long v = strtoul(optarg, &end, 10);

			if (gr)
				o->metrics_gid = gr->gr_gid;
			else if (*optarg && !*end && v < (gid_t)-1)
				o->metrics_gid = (gid_t)v;
			else {
				fprintf(stderr, "notifyd: no group '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		}
		case 'U':
			uevent_set_enabled(false);
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	log_setup("notifyd", (enum log_level)level);
	return 0;
}

/* restart.c's hand-over of a rebuilt entry to the workers. */
static int serve_restored(struct container *c)
{
	int r = worker_watch(c);

	if (r < 0)
		container_forget(c);
	else if (c->notify_fd >= 0)
		try_sync_wake_up(c->notify_fd);
	return r;
}

/* The binary to re-execute at an upgrade: the path we were started from. */
static char self_path[PATH_MAX];

static void remember_self(void)
{
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);

	self_path[n > 0 ? n : 0] = '\0';
	/* An upgrade that replaced us before we started: the path is still the one. */
	if (n > 10 && strcmp(self_path + n - 10, " (deleted)") == 0)
		self_path[n - 10] = '\0';
}

static char **saved_argv;

/* MOUNTVISOR_CRASH_MODE=exec (test hook): re-execute at once, nothing finished. */
static void crash_exec(void)
{
	int r;

	/* The thread may be in a container's view; the new notifyd must start in ours. */
	view_leave();
	r = fdstore_exec(self_path, saved_argv);

	log_error("test hook: cannot re-execute %s: %s", self_path, strerror(-r));
	_exit(EXIT_FAILURE);
}

/*
 * SIGUSR2: upgrade in place.  Requests in the workers are finished first;
 * notifications that arrive meanwhile wait in the kernel.  The same pid
 * (systemd's MainPID, the keeper's child) then runs the binary now at our
 * path, handed every fd we keep (fd_store.c), and takes over as after a
 * crash.  Returns only if the exec failed; then we exit and the store
 * starts a new notifyd.
 */
static void upgrade(char **argv)
{
	int r;

	log_info("upgrade: finishing the requests in hand, then re-executing %s", self_path);
	fdstore_notify("RELOADING=1\nSTATUS=upgrading");
	/*
	 * Helpers are not cancelled: a request whose mount helper is running
	 * would be answered ECANCELED, and they are bounded by their timeouts.
	 * Deferred start-ups (FUSE, on threads of their own) are not waited
	 * for: the exec stops them, and the new notifyd recovers them from the
	 * in-flight log as after a crash.
	 */
	worker_pool_quiesce();
	r = fdstore_exec(self_path, argv);
	log_error("upgrade: cannot re-execute %s: %s", self_path, strerror(-r));
	_exit(EXIT_FAILURE);
}

/*
 * SIGTERM while a store holds our fds: the store's owner decides whether
 * they outlive us (systemd 252 keeps its fd store across `systemctl
 * restart`, empties it at `stop`; the keeper exits with us).  So nothing is
 * torn down: the requests in hand are finished, everything else is left as
 * after a crash, for a successor to take over -- or, if none comes, to the
 * containers' own exit.
 */
static __attribute__((noreturn)) void leave_to_successor(void)
{
	log_info("stopping; the fd store keeps the containers for the next notifyd");
	fdstore_notify("STOPPING=1");
	worker_pool_quiesce();
	_exit(EXIT_SUCCESS);
}

int main(int argc, char **argv)
{
	struct options o = {
	    .socket_path = "/run/mountvisor/notifyd.sock",
	    .control_path = "/run/mountvisor/notifyctl.sock",
	    .profiles_dir = "/etc/mountvisor/profiles",
	    .state_dir = "/run/mountvisor/state",
	    .workers = 4,
	    .max_running = 2,
	    .metrics_gid = (gid_t)-1,
	};
	_cleanup_close_ int oci_fd = -EBADF, ctl_fd = -EBADF, sig_fd = -EBADF, lxc_fd = -EBADF;
	bool oci_ours = false, ctl_ours = false, lxc_ours = false;
	uint64_t watchdog_usec = 0, next_watchdog = 0;
	unsigned restored;
	sigset_t mask;
	bool running = true, upgrading = false;
	int r;

	if (keeper_requested(argc, argv))
		return keeper_main(argc, argv);
	if (parse_options(argc, argv, &o) < 0)
		return EXIT_FAILURE;
	remember_self();
	saved_argv = argv;
	inflight_crash_set_exec(crash_exec);
	/* First: what the store (or our predecessor's exec) handed in. */
	r = fdstore_init();
	if (r < 0) {
		log_error("cannot take the fds handed in: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	/* Before we start any process: the ones we have were our predecessor's. */
	inherited_note();
	{
		char why[320];

		if (kernel_check_minimum(why, sizeof(why)) < 0) {
			log_error("%s", why);
			return EXIT_FAILURE;
		}
		/* Optional (the new mount API's kernel and fuse actions); probed before threads. */
		if (!kernel_check_addfd_send())
			log_info("SECCOMP_ADDFD_FLAG_SEND unavailable (Linux >= 5.14): fsopen of "
			         "kernel and fuse types answers ENOSYS, callers fall back to "
			         "mount(2)");
	}
	/*
	 * Never dumpable: helpers that share our memory enter containers' user
	 * namespaces (mount_lock.c), and a dumpable memory would then let a
	 * container's CAP_SYS_PTRACE read and write it (ptrace checks the
	 * task's user namespace, and the memory's dumpable flag and owner).
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		log_error("cannot make notifyd non-dumpable: %m");
		return EXIT_FAILURE;
	}
	if (reload_profiles(o.profiles_dir, true) < 0 ||
	    reload_namespaces(o.namespaces_path, true) < 0)
		return EXIT_FAILURE;
	ns_child_init();
	r = view_init();
	if (r < 0) {
		log_error("cannot open our own mount namespace: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	r = state_init(o.state_dir, fdstore_restarted());
	if (r < 0) {
		log_error("cannot use the state directory %s: %s", o.state_dir, strerror(-r));
		return EXIT_FAILURE;
	}
	/* Before any request can arrive: each is logged from its receipt on. */
	r = inflight_init();
	if (r < 0) {
		log_error("cannot make the in-flight log: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	notifyd.info.restarts = daemon_state_load();
	notifyd.info.pid = getpid();
	metrics_init();
	/* Signals arrive through signalfd; the worker threads inherit the block. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

	notifyd.epfd = epoll_create1(EPOLL_CLOEXEC);
	oci_fd = listen_unix("oci", o.socket_path, SOCK_STREAM, &oci_id, &oci_ours);
	ctl_fd = listen_unix("control", o.control_path, SOCK_STREAM, &ctl_id, &ctl_ours);
	if (sig_fd < 0 || notifyd.epfd < 0 || oci_fd < 0 || ctl_fd < 0) {
		log_error("cannot set up sockets (%s, %s): %s", o.socket_path, o.control_path,
		          strerror(oci_fd < 0   ? -oci_fd
		                   : ctl_fd < 0 ? -ctl_fd
		                                : errno));
		goto fail_sockets;
	}
	if (o.lxc_socket_path) {
		lxc_fd = listen_unix("lxc", o.lxc_socket_path, SOCK_SEQPACKET, &lxc_id, &lxc_ours);
		if (lxc_fd < 0) {
			log_error("cannot listen on %s: %s", o.lxc_socket_path, strerror(-lxc_fd));
			goto fail_sockets;
		}
	}
	if (o.metrics) {
		char why[PATH_MAX + 64];

		/*
		 * Its own thread (signals blocked above).  A bad --metrics stops a
		 * first start (the admin sees it at once); a restart that takes
		 * over containers goes on without metrics rather than leave them
		 * unsupervised.
		 */
		r = metrics_listen(o.metrics, o.metrics_gid, &notifyd.info, why, sizeof(why));
		if (r < 0 && !fdstore_restarted()) {
			log_error("metrics: cannot serve, not starting: %s", why);
			goto fail_sockets;
		} else if (r < 0)
			log_error("metrics: not served: %s", why);
		else
			log_info("metrics: serving GET /metrics on %s", o.metrics);
	}
	r = worker_pool_start(o.workers, o.max_running);
	if (r < 0) {
		log_error("cannot start workers: %s", strerror(-r));
		return EXIT_FAILURE;
	}
	if (watch_add(W_OCI_LISTEN, oci_fd, NULL) < 0 || watch_add(W_CONTROL, ctl_fd, NULL) < 0 ||
	    watch_add(W_SIGNAL, sig_fd, NULL) < 0 ||
	    (lxc_fd >= 0 && watch_add(W_LXC_LISTEN, lxc_fd, NULL) < 0)) {
		log_error("epoll: %m");
		return EXIT_FAILURE;
	}
	{
		static const char *const names[] = {"oci", "control", "lxc"};
		const struct unix_listener_id *ids[] = {&oci_id, &ctl_id, &lxc_id};
		daemon_state_save(names, ids, ARRAY_SIZE(names));
		json_object_put(TAKE_PTR(daemon_prev));
	}
	/* Take over what a predecessor left: its containers, then runtimes' connections. */
	restored = restart_restore(serve_restored);
	/* Then what the notifyd before us was doing when it stopped. */
	inflight_recover(supervise_recovered);
	inherited_stop_unnamed(fuse_daemon_known);
	fdstore_take_prefix("o.", rewatch_conn, NULL);
	fdstore_take_prefix("w.", rewatch_conn, NULL);
	fdstore_drop_untaken();
	probe_features();
	notifyd.info.profiles_dir = o.profiles_dir;
	notifyd.info.features = notifyd.features;
	log_info("listening on %s%s%s (control %s), %u workers; %s", o.socket_path,
	         o.lxc_socket_path ? ", LXC proxy on " : "",
	         o.lxc_socket_path ? o.lxc_socket_path : "", o.control_path, o.workers,
	         notifyd.features);
	if (fdstore_restarted())
		log_info("took over from the notifyd before us (restart %u): %u containers",
		         notifyd.info.restarts, restored);
	fdstore_notify("READY=1\nSTATUS=serving");
	if (sd_watchdog_enabled(0, &watchdog_usec) > 0)
		next_watchdog = now_ms();

	while (running) {
		struct epoll_event evs[32];
		int timeout = notifyd.n_handovers ? 1000 : -1;
		int n;

		if (next_watchdog) {
			uint64_t now = now_ms();
			if (now >= next_watchdog) {
				fdstore_notify("WATCHDOG=1");
				next_watchdog = now + watchdog_usec / 2000;
			}
			if (timeout < 0 || next_watchdog - now < (uint64_t)timeout)
				timeout = (int)(next_watchdog - now);
		}
		n = epoll_wait(notifyd.epfd, evs, 32, timeout);
		if (n < 0 && errno != EINTR) {
			log_error("epoll_wait: %m");
			break;
		}
		for (int i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;
			int fd;

			switch (w->kind) {
			case W_OCI_LISTEN:
				accept_handover(w->fd);
				break;
			case W_OCI_CONN:
				on_oci_conn(w);
				break;
			case W_LXC_LISTEN:
				accept_lxc(w->fd);
				break;
			case W_LXC_CONN:
				on_lxc_conn(w);
				break;
			case W_CONTROL:
				fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					control_serve_async(
					    fd, &notifyd.info); /* a silent client stalls nothing */
				break;
			case W_SIGNAL: {
				struct signalfd_siginfo si;
				while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						reload_profiles(o.profiles_dir, false);
						reload_namespaces(o.namespaces_path, false);
					} else if (si.ssi_signo == SIGUSR2)
						upgrading = true;
					else
						running = false;
				}
				break;
			}
			}
		}
		if (upgrading)
			upgrade(argv);
		if (notifyd.n_handovers)
			expire_handovers();
	}
	if (fdstore_active())
		leave_to_successor();
	log_info("shutting down");
	fdstore_notify("STOPPING=1");
	ns_child_cancel_all(); /* workers waiting on a helper return now */
	loop_device_shutdown();
	worker_pool_stop();
	fuse_daemon_shutdown();
	watch_release_all();
	metrics_stop();
	(void)unix_listener_remove(o.socket_path, &oci_id);
	(void)unix_listener_remove(o.control_path, &ctl_id);
	if (o.lxc_socket_path)
		(void)unix_listener_remove(o.lxc_socket_path, &lxc_id);
	profile_store_shutdown();
	ns_allow_shutdown();
	return EXIT_SUCCESS;
fail_sockets: /* a refused start leaves no socket of ours behind */
	if (oci_ours)
		(void)unix_listener_remove(o.socket_path, &oci_id);
	if (ctl_ours)
		(void)unix_listener_remove(o.control_path, &ctl_id);
	if (lxc_ours)
		(void)unix_listener_remove(o.lxc_socket_path, &lxc_id);
	return EXIT_FAILURE;
}
