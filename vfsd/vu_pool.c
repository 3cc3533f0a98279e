// SPDX-License-Identifier: MIT
/*
 * Worker pool of one request queue (see vu_pool.h).  One mutex and two
 * condition variables: "work" wakes workers, "room" wakes the queue thread
 * waiting for a free element and vfsd_vu_pool_stop() waiting for the last
 * completion.  Elements cycle between the free stack and the job FIFO.
 */
#include "vfsd/vu_pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"

struct vfsd_vu_pool {
	struct vfsd_vu_queue *q;
	pthread_mutex_t lock;
	pthread_cond_t work, room;
	unsigned nthreads, nelems;
	pthread_t *threads;
	struct vfsd_vq_elem **elems; /* all of them, for freeing */
	struct vfsd_vq_elem **free;  /* stack */
	unsigned nfree;
	struct vfsd_vq_elem **jobs; /* FIFO ring of nelems */
	unsigned head, njobs;
	unsigned busy; /* jobs taken by workers, not completed */
	bool quit;
};

static void *worker(void *arg)
{
	struct vfsd_vu_pool *p = arg;
	struct vfsd_vu_dev *dev = p->q->dev;
	void *ctx = dev->ops->queue_start ? dev->ops->queue_start(dev->opaque, p->q->index) : NULL;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->njobs && !p->quit)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->njobs)
			break; /* quit, and nothing left to do */
		struct vfsd_vq_elem *e = p->jobs[p->head];

		p->head = (p->head + 1) % p->nelems;
		p->njobs--;
		p->busy++;
		pthread_mutex_unlock(&p->lock);
		vfsd_vu_queue_complete(p->q, e, dev->ops->request(ctx, e));
		pthread_mutex_lock(&p->lock);
		p->busy--;
		p->free[p->nfree++] = e;
		pthread_cond_broadcast(&p->room);
	}
	pthread_mutex_unlock(&p->lock);
	if (dev->ops->queue_stop)
		dev->ops->queue_stop(ctx);
	return NULL;
}

static void pool_free(struct vfsd_vu_pool *p)
{
	for (unsigned i = 0; i < p->nelems; i++)
		free(p->elems[i]);
	free(p->elems);
	free(p->free);
	free(p->jobs);
	free(p->threads);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->room);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct vfsd_vu_pool *vfsd_vu_pool_start(struct vfsd_vu_queue *q, unsigned n)
{
	struct vfsd_vu_pool *p = calloc(1, sizeof(*p));
	unsigned started = 0;

	if (!p)
		return NULL;
	p->q = q;
	p->nelems = 2 * n;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->room, NULL);
	p->threads = calloc(n, sizeof(*p->threads));
	p->elems = calloc(p->nelems, sizeof(*p->elems));
	p->free = calloc(p->nelems, sizeof(*p->free));
	p->jobs = calloc(p->nelems, sizeof(*p->jobs));
	if (!p->threads || !p->elems || !p->free || !p->jobs)
		goto fail;
	for (unsigned i = 0; i < p->nelems; i++) {
		p->elems[i] = malloc(sizeof(*p->elems[i]));
		if (!p->elems[i])
			goto fail;
		p->free[p->nfree++] = p->elems[i];
	}
	for (; started < n; started++)
		if (pthread_create(&p->threads[started], NULL, worker, p))
			break;
	p->nthreads = started;
	if (started == n)
		return p;
fail:
	log_error("queue %u: cannot start a pool of %u threads; serving it inline", q->index, n);
	vfsd_vu_pool_stop(p);
	return NULL;
}

struct vfsd_vq_elem *vfsd_vu_pool_elem(struct vfsd_vu_pool *p)
{
	struct vfsd_vq_elem *e;

	pthread_mutex_lock(&p->lock);
	while (!p->nfree)
		pthread_cond_wait(&p->room, &p->lock);
	e = p->free[--p->nfree];
	pthread_mutex_unlock(&p->lock);
	return e;
}

void vfsd_vu_pool_unused(struct vfsd_vu_pool *p, struct vfsd_vq_elem *e)
{
	pthread_mutex_lock(&p->lock);
	p->free[p->nfree++] = e;
	pthread_mutex_unlock(&p->lock);
}

void vfsd_vu_pool_submit(struct vfsd_vu_pool *p, struct vfsd_vq_elem *e)
{
	pthread_mutex_lock(&p->lock);
	p->jobs[(p->head + p->njobs) % p->nelems] = e;
	p->njobs++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void vfsd_vu_pool_stop(struct vfsd_vu_pool *p)
{
	if (!p)
		return;
	/* Workers drain the FIFO before they look at quit. */
	pthread_mutex_lock(&p->lock);
	p->quit = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pool_free(p);
}
