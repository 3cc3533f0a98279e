/* SPDX-License-Identifier: MIT */
/*
 * enosys SYSCALL[,SYSCALL...] PROGRAM [ARG...]: runs PROGRAM with the named
 * system calls answering ENOSYS, as on a kernel that predates them (for
 * tests/integration/notifyd_kernel_min.sh).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	char *names, *save = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: enosys SYSCALL[,SYSCALL...] PROGRAM [ARG...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	names = strdup(argv[1]);
	if (!ctx || !names)
		return 2;
	for (char *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save)) {
		int nr = seccomp_syscall_resolve_name(n);

		if (nr == __NR_SCMP_ERROR ||
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0) < 0) {
			fprintf(stderr, "enosys: cannot filter %s\n", n);
			return 2;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0) {
		perror("enosys: seccomp");
		return 2;
	}
	seccomp_release(ctx);
	free(names);
	execvp(argv[2], argv + 2);
	perror("enosys: exec");
	return 127;
}
