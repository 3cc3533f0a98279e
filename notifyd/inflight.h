/* SPDX-License-Identifier: MIT */
/*
 * The in-flight log (docs/restart.md "In-flight requests"): a memfd, kept
 * by the fd store as "wal" and mapped MAP_SHARED, that holds every request
 * notifyd has taken from the kernel and not answered yet, so a notifyd that
 * dies mid-request (SIGKILL, a crash, an upgrade) leaves its successor
 * everything it needs to give the caller exactly one normal answer.
 *
 * A worker takes a slot *before* SECCOMP_IOCTL_NOTIF_RECV and the kernel
 * writes the notification straight into it: there is no instant at which a
 * notification the kernel handed out is not in the log.  Handlers write a
 * stage into the slot before and after each step that leaves something
 * behind (a mount attached, a loop device added, a daemon started); the
 * slot is freed once the answer was sent.  At start inflight_recover()
 * looks at every used slot: a caller still waiting gets the answer of a
 * step that completed, or what the stage names is rolled back and the
 * request is handled again from its copy.
 *
 * The header also keeps the request totals of `notifyctl stats`, so they
 * stay consistent across restarts.
 */
#ifndef MV_INFLIGHT_H
#define MV_INFLIGHT_H

#include <linux/seccomp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "notifyd/lxc_proxy.h"

/*
 * What a handler has done that outlives it; arguments in inflight_slot.arg[].
 * A daemon started for the request (a FUSE program, vfsd) is in arg[2]
 * (pid) and arg[3] (start time, /proc/PID/stat) whatever the stage.
 */
enum inflight_stage {
	INFLIGHT_NONE = 0,
	/* A detached mount arg[0] (unique id) is about to be moved onto the target in mount
	 * namespace arg[1] (its id, 0 if unknown: the caller's). */
	INFLIGHT_MOUNT_ATTACHING,
	/* Mount arg[0] is attached in namespace arg[1]; the answer is 0. */
	INFLIGHT_MOUNT_ATTACHED,
	/* notifyd's mount arg[0] in namespace arg[1] is about to be unmounted. */
	INFLIGHT_UMOUNTING,
	/* The umount2(2) succeeded. */
	INFLIGHT_UMOUNTED,
	/* Loop device arg[0] was created for the container (LOOP_CTL_ADD). */
	INFLIGHT_LOOP_ADDED,
	/* Loop device arg[0] is about to be bound to the caller's file (LOOP_CONFIGURE). */
	INFLIGHT_LOOP_CONFIGURING,
	/* Loop device arg[0] is bound; the answer is 0. */
	INFLIGHT_LOOP_CONFIGURED,
	/* A FUSE program or vfsd (arg[2], arg[3]) runs for this request, nothing attached yet. */
	INFLIGHT_DAEMON_STARTED,
	INFLIGHT_STAGE_COUNT,
};

enum inflight_state {
	INFLIGHT_FREE = 0,
	INFLIGHT_USED = 1,
};

/*
 * One request.  Written only by the thread that owns the request (and a
 * mount helper sharing its memory); read by a successor after we are gone.
 */
struct inflight_slot {
	_Atomic uint32_t state; /* enum inflight_state */
	_Atomic uint32_t stage; /* enum inflight_stage, written after arg[] */
	uint64_t key;           /* the container entry's key (c->key) */
	uint64_t arg[4];
	uint32_t lxc; /* answered through the LXC connection: reply below */
	/*
	 * A helper process that acts for the request (the mount helper, the
	 * FUSE mounter) while it runs, else 0: it may outlive notifyd by a
	 * moment, so a successor stops it before it trusts the stage.
	 */
	_Atomic int32_t helper;
	struct seccomp_notif notif; /* as received from the kernel (or LXC) */
	struct lxc_reply reply;     /* LXC: what the answer echoes (reply.sock is not used) */
};

/*
 * Open the log: taken back from the store ("wal") after a restart, else a
 * new memfd put into the store.  A log of another layout is logged and
 * replaced.  0 or -errno.
 */
int inflight_init(void);
/*
 * A free slot for a request of c's entry key, zeroed; waits while the log is
 * full (other requests finish and free theirs).
 */
struct inflight_slot *inflight_take(uint64_t key);
/* The request is answered (or its caller gone): free its slot.  NULL is a no-op. */
void inflight_free(struct inflight_slot *slot);

/*
 * The slot of the request the calling thread works on (set by whoever
 * handles it), so modules deep in a handler mark stages without having it
 * passed down.  NULL outside a request.
 */
void inflight_set_current(struct inflight_slot *slot);
struct inflight_slot *inflight_current(void);
/* Mark stage with arg[0], arg[1] in the current request's slot, if any. */
void inflight_mark(enum inflight_stage stage, uint64_t a0, uint64_t a1);
/* The same on a given slot: async-signal-safe (mount helpers sharing our memory). */
void inflight_mark_slot(struct inflight_slot *slot, enum inflight_stage stage, uint64_t a0,
                        uint64_t a1);
/* A daemon was started for the current request (INFLIGHT_DAEMON_STARTED). */
void inflight_mark_daemon(pid_t pid);
/*
 * In a helper process sharing the log (async-signal-safe): it starts acting
 * for slot's request (its own pid), or is done (0).
 */
void inflight_helper(struct inflight_slot *slot, pid_t pid);

/*
 * Test hook (notifyd(8)): MOUNTVISOR_CRASH_AT=POINT[:N] makes notifyd die by
 * SIGKILL at POINT of the Nth request that gets there (default 1).
 * inflight_crash_point(POINT) is called at each point; the async-signal-safe
 * form inflight_crash_point_child() is for a helper sharing our memory:
 * true if the helper must kill notifyd (inflight_crash_pid()) and exit.
 */
void inflight_crash_point(const char *point);
bool inflight_crash_point_child(const char *point);
int inflight_crash_pid(void);
/*
 * With MOUNTVISOR_CRASH_MODE=exec the hook calls exec_fn instead (it
 * re-executes notifyd in place with its named fds, from whatever thread
 * got there, without finishing anything): a crash a test can take over
 * from without a store.  A helper that was told to crash exits instead;
 * its parent then calls inflight_crash_now().
 */
void inflight_crash_set_exec(void (*exec_fn)(void));
void inflight_crash_now(void);
bool inflight_crash_exec_mode(void);

/*
 * Start: finish what the notifyd before us left in the log.  Each used slot
 * whose caller still waits is answered if its step completed, else rolled
 * back and handled again (supervise_recovered()).  Call after the
 * container entries were rebuilt.
 */
struct container;
struct decision;
/*
 * finish(c, slot, notify_fd, d): d is the answer of a completed step, or
 * NULL to handle the request again; notify_fd is valid for the call only.
 */
void inflight_recover(void (*finish)(struct container *c, struct inflight_slot *slot, int notify_fd,
                                     const struct decision *d));

/* Request totals of `notifyctl stats`, in the log's header (they survive restarts). */
enum inflight_total {
	INFLIGHT_T_REQUESTS, /* not counted: the sum of the next five */
	INFLIGHT_T_KERNEL,
	INFLIGHT_T_CONTINUED,
	INFLIGHT_T_DENIED,
	INFLIGHT_T_ENOSYS,
	INFLIGHT_T_FAILED,
	INFLIGHT_T_CALLERS_GONE,
	INFLIGHT_T_RECOVERED,
	INFLIGHT_T_COUNT,
};
void inflight_count(enum inflight_total t);
uint64_t inflight_total(enum inflight_total t);
/* Slots in use now, and in all. */
unsigned inflight_used(unsigned *n_slots);

#endif
