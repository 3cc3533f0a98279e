/* SPDX-License-Identifier: MIT */
/*
 * What notifyd knows that the kernel does not keep for it -- which
 * container entry a notify fd is, the mounts, daemons and loop devices
 * notifyd made for it -- as JSON files in one directory
 * (/run/mountvisor/state, --state-dir), so a successor can take over
 * (docs/restart.md).  Each file is replaced whole (a temporary file
 * renamed over it), so a reader sees the old or the new content, never a
 * mix.  Names are the file names without ".json"; "c.KEY" is container
 * entry KEY's (container_save()).
 */
#ifndef MV_STATE_H
#define MV_STATE_H

#include <stdbool.h>

struct json_object;

/*
 * Use dir (created 0700 if missing).  keep: files of a previous notifyd are
 * for us (a restart); otherwise they are stale and removed.  0 or -errno.
 */
int state_init(const char *dir, bool keep);
/* Replace name's file with obj.  0 or -errno; a no-op before state_init(). */
int state_write(const char *name, struct json_object *obj);
/* name's content (a new reference) in *ret, or -errno (-ENOENT: none). */
int state_read(const char *name, struct json_object **ret);
void state_remove(const char *name);
/*
 * Calls fn(name, obj) for each file whose name starts with prefix (obj is
 * borrowed for the call; unreadable files are logged and removed).
 */
void state_foreach(const char *prefix,
                   void (*fn)(const char *name, struct json_object *obj, void *userdata),
                   void *userdata);

/* Small helpers for the modules' save()/restore(): 0 on success, -EINVAL if missing/wrong type. */
int state_get_u64(struct json_object *obj, const char *key, unsigned long long *ret);
int state_get_str(struct json_object *obj, const char *key, const char **ret);
int state_set_u64(struct json_object *obj, const char *key, unsigned long long v);
int state_set_str(struct json_object *obj, const char *key, const char *v);

#endif
