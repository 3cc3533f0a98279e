/* SPDX-License-Identifier: MIT */
/*
 * Private loop devices for containers (docs/loop.md).  notifyd owns a table
 * of host loop devices it created with LOOP_CTL_ADD, each belonging to one
 * container (by id).  A container sees its devices as /dev/loopN: a block
 * node notifyd made in its own tmpfs, owned by the container's root and
 * bind-mounted onto a placeholder in the container's /dev.  Its /sys/block
 * is overmounted with a notifyd tmpfs of symlinks that lists the host's other
 * block devices but only the container's own loops, so util-linux (which
 * enumerates loops through sysfs) shows nothing else.  When the container is
 * gone (its "loop-devices" resource, container.h, is told that the last
 * handed-over notify fd hung up) its devices are detached and deleted; one
 * still held open somewhere is kept out of use until it can be deleted.  No
 * device the container can open is ever unbound without notifyd holding it
 * with O_EXCL, so nobody else (a host losetup -f) can bind it (docs/loop.md
 * "States"); one the container has not bound within 2 s is given up, so a
 * host losetup -f that spins on it (util-linux retries on EBUSY) gets
 * through.
 */
#ifndef MV_LOOP_DEVICE_H
#define MV_LOOP_DEVICE_H

#include <stdbool.h>
#include <sys/types.h>

#include "notifyd/request.h"

#define LOOP_MAJOR_NR 7

enum loop_access {
	LOOP_UNMANAGED, /* not one of notifyd's: the runtime or the admin gave it */
	LOOP_OWNED,     /* notifyd's, and this container's */
	LOOP_FOREIGN,   /* notifyd's, another container's or being freed */
};

/* Whose is the loop device rdev? */
enum loop_access loop_device_access(const char *container_id, dev_t rdev);

/*
 * LOOP_CTL_GET_FREE (nr < 0) or LOOP_CTL_ADD (nr >= 0) for rq's container:
 * an unbound device it owns, or a new one within max, with its node in the
 * caller's /dev and its /sys/block entry.  Returns the number or -errno
 * (-EAGAIN for a new device within 500 ms after one of its fresh devices
 * expired unbound), and says why in rq->detail.
 */
int loop_device_get(struct request *rq, int nr, unsigned max);
/* LOOP_CTL_REMOVE of a device the container owns. */
int loop_device_remove(struct request *rq, int nr);

struct loop_config;

/*
 * LOOP_CONFIGURE (or LOOP_SET_FD: cfg zero but for the fd) of the container's
 * fresh device nr with backing (our copy of the caller's file, taken over),
 * done on notifyd's exclusive hold, not on the caller's file: read-only if
 * ro (the caller opened the device read-only).  -EBUSY if it is bound or
 * still being detached, -EPERM if it is no longer the container's (given
 * up while the ioctl ran), else the kernel's answer.
 */
int loop_device_bind(const char *container_id, int nr, struct loop_config *cfg, int backing,
                     bool ro);
/*
 * The container's LOOP_CLR_FD on its bound device nr succeeded: its node is
 * revoked until the kernel has detached it (at the container's last close),
 * then it is free for the container again.
 */
void loop_device_cleared(const char *container_id, int nr);
/*
 * LOOP_CHANGE_FD: the backing file notifyd gave the device (our copy, taken
 * over); fd < 0 forgets it.  -EPERM (fd closed) if the device is no longer the
 * container's: it was given up while the ioctl that bound it ran.
 */
int loop_device_set_backing(const char *container_id, int nr, int fd);
/*
 * For the fuse action: the backing file of the container's bound loop device
 * rdev, opened read-only or read-write.  -ENXIO if not bound, -EACCES if it
 * is read-only and rw was asked for.
 */
int loop_device_open_backing(const char *container_id, dev_t rdev, bool rw);

/*
 * Restart (restart.c): c carries its container's loop devices (its
 * "loop-devices" part).  The first call loads the device table a notifyd
 * before us saved (the state file "loop"), reconciled with the kernel and
 * the fds the store handed back: a device still unbound is held again at
 * once.  0 or -errno.
 */
struct container;
struct json_object;
int loop_device_restore(struct container *c, struct json_object *obj);

/*
 * notifyd is stopping: from now on a container's bound devices are left as
 * they are (it may still run and use them); unbound ones are deleted.
 */
void loop_device_shutdown(void);

/* The states of loop_internal.h's devices, for metrics (metrics.c). */
enum loop_device_state {
	LOOP_STATE_FRESH,
	LOOP_STATE_BOUND,
	LOOP_STATE_CLEARING,
	LOOP_STATE_GONE,
	LOOP_STATE_COUNT,
};
/* Adds the number of devices notifyd holds in each state to counts[]. */
void loop_device_state_counts(unsigned counts[LOOP_STATE_COUNT]);

#endif
