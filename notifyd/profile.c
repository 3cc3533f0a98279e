/* SPDX-License-Identifier: MIT */
/*
 * Profile files, parsed with libinih.  Every key is one row of keys[]: its
 * name, its section, its type, where it is stored, its bounds and a line of
 * documentation; one parser per type fills it in.  What needs several keys
 * (a fuse rule needs a program; arguments must fit source =) is checked when
 * a section ends.
 *
 * The handler returns 0 on any semantic error so ini_parse_stream() stops
 * counting it as a success; the message and its line (counted by our own
 * reader, physical lines) are kept in the parse state and joined to
 * "FILE:LINE: " at the end.
 */
#include "notifyd/profile.h"
#include "common/cleanup.h"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Index = the value stored (enum fuse_handover in fuse_action.h). */
static const char *const handover_names[] = {"auto", "fd", "fusermount", NULL};
/* Index = the value stored in source_none. */
static const char *const source_names[] = {"image", "none", NULL};

/* The placeholders of arguments =, each a whole word. */
#define PH_SOURCE     "{source}"
#define PH_MOUNTPOINT "{mountpoint}"
#define PH_OPTIONS    "{options}"

#define MAX_ARGUMENTS 32

#define IN_PROFILE(m) false, offsetof(struct profile, m), sizeof(((struct profile *)0)->m)
#define IN_FS(m)      true, offsetof(struct profile_fs, m), sizeof(((struct profile_fs *)0)->m)

/* Every key a profile may hold.  docs/man/mountvisor-profile.5 documents each. */
static const struct profile_key keys[] = {
    {"description", IN_PROFILE(description), PROFILE_KEY_TEXT, .doc = "free text for the admin"},
    {"default-action", IN_PROFILE(default_action), PROFILE_KEY_ACTION, .min = 1,
     .doc = "action for a type without a section: kernel|continue|deny (default deny)"},
    {"default-errno", IN_PROFILE(default_errno), PROFILE_KEY_ERRNO,
     .doc = "errno of default-action = deny (default EPERM)"},
    {"max-mounts", IN_PROFILE(max_mounts), PROFILE_KEY_UINT, .min = 1, .max = 100000,
     .doc = "notifyd mounts per container (default 64)"},
    {"max-fuse-daemons", IN_PROFILE(max_fuse_daemons), PROFILE_KEY_UINT, .min = 0, .max = 10000,
     .doc = "FUSE programs per container, running or starting (default 8)"},
    {"max-fuse-starting", IN_PROFILE(max_fuse_starting), PROFILE_KEY_UINT, .min = 1, .max = 16,
     .doc = "FUSE start-ups in progress per container (default 1)"},
    {"max-loop-devices", IN_PROFILE(max_loop_devices), PROFILE_KEY_UINT, .min = 0, .max = 256,
     .doc = "loop devices per container (default 8; 0: none)"},
    {"max-fs-contexts", IN_PROFILE(max_fs_contexts), PROFILE_KEY_UINT, .min = 1, .max = 1024,
     .doc = "open new-mount-API contexts and unattached mounts per container (default 16)"},
    {"max-shares", IN_PROFILE(max_shares), PROFILE_KEY_UINT, .min = 0, .max = 64,
     .doc = "virtiofs shares (vfsd processes) per container (default 4)"},
    {"action", IN_FS(action), PROFILE_KEY_ACTION,
     .doc = "kernel|fuse|virtiofs|continue|deny (required)"},
    {"errno", IN_FS(deny_errno), PROFILE_KEY_ERRNO,
     .doc = "errno of action = deny (default EPERM)"},
    {"options", IN_FS(options), PROFILE_KEY_LIST, .doc = "mount options always added"},
    {"allowed-options", IN_FS(allowed_options), PROFILE_KEY_LIST,
     .doc = "mount options (keys or key=value) the caller may give"},
    {"idmap", IN_FS(idmap), PROFILE_KEY_IDMAP,
     .doc = "kernel: yes|no (default no); virtiofs: container|squash:UID:GID (default container)"},
    {"devices", IN_FS(devices), PROFILE_KEY_BOOL,
     .doc = "virtiofs action: the guest may create device nodes (default no)"},
    {"program", IN_FS(program), PROFILE_KEY_PROGRAM,
     .doc = "fuse action: absolute path of the host's program, or container:/PATH"},
    {"arguments", IN_FS(arguments), PROFILE_KEY_WORDS,
     .doc = "fuse action: the program's arguments with {source} {mountpoint} {options}"},
    {"fuse-options", IN_FS(fuse_options), PROFILE_KEY_LIST,
     .doc = "fuse action: kernel-side FUSE options (default allow_other, default_permissions)"},
    {"handover", IN_FS(handover), PROFILE_KEY_ENUM, .names = handover_names,
     .doc = "fuse action: auto|fd|fusermount (default auto)"},
    {"source", IN_FS(source_none), PROFILE_KEY_ENUM, .names = source_names,
     .doc = "fuse action: image|none (default image)"},
    {"startup-timeout", IN_FS(startup_timeout_ms), PROFILE_KEY_UINT, .min = 1, .max = 600,
     .scale = 1000, .unit = "seconds",
     .doc = "fuse action: seconds to answer FUSE_INIT (default 10)"},
};

#define N_KEYS ARRAY_SIZE(keys)

struct parse_state {
	const char *path;
	FILE *f;
	struct profile *p;
	struct profile_fs *cur; /* NULL while in [profile] or before any section */
	char section[80];       /* the section the last key came in */
	unsigned line;          /* physical line the reader last returned */
	bool partial;           /* the last chunk read did not end its line */
	unsigned long_line;     /* first line longer than libinih reads at once */
	uint32_t seen_profile;  /* [profile] keys given (bit = index in keys[]) */
	uint32_t seen_fs;       /* keys given in the current [fs TYPE] */
	unsigned seen_line[N_KEYS];
	unsigned err_line;
	char msg[256];
};

_Static_assert(N_KEYS <= 32, "seen masks are 32 bits");

const struct profile_key *profile_keys(size_t *n)
{
	*n = N_KEYS;
	return keys;
}

const char *profile_action_name(enum profile_action a)
{
	return (unsigned)a < _PROFILE_ACTION_MAX ? action_names[a] : "?";
}

static int fail_at(struct parse_state *s, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct parse_state *s, unsigned line, const char *fmt, ...)
{
	va_list ap;

	/* ini_parse_stream() goes on after an error: keep the first message. */
	if (s->msg[0])
		return 0;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	s->err_line = line;
	return 0; /* makes ini_parse_stream() fail */
}

#define fail(s, ...) fail_at((s), (s)->line, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* One parser per type.  Each returns 1 or fail()'s 0. */

static void store_uint(void *dst, size_t size, unsigned v)
{
	if (size == sizeof(bool))
		*(bool *)dst = v != 0;
	else
		*(unsigned *)dst = v;
}

/* Decimal digits only: no sign, no blanks, no junk, no overflow, within bounds. */
static int parse_uint(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	unsigned long long n = 0;
	const char *c = v;

	for (; *c >= '0' && *c <= '9'; c++) {
		n = n * 10 + (unsigned)(*c - '0');
		if (n > k->max)
			break;
	}
	if (!*v || *c || n < k->min || n > k->max)
		return fail(s, "%s must be %u..%u%s%s, not '%s'", k->name, k->min, k->max,
		            k->unit ? " " : "", k->unit ? k->unit : "", v);
	store_uint(dst, k->size, (unsigned)n * (k->scale ? k->scale : 1));
	return 1;
}

static int parse_bool(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1")) {
		*(bool *)dst = true;
		return 1;
	}
	if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0")) {
		*(bool *)dst = false;
		return 1;
	}
	return fail(s, "%s must be yes or no, not '%s'", k->name, v);
}

/*
 * idmap: yes|no for the kernel action; for virtiofs "container" (= yes) or
 * "squash:UID:GID", every guest id onto one id of the container's.
 * Which action allows which form is checked at the end of the section.
 */
static int parse_idmap(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	struct profile_fs *fs = s->cur;
	unsigned long u, g;
	char *end;

	(void)dst;
	if (!strcmp(v, "container")) {
		fs->idmap = true;
		return 1;
	}
	if (!strncmp(v, "squash:", 7)) {
		errno = 0;
		u = strtoul(v + 7, &end, 10);
		if (*end == ':' && end > v + 7 && end[1] >= '0' && end[1] <= '9' && !errno &&
		    u < UINT32_MAX) {
			const char *gs = end + 1;
			g = strtoul(gs, &end, 10);
			if (!*end && !errno && g < UINT32_MAX && v[7] >= '0' && v[7] <= '9') {
				fs->idmap = true;
				fs->squash = true;
				fs->squash_uid = (unsigned)u;
				fs->squash_gid = (unsigned)g;
				return 1;
			}
		}
		return fail(s,
		            "%s = squash:UID:GID needs two decimal ids below 4294967295, not '%s'",
		            k->name, v);
	}
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") ||
	    !strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0"))
		return parse_bool(s, k, v, &fs->idmap);
	return fail(s, "%s must be yes, no, container or squash:UID:GID, not '%s'", k->name, v);
}

static int parse_enum(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	char all[128];
	size_t len = 0;

	for (unsigned i = 0; k->names[i]; i++)
		if (!strcmp(v, k->names[i])) {
			store_uint(dst, k->size, i);
			return 1;
		}
	all[0] = '\0';
	for (unsigned i = 0; k->names[i] && len < sizeof(all); i++)
		len += (size_t)snprintf(all + len, sizeof(all) - len, "%s%s", i ? ", " : "",
		                        k->names[i]);
	return fail(s, "%s must be one of %s, not '%s'", k->name, all, v);
}

/* .min = 1: the action of types without a section, which cannot be fuse. */
static int parse_action(struct parse_state *s, const struct profile_key *k, const char *v,
                        void *dst)
{
	for (int i = 0; i < _PROFILE_ACTION_MAX; i++) {
		if (strcmp(v, action_names[i]) != 0)
			continue;
		if (i == PROFILE_ACTION_FUSE && k->min)
			return fail(s,
			            "%s cannot be fuse: a fuse rule needs a program, give the "
			            "type its own [fs TYPE] section",
			            k->name);
		if (i == PROFILE_ACTION_VIRTIOFS && k->min)
			return fail(s,
			            "%s cannot be virtiofs: give the type (vhost-user-fs) its own "
			            "[fs TYPE] section",
			            k->name);
		*(enum profile_action *)dst = (enum profile_action)i;
		return 1;
	}
	return fail(s, "unknown %s '%s' (kernel, fuse, virtiofs, continue, deny)", k->name, v);
}

static int parse_errno(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (strcmp(v, errno_names[i].name) == 0) {
			*(int *)dst = errno_names[i].value;
			return 1;
		}
	return fail(s, "unknown errno name '%s' for %s", v, k->name);
}

static int parse_text(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	char **p = dst;

	(void)k;
	free(*p);
	*p = strdup(v);
	return *p ? 1 : fail(s, "out of memory");
}

/*
 * The program must be there, now: a profile whose program cannot run is
 * refused at load rather than at the first mount.  container:/PATH is the
 * container's own binary, looked up at mount time in its root.
 */
static int parse_program(struct parse_state *s, const struct profile_key *k, const char *v,
                         void *dst)
{
	bool container = !strncmp(v, "container:", 10);
	const char *path = container ? v + 10 : v;
	struct stat st;

	if (path[0] != '/')
		return fail(s, "%s must be an absolute path%s, not '%s'", k->name,
		            container ? " after container:" : " (or container:/PATH)", v);
	if (!container) {
		if (stat(path, &st) < 0)
			return fail(s, "%s %s: %s", k->name, path, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return fail(s, "%s %s is not a regular file", k->name, path);
		if (!(st.st_mode & 0111) || access(path, X_OK) < 0)
			return fail(s, "%s %s is not executable", k->name, path);
	}
	return parse_text(s, k, v, dst);
}

static void free_list(char **l)
{
	for (char **p = l; p && *p; p++)
		free(*p);
	free(l);
}

/* Append n strings (taken) to the NULL-terminated *list. */
static int list_append(char ***list, char **items, size_t n)
{
	size_t old = 0;
	char **merged;

	while ((*list)[old])
		old++;
	merged = realloc(*list, (old + n + 1) * sizeof(*merged));
	if (!merged)
		return -ENOMEM;
	memcpy(merged + old, items, n * sizeof(*merged));
	merged[old + n] = NULL;
	*list = merged;
	return 0;
}

/* A copy of str at the end of the growing array items[0..n) (not NULL-terminated). */
static int items_push(char ***items, size_t *n, const char *str)
{
	char **grown = realloc(*items, (*n + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	*items = grown;
	grown[*n] = strdup(str);
	if (!grown[*n])
		return -ENOMEM;
	++*n;
	return 0;
}

/*
 * The end of a list parser: with r still 1 (no error), the items go onto the
 * list; otherwise, or if that fails, they are freed.  Returns r.
 */
static int items_finish(struct parse_state *s, char ***list, char **items, size_t n, int r)
{
	if (r && list_append(list, items, n) < 0)
		r = fail(s, "out of memory");
	if (!r)
		for (size_t i = 0; i < n; i++)
			free(items[i]);
	free(items);
	return r;
}

/* "a, b=c" onto the NULL-terminated list (never NULL); empty items are an error. */
static int parse_list(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	_cleanup_free_ char *copy = strdup(v);
	char **items = NULL;
	size_t n = 0;
	char *p, *item;
	int r = 1;

	if (!copy)
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
			r = fail(s, "empty item in %s list '%s'", k->name, v);
			break;
		}
		if (items_push(&items, &n, item) < 0) {
			r = fail(s, "out of memory");
			break;
		}
	}
	return items_finish(s, dst, items, n, r);
}

/* "-f {options} {source}" -> {"-f", "{options}", "{source}", NULL}: split on blanks. */
static int parse_words(struct parse_state *s, const struct profile_key *k, const char *v, void *dst)
{
	_cleanup_free_ char *copy = strdup(v);
	char **items = NULL, *save = NULL, ***list = dst;
	size_t n = 0, old = 0;
	int r = 1;

	if (!copy)
		return fail(s, "out of memory");
	while ((*list)[old])
		old++;
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		size_t len = strlen(w);
		if (w[0] == '{' && w[len - 1] == '}' && strcmp(w, PH_SOURCE) &&
		    strcmp(w, PH_MOUNTPOINT) && strcmp(w, PH_OPTIONS)) {
			r = fail(s,
			         "unknown placeholder '%s' in %s (" PH_SOURCE ", " PH_MOUNTPOINT
			         ", " PH_OPTIONS ")",
			         w, k->name);
			break;
		}
		if (old + n >= MAX_ARGUMENTS) {
			r = fail(s, "%s has more than %d words", k->name, MAX_ARGUMENTS);
			break;
		}
		if (items_push(&items, &n, w) < 0) {
			r = fail(s, "out of memory");
			break;
		}
	}
	return items_finish(s, list, items, n, r);
}

typedef int (*key_parser)(struct parse_state *s, const struct profile_key *k, const char *v,
                          void *dst);

static const key_parser parsers[_PROFILE_KEY_TYPE_MAX] = {
    [PROFILE_KEY_UINT] = parse_uint,   [PROFILE_KEY_BOOL] = parse_bool,
    [PROFILE_KEY_ENUM] = parse_enum,   [PROFILE_KEY_ACTION] = parse_action,
    [PROFILE_KEY_ERRNO] = parse_errno, [PROFILE_KEY_LIST] = parse_list,
    [PROFILE_KEY_WORDS] = parse_words, [PROFILE_KEY_PROGRAM] = parse_program,
    [PROFILE_KEY_TEXT] = parse_text,   [PROFILE_KEY_IDMAP] = parse_idmap,
};

/* A list key given for the first time in a section starts empty (its default goes). */
static int list_reset(struct parse_state *s, void *dst)
{
	char ***list = dst;

	free_list(*list);
	*list = calloc(1, sizeof(**list));
	return *list ? 1 : fail(s, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Sections */

static bool valid_type(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > 63)
		return false;
	return strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
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

static const struct profile_key *key_by_name(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

static size_t count_word(char **words, const char *w)
{
	size_t n = 0;

	for (char **p = words; p && *p; p++)
		n += !strcmp(*p, w);
	return n;
}

/* A virtiofs section always maps ids: container unless squash was given. */
static int end_virtiofs(struct parse_state *s)
{
	struct profile_fs *fs = s->cur;
	unsigned idmap_line = s->seen_line[key_by_name("idmap") - keys];

	if (!(s->seen_fs & (1u << (key_by_name("idmap") - keys))))
		fs->idmap = true;
	if (!fs->idmap)
		return fail_at(s, idmap_line,
		               "[fs %s] has action = virtiofs: idmap must be container or "
		               "squash:UID:GID (the guest's ids are always mapped)",
		               fs->type);
	if (fs->program)
		return fail_at(s, s->seen_line[key_by_name("program") - keys],
		               "[fs %s] has action = virtiofs: vfsd serves it, program is for fuse",
		               fs->type);
	return 1;
}

/*
 * The [fs TYPE] section that just ended: what needs several keys.  Messages
 * name the header's line, or the line of the key they are about.
 */
static int end_fs(struct parse_state *s)
{
	struct profile_fs *fs = s->cur;
	const struct profile_key *args = key_by_name("arguments");
	unsigned args_line = s->seen_line[args - keys];

	if (!fs)
		return 1;
	fs->line = header_line(s->path, fs->type);
	if (!(s->seen_fs & (1u << (key_by_name("action") - keys))))
		return fail_at(s, fs->line, "[fs %s] has no action", fs->type);
	if (fs->action == PROFILE_ACTION_VIRTIOFS)
		return end_virtiofs(s);
	if (fs->squash)
		return fail_at(s, s->seen_line[key_by_name("idmap") - keys],
		               "idmap = squash:UID:GID is for action = virtiofs; [fs %s] has %s",
		               fs->type, profile_action_name(fs->action));
	if (fs->devices)
		return fail_at(s, s->seen_line[key_by_name("devices") - keys],
		               "devices is for action = virtiofs; [fs %s] has %s", fs->type,
		               profile_action_name(fs->action));
	if (fs->action != PROFILE_ACTION_FUSE)
		return 1;
	if (!fs->program)
		return fail_at(s, fs->line, "[fs %s] has action = fuse but no program", fs->type);
	if (!fs->arguments) /* the defaults fit both sources */
		return 1;
	if (count_word(fs->arguments, PH_MOUNTPOINT) != 1)
		return fail_at(s, args_line,
		               "arguments of [fs %s] must name " PH_MOUNTPOINT
		               " once: the program would not find its connection",
		               fs->type);
	if (fs->source_none && count_word(fs->arguments, PH_SOURCE))
		return fail_at(s, args_line,
		               "arguments of [fs %s] name " PH_SOURCE
		               " but the section has source = none",
		               fs->type);
	if (!fs->source_none && count_word(fs->arguments, PH_SOURCE) != 1)
		return fail_at(s, args_line,
		               "arguments of [fs %s] must name " PH_SOURCE
		               " once (or set source = none): the program would not get the image",
		               fs->type);
	if (count_word(fs->arguments, PH_OPTIONS) > 1)
		return fail_at(s, args_line, "arguments of [fs %s] name " PH_OPTIONS " twice",
		               fs->type);
	return 1;
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
	if (!s->cur->type || !s->cur->options || !s->cur->allowed_options ||
	    !s->cur->fuse_options || !s->cur->fuse_options[0] || !s->cur->fuse_options[1])
		return fail(s, "out of memory");
	return 1;
}

/* The first key of a section we were not in: close the last one, open this one. */
static int enter_section(struct parse_state *s, const char *section)
{
	bool is_fs = !strncmp(section, "fs ", 3);

	if (!is_fs && strcmp(section, "profile") != 0)
		return fail(s, "unknown section [%s] (expected [profile] or [fs TYPE])", section);
	if (!end_fs(s))
		return 0;
	s->cur = NULL;
	s->seen_fs = 0;
	snprintf(s->section, sizeof(s->section), "%s", section);
	return is_fs ? begin_fs(s, section + 3) : 1;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *s = user;
	const struct profile_key *k;
	uint32_t *seen, bit;
	size_t i;

	if (s->partial)
		return fail(s, "line longer than %d characters", INI_MAX_LINE - 2);
	/* Debian's libinih does not call us on a bare section header, so a section
	 * starts when its first key arrives under a new name. */
	if (!section[0])
		return fail(s, "key before any section ([profile] or [fs TYPE])");
	if (strcmp(section, s->section) != 0 && !enter_section(s, section))
		return 0;
	k = key_by_name(name);
	if (!k)
		return s->cur ? fail(s, "unknown key '%s' in [fs %s]", name, s->cur->type)
		              : fail(s, "unknown key '%s' in [profile]", name);
	if (k->fs != (s->cur != NULL))
		return k->fs ? fail(s, "%s belongs in an [fs TYPE] section, not [profile]", name)
		             : fail(s, "%s belongs in [profile], not [fs %s]", name, s->cur->type);
	if (!value[0])
		return fail(s, "%s has no value", name);
	i = (size_t)(k - keys);
	bit = 1u << i;
	seen = k->fs ? &s->seen_fs : &s->seen_profile;
	/*
	 * A list given again adds to it: libinih hands an indented continuation
	 * line to us as the same key again, so long lists can span lines.  Any
	 * other key given twice is a mistake whichever one was meant.
	 */
	if (*seen & bit) {
		if (k->type != PROFILE_KEY_LIST && k->type != PROFILE_KEY_WORDS)
			return fail(s, "%s given twice in [%s] (first at line %u)", name,
			            s->section, s->seen_line[i]);
	} else {
		*seen |= bit;
		s->seen_line[i] = s->line;
		if ((k->type == PROFILE_KEY_LIST || k->type == PROFILE_KEY_WORDS) &&
		    !list_reset(s, (char *)(k->fs ? (void *)s->cur : (void *)s->p) + k->off))
			return 0;
	}
	return parsers[k->type](s, k, value,
	                        (char *)(k->fs ? (void *)s->cur : (void *)s->p) + k->off);
}

/* ini_reader over a FILE that counts physical lines for the handler's messages. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_state *s = stream;
	size_t len;

	if (!fgets(str, num, s->f))
		return NULL;
	if (!s->partial)
		s->line++;
	len = strlen(str);
	/* A chunk that does not end its line: libinih would read the rest as a line of its own. */
	s->partial = len > 0 && str[len - 1] != '\n' && !feof(s->f);
	if (s->partial && !s->long_line)
		s->long_line = s->line;
	return str;
}

int profile_load_file(const char *path, const char *name, struct profile **ret, char *err,
                      size_t errlen)
{
	struct parse_state s = {.path = path};
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
	p->max_shares = 4;
	p->max_fs_contexts = 16;
	s.p = p;
	if (!p->name || !p->path) {
		profile_free(p);
		return -ENOMEM;
	}
	s.f = fopen(path, "re");
	if (!s.f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		profile_free(p);
		return -EINVAL;
	}
	line = ini_parse_stream(reader, &s, handler, &s);
	fclose(s.f);
	if (line == 0)
		end_fs(&s); /* the last section */
	for (size_t i = 0; i < p->n_fs; i++)
		if (!p->fs[i].line)
			p->fs[i].line = header_line(path, p->fs[i].type);
	if (line == 0 && !s.msg[0]) {
		*ret = p;
		return 0;
	}
	if (s.msg[0])
		snprintf(err, errlen, "%s:%u: %s", path, s.err_line, s.msg);
	else if (s.long_line)
		snprintf(err, errlen, "%s:%u: line longer than %d characters", path, s.long_line,
		         INI_MAX_LINE - 2);
	else if (line < 0)
		snprintf(err, errlen, "%s: cannot read", path);
	else
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
		         path, line);
	profile_free(p);
	return -EINVAL;
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
	free(p->description);
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
