/* SPDX-License-Identifier: MIT */
#include "notifyd/profile_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct stored_set {
	struct profile_set *set;
	unsigned refs;
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stored_set *store_current;

/* Sets are looked up by pointer in this small list to find their refcount. */
#define STORE_MAX_LIVE 64
static struct stored_set store_live[STORE_MAX_LIVE];

static struct stored_set *store_slot_of(struct profile_set *set)
{
	for (unsigned i = 0; i < STORE_MAX_LIVE; i++)
		if (store_live[i].set == set)
			return &store_live[i];
	return NULL;
}

static void store_unref_locked(struct stored_set *s)
{
	if (--s->refs == 0) {
		profile_set_free(s->set);
		s->set = NULL;
	}
}

int profile_store_load(const char *dir, char *err, size_t errlen)
{
	struct profile_set *set = NULL;
	struct stored_set *slot;
	int r = profile_set_load_dir(dir, &set, err, errlen);

	if (r < 0)
		return r;
	pthread_mutex_lock(&store_lock);
	slot = store_slot_of(NULL);
	if (!slot) {
		/* Only if 64 reloads happened while old requests were still running. */
		pthread_mutex_unlock(&store_lock);
		profile_set_free(set);
		snprintf(err, errlen,
		         "%s: %d older profile sets are still in use by running requests", dir,
		         STORE_MAX_LIVE);
		return -EBUSY;
	}
	slot->set = set;
	slot->refs = 1; /* the store's own reference */
	if (store_current)
		store_unref_locked(store_current);
	store_current = slot;
	pthread_mutex_unlock(&store_lock);
	return 0;
}

struct profile_set *profile_store_get(void)
{
	struct profile_set *set = NULL;

	pthread_mutex_lock(&store_lock);
	if (store_current) {
		store_current->refs++;
		set = store_current->set;
	}
	pthread_mutex_unlock(&store_lock);
	return set;
}

void profile_store_put(struct profile_set *set)
{
	if (!set)
		return;
	pthread_mutex_lock(&store_lock);
	struct stored_set *s = store_slot_of(set);
	if (s)
		store_unref_locked(s);
	pthread_mutex_unlock(&store_lock);
}

void profile_store_shutdown(void)
{
	pthread_mutex_lock(&store_lock);
	if (store_current)
		store_unref_locked(store_current);
	store_current = NULL;
	pthread_mutex_unlock(&store_lock);
}
