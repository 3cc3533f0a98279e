/* SPDX-License-Identifier: MIT */
/*
 * Profile files, parsed with libinih.  The handler returns 0 on any semantic
 * error so ini_parse() reports the line; the message itself is kept in the
 * parse state and joined to "FILE:LINE: " at the end.
 */
#include "notifyd/profile.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const action_names[_PROFILE_ACTION_MAX] = {
    [PROFILE_ACTION_DENY] = "deny",         [PROFILE_ACTION_CONTINUE] = "continue",
    [PROFILE_ACTION_KERNEL] = "kernel",     [PROFILE_ACTION_FUSE] = "fuse",
    [PROFILE_ACTION_VIRTIOFS] = "virtiofs",
};

/* errno names an admin may write; the ones that make sense for a refused mount. */
static const struct {
	const char *name;
	int value;
} errno_names[] = {
    {"EPERM", EPERM},   {"EACCES", EACCES}, {"ENODEV", ENODEV},         {"EINVAL", EINVAL},
    {"ENOSYS", ENOSYS}, {"EROFS", EROFS},   {"EOPNOTSUPP", EOPNOTSUPP}, {"ENOTSUP", ENOTSUP},
    {"EBUSY", EBUSY},   {"ENOSPC", ENOSPC}, {"ENXIO", ENXIO},           {"ENOTBLK", ENOTBLK},
};

struct parse_state {
	struct profile *p;
	struct profile_fs *cur; /* NULL while in [profile] */
	bool in_profile;
	bool cur_has_action;
	unsigned lists_seen; /* list keys already given in the current section */
	char msg[256];
};

const char *profile_action_name(enum profile_action a)
{
	return (unsigned)a < _PROFILE_ACTION_MAX ? action_names[a] : "?";
}

static int fail(struct parse_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parse_state *s, const char *fmt, ...)
{
	va_list ap;

	/* ini_parse() reports the line of the first error but goes on parsing: keep its message. */
	if (s->msg[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	return 0; /* makes ini_parse() return this line */
}

static int parse_action(struct parse_state *s, const char *v, enum profile_action *ret)
{
	for (int i = 0; i < _PROFILE_ACTION_MAX; i++)
		if (strcmp(v, action_names[i]) == 0) {
			if (i == PROFILE_ACTION_VIRTIOFS)
				return fail(s,
				            "action '%s' is not supported yet by this notifyd "
				            "(use kernel, fuse, continue or deny)",
				            v);
			*ret = (enum profile_action)i;
			return 1;
		}
	return fail(s, "unknown action '%s' (kernel, fuse, continue, deny)", v);
}

static int parse_errno(struct parse_state *s, const char *v, int *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (strcmp(v, errno_names[i].name) == 0) {
			*ret = errno_names[i].value;
			return 1;
		}
	return fail(s, "unknown errno name '%s'", v);
}

static int parse_bool(struct parse_state *s, const char *v, bool *ret)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1")) {
		*ret = true;
		return 1;
	}
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0")) {
		*ret = false;
		return 1;
	}
	return fail(s, "'%s' is not yes or no", v);
}

static void free_list(char **l)
{
	for (char **p = l; p && *p; p++)
		free(*p);
	free(l);
}

/* "a, b=c" into the NULL-terminated *ret (never NULL); empty items are an error. */
static int parse_list(struct parse_state *s, const char *v, char ***ret, unsigned key_bit)
{
	_cleanup_free_ char *copy = strdup(v);
	char **list = NULL;
	size_t n = 0;
	char *p, *item;

	if (!copy)
		return fail(s, "out of memory");
	list = calloc(1, sizeof(*list));
	if (!list)
		return fail(s, "out of memory");
	for (p = copy; p;) {
		item = strsep(&p, ",");
		while (*item == ' ' || *item == '\t')
			item++;
		char *end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*item && !p && n > 0)
			break; /* "a, b," before a continuation line */
		if (!*item) {
			free_list(list);
			return fail(s, "empty item in list '%s'", v);
		}
		char **nl = realloc(list, (n + 2) * sizeof(*nl));
		if (!nl || !(nl[n] = strdup(item))) {
			free_list(nl ? nl : list);
			return fail(s, "out of memory");
		}
		list = nl;
		list[++n] = NULL;
	}
	/*
	 * The first assignment in a section replaces the default; a repeated key,
	 * or an indented continuation line (libinih hands it to us as the same key
	 * again), adds to it, so long lists can span lines.
	 */
	size_t old = 0;
	if (!(s->lists_seen & key_bit)) {
		s->lists_seen |= key_bit;
		for (size_t i = 0; (*ret)[i]; i++)
			free((*ret)[i]);
		(*ret)[0] = NULL;
	}
	while ((*ret)[old])
		old++;
	char **merged = realloc(*ret, (old + n + 1) * sizeof(*merged));
	if (!merged) {
		free_list(list);
		return fail(s, "out of memory");
	}
	memcpy(merged + old, list, (n + 1) * sizeof(*merged));
	free(list); /* the strings now belong to merged */
	*ret = merged;
	return 1;
}

/* "-f {options} {source}" -> {"-f", "{options}", "{source}", NULL}: split on blanks. */
static int parse_words(struct parse_state *s, const char *v, char ***ret)
{
	_cleanup_free_ char *copy = strdup(v);
	char **list = NULL, *save = NULL;
	size_t n = 0;

	if (!copy)
		return fail(s, "out of memory");
	list = calloc(1, sizeof(*list));
	if (!list)
		return fail(s, "out of memory");
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char **nl = realloc(list, (n + 2) * sizeof(*nl));
		if (!nl || !(nl[n] = strdup(w))) {
			free_list(nl ? nl : list);
			return fail(s, "out of memory");
		}
		list = nl;
		list[++n] = NULL;
	}
	if (n > 32) {
		free_list(list);
		return fail(s, "more than 32 arguments");
	}
	free_list(*ret);
	*ret = list;
	return 1;
}

static bool valid_type(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 63)
		return false;
	return strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int begin_fs(struct parse_state *s, const char *type)
{
	struct profile *p = s->p;
	struct profile_fs *v;

	if (!valid_type(type))
		return fail(s, "bad filesystem type '%s' in section header", type);
	for (size_t i = 0; i < p->n_fs; i++)
		if (strcmp(p->fs[i].type, type) == 0)
			return fail(s, "[fs %s] appears twice", type);
	v = realloc(p->fs, (p->n_fs + 1) * sizeof(*v));
	if (!v)
		return fail(s, "out of memory");
	p->fs = v;
	s->cur = &p->fs[p->n_fs++];
	memset(s->cur, 0, sizeof(*s->cur));
	s->cur->type = strdup(type);
	s->cur->options = calloc(1, sizeof(char *));
	s->cur->allowed_options = calloc(1, sizeof(char *));
	s->cur->deny_errno = EPERM;
	s->cur->startup_timeout_ms = 10000;
	s->cur->fuse_options = calloc(3, sizeof(char *));
	if (s->cur->fuse_options) {
		s->cur->fuse_options[0] = strdup("allow_other");
		s->cur->fuse_options[1] = strdup("default_permissions");
	}
	s->cur_has_action = false;
	s->lists_seen = 0;
	if (!s->cur->type || !s->cur->options || !s->cur->allowed_options ||
	    !s->cur->fuse_options || !s->cur->fuse_options[0] || !s->cur->fuse_options[1])
		return fail(s, "out of memory");
	return 1;
}

/* A section ended: check what must be there. */
static int end_section(struct parse_state *s)
{
	if (s->cur && !s->cur_has_action)
		return fail(s, "[fs %s] has no action", s->cur->type);
	if (s->cur && s->cur->action == PROFILE_ACTION_FUSE && !s->cur->program)
		return fail(s, "[fs %s] has action = fuse but no program", s->cur->type);
	return 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *s = user;
	struct profile *p = s->p;

	/* Debian's libinih does not call us on a bare section header, so a section
	 * starts when its first key arrives under a new name. */
	bool is_profile = strcmp(section, "profile") == 0;
	bool is_fs = strncmp(section, "fs ", 3) == 0;
	const char *type = is_fs ? section + 3 : NULL;

	if (is_profile) {
		if (!end_section(s))
			return 0;
		s->cur = NULL;
		s->in_profile = true;
		if (!strcmp(name, "default-action")) {
			if (!parse_action(s, value, &p->default_action))
				return 0;
			if (p->default_action == PROFILE_ACTION_FUSE)
				return fail(s, "default-action cannot be fuse: a fuse rule needs a "
				               "program, give the type its own [fs TYPE] section");
			return 1;
		}
		if (!strcmp(name, "default-errno"))
			return parse_errno(s, value, &p->default_errno);
		if (!strcmp(name, "description"))
			return 1;
		if (!strcmp(name, "max-mounts")) {
			char *end;
			unsigned long v = strtoul(value, &end, 10);
			if (*end || v < 1 || v > 100000)
				return fail(s, "max-mounts must be 1..100000, not '%s'", value);
			p->max_mounts = (unsigned)v;
			return 1;
		}
		if (!strcmp(name, "max-fuse-daemons")) {
			char *end;
			unsigned long v = strtoul(value, &end, 10);
			if (*end || v > 10000)
				return fail(s, "max-fuse-daemons must be 0..10000, not '%s'",
				            value);
			p->max_fuse_daemons = (unsigned)v;
			return 1;
		}
		if (!strcmp(name, "max-fuse-starting")) {
			char *end;
			unsigned long v = strtoul(value, &end, 10);
			if (!*value || *end || v < 1 || v > 16)
				return fail(s, "max-fuse-starting must be 1..16, not '%s'", value);
			p->max_fuse_starting = (unsigned)v;
			return 1;
		}
		if (!strcmp(name, "max-loop-devices")) {
			char *end;
			unsigned long v = strtoul(value, &end, 10);
			if (!*value || *end || v > 256)
				return fail(s, "max-loop-devices must be 0..256, not '%s'", value);
			p->max_loop_devices = (unsigned)v;
			return 1;
		}
		return fail(s, "unknown key '%s' in [profile]", name);
	}
	if (!is_fs)
		return fail(s, "unknown section [%s] (expected [profile] or [fs TYPE])", section);
	if (!s->cur || strcmp(s->cur->type, type) != 0) {
		if (!end_section(s) || !begin_fs(s, type))
			return 0;
	}
	if (!strcmp(name, "action")) {
		s->cur_has_action = true;
		return parse_action(s, value, &s->cur->action);
	}
	if (!strcmp(name, "errno"))
		return parse_errno(s, value, &s->cur->deny_errno);
	if (!strcmp(name, "options"))
		return parse_list(s, value, &s->cur->options, 1u << 0);
	if (!strcmp(name, "allowed-options"))
		return parse_list(s, value, &s->cur->allowed_options, 1u << 1);
	if (!strcmp(name, "idmap"))
		return parse_bool(s, value, &s->cur->idmap);
	if (!strcmp(name, "program")) {
		free(s->cur->program);
		s->cur->program = strdup(value);
		return s->cur->program ? 1 : fail(s, "out of memory");
	}
	if (!strcmp(name, "arguments"))
		return parse_words(s, value, &s->cur->arguments);
	if (!strcmp(name, "fuse-options"))
		return parse_list(s, value, &s->cur->fuse_options, 1u << 2);
	if (!strcmp(name, "handover")) {
		static const char *const names[] = {"auto", "fd", "fusermount"};
		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(value, names[i])) {
				s->cur->handover = (int)i;
				return 1;
			}
		return fail(s, "handover must be auto, fd or fusermount, not '%s'", value);
	}
	if (!strcmp(name, "source")) {
		if (strcmp(value, "image") && strcmp(value, "none"))
			return fail(s, "source must be image or none, not '%s'", value);
		s->cur->source_none = !strcmp(value, "none");
		return 1;
	}
	if (!strcmp(name, "startup-timeout")) {
		char *end;
		unsigned long v = strtoul(value, &end, 10);
		if (*end || v < 1 || v > 600)
			return fail(s, "startup-timeout must be 1..600 seconds, not '%s'", value);
		s->cur->startup_timeout_ms = (unsigned)v * 1000;
		return 1;
	}
	return fail(s, "unknown key '%s' in [fs %s]", name, s->cur->type);
}

/* Line of the "[fs TYPE]" header, for messages about a whole section. */
static unsigned header_line(const char *path, const char *type)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char buf[1024], want[96];
	unsigned line = 0;

	snprintf(want, sizeof(want), "[fs %s]", type);
	while (f && fgets(buf, sizeof(buf), f)) {
		line++;
		char *b = buf + strspn(buf, " \t");
		if (strncmp(b, want, strlen(want)) == 0)
			return line;
	}
	return 0;
}

int profile_load_file(const char *path, const char *name, struct profile **ret, char *err,
                      size_t errlen)
{
	struct parse_state s = {0};
	struct profile *p = calloc(1, sizeof(*p));
	int line;

	if (!p)
		return -ENOMEM;
	p->name = strdup(name);
	p->path = strdup(path);
	p->default_action = PROFILE_ACTION_DENY;
	p->default_errno = EPERM;
	p->max_mounts = 64;
	p->max_fuse_daemons = 8;
	p->max_fuse_starting = 1;
	p->max_loop_devices = 8;
	s.p = p;
	if (!p->name || !p->path) {
		profile_free(p);
		return -ENOMEM;
	}
	line = ini_parse(path, handler, &s);
	/* header lines for messages about sections */
	for (size_t i = 0; i < p->n_fs; i++)
		p->fs[i].line = header_line(path, p->fs[i].type);
	if (line == 0 && s.cur && !s.cur_has_action) {
		snprintf(err, errlen, "%s:%u: [fs %s] has no action", path,
		         header_line(path, s.cur->type), s.cur->type);
		profile_free(p);
		return -EINVAL;
	}
	if (line == 0 && s.cur && s.cur->action == PROFILE_ACTION_FUSE && !s.cur->program) {
		snprintf(err, errlen, "%s:%u: [fs %s] has action = fuse but no program", path,
		         header_line(path, s.cur->type), s.cur->type);
		profile_free(p);
		return -EINVAL;
	}
	if (line != 0) {
		if (line < 0)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		else if (s.msg[0] &&
		         (strstr(s.msg, "has no action") || strstr(s.msg, "but no program")) &&
		         s.cur)
			snprintf(err, errlen, "%s:%u: %s", path, header_line(path, s.cur->type),
			         s.msg);
		else
			snprintf(err, errlen, "%s:%d: %s", path, line,
			         s.msg[0] ? s.msg
			                  : "syntax error (expected [section] or key = value)");
		profile_free(p);
		return -EINVAL;
	}
	*ret = p;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int profile_set_load_dir(const char *dir, struct profile_set **ret, char *err, size_t errlen)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct profile_set *set;
	char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int r = 0;

	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	set = calloc(1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcmp(de->d_name + len - 5, ".conf") != 0 || de->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn || !(nn[n] = strndup(de->d_name, len - 5))) {
			names = nn ? nn : names;
			r = -ENOMEM;
			break;
		}
		names = nn;
		n++;
	}
	if (r == 0 && n)
		qsort(names, n, sizeof(*names), cmp_str);
	if (r == 0 && n) {
		set->v = calloc(n, sizeof(*set->v));
		if (!set->v)
			r = -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < n; i++) {
		char path[4096];
		if (strspn(names[i],
		           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    strlen(names[i])) {
			snprintf(err, errlen, "%s/%s.conf: profile names are [A-Za-z0-9._-]", dir,
			         names[i]);
			r = -EINVAL;
			break;
		}
		snprintf(path, sizeof(path), "%s/%s.conf", dir, names[i]);
		r = profile_load_file(path, names[i], &set->v[set->n], err, errlen);
		if (r == 0)
			set->n++;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0) {
		if (r == -ENOMEM)
			snprintf(err, errlen, "%s: out of memory", dir);
		profile_set_free(set);
		return r;
	}
	*ret = set;
	return 0;
}

const struct profile *profile_set_find(const struct profile_set *set, const char *name)
{
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->v[i]->name, name) == 0)
			return set->v[i];
	return NULL;
}

const struct profile_fs *profile_find_fs(const struct profile *p, const char *type)
{
	for (size_t i = 0; i < p->n_fs; i++)
		if (strcmp(p->fs[i].type, type) == 0)
			return &p->fs[i];
	return NULL;
}

static bool option_in(char **list, const char *opt)
{
	size_t klen = strcspn(opt, "=");

	for (char **e = list; e && *e; e++) {
		if (strchr(*e, '=')) {
			if (strcmp(*e, opt) == 0) /* exact key=value entry */
				return true;
		} else if (strlen(*e) == klen && strncmp(*e, opt, klen) == 0) {
			return true;
		}
	}
	return false;
}

bool profile_option_allowed(const struct profile_fs *fs, const char *opt)
{
	return option_in(fs->allowed_options, opt) || option_in(fs->options, opt);
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_fs; i++) {
		free(p->fs[i].type);
		free_list(p->fs[i].options);
		free_list(p->fs[i].allowed_options);
		free(p->fs[i].program);
		free_list(p->fs[i].arguments);
		free_list(p->fs[i].fuse_options);
	}
	free(p->fs);
	free(p->name);
	free(p->path);
	free(p);
}

void profile_set_free(struct profile_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		profile_free(set->v[i]);
	free(set->v);
	free(set);
}
