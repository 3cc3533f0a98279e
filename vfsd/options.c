// SPDX-License-Identifier: MIT
/*
 * Command line.  Two dialects are accepted so vfsd can replace either
 * virtiofsd without touching its caller (libvirt, Kata, scripts):
 *
 *   Rust:  --socket-path=P --shared-dir=D --cache=auto --sandbox=chroot ...
 *   QEMU:  --socket-path=P -o source=D,cache=always,sandbox=chroot,xattr ...
 *
 * Defaults follow the Rust virtiofsd: sandbox namespace, seccomp kill,
 * cache auto, announce-submounts on, readdirplus unless cache=never.
 */
#include "vfsd/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

enum {
	OPT_SOCKET_PATH = 1000,
	OPT_SOCKET_GROUP,
	OPT_FD,
	OPT_SHARED_DIR,
	OPT_SANDBOX,
	OPT_SECCOMP,
	OPT_CACHE,
	OPT_READONLY,
	OPT_XATTR,
	OPT_ANNOUNCE_SUBMOUNTS,
	OPT_NO_ANNOUNCE_SUBMOUNTS,
	OPT_NO_READDIRPLUS,
	OPT_WRITEBACK,
	OPT_ALLOW_DIRECT_IO,
	OPT_KILLPRIV_V2,
	OPT_NO_KILLPRIV_V2,
	OPT_POSIX_LOCK,
	OPT_NO_POSIX_LOCK,
	OPT_FLOCK,
	OPT_NO_FLOCK,
	OPT_NO_LOCKS,
	OPT_INODE_FILE_HANDLES,
	OPT_THREAD_POOL_SIZE,
	OPT_LOG_LEVEL,
	OPT_PRINT_CAPS,
	OPT_MODCAPS,
	OPT_RLIMIT_NOFILE,
	OPT_SYSLOG,
	OPT_DAEMONIZE,
	OPT_TRANSLATE_UID,
	OPT_TRANSLATE_GID,
	OPT_POSIX_ACL,
	OPT_IGNORED_ARG,
	OPT_IGNORED_FLAG,
};

static const struct option long_opts[] = {
    {"socket-path", required_argument, NULL, OPT_SOCKET_PATH},
    {"socket", required_argument, NULL, OPT_SOCKET_PATH}, /* deprecated Rust alias */
    {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
    {"fd", required_argument, NULL, OPT_FD},
    {"shared-dir", required_argument, NULL, OPT_SHARED_DIR},
    {"sandbox", required_argument, NULL, OPT_SANDBOX},
    {"seccomp", required_argument, NULL, OPT_SECCOMP},
    {"cache", required_argument, NULL, OPT_CACHE},
    {"readonly", no_argument, NULL, OPT_READONLY},
    {"xattr", no_argument, NULL, OPT_XATTR},
    {"announce-submounts", no_argument, NULL, OPT_ANNOUNCE_SUBMOUNTS},
    {"no-announce-submounts", no_argument, NULL, OPT_NO_ANNOUNCE_SUBMOUNTS},
    {"no-readdirplus", no_argument, NULL, OPT_NO_READDIRPLUS},
    {"writeback", no_argument, NULL, OPT_WRITEBACK},
    {"allow-direct-io", no_argument, NULL, OPT_ALLOW_DIRECT_IO},
    {"killpriv-v2", no_argument, NULL, OPT_KILLPRIV_V2},
    {"no-killpriv-v2", no_argument, NULL, OPT_NO_KILLPRIV_V2},
    {"posix-lock", no_argument, NULL, OPT_POSIX_LOCK},
    {"no-posix-lock", no_argument, NULL, OPT_NO_POSIX_LOCK},
    {"flock", no_argument, NULL, OPT_FLOCK},
    {"no-flock", no_argument, NULL, OPT_NO_FLOCK},
    {"no-locks", no_argument, NULL, OPT_NO_LOCKS},
    {"inode-file-handles", optional_argument, NULL, OPT_INODE_FILE_HANDLES},
    {"thread-pool-size", required_argument, NULL, OPT_THREAD_POOL_SIZE},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"print-capabilities", no_argument, NULL, OPT_PRINT_CAPS},
    {"modcaps", required_argument, NULL, OPT_MODCAPS},
    {"rlimit-nofile", required_argument, NULL, OPT_RLIMIT_NOFILE},
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"daemonize", no_argument, NULL, OPT_DAEMONIZE},
    {"translate-uid", required_argument, NULL, OPT_TRANSLATE_UID},
    {"translate-gid", required_argument, NULL, OPT_TRANSLATE_GID},
    /* Accepted for compatibility, no effect (documented in vfsd(8)). */
    {"posix-acl", no_argument, NULL, OPT_POSIX_ACL},
    {"security-label", no_argument, NULL, OPT_IGNORED_FLAG},
    {"preserve-noatime", no_argument, NULL, OPT_IGNORED_FLAG},
    {"allow-mmap", no_argument, NULL, OPT_IGNORED_FLAG},
    {"tag", required_argument, NULL, OPT_IGNORED_ARG},
    {"xattrmap", required_argument, NULL, OPT_IGNORED_ARG},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int parse_enum(const char *v, const char *const *names, size_t n, int *ret)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && strcmp(v, names[i]) == 0) {
			*ret = (int)i;
			return 0;
		}
	return -EINVAL;
}

static int parse_cache(const char *v, enum vfsd_cache *ret)
{
	/* "none" is the QEMU spelling of "never". */
	static const char *const names[] = {"never", "auto", "always", "metadata"};
	int i;

	if (strcmp(v, "none") == 0)
		v = "never";
	if (parse_enum(v, names, 4, &i) < 0)
		return -EINVAL;
	*ret = (enum vfsd_cache)i;
	return 0;
}

static int parse_sandbox(const char *v, enum vfsd_sandbox *ret)
{
	static const char *const names[] = {"namespace", "chroot", "none"};
	int i;

	if (parse_enum(v, names, 3, &i) < 0)
		return -EINVAL;
	*ret = (enum vfsd_sandbox)i;
	return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x > max || v[0] == '-')
		return -EINVAL;
	*ret = x;
	return 0;
}

static int parse_level(const char *v, int *ret)
{
	/* Rust: error|warn|info|debug|trace|off; QEMU: err|warn|info|debug. */
	if (!strcmp(v, "err"))
		v = "error";
	else if (!strcmp(v, "trace"))
		v = "debug";
	else if (!strcmp(v, "off"))
		v = "error";
	int l = log_parse_level(v);

	if (l < 0)
		return -EINVAL;
	*ret = l;
	return 0;
}

/* One key[=value] of QEMU's -o list. */
static int parse_o_item(struct vfsd_options *o, char *item, char *err, size_t errlen)
{
	char *val = strchr(item, '=');
	unsigned long n;

	if (val)
		*val++ = '\0';
#define FLAG(name, field, value)                                                                   \
	if (!strcmp(item, name) && !val) {                                                         \
		o->field = value;                                                                  \
		return 0;                                                                          \
	}
	FLAG("xattr", xattr, true);
	FLAG("no_xattr", xattr, false);
	FLAG("readdirplus", readdirplus, true);
	FLAG("no_readdirplus", readdirplus, false);
	FLAG("writeback", writeback, true);
	FLAG("no_writeback", writeback, false);
	FLAG("announce_submounts", announce_submounts, true);
	FLAG("allow_direct_io", allow_direct_io, true);
	FLAG("no_allow_direct_io", allow_direct_io, false);
	FLAG("readonly", readonly, true);
	FLAG("killpriv_v2", killpriv_v2, true);
	FLAG("no_killpriv_v2", killpriv_v2, false);
	FLAG("posix_lock", posix_lock, true);
	FLAG("no_posix_lock", posix_lock, false);
	FLAG("flock", flock, true);
	FLAG("no_flock", flock, false);
#undef FLAG
	if (!strcmp(item, "source") && val) {
		o->shared_dir = val;
		return 0;
	}
	if (!strcmp(item, "cache") && val && parse_cache(val, &o->cache) == 0)
		return 0;
	if (!strcmp(item, "sandbox") && val && parse_sandbox(val, &o->sandbox) == 0)
		return 0;
	if (!strcmp(item, "log_level") && val && parse_level(val, &o->log_level) == 0)
		return 0;
	if (!strcmp(item, "modcaps") && val) {
		o->modcaps = val;
		return 0;
	}
	if (!strcmp(item, "thread_pool_size") && val && parse_uint(val, 1024, &n) == 0) {
		o->thread_pool_size = (unsigned)n;
		return 0;
	}
	/* Options of QEMU's virtiofsd that change nothing here. */
	static const char *const ignored[] = {
	    "timeout",  "posix_acl",        "no_posix_acl", "security_label",  "no_security_label",
	    "xattrmap", "max_idle_threads", "norace",       "writeback_cache",
	};
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		if (!strcmp(item, ignored[i])) {
			log_info("option -o %s has no effect in vfsd", item);
			return 0;
		}
	snprintf(err, errlen, "unknown or malformed -o option '%s%s%s'", item, val ? "=" : "",
	         val ? val : "");
	return -EINVAL;
}

static int parse_o(struct vfsd_options *o, const char *arg, char *err, size_t errlen)
{
	char *copy = strdup(arg), *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *item = strtok_r(copy, ",", &save); item && r == 0;
	     item = strtok_r(NULL, ",", &save))
		r = parse_o_item(o, item, err, errlen);
	/* shared_dir points into copy: keep it for the life of the process. */
	if (r < 0)
		free(copy);
	return r;
}

static int parse_args(struct vfsd_options *o, int argc, char **argv, char *err, size_t errlen)
{
	bool readdirplus_set = false, posix_acl = false;
	unsigned long n;
	int c;

	*o = (struct vfsd_options){
	    .fd = -1,
	    .sandbox = VFSD_SANDBOX_NAMESPACE,
	    .seccomp = VFSD_SECCOMP_KILL,
	    .cache = VFSD_CACHE_AUTO,
	    .announce_submounts = true,
	    .readdirplus = true,
	    .killpriv_v2 = true,
	    .posix_lock = true,
	    .flock = true,
	    .file_handles = VFSD_FH_NEVER,
	    .log_level = LOG_LVL_INFO,
	};
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:fdhVs", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET_PATH:
			o->socket_path = optarg;
			break;
		case OPT_SOCKET_GROUP:
			o->socket_group = optarg;
			break;
		case OPT_FD:
			if (parse_uint(optarg, 1 << 20, &n) < 0)
				goto bad;
			o->fd = (int)n;
			break;
		case OPT_SHARED_DIR:
			o->shared_dir = optarg;
			break;
		case OPT_SANDBOX:
			if (parse_sandbox(optarg, &o->sandbox) < 0)
				goto bad;
			break;
		case OPT_SECCOMP: {
			static const char *const names[] = {"kill", "log", "trap", "none"};
			int i;

			if (parse_enum(optarg, names, 4, &i) < 0)
				goto bad;
			o->seccomp = (enum vfsd_seccomp)i;
			break;
		}
		case OPT_CACHE:
			if (parse_cache(optarg, &o->cache) < 0)
				goto bad;
			break;
		case OPT_READONLY:
			o->readonly = true;
			break;
		case OPT_XATTR:
			o->xattr = true;
			break;
		case OPT_ANNOUNCE_SUBMOUNTS:
			o->announce_submounts = true;
			break;
		case OPT_NO_ANNOUNCE_SUBMOUNTS:
			o->announce_submounts = false;
			break;
		case OPT_NO_READDIRPLUS:
			o->readdirplus = false;
			readdirplus_set = true;
			break;
		case OPT_WRITEBACK:
			o->writeback = true;
			break;
		case OPT_ALLOW_DIRECT_IO:
			o->allow_direct_io = true;
			break;
		case OPT_KILLPRIV_V2:
			o->killpriv_v2 = true;
			break;
		case OPT_NO_KILLPRIV_V2:
			o->killpriv_v2 = false;
			break;
		case OPT_POSIX_LOCK:
			o->posix_lock = true;
			break;
		case OPT_NO_POSIX_LOCK:
			o->posix_lock = false;
			break;
		case OPT_FLOCK:
			o->flock = true;
			break;
		case OPT_NO_FLOCK:
			o->flock = false;
			break;
		case OPT_NO_LOCKS:
			o->posix_lock = o->flock = false;
			break;
		case OPT_INODE_FILE_HANDLES: {
			static const char *const names[] = {"never", "prefer", "mandatory"};
			int i = VFSD_FH_PREFER; /* bare flag means prefer */

			if (optarg && parse_enum(optarg, names, 3, &i) < 0)
				goto bad;
			o->file_handles = (enum vfsd_fh_mode)i;
			break;
		}
		case OPT_THREAD_POOL_SIZE:
			if (parse_uint(optarg, 1024, &n) < 0)
				goto bad;
			o->thread_pool_size = (unsigned)n;
			break;
		case OPT_LOG_LEVEL:
			if (parse_level(optarg, &o->log_level) < 0)
				goto bad;
			break;
		case OPT_PRINT_CAPS:
			o->print_capabilities = true;
			break;
		case OPT_MODCAPS:
			o->modcaps = optarg;
			break;
		case OPT_RLIMIT_NOFILE:
			if (parse_uint(optarg, 1ul << 30, &n) < 0)
				goto bad;
			o->rlimit_nofile = n;
			break;
		case OPT_SYSLOG:
			o->syslog = true;
			break;
		case OPT_POSIX_ACL: /* no effect, but see --translate-uid below */
			posix_acl = true;
			break;
		case OPT_TRANSLATE_UID:
		case OPT_TRANSLATE_GID: {
			bool uid = c == OPT_TRANSLATE_UID;
			char why[200];
			int r = vfsd_idmap_add(uid ? &o->uid_map : &o->gid_map, optarg, why,
			                       sizeof(why));

			if (r < 0) {
				snprintf(err, errlen, "--translate-%s %s: %s", uid ? "uid" : "gid",
				         optarg, r == -ENOMEM ? "out of memory" : why);
				return -EINVAL;
			}
			break;
		}
		case 'o':
			if (parse_o(o, optarg, err, errlen) < 0)
				return -EINVAL;
			break;
		case 'd':
			o->log_level = LOG_LVL_DEBUG;
			break;
		case 'f': /* QEMU: foreground, which vfsd always is */
		case 's': /* QEMU: single-threaded (no effect) */
		case OPT_DAEMONIZE:
		case OPT_IGNORED_FLAG:
		case OPT_IGNORED_ARG:
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
			o->version = true;
			break;
		default:
			snprintf(err, errlen, "unknown option or missing argument: %s",
			         argv[optind - 1]);
			return -EINVAL;
		}
		continue;
	bad:
		snprintf(err, errlen, "invalid value '%s' for %s", optarg, argv[optind - 1]);
		return -EINVAL;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	/* As in the Rust virtiofsd: nothing is cached, so readdirplus is pointless. */
	if (o->cache == VFSD_CACHE_NEVER && !readdirplus_set)
		o->readdirplus = false;
	if (o->print_capabilities || o->help || o->version)
		return 0;
	/* As in the Rust virtiofsd: ACL entries name untranslated ids. */
	if (posix_acl && vfsd_idmap_active(&o->uid_map)) {
		snprintf(err, errlen, "--posix-acl cannot be used with --translate-uid");
		return -EINVAL;
	}
	if (posix_acl && vfsd_idmap_active(&o->gid_map)) {
		snprintf(err, errlen, "--posix-acl cannot be used with --translate-gid");
		return -EINVAL;
	}
	if (!o->shared_dir) {
		snprintf(err, errlen, "--shared-dir (or -o source=) is required");
		return -EINVAL;
	}
	if (!o->socket_path && o->fd < 0) {
		snprintf(err, errlen, "--socket-path or --fd is required");
		return -EINVAL;
	}
	if (o->socket_path && o->fd >= 0) {
		snprintf(err, errlen, "--socket-path and --fd are mutually exclusive");
		return -EINVAL;
	}
	return 0;
}

int vfsd_options_parse(struct vfsd_options *o, int argc, char **argv, char *err, size_t errlen)
{
	int r = parse_args(o, argc, argv, err, errlen);

	if (r < 0)
		vfsd_options_free(o);
	return r;
}

void vfsd_options_free(struct vfsd_options *o)
{
	vfsd_idmap_free(&o->uid_map);
	vfsd_idmap_free(&o->gid_map);
}

void vfsd_options_usage(const char *prog)
{
	printf(
	    "Usage: %s --socket-path=PATH|--fd=N --shared-dir=DIR [options]\n"
	    "   or: %s --socket-path=PATH -o source=DIR[,cache=...,sandbox=...,xattr]\n"
	    "\n"
	    "  --socket-group=GROUP             socket mode 0660 for GROUP (default 0600)\n"
	    "  --sandbox=namespace|chroot|none   isolation (default namespace)\n"
	    "  --seccomp=kill|log|trap|none      syscall filter action (default kill)\n"
	    "  --cache=never|auto|always|metadata  guest caching (default auto)\n"
	    "  --readonly                       refuse every modification\n"
	    "  --xattr                          enable extended attributes\n"
	    "  --[no-]announce-submounts        report host mounts to the guest\n"
	    "  --no-readdirplus                 plain READDIR only\n"
	    "  --writeback                      guest writeback caching\n"
	    "  --allow-direct-io                honour O_DIRECT from the guest\n"
	    "  --[no-]killpriv-v2               clear setuid/setgid for the guest (default on)\n"
	    "  --[no-]posix-lock, --[no-]flock  share fcntl/flock locks with the host (default "
	    "on)\n"
	    "  --no-locks                       keep both kinds of lock in the guest\n"
	    "  --inode-file-handles=never|prefer|mandatory\n"
	    "  --thread-pool-size=N             N worker threads per request queue (0: none)\n"
	    "  --rlimit-nofile=N                open file limit to set\n"
	    "  --translate-uid=TYPE:SOURCE:TARGET:COUNT  translate uids between guest and host;\n"
	    "                                   TYPE guest, host, map (GUEST:HOST:COUNT),\n"
	    "                                   squash-guest, squash-host, or "
	    "forbid-guest:GUEST:COUNT;\n"
	    "                                   repeat for more ranges, unmatched ids stay as they "
	    "are\n"
	    "  --translate-gid=...              the same for gids\n"
	    "  --log-level=error|warn|info|debug\n"
	    "  --print-capabilities             print the vhost-user back-end capabilities\n"
	    "See vfsd(8).\n",
	    prog, prog);
}
