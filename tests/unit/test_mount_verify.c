/* SPDX-License-Identifier: MIT */
/*
 * mount_verify_ext4_text(): the effective options of a new ext2/3/4
 * superblock (as /proc/fs/ext4/DEV/options lists them) against a profile,
 * with the lists measured on Linux 6.18.
 */
#include "notifyd/mount_verify.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plain mkfs.ext4 image, mounted with errors=remount-ro,barrier (the shipped profiles). */
#define PLAIN                                                                                      \
	"rw\nbsddf\nnogrpid\nblock_validity\ndioread_nolock\nnodiscard\ndelalloc\nnowarn_on_"      \
	"error\n"                                                                                  \
	"journal_checksum\nbarrier\nauto_da_alloc\nuser_xattr\nacl\nnoquota\nresuid=0\nresgid=0\n" \
	"errors=remount-ro\ncommit=5\nmin_batch_time=0\nmax_batch_time=15000\ni_version\nstripe="  \
	"0\n"                                                                                      \
	"data=ordered\ninode_readahead_blks=32\ninit_itable=10\nmax_dir_size_kb=0\n"               \
	"prefetch_block_bitmaps\n"

/* mkfs.ext4 + s_mount_opts "nobarrier" + tune2fs -o journal_data, no caller options. */
#define DEFAULTS                                                                                   \
	"rw\nbsddf\nnogrpid\nblock_validity\nnodioread_nolock\nnodiscard\nnodelalloc\n"            \
	"nowarn_on_error\njournal_checksum\nnobarrier\nauto_da_alloc\nuser_xattr\nacl\nnoquota\n"  \
	"resuid=0\nresgid=0\nerrors=continue\ncommit=5\nmin_batch_time=0\nmax_batch_time=15000\n"  \
	"i_version\nstripe=0\ndata=journal\ninode_readahead_blks=32\ninit_itable=10\n"             \
	"max_dir_size_kb=0\nprefetch_block_bitmaps\n"

static char *none[] = {NULL};
static char *lxd_allowed[] = {"ro",       "rw",     "noatime",      "nodiratime",
                              "relatime", "errors", "data=ordered", NULL};
static char *lxd_forced[] = {"errors=remount-ro", "barrier", NULL};
static char *trusted_allowed[] = {
    "ro",       "rw",     "noatime",      "nodiratime",     "relatime", "strictatime",
    "lazytime", "errors", "data=ordered", "data=writeback", "discard",  "nodiscard",
    "commit",   NULL};

static const struct profile_fs lxd = {.type = "ext4",
                                      .action = PROFILE_ACTION_KERNEL,
                                      .options = lxd_forced,
                                      .allowed_options = lxd_allowed};
static const struct profile_fs trusted = {.type = "ext4",
                                          .action = PROFILE_ACTION_KERNEL,
                                          .options = lxd_forced,
                                          .allowed_options = trusted_allowed};
static const struct profile_fs bare = {
    .type = "ext4", .action = PROFILE_ACTION_KERNEL, .options = none, .allowed_options = none};

/* The first refused option, "" when everything passes. */
static const char *verdict(const char *text, const struct profile_fs *fs)
{
	static char out[128];
	char *copy = strdup(text);
	const char *bad = NULL;
	int r;

	if (!copy)
		return "ENOMEM";
	r = mount_verify_ext4_text(copy, fs, &bad);
	snprintf(out, sizeof(out), "%s", r == 0 ? "" : r == -EPERM && bad ? bad : "error");
	free(copy);
	return out;
}

#define VERDICT(text, fs, want)                                                                    \
	do {                                                                                       \
		const char *got_ = verdict(text, fs);                                              \
		CHECK(strcmp(got_, want) == 0, "%s: %s -> \"%s\" (got \"%s\")", #fs, #text, want,  \
		      got_);                                                                       \
	} while (0)

/*
 * Every ext* section with the kernel action in the shipped profiles: a plain
 * image (with or without a journal) mounts, the red team's images do not.
 */
static void test_shipped(void)
{
	const char *src = getenv("MV_SRC");
	char path[512], err[512];
	struct profile_set *set = NULL;
	unsigned n = 0;

	snprintf(path, sizeof(path), "%s/profiles", src ? src : ".");
	CHECK(profile_set_load_dir(path, &set, err, sizeof(err)) == 0, "shipped profiles load (%s)",
	      err);
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->v[i]->n_fs; j++) {
			const struct profile_fs *fs = &set->v[i]->fs[j];
			char what[128];

			if (fs->action != PROFILE_ACTION_KERNEL || strncmp(fs->type, "ext", 3))
				continue;
			n++;
			snprintf(what, sizeof(what), "%s [fs %s]", set->v[i]->name, fs->type);
			CHECK(!strcmp(verdict(PLAIN, fs), ""), "%s: a plain image passes", what);
			CHECK(
			    !strcmp(
			        verdict("rw\nnojournal_checksum\nbarrier\nerrors=remount-ro\n", fs),
			        ""),
			    "%s: an image without a journal passes", what);
			CHECK(!strcmp(verdict("rw\nbarrier\nnorecovery\n", fs), "norecovery"),
			      "%s: a stored noload is refused", what);
			CHECK(!strcmp(verdict("rw\nbarrier\ndata=journal\n", fs), "data=journal"),
			      "%s: a stored journal_data is refused", what);
			CHECK(!strcmp(verdict("rw\nnobarrier\n", fs), "nobarrier"),
			      "%s: nobarrier is refused if the forced barrier did not win", what);
		}
	CHECK(n >= 4, "shipped profiles give %u ext* sections the kernel action", n);
	profile_set_free(set);
}

int main(void)
{
	test_shipped();
	/* The kernel's ordinary display of every setting passes, even with no options allowed. */
	VERDICT(PLAIN, &bare, "");
	VERDICT(PLAIN, &lxd, "");
	VERDICT(PLAIN, &trusted, "");
	/* ... also errors=continue (mkfs's default) and a journal-less image or ext2. */
	VERDICT("rw\nnojournal_checksum\nbarrier\nerrors=continue\ncommit=5\nnodelalloc\n", &bare,
	        "");

	/* The red team's images. */
	VERDICT(DEFAULTS, &lxd, "nobarrier");
	VERDICT(DEFAULTS, &trusted, "nobarrier");
	VERDICT("rw\nnojournal_checksum\nnorecovery\nbarrier\ndata=ordered\n", &lxd, "norecovery");
	VERDICT("rw\nnojournal_checksum\nnorecovery\nbarrier\n", &trusted, "norecovery");
	/* With the forced barrier winning over nobarrier, data=journal is what is left. */
	VERDICT("rw\nbarrier\ndata=journal\n", &lxd, "data=journal");
	VERDICT("rw\nbarrier\ndata=journal\n", &trusted, "data=journal");

	/* Allowed by the profile: passes, whoever asked (caller or image). */
	VERDICT("rw\nbarrier\ndata=writeback\n", &trusted, "");
	VERDICT("rw\nbarrier\ndata=writeback\n", &lxd, "data=writeback");
	{
		static char *a[] = {"barrier", NULL}, *b[] = {"noload", NULL};
		const struct profile_fs key = {.options = none, .allowed_options = a};
		const struct profile_fs noload = {.options = b, .allowed_options = none};
		/* "barrier" as a key allows barrier=0 from the caller, which shows as nobarrier. */
		VERDICT("rw\nnobarrier\n", &key, "");
		/* A forced noload shows as norecovery. */
		VERDICT("rw\nnorecovery\n", &noload, "");
	}

	/* Each guarded option, one at a time, under a profile that allows nothing. */
	VERDICT("rw\njournal_async_commit\n", &bare, "journal_async_commit");
	VERDICT("rw\nerrors=panic\n", &bare, "errors=panic");
	VERDICT("rw\nerrors=panic\n", &lxd, ""); /* lxd allows the key errors (forced anyway) */
	VERDICT("rw\nwarn_on_error\n", &bare, "warn_on_error");
	VERDICT("rw\nnoblock_validity\n", &bare, "noblock_validity");
	VERDICT("rw\ndebug\n", &bare, "debug");
	VERDICT("rw\ndax=always\n", &bare, "dax=always");
	VERDICT("rw\ndax=inode\n", &bare, "dax=inode");
	VERDICT("rw\ndax=never\n", &bare, "");
	VERDICT("rw\nusrjquota=aquota.user\n", &bare, "usrjquota=aquota.user");
	VERDICT("rw\ngrpjquota=x\n", &bare, "grpjquota=x");
	/* Not guarded: no harm beyond the image's own data. */
	VERDICT("rw\nnodelalloc\nnoauto_da_alloc\ncommit=300\nnouid32\ndiscard\n", &bare, "");
	/* Commas work too; a guarded name inside another item does not match. */
	VERDICT("rw,barrier,data=ordered", &bare, "");
	VERDICT("rw,nobarrier", &bare, "nobarrier");
	VERDICT("rw\nnobarrierx\nxdebug\n", &bare, "");
	/* libmount parses the text now (issue 15): its quote grouping must not hide a
	 * guarded option, so an item with a quote is refused. */
	VERDICT("rw\nusrjquota=a\"\nnobarrier\nx\"\n", &bare, "usrjquota=a\"");
	VERDICT("rw\ncommit=5\"\n", &bare, "commit=5\"");
	VERDICT("rw,\"debug,dax\",barrier", &bare, "\"debug");
	/* Empty lines and items are skipped. */
	VERDICT("\n\nrw\n\n,,\ndebug\n", &bare, "debug");
	VERDICT("", &bare, "");
	TAP_EXIT();
}
