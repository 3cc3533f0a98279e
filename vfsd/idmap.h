/* SPDX-License-Identifier: MIT */
#ifndef VFSD_IDMAP_H
#define VFSD_IDMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * uid or gid translation between guest and host done by vfsd itself: the
 * Rust virtiofsd's --translate-uid / --translate-gid.  One struct vfsd_idmap
 * holds the rules for uids or for gids, in two independent tables (guest to
 * host, host to guest).  An id no rule of a table covers is passed through
 * unchanged, as in the Rust virtiofsd.  Rules of one table never overlap
 * (checked when added), so the first match is the only one.
 */
enum vfsd_idmap_kind {
	VFSD_IDMAP_RANGE,  /* [from, from+count) -> [to, to+count) */
	VFSD_IDMAP_SQUASH, /* [from, from+count) -> to */
	VFSD_IDMAP_FAIL,   /* [from, from+count) -> EPERM (guest to host only) */
};

struct vfsd_idmap_rule {
	uint32_t from, count, to;
	enum vfsd_idmap_kind kind;
};

struct vfsd_idmap_table {
	struct vfsd_idmap_rule *rules;
	size_t n;
};

struct vfsd_idmap {
	struct vfsd_idmap_table to_host;  /* ids from requests */
	struct vfsd_idmap_table to_guest; /* ids in replies */
};

/*
 * vfsd_idmap_add() - parse one rule "TYPE:A:B[:C]" and add it to @m.
 * TYPE is guest, host, map, squash-guest, squash-host (each SOURCE:TARGET:COUNT;
 * map is GUEST:HOST:COUNT) or forbid-guest (GUEST:COUNT).  As in the Rust
 * virtiofsd the separator is whatever character follows TYPE (the same for
 * every field) and TYPE is case-insensitive.  Refuses a range that passes
 * 4294967295 and a range that overlaps one already in the same table.
 * On error @m is unchanged and @err says why.
 * Return: 0, -EINVAL or -ENOMEM.
 */
int vfsd_idmap_add(struct vfsd_idmap *m, const char *rule, char *err, size_t errlen);
void vfsd_idmap_free(struct vfsd_idmap *m);

/* Out of line: only called when the table has rules. */
int vfsd_idmap_lookup_host(const struct vfsd_idmap_table *t, uint32_t guest_id, uint32_t *ret);
uint32_t vfsd_idmap_lookup_guest(const struct vfsd_idmap_table *t, uint32_t host_id);

/* Does @m translate anything at all?  (NULL: no map.) */
static inline bool vfsd_idmap_active(const struct vfsd_idmap *m)
{
	return m && (m->to_host.n || m->to_guest.n);
}

/*
 * vfsd_idmap_to_host() - the host id for a guest's id.  Without rules this
 * is one test and a copy, so the request path pays nothing.
 * Return: 0, or -EPERM for an id a forbid-guest rule covers.
 */
static inline int vfsd_idmap_to_host(const struct vfsd_idmap *m, uint32_t guest_id, uint32_t *ret)
{
	if (!m || !m->to_host.n) {
		*ret = guest_id;
		return 0;
	}
	return vfsd_idmap_lookup_host(&m->to_host, guest_id, ret);
}

/* The id the guest is shown for a host id (never fails). */
static inline uint32_t vfsd_idmap_to_guest(const struct vfsd_idmap *m, uint32_t host_id)
{
	if (!m || !m->to_guest.n)
		return host_id;
	return vfsd_idmap_lookup_guest(&m->to_guest, host_id);
}

#endif
