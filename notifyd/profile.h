/* SPDX-License-Identifier: MIT */
/*
 * Profiles: the admin's per-filesystem mount policy, one INI file per profile
 * (DIR/NAME.conf).  A loaded profile set is immutable; SIGHUP builds a new set
 * and swaps it in only if every file parsed.
 */
#ifndef MV_PROFILE_H
#define MV_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

enum profile_action {
	PROFILE_ACTION_DENY,
	PROFILE_ACTION_CONTINUE,
	PROFILE_ACTION_KERNEL,
	PROFILE_ACTION_FUSE,     /* fuse_action.c: a FUSE program serves the mount */
	PROFILE_ACTION_VIRTIOFS, /* virtiofs_action.c: vfsd serves the source to a VM */
	_PROFILE_ACTION_MAX,
};

struct profile_fs {
	char *type;                 /* "[fs ext4]" -> "ext4" */
	enum profile_action action; /* action = */
	int deny_errno;             /* errno = EPERM|EACCES|ENODEV|... (positive), default EPERM */
	char **options;         /* options = a,b=c   always added; NULL-terminated, never NULL */
	char **allowed_options; /* allowed-options = ro,noatime,errors  (keys); NULL-terminated */
	bool idmap;  /* idmap = yes|no (kernel), container|squash:UID:GID (virtiofs, default
	                container) */
	bool squash; /* idmap = squash:UID:GID given */
	unsigned squash_uid, squash_gid; /* ids inside the container's user namespace */
	bool devices;  /* devices = yes|no (virtiofs: guest may make device nodes), default no */
	char *program; /* program = (fuse action), NULL if unset */
	/* fuse action (fuse_action.c, docs/fuse.md): */
	char *
	    *arguments; /* arguments = words with {source} {mountpoint} {options}; NULL = default */
	char **fuse_options; /* fuse-options = kernel-side FUSE mount options; never NULL */
	int handover;     /* handover = auto|fd|fusermount (enum fuse_handover in fuse_action.h) */
	bool source_none; /* source = none: nothing to open (overlay); default image */
	unsigned startup_timeout_ms; /* startup-timeout = seconds, default 10 */
	unsigned line;               /* line of the section header, for messages */
};

struct profile {
	char *name; /* file name without .conf */
	char *path;
	char *description;                  /* [profile] description =, NULL if unset */
	enum profile_action default_action; /* [profile] default-action =, default deny */
	int default_errno;                  /* [profile] default-errno =, default EPERM */
	unsigned max_mounts;                /* [profile] max-mounts = per container, default 64 */
	unsigned max_fuse_daemons;  /* [profile] max-fuse-daemons = per container, default 8 */
	unsigned max_fuse_starting; /* [profile] max-fuse-starting = per container, default 1 */
	unsigned max_loop_devices;  /* [profile] max-loop-devices = per container, default 8 */
	unsigned max_shares; /* [profile] max-shares = vfsd shares per container, default 4 */
	/* [profile] max-fs-contexts = new-mount-API handles per container, default 16 */
	unsigned max_fs_contexts;
	struct profile_fs *fs;
	size_t n_fs;
};

struct profile_set {
	struct profile **v;
	size_t n;
};

/* The types of profile keys; profile.c has one parser per type. */
enum profile_key_type {
	PROFILE_KEY_UINT,    /* decimal digits only, .min...max, stored times .scale */
	PROFILE_KEY_BOOL,    /* yes|no|true|false|1|0 */
	PROFILE_KEY_ENUM,    /* one of .names, stored as its index */
	PROFILE_KEY_ACTION,  /* kernel|fuse|virtiofs|continue|deny; .min = 1: not fuse, virtiofs */
	PROFILE_KEY_IDMAP,   /* yes|no, or container|squash:UID:GID */
	PROFILE_KEY_ERRNO,   /* an errno name (EPERM, ENODEV, ...) */
	PROFILE_KEY_LIST,    /* a, b=c: comma-separated; given again, adds */
	PROFILE_KEY_WORDS,   /* blank-separated words with {placeholders}; given again, adds */
	PROFILE_KEY_PROGRAM, /* absolute path of an executable file, or container:/PATH */
	PROFILE_KEY_TEXT,    /* free text */
	_PROFILE_KEY_TYPE_MAX,
};

/* One row of the key table: every key a profile may hold. */
struct profile_key {
	const char *name;
	bool fs;          /* belongs in [fs TYPE] (else in [profile]) */
	size_t off, size; /* where it is stored in struct profile_fs or struct profile */
	enum profile_key_type type;
	unsigned min, max;        /* PROFILE_KEY_UINT bounds (and PROFILE_KEY_ACTION's flag) */
	unsigned scale;           /* PROFILE_KEY_UINT: stored value = given * scale (0: 1) */
	const char *unit;         /* PROFILE_KEY_UINT: for messages */
	const char *const *names; /* PROFILE_KEY_ENUM: NULL-terminated */
	const char *doc;          /* one line */
};

/* The key table (for documentation and tests). */
const struct profile_key *profile_keys(size_t *n);

/*
 * Parse one profile file.  On error returns -errno and writes
 * "FILE:LINE: what is wrong" into err.
 */
int profile_load_file(const char *path, const char *name, struct profile **ret, char *err,
                      size_t errlen);
/* Load every DIR/ *.conf; fails as a whole (first error in err) if any file fails. */
int profile_set_load_dir(const char *dir, struct profile_set **ret, char *err, size_t errlen);
const struct profile *profile_set_find(const struct profile_set *set, const char *name);
/* The [fs TYPE] section for type, or NULL (then default-action applies). */
const struct profile_fs *profile_find_fs(const struct profile *p, const char *type);
/* Is a mount option ("key" or "key=value") allowed by the section's allowed-options? */
bool profile_option_allowed(const struct profile_fs *fs, const char *opt);
const char *profile_action_name(enum profile_action a);
void profile_free(struct profile *p);
void profile_set_free(struct profile_set *set);

#endif
