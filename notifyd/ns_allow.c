/* SPDX-License-Identifier: MIT */
#include "notifyd/ns_allow.h"
#include "common/cleanup.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_MAX_RULES    1024
#define NS_MAX_PROFILES 32

enum ns_policy { POLICY_ALLOW, POLICY_DEFAULT, POLICY_REFUSE };

struct ns_rule {
	char ns[64]; /* a namespace, or "*" for every namespace */
	char profiles[NS_MAX_PROFILES][64];
	size_t n_profiles;
};

struct ns_list {
	enum ns_policy fallback;    /* DEFAULT or REFUSE */
	enum ns_policy unannotated; /* ALLOW, DEFAULT or REFUSE */
	struct ns_rule *rules;
	size_t n_rules;
};

/* NULL: no allowlist.  Only the event loop reads or replaces it. */
static struct ns_list *ns_current;

struct ns_parse {
	struct ns_list *list;
	struct ns_rule *cur; /* NULL in [policy] */
	bool in_policy;
	bool have_section;
	char section[96];
	char msg[200];
	int line;  /* of the error */
	int lines; /* physical lines read so far (this libinih passes no line numbers) */
	FILE *f;
};

/* ini_reader that counts lines, so messages can say file:line. */
static char *reader(char *str, int num, void *stream)
{
	struct ns_parse *p = stream;
	char *r = fgets(str, num, p->f);

	if (r && strchr(r, '\n'))
		p->lines++;
	return r;
}

static void ns_list_free(struct ns_list *l)
{
	if (!l)
		return;
	free(l->rules);
	free(l);
}

static bool is_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* The same rule as listenerMetadata's profile=NAME (oci_listener.c). */
static bool is_profile_name(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int parse_fail(struct ns_parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int parse_fail(struct ns_parse *p, int line, const char *fmt, ...)
{
	va_list ap;

	if (!p->msg[0]) {
		va_start(ap, fmt);
		vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
		va_end(ap);
		p->line = line;
	}
	return 0;
}

static int parse_policy(struct ns_parse *p, const char *key, const char *value, int line)
{
	if (strcmp(key, "fallback") == 0) {
		if (strcmp(value, "default") == 0)
			p->list->fallback = POLICY_DEFAULT;
		else if (strcmp(value, "refuse") == 0)
			p->list->fallback = POLICY_REFUSE;
		else
			return parse_fail(p, line, "fallback = %s: not default or refuse", value);
		return 1;
	}
	if (strcmp(key, "unannotated") == 0) {
		if (strcmp(value, "allow") == 0)
			p->list->unannotated = POLICY_ALLOW;
		else if (strcmp(value, "default") == 0)
			p->list->unannotated = POLICY_DEFAULT;
		else if (strcmp(value, "refuse") == 0)
			p->list->unannotated = POLICY_REFUSE;
		else
			return parse_fail(p, line, "unannotated = %s: not allow, default or refuse",
			                  value);
		return 1;
	}
	return parse_fail(p, line, "unknown key '%s' in [policy]", key);
}

static int parse_profiles(struct ns_parse *p, const char *value, int line)
{
	_cleanup_free_ char *copy = strdup(value);
	char *save = NULL;

	if (!copy)
		return parse_fail(p, line, "%s", "out of memory");
	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		if (!is_profile_name(tok))
			return parse_fail(p, line, "'%s' is not a profile name", tok);
		if (p->cur->n_profiles == NS_MAX_PROFILES)
			return parse_fail(p, line, "%s", "more than 32 profiles in one namespace");
		snprintf(p->cur->profiles[p->cur->n_profiles++], 64, "%s", tok);
	}
	return 1;
}

static int parse_section(struct ns_parse *p, const char *section, int line)
{
	struct ns_list *l = p->list;
	const char *ns;

	p->cur = NULL;
	p->in_policy = strcmp(section, "policy") == 0;
	if (p->in_policy)
		return 1;
	if (strncmp(section, "namespace ", 10) != 0)
		return parse_fail(p, line, "unknown section [%s]", section);
	ns = section + 10;
	if (strcmp(ns, "*") != 0 && !is_label(ns))
		return parse_fail(p, line, "[namespace %s]: not a namespace name (DNS-1123 label)",
		                  ns);
	for (size_t i = 0; i < l->n_rules; i++)
		if (strcmp(l->rules[i].ns, ns) == 0)
			return parse_fail(p, line, "[namespace %s] given twice", ns);
	if (l->n_rules == NS_MAX_RULES)
		return parse_fail(p, line, "%s", "more than 1024 namespaces");
	if (l->n_rules % 16 == 0) {
		struct ns_rule *r = realloc(l->rules, (l->n_rules + 16) * sizeof(*r));
		if (!r)
			return parse_fail(p, line, "%s", "out of memory");
		l->rules = r;
	}
	p->cur = &l->rules[l->n_rules++];
	memset(p->cur, 0, sizeof(*p->cur));
	snprintf(p->cur->ns, sizeof(p->cur->ns), "%s", ns);
	return 1;
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct ns_parse *p = user;
	int line = p->lines;

	if (p->msg[0])
		return 0;
	/* libinih names the section with each key: a new name is a new section. */
	if (!p->have_section || strcmp(section, p->section) != 0) {
		snprintf(p->section, sizeof(p->section), "%s", section);
		p->have_section = true;
		if (!parse_section(p, section, line))
			return 0;
	}
	if (p->in_policy)
		return parse_policy(p, key, value, line);
	if (!p->cur)
		return parse_fail(p, line, "key '%s' outside [policy] or [namespace NAME]", key);
	if (strcmp(key, "profiles") == 0)
		return parse_profiles(p, value, line);
	return parse_fail(p, line, "unknown key '%s' in [namespace]", key);
}

int ns_allow_load(const char *path, char *err, size_t errlen)
{
	struct ns_parse p = {0};
	int r;

	if (!path) {
		ns_list_free(ns_current);
		ns_current = NULL;
		return 0;
	}
	p.list = calloc(1, sizeof(*p.list));
	if (!p.list)
		return -ENOMEM;
	p.list->fallback = POLICY_DEFAULT;
	p.list->unannotated = POLICY_ALLOW;
	p.f = fopen(path, "re");
	if (!p.f) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		ns_list_free(p.list);
		return -EINVAL;
	}
	r = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.f);
	p.lines++; /* a last line without a newline */
	if (r != 0 || p.msg[0]) {
		if (p.msg[0])
			snprintf(err, errlen, "%s:%d: %s", path, p.line, p.msg);
		else
			snprintf(err, errlen, "%s:%d: syntax error", path, r);
		ns_list_free(p.list);
		return -EINVAL;
	}
	ns_list_free(ns_current);
	ns_current = p.list;
	return 0;
}

void ns_allow_shutdown(void)
{
	ns_list_free(ns_current);
	ns_current = NULL;
}

static bool rule_allows(const struct ns_rule *r, const char *profile)
{
	for (size_t i = 0; i < r->n_profiles; i++)
		if (strcmp(r->profiles[i], profile) == 0 || strcmp(r->profiles[i], "*") == 0)
			return true;
	return false;
}

static bool allowed(const struct ns_list *l, const char *ns, const char *profile)
{
	for (size_t i = 0; i < l->n_rules; i++)
		if ((strcmp(l->rules[i].ns, ns) == 0 || strcmp(l->rules[i].ns, "*") == 0) &&
		    rule_allows(&l->rules[i], profile))
			return true;
	return false;
}

static void apply(enum ns_policy policy, const char *profile, struct ns_allow_decision *ret)
{
	if (policy == POLICY_REFUSE) {
		ret->verdict = NS_ALLOW_REFUSED;
		snprintf(ret->profile, sizeof(ret->profile), "%s", profile);
	} else {
		ret->verdict = NS_ALLOW_FALLBACK;
		snprintf(ret->profile, sizeof(ret->profile), "default");
	}
}

void ns_allow_decide(enum ns_allow_source src, const char *ns, const char *profile,
                     struct ns_allow_decision *ret)
{
	const struct ns_list *l = ns_current;

	snprintf(ret->profile, sizeof(ret->profile), "%s", profile);
	ret->verdict = NS_ALLOW_OFF;
	if (!l)
		return;
	if (src == NS_SOURCE_NONE) {
		if (l->unannotated == POLICY_ALLOW)
			return;
		if (strcmp(profile, "default") == 0 && l->unannotated == POLICY_DEFAULT) {
			ret->verdict = NS_ALLOW_ALLOWED;
			return;
		}
		apply(l->unannotated, profile, ret);
		return;
	}
	/* `default` is what a refused profile falls back to: every namespace may have it. */
	if (src == NS_SOURCE_VALID &&
	    (strcmp(profile, "default") == 0 || allowed(l, ns, profile))) {
		ret->verdict = NS_ALLOW_ALLOWED;
		return;
	}
	/*
	 * An invalid annotation is a namespace allowed nothing, not even default:
	 * it can only come from a hostile or misconfigured bundle.
	 */
	apply(l->fallback, profile, ret);
}

const char *ns_allow_verdict_name(enum ns_allow_verdict v)
{
	switch (v) {
	case NS_ALLOW_OFF:
		return "unchecked";
	case NS_ALLOW_ALLOWED:
		return "allowed";
	case NS_ALLOW_FALLBACK:
		return "fallback-default";
	case NS_ALLOW_REFUSED:
		return "refused";
	}
	return "?";
}
