/* SPDX-License-Identifier: MIT */
/*
 * The profile set in force.  Workers take a reference for the length of one
 * request, so a SIGHUP reload never waits for a slow mount and a request
 * never sees half of two profile sets.
 */
#ifndef MV_PROFILE_STORE_H
#define MV_PROFILE_STORE_H

#include "notifyd/profile.h"

/* Parse DIR and make it the set in force.  On error the old set stays; err says file:line. */
int profile_store_load(const char *dir, char *err, size_t errlen);
/* The set in force, with a reference; never NULL after a successful first load. */
struct profile_set *profile_store_get(void);
void profile_store_put(struct profile_set *set);
void profile_store_shutdown(void);

#endif
