/* SPDX-License-Identifier: MIT */
/*
 * The plan of a `fuse` action: what to run and how — the program's argv and
 * environment, and the caller's ids as its user namespace sees them.  Pure
 * functions of the rule and the request; fuse_action.c gathers the fds.
 */
#include "notifyd/fuse_plan.h"
#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* host id -> id inside a user namespace, from /proc/PID/{uid,gid}_map text. */
int fuse_plan_map_to_ns(const char *map, unsigned long host, unsigned *ret)
{
	for (const char *p = map; p && *p;) {
		unsigned long inside, outside, count;
		if (sscanf(p, "%lu %lu %lu", &inside, &outside, &count) == 3 && host >= outside &&
		    host - outside < count) {
			*ret = (unsigned)(inside + (host - outside));
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ERANGE;
}

/* Which hand-over does this program need?  libfuse2 programs: the stand-in. */
bool fuse_plan_links_libfuse2(int prog)
{
	char path[64], buf[65536];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;
	off_t off = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", prog);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	/* DT_NEEDED names sit in .dynstr, near the start of the file. */
	while (off < (off_t)(4 * sizeof(buf)) && (n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (memmem(buf, (size_t)n, "libfuse.so.2", 12))
			return true;
		if (memmem(buf, (size_t)n, "libfuse3.so", 11))
			return false;
		off += n > 16 ? n - 16 : n;
	}
	return false;
}

/* Where the fusermount stand-in lives: $MOUNTVISOR_FUSE_SHIM_DIR, else next to notifyd. */
/* Append s to the plan's argument buffer; returns the copy or NULL when full. */
static char *plan_str(struct fuse_plan *pl, size_t *used, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p;

	if (*used + len > sizeof(pl->argbuf))
		return NULL;
	p = pl->argbuf + *used;
	memcpy(p, s, len);
	*used += len;
	return p;
}

static const char *const default_args_image[] = {"-f", "{options}", "{source}", "{mountpoint}",
                                                 NULL};
static const char *const default_args_none[] = {"-f", "{options}", "{mountpoint}", NULL};

/* argv from the rule's arguments with {source} {mountpoint} {options} filled in. */
int fuse_plan_argv(struct fuse_plan *pl, const struct profile_fs *fs, const char *prog_name,
                   const struct mount_opts *opts, bool has_image, const char *mountpoint)
{
	const char *const *words = fs->arguments
	                               ? (const char *const *)fs->arguments
	                               : (fs->source_none ? default_args_none : default_args_image);
	char optstr[4096];
	size_t used = 0, len = 0;
	int n = 0;

	optstr[0] = '\0';
	for (size_t i = 0; i < opts->n; i++)
		len +=
		    (size_t)snprintf(optstr + len, len < sizeof(optstr) ? sizeof(optstr) - len : 0,
		                     "%s%s", i ? "," : "", opts->v[i]);
	if (len >= sizeof(optstr))
		return -E2BIG;
	pl->argv[n++] = plan_str(pl, &used, prog_name);
	for (size_t i = 0; words[i]; i++) {
		if (n + 3 >= (int)ARRAY_SIZE(pl->argv))
			return -E2BIG;
		if (!strcmp(words[i], "{options}")) {
			if (!optstr[0])
				continue;
			pl->argv[n++] = plan_str(pl, &used, "-o");
			pl->argv[n++] = plan_str(pl, &used, optstr);
		} else if (!strcmp(words[i], "{source}")) {
			if (!has_image)
				return -EINVAL;
			pl->argv[n++] = plan_str(pl, &used, "/proc/self/fd/3");
		} else if (!strcmp(words[i], "{mountpoint}")) {
			pl->argv[n++] = plan_str(pl, &used, mountpoint);
		} else {
			pl->argv[n++] = plan_str(pl, &used, words[i]);
		}
		if (!pl->argv[n - 1])
			return -E2BIG;
	}
	/*
	 * libfuse2, whatever the rule's arguments: auto_unmount, because only
	 * then does it always run fusermount (our stand-in) rather than open
	 * /dev/fuse and mount a connection of its own (the container usually
	 * has no /dev/fuse; one that has would get a mount nobody sees);
	 * nonempty, because it refuses a mountpoint with files in it, and in
	 * its view the mountpoint is the placeholder holding the stand-in (the
	 * caller's directory may hold files too: the kernel allows that, so do
	 * we).  libfuse2 takes -o anywhere on the line; a repeated option is
	 * harmless, so a rule that gives them itself still works.
	 */
	if (pl->fusermount) {
		pl->argv[n++] = plan_str(pl, &used, "-o");
		pl->argv[n++] = plan_str(pl, &used, "auto_unmount,nonempty");
		if (!pl->argv[n - 1])
			return -E2BIG;
	}
	pl->argv[n] = NULL;
	return pl->argv[0] ? 0 : -E2BIG;
}

void fuse_plan_fsopt(struct fuse_fsopt *o, const char *opt)
{
	const char *eq;

	snprintf(o->text, sizeof(o->text), "%s", opt);
	eq = strchr(o->text, '=');
	o->flag = !eq;
	snprintf(o->key, sizeof(o->key), "%.*s", eq ? (int)(eq - o->text) : (int)sizeof(o->key),
	         o->text);
	snprintf(o->value, sizeof(o->value), "%s", eq ? eq + 1 : "");
}

/*
 * The program's environment.  A libfuse2 program finds the fusermount
 * stand-in through PATH: the daemon mounts it over the placeholder
 * mountpoint in its private view (fuse_confine_shim()), named first here.
 */
void fuse_plan_env(struct fuse_plan *pl)
{
	static const char std_path[] =
	    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	size_t used = 0;
	int n = 0;
	char path[sizeof(pl->mountpoint) + sizeof(std_path) + 8];
	const char *env[] = {path, "MOUNTVISOR_FUSE_FD=4", "HOME=/", NULL};

	if (pl->fusermount && !strchr(pl->mountpoint, ':'))
		snprintf(path, sizeof(path), "PATH=%s:%s", pl->mountpoint, std_path);
	else
		snprintf(path, sizeof(path), "PATH=%s", std_path);
	for (int i = 0; env[i]; i++) {
		size_t len = strlen(env[i]) + 1;
		if (used + len > sizeof(pl->envbuf))
			break;
		memcpy(pl->envbuf + used, env[i], len);
		pl->envp[n++] = pl->envbuf + used;
		used += len;
	}
	pl->envp[n] = NULL;
}
