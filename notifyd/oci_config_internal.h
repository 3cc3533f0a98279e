/* SPDX-License-Identifier: MIT */
/*
 * What the parts of notifyctl oci-config share: the command's state, its
 * refusal and change lines, the JSON helpers (oci_config_json.c), the seccomp
 * merge (oci_config_seccomp.c) and the device edits (oci_config_device.c).
 */
#ifndef MV_OCI_CONFIG_INTERNAL_H
#define MV_OCI_CONFIG_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define OCC_DEFAULT_SOCKET "/run/mountvisor/notifyd.sock"
#define OCC_RULES_NAME     "profiles/seccomp/oci-seccomp.json"
#define OCC_MAX_SIZE       (4 * 1024 * 1024) /* config.json; real ones are a few KiB */
#define OCC_MAX_DEPTH      64                /* real ones nest about 6 deep */
#define OCC_MAX_DEVICES    32
#define OCC_MIN_SUBID      65536 /* subordinate ids (subuid(5)) begin at or above this */

struct occ_chown {
	const char *path;
	uid_t uid;
	gid_t gid;
	uid_t old_uid;
	gid_t old_gid;
};

struct occ {
	const char *profile;
	bool profile_given, loop, dry_run, force, no_chown;
	const char *socket, *rules;
	const char *devices[OCC_MAX_DEVICES];
	size_t ndevices;
	struct occ_chown chowns[OCC_MAX_DEVICES];
	size_t nchowns;
	FILE *out; /* change lines, printed only once everything was checked */
	unsigned changes;
	char err[1024];
};

/* Records the reason in c->err and returns -EINVAL: the config is refused. */
int occ_refuse(struct occ *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line per change ("change: ..."), or per thing deliberately kept ("kept: ..."). */
void occ_say(struct occ *c, bool change, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int occ_parse_object(struct occ *c, const char *what, const char *buf, size_t len,
                     json_object **ret);
int occ_member(struct occ *c, json_object *o, const char *where, const char *key, json_type t,
               bool create, json_object **ret);
const char *occ_str_member(json_object *o, const char *key);
int occ_add_str(json_object *o, const char *key, const char *val);
int occ_add_int(json_object *o, const char *key, int64_t val);
int occ_append(json_object *arr, json_object *v);

/* oci_config_seccomp.c */
int occ_load_rules(struct occ *c, json_object **ret);
int occ_edit_seccomp(struct occ *c, json_object *linux_, json_object *rules);

/* oci_config_device.c */
int occ_edit_loop(struct occ *c, json_object *root, json_object *linux_);
int occ_edit_device(struct occ *c, json_object *linux_, const char *path);

#endif
