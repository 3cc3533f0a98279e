// SPDX-License-Identifier: MIT
/*
 * --translate-uid / --translate-gid rules (idmap.h), with the Rust
 * virtiofsd's syntax and meaning:
 *
 *   guest:G:H:N         guest ids [G, G+N) are host ids [H, H+N)
 *   host:H:G:N          host ids [H, H+N) are shown to the guest as [G, G+N)
 *   map:G:H:N           both of the above
 *   squash-guest:G:H:N  guest ids [G, G+N) all become host id H
 *   squash-host:H:G:N   host ids [H, H+N) are all shown as guest id G
 *   forbid-guest:G:N    guest ids [G, G+N) may not create or own files: EPERM
 *
 * All rule checks happen here, once, at start-up; the lookups trust the
 * tables.  Rule counts are small (a handful per daemon), so a linear scan
 * beats anything cleverer.
 */
#include "vfsd/idmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bound on rules per table: a command line, not a database. */
#define VFSD_IDMAP_MAX_RULES 4096

struct rule_type {
	const char *name;
	unsigned nfields;
	bool to_host, to_guest; /* which tables it adds to */
	enum vfsd_idmap_kind kind;
};

static const struct rule_type rule_types[] = {
    {"guest", 3, true, false, VFSD_IDMAP_RANGE},
    {"host", 3, false, true, VFSD_IDMAP_RANGE},
    {"map", 3, true, true, VFSD_IDMAP_RANGE},
    {"squash-guest", 3, true, false, VFSD_IDMAP_SQUASH},
    {"squash-host", 3, false, true, VFSD_IDMAP_SQUASH},
    {"forbid-guest", 2, true, false, VFSD_IDMAP_FAIL},
};

/* A u32 in decimal, optionally with a leading '+' (Rust's u32::from_str). */
static int parse_u32(const char *s, size_t len, uint32_t *ret)
{
	uint64_t v = 0;
	size_t i = 0;

	if (len > 0 && s[0] == '+')
		i = 1;
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return -ERANGE;
	}
	*ret = (uint32_t)v;
	return 0;
}

static bool overlaps(const struct vfsd_idmap_rule *a, uint32_t from, uint32_t count)
{
	if (!a->count || !count)
		return false;
	return (uint64_t)a->from < (uint64_t)from + count &&
	       (uint64_t)from < (uint64_t)a->from + a->count;
}

static void describe(const struct vfsd_idmap_rule *r, char *buf, size_t len)
{
	uint64_t end = (uint64_t)r->from + r->count;

	switch (r->kind) {
	case VFSD_IDMAP_RANGE:
		snprintf(buf, len, "map [%u, %llu) to [%u, %llu)", r->from, (unsigned long long)end,
		         r->to, (unsigned long long)r->to + r->count);
		break;
	case VFSD_IDMAP_SQUASH:
		snprintf(buf, len, "squash [%u, %llu) to %u", r->from, (unsigned long long)end,
		         r->to);
		break;
	case VFSD_IDMAP_FAIL:
		snprintf(buf, len, "fail [%u, %llu)", r->from, (unsigned long long)end);
		break;
	}
}

/* Is there room for @r in @t, and does it clash with nothing there? */
static int check_rule(const struct vfsd_idmap_table *t, const struct vfsd_idmap_rule *r,
                      const char *table, char *err, size_t errlen)
{
	char what[96];

	if (t->n >= VFSD_IDMAP_MAX_RULES) {
		snprintf(err, errlen, "more than %d %s rules", VFSD_IDMAP_MAX_RULES, table);
		return -EINVAL;
	}
	for (size_t i = 0; i < t->n; i++)
		if (overlaps(&t->rules[i], r->from, r->count)) {
			describe(r, what, sizeof(what));
			snprintf(err, errlen, "%s mapping '%s' intersects previously added entry",
			         table, what);
			return -EINVAL;
		}
	return 0;
}

static int push(struct vfsd_idmap_table *t, const struct vfsd_idmap_rule *r)
{
	struct vfsd_idmap_rule *n = realloc(t->rules, (t->n + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	n[t->n++] = *r;
	t->rules = n;
	return 0;
}

int vfsd_idmap_add(struct vfsd_idmap *m, const char *rule, char *err, size_t errlen)
{
	const struct rule_type *type = NULL;
	char sep;
	uint32_t f[3];
	unsigned nf = 0;
	size_t plen = 0;
	const char *p;
	int r;

	/* TYPE: letters, digits, '-' and '_'; the next character separates the fields. */
	while (rule[plen] &&
	       (isalnum((unsigned char)rule[plen]) || rule[plen] == '-' || rule[plen] == '_'))
		plen++;
	if (!rule[plen]) {
		snprintf(err, errlen, "expected TYPE:ID:ID[:COUNT]");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(rule_types) / sizeof(rule_types[0]); i++)
		if (plen == strlen(rule_types[i].name) &&
		    !strncasecmp(rule, rule_types[i].name, plen))
			type = &rule_types[i];
	if (!type) {
		snprintf(err, errlen,
		         "unknown type '%.*s' (guest, host, map, squash-guest, squash-host, "
		         "forbid-guest)",
		         (int)plen, rule);
		return -EINVAL;
	}
	sep = rule[plen];
	p = rule + plen + 1;
	for (;;) {
		const char *end = strchr(p, sep);
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (nf < 3) {
			r = parse_u32(p, len, &f[nf]);
			if (r < 0) {
				snprintf(err, errlen, "invalid value '%.*s'%s", (int)len, p,
				         r == -ERANGE ? " (above 4294967295)" : "");
				return -EINVAL;
			}
		}
		nf++;
		if (!end)
			break;
		p = end + 1;
	}
	if (nf != type->nfields) {
		snprintf(err, errlen, "%s takes %u numbers, got %u", type->name, type->nfields, nf);
		return -EINVAL;
	}
	/* forbid-guest has no target: GUEST:COUNT. */
	struct vfsd_idmap_rule g = {.from = f[0],
	                            .to = type->nfields == 3 ? f[1] : 0,
	                            .count = type->nfields == 3 ? f[2] : f[1],
	                            .kind = type->kind};
	struct vfsd_idmap_rule h = {.from = f[1], .to = f[0], .count = g.count, .kind = type->kind};

	/* Ids are 32 bits; a range that would wrap around to 0 (root) is refused. */
	if ((uint64_t)g.from + g.count > UINT32_MAX ||
	    (type->kind == VFSD_IDMAP_RANGE && (uint64_t)g.to + g.count > UINT32_MAX)) {
		snprintf(err, errlen, "range overflow (past 4294967295)");
		return -EINVAL;
	}
	if (!type->to_host) /* host, squash-host: SOURCE is a host id */
		h = g;
	if (type->to_host && (r = check_rule(&m->to_host, &g, "Guest-to-host", err, errlen)) < 0)
		return r;
	if (type->to_guest && (r = check_rule(&m->to_guest, &h, "Host-to-guest", err, errlen)) < 0)
		return r;
	if (type->to_host && (r = push(&m->to_host, &g)) < 0)
		return r;
	if (type->to_guest && (r = push(&m->to_guest, &h)) < 0) {
		if (type->to_host)
			m->to_host.n--;
		return r;
	}
	return 0;
}

void vfsd_idmap_free(struct vfsd_idmap *m)
{
	free(m->to_host.rules);
	free(m->to_guest.rules);
	*m = (struct vfsd_idmap){0};
}

static const struct vfsd_idmap_rule *find(const struct vfsd_idmap_table *t, uint32_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (id >= t->rules[i].from && id - t->rules[i].from < t->rules[i].count)
			return &t->rules[i];
	return NULL;
}

static uint32_t apply(const struct vfsd_idmap_rule *r, uint32_t id)
{
	return r->kind == VFSD_IDMAP_SQUASH ? r->to : r->to + (id - r->from);
}

int vfsd_idmap_lookup_host(const struct vfsd_idmap_table *t, uint32_t guest_id, uint32_t *ret)
{
	const struct vfsd_idmap_rule *r = find(t, guest_id);

	if (!r) {
		*ret = guest_id;
		return 0;
	}
	if (r->kind == VFSD_IDMAP_FAIL)
		return -EPERM;
	*ret = apply(r, guest_id);
	return 0;
}

uint32_t vfsd_idmap_lookup_guest(const struct vfsd_idmap_table *t, uint32_t host_id)
{
	const struct vfsd_idmap_rule *r = find(t, host_id);

	return r ? apply(r, host_id) : host_id;
}
