/* SPDX-License-Identifier: MIT */
/*
 * The `virtiofs` action: a container's `mount -t vhost-user-fs [-o OPTS]
 * DIR SOCKETFILE` starts a vfsd on the host side that serves DIR to a VMM
 * inside the container, and binds vfsd's listening vhost-user socket over
 * SOCKETFILE; `umount SOCKETFILE` stops it (docs/virtiofs.md).
 */
#ifndef MV_VIRTIOFS_ACTION_H
#define MV_VIRTIOFS_ACTION_H

#include "notifyd/profile.h"
#include "notifyd/request.h"

/* A mount(2) whose rule says action = virtiofs; the outcome is left in *d. */
void virtiofs_action_mount(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                           struct decision *d);

#endif
