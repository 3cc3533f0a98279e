/* SPDX-License-Identifier: MIT */
#include "notifyd/mount_options.h"
#include "common/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif

void mount_opts_free(struct mount_opts *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->v[i]);
	free(o->v);
	o->v = NULL;
	o->n = 0;
}

static size_t key_len(const char *opt)
{
	return strcspn(opt, "=");
}

int mount_opts_add(struct mount_opts *o, const char *opt)
{
	size_t k = key_len(opt);
	char *copy = strdup(opt), **v;

	if (!copy)
		return -ENOMEM;
	/* The profile's forced options win over whatever the caller gave for the same key. */
	for (size_t i = 0; i < o->n; i++)
		if (key_len(o->v[i]) == k && strncmp(o->v[i], opt, k) == 0) {
			free(o->v[i]);
			o->v[i] = copy;
			return 0;
		}
	v = realloc(o->v, (o->n + 2) * sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	o->v = v;
	v[o->n] = copy;
	v[++o->n] = NULL;
	return 0;
}

int mount_opts_split(const char *data, struct mount_opts *ret)
{
	_cleanup_free_ char *copy = strdup(data ? data : "");
	char *save = NULL;

	ret->v = NULL;
	ret->n = 0;
	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char **v = realloc(ret->v, (ret->n + 2) * sizeof(*v));
		if (!v)
			goto oom;
		ret->v = v;
		v[ret->n] = strdup(tok);
		if (!v[ret->n])
			goto oom;
		v[++ret->n] = NULL;
	}
	return 0;
oom:
	mount_opts_free(ret);
	return -ENOMEM;
}

int mount_opts_check(const struct mount_opts *o, const struct profile_fs *fs, const char **bad)
{
	for (size_t i = 0; i < o->n; i++)
		if (!profile_option_allowed(fs, o->v[i])) {
			*bad = o->v[i];
			return -EINVAL;
		}
	return 0;
}

int mount_flags_translate(unsigned long flags, struct mount_flags *ret)
{
	const unsigned long known = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_SYNCHRONOUS |
	                            MS_DIRSYNC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME |
	                            MS_STRICTATIME | MS_LAZYTIME | MS_SILENT | MS_NOSYMFOLLOW;

	memset(ret, 0, sizeof(*ret));
	/* The kernel strips the pre-2.4 magic number the same way. */
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~MS_MGC_MSK;
	if (flags & ~known)
		return -EINVAL;
	/* Forced whatever the caller asked: files on it never gain privilege or reach devices. */
	ret->attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (flags & MS_RDONLY) {
		ret->attr |= MOUNT_ATTR_RDONLY;
		ret->sb_ro = 1;
	}
	if (flags & MS_NOEXEC)
		ret->attr |= MOUNT_ATTR_NOEXEC;
	if (flags & MS_NOSYMFOLLOW)
		ret->attr |= MOUNT_ATTR_NOSYMFOLLOW;
	if (flags & MS_NODIRATIME)
		ret->attr |= MOUNT_ATTR_NODIRATIME;
	if (flags & MS_NOATIME)
		ret->attr |= MOUNT_ATTR_NOATIME;
	else if (flags & MS_STRICTATIME)
		ret->attr |= MOUNT_ATTR_STRICTATIME;
	else
		ret->attr |= MOUNT_ATTR_RELATIME; /* what mount(2) defaults to */
	ret->sync = !!(flags & MS_SYNCHRONOUS);
	ret->dirsync = !!(flags & MS_DIRSYNC);
	ret->lazytime = !!(flags & MS_LAZYTIME);
	/* MS_SILENT only quiets the kernel log; the new mount API has no such knob. */
	return 0;
}

void mount_flags_format(unsigned long flags, char *buf, size_t size)
{
	static const struct {
		unsigned long flag;
		const char *name;
	} names[] = {
	    {MS_RDONLY, "ro"},
	    {MS_NOSUID, "nosuid"},
	    {MS_NODEV, "nodev"},
	    {MS_NOEXEC, "noexec"},
	    {MS_SYNCHRONOUS, "sync"},
	    {MS_REMOUNT, "remount"},
	    {MS_MANDLOCK, "mand"},
	    {MS_DIRSYNC, "dirsync"},
	    {MS_NOSYMFOLLOW, "nosymfollow"},
	    {MS_NOATIME, "noatime"},
	    {MS_NODIRATIME, "nodiratime"},
	    {MS_BIND, "bind"},
	    {MS_MOVE, "move"},
	    {MS_REC, "rec"},
	    {MS_SILENT, "silent"},
	    {MS_UNBINDABLE, "unbindable"},
	    {MS_PRIVATE, "private"},
	    {MS_SLAVE, "slave"},
	    {MS_SHARED, "shared"},
	    {MS_RELATIME, "relatime"},
	    {MS_STRICTATIME, "strictatime"},
	    {MS_LAZYTIME, "lazytime"},
	};
	size_t len = 0;

	buf[0] = '\0';
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~MS_MGC_MSK;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (flags & names[i].flag) {
			flags &= ~names[i].flag;
			len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s",
			                        len ? "," : "", names[i].name);
		}
	if (flags)
		snprintf(buf + len, len < size ? size - len : 0, "%s0x%lx", len ? "," : "", flags);
	else if (len == 0)
		snprintf(buf, size, "none");
}
