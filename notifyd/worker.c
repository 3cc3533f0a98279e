/* SPDX-License-Identifier: MIT */
#include "notifyd/worker.h"
#include "notifyd/supervise.h"
#include "notifyd/view.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct job {
	struct job *next;
	struct container *c;
	struct seccomp_notif notif;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cond = PTHREAD_COND_INITIALIZER;
static struct job *queue_head, **queue_tail = &queue_head;
static bool queue_stopping;
static pthread_t *threads;
static unsigned n_threads_started;

static void *worker_main(void *arg)
{
	int r = view_thread_init();

	if (r < 0) {
		log_error("worker: unshare(CLONE_FS): %s", strerror(-r));
		abort(); /* a worker sharing root/cwd with the loop must never run */
	}
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&queue_lock);
		while (!queue_head && !queue_stopping)
			pthread_cond_wait(&queue_cond, &queue_lock);
		j = queue_head;
		if (!j) {
			pthread_mutex_unlock(&queue_lock);
			return NULL;
		}
		queue_head = j->next;
		if (!queue_head)
			queue_tail = &queue_head;
		pthread_mutex_unlock(&queue_lock);

		supervise_handle(j->c, &j->notif);
		pthread_mutex_lock(&j->c->lock);
		j->c->pending--;
		pthread_mutex_unlock(&j->c->lock);
		container_unref(j->c);
		free(j);
	}
}

int worker_pool_start(unsigned n)
{
	threads = calloc(n, sizeof(*threads));
	if (!threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&threads[i], NULL, worker_main, NULL);
		if (r != 0) {
			worker_pool_stop();
			return -r;
		}
		n_threads_started++;
	}
	return 0;
}

int worker_submit(struct container *c, const struct seccomp_notif *notif, unsigned max_pending)
{
	struct job *j;

	pthread_mutex_lock(&c->lock);
	if (c->pending >= max_pending) {
		pthread_mutex_unlock(&c->lock);
		return -EAGAIN;
	}
	c->pending++;
	pthread_mutex_unlock(&c->lock);

	j = calloc(1, sizeof(*j));
	if (!j) {
		pthread_mutex_lock(&c->lock);
		c->pending--;
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	container_ref(c);
	j->c = c;
	j->notif = *notif;
	pthread_mutex_lock(&queue_lock);
	*queue_tail = j;
	queue_tail = &j->next;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	return 0;
}

void worker_pool_stop(void)
{
	pthread_mutex_lock(&queue_lock);
	queue_stopping = true;
	pthread_cond_broadcast(&queue_cond);
	pthread_mutex_unlock(&queue_lock);
	for (unsigned i = 0; i < n_threads_started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	n_threads_started = 0;
}
