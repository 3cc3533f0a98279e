// SPDX-License-Identifier: MIT
/*
 * Private loop devices for containers: what loop_device.c (the table, the
 * hand-out and the API), loop_state.c (the device states and the
 * maintenance thread) and loop_node.c (the node tmpfs and the /sys/block
 * views) share.  Internal to these three files; the rest of notifyd uses
 * loop_device.h.  Calls run device -> state -> node, never back.
 */
#ifndef MV_LOOP_INTERNAL_H
#define MV_LOOP_INTERNAL_H

#include "notifyd/loop_device.h"

#include <linux/loop.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

/*
 * A device's state (docs/loop.md "States of a container's loop device"):
 *   fresh     unbound; hold is notifyd's O_EXCL fd, so no LOOP_CONFIGURE or
 *             LOOP_SET_FD but notifyd's own (on hold) can bind it (EBUSY);
 *   bound     bound to the container's file; pin is a plain fd of notifyd's,
 *             so the device is detached only at a close notifyd makes;
 *   clearing  the container detached it (or its autoclear is due): its node
 *             is revoked (host root, mode 0) before notifyd let go of it, and
 *             it becomes fresh again (hold taken, node given back) once the
 *             kernel has detached it at the last close;
 *   gone      owner NULL: given up, node unlinked, waiting to be deleted;
 *             also a fresh device not bound within FRESH_MS (entry_expire).
 * The container can open or hold a device only while it is fresh or bound.
 */
struct loop_entry {
	struct loop_entry *next;
	int nr;
	char *owner; /* container id; NULL while waiting to be deleted */
	int backing; /* our copy of the file given to LOOP_CONFIGURE/SET_FD, or -EBADF */
	int hold;    /* fresh: O_EXCL fd of the unbound device, else -EBADF */
	int pin;     /* bound: plain fd of the bound device, else -EBADF */
	bool clearing;
	bool placed;          /* handed out: node in the container, the GET_FREE/ADD answered */
	unsigned clear_ticks; /* maintenance ticks spent clearing */
	long fresh_since;     /* ms (CLOCK_MONOTONIC) the hold was taken; see FRESH_MS */
	uid_t uid;            /* the container's root: owner of the node */
	gid_t gid;
};

/* A container's /sys/block: a tmpfs of symlinks, kept writable through fd. */
struct loop_view {
	struct loop_view *next;
	char *owner;
	int fd;
	unsigned serial; /* names its fd in the fd store: "lv.SERIAL" */
};

/* A container whose fresh device expired (entry_expire), for the rate limit. */
struct loop_expired {
	struct loop_expired *next;
	char *owner;
	long at; /* ms (CLOCK_MONOTONIC) of its last expiry */
};

/*
 * How long a device stays fresh (held O_EXCL, unbound) before notifyd gives
 * it up.  While the container holds the lowest-numbered unbound device,
 * every host `losetup -f` spins (util-linux retries GET_FREE as long as
 * LOOP_CONFIGURE answers EBUSY), so the hold must be short.  losetup's own
 * GET_FREE -> open -> LOOP_CONFIGURE takes microseconds; 2 s leaves room for
 * a loaded machine and a slow `mount -o loop`, and bounds the host's stall.
 */
#define FRESH_MS 2000
/*
 * After one of a container's fresh devices expired, it gets no new device
 * for this long: a host `losetup -f` that spun on the expired one retries
 * within microseconds, so half a second is ample for it to get through, and
 * short enough for a container's legitimate retry.
 */
#define FRESH_COOLDOWN_MS 500

/* The node tmpfs and the views (loop_node.c); under loop_state.lock. */
struct loop_node_state {
	int nodes;         /* detached tmpfs: one block node per device, "loopN" */
	bool nodes_staged; /* nodes is attached in the staging namespace (loop_clone_tree) */
	struct loop_view *views;
};
extern struct loop_node_state loop_node;

/* The table and the maintenance thread (loop_state.c). */
struct loop_state {
	pthread_mutex_t lock;
	struct loop_entry *devices;
	struct loop_expired *expired;
	bool shutting_down;
	bool maintaining;    /* the maintenance thread runs; under lock */
	long drain_until;    /* ms (CLOCK_MONOTONIC) until which deletions are retried */
	pthread_cond_t kick; /* timed on CLOCK_MONOTONIC; made once, under lock */
	bool kick_ready;
	bool dirty;           /* the table changed since the state file "loop" was written */
	unsigned view_serial; /* the last view's serial */
};
extern struct loop_state loop_state;

/* loop_node.c */
int loop_clone_tree(int mnt, const char *name, unsigned flags, bool *staged);
void loop_node_name(int nr, char *buf, size_t size);
void loop_node_neutralize(int nr);
void loop_node_revoke(int nr);
int loop_node_restore(const struct loop_entry *e);
int loop_node_make(int nr, uid_t uid, gid_t gid);
int loop_node_open(int nr);
bool loop_dev_bound(int nr, struct loop_info64 *info);
void loop_view_link(const char *owner, int nr, bool add);
int loop_map_root(int procfd, const char *file, unsigned *ret);
void loop_umount_stack(const char *path);
int loop_attach_in_view(struct request *rq, int tree, const char *dir, const char *name,
                        bool placeholder, uid_t uid, gid_t gid);
int loop_view_install(struct request *rq);

/* loop_state.c */
int loop_ctl(unsigned long cmd, long arg);
long loop_now_ms(void);
int loop_hold_take(struct loop_entry *e);
void loop_entry_release(struct loop_entry *e);
void loop_entry_forget(struct loop_entry *e);
bool loop_entry_settle(struct loop_entry *e);
bool loop_entry_reap(struct loop_entry *e);
bool loop_retry_draining(void);
void loop_schedule_maintenance(void);
bool loop_sysfs_bound(int nr);
/*
 * Restart survival (docs/restart.md): the table lives in one state file,
 * "loop" (state.h), not in the entries' files -- devices belong to a
 * container id, which may have several entries (`runc exec`), and the
 * maintenance thread changes them with no entry at hand.  Each device's fds
 * are in the fd store: "l.NR" its hold or pin, "b.NR" its backing file; the
 * node tmpfs is "loop-nodes", a container's /sys/block view "lv.SERIAL".
 * loop_fd_sync(): put e's current fds in the store (or remove them);
 * loop_fd_drop(): e (number nr) is freed.  loop_state_flush(): write the
 * state file if the table changed.  All with the lock held.
 */
void loop_fd_sync(const struct loop_entry *e);
void loop_fd_drop(int nr);
void loop_state_flush(void);

#endif
