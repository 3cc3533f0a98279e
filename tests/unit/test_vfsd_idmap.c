// SPDX-License-Identifier: MIT
/*
 * vfsd's --translate-uid/--translate-gid rules (vfsd/idmap.c) and their
 * command-line front (vfsd/options.c): every rule type in both directions,
 * ids no rule covers, range boundaries (count 0, the last id, base + count
 * past 4294967295), overlapping rules, and bad syntax.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/tap.h"
#include "vfsd/idmap.h"
#include "vfsd/options.h"

static char err[256];

static int add(struct vfsd_idmap *m, const char *rule)
{
	err[0] = '\0';
	return vfsd_idmap_add(m, rule, err, sizeof(err));
}

static uint32_t host(const struct vfsd_idmap *m, uint32_t id)
{
	uint32_t h = 0xdeadbeef;

	return vfsd_idmap_to_host(m, id, &h) < 0 ? 0xdeadbeef : h;
}

static void test_types(void)
{
	struct vfsd_idmap m = {0};
	uint32_t h;

	CHECK(!vfsd_idmap_active(&m) && !vfsd_idmap_active(NULL), "no rule: inactive");
	CHECK(host(&m, 5) == 5 && vfsd_idmap_to_guest(&m, 7) == 7, "no rule: identity");

	CHECK(add(&m, "map:0:100000:65536") == 0, "map accepted");
	CHECK(vfsd_idmap_active(&m), "map: active");
	CHECK(host(&m, 0) == 100000 && host(&m, 5) == 100005 && host(&m, 65535) == 165535,
	      "map: guest 0/5/65535 -> host 100000/100005/165535");
	CHECK(host(&m, 65536) == 65536, "map: guest past the range unchanged");
	CHECK(vfsd_idmap_to_guest(&m, 100000) == 0 && vfsd_idmap_to_guest(&m, 165535) == 65535,
	      "map: host 100000/165535 -> guest 0/65535");
	CHECK(vfsd_idmap_to_guest(&m, 99999) == 99999 && vfsd_idmap_to_guest(&m, 165536) == 165536,
	      "map: host ids just outside the range unchanged");
	CHECK(vfsd_idmap_to_guest(&m, 0) == 0, "map: host 0 (outside) shown as 0, as Rust does");
	vfsd_idmap_free(&m);

	CHECK(add(&m, "guest:10:2000:5") == 0, "guest accepted");
	CHECK(host(&m, 10) == 2000 && host(&m, 14) == 2004 && host(&m, 15) == 15,
	      "guest: one direction, 10..14 -> 2000..2004");
	CHECK(vfsd_idmap_to_guest(&m, 2000) == 2000, "guest: host ids not translated back");
	vfsd_idmap_free(&m);

	CHECK(add(&m, "host:2000:10:5") == 0, "host accepted");
	CHECK(vfsd_idmap_to_guest(&m, 2000) == 10 && vfsd_idmap_to_guest(&m, 2004) == 14 &&
	          vfsd_idmap_to_guest(&m, 2005) == 2005,
	      "host: host 2000..2004 shown as 10..14");
	CHECK(host(&m, 10) == 10, "host: guest ids not translated");
	vfsd_idmap_free(&m);

	CHECK(add(&m, "squash-guest:0:1234:4294967295") == 0,
	      "squash-guest over every id but 4294967295 accepted (the notifyd form)");
	CHECK(host(&m, 0) == 1234 && host(&m, 1000) == 1234 && host(&m, 4294967294u) == 1234,
	      "squash-guest: 0, 1000 and 4294967294 -> 1234");
	CHECK(host(&m, 4294967295u) == 4294967295u, "squash-guest: -1 (no change) stays -1");
	CHECK(vfsd_idmap_to_guest(&m, 1234) == 1234, "squash-guest: host ids not translated");
	vfsd_idmap_free(&m);

	CHECK(add(&m, "squash-host:100000:65534:65536") == 0, "squash-host accepted");
	CHECK(vfsd_idmap_to_guest(&m, 100000) == 65534 && vfsd_idmap_to_guest(&m, 165535) == 65534,
	      "squash-host: 100000..165535 shown as 65534");
	CHECK(vfsd_idmap_to_guest(&m, 165536) == 165536, "squash-host: past the range unchanged");
	vfsd_idmap_free(&m);

	CHECK(add(&m, "forbid-guest:1000:10") == 0, "forbid-guest accepted");
	CHECK(vfsd_idmap_to_host(&m, 1000, &h) == -EPERM &&
	          vfsd_idmap_to_host(&m, 1009, &h) == -EPERM,
	      "forbid-guest: 1000 and 1009 -> EPERM");
	CHECK(host(&m, 999) == 999 && host(&m, 1010) == 1010, "forbid-guest: neighbours pass");
	CHECK(vfsd_idmap_to_guest(&m, 1000) == 1000, "forbid-guest: host ids not touched");
	vfsd_idmap_free(&m);

	/* Several rules: the Incus-style allowlist of two ids. */
	CHECK(add(&m, "forbid-guest:0:1000") == 0 && add(&m, "map:1000:1000:1") == 0 &&
	          add(&m, "forbid-guest:1001:999") == 0 && add(&m, "map:2000:2000:1") == 0 &&
	          add(&m, "forbid-guest:2001:4294965294") == 0,
	      "allowlist of 1000 and 2000 built from five rules: %s", err);
	CHECK(host(&m, 1000) == 1000 && host(&m, 2000) == 2000, "allowlist: 1000 and 2000 pass");
	CHECK(vfsd_idmap_to_host(&m, 0, &h) == -EPERM &&
	          vfsd_idmap_to_host(&m, 1500, &h) == -EPERM &&
	          vfsd_idmap_to_host(&m, 4294967294u, &h) == -EPERM,
	      "allowlist: 0, 1500, 4294967294 forbidden");
	CHECK(add(&m, "forbid-guest:1001:1999") == -EINVAL && strstr(err, "intersects"),
	      "allowlist: one more overlapping rule refused: %s", err);
	vfsd_idmap_free(&m);
}

static void test_boundaries(void)
{
	struct vfsd_idmap m = {0};

	CHECK(add(&m, "map:5:500:0") == 0, "count 0 accepted (matches nothing)");
	CHECK(host(&m, 5) == 5 && vfsd_idmap_to_guest(&m, 500) == 500, "count 0: identity");
	CHECK(add(&m, "map:5:500:1") == 0, "count 0 overlaps nothing");
	vfsd_idmap_free(&m);

	CHECK(add(&m, "squash-guest:4294967294:7:1") == 0 && host(&m, 4294967294u) == 7,
	      "last valid id as a one-id range");
	vfsd_idmap_free(&m);
	CHECK(add(&m, "squash-guest:4294967295:7:1") == -EINVAL && strstr(err, "overflow"),
	      "base 4294967295 + 1 refused: %s", err);
	CHECK(add(&m, "squash-guest:0:1234:4294967296") == -EINVAL, "count above 32 bits refused");
	CHECK(add(&m, "guest:1:0:4294967295") == -EINVAL, "guest range past 2^32-1 refused");
	CHECK(add(&m, "map:0:1:4294967295") == -EINVAL, "map host range past 2^32-1 refused");
	CHECK(add(&m, "host:0:4294967295:2") == -EINVAL, "host target range past 2^32-1 refused");
	CHECK(add(&m, "forbid-guest:4294967000:295") == 0,
	      "forbid-guest up to 4294967294 accepted");
	CHECK(add(&m, "forbid-guest:4294967000:296") == -EINVAL, "forbid-guest overflow refused");
	CHECK(add(&m, "squash-host:4294967295:0:0") == 0, "base 4294967295 with count 0 accepted");
	CHECK(m.to_host.n == 1 && m.to_guest.n == 1, "refused rules left nothing behind");
	vfsd_idmap_free(&m);
}

static void test_overlap(void)
{
	struct vfsd_idmap m = {0};

	CHECK(add(&m, "map:0:100000:65536") == 0, "map 0:100000:65536");
	CHECK(add(&m, "squash-guest:65535:1:1") == -EINVAL &&
	          strstr(err, "Guest-to-host mapping 'squash [65535, 65536) to 1'") &&
	          strstr(err, "intersects previously added entry"),
	      "guest range overlap refused: %s", err);
	CHECK(add(&m, "squash-guest:65536:1:10") == 0, "adjacent guest range accepted");
	CHECK(add(&m, "host:165535:0:1") == -EINVAL && strstr(err, "Host-to-guest"),
	      "host range overlap refused: %s", err);
	CHECK(add(&m, "host:165536:0:1") == 0, "adjacent host range accepted");
	CHECK(add(&m, "map:70000:99999:2") == -EINVAL && m.to_host.n == 2 && m.to_guest.n == 2,
	      "map whose host half overlaps refused, guest half not added: %s", err);
	CHECK(add(&m, "forbid-guest:65500:100") == -EINVAL, "forbid-guest overlapping refused");
	CHECK(add(&m, "guest:100000:0:1") == 0,
	      "guest 100000 overlaps only a host range: accepted (tables are separate)");
	vfsd_idmap_free(&m);
}

static void test_syntax(void)
{
	struct vfsd_idmap m = {0};
	static const char *const bad[] = {
	    "",
	    "map",
	    "map:",
	    "map:0:100000",
	    "map:0:100000:65536:1",
	    "map:0:100000:65536:",
	    "map:-1:0:1",
	    "map: 0:0:1",
	    "map:0x10:0:1",
	    "map:0:0:1a",
	    "map:0;0;1",
	    "map::0:1",
	    "forbid-guest:0:1:2",
	    "squash-guest:0:1",
	    "squash:0:1:2",
	    "uid:0:1:2",
	    ":0:1:2",
	    "0:1:2:3",
	    "map:99999999999:0:1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(add(&m, bad[i]) == -EINVAL && err[0], "'%s' refused: %s", bad[i], err);
	CHECK(m.to_host.n == 0 && m.to_guest.n == 0, "nothing added by bad rules");

	/* As in the Rust virtiofsd: any separator after the type, type case-insensitive, '+'. */
	CHECK(add(&m, "MAP/0/100000/10") == 0 && host(&m, 3) == 100003,
	      "MAP/0/100000/10 accepted: %s", err);
	CHECK(add(&m, "Forbid-Guest,500,+5") == 0 &&
	          vfsd_idmap_to_host(&m, 504, &(uint32_t){0}) == -EPERM,
	      "Forbid-Guest,500,+5 accepted: %s", err);
	vfsd_idmap_free(&m);
}

static int parse(struct vfsd_options *o, const char *a1, const char *a2, const char *a3)
{
	char *argv[] = {
	    "vfsd", "--socket-path=/tmp/x", "--shared-dir=/tmp", (char *)a1, (char *)a2, (char *)a3,
	    NULL};
	int argc = 3 + (a1 != NULL) + (a2 != NULL) + (a3 != NULL);

	err[0] = '\0';
	return vfsd_options_parse(o, argc, argv, err, sizeof(err));
}

static void test_options(void)
{
	struct vfsd_options o;

	CHECK(parse(&o, NULL, NULL, NULL) == 0 && !vfsd_idmap_active(&o.uid_map) &&
	          !vfsd_idmap_active(&o.gid_map),
	      "no --translate-*: no translation");
	CHECK(parse(&o, "--translate-uid=map:0:100000:65536", "--translate-gid",
	            "squash-guest:0:1234:4294967295") == 0,
	      "--translate-uid=... and --translate-gid ... parsed: %s", err);
	CHECK(o.uid_map.to_host.n == 1 && o.uid_map.to_guest.n == 1 && o.gid_map.to_host.n == 1 &&
	          o.gid_map.to_guest.n == 0,
	      "uid and gid rules kept apart");
	vfsd_idmap_free(&o.uid_map);
	vfsd_idmap_free(&o.gid_map);
	CHECK(parse(&o, "--translate-uid=guest:0:1:1", "--translate-uid=guest:1:2:1",
	            "--translate-uid=host:5:6:7") == 0 &&
	          o.uid_map.to_host.n == 2 && o.uid_map.to_guest.n == 1,
	      "--translate-uid given three times");
	vfsd_idmap_free(&o.uid_map);
	CHECK(parse(&o, "--translate-gid=forbid-guest:0:10", "--translate-gid=forbid-guest:9:1",
	            NULL) == -EINVAL &&
	          strstr(err, "--translate-gid forbid-guest:9:1: Guest-to-host mapping 'fail [9, "
	                      "10)' intersects previously added entry"),
	      "overlap across two options: %s", err);
	vfsd_idmap_free(&o.gid_map);
	CHECK(parse(&o, "--translate-uid=bogus:1:2:3", NULL, NULL) == -EINVAL &&
	          strstr(err, "--translate-uid bogus:1:2:3: unknown type 'bogus'"),
	      "bad type named: %s", err);
	vfsd_idmap_free(&o.uid_map);
	CHECK(parse(&o, "--posix-acl", "--translate-uid=map:0:1:1", NULL) == -EINVAL &&
	          strstr(err, "--posix-acl"),
	      "--posix-acl with --translate-uid refused (as in Rust): %s", err);
	vfsd_idmap_free(&o.uid_map);
	CHECK(parse(&o, "--posix-acl", NULL, NULL) == 0, "--posix-acl alone still accepted");
	/* (not -o here: its copy is kept for the process's life, a leak to LeakSanitizer) */
}

int main(void)
{
	test_types();
	test_boundaries();
	test_overlap();
	test_syntax();
	test_options();
	TAP_EXIT();
}
