/* SPDX-License-Identifier: MIT */
#include "notifyd/profile.h"
#include "tests/unit/tap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
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
	          p->max_mounts == 64 && p->max_loop_devices == 8,
	      "defaults: deny, EPERM, 64 mounts, 8 loop devices");
	profile_free(p);
	CHECK(load("[profile]\nmax-loop-devices = 0\n", &p, err, sizeof(err)) == 0 && p &&
	          p->max_loop_devices == 0,
	      "max-loop-devices 0 (refuse loops) accepted (%s)", err);
	profile_free(p);
}

static void test_errors(void)
{
	struct profile *p;
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
	CHECK(load("[fs ext4]\naction = virtiofs\n", &p, err, sizeof(err)) == -EINVAL &&
	          strstr(err, "not supported"),
	      "the virtiofs action is refused at load time (%s)", err);
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
	test_dir();
	for (const char *const *n = (const char *const[]){"t.conf", "b.conf", "ignored.txt", NULL};
	     *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
	TAP_EXIT();
}
