/* SPDX-License-Identifier: MIT */
/*
 * notifyctl oci-config, the seccomp part: notifyd's rules (read from the
 * shipped oci-seccomp.json) merged into the bundle's linux.seccomp without
 * dropping or weakening a rule of the bundle's, and listenerPath/Metadata.
 */
#include "notifyd/oci_config_internal.h"
#include "notifyd/oci_listener.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef MV_DATADIR
#define MV_DATADIR "/usr/local/share/mountvisor"
#endif

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
	return occ_str_member(rule, "action");
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
		return occ_refuse(c, "%s syscalls[%zu] is not an object", what, i);
	names = rule_names(rule);
	if (!names || !json_object_is_type(names, json_type_array))
		return occ_refuse(c, "%s syscalls[%zu] has no \"names\" array", what, i);
	for (size_t k = 0; k < json_object_array_length(names); k++)
		if (!json_object_is_type(json_object_array_get_idx(names, k), json_type_string))
			return occ_refuse(c, "%s syscalls[%zu].names[%zu] is not a string", what, i,
			                  k);
	a = rule_action(rule);
	if (!a || !in_list(a, known_actions, ARRAY_SIZE(known_actions)))
		return occ_refuse(c, "%s syscalls[%zu] has no known \"action\"", what, i);
	if (json_object_object_get_ex(rule, "args", &args) &&
	    !json_object_is_type(args, json_type_array) &&
	    !json_object_is_type(args, json_type_null))
		return occ_refuse(c, "%s syscalls[%zu].args is not an array", what, i);
	return 0;
}

static int check_arches(struct occ *c, const char *what, json_object *sc)
{
	json_object *arches;
	int r = occ_member(c, sc, what, "architectures", json_type_array, false, &arches);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(arches); i++) {
		json_object *a = json_object_array_get_idx(arches, i);

		if (!json_object_is_type(a, json_type_string) ||
		    !in_list(json_object_get_string(a), known_arches, ARRAY_SIZE(known_arches)))
			return occ_refuse(
			    c, "%sarchitectures[%zu] is not an architecture this command knows",
			    what, i);
	}
	return 0;
}

/*
 * The shipped rules: syscalls[] of SCMP_ACT_NOTIFY rules and the
 * architectures a new seccomp section gets.
 */
int occ_load_rules(struct occ *c, json_object **ret)
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
		return occ_refuse(c, "cannot read the seccomp rules %s: %s (give --rules FILE)",
		                  file, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_size > OCC_MAX_SIZE)
		return occ_refuse(c,
		                  "the seccomp rules %s are not a regular file of at most %d bytes",
		                  file, OCC_MAX_SIZE);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size)
		return occ_refuse(c, "cannot read the seccomp rules %s", file);
	char what[sizeof(path) + 32];
	snprintf(what, sizeof(what), "the seccomp rules %s", file);
	r = occ_parse_object(c, what, buf, (size_t)n, &o);
	if (r < 0)
		return r;
	r = occ_member(c, o, "rules: ", "syscalls", json_type_array, false, &sys);
	if (r == 0)
		r = occ_refuse(c, "%s have no syscalls", what);
	for (size_t i = 0; r >= 0 && i < json_object_array_length(sys); i++) {
		json_object *rule = json_object_array_get_idx(sys, i);

		r = check_rule(c, what, i, rule);
		if (r >= 0 && strcmp(rule_action(rule), "SCMP_ACT_NOTIFY") != 0)
			r = occ_refuse(c, "%s: syscalls[%zu] is not a SCMP_ACT_NOTIFY rule", what,
			               i);
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
			    occ_append(keep, json_object_get(n)) < 0) {
				json_object_put(keep);
				return -ENOMEM;
			}
		}
		occ_say(c, true,
		        "linux.seccomp: %s taken out of the bundle's %s rule (syscalls[%zu]): "
		        "notifyd decides it now",
		        s, rule_action(rule), i);
		if (json_object_array_length(keep) == 0) {
			json_object_put(keep);
			json_object_array_del_idx(sys, i, 1);
			occ_say(c, true, "linux.seccomp: syscalls[%zu] named only %s and is gone",
			        i, s);
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
			occ_say(c, false,
			        "linux.seccomp: %s stays %s as the bundle says; notifyd will not "
			        "see it",
			        s, deny);
			continue;
		}
		if (other)
			return occ_refuse(
			    c,
			    "linux.seccomp already traps %s (SCMP_ACT_NOTIFY) under other "
			    "conditions than notifyd's rule; fix that rule by hand",
			    s);
		if (same)
			continue;
		if (allow_cond)
			return occ_refuse(
			    c,
			    "linux.seccomp allows %s only under conditions (args); notifyd's "
			    "trap cannot be merged with them without changing which calls "
			    "are allowed; merge by hand",
			    s);
		if (!allow && !action_allows(dflt)) {
			occ_say(c, false,
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
				return occ_refuse(
				    c,
				    "linux.seccomp allows every %s and denies by default "
				    "(%s); notifyd traps only some %s calls and the rest would "
				    "become denied; merge by hand",
				    s, dflt, s);
			r = take_out_of_allow_rules(c, sys, s);
			if (r < 0)
				return r;
		}
		r = occ_append(add, json_object_new_string(s));
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

	r = occ_member(c, sc, "linux.seccomp.", "listenerPath", json_type_string, false, &v);
	if (r < 0)
		return r;
	old_path = json_object_get(v);
	old = v ? json_object_get_string(v) : NULL;
	if (!old || (strcmp(old, sock) != 0 && c->force)) {
		if (occ_add_str(sc, "listenerPath", sock) < 0)
			return -ENOMEM;
		if (old)
			occ_say(c, true, "linux.seccomp.listenerPath: %s replaced by %s (--force)",
			        old, sock);
		else
			occ_say(c, true, "linux.seccomp.listenerPath: set to %s", sock);
	} else if (strcmp(old, sock) != 0) {
		return occ_refuse(
		    c, "linux.seccomp.listenerPath is already %s, not %s; --force replaces it", old,
		    sock);
	}

	r = occ_member(c, sc, "linux.seccomp.", "listenerMetadata", json_type_string, false, &v);
	if (r < 0)
		return r;
	old_meta = json_object_get(v);
	old = v ? json_object_get_string(v) : NULL;
	snprintf(want, sizeof(want), "profile=%s", c->profile);
	if (old && oci_metadata_profile(old, prof, sizeof(prof)) < 0)
		return occ_refuse(c,
		                  "linux.seccomp.listenerMetadata \"%s\" names an invalid profile; "
		                  "notifyd would refuse the container",
		                  old);
	if (!old || strcmp(old, "") == 0) {
		if (occ_add_str(sc, "listenerMetadata", want) < 0)
			return -ENOMEM;
		occ_say(c, true, "linux.seccomp.listenerMetadata: set to %s", want);
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
		if (fclose(f) != 0 || occ_add_str(sc, "listenerMetadata", out) < 0)
			return -ENOMEM;
		occ_say(c, true, "linux.seccomp.listenerMetadata: \"%s\" is now \"%s\"", old, out);
	} else if (strcmp(prof, c->profile) != 0) {
		occ_say(c, false,
		        "linux.seccomp.listenerMetadata \"%s\" (profile %s; --profile changes it)",
		        old, prof);
	}
	return 0;
}

int occ_edit_seccomp(struct occ *c, json_object *linux_, json_object *rules)
{
	json_object *sc, *sys, *rsys, *v;
	const char *dflt;
	char list[512];
	int r;

	r = occ_member(c, linux_, "linux.", "seccomp", json_type_object, false, &sc);
	if (r < 0)
		return r;
	json_object_object_get_ex(rules, "syscalls", &rsys);
	if (r == 0) {
		sc = json_object_new_object();
		if (!sc || json_object_object_add(linux_, "seccomp", sc) < 0) {
			json_object_put(sc);
			return -ENOMEM;
		}
		if (occ_add_str(sc, "defaultAction", "SCMP_ACT_ALLOW") < 0)
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
		occ_say(c, true,
		        "linux.seccomp: added, defaultAction SCMP_ACT_ALLOW with notifyd's %zu "
		        "rules",
		        json_object_array_length(rsys));
		for (size_t i = 0; i < json_object_array_length(rsys); i++) {
			join_names(rule_names(json_object_array_get_idx(rsys, i)), list,
			           sizeof(list));
			occ_say(c, true, "linux.seccomp: trap %s (SCMP_ACT_NOTIFY)", list);
		}
		return edit_listener(c, sc);
	}

	r = occ_member(c, sc, "linux.seccomp.", "defaultAction", json_type_string, false, &v);
	if (r < 0)
		return r;
	dflt = v ? json_object_get_string(v) : NULL;
	if (!dflt || !in_list(dflt, known_actions, ARRAY_SIZE(known_actions)) ||
	    strcmp(dflt, "SCMP_ACT_NOTIFY") == 0)
		return occ_refuse(c, "linux.seccomp.defaultAction is missing or not an action this "
		                     "command can merge with");
	r = check_arches(c, "linux.seccomp.", sc);
	if (r < 0)
		return r;
	r = occ_member(c, sc, "linux.seccomp.", "syscalls", json_type_array, true, &sys);
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
		r = occ_append(sys, rule);
		if (r < 0)
			return r;
		occ_say(c, true, "linux.seccomp: trap %s (SCMP_ACT_NOTIFY%s)", list,
		        rule_nargs(ours) ? ", with notifyd's argument conditions" : "");
	}
	size_t traps = 0;
	for (size_t i = 0; i < json_object_array_length(sys); i++)
		traps +=
		    strcmp(rule_action(json_object_array_get_idx(sys, i)), "SCMP_ACT_NOTIFY") == 0;
	if (traps == 0)
		occ_say(c, false,
		        "linux.seccomp: the bundle denies every syscall notifyd traps; notifyd "
		        "will see nothing from this container");
	return edit_listener(c, sc);
}
