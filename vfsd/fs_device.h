/* SPDX-License-Identifier: MIT */
#ifndef VFSD_FS_DEVICE_H
#define VFSD_FS_DEVICE_H

#include "vfsd/fuse_server.h"
#include "vfsd/vhost_user.h"

/* The virtio-fs device: vhost-user queues wired to the FUSE server. */
extern const struct vfsd_vu_ops vfsd_fs_device_ops;
/* Lets the FUSE server complete deferred chains on dev's queues. */
void vfsd_fs_device_bind(struct vfsd_fs *fs, struct vfsd_vu_dev *dev);

#endif
