/* SPDX-License-Identifier: MIT */
#ifndef VFSD_VHOST_USER_H
#define VFSD_VHOST_USER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "vfsd/guest_mem.h"
#include "vfsd/virtqueue.h"

/*
 * vhost-user back-end (QEMU docs/interop/vhost-user.rst): one connection at a
 * time, messages read and validated in the calling thread, one thread per
 * started virtqueue that pops chains and hands them to the device through
 * struct vfsd_vu_ops.  Device-agnostic: vfsd's FUSE server is one user, the
 * tests another.
 */

#define VFSD_VU_MAX_QUEUES 17 /* hiprio + up to 16 request queues */

enum {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
	VHOST_USER_SET_BACKEND_REQ_FD = 21,
	VHOST_USER_GET_CONFIG = 24,
	VHOST_USER_SET_CONFIG = 25,
	VHOST_USER_RESET_DEVICE = 34,
	VHOST_USER_GET_MAX_MEM_SLOTS = 36,
	VHOST_USER_ADD_MEM_REG = 37,
	VHOST_USER_REM_MEM_REG = 38,
	VHOST_USER_MSG_MAX = 41,
};

#define VHOST_USER_VERSION           0x1u
#define VHOST_USER_FLAG_REPLY        (1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY   (1u << 3)
#define VHOST_USER_VRING_NOFD        (1u << 8)
#define VHOST_USER_MEM_TABLE_REGIONS 8

#define VHOST_USER_F_PROTOCOL_FEATURES            30
#define VHOST_USER_PROTOCOL_F_MQ                  0
#define VHOST_USER_PROTOCOL_F_REPLY_ACK           3
#define VHOST_USER_PROTOCOL_F_RESET_DEVICE        13
#define VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS 15

#define VFSD_VIRTIO_F_RING_INDIRECT_DESC 28
#define VFSD_VIRTIO_F_RING_EVENT_IDX     29
#define VFSD_VIRTIO_F_VERSION_1          32

struct vfsd_vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
} __attribute__((packed));

struct vfsd_vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vfsd_vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vfsd_vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vfsd_mem_desc regions[VHOST_USER_MEM_TABLE_REGIONS];
};

struct vfsd_vu_mem_reg {
	uint64_t padding;
	struct vfsd_mem_desc region;
};

union vfsd_vu_payload {
	uint64_t u64;
	struct vfsd_vu_vring_state state;
	struct vfsd_vu_vring_addr addr;
	struct vfsd_vu_mem_table mem;
	struct vfsd_vu_mem_reg memreg;
	uint8_t raw[512];
};

/* What a device plugs into the back-end. */
struct vfsd_vu_ops {
	/* In a queue thread when it starts; returns its per-thread context. */
	void *(*queue_start)(void *opaque, unsigned qidx);
	void (*queue_stop)(void *ctx);
	/*
	 * Handles one chain; returns the number of bytes written into it, or
	 * VFSD_VU_DEFERRED: the device copied the chain and completes the copy
	 * later with vfsd_vu_queue_complete() (before its queue_quiesce returns).
	 */
	uint32_t (*request)(void *ctx, struct vfsd_vq_elem *elem);
	/*
	 * In the queue thread when the queue stops, after every worker is
	 * done: complete every deferred chain of queue qidx now (its rings are
	 * still mapped).  May be NULL if the device never defers.
	 */
	void (*queue_quiesce)(void *opaque, unsigned qidx);
	/* Front-end reset the device or went away: forget per-guest state. */
	void (*reset)(void *opaque);
};

/* request() keeps the chain and completes it itself later. */
#define VFSD_VU_DEFERRED UINT32_MAX

struct vfsd_vu_queue {
	struct vfsd_vu_dev *dev;
	unsigned index;
	uint32_t num;
	struct vfsd_vu_vring_addr addr;
	bool addr_set;
	uint16_t base;
	int kick_fd, call_fd, err_fd;
	bool enabled; /* accessed atomically */
	bool running;
	bool stop;  /* accessed atomically */
	int ctl_fd; /* eventfd that wakes the queue thread */
	pthread_t thread;
	pthread_mutex_t lock;      /* call_fd/err_fd against the queue thread */
	pthread_mutex_t ring_lock; /* vq against pool workers completing chains */
	struct vfsd_vq vq;
};

struct vfsd_vu_dev {
	const struct vfsd_vu_ops *ops;
	void *opaque;
	unsigned nqueues;
	int sock;
	uint64_t features, protocol_features;
	bool owned;
	bool broken;        /* accessed atomically; set when the guest broke a ring */
	unsigned pool_size; /* worker threads per request queue; 0: inline */
	struct vfsd_mem mem;
	struct vfsd_vu_queue q[VFSD_VU_MAX_QUEUES];
	/* statistics for logs and tests */
	unsigned long msgs, bad_msgs;
};

/* Features vfsd offers (virtio and protocol). */
uint64_t vfsd_vu_features(void);
uint64_t vfsd_vu_protocol_features(void);

/* Prepare dev for nqueues virtqueues (hiprio + requests). */
int vfsd_vu_init(struct vfsd_vu_dev *dev, unsigned nqueues, const struct vfsd_vu_ops *ops,
                 void *opaque);
/*
 * vfsd_vu_serve() - run the protocol on a connected socket until the
 * front-end disconnects or breaks framing.  Leaves dev reset (no queues, no
 * memory) so the next connection starts clean.  Does not close sock.
 * Return: 0 on orderly disconnect, -errno (-EPROTO: malformed message).
 */
int vfsd_vu_serve(struct vfsd_vu_dev *dev, int sock);
/* The front-end that connected first: later ones must have its credentials. */
struct vfsd_vu_owner {
	bool set;
	uid_t uid;
	gid_t gid;
};
/*
 * vfsd_vu_accept() - accept the next front-end on the listening socket lfd.
 * The first front-end's uid and gid (SO_PEERCRED, at connect time, in
 * vfsd's user namespace) are recorded in owner; a later front-end with
 * another uid or gid is disconnected at once (-EPERM, its credentials in
 * ret_peer), so a local process cannot take over the share when the VMM has
 * left.  The pid is not compared: a restarted VMM has a new one, and in the
 * namespace sandbox vfsd cannot see the VMM's pid namespace.
 * Return: the connected socket, -EPERM, or -errno from accept4 (-EAGAIN:
 * nothing to report, call again).
 */
int vfsd_vu_accept(int lfd, struct vfsd_vu_owner *owner, struct ucred *ret_peer);
/* Puts a handled chain on the used ring (len bytes written) and notifies. */
void vfsd_vu_queue_complete(struct vfsd_vu_queue *q, struct vfsd_vq_elem *elem, uint32_t len);
/* Called by a device to report that the guest violated the protocol. */
void vfsd_vu_mark_broken(struct vfsd_vu_dev *dev, const char *why);

#endif
