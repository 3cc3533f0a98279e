// SPDX-License-Identifier: MIT
/*
 * vhost-user back-end: message framing, validation, dispatch, and the
 * virtqueue threads.
 *
 * Trust: the front-end is a separate process (QEMU) and its messages are
 * validated by vu_check_msg() before any handler runs: version and flags,
 * payload size against the table, fd count against the payload.  Framing
 * errors end the connection; a well-framed request with bad values (queue
 * index, address outside memory, ring size) is refused with a NACK and the
 * connection lives on.  Guest data (rings) is checked in virtqueue.c; a bad
 * ring marks the device broken until the front-end resets or reconnects.
 *
 * Threads: the caller of vfsd_vu_serve() handles messages; each started queue
 * has one thread, and with --thread-pool-size a pool of workers (vu_pool.c).  Anything a queue
 * thread reads (memory table, ring pointers) is changed only while that thread is stopped:
 * memory-table updates pause all running queues and restart them afterwards.
 */
#include "vfsd/seccomp.h"
#include "vfsd/vhost_user.h"
#include "vfsd/vu_pool.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#define VU_MAX_FDS 8
/* Handler result that means "close the connection". */
#define VU_DISCONNECT (-EPROTO)

struct vu_msg {
	struct vfsd_vu_hdr hdr;
	union vfsd_vu_payload p;
	int fds[VU_MAX_FDS];
	size_t nfds;
};

enum vu_fd_rule {
	VU_FDS_NONE,    /* no fd may come */
	VU_FDS_VRING,   /* one fd unless VHOST_USER_VRING_NOFD is set in u64 */
	VU_FDS_REGIONS, /* one per region of the memory table */
	VU_FDS_ONE,     /* exactly one */
	VU_FDS_OPTIONAL /* zero or one */
};

struct vu_msg_desc {
	const char *name;
	int (*fn)(struct vfsd_vu_dev *dev, struct vu_msg *m);
	uint32_t min_size, max_size;
	enum vu_fd_rule fds;
	bool reply; /* the request has a reply of its own */
	bool queue; /* payload starts with a 32-bit queue index (8 bits for u64) */
};

uint64_t vfsd_vu_features(void)
{
	return 1ull << VFSD_VIRTIO_F_VERSION_1 | 1ull << VFSD_VIRTIO_F_RING_INDIRECT_DESC |
	       1ull << VFSD_VIRTIO_F_RING_EVENT_IDX | 1ull << VHOST_USER_F_PROTOCOL_FEATURES;
}

uint64_t vfsd_vu_protocol_features(void)
{
	return 1ull << VHOST_USER_PROTOCOL_F_MQ | 1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK |
	       1ull << VHOST_USER_PROTOCOL_F_RESET_DEVICE |
	       1ull << VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS;
}

void vfsd_vu_mark_broken(struct vfsd_vu_dev *dev, const char *why)
{
	if (!__atomic_exchange_n(&dev->broken, true, __ATOMIC_SEQ_CST))
		log_error("guest broke the device (%s); no more requests until reset", why);
}

/* --- queue threads ---------------------------------------------------- */

static void queue_notify(struct vfsd_vu_queue *q)
{
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	if (q->call_fd >= 0 && write(q->call_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("queue %u: call fd write failed: %m", q->index);
	pthread_mutex_unlock(&q->lock);
}

void vfsd_vu_queue_complete(struct vfsd_vu_queue *q, struct vfsd_vq_elem *elem, uint32_t len)
{
	bool notify;

	if (len == VFSD_VU_DEFERRED)
		return; /* the device completes its copy of the chain later */
	if (len > elem->wr_len)
		len = (uint32_t)elem->wr_len;
	pthread_mutex_lock(&q->ring_lock);
	vfsd_vq_push(&q->vq, elem->head, len);
	notify = vfsd_vq_should_notify(&q->vq);
	pthread_mutex_unlock(&q->ring_lock);
	if (notify)
		queue_notify(q);
}

static int ring_pop(struct vfsd_vu_queue *q, struct vfsd_vq_elem *elem)
{
	int r;

	pthread_mutex_lock(&q->ring_lock);
	r = vfsd_vq_pop(&q->vq, elem);
	pthread_mutex_unlock(&q->ring_lock);
	return r;
}

/* Enables kicks and looks once more: > 0 if chains arrived meanwhile. */
static int ring_wait_kick(struct vfsd_vu_queue *q, bool enable)
{
	int r = 0;

	pthread_mutex_lock(&q->ring_lock);
	vfsd_vq_set_notify(&q->vq, enable);
	if (enable)
		r = vfsd_vq_pending(&q->vq);
	pthread_mutex_unlock(&q->ring_lock);
	return r;
}

/*
 * Pops and handles chains until the ring is empty; false if it broke.  With
 * a pool, chains are handed to its workers, which complete them.
 */
static bool queue_drain(struct vfsd_vu_queue *q, void *ctx, struct vfsd_vq_elem *elem,
                        struct vfsd_vu_pool *pool)
{
	struct vfsd_vu_dev *dev = q->dev;
	int r;

	for (;;) {
		ring_wait_kick(q, false);
		for (;;) {
			struct vfsd_vq_elem *e = pool ? vfsd_vu_pool_elem(pool) : elem;

			r = ring_pop(q, e);
			if (r <= 0) {
				if (pool)
					vfsd_vu_pool_unused(pool, e);
				break;
			}
			if (pool)
				vfsd_vu_pool_submit(pool, e);
			else
				vfsd_vu_queue_complete(q, e, dev->ops->request(ctx, e));
			if (__atomic_load_n(&dev->broken, __ATOMIC_SEQ_CST) ||
			    __atomic_load_n(&q->stop, __ATOMIC_SEQ_CST))
				return !dev->broken;
		}
		if (r < 0)
			break;
		r = ring_wait_kick(q, true);
		if (r == 0)
			return true;
		if (r < 0)
			break;
	}
	vfsd_vu_mark_broken(dev, "malformed virtqueue");
	return false;
}

static void *queue_thread(void *arg)
{
	struct vfsd_vu_queue *q = arg;
	struct vfsd_vu_dev *dev = q->dev;
	_cleanup_free_ struct vfsd_vq_elem *elem = malloc(sizeof(*elem));
	void *ctx = NULL;

	if (!elem) {
		log_error("queue %u: out of memory", q->index);
		return NULL;
	}
	/* The hiprio queue (0) carries FORGETs only: cheap, always inline. */
	struct vfsd_vu_pool *pool =
	    dev->pool_size && q->index > 0 ? vfsd_vu_pool_start(q, dev->pool_size) : NULL;

	if (!pool && dev->ops->queue_start)
		ctx = dev->ops->queue_start(dev->opaque, q->index);
	/* A kick may have happened before we started: look once. */
	bool check = true;
	while (!__atomic_load_n(&q->stop, __ATOMIC_SEQ_CST)) {
		struct pollfd pfd[2] = {
		    {.fd = q->kick_fd, .events = POLLIN},
		    {.fd = q->ctl_fd, .events = POLLIN},
		};
		uint64_t v;

		if (check && __atomic_load_n(&q->enabled, __ATOMIC_SEQ_CST) &&
		    !__atomic_load_n(&dev->broken, __ATOMIC_SEQ_CST))
			queue_drain(q, ctx, elem, pool);
		check = false;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("queue %u: poll: %m", q->index);
			break;
		}
		if (pfd[1].revents & POLLIN)
			(void)!read(q->ctl_fd, &v, sizeof(v));
		if (pfd[0].revents & POLLIN) {
			(void)!read(q->kick_fd, &v, sizeof(v));
			check = true;
		}
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			/* The kick fd is dead; wait for the main thread to stop us. */
			pfd[0].fd = -1;
			poll(&pfd[1], 1, -1);
		}
		if (pfd[1].revents & POLLIN)
			check = true; /* enable or a paused restart */
	}
	/* Every popped chain is used before GET_VRING_BASE reports the base. */
	vfsd_vu_pool_stop(pool);
	if (dev->ops->queue_quiesce)
		dev->ops->queue_quiesce(dev->opaque, q->index);
	if (!pool && dev->ops->queue_stop)
		dev->ops->queue_stop(ctx);
	return NULL;
}

static void queue_wake(struct vfsd_vu_queue *q)
{
	uint64_t one = 1;

	if (q->ctl_fd >= 0)
		(void)!write(q->ctl_fd, &one, sizeof(one));
}

static void queue_stop_thread(struct vfsd_vu_queue *q)
{
	if (!q->running)
		return;
	__atomic_store_n(&q->stop, true, __ATOMIC_SEQ_CST);
	queue_wake(q);
	pthread_join(q->thread, NULL);
	q->running = false;
	q->ctl_fd = safe_close(q->ctl_fd);
	q->base = q->vq.last_avail;
}

/* Maps the rings and starts the thread; requires kick fd and addresses. */
static int queue_start_thread(struct vfsd_vu_dev *dev, struct vfsd_vu_queue *q, bool fresh)
{
	bool ev = dev->features & (1ull << VFSD_VIRTIO_F_RING_EVENT_IDX);
	bool ind = dev->features & (1ull << VFSD_VIRTIO_F_RING_INDIRECT_DESC);
	int r;

	if (q->running)
		return 0;
	if (q->kick_fd < 0 || !q->addr_set || q->num == 0)
		return -EINVAL;
	r = vfsd_vq_map(&q->vq, &dev->mem, q->num, q->addr.desc, q->addr.avail, q->addr.used, ev,
	                ind);
	if (r < 0)
		return r;
	if (fresh) {
		q->vq.last_avail = q->base;
		q->vq.used_idx = __atomic_load_n(&q->vq.used_hdr[1], __ATOMIC_ACQUIRE);
		q->vq.inflight = 0;
	}
	q->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->ctl_fd < 0)
		return -errno;
	__atomic_store_n(&q->stop, false, __ATOMIC_SEQ_CST);
	r = pthread_create(&q->thread, NULL, queue_thread, q);
	if (r) {
		q->ctl_fd = safe_close(q->ctl_fd);
		return -r;
	}
	q->running = true;
	return 0;
}

/* Stops the queue and forgets everything the front-end told us about it. */
static void queue_reset(struct vfsd_vu_queue *q)
{
	queue_stop_thread(q);
	q->kick_fd = safe_close(q->kick_fd);
	pthread_mutex_lock(&q->lock);
	q->call_fd = safe_close(q->call_fd);
	q->err_fd = safe_close(q->err_fd);
	pthread_mutex_unlock(&q->lock);
	q->num = 0;
	q->addr_set = false;
	q->base = 0;
	q->enabled = false;
	memset(&q->vq, 0, sizeof(q->vq));
}

static void dev_reset(struct vfsd_vu_dev *dev, bool unmap)
{
	for (unsigned i = 0; i < dev->nqueues; i++)
		queue_reset(&dev->q[i]);
	if (unmap)
		vfsd_mem_clear(&dev->mem);
	dev->features = 0;
	dev->protocol_features = 0;
	__atomic_store_n(&dev->broken, false, __ATOMIC_SEQ_CST);
	if (dev->ops->reset)
		dev->ops->reset(dev->opaque);
}

/* Memory-table changes: stop queue threads, change, restart them. */
static void dev_pause(struct vfsd_vu_dev *dev, bool *was_running)
{
	for (unsigned i = 0; i < dev->nqueues; i++) {
		was_running[i] = dev->q[i].running;
		queue_stop_thread(&dev->q[i]);
	}
}

static void dev_resume(struct vfsd_vu_dev *dev, const bool *was_running)
{
	for (unsigned i = 0; i < dev->nqueues; i++) {
		if (!was_running[i])
			continue;
		if (queue_start_thread(dev, &dev->q[i], false) < 0)
			log_warn("queue %u: rings no longer in guest memory; queue stopped", i);
	}
}

/* --- message handlers --------------------------------------------------- */

static struct vfsd_vu_queue *msg_queue(struct vfsd_vu_dev *dev, const struct vu_msg *m)
{
	return &dev->q[m->p.state.index & 0xff];
}

static void set_u64(struct vu_msg *m, uint64_t v)
{
	m->p.u64 = v;
	m->hdr.size = sizeof(uint64_t);
}

static int vu_get_features(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	set_u64(m, vfsd_vu_features());
	return 0;
}

static int vu_set_features(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	if (m->p.u64 & ~vfsd_vu_features())
		return -EINVAL;
	dev->features = m->p.u64;
	/* Without protocol features there is no SET_VRING_ENABLE: rings start enabled. */
	if (!(dev->features & (1ull << VHOST_USER_F_PROTOCOL_FEATURES)))
		for (unsigned i = 0; i < dev->nqueues; i++) {
			__atomic_store_n(&dev->q[i].enabled, true, __ATOMIC_SEQ_CST);
			queue_wake(&dev->q[i]);
		}
	return 0;
}

static int vu_set_owner(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	dev->owned = true;
	return 0;
}

static int vu_reset(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	dev_reset(dev, false);
	return 0;
}

static int vu_get_protocol_features(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	set_u64(m, vfsd_vu_protocol_features());
	return 0;
}

static int vu_set_protocol_features(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	if (m->p.u64 & ~vfsd_vu_protocol_features())
		return -EINVAL;
	dev->protocol_features = m->p.u64;
	return 0;
}

static int vu_get_queue_num(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	set_u64(m, dev->nqueues);
	return 0;
}

static int vu_get_max_mem_slots(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	set_u64(m, VFSD_MEM_MAX_REGIONS);
	return 0;
}

static int vu_set_mem_table(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	bool was[VFSD_VU_MAX_QUEUES];
	int r = 0;

	dev_pause(dev, was);
	vfsd_mem_clear(&dev->mem);
	for (uint32_t i = 0; i < m->p.mem.nregions && r >= 0; i++)
		r = vfsd_mem_add(&dev->mem, &m->p.mem.regions[i], m->fds[i]);
	if (r < 0)
		vfsd_mem_clear(&dev->mem);
	dev_resume(dev, was);
	return r;
}

static int vu_add_mem_reg(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	bool was[VFSD_VU_MAX_QUEUES];
	int r;

	dev_pause(dev, was);
	r = vfsd_mem_add(&dev->mem, &m->p.memreg.region, m->fds[0]);
	dev_resume(dev, was);
	return r;
}

static int vu_rem_mem_reg(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	bool was[VFSD_VU_MAX_QUEUES];
	int r;

	dev_pause(dev, was);
	r = vfsd_mem_remove(&dev->mem, &m->p.memreg.region);
	dev_resume(dev, was);
	return r;
}

static int vu_set_vring_num(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);
	uint32_t n = m->p.state.num;

	if (q->running)
		return -EBUSY;
	if (n == 0 || n > VFSD_VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	q->num = n;
	return 0;
}

static int vu_set_vring_addr(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);

	if (q->running)
		return -EBUSY;
	q->addr = m->p.addr;
	q->addr_set = true;
	return 0;
}

static int vu_set_vring_base(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);

	if (q->running)
		return -EBUSY;
	if (m->p.state.num > UINT16_MAX)
		return -EINVAL;
	q->base = (uint16_t)m->p.state.num;
	return 0;
}

static int vu_get_vring_base(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);

	queue_stop_thread(q);
	q->kick_fd = safe_close(q->kick_fd);
	m->p.state.num = q->base;
	m->hdr.size = sizeof(m->p.state);
	return 0;
}

static int vu_set_vring_kick(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);
	int r;

	if (m->nfds == 0)
		return -EINVAL; /* polling mode is not supported */
	queue_stop_thread(q);
	safe_close(q->kick_fd);
	q->kick_fd = TAKE_FD(m->fds[0]);
	m->nfds = 0;
	/* Started rings run even if disabled, so starting here is right (spec "Ring states"). */
	r = queue_start_thread(dev, q, true);
	if (r < 0) {
		/* A refused request changes nothing: forget the fd again. */
		q->kick_fd = safe_close(q->kick_fd);
		log_warn("queue %u: cannot start: %s", q->index, strerror(-r));
	}
	return r;
}

static int vu_set_vring_fd(struct vfsd_vu_dev *dev, struct vu_msg *m, bool call)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);
	int fd = m->nfds ? TAKE_FD(m->fds[0]) : -EBADF;

	m->nfds = 0;
	pthread_mutex_lock(&q->lock);
	if (call) {
		safe_close(q->call_fd);
		q->call_fd = fd;
	} else {
		safe_close(q->err_fd);
		q->err_fd = fd;
	}
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static int vu_set_vring_call(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	return vu_set_vring_fd(dev, m, true);
}

static int vu_set_vring_err(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	return vu_set_vring_fd(dev, m, false);
}

static int vu_set_vring_enable(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	struct vfsd_vu_queue *q = msg_queue(dev, m);

	if (m->p.state.num > 1)
		return -EINVAL;
	__atomic_store_n(&q->enabled, m->p.state.num == 1, __ATOMIC_SEQ_CST);
	queue_wake(q);
	return 0;
}

static int vu_unsupported(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	return -EOPNOTSUPP;
}

#define U64   sizeof(uint64_t), sizeof(uint64_t)
#define STATE sizeof(struct vfsd_vu_vring_state), sizeof(struct vfsd_vu_vring_state)
/* GET_* requests carry no payload; some front-ends send a zero u64. */
#define NOARG 0, sizeof(uint64_t)

static const struct vu_msg_desc vu_msgs[VHOST_USER_MSG_MAX] = {
    [VHOST_USER_GET_FEATURES] = {"GET_FEATURES", vu_get_features, NOARG, VU_FDS_NONE, true},
    [VHOST_USER_SET_FEATURES] = {"SET_FEATURES", vu_set_features, U64, VU_FDS_NONE},
    [VHOST_USER_SET_OWNER] = {"SET_OWNER", vu_set_owner, NOARG, VU_FDS_NONE},
    [VHOST_USER_RESET_OWNER] = {"RESET_OWNER", vu_reset, NOARG, VU_FDS_NONE},
    [VHOST_USER_SET_MEM_TABLE] = {"SET_MEM_TABLE", vu_set_mem_table, 8,
                                  sizeof(struct vfsd_vu_mem_table), VU_FDS_REGIONS},
    [VHOST_USER_SET_LOG_BASE] = {"SET_LOG_BASE", vu_unsupported, 0, 512, VU_FDS_OPTIONAL},
    [VHOST_USER_SET_LOG_FD] = {"SET_LOG_FD", vu_unsupported, 0, 512, VU_FDS_OPTIONAL},
    [VHOST_USER_SET_VRING_NUM] = {"SET_VRING_NUM", vu_set_vring_num, STATE, VU_FDS_NONE, false,
                                  true},
    [VHOST_USER_SET_VRING_ADDR] = {"SET_VRING_ADDR", vu_set_vring_addr,
                                   sizeof(struct vfsd_vu_vring_addr),
                                   sizeof(struct vfsd_vu_vring_addr), VU_FDS_NONE, false, true},
    [VHOST_USER_SET_VRING_BASE] = {"SET_VRING_BASE", vu_set_vring_base, STATE, VU_FDS_NONE, false,
                                   true},
    [VHOST_USER_GET_VRING_BASE] = {"GET_VRING_BASE", vu_get_vring_base, STATE, VU_FDS_NONE, true,
                                   true},
    [VHOST_USER_SET_VRING_KICK] = {"SET_VRING_KICK", vu_set_vring_kick, U64, VU_FDS_VRING, false,
                                   true},
    [VHOST_USER_SET_VRING_CALL] = {"SET_VRING_CALL", vu_set_vring_call, U64, VU_FDS_VRING, false,
                                   true},
    [VHOST_USER_SET_VRING_ERR] = {"SET_VRING_ERR", vu_set_vring_err, U64, VU_FDS_VRING, false,
                                  true},
    [VHOST_USER_GET_PROTOCOL_FEATURES] = {"GET_PROTOCOL_FEATURES", vu_get_protocol_features, NOARG,
                                          VU_FDS_NONE, true},
    [VHOST_USER_SET_PROTOCOL_FEATURES] = {"SET_PROTOCOL_FEATURES", vu_set_protocol_features, U64,
                                          VU_FDS_NONE},
    [VHOST_USER_GET_QUEUE_NUM] = {"GET_QUEUE_NUM", vu_get_queue_num, NOARG, VU_FDS_NONE, true},
    [VHOST_USER_SET_VRING_ENABLE] = {"SET_VRING_ENABLE", vu_set_vring_enable, STATE, VU_FDS_NONE,
                                     false, true},
    [VHOST_USER_SET_BACKEND_REQ_FD] = {"SET_BACKEND_REQ_FD", vu_unsupported, 0, 512,
                                       VU_FDS_OPTIONAL},
    [VHOST_USER_RESET_DEVICE] = {"RESET_DEVICE", vu_reset, NOARG, VU_FDS_NONE},
    [VHOST_USER_GET_MAX_MEM_SLOTS] = {"GET_MAX_MEM_SLOTS", vu_get_max_mem_slots, NOARG, VU_FDS_NONE,
                                      true},
    [VHOST_USER_ADD_MEM_REG] = {"ADD_MEM_REG", vu_add_mem_reg, sizeof(struct vfsd_vu_mem_reg),
                                sizeof(struct vfsd_vu_mem_reg), VU_FDS_ONE},
    [VHOST_USER_REM_MEM_REG] = {"REM_MEM_REG", vu_rem_mem_reg, sizeof(struct vfsd_vu_mem_reg),
                                sizeof(struct vfsd_vu_mem_reg), VU_FDS_OPTIONAL},
};

/* --- framing and validation --------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Return: 1 message read, 0 EOF, -errno (framing broken). */
static int vu_read_msg(int sock, struct vu_msg *m)
{
	ssize_t n;
	int r;

	m->nfds = VU_MAX_FDS;
	n = fd_recv_with_fds(sock, &m->hdr, sizeof(m->hdr), m->fds, &m->nfds, 0);
	if (n < 0)
		return (int)n;
	if (n == 0) {
		fd_close_all(m->fds, m->nfds);
		m->nfds = 0;
		return 0;
	}
	if ((size_t)n < sizeof(m->hdr)) {
		r = read_full(sock, (uint8_t *)&m->hdr + n, sizeof(m->hdr) - (size_t)n);
		if (r < 0)
			return r;
	}
	if (m->hdr.size > sizeof(m->p))
		return -EMSGSIZE;
	memset(&m->p, 0, sizeof(m->p));
	r = read_full(sock, &m->p, m->hdr.size);
	if (r < 0)
		return r;
	return 1;
}

/*
 * vu_check_msg() - the one place front-end input is validated.
 * Return: 0 valid, -EPROTO framing/fd violation (disconnect), -EINVAL a value
 * out of range (NACK and go on), -EOPNOTSUPP unknown request.
 */
static int vu_check_msg(const struct vfsd_vu_dev *dev, const struct vu_msg *m)
{
	const struct vu_msg_desc *d;
	size_t want_fds = 0;

	if ((m->hdr.flags & 3) != VHOST_USER_VERSION || (m->hdr.flags & VHOST_USER_FLAG_REPLY))
		return -EPROTO;
	if (m->hdr.request >= VHOST_USER_MSG_MAX || !vu_msgs[m->hdr.request].fn)
		return m->nfds ? -EPROTO : -EOPNOTSUPP;
	d = &vu_msgs[m->hdr.request];
	if (m->hdr.size < d->min_size || m->hdr.size > d->max_size)
		return -EPROTO;
	switch (d->fds) {
	case VU_FDS_NONE:
		want_fds = 0;
		break;
	case VU_FDS_ONE:
		want_fds = 1;
		break;
	case VU_FDS_OPTIONAL:
		want_fds = m->nfds <= 1 ? m->nfds : 1;
		break;
	case VU_FDS_VRING:
		want_fds = (m->p.u64 & VHOST_USER_VRING_NOFD) ? 0 : 1;
		break;
	case VU_FDS_REGIONS:
		if (m->p.mem.nregions > VHOST_USER_MEM_TABLE_REGIONS ||
		    m->hdr.size != 8 + m->p.mem.nregions * sizeof(struct vfsd_mem_desc))
			return -EPROTO;
		want_fds = m->p.mem.nregions;
		break;
	}
	if (m->nfds != want_fds)
		return -EPROTO;
	if (d->queue) {
		/* The vring fd messages keep the index in the low 8 bits of a u64. */
		uint64_t idx = d->fds == VU_FDS_VRING ? (m->p.u64 & 0xff) : m->p.state.index;

		if (d->fds == VU_FDS_VRING &&
		    (m->p.u64 & ~(uint64_t)(0xff | VHOST_USER_VRING_NOFD)))
			return -EINVAL;
		if (idx >= dev->nqueues)
			return -EINVAL;
	}
	return 0;
}

static int vu_send_reply(int sock, const struct vu_msg *m)
{
	struct vfsd_vu_hdr h = {
	    .request = m->hdr.request,
	    .flags = VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY,
	    .size = m->hdr.size,
	};
	uint8_t buf[sizeof(h) + sizeof(m->p)];

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), &m->p, m->hdr.size);
	return fd_write_all(sock, buf, sizeof(h) + m->hdr.size);
}

static const char *msg_name(uint32_t req)
{
	return req < VHOST_USER_MSG_MAX && vu_msgs[req].name ? vu_msgs[req].name : "unknown";
}

/* Return: 0 go on, -errno disconnect. */
static int vu_handle_msg(struct vfsd_vu_dev *dev, struct vu_msg *m)
{
	bool need_ack = (m->hdr.flags & VHOST_USER_FLAG_NEED_REPLY) &&
	                (dev->protocol_features & (1ull << VHOST_USER_PROTOCOL_F_REPLY_ACK));
	const struct vu_msg_desc *d;
	int r;

	dev->msgs++;
	r = vu_check_msg(dev, m);
	if (r == -EPROTO) {
		dev->bad_msgs++;
		log_warn(
		    "front-end sent malformed %s (request %u, size %u, %zu fds); disconnecting",
		    msg_name(m->hdr.request), m->hdr.request, m->hdr.size, m->nfds);
		return r;
	}
	d = r == 0 ? &vu_msgs[m->hdr.request] : NULL;
	if (r == 0) {
		log_debug("vhost-user %s size %u fds %zu", d->name, m->hdr.size, m->nfds);
		r = d->fn(dev, m);
	}
	if (r < 0) {
		dev->bad_msgs++;
		log_warn("front-end request %s (%u) refused: %s", msg_name(m->hdr.request),
		         m->hdr.request, strerror(-r));
		/* A request that owes a reply cannot be answered: hang up. */
		if (d && d->reply)
			return -EPROTO;
	}
	if (d && d->reply && r >= 0)
		return vu_send_reply(dev->sock, m);
	if (need_ack) {
		set_u64(m, r < 0 ? 1 : 0);
		return vu_send_reply(dev->sock, m);
	}
	return 0;
}

int vfsd_vu_init(struct vfsd_vu_dev *dev, unsigned nqueues, const struct vfsd_vu_ops *ops,
                 void *opaque)
{
	if (nqueues < 1 || nqueues > VFSD_VU_MAX_QUEUES)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	dev->ops = ops;
	dev->opaque = opaque;
	dev->nqueues = nqueues;
	dev->sock = -EBADF;
	for (unsigned i = 0; i < nqueues; i++) {
		struct vfsd_vu_queue *q = &dev->q[i];

		q->dev = dev;
		q->index = i;
		q->kick_fd = q->call_fd = q->err_fd = q->ctl_fd = -EBADF;
		pthread_mutex_init(&q->lock, NULL);
		pthread_mutex_init(&q->ring_lock, NULL);
	}
	return 0;
}

int vfsd_vu_serve(struct vfsd_vu_dev *dev, int sock)
{
	struct vu_msg *m = malloc(sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	dev->sock = sock;
	for (;;) {
		r = vu_read_msg(sock, m);
		if (r <= 0) {
			if (r == -ECONNRESET)
				r = 0;
			break;
		}
		r = vu_handle_msg(dev, m);
		fd_close_all(m->fds, m->nfds);
		m->nfds = 0;
		if (r < 0)
			break;
	}
	fd_close_all(m->fds, m->nfds);
	free(m);
	dev_reset(dev, true);
	dev->owned = false;
	dev->sock = -EBADF;
	return r;
}

int vfsd_vu_accept(int lfd, struct vfsd_vu_owner *owner, struct ucred *ret_peer)
{
	_cleanup_close_ int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	socklen_t len = sizeof(*ret_peer);

	if (conn < 0)
		return errno == EINTR || errno == ECONNABORTED ? -EAGAIN : -errno;
	*ret_peer = (struct ucred){.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, ret_peer, &len) < 0 ||
	    len != sizeof(*ret_peer))
		return -EPERM; /* unknown peer: never the owner */
	if (!owner->set) {
		*owner =
		    (struct vfsd_vu_owner){.set = true, .uid = ret_peer->uid, .gid = ret_peer->gid};
		return TAKE_FD(conn);
	}
	if (ret_peer->uid != owner->uid || ret_peer->gid != owner->gid)
		return -EPERM;
	return TAKE_FD(conn);
}

/* seccomp allowlist for this file (see seccomp.h) */
const char *const vfsd_syscalls_vhost_user[] = {
    "recvmsg",
    "sendmsg",
    "read",
    "write",
    "poll",
    "ppoll",
    "eventfd2",
    "close",
    "accept4",
    "accept",
    "listen",
    /* vfsd_vu_accept(): SO_PEERCRED */
    "getsockopt",
    NULL,
};
