/* SPDX-License-Identifier: MIT */
/*
 * mount(2) options: the comma-separated data string and the MS_* flags,
 * turned into what the new mount API wants and checked against a profile.
 */
#ifndef MV_MOUNT_OPTIONS_H
#define MV_MOUNT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "notifyd/profile.h"

struct mount_opts {
	char **v; /* "key" or "key=value", NULL-terminated */
	size_t n;
};

/*
 * Split data on commas (libmount's parser; empty items are skipped, as the
 * kernel does).  Items are kept as written ("key" or "key=value"); an item
 * libmount would group by double quotes is kept whole, for
 * mount_opts_check() to refuse.  0 or -ENOMEM.
 */
int mount_opts_split(const char *data, struct mount_opts *ret);
/* The options joined with commas, in order, into a new string *ret ("" for none). */
int mount_opts_join(const struct mount_opts *o, char **ret);
void mount_opts_free(struct mount_opts *o);
/*
 * Force opt ("key" or "key=value"): every option already there for the same
 * setting is dropped, whatever its spelling ("rw" for "ro", "nouser_xattr"
 * for "user_xattr", "errors=panic" for "errors=remount-ro", every copy of a
 * repeated key), and opt is appended last, where the kernel's "last value
 * wins" makes it the one that counts.
 */
int mount_opts_add(struct mount_opts *o, const char *opt);
/* Do options a and b set the same thing ("dax" and "dax=never", "acl" and "noacl")? */
bool mount_opts_same_setting(const char *a, const char *b);
/*
 * Every option allowed by fs (and free of backslashes and double quotes,
 * with a key, and none that names another device: journal_path,
 * journal_dev, logdev, rtdev, device)?  0, or -EINVAL with *bad pointing at
 * the first refused one.
 */
int mount_opts_check(const struct mount_opts *o, const struct profile_fs *fs, const char **bad);

/* What mount(2) flags mean in new-API terms. */
struct mount_flags {
	uint64_t attr;      /* MOUNT_ATTR_* for fsmount() */
	unsigned sb_ro : 1; /* superblock read-only ("ro" to fsconfig) */
	unsigned sync : 1;  /* "sync" */
	unsigned dirsync : 1;
	unsigned lazytime : 1;
};
/* Translate; -EINVAL for flags a new-superblock mount cannot have (MS_BIND, MS_MANDLOCK, ...). */
int mount_flags_translate(unsigned long flags, struct mount_flags *ret);
/* "ro,nosuid,..." for logs. */
void mount_flags_format(unsigned long flags, char *buf, size_t size);

#endif
