/* SPDX-License-Identifier: MIT */
/* The in-flight log (inflight.h, docs/restart.md "In-flight requests"). */
#include "notifyd/inflight.h"
#include "notifyd/container.h"
#include "notifyd/decision.h"
#include "notifyd/fd_store.h"
#include "notifyd/inherited.h"
#include "notifyd/loop_device.h"
#include "notifyd/mount_record.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#define INFLIGHT_MAGIC   0x4c41572d564d4e4dULL /* "MNMV-WAL" */
#define INFLIGHT_VERSION 1
/*
 * Workers x max-running requests in workers, plus deferred start-ups
 * (FUSE, vfsd), which keep their slot until they answer: far more than
 * any sane setup has in flight.  A full log makes the next worker wait.
 */
#define INFLIGHT_SLOTS 512

struct inflight_header {
	uint64_t magic;
	uint32_t version;
	uint32_t n_slots;
	uint32_t slot_size;
	uint32_t pad;
	_Atomic uint64_t totals[INFLIGHT_T_COUNT];
	uint8_t reserved[256 - 24 - 8 * INFLIGHT_T_COUNT];
};
_Static_assert(sizeof(struct inflight_header) == 256, "header layout");

struct inflight_log {
	struct inflight_header hdr;
	struct inflight_slot slots[INFLIGHT_SLOTS];
};

static struct {
	struct inflight_log *log; /* NULL until inflight_init() */
	pthread_mutex_t lock;     /* free list below */
	pthread_cond_t freed;
	unsigned free_idx[INFLIGHT_SLOTS];
	unsigned n_free;
	/*
	 * The slots our predecessor left in use, as found at inflight_init():
	 * recovery looks at these alone, since the workers (serving the entries
	 * restored before it) take slots of their own meanwhile.
	 */
	bool leftover[INFLIGHT_SLOTS];
	/* MOUNTVISOR_CRASH_AT */
	char crash_point[32];
	bool crash_exec; /* MOUNTVISOR_CRASH_MODE=exec */
	void (*exec_fn)(void);
	_Atomic unsigned crash_left;
	pid_t pid;
} wal = {.lock = PTHREAD_MUTEX_INITIALIZER, .freed = PTHREAD_COND_INITIALIZER};

/* Totals counted before inflight_init() (or without a log) land here. */
static _Atomic uint64_t no_log_totals[INFLIGHT_T_COUNT];

static __thread struct inflight_slot *current;

static void crash_init(void)
{
	const char *env = getenv("MOUNTVISOR_CRASH_AT");
	const char *colon;
	size_t len;
	unsigned long n = 1;

	wal.pid = getpid();
	if (!env || !*env)
		return;
	/*
	 * Only a notifyd that starts fresh crashes: its successor (re-executed,
	 * or started by a keeper that passes its environment on) recovers.
	 */
	if (fdstore_restarted()) {
		unsetenv("MOUNTVISOR_CRASH_AT");
		unsetenv("MOUNTVISOR_CRASH_MODE");
		return;
	}
	colon = strchr(env, ':');
	len = colon ? (size_t)(colon - env) : strlen(env);
	if (colon)
		n = strtoul(colon + 1, NULL, 10);
	if (len == 0 || len >= sizeof(wal.crash_point) || n == 0)
		return;
	memcpy(wal.crash_point, env, len);
	wal.crash_point[len] = '\0';
	wal.crash_left = (unsigned)n;
	env = getenv("MOUNTVISOR_CRASH_MODE");
	wal.crash_exec = env && strcmp(env, "exec") == 0;
	log_warn("test hook: notifyd %s at %s of request %lu (MOUNTVISOR_CRASH_AT)",
	         wal.crash_exec ? "re-executes itself" : "kills itself", wal.crash_point, n);
	/* Only the notifyd started with it crashes: its successor runs normally. */
	unsetenv("MOUNTVISOR_CRASH_AT");
	unsetenv("MOUNTVISOR_CRASH_MODE");
}

static bool crash_due(const char *point)
{
	const char *a = wal.crash_point, *b = point;

	if (!*a)
		return false;
	while (*a && *a == *b)
		a++, b++;
	if (*a || *b)
		return false;
	return atomic_fetch_sub(&wal.crash_left, 1) == 1;
}

void inflight_crash_set_exec(void (*exec_fn)(void))
{
	wal.exec_fn = exec_fn;
}

void inflight_crash_now(void)
{
	if (wal.crash_exec && wal.exec_fn) {
		log_warn("test hook: re-executing notifyd mid-request");
		wal.exec_fn();
	}
	log_warn("test hook: SIGKILL");
	raise(SIGKILL);
}

void inflight_crash_point(const char *point)
{
	if (crash_due(point)) {
		log_warn("test hook: crash at %s", point);
		inflight_crash_now();
	}
}

bool inflight_crash_point_child(const char *point)
{
	return crash_due(point);
}

bool inflight_crash_exec_mode(void)
{
	return wal.crash_exec;
}

int inflight_crash_pid(void)
{
	return (int)wal.pid;
}

static void reset_log(struct inflight_log *log)
{
	memset(log, 0, sizeof(*log));
	log->hdr.magic = INFLIGHT_MAGIC;
	log->hdr.version = INFLIGHT_VERSION;
	log->hdr.n_slots = INFLIGHT_SLOTS;
	log->hdr.slot_size = sizeof(struct inflight_slot);
}

static bool log_fits(const struct inflight_log *log)
{
	return log->hdr.magic == INFLIGHT_MAGIC && log->hdr.version == INFLIGHT_VERSION &&
	       log->hdr.n_slots == INFLIGHT_SLOTS &&
	       log->hdr.slot_size == sizeof(struct inflight_slot);
}

int inflight_init(void)
{
	_cleanup_close_ int fd = -EBADF;
	struct inflight_log *log;
	bool fresh = false;
	struct stat st;
	int r;

	crash_init();
	fd = fdstore_take("wal");
	if (fd >= 0 && (fstat(fd, &st) < 0 || (size_t)st.st_size != sizeof(*log))) {
		log_warn("in-flight log handed in has %lld bytes, not %zu: starting a new one",
		         fd >= 0 ? (long long)st.st_size : -1LL, sizeof(*log));
		fd = safe_close(fd);
	}
	if (fd < 0) {
		fd = memfd_create("mountvisor-wal", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (ftruncate(fd, sizeof(*log)) < 0)
			return -errno;
		fresh = true;
	}
	log = mmap(NULL, sizeof(*log), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (log == MAP_FAILED)
		return -errno;
	if (fresh)
		reset_log(log);
	else if (!log_fits(log)) {
		log_warn("in-flight log handed in is of another layout (version %u, %u slots of "
		         "%u bytes; ours: %u, %u of %zu): its requests are lost, starting anew",
		         log->hdr.version, log->hdr.n_slots, log->hdr.slot_size, INFLIGHT_VERSION,
		         INFLIGHT_SLOTS, sizeof(struct inflight_slot));
		reset_log(log);
	}
	/*
	 * A new log goes to the store; one handed back is still there (and
	 * fd_store.c kept its copy for an exec): putting it again would take it
	 * out of the store for a moment.
	 */
	if (fresh) {
		r = fdstore_put("wal", fd);
		if (r < 0)
			log_warn("in-flight log not in the fd store: %s; a crash loses the "
			         "requests in flight",
			         strerror(-r));
	}
	for (unsigned i = INFLIGHT_SLOTS; i-- > 0;) {
		if (atomic_load(&log->slots[i].state) == INFLIGHT_FREE)
			wal.free_idx[wal.n_free++] = i;
		else
			wal.leftover[i] = true;
	}
	for (int t = 0; t < INFLIGHT_T_COUNT; t++)
		atomic_fetch_add(&log->hdr.totals[t], atomic_load(&no_log_totals[t]));
	wal.log = log;
	if (!fresh)
		log_info("in-flight log handed back: %u requests in it",
		         INFLIGHT_SLOTS - wal.n_free);
	return 0;
}

struct inflight_slot *inflight_take(uint64_t key)
{
	struct inflight_slot *s;
	unsigned i;

	if (!wal.log)
		return NULL;
	pthread_mutex_lock(&wal.lock);
	while (wal.n_free == 0) {
		log_warn("in-flight log full (%u requests): waiting for one to finish",
		         INFLIGHT_SLOTS);
		pthread_cond_wait(&wal.freed, &wal.lock);
	}
	i = wal.free_idx[--wal.n_free];
	pthread_mutex_unlock(&wal.lock);
	s = &wal.log->slots[i];
	/* Everything first, the state last: a successor reads the state first. */
	atomic_store_explicit(&s->stage, INFLIGHT_NONE, memory_order_relaxed);
	s->key = key;
	memset(s->arg, 0, sizeof(s->arg));
	s->lxc = 0;
	atomic_store_explicit(&s->helper, 0, memory_order_relaxed);
	memset(&s->notif, 0, sizeof(s->notif)); /* the kernel insists on a zeroed buffer */
	atomic_store_explicit(&s->state, INFLIGHT_USED, memory_order_release);
	return s;
}

void inflight_free(struct inflight_slot *s)
{
	unsigned i;

	if (!s || !wal.log)
		return;
	if (current == s)
		current = NULL;
	i = (unsigned)(s - wal.log->slots);
	if (atomic_exchange_explicit(&s->state, INFLIGHT_FREE, memory_order_acq_rel) ==
	    INFLIGHT_FREE) {
		log_error("in-flight log: slot %u freed twice; ignored", i);
		return;
	}
	pthread_mutex_lock(&wal.lock);
	wal.free_idx[wal.n_free++] = i;
	pthread_cond_signal(&wal.freed);
	pthread_mutex_unlock(&wal.lock);
}

void inflight_set_current(struct inflight_slot *slot)
{
	current = slot;
}

struct inflight_slot *inflight_current(void)
{
	return current;
}

void inflight_mark_slot(struct inflight_slot *s, enum inflight_stage stage, uint64_t a0,
                        uint64_t a1)
{
	if (!s)
		return;
	/*
	 * The arguments first, the stage last: a reader after our death sees
	 * the new stage with its arguments, or the stage before with the new
	 * arguments.  Never a moment of INFLIGHT_NONE (which would replay a
	 * request whose mount is attached).  So a request's stages follow each
	 * other such that the one before either ignores the arguments or has
	 * the same ones: received -> daemon started -> attaching X ->
	 * attached X; unmounting X -> unmounted X.
	 */
	s->arg[0] = a0;
	s->arg[1] = a1;
	atomic_store_explicit(&s->stage, stage, memory_order_release);
}

void inflight_helper(struct inflight_slot *s, pid_t pid)
{
	if (s)
		atomic_store_explicit(&s->helper, (int32_t)pid, memory_order_release);
}

void inflight_mark(enum inflight_stage stage, uint64_t a0, uint64_t a1)
{
	inflight_mark_slot(current, stage, a0, a1);
}

void inflight_mark_daemon(pid_t pid)
{
	uint64_t start = 0;

	if (!current || pid <= 0 || container_proc_start(pid, &start) < 0)
		return;
	/* Marked on a request in no other stage yet (inflight_mark_slot()). */
	current->arg[0] = current->arg[1] = 0;
	current->arg[2] = (uint64_t)pid;
	current->arg[3] = start;
	atomic_store_explicit(&current->stage, INFLIGHT_DAEMON_STARTED, memory_order_release);
}

void inflight_count(enum inflight_total t)
{
	atomic_fetch_add(wal.log ? &wal.log->hdr.totals[t] : &no_log_totals[t], 1);
}

uint64_t inflight_total(enum inflight_total t)
{
	return atomic_load(wal.log ? &wal.log->hdr.totals[t] : &no_log_totals[t]);
}

unsigned inflight_used(unsigned *n_slots)
{
	unsigned used;

	if (n_slots)
		*n_slots = wal.log ? INFLIGHT_SLOTS : 0;
	pthread_mutex_lock(&wal.lock);
	used = wal.log ? INFLIGHT_SLOTS - wal.n_free : 0;
	pthread_mutex_unlock(&wal.lock);
	return used;
}

/* --- Recovery ----------------------------------------------------------- */

static const char *const stage_names[INFLIGHT_STAGE_COUNT] = {
    [INFLIGHT_NONE] = "received",
    [INFLIGHT_MOUNT_ATTACHING] = "attaching a mount",
    [INFLIGHT_MOUNT_ATTACHED] = "mount attached",
    [INFLIGHT_UMOUNTING] = "unmounting",
    [INFLIGHT_UMOUNTED] = "unmounted",
    [INFLIGHT_LOOP_ADDED] = "loop device added",
    [INFLIGHT_LOOP_CONFIGURING] = "binding a loop device",
    [INFLIGHT_LOOP_CONFIGURED] = "loop device bound",
    [INFLIGHT_DAEMON_STARTED] = "daemon started",
};

static const char *stage_name(uint32_t stage)
{
	return stage < INFLIGHT_STAGE_COUNT ? stage_names[stage] : "unknown";
}

/*
 * LXC keeps the notify fd: the monitor (its pid in the message's header)
 * holds it.  Find the one on which id is pending among its seccomp notify
 * fds; -ENOENT if none.
 */
static int lxc_notify_fd(pid_t monitor, uint64_t id)
{
	_cleanup_close_ int pidfd = -EBADF;
	char path[64], link[64];
	DIR *d;
	struct dirent *e;
	int found = -ENOENT;

	if (monitor <= 0)
		return -ENOENT;
	pidfd = (int)syscall(SYS_pidfd_open, monitor, 0);
	if (pidfd < 0)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)monitor);
	d = opendir(path);
	if (!d)
		return -errno;
	while (found < 0 && (e = readdir(d))) {
		char p[PATH_MAX];
		ssize_t n;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		n = readlink(p, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, "anon_inode:seccomp notify") != 0)
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (fd < 0)
			continue;
		(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0)
			found = fd;
		else
			close(fd);
	}
	closedir(d);
	return found;
}

/* The caller's mount namespace id, checked to be the caller's (ID_VALID after). */
static int caller_mntns(int notify_fd, const struct seccomp_notif *n, uint64_t *ret)
{
	_cleanup_close_ int nsfd = -EBADF;
	char path[64];
	uint64_t id = n->id;
	int r;

	snprintf(path, sizeof(path), "/proc/%u/ns/mnt", n->pid);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return -errno;
	r = mount_record_ns_id(nsfd, ret);
	if (r < 0)
		return r;
	if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return -ENOENT;
	return 0;
}

/* Is loop device nr bound to a file? */
static bool loop_bound(int nr)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/block/loop%d/loop/backing_file", nr);
	return access(path, F_OK) == 0;
}

/* Delete host loop device nr when no container's table has it. */
static void remove_loop(struct container *c, int nr)
{
	_cleanup_close_ int ctl = -EBADF;

	if (nr < 0 || loop_device_access(c->id, makedev(7, (unsigned)nr)) != LOOP_UNMANAGED)
		return;
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl >= 0 && ioctl(ctl, LOOP_CTL_REMOVE, nr) == 0)
		log_info("recovery: removed loop%d, added for a request in flight", nr);
}

/*
 * What to do with a request whose caller still waits: 1 with *d the answer
 * of a step that completed, 0 to handle it again (what the stage named is
 * rolled back), -errno if it cannot be told.
 */
static int recover_stage(struct container *c, struct inflight_slot *s, int notify_fd,
                         struct decision *d)
{
	uint32_t stage = atomic_load(&s->stage);
	uint64_t ns = 0;
	int r;

	switch (stage) {
	case INFLIGHT_MOUNT_ATTACHING:
	case INFLIGHT_MOUNT_ATTACHED:
		r = caller_mntns(notify_fd, &s->notif, &ns);
		if (r < 0)
			return r;
		r = mount_record_present(s->arg[0], ns);
		if (r < 0)
			return r;
		if (r == 0) { /* a detached mount died with its fd: nothing to undo */
			inherited_stop((pid_t)s->arg[2], s->arg[3]);
			return 0;
		}
		s->arg[1] = ns; /* the caller records it (supervise_recovered()) */
		d->action = DECISION_KERNEL;
		decision_rule(d, "recovered: mount attached before notifyd stopped");
		decision_ok(d, 0);
		decision_why(d, "mnt_id=%llu", (unsigned long long)s->arg[0]);
		return 1;
	case INFLIGHT_UMOUNTING:
	case INFLIGHT_UMOUNTED:
		r = caller_mntns(notify_fd, &s->notif, &ns);
		if (r < 0)
			return r;
		r = mount_record_present(s->arg[0], ns);
		if (r < 0)
			return r;
		if (r == 1) /* still there: unmount it as asked */
			return 0;
		mount_record_remove(c, s->arg[0]);
		d->action = DECISION_UMOUNT;
		decision_rule(d, "recovered: unmounted before notifyd stopped");
		decision_ok(d, 0);
		return 1;
	case INFLIGHT_LOOP_ADDED:
		/* The restored table has it: the container got it; else it goes, and again. */
		if (loop_device_access(c->id, makedev(7, (unsigned)s->arg[0])) == LOOP_OWNED) {
			d->action = DECISION_KERNEL;
			decision_rule(d, "recovered: loop device added before notifyd stopped");
			decision_ok(d, (int64_t)s->arg[0]);
			return 1;
		}
		remove_loop(c, (int)s->arg[0]);
		return 0;
	case INFLIGHT_LOOP_CONFIGURING:
	case INFLIGHT_LOOP_CONFIGURED:
		/*
		 * notifyd's O_EXCL hold kept everybody else from binding it up to
		 * our death: bound now means bound by the request (the restored
		 * table takes it over with its backing file).
		 */
		if (loop_bound((int)s->arg[0])) {
			d->action = DECISION_KERNEL;
			decision_rule(d, "recovered: loop device bound before notifyd stopped");
			decision_ok(d, 0);
			decision_why(d, "loop%d", (int)s->arg[0]);
			return 1;
		}
		return 0;
	case INFLIGHT_DAEMON_STARTED:
		inherited_stop((pid_t)s->arg[2], s->arg[3]);
		return 0;
	default: /* received: nothing was done, unless a daemon was started */
		inherited_stop((pid_t)s->arg[2], s->arg[3]);
		return 0;
	}
}

void inflight_recover(void (*finish)(struct container *c, struct inflight_slot *slot, int notify_fd,
                                     const struct decision *d))
{
	unsigned n = 0;

	if (!wal.log)
		return;
	/* What the log names recovery handles; inherited_stop_unnamed() the rest. */
	for (unsigned i = 0; i < INFLIGHT_SLOTS; i++)
		if (wal.leftover[i]) {
			inherited_named((pid_t)atomic_load(&wal.log->slots[i].helper));
			inherited_named((pid_t)wal.log->slots[i].arg[2]);
		}
	for (unsigned i = 0; i < INFLIGHT_SLOTS; i++) {
		struct inflight_slot *s = &wal.log->slots[i];
		struct decision d = {0};
		struct container *c;
		int notify_fd = -EBADF, r = 0;
		bool lxc_fd = false;
		uint64_t id;

		if (!wal.leftover[i] || atomic_load(&s->state) != INFLIGHT_USED)
			continue;
		wal.leftover[i] = false;
		n++;
		inherited_stop_helper((pid_t)atomic_load(&s->helper));
		id = s->notif.id;
		c = container_find_key(s->key);
		if (c && s->notif.id == 0 && s->notif.pid == 0)
			r = -ENOENT; /* taken, nothing received yet */
		else if (c && s->lxc) {
			s->reply.sock = c->lxc_sock;
			if (c->lxc_sock < 0 || lxc_reply_ms_left(&s->reply) == 0)
				r = -ENOENT;
			else {
				notify_fd = lxc_notify_fd(s->reply.hdr.monitor_pid, id);
				lxc_fd = notify_fd >= 0;
				r = notify_fd >= 0 ? 0 : notify_fd;
			}
		} else if (c) {
			notify_fd = c->notify_fd;
			r = ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0 ? -ENOENT : 0;
		}
		if (!c || r < 0) {
			if (s->notif.id)
				log_info(
				    "recovered: id=%llu key=%llu syscall_nr=%d stage=\"%s\" caller "
				    "gone",
				    (unsigned long long)s->notif.id, (unsigned long long)s->key,
				    s->notif.data.nr, stage_name(s->stage));
			/*
			 * What was left half done for a caller that no longer
			 * waits; a daemon whose mount is attached goes on serving it.
			 */
			inherited_reap((pid_t)s->arg[2]);
			if (c && s->stage != INFLIGHT_MOUNT_ATTACHED)
				inherited_stop((pid_t)s->arg[2], s->arg[3]);
			if (c && s->stage == INFLIGHT_LOOP_ADDED)
				remove_loop(c, (int)s->arg[0]);
			inflight_free(s);
			if (lxc_fd)
				close(notify_fd);
			if (c)
				container_unref(c);
			continue;
		}
		inherited_reap((pid_t)s->arg[2]); /* the daemon, stopped or left serving */
		r = recover_stage(c, s, notify_fd, &d);
		inflight_count(INFLIGHT_T_RECOVERED);
		log_info("recovered: id=%llu container=%s syscall_nr=%d stage=\"%s\" %s",
		         (unsigned long long)s->notif.id, c->id, s->notif.data.nr,
		         stage_name(s->stage),
		         r > 0    ? (d.val ? "answered its value" : "answered 0")
		         : r == 0 ? "replayed"
		                  : "cannot tell: replayed");
		finish(c, s, notify_fd, r > 0 ? &d : NULL);
		if (lxc_fd)
			close(notify_fd);
		container_unref(c);
	}
	if (n)
		log_info("in-flight log: %u requests of the notifyd before us looked at", n);
}
