// SPDX-License-Identifier: MIT
/*
 * vfsd: a vhost-user-fs (virtio-fs) back-end.  main() parses the command
 * line, creates the socket, enters the sandbox and then serves front-ends
 * one after the other: when the VMM disconnects, every queue is stopped,
 * guest memory is unmapped, and vfsd waits for the next connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/unix_listener.h"
#include "vfsd/fs_device.h"
#include "vfsd/fuse_creds.h"
#include "vfsd/options.h"
#include "vfsd/sandbox.h"
#include "vfsd/seccomp.h"

/*
 * listen_socket() - create the vhost-user socket at path: mode 0600, or 0660
 * and owned by group, whatever the caller's umask, by the rule of
 * common/unix_listener.h (a stale socket is replaced; a live one, or
 * anything else, is left alone).
 */
static int listen_socket(const char *path, const char *group)
{
	struct unix_listener_opts lo = {.type = SOCK_STREAM,
	                                .mode = group ? 0660 : 0600,
	                                .uid = (uid_t)-1,
	                                .gid = (gid_t)-1,
	                                .backlog = 1};

	if (group) {
		struct group *g = getgrnam(group);

		if (!g)
			return -ENOENT;
		lo.gid = g->gr_gid;
	}
	return unix_listener_open(path, &lo, NULL);
}

static void print_capabilities(void)
{
	/* The vhost-user back-end capability document (QEMU docs/interop/vhost-user.json). */
	printf("{\n  \"type\": \"fs\",\n  \"features\": [\n    \"separate-options\"\n  ]\n}\n");
}

int main(int argc, char **argv)
{
	struct vfsd_options o;
	struct vfsd_fs fs;
	struct vfsd_vu_dev dev;
	struct vfsd_vu_owner owner = {.set = false};
	char err[256] = "";
	int lfd = -EBADF, root = -EBADF, proc = -EBADF, r;
	long nofile;

	if (vfsd_options_parse(&o, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "vfsd: %s\nTry 'vfsd --help'.\n", err);
		return 2;
	}
	if (o.help || o.version || o.print_capabilities) {
		if (o.help)
			vfsd_options_usage(argv[0]);
		else if (o.version)
			printf("vfsd (mountvisor) 0.1\n");
		else
			print_capabilities();
		vfsd_options_free(&o);
		return 0;
	}
	log_setup("vfsd", (enum log_level)o.log_level);
	signal(SIGPIPE, SIG_IGN);

	nofile = vfsd_raise_nofile(o.rlimit_nofile);
	if (nofile < 0) {
		log_error("cannot read or raise RLIMIT_NOFILE: %s", strerror((int)-nofile));
		return 1;
	}
	if (o.fd >= 0) {
		int type = 0;
		socklen_t l = sizeof(type);

		if (getsockopt(o.fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM) {
			log_error("--fd=%d is not a stream socket", o.fd);
			return 1;
		}
		(void)fcntl(o.fd, F_SETFD, FD_CLOEXEC);
		lfd = o.fd;
	} else {
		lfd = listen_socket(o.socket_path, o.socket_group);
		if (lfd < 0) {
			log_error("cannot listen on %s: %s", o.socket_path, strerror(-lfd));
			return 1;
		}
	}
	r = vfsd_close_inherited_fds(&lfd, 1);
	if (r < 0) {
		log_error("cannot close inherited file descriptors: %s", strerror(-r));
		return 1;
	}
	r = vfsd_sandbox_enter(o.sandbox, o.shared_dir, o.readonly, o.seccomp, &root, &proc);
	if (r < 0) {
		log_error("cannot set up the %s sandbox for %s: %s",
		          o.sandbox == VFSD_SANDBOX_NAMESPACE ? "namespace"
		          : o.sandbox == VFSD_SANDBOX_CHROOT  ? "chroot"
		                                              : "none",
		          o.shared_dir, strerror(-r));
		return 1;
	}
	umask(0);
	if (geteuid() == 0 && (r = vfsd_creds_drop_groups()) < 0) {
		log_error("cannot drop supplementary groups: %s", strerror(-r));
		return 1;
	}
	r = vfsd_drop_caps(o.modcaps, o.file_handles != VFSD_FH_NEVER);
	if (r < 0) {
		log_error("cannot drop capabilities: %s", strerror(-r));
		return 1;
	}
	struct vfsd_fs_config cfg = {
	    .shared_dir = o.shared_dir,
	    .cache = o.cache,
	    .readonly = o.readonly,
	    .xattr = o.xattr,
	    .announce_submounts = o.announce_submounts,
	    .killpriv_v2 = o.killpriv_v2,
	    .posix_lock = o.posix_lock,
	    .flock = o.flock,
	    .readdirplus = o.readdirplus,
	    .writeback = o.writeback,
	    .allow_direct_io = o.allow_direct_io,
	    .file_handles = o.file_handles,
	    .uid_map = &o.uid_map,
	    .gid_map = &o.gid_map,
	    /* Keep room for sockets, eventfds, guest memory and logging. */
	    .max_fds = nofile > 1024 ? (unsigned)(nofile - 512) : (unsigned)(nofile / 2),
	};
	r = vfsd_fs_init(&fs, &cfg, root, proc);
	if (r < 0) {
		log_error("cannot serve the shared directory: %s", strerror(-r));
		return 1;
	}
	r = vfsd_vu_init(&dev, VFSD_VU_MAX_QUEUES, &vfsd_fs_device_ops, &fs);
	if (r < 0)
		return 1;
	dev.pool_size = o.thread_pool_size;
	vfsd_fs_device_bind(&fs, &dev);
	r = vfsd_seccomp_load(o.seccomp);
	if (r < 0) {
		log_error("cannot load the seccomp filter: %s", strerror(-r));
		return 1;
	}
	log_info("serving %s (sandbox %s, cache %d%s%s%s), fd budget %u, %u pool threads per queue",
	         o.shared_dir,
	         o.sandbox == VFSD_SANDBOX_NAMESPACE ? "namespace"
	         : o.sandbox == VFSD_SANDBOX_CHROOT  ? "chroot"
	                                             : "none",
	         o.cache, o.readonly ? ", readonly" : "", o.xattr ? ", xattr" : "",
	         vfsd_idmap_active(&o.uid_map) || vfsd_idmap_active(&o.gid_map)
	             ? ", uid/gid translation"
	             : "",
	         cfg.max_fds, o.thread_pool_size);
	for (;;) {
		struct ucred peer;
		_cleanup_close_ int conn = vfsd_vu_accept(lfd, &owner, &peer);

		if (conn == -EAGAIN)
			continue;
		if (conn == -EPERM) {
			log_warn(
			    "refused a front-end (pid %d, uid %u, gid %u): only uid %u gid %u, "
			    "the first front-end's, may reconnect",
			    (int)peer.pid, peer.uid, peer.gid, owner.uid, owner.gid);
			continue;
		}
		if (conn < 0) {
			log_error("accept: %s", strerror(-conn));
			return 1;
		}
		log_info("front-end connected (uid %u, gid %u)", peer.uid, peer.gid);
		r = vfsd_vu_serve(&dev, conn);
		log_info("front-end disconnected (%s); waiting for the next one",
		         r < 0 ? strerror(-r) : "closed");
	}
}
