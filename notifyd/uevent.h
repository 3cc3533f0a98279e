/* SPDX-License-Identifier: MIT */
/*
 * uevents for a container's own loop devices (docs/loop.md "uevents").  The
 * kernel broadcasts a block device's uevents only in network namespaces
 * owned by the initial user namespace; a container with a network namespace
 * of its own (owned by its user namespace) hears nothing when notifyd gives
 * it /dev/loopN, binds it or takes it away, so its udev never learns of it.
 * notifyd sends the kernel a uevent on a NETLINK_KOBJECT_UEVENT socket
 * opened in the container's network namespace (libnl), and the kernel
 * (uevent_net_rcv, Linux >= 4.18) broadcasts it there, to that namespace
 * only, with a SEQNUM of its own.
 *
 * Every byte of an event comes from notifyd (the device number and its
 * sysfs diskseq); nothing of the container's.  A container that shares
 * notifyd's network namespace, or whose namespace belongs to the initial
 * user namespace, gets none (it hears the kernel's own events already;
 * injecting would duplicate them, and in the host's namespace spam the host).
 */
#ifndef MV_UEVENT_H
#define MV_UEVENT_H

#include <stdbool.h>

struct request;

enum uevent_action {
	UEVENT_ADD,    /* its node appeared (handed out) */
	UEVENT_BIND,   /* bound (LOOP_CONFIGURE, LOOP_SET_FD): change */
	UEVENT_UNBIND, /* detached (the kernel's detach at the last close): change, media change */
	UEVENT_REMOVE, /* given up: its node is gone */
};

/* --no-uevents: send nothing (call before the workers start). */
void uevent_set_enabled(bool on);

/*
 * rq's container is getting a loop device: open (once per container id)
 * its uevent socket in the caller's network namespace, or note that it gets
 * none.  Runs a short helper (ns_child.c, bounded by a timeout); never
 * fails the request.  Without loop_state.lock.
 */
void uevent_container_attach(struct request *rq);

/*
 * Tell container_id's network namespace about loop device nr: queued for
 * notifyd's uevent sender thread (bounded per container), never sent by the
 * caller, so it may hold any lock.
 */
void uevent_loop(const char *container_id, enum uevent_action action, int nr);

/* The container is gone: close its socket. */
void uevent_container_forget(const char *container_id);

#endif
