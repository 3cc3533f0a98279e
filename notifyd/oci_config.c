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
#include "notifyd/oci_config_internal.h"
#include "notifyd/oci_listener.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

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
		return occ_refuse(
		    c, "config.json is a symbolic link; rewriting it would write through "
		       "or replace the link: copy the file into the bundle first");
	if (fd < 0)
		return occ_refuse(c, "cannot open config.json: %s", strerror(errno));
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return occ_refuse(c, "config.json is not a regular file");
	if (st->st_size > OCC_MAX_SIZE)
		return occ_refuse(c,
		                  "config.json is %lld bytes, more than the %d this command reads",
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

	r = occ_member(c, root, "", "linux", json_type_object, true, &linux_);
	if (r >= 0)
		r = occ_edit_seccomp(c, linux_, rules);
	if (r >= 0 && c->loop)
		r = occ_edit_loop(c, root, linux_);
	for (size_t i = 0; r >= 0 && i < c->ndevices; i++)
		r = occ_edit_device(c, linux_, c->devices[i]);
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
	r = occ_load_rules(&c, &rules);
	if (r >= 0)
		r = read_config(&c, dirfd, &buf, &len, &st);
	if (r >= 0)
		r = occ_parse_object(&c, "config.json", buf, len, &root);
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
