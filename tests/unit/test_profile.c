/* SPDX-License-Identifier: MIT */
#include "notifyd/profile.h"
#include "common/cleanup.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/mv-profile-test.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

/* Load NAME.conf with TEXT; returns the result and leaves the message in err. */
static int load(const char *text, struct profile **p, char *err, size_t errlen)
{
	char path[256];

	write_file("t.conf", text);
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	*p = NULL;
	err[0] = '\0';
	return profile_load_file(path, "t", p, err, errlen);
}

/* The error names t.conf at this line. */
static int err_at(const char *err, int line)
{
	char want[32];

	snprintf(want, sizeof(want), "t.conf:%d:", line);
	return strstr(err, want) != NULL;
}

static void test_shipped(void)
{
	const char *src = getenv("MV_SRC");
	char path[512], err[512];
	struct profile_set *set = NULL;

	snprintf(path, sizeof(path), "%s/profiles", src ? src : ".");
	CHECK(profile_set_load_dir(path, &set, err, sizeof(err)) == 0, "shipped profiles load (%s)",
	      err);
	if (!set)
		return;
	const struct profile *def = profile_set_find(set, "default");
	CHECK(def != NULL, "a 'default' profile is shipped");
	CHECK(profile_set_find(set, "trusted-images") && profile_set_find(set, "lxd-compatible"),
	      "trusted-images and lxd-compatible are shipped");
	if (def) {
		const struct profile_fs *ext4 = profile_find_fs(def, "ext4");
		CHECK(ext4 && ext4->action != PROFILE_ACTION_KERNEL,
		      "default never gives ext4 images to the kernel");
		CHECK(def->default_action == PROFILE_ACTION_DENY, "default denies unknown types");
	}
	/* Issue 13 item 4: errors=panic is never the caller's to choose. */
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->v[i]->n_fs; j++) {
			const struct profile_fs *fs = &set->v[i]->fs[j];
			bool forced = false;

			if (fs->action != PROFILE_ACTION_KERNEL &&
			    fs->action != PROFILE_ACTION_FUSE)
				continue;
			for (char **o = fs->options; *o; o++)
				forced |= !strncmp(*o, "errors=", 7) && strcmp(*o, "errors=panic");
			CHECK(!profile_option_allowed(fs, "errors=panic") || forced,
			      "%s [fs %s]: errors=panic refused or overridden by a forced errors=",
			      set->v[i]->name, fs->type);
			CHECK(
			    fs->action != PROFILE_ACTION_KERNEL || strncmp(fs->type, "ext", 3) ||
			        forced,
			    "%s [fs %s]: kernel ext* mounts force errors= (the image's superblock "
			    "may say panic)",
			    set->v[i]->name, fs->type);
		}
	/* Issue 13 item 7: a container-made image never reaches trusted-images' kernel parser. */
	const struct profile *trusted = profile_set_find(set, "trusted-images");
	CHECK(trusted && trusted->max_loop_devices == 0,
	      "trusted-images gives no loop devices (container-made images are not trusted)");
	profile_set_free(set);
}

static void test_keys(void)
{
	struct profile *p;
	char err[512];

	CHECK(load("[profile]\ndefault-action = continue\ndefault-errno = EACCES\nmax-mounts = 7\n"
	           "description = x y z\n"
	           "[fs ext4]\naction = kernel\nidmap = yes\noptions = errors=remount-ro\n"
	           "allowed-options = ro , noatime,data=ordered\n"
	           "[fs xfs]\naction = deny\nerrno = ENODEV\n",
	           &p, err, sizeof(err)) == 0,
	      "a profile with every key loads (%s)", err);
	if (!p)
		return;
	CHECK(p->default_action == PROFILE_ACTION_CONTINUE && p->default_errno == EACCES &&
	          p->max_mounts == 7,
	      "[profile] keys");
	const struct profile_fs *e = profile_find_fs(p, "ext4");
	CHECK(e && e->action == PROFILE_ACTION_KERNEL && e->idmap, "[fs ext4] action and idmap");
	CHECK(e && e->options[0] && strcmp(e->options[0], "errors=remount-ro") == 0 &&
	          !e->options[1],
	      "options list");
	CHECK(e && e->allowed_options[0] && strcmp(e->allowed_options[0], "ro") == 0 &&
	          strcmp(e->allowed_options[1], "noatime") == 0 &&
	          strcmp(e->allowed_options[2], "data=ordered") == 0 && !e->allowed_options[3],
	      "allowed-options list is trimmed");
	const struct profile_fs *x = profile_find_fs(p, "xfs");
	CHECK(x && x->action == PROFILE_ACTION_DENY && x->deny_errno == ENODEV && !x->idmap,
	      "[fs xfs] deny with errno");
	CHECK(profile_find_fs(p, "btrfs") == NULL,
	      "an unlisted type has no section (default applies)");

	CHECK(e && profile_option_allowed(e, "ro") && profile_option_allowed(e, "noatime"),
	      "listed keys are allowed");
	CHECK(e && profile_option_allowed(e, "data=ordered") &&
	          !profile_option_allowed(e, "data=journal"),
	      "an exact key=value entry allows only that value");
	CHECK(e && profile_option_allowed(e, "errors=remount-ro") &&
	          !profile_option_allowed(e, "errors=continue"),
	      "an option in options is implicitly allowed as written, not other values");
	CHECK(e && !profile_option_allowed(e, "dax"), "other keys are refused");
	profile_free(p);

	CHECK(load("[fs ext4]\naction = kernel\nallowed-options = ro,\n  noatime, errors\n"
	           "allowed-options = commit\n",
	           &p, err, sizeof(err)) == 0 &&
	          p && p->fs[0].allowed_options[3] &&
	          !strcmp(p->fs[0].allowed_options[3], "commit") &&
	          !strcmp(p->fs[0].allowed_options[1], "noatime") && !p->fs[0].allowed_options[4],
	      "continuation lines and repeated keys add to a list (%s)", err);
	profile_free(p);

	CHECK(load("[fs tmpfs]\naction = continue\n", &p, err, sizeof(err)) == 0 && p &&
	          p->default_action == PROFILE_ACTION_DENY && p->default_errno == EPERM &&
	          p->max_mounts == 64 && p->max_loop_devices == 8 && p->max_fs_contexts == 16,
	      "defaults: deny, EPERM, 64 mounts, 8 loop devices, 16 fs contexts");
	profile_free(p);
	CHECK(load("[profile]\nmax-loop-devices = 0\n", &p, err, sizeof(err)) == 0 && p &&
	          p->max_loop_devices == 0,
	      "max-loop-devices 0 (refuse loops) accepted (%s)", err);
	profile_free(p);
}

static void test_errors(void)
{
	struct profile *p = NULL;
	char err[512];

	CHECK(load("[profile]\ndefault-action = deny\nbogus = 1\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3),
	      "unknown key reported at its line (%s)", err);
	CHECK(load("[profile]\ndefault-action = deny\n[weird]\nx = 1\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 4),
	      "unknown section reported (%s)", err);
	CHECK(load("[fs ext4]\naction = explode\n", &p, err, sizeof(err)) == -EINVAL &&
	          err_at(err, 2),
	      "bad action reported (%s)", err);
	CHECK(load("[fs vhost-user-fs]\naction = virtiofs\n", &p, err, sizeof(err)) == 0 &&
	          p->fs[0].action == PROFILE_ACTION_VIRTIOFS && p->fs[0].idmap &&
	          !p->fs[0].squash && !p->fs[0].devices && p->max_shares == 4,
	      "virtiofs: idmap defaults to container, devices to no, max-shares to 4 (%s)", err);
	if (p)
		profile_free(p);
	p = NULL;
	CHECK(load("[fs vhost-user-fs]\naction = virtiofs\nidmap = squash:1000:1001\n", &p, err,
	           sizeof(err)) == 0 &&
	          p->fs[0].squash && p->fs[0].squash_uid == 1000 && p->fs[0].squash_gid == 1001,
	      "virtiofs: idmap = squash:1000:1001 (%s)", err);
	if (p)
		profile_free(p);
	p = NULL;
	CHECK(load("[fs vhost-user-fs]\naction = virtiofs\nidmap = no\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3) && strstr(err, "always mapped"),
	      "virtiofs: idmap = no refused at its line (%s)", err);
	CHECK(load("[fs ext4]\naction = kernel\nidmap = squash:0:0\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3),
	      "kernel: idmap = squash refused (%s)", err);
	CHECK(load("[fs ext4]\naction = kernel\nidmap = container\n", &p, err, sizeof(err)) == 0 &&
	          p->fs[0].idmap,
	      "kernel: idmap = container is yes (%s)", err);
	if (p)
		profile_free(p);
	p = NULL;
	CHECK(load("[fs v]\naction = virtiofs\nidmap = squash:1:x\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3),
	      "virtiofs: idmap = squash:1:x refused (%s)", err);
	CHECK(load("[fs v]\naction = virtiofs\nidmap = squash:4294967295:0\n", &p, err,
	           sizeof(err)) == -EINVAL,
	      "virtiofs: a squash id of 2^32-1 refused (%s)", err);
	CHECK(load("[fs ext4]\naction = deny\ndevices = yes\n", &p, err, sizeof(err)) == -EINVAL &&
	          err_at(err, 3),
	      "devices outside a virtiofs section refused (%s)", err);
	CHECK(load("[fs v]\naction = virtiofs\nprogram = /bin/true\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3),
	      "virtiofs with a program refused (%s)", err);
	CHECK(load("[profile]\ndefault-action = virtiofs\n", &p, err, sizeof(err)) == -EINVAL &&
	          err_at(err, 2),
	      "default-action = virtiofs refused (%s)", err);
	CHECK(
	    load("[fs ext4]\naction = deny\n[fs xfs]\naction = deny\n[fs ext4]\naction = kernel\n",
	         &p, err, sizeof(err)) == -EINVAL &&
	        strstr(err, "twice"),
	    "duplicate [fs] section refused (%s)", err);
	CHECK(load("[fs ext4]\naction = deny\nerrno = EWHATEVER\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3),
	      "bad errno name refused (%s)", err);
	CHECK(load("[fs ext4]\naction = kernel\nidmap = maybe\n", &p, err, sizeof(err)) ==
	              -EINVAL &&
	          err_at(err, 3),
	      "bad idmap value refused (%s)", err);
	CHECK(load("[fs ext4]\naction = kernel\nallowed-options = ro,,noatime\n", &p, err,
	           sizeof(err)) == -EINVAL &&
	          err_at(err, 3),
	      "empty list item refused (%s)", err);
	CHECK(load("[fs ext4]\nidmap = yes\n", &p, err, sizeof(err)) == -EINVAL &&
	          strstr(err, "no action") && err_at(err, 1),
	      "section without action refused at its header (%s)", err);
	CHECK(load("[profile]\nmax-mounts = 0\n", &p, err, sizeof(err)) == -EINVAL,
	      "max-mounts 0 refused (%s)", err);
	CHECK(load("[profile]\nmax-loop-devices = 257\n", &p, err, sizeof(err)) == -EINVAL &&
	          strstr(err, "0..256"),
	      "max-loop-devices 257 refused (%s)", err);
	CHECK(load("[profile]\nmax-loop-devices =\n", &p, err, sizeof(err)) == -EINVAL,
	      "empty max-loop-devices refused (%s)", err);
	CHECK(load("[fs EXT4/../x]\naction = deny\n", &p, err, sizeof(err)) == -EINVAL,
	      "bad type name refused (%s)", err);
	CHECK(load("this is not ini\n", &p, err, sizeof(err)) == -EINVAL && err_at(err, 1),
	      "syntax error reported (%s)", err);
	CHECK(load("[fs ext4]\naction = explode\n[fs xfs]\naction = deny\nbogus = 1\n", &p, err,
	           sizeof(err)) == -EINVAL &&
	          err_at(err, 2) && strstr(err, "explode") && !strstr(err, "bogus"),
	      "with several errors, the first one's line and message (%s)", err);
}

/* One bad value of one key: refused with t.conf:LINE and a message containing want. */
static void bad(const char *text, int line, const char *want, const char *what)
{
	struct profile *p;
	char err[512];
	int r = load(text, &p, err, sizeof(err));

	CHECK(r == -EINVAL && !p && err_at(err, line) && (!want || strstr(err, want)),
	      "%s: refused at t.conf:%d (%s)", what, line, err);
	profile_free(p);
}

/* Every number key: empty, negative, sign, overflow, junk, out of bounds. */
static void test_numbers(void)
{
	size_t n;
	const struct profile_key *k = profile_keys(&n);
	static const char *const bad_values[] = {
	    "",           "-1",  "+1", "1x", "0x10", " 1 1", "1.5", "99999999999999999999",
	    "4294967297", "1e3", "١",
	};
	char text[256], what[128];
	int tested = 0;

	for (size_t i = 0; i < n; i++) {
		if (k[i].type != PROFILE_KEY_UINT)
			continue;
		tested++;
		const char *hdr = k[i].fs ? "[fs ext4]\naction = deny\n" : "[profile]\n";
		int line = k[i].fs ? 3 : 2;
		for (size_t j = 0; j < ARRAY_SIZE(bad_values); j++) {
			snprintf(text, sizeof(text), "%s%s = %s\n", hdr, k[i].name, bad_values[j]);
			snprintf(what, sizeof(what), "%s = '%s'", k[i].name, bad_values[j]);
			bad(text, line, k[i].name, what);
		}
		snprintf(text, sizeof(text), "%s%s = %u\n", hdr, k[i].name, k[i].max + 1);
		snprintf(what, sizeof(what), "%s one above its maximum", k[i].name);
		bad(text, line, k[i].name, what);
		if (k[i].min > 0) {
			snprintf(text, sizeof(text), "%s%s = %u\n", hdr, k[i].name, k[i].min - 1);
			snprintf(what, sizeof(what), "%s one below its minimum", k[i].name);
			bad(text, line, k[i].name, what);
		}
		/* The bounds themselves load. */
		for (unsigned v = k[i].min;; v = k[i].max) {
			struct profile *p;
			char err[512];
			snprintf(text, sizeof(text), "%s%s = %u\n", hdr, k[i].name, v);
			CHECK(load(text, &p, err, sizeof(err)) == 0, "%s = %u loads (%s)",
			      k[i].name, v, err);
			profile_free(p);
			if (v == k[i].max)
				break;
		}
	}
	CHECK(tested == 7, "seven number keys in the table (%d)", tested);
}

/* Bad values of every other type. */
static void test_types(void)
{
	struct profile *p;
	char err[512];

	bad("[fs ext4]\naction = kernel\nidmap =\n", 3, "idmap", "empty bool");
	bad("[fs ext4]\naction = kernel\nidmap = yess\n", 3, "idmap", "bool with junk");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\nhandover = fds\n", 4,
	    "auto, fd, fusermount", "unknown enum value");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\nsource =\n", 4, "source",
	    "empty enum");
	bad("[fs ext4]\naction =\n", 2, "action", "empty action");
	bad("[profile]\ndefault-action = fuse\n", 2, "cannot be fuse", "default-action = fuse");
	bad("[profile]\ndefault-errno = 13\n", 2, "default-errno", "errno as a number");
	bad("[fs ext4]\naction = kernel\noptions = ,\n", 3, "options", "list of one empty item");
	bad("[fs ext4]\naction = fuse\nprogram =\n", 3, "program has no value", "empty program");
	bad("[fs ext4]\naction = fuse\nprogram = fuse2fs\n", 3, "absolute", "relative program");
	bad("[fs ext4]\naction = fuse\nprogram = container:bin/sleep\n", 3, "absolute",
	    "relative container: program");
	bad("[fs ext4]\naction = fuse\nprogram = /nonexistent/fuse2fs\n", 3,
	    "No such file or directory", "missing program");
	bad("[fs ext4]\naction = fuse\nprogram = /etc\n", 3, "not a regular file",
	    "program that is a directory");
	{
		char text[512], path[300];
		snprintf(path, sizeof(path), "%s/not-executable", dir);
		write_file("not-executable", "#!/bin/sh\n");
		chmod(path, 0644);
		snprintf(text, sizeof(text), "[fs ext4]\naction = fuse\nprogram = %s\n", path);
		bad(text, 3, "not executable", "program without execute permission");
		unlink(path);
	}
	CHECK(load("[fs ext4]\naction = fuse\nprogram = container:/bin/fuse2fs\n", &p, err,
	           sizeof(err)) == 0,
	      "container:/PATH is not looked up at load (%s)", err);
	profile_free(p);
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f {src} "
	    "{mountpoint}\n",
	    4, "unknown placeholder", "unknown placeholder");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f {source}\n", 4,
	    "{mountpoint}", "arguments without {mountpoint}");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f "
	    "{mountpoint} {options} {mountpoint} {source}\n",
	    4, "{mountpoint}", "{mountpoint} twice");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f "
	    "{mountpoint}\n[fs xfs]\naction = deny\n",
	    4, "{source}", "source = image without {source}, found when the section ends");
	bad("[fs overlay]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f "
	    "{source} {mountpoint}\nsource = none\n",
	    4, "source = none", "{source} with source = none");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f {options} "
	    "{options} {source} {mountpoint}\n",
	    4, "{options}", "{options} twice");
	CHECK(load("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\narguments = -f\n"
	           "  {source}\n  {mountpoint}\n",
	           &p, err, sizeof(err)) == 0 &&
	          p && p->fs[0].arguments[2] && !strcmp(p->fs[0].arguments[2], "{mountpoint}"),
	      "arguments continue on indented lines (%s)", err);
	profile_free(p);
	CHECK(load("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\n", &p, err,
	           sizeof(err)) == 0 &&
	          p && !p->fs[0].arguments,
	      "a fuse rule with only a program loads, default arguments (%s)", err);
	profile_free(p);
	CHECK(load("[fs overlay]\naction = fuse\nprogram = /usr/bin/fuse2fs\nsource = none\n", &p,
	           err, sizeof(err)) == 0 &&
	          p && p->fs[0].source_none,
	      "source = none with default arguments (%s)", err);
	profile_free(p);
	CHECK(load("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\nhandover = fusermount\n"
	           "startup-timeout = 3\n",
	           &p, err, sizeof(err)) == 0 &&
	          p && p->fs[0].handover == 2 && p->fs[0].startup_timeout_ms == 3000,
	      "enum stored as its index, seconds as ms (%s)", err);
	profile_free(p);
}

/* Structure: unknown keys, keys in the wrong section, duplicates. */
static void test_structure(void)
{
	struct profile *p;
	char err[512];

	bad("[fs ext4]\naction = deny\nmax-mounts = 3\n", 3, "belongs in [profile]",
	    "[profile] key in an [fs] section");
	bad("[profile]\naction = deny\n", 2, "belongs in an [fs TYPE]", "[fs] key in [profile]");
	bad("[fs ext4]\naction = deny\nbogus = 1\n", 3, "unknown key 'bogus' in [fs ext4]",
	    "unknown key in [fs]");
	bad("action = deny\n", 1, "before any section", "key before any section");
	bad("[profile]\nmax-mounts = 3\nmax-mounts = 4\n", 3, "first at line 2",
	    "duplicate number key");
	bad("[profile]\ndefault-action = deny\n\n[fs ext4]\naction = deny\n[profile]\n"
	    "default-action = continue\n",
	    7, "given twice", "duplicate key across two [profile] sections");
	bad("[fs ext4]\naction = deny\naction = kernel\n", 3, "action given twice",
	    "duplicate action");
	bad("[fs ext4]\naction = fuse\nprogram = /usr/bin/fuse2fs\nprogram = /usr/bin/fuse2fs\n", 4,
	    "program given twice", "duplicate program");
	bad("[fs ext4]\naction = kernel\nidmap = yes\nidmap = no\n", 4, "idmap given twice",
	    "duplicate bool");
	CHECK(load("[fs ext4]\naction = deny\n[fs xfs]\naction = deny\n", &p, err, sizeof(err)) ==
	              0 &&
	          p && p->fs[1].line == 3,
	      "the same key in two sections is no duplicate; header lines kept (%s)", err);
	profile_free(p);
	{
		char text[600];
		snprintf(text, sizeof(text),
		         "[fs ext4]\naction = kernel\nallowed-options = %0250d\n", 0);
		bad(text, 3, "longer than", "a line libinih would split");
	}
	bad("[fs ext4]\naction = fuse\n\n\n", 1, "no program", "fuse without program at EOF");
}

/* Every key of the table is documented in the man page. */
static void test_documented(void)
{
	const char *src = getenv("MV_SRC");
	char path[512], buf[65536];
	size_t n, len;
	const struct profile_key *k = profile_keys(&n);
	FILE *f;

	snprintf(path, sizeof(path), "%s/docs/man/mountvisor-profile.5", src ? src : ".");
	f = fopen(path, "re");
	len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[len] = '\0';
	for (size_t i = 0; i < n; i++) {
		char want[96], want2[128];
		/* groff escapes the dash: .BI "max\-mounts = " or max\-mounts */
		size_t o = 0;
		for (const char *c = k[i].name; *c && o + 2 < sizeof(want); c++) {
			if (*c == '-')
				want[o++] = '\\';
			want[o++] = *c;
		}
		want[o] = '\0';
		snprintf(want2, sizeof(want2), "\"%s = ", want);
		CHECK(strstr(buf, want2) != NULL, "key %s is documented in mountvisor-profile(5)",
		      k[i].name);
		CHECK(k[i].doc && k[i].doc[0], "key %s has a doc line", k[i].name);
	}
}

static void test_dir(void)
{
	struct profile_set *set = NULL;
	char err[512];

	unlink("t.conf");
	write_file("t.conf", "[fs ext4]\naction = deny\n");
	write_file("b.conf", "[fs ext4]\naction = nope\n");
	CHECK(profile_set_load_dir(dir, &set, err, sizeof(err)) == -EINVAL &&
	          strstr(err, "b.conf:2:"),
	      "one broken file fails the whole directory (%s)", err);
	write_file("b.conf", "[fs ext4]\naction = kernel\n");
	write_file("ignored.txt", "garbage");
	CHECK(profile_set_load_dir(dir, &set, err, sizeof(err)) == 0 && set && set->n == 2 &&
	          strcmp(set->v[0]->name, "b") == 0 && strcmp(set->v[1]->name, "t") == 0,
	      "a good directory loads sorted, other files ignored");
	profile_set_free(set);
}

int main(void)
{
	char path[256];

	if (!mkdtemp(dir))
		return 1;
	test_shipped();
	test_keys();
	test_errors();
	test_numbers();
	test_types();
	test_structure();
	test_documented();
	test_dir();
	for (const char *const *n = (const char *const[]){"t.conf", "b.conf", "ignored.txt", NULL};
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
	TAP_EXIT();
}
