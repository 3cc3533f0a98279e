/* SPDX-License-Identifier: MIT */
/*
 * notifyctl oci-config: point an OCI bundle at notifyd.
 *
 * The seccomp rules come from one place, the shipped oci-seccomp.json (read
 * at run time: --rules FILE, else the installed share dir, else the source
 * tree next to a build), so the rule file, the LXC/podman profiles built from
 * the same text and this command never disagree.  The bundle's own seccomp
 * rules always win over notifyd's where they deny: a syscall the bundle
 * denies is never turned into a trap notifyd could answer "continue".
 *
 * Everything is checked before anything is written: a config this command
 * cannot understand is refused (exit 2) and left as it was.
 */
#include "notifyd/oci_config.h"
#include "notifyd/oci_listener.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MV_DATADIR
#define MV_DATADIR "/usr/local/share/mountvisor"
#endif

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

static int refuse(struct occ *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(struct occ *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One line per change ("change: ..."), or per thing deliberately kept ("kept: ..."). */
static void say(struct occ *c, bool change, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct occ *c, bool change, const char *fmt, ...)
{
	va_list ap;

	fputs(change ? "change: " : "kept: ", c->out);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	if (change)
		c->changes++;
}

/* ------------------------------------------------------------------------ */
/* JSON input                                                                 */
/* ------------------------------------------------------------------------ */

/* Keys in the text: a string followed by ':' outside any string. */
static size_t raw_key_count(const char *s, size_t n)
{
	size_t keys = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '"')
			continue;
		for (i++; i < n && s[i] != '"'; i++)
			if (s[i] == '\\')
				i++;
		size_t j = i + 1;
		while (j < n && isspace((unsigned char)s[j]))
			j++;
		if (j < n && s[j] == ':')
			keys++;
	}
	return keys;
}

static size_t tree_key_count(json_object *o)
{
	size_t keys = 0;

	if (json_object_is_type(o, json_type_object)) {
		json_object_object_foreach(o, k, v)
		{
			(void)k;
			keys += 1 + tree_key_count(v);
		}
	} else if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			keys += tree_key_count(json_object_array_get_idx(o, i));
	}
	return keys;
}

/*
 * Strict JSON, one object, nothing after it, no duplicate keys: runtimes
 * disagree on which duplicate wins, and rewriting would silently drop one.
 */
static int parse_object(struct occ *c, const char *what, const char *buf, size_t len,
                        json_object **ret)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	if (memchr(buf, '\0', len))
		return refuse(c, "%s is not JSON (it holds a NUL byte)", what);
	tok = json_tokener_new_ex(OCC_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		json_tokener_free(tok);
		if (e == json_tokener_error_depth)
			return refuse(c, "%s nests deeper than %d levels", what, OCC_MAX_DEPTH);
		return refuse(c, "%s is not JSON: %s", what,
		              e == json_tokener_continue ? "it ends in the middle"
		                                         : json_tokener_error_desc(e));
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	while (end < len && isspace((unsigned char)buf[end]))
		end++;
	if (end != len) {
		json_object_put(o);
		return refuse(c, "%s is not JSON: data after the top-level value", what);
	}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return refuse(c, "%s is not a JSON object", what);
	}
	if (raw_key_count(buf, len) != tree_key_count(o)) {
		json_object_put(o);
		return refuse(c, "%s has a duplicate key (runtimes disagree on which one counts)",
		              what);
	}
	*ret = o;
	return 0;
}

/*
 * o.key as type t: 1 when present, 0 when absent (then a new empty object or
 * array is added if create), -EINVAL (refused) when of another type.
 */
static int member(struct occ *c, json_object *o, const char *where, const char *key, json_type t,
                  bool create, json_object **ret)
{
	json_object *v;

	*ret = NULL;
	if (json_object_object_get_ex(o, key, &v)) {
		if (!json_object_is_type(v, t))
			return refuse(c, "%s%s is of type %s, not %s", where, key,
			              json_type_to_name(json_object_get_type(v)),
			              json_type_to_name(t));
		*ret = v;
		return 1;
	}
	if (!create)
		return 0;
	v = t == json_type_array ? json_object_new_array() : json_object_new_object();
	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	*ret = v;
	return 0;
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int add_str(json_object *o, const char *key, const char *val)
{
	json_object *v = json_object_new_string(val);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_int(json_object *o, const char *key, int64_t val)
{
	json_object *v = json_object_new_int64(val);

	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int append(json_object *arr, json_object *v)
{
	if (!v || json_object_array_add(arr, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* seccomp                                                                    */
/* ------------------------------------------------------------------------ */

static const char *const known_actions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

static const char *const known_arches[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

/* ALLOW and LOG let the call through; every other action denies it. */
static bool action_allows(const char *a)
{
	return strcmp(a, "SCMP_ACT_ALLOW") == 0 || strcmp(a, "SCMP_ACT_LOG") == 0;
}

static json_object *rule_names(json_object *rule)
{
	json_object *v;

	return json_object_object_get_ex(rule, "names", &v) ? v : NULL;
}

static const char *rule_action(json_object *rule)
{
	return str_member(rule, "action");
}

static size_t rule_nargs(json_object *rule)
{
	json_object *v;

	if (!json_object_object_get_ex(rule, "args", &v) ||
	    !json_object_is_type(v, json_type_array))
		return 0;
	return json_object_array_length(v);
}

static bool same_args(json_object *a, json_object *b)
{
	json_object *va = NULL, *vb = NULL;

	if (rule_nargs(a) == 0 || rule_nargs(b) == 0)
		return rule_nargs(a) == rule_nargs(b);
	json_object_object_get_ex(a, "args", &va);
	json_object_object_get_ex(b, "args", &vb);
	return json_object_equal(va, vb);
}

static bool names_have(json_object *names, const char *s)
{
	for (size_t i = 0; i < json_object_array_length(names); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(names, i)), s) == 0)
			return true;
	return false;
}

/* A rule as the runtime-spec has it: names (strings), a known action, args an array. */
static int check_rule(struct occ *c, const char *what, size_t i, json_object *rule)
{
	json_object *names, *args;
	const char *a;

	if (!json_object_is_type(rule, json_type_object))
		return refuse(c, "%s syscalls[%zu] is not an object", what, i);
	names = rule_names(rule);
	if (!names || !json_object_is_type(names, json_type_array))
		return refuse(c, "%s syscalls[%zu] has no \"names\" array", what, i);
	for (size_t k = 0; k < json_object_array_length(names); k++)
		if (!json_object_is_type(json_object_array_get_idx(names, k), json_type_string))
			return refuse(c, "%s syscalls[%zu].names[%zu] is not a string", what, i, k);
	a = rule_action(rule);
	if (!a || !in_list(a, known_actions, ARRAY_SIZE(known_actions)))
		return refuse(c, "%s syscalls[%zu] has no known \"action\"", what, i);
	if (json_object_object_get_ex(rule, "args", &args) &&
	    !json_object_is_type(args, json_type_array) &&
	    !json_object_is_type(args, json_type_null))
		return refuse(c, "%s syscalls[%zu].args is not an array", what, i);
	return 0;
}

static int check_arches(struct occ *c, const char *what, json_object *sc)
{
	json_object *arches;
	int r = member(c, sc, what, "architectures", json_type_array, false, &arches);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(arches); i++) {
		json_object *a = json_object_array_get_idx(arches, i);

		if (!json_object_is_type(a, json_type_string) ||
		    !in_list(json_object_get_string(a), known_arches, ARRAY_SIZE(known_arches)))
			return refuse(
			    c, "%sarchitectures[%zu] is not an architecture this command knows",
			    what, i);
	}
	return 0;
}

/*
 * The shipped rules: syscalls[] of SCMP_ACT_NOTIFY rules and the
 * architectures a new seccomp section gets.
 */
static int load_rules(struct occ *c, json_object **ret)
{
	char exe[PATH_MAX], path[PATH_MAX + 128];
	const char *file = c->rules;
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	json_object *o = NULL, *sys;
	struct stat st;
	ssize_t n;
	int r;

	if (!file) {
		/*
		 * First a build in the source tree (build/notifyctl next to
		 * profiles/: never a stale installed copy), then the share dir of
		 * the prefix it was built for, then that of the prefix it sits in.
		 */
		static const char *const rel[] = {"../" OCC_RULES_NAME, NULL,
		                                  "../share/mountvisor/" OCC_RULES_NAME};
		char *slash = NULL;

		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n > 0) {
			exe[n] = '\0';
			slash = strrchr(exe, '/');
		}
		if (slash)
			*slash = '\0';
		file = MV_DATADIR "/" OCC_RULES_NAME;
		for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
			if (rel[i] && !slash)
				continue;
			if (rel[i])
				snprintf(path, sizeof(path), "%s/%s", exe, rel[i]);
			else
				snprintf(path, sizeof(path), "%s", MV_DATADIR "/" OCC_RULES_NAME);
			if (access(path, R_OK) == 0) {
				file = path;
				break;
			}
		}
	}
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return refuse(c, "cannot read the seccomp rules %s: %s (give --rules FILE)", file,
		              strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > OCC_MAX_SIZE)
		return refuse(c, "the seccomp rules %s are not a regular file of at most %d bytes",
		              file, OCC_MAX_SIZE);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		return refuse(c, "cannot read the seccomp rules %s", file);
	char what[sizeof(path) + 32];
	snprintf(what, sizeof(what), "the seccomp rules %s", file);
	r = parse_object(c, what, buf, (size_t)n, &o);
	if (r < 0)
		return r;
	r = member(c, o, "rules: ", "syscalls", json_type_array, false, &sys);
	if (r == 0)
		r = refuse(c, "%s have no syscalls", what);
	for (size_t i = 0; r >= 0 && i < json_object_array_length(sys); i++) {
		json_object *rule = json_object_array_get_idx(sys, i);

		r = check_rule(c, what, i, rule);
		if (r >= 0 && strcmp(rule_action(rule), "SCMP_ACT_NOTIFY") != 0)
			r = refuse(c, "%s: syscalls[%zu] is not a SCMP_ACT_NOTIFY rule", what, i);
	}
	if (r >= 0)
		r = check_arches(c, "rules: ", o);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* Remove name s from every ALLOW/LOG rule; a rule left without names goes. */
static int take_out_of_allow_rules(struct occ *c, json_object *sys, const char *s)
{
	for (size_t i = json_object_array_length(sys); i-- > 0;) {
		json_object *rule = json_object_array_get_idx(sys, i), *names = rule_names(rule);
		json_object *keep;

		if (!names_have(names, s) || !action_allows(rule_action(rule)))
			continue;
		keep = json_object_new_array();
		if (!keep)
			return -ENOMEM;
		for (size_t k = 0; k < json_object_array_length(names); k++) {
			json_object *n = json_object_array_get_idx(names, k);

			if (strcmp(json_object_get_string(n), s) != 0 &&
			    append(keep, json_object_get(n)) < 0) {
				json_object_put(keep);
				return -ENOMEM;
			}
		}
		say(c, true,
		    "linux.seccomp: %s taken out of the bundle's %s rule (syscalls[%zu]): "
		    "notifyd decides it now",
		    s, rule_action(rule), i);
		if (json_object_array_length(keep) == 0) {
			json_object_put(keep);
			json_object_array_del_idx(sys, i, 1);
			say(c, true, "linux.seccomp: syscalls[%zu] named only %s and is gone", i,
			    s);
		} else if (json_object_object_add(rule, "names", keep) < 0) {
			json_object_put(keep);
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * Which of notifyd's rule `ours` names the bundle gets trapped; they are
 * appended to `add`.  The bundle's own word wins wherever it denies.
 */
static int merge_rule(struct occ *c, json_object *sys, const char *dflt, json_object *ours,
                      json_object *add)
{
	json_object *names = rule_names(ours);
	int r;

	for (size_t k = 0; k < json_object_array_length(names); k++) {
		const char *s = json_object_get_string(json_object_array_get_idx(names, k));
		const char *deny = NULL;
		size_t same = 0, other = 0, allow = 0, allow_cond = 0;

		for (size_t i = 0; i < json_object_array_length(sys); i++) {
			json_object *rule = json_object_array_get_idx(sys, i);
			const char *a = rule_action(rule);

			if (!names_have(rule_names(rule), s))
				continue;
			if (strcmp(a, "SCMP_ACT_NOTIFY") == 0)
				same_args(rule, ours) ? same++ : other++;
			else if (!action_allows(a))
				deny = a;
			else if (rule_nargs(rule) > 0)
				allow_cond++;
			else
				allow++;
		}
		if (deny) {
			/* notifyd may answer "continue": trapping a denied call could allow it. */
			say(c, false,
			    "linux.seccomp: %s stays %s as the bundle says; notifyd will not "
			    "see it",
			    s, deny);
			continue;
		}
		if (other)
			return refuse(
			    c,
			    "linux.seccomp already traps %s (SCMP_ACT_NOTIFY) under other "
			    "conditions than notifyd's rule; fix that rule by hand",
			    s);
		if (same)
			continue;
		if (allow_cond)
			return refuse(
			    c,
			    "linux.seccomp allows %s only under conditions (args); notifyd's "
			    "trap cannot be merged with them without changing which calls "
			    "are allowed; merge by hand",
			    s);
		if (!allow && !action_allows(dflt)) {
			say(c, false,
			    "linux.seccomp: %s stays denied by defaultAction %s; notifyd will "
			    "not see it",
			    s, dflt);
			continue;
		}
		if (allow) {
			/*
			 * libseccomp lets a rule without args swallow a later rule with
			 * args for the same syscall, so the name must leave the allow rule.
			 * The calls our trap does not cover then meet defaultAction:
			 * only safe to do when that allows them too.
			 */
			if (rule_nargs(ours) > 0 && !action_allows(dflt))
				return refuse(
				    c,
				    "linux.seccomp allows every %s and denies by default "
				    "(%s); notifyd traps only some %s calls and the rest would "
				    "become denied; merge by hand",
				    s, dflt, s);
			r = take_out_of_allow_rules(c, sys, s);
			if (r < 0)
				return r;
		}
		r = append(add, json_object_new_string(s));
		if (r < 0)
			return r;
	}
	return 0;
}

static int join_names(json_object *names, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(names) && off < size; i++)
		off +=
		    (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "",
		                     json_object_get_string(json_object_array_get_idx(names, i)));
	return 0;
}

static void json_putp(json_object **o)
{
	json_object_put(*o);
}

static int edit_listener(struct occ *c, json_object *sc)
{
	/* The old values are printed after they were replaced: hold them. */
	_cleanup_(json_putp) json_object *old_path = NULL;
	_cleanup_(json_putp) json_object *old_meta = NULL;
	const char *sock = c->socket ? c->socket : OCC_DEFAULT_SOCKET, *old;
	char want[128], prof[64];
	json_object *v;
	int r;

	r = member(c, sc, "linux.seccomp.", "listenerPath", json_type_string, false, &v);
	if (r < 0)
		return r;
	old_path = json_object_get(v);
	old = v ? json_object_get_string(v) : NULL;
	if (!old || (strcmp(old, sock) != 0 && c->force)) {
		if (add_str(sc, "listenerPath", sock) < 0)
			return -ENOMEM;
		if (old)
			say(c, true, "linux.seccomp.listenerPath: %s replaced by %s (--force)", old,
			    sock);
		else
			say(c, true, "linux.seccomp.listenerPath: set to %s", sock);
	} else if (strcmp(old, sock) != 0) {
		return refuse(
		    c, "linux.seccomp.listenerPath is already %s, not %s; --force replaces it", old,
		    sock);
	}

	r = member(c, sc, "linux.seccomp.", "listenerMetadata", json_type_string, false, &v);
	if (r < 0)
		return r;
	old_meta = json_object_get(v);
	old = v ? json_object_get_string(v) : NULL;
	snprintf(want, sizeof(want), "profile=%s", c->profile);
	if (old && oci_metadata_profile(old, prof, sizeof(prof)) < 0)
		return refuse(c,
		              "linux.seccomp.listenerMetadata \"%s\" names an invalid profile; "
		              "notifyd would refuse the container",
		              old);
	if (!old || strcmp(old, "") == 0) {
		if (add_str(sc, "listenerMetadata", want) < 0)
			return -ENOMEM;
		say(c, true, "linux.seccomp.listenerMetadata: set to %s", want);
	} else if (c->profile_given && strcmp(prof, c->profile) != 0) {
		/* Keep the other tokens; replace only the profile= ones. */
		_cleanup_free_ char *copy = strdup(old), *out = NULL;
		size_t outlen = 0;
		FILE *f;
		char *save = NULL;

		if (!copy)
			return -ENOMEM;
		f = open_memstream(&out, &outlen);
		if (!f)
			return -ENOMEM;
		for (char *t = strtok_r(copy, " \t\n,;", &save); t;
		     t = strtok_r(NULL, " \t\n,;", &save))
			if (strncmp(t, "profile=", 8) != 0)
				fprintf(f, "%s ", t);
		fputs(want, f);
		if (fclose(f) != 0 || add_str(sc, "listenerMetadata", out) < 0)
			return -ENOMEM;
		say(c, true, "linux.seccomp.listenerMetadata: \"%s\" is now \"%s\"", old, out);
	} else if (strcmp(prof, c->profile) != 0) {
		say(c, false,
		    "linux.seccomp.listenerMetadata \"%s\" (profile %s; --profile changes it)", old,
		    prof);
	}
	return 0;
}

static int edit_seccomp(struct occ *c, json_object *linux_, json_object *rules)
{
	json_object *sc, *sys, *rsys, *v;
	const char *dflt;
	char list[512];
	int r;

	r = member(c, linux_, "linux.", "seccomp", json_type_object, false, &sc);
	if (r < 0)
		return r;
	json_object_object_get_ex(rules, "syscalls", &rsys);
	if (r == 0) {
		sc = json_object_new_object();
		if (!sc || json_object_object_add(linux_, "seccomp", sc) < 0) {
			json_object_put(sc);
			return -ENOMEM;
		}
		if (add_str(sc, "defaultAction", "SCMP_ACT_ALLOW") < 0)
			return -ENOMEM;
		if (json_object_object_get_ex(rules, "architectures", &v) &&
		    json_object_object_add(sc, "architectures", json_object_get(v)) < 0)
			return -ENOMEM;
		sys = NULL;
		if (json_object_deep_copy(rsys, &sys, NULL) < 0 ||
		    json_object_object_add(sc, "syscalls", sys) < 0) {
			json_object_put(sys);
			return -ENOMEM;
		}
		say(c, true,
		    "linux.seccomp: added, defaultAction SCMP_ACT_ALLOW with notifyd's %zu "
		    "rules",
		    json_object_array_length(rsys));
		for (size_t i = 0; i < json_object_array_length(rsys); i++) {
			join_names(rule_names(json_object_array_get_idx(rsys, i)), list,
			           sizeof(list));
			say(c, true, "linux.seccomp: trap %s (SCMP_ACT_NOTIFY)", list);
		}
		return edit_listener(c, sc);
	}

	r = member(c, sc, "linux.seccomp.", "defaultAction", json_type_string, false, &v);
	if (r < 0)
		return r;
	dflt = v ? json_object_get_string(v) : NULL;
	if (!dflt || !in_list(dflt, known_actions, ARRAY_SIZE(known_actions)) ||
	    strcmp(dflt, "SCMP_ACT_NOTIFY") == 0)
		return refuse(c, "linux.seccomp.defaultAction is missing or not an action this "
		                 "command can merge with");
	r = check_arches(c, "linux.seccomp.", sc);
	if (r < 0)
		return r;
	r = member(c, sc, "linux.seccomp.", "syscalls", json_type_array, true, &sys);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(sys); i++) {
		r = check_rule(c, "linux.seccomp", i, json_object_array_get_idx(sys, i));
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < json_object_array_length(rsys); i++) {
		json_object *ours = json_object_array_get_idx(rsys, i), *add, *rule = NULL;

		add = json_object_new_array();
		if (!add)
			return -ENOMEM;
		r = merge_rule(c, sys, dflt, ours, add);
		if (r < 0 || json_object_array_length(add) == 0) {
			json_object_put(add);
			if (r < 0)
				return r;
			continue;
		}
		if (json_object_deep_copy(ours, &rule, NULL) < 0 ||
		    json_object_object_add(rule, "names", add) < 0) {
			json_object_put(add);
			json_object_put(rule);
			return -ENOMEM;
		}
		join_names(add, list, sizeof(list));
		r = append(sys, rule);
		if (r < 0)
			return r;
		say(c, true, "linux.seccomp: trap %s (SCMP_ACT_NOTIFY%s)", list,
		    rule_nargs(ours) ? ", with notifyd's argument conditions" : "");
	}
	size_t traps = 0;
	for (size_t i = 0; i < json_object_array_length(sys); i++)
		traps +=
		    strcmp(rule_action(json_object_array_get_idx(sys, i)), "SCMP_ACT_NOTIFY") == 0;
	if (traps == 0)
		say(c, false,
		    "linux.seccomp: the bundle denies every syscall notifyd traps; notifyd "
		    "will see nothing from this container");
	return edit_listener(c, sc);
}

/* ------------------------------------------------------------------------ */
/* devices                                                                    */
/* ------------------------------------------------------------------------ */

static int dev_rule_fields(struct occ *c, size_t i, json_object *rule, bool *allow,
                           const char **type, int64_t *major, int64_t *minor, const char **access)
{
	json_object *v;

	if (!json_object_is_type(rule, json_type_object))
		return refuse(c, "linux.resources.devices[%zu] is not an object", i);
	if (!json_object_object_get_ex(rule, "allow", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return refuse(c, "linux.resources.devices[%zu] has no boolean \"allow\"", i);
	*allow = json_object_get_boolean(v);
	*type = str_member(rule, "type");
	*access = str_member(rule, "access");
	*major = *minor = -1;
	if (json_object_object_get_ex(rule, "major", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return refuse(c, "linux.resources.devices[%zu].major is not a number", i);
		*major = json_object_get_int64(v);
	}
	if (json_object_object_get_ex(rule, "minor", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return refuse(c, "linux.resources.devices[%zu].minor is not a number", i);
		*minor = json_object_get_int64(v);
	}
	return 0;
}

static bool has_rwm(const char *access)
{
	return access && strchr(access, 'r') && strchr(access, 'w') && strchr(access, 'm');
}

/*
 * Allow "b MAJOR:MINOR rwm" (minor -1: every minor) in the device cgroup,
 * unless an allow covering it is there.  A deny naming that major is the
 * bundle's word: refused, as appending an allow after it would overrule it.
 */
static int allow_block(struct occ *c, json_object *linux_, int64_t major, int64_t minor,
                       const char *why)
{
	json_object *res, *devs, *rule;
	int r;

	r = member(c, linux_, "linux.", "resources", json_type_object, true, &res);
	if (r >= 0)
		r = member(c, res, "linux.resources.", "devices", json_type_array, true, &devs);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		bool allow = false;
		const char *type = NULL, *access = NULL;
		int64_t ma = -1, mi = -1;

		r = dev_rule_fields(c, i, json_object_array_get_idx(devs, i), &allow, &type, &ma,
		                    &mi, &access);
		if (r < 0)
			return r;
		bool blocks = !type || strcmp(type, "a") == 0 || strcmp(type, "b") == 0;
		bool covers = blocks && (ma == -1 || ma == major) && (mi == -1 || mi == minor);
		if (!allow && blocks && ma == major && (mi == -1 || minor == -1 || mi == minor))
			return refuse(c,
			              "linux.resources.devices[%zu] denies block major %lld (%s); "
			              "not overruled",
			              i, (long long)major, why);
		if (allow && covers && has_rwm(access) && type)
			return 0;
	}
	rule = json_object_new_object();
	if (!rule)
		return -ENOMEM;
	if (append(devs, rule) < 0)
		return -ENOMEM;
	if (json_object_object_add(rule, "allow", json_object_new_boolean(1)) < 0 ||
	    add_str(rule, "type", "b") < 0 || add_int(rule, "major", major) < 0 ||
	    (minor >= 0 && add_int(rule, "minor", minor) < 0) || add_str(rule, "access", "rwm") < 0)
		return -ENOMEM;
	if (minor >= 0)
		say(c, true, "linux.resources.devices: allow b %lld:%lld rwm (%s)",
		    (long long)major, (long long)minor, why);
	else
		say(c, true, "linux.resources.devices: allow b %lld:* rwm (%s)", (long long)major,
		    why);
	return 0;
}

static int edit_loop(struct occ *c, json_object *root, json_object *linux_)
{
	json_object *mounts, *m;
	int r;

	r = member(c, root, "", "mounts", json_type_array, true, &mounts);
	if (r < 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		const char *dst, *src;

		m = json_object_array_get_idx(mounts, i);
		if (!json_object_is_type(m, json_type_object))
			return refuse(c, "mounts[%zu] is not an object", i);
		dst = str_member(m, "destination");
		if (!dst)
			return refuse(c, "mounts[%zu] has no \"destination\" string", i);
		if (strcmp(dst, "/dev/loop-control") != 0)
			continue;
		src = str_member(m, "source");
		if (src && (strcmp(src, "/dev/null") == 0 || strcmp(src, "/dev/loop-control") == 0))
			goto cgroup;
		return refuse(c,
		              "mounts[%zu] puts %s at /dev/loop-control; --loop needs /dev/null "
		              "(or the host's /dev/loop-control) there",
		              i, src ? src : "something");
	}
	m = json_object_new_object();
	if (!m || append(mounts, m) < 0)
		return -ENOMEM;
	json_object *opts = json_object_new_array();
	if (add_str(m, "destination", "/dev/loop-control") < 0 || add_str(m, "type", "bind") < 0 ||
	    add_str(m, "source", "/dev/null") < 0 || !opts ||
	    json_object_object_add(m, "options", opts) < 0 ||
	    append(opts, json_object_new_string("bind")) < 0)
		return -ENOMEM;
	say(c, true,
	    "mounts: bind /dev/null at /dev/loop-control (its LOOP_CTL_* ioctls go to "
	    "notifyd)");
cgroup:
	return allow_block(c, linux_, 7, -1, "loop devices notifyd hands out");
}

static bool has_user_ns(json_object *linux_)
{
	json_object *ns;

	if (!json_object_object_get_ex(linux_, "namespaces", &ns) ||
	    !json_object_is_type(ns, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(ns); i++) {
		const char *t = str_member(json_object_array_get_idx(ns, i), "type");

		if (t && strcmp(t, "user") == 0)
			return true;
	}
	return false;
}

/* The host id that container id 0 maps to in linux.uidMappings/gidMappings. */
static int root_host_id(struct occ *c, json_object *linux_, const char *key, uint32_t *ret)
{
	json_object *maps;
	int r = member(c, linux_, "linux.", key, json_type_array, false, &maps);

	if (r < 0)
		return r;
	for (size_t i = 0; maps && i < json_object_array_length(maps); i++) {
		json_object *m = json_object_array_get_idx(maps, i), *vc, *vh, *vs;

		if (!json_object_is_type(m, json_type_object) ||
		    !json_object_object_get_ex(m, "containerID", &vc) ||
		    !json_object_object_get_ex(m, "hostID", &vh) ||
		    !json_object_object_get_ex(m, "size", &vs) ||
		    !json_object_is_type(vc, json_type_int) ||
		    !json_object_is_type(vh, json_type_int) ||
		    !json_object_is_type(vs, json_type_int))
			return refuse(c, "linux.%s[%zu] is not {containerID, hostID, size} numbers",
			              key, i);
		int64_t cid = json_object_get_int64(vc), hid = json_object_get_int64(vh),
		        size = json_object_get_int64(vs);
		if (cid < 0 || hid < 0 || size <= 0 || hid > UINT32_MAX - 1)
			return refuse(c, "linux.%s[%zu] has ids out of range", key, i);
		if (cid == 0) {
			*ret = (uint32_t)hid;
			return 0;
		}
	}
	return refuse(c,
	              "the bundle has a user namespace but linux.%s maps no container root "
	              "(id 0); cannot tell who must own its block devices",
	              key);
}

/*
 * Why a block device must not go to a container: mounted on the host (it or
 * a partition of it), held (device mapper, md, a partition table in use) or
 * a swap area.  Returns 0 when free, 1 with why filled when in use.
 */
static int device_in_use(dev_t dev, char *why, size_t size)
{
	char p[128], line[4096];
	unsigned int ma, mi;
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	dev_t parts[256];
	size_t nparts = 0;
	struct dirent *e;

	parts[nparts++] = dev;
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u/holders", major(dev), minor(dev));
	d = opendir(p);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(why, size, "held by %s", e->d_name);
			return 1;
		}
	if (d)
		closedir(TAKE_PTR(d));
	snprintf(p, sizeof(p), "/sys/dev/block/%u:%u", major(dev), minor(dev));
	d = opendir(p);
	while (d && (e = readdir(d)) && nparts < ARRAY_SIZE(parts)) {
		char dp[512], buf[32];

		snprintf(dp, sizeof(dp), "%s/%s/partition", p, e->d_name);
		if (access(dp, F_OK) < 0)
			continue;
		snprintf(dp, sizeof(dp), "%s/%s/dev", p, e->d_name);
		if (fd_read_file_at(AT_FDCWD, dp, buf, sizeof(buf)) > 0 &&
		    sscanf(buf, "%u:%u", &ma, &mi) == 2)
			parts[nparts++] = makedev(ma, mi);
	}
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mnt[2048];

		if (sscanf(line, "%*d %*d %u:%u %*s %2047s", &ma, &mi, mnt) != 3)
			continue;
		for (size_t i = 0; i < nparts; i++)
			if (makedev(ma, mi) == parts[i]) {
				snprintf(why, size, "mounted at %s", mnt);
				return 1;
			}
	}
	if (f)
		fclose(TAKE_PTR(f));
	f = fopen("/proc/swaps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char sw[2048];
		struct stat st;

		if (sscanf(line, "%2047s", sw) == 1 && stat(sw, &st) == 0 && S_ISBLK(st.st_mode))
			for (size_t i = 0; i < nparts; i++)
				if (st.st_rdev == parts[i]) {
					snprintf(why, size, "a swap area");
					return 1;
				}
	}
	return 0;
}

static int edit_device(struct occ *c, json_object *linux_, const char *path)
{
	json_object *devs, *d;
	struct stat st;
	char why[2200];
	int r;

	if (path[0] != '/')
		return refuse(c, "--device %s: not an absolute path", path);
	if (stat(path, &st) < 0)
		return refuse(c, "--device %s: %s", path, strerror(errno));
	if (!S_ISBLK(st.st_mode))
		return refuse(c, "--device %s is not a block device", path);
	int64_t ma = major(st.st_rdev), mi = minor(st.st_rdev);

	/* A filesystem the host uses, written under it by a container: never by default. */
	if (device_in_use(st.st_rdev, why, sizeof(why)) && !c->force)
		return refuse(c,
		              "--device %s is in use on the host (%s); giving it to a container is "
		              "refused without --force",
		              path, why);
	r = member(c, linux_, "linux.", "devices", json_type_array, true, &devs);
	if (r < 0)
		return r;
	d = NULL;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		json_object *e = json_object_array_get_idx(devs, i), *v;
		const char *p, *t;

		if (!json_object_is_type(e, json_type_object) || !(p = str_member(e, "path")))
			return refuse(c, "linux.devices[%zu] has no \"path\" string", i);
		if (strcmp(p, path) != 0)
			continue;
		t = str_member(e, "type");
		if (!t || strcmp(t, "b") != 0 || !json_object_object_get_ex(e, "major", &v) ||
		    json_object_get_int64(v) != ma || !json_object_object_get_ex(e, "minor", &v) ||
		    json_object_get_int64(v) != mi)
			return refuse(c, "linux.devices[%zu] already puts another device at %s", i,
			              path);
		d = e;
	}
	if (!d) {
		d = json_object_new_object();
		if (!d || append(devs, d) < 0)
			return -ENOMEM;
		if (add_str(d, "path", path) < 0 || add_str(d, "type", "b") < 0 ||
		    add_int(d, "major", ma) < 0 || add_int(d, "minor", mi) < 0 ||
		    add_int(d, "fileMode", 0660) < 0 || add_int(d, "uid", 0) < 0 ||
		    add_int(d, "gid", 0) < 0)
			return -ENOMEM;
		say(c, true, "linux.devices: %s, block %lld:%lld, owned by the container's root",
		    path, (long long)ma, (long long)mi);
	}
	r = allow_block(c, linux_, ma, mi, path);
	if (r < 0)
		return r;
	if (!has_user_ns(linux_))
		return 0; /* the runtime makes its own node, owned as linux.devices says */

	/* In a user namespace crun and runc bind-mount the host's node. */
	uint32_t uid, gid;
	r = root_host_id(c, linux_, "uidMappings", &uid);
	if (r >= 0)
		r = root_host_id(c, linux_, "gidMappings", &gid);
	if (r < 0)
		return r;
	if (st.st_uid == uid && st.st_gid == gid)
		return 0;
	/*
	 * The mapping comes from the bundle: a root mapped onto a host account
	 * (below the subordinate id ranges, which start at 65536 or above) would
	 * hand that account the raw device on the host.
	 */
	if (((uid != 0 && uid < OCC_MIN_SUBID) || (gid != 0 && gid < OCC_MIN_SUBID)) && !c->force)
		return refuse(c,
		              "the bundle maps its root to host uid %u gid %u, a host account's; "
		              "chowning %s to it is refused without --force",
		              uid, gid, path);
	if (c->nchowns < ARRAY_SIZE(c->chowns))
		c->chowns[c->nchowns++] = (struct occ_chown){.path = path,
		                                             .uid = uid,
		                                             .gid = gid,
		                                             .old_uid = st.st_uid,
		                                             .old_gid = st.st_gid};
	return 0;
}

/* ------------------------------------------------------------------------ */
/* file                                                                       */
/* ------------------------------------------------------------------------ */

static int read_config(struct occ *c, int dirfd, char **ret, size_t *ret_len, struct stat *st)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t off = 0;
	ssize_t n;

	fd = openat(dirfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return refuse(c, "config.json is a symbolic link; rewriting it would write through "
		                 "or replace the link: copy the file into the bundle first");
	if (fd < 0)
		return refuse(c, "cannot open config.json: %s", strerror(errno));
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return refuse(c, "config.json is not a regular file");
	if (st->st_size > OCC_MAX_SIZE)
		return refuse(c, "config.json is %lld bytes, more than the %d this command reads",
		              (long long)st->st_size, OCC_MAX_SIZE);
	buf = malloc((size_t)st->st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (off < (size_t)st->st_size) {
		n = read(fd, buf + off, (size_t)st->st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*ret_len = off;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* temp file in the bundle, same owner and mode, fsync, rename over config.json. */
static int write_config(int dirfd, const char *text, const struct stat *st)
{
	_cleanup_close_ int fd = -EBADF;
	char tmp[64];
	int r;

	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(tmp, sizeof(tmp), ".config.json.oci-config.%d.%d", (int)getpid(), i);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	if (fchown(fd, st->st_uid, st->st_gid) < 0 || fchmod(fd, st->st_mode & 07777) < 0 ||
	    fd_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		r = -errno;
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if (renameat(dirfd, tmp, dirfd, "config.json") < 0) {
		r = -errno;
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	fsync(dirfd);
	return 0;
}

static int edit(struct occ *c, json_object *root, json_object *rules)
{
	json_object *linux_;
	int r;

	r = member(c, root, "", "linux", json_type_object, true, &linux_);
	if (r >= 0)
		r = edit_seccomp(c, linux_, rules);
	if (r >= 0 && c->loop)
		r = edit_loop(c, root, linux_);
	for (size_t i = 0; r >= 0 && i < c->ndevices; i++)
		r = edit_device(c, linux_, c->devices[i]);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: notifyctl oci-config [--profile NAME] [--loop] [--device PATH]...\n"
	        "                            [--socket PATH] [--rules FILE] [--dry-run] [--force]\n"
	        "                            [--no-chown] BUNDLE\n"
	        "  rewrites BUNDLE/config.json so that the container uses notifyd\n"
	        "  --profile NAME  listenerMetadata profile=NAME (default: default)\n"
	        "  --loop          /dev/null bound at /dev/loop-control, b 7:* rwm\n"
	        "  --device PATH   a block device for the container (repeatable)\n"
	        "  --socket PATH   listenerPath, default " OCC_DEFAULT_SOCKET "\n"
	        "  --rules FILE    notifyd's seccomp rules, default the shipped oci-seccomp.json\n"
	        "  --dry-run       print the changes, write nothing\n"
	        "  --force         replace another listenerPath; give a device in use on the host\n"
	        "  --no-chown      print the chown a user-namespaced bundle's device needs\n");
}

int oci_config_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"profile", required_argument, NULL, 'p'}, {"loop", no_argument, NULL, 'l'},
	    {"device", required_argument, NULL, 'd'},  {"socket", required_argument, NULL, 's'},
	    {"rules", required_argument, NULL, 'r'},   {"dry-run", no_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'f'},         {"no-chown", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},          {0},
	};
	struct occ c = {.profile = "default"};
	_cleanup_close_ int dirfd = -EBADF;
	_cleanup_free_ char *buf = NULL, *outbuf = NULL;
	json_object *root = NULL, *rules = NULL;
	char prof[64], meta[128];
	size_t len = 0, outlen = 0;
	struct stat st;
	int ch, r, status = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			c.profile = optarg;
			c.profile_given = true;
			break;
		case 'l':
			c.loop = true;
			break;
		case 'd':
			if (c.ndevices == OCC_MAX_DEVICES) {
				fprintf(stderr, "notifyctl oci-config: at most %d --device\n",
				        OCC_MAX_DEVICES);
				return 2;
			}
			c.devices[c.ndevices++] = optarg;
			break;
		case 's':
			c.socket = optarg;
			break;
		case 'r':
			c.rules = optarg;
			break;
		case 'n':
			c.dry_run = true;
			break;
		case 'f':
			c.force = true;
			break;
		case 'C':
			c.no_chown = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	snprintf(meta, sizeof(meta), "profile=%s", c.profile);
	if (strlen(c.profile) >= sizeof(prof) ||
	    oci_metadata_profile(meta, prof, sizeof(prof)) < 0 || strcmp(prof, c.profile) != 0) {
		fprintf(stderr, "notifyctl oci-config: invalid profile name '%s'\n", c.profile);
		return 2;
	}
	if (c.socket && (c.socket[0] != '/' || strlen(c.socket) >= 108)) {
		fprintf(stderr,
		        "notifyctl oci-config: --socket needs an absolute path shorter than "
		        "108 bytes\n");
		return 2;
	}
	const char *bundle = argv[optind];

	dirfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		fprintf(stderr, "notifyctl oci-config: %s: %s\n", bundle, strerror(errno));
		return 2;
	}
	c.out = open_memstream(&outbuf, &outlen);
	if (!c.out)
		return 1;
	r = load_rules(&c, &rules);
	if (r >= 0)
		r = read_config(&c, dirfd, &buf, &len, &st);
	if (r >= 0)
		r = parse_object(&c, "config.json", buf, len, &root);
	if (r >= 0)
		r = edit(&c, root, rules);
	fflush(c.out);
	if (r == -EINVAL) {
		fprintf(stderr, "notifyctl oci-config: %s/config.json: %s; nothing written\n",
		        bundle, c.err);
		status = 2;
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "notifyctl oci-config: %s/config.json: %s; nothing written\n",
		        bundle, strerror(-r));
		status = 1;
		goto out;
	}
	fputs(outbuf, stdout);
	if (c.changes == 0) {
		printf("%s/config.json: nothing to change\n", bundle);
	} else if (c.dry_run) {
		printf("%s/config.json: %u changes, not written (--dry-run)\n", bundle, c.changes);
	} else {
		_cleanup_free_ char *text = NULL;
		const char *js = json_object_to_json_string_ext(
		    root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_PRETTY_TAB |
		              JSON_C_TO_STRING_NOSLASHESCAPE);

		if (!js || asprintf(&text, "%s\n", js) < 0) {
			status = 1;
			goto out;
		}
		r = write_config(dirfd, text, &st);
		if (r < 0) {
			fprintf(stderr, "notifyctl oci-config: cannot write %s/config.json: %s\n",
			        bundle, strerror(-r));
			status = 1;
			goto out;
		}
		printf("%s/config.json: %u changes written\n", bundle, c.changes);
	}
	for (size_t i = 0; i < c.nchowns; i++) {
		const struct occ_chown *o = &c.chowns[i];

		if (c.dry_run || c.no_chown) {
			printf("to do: chown %u:%u %s (owned by %u:%u; the container's root must "
			       "own the "
			       "node the runtime bind-mounts into its user namespace)\n",
			       o->uid, o->gid, o->path, o->old_uid, o->old_gid);
		} else if (chown(o->path, o->uid, o->gid) < 0) {
			fprintf(stderr, "notifyctl oci-config: chown %u:%u %s: %s\n", o->uid,
			        o->gid, o->path, strerror(errno));
			status = 1;
		} else {
			printf("chowned %s to %u:%u (was %u:%u): the container's root must own the "
			       "node "
			       "the runtime bind-mounts into its user namespace\n",
			       o->path, o->uid, o->gid, o->old_uid, o->old_gid);
		}
	}
out:
	fclose(c.out);
	json_object_put(root);
	json_object_put(rules);
	return status;
}
