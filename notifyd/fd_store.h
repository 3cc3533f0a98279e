/* SPDX-License-Identifier: MIT */
/*
 * The fds notifyd must not lose when it stops (docs/restart.md): the
 * listening sockets, every container's notify fd or LXC connection, the
 * in-flight log, and what resource modules hold.  A store that outlives
 * notifyd keeps a copy of each -- systemd's fd store (FDSTORE=1, service
 * option FileDescriptorStoreMax=) or `notifyd --keeper` (keeper.c), which
 * speaks the same protocol -- and hands them back to the next notifyd as
 * LISTEN_FDS/LISTEN_FDNAMES.  This module is the only one that talks to the
 * store (through libsystemd).  It also keeps its own copy of each named fd,
 * so an upgrade can re-execute notifyd in place with all of them
 * (fdstore_exec()), store or not.
 *
 * Names (printable ASCII, no ':'): "oci", "lxc", "control" (listeners),
 * "wal" (in-flight log), "n.KEY" / "x.KEY" a container entry's notify fd /
 * LXC connection, and the resource modules' own prefixes.
 */
#ifndef MV_FD_STORE_H
#define MV_FD_STORE_H

#include <stdbool.h>

/*
 * Take what the store (or a re-exec) handed in.  Call once, first thing,
 * before any other fd is opened.  0 or -errno.
 */
int fdstore_init(void);
/* A store outlives us (NOTIFY_SOCKET is set): stored fds survive a crash. */
bool fdstore_active(void);
/* We were handed fds a notifyd that ran before stored (not only listeners). */
bool fdstore_restarted(void);
/*
 * The fd handed in under name, now the caller's (the module keeps its own
 * copy under that name until fdstore_remove()); -ENOENT if none.
 */
int fdstore_take(const char *name);
/*
 * Calls fn(name, fd) for each fd handed in whose name starts with prefix and
 * that nobody took yet; fn takes it over (as fdstore_take()).
 */
void fdstore_take_prefix(const char *prefix, void (*fn)(const char *name, int fd, void *userdata),
                         void *userdata);
/*
 * Keep fd under name: a copy here and one in the store.  0, or -errno (the
 * copy here is kept even when the store refused it).  A name already held is
 * replaced.
 */
int fdstore_put(const char *name, int fd);
/* Forget name here and in the store; no-op when not held. */
void fdstore_remove(const char *name);
/* After start: forget every fd handed in that nobody took. */
void fdstore_drop_untaken(void);
/*
 * Re-execute path with argv in this process, handing every named fd to the
 * new image (which finds them as if a store had handed them in).  Returns
 * only on failure (-errno); the caller then exits.
 */
int fdstore_exec(const char *path, char *const argv[]);
/* sd_notify() of state (READY=1, STATUS=..., WATCHDOG=1, ...) when a store listens. */
void fdstore_notify(const char *state);

#endif
