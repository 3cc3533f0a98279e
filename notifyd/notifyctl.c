/* SPDX-License-Identifier: MIT */
/*
 * notifyctl: ask a running notifyd what it is doing.
 *   notifyctl [--control PATH] list|mounts|shares|stats [--json]|ping
 *   notifyctl oci-config [OPTIONS] BUNDLE   (oci_config.c; needs no notifyd)
 */
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "notifyd/oci_config.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: notifyctl [--control PATH] list|mounts|shares|stats [--json]|ping\n"
	             "  list    containers notifyd supervises, their profile and counters\n"
	             "  mounts  mounts notifyd made for containers\n"
	             "  shares  virtiofs shares: vfsd pid, source, target, options, I/O\n"
	             "  stats   totals, open fds, profiles, kernel features in use\n"
	             "          (--json: the same as one JSON object, see docs/metrics.md)\n"
	             "       notifyctl oci-config [OPTIONS] BUNDLE\n"
	             "          point BUNDLE/config.json at notifyd (oci-config --help)\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"control", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {0},
	};
	bool json = false;
	const char *path = "/run/mountvisor/notifyctl.sock";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -EBADF;
	char cmd[64], buf[65536];
	ssize_t n;
	int ch;

	if (argc > 1 && strcmp(argv[1], "oci-config") == 0)
		return oci_config_main(argc - 1, argv + 1);
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (ch == 'c') {
			path = optarg;
		} else if (ch == 'j') {
			json = true;
		} else if (ch == 'h') {
			usage(stdout);
			return EXIT_SUCCESS;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || strlen(argv[optind]) > 32) {
		usage(stderr);
		return 2;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "notifyctl: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "notifyctl: cannot reach notifyd at %s: %s\n", path,
		        strerror(errno));
		return 1;
	}
	if (json && strcmp(argv[optind], "stats") != 0) {
		fprintf(stderr, "notifyctl: --json is for stats only\n");
		return 2;
	}
	snprintf(cmd, sizeof(cmd), "%s%s\n", argv[optind], json ? " --json" : "");
	if (fd_write_all(fd, cmd, strlen(cmd)) < 0) {
		fprintf(stderr, "notifyctl: %s\n", strerror(errno));
		return 1;
	}
	shutdown(fd, SHUT_WR);
	int status = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (strncmp(buf, "error:", 6) == 0)
			status = 2;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	}
	return n < 0 ? 1 : status;
}
