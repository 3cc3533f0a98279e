/* SPDX-License-Identifier: MIT */
/*
 * umount32 PATH [ECX [NR]] : for tests/security/notifyd_redteam19.sh, in a
 * container.  Calls the 32-bit x86 umount(PATH) syscall (nr 22) by int 0x80
 * from this 64-bit program: the seccomp filter sees arch AUDIT_ARCH_I386,
 * which the runtimes' filters cover (SCMP_ARCH_X86).  umount(target) takes
 * no flags; ECX (default 0x10, a bit umount2 does not know) is what is left
 * in the flags register, to show notifyd does not read it as flags.  The path
 * lives in memory below 4 GiB (MAP_32BIT) so the 32-bit ABI can pass it.
 * NR 52 makes it i386's umount2(PATH, ECX) instead.
 * Prints "umount32 rc=N errno=E (strerror)".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	unsigned long ecx = argc > 2 ? strtoul(argv[2], NULL, 0) : 0x10;
	long nr = argc > 3 ? strtol(argv[3], NULL, 0) : 22;
	char *p;
	long rc;

	if (argc < 2 || strlen(argv[1]) >= 4096) {
		fprintf(stderr, "usage: umount32 PATH [ECX [NR]]\n");
		return 2;
	}
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1,
	         0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	strcpy(p, argv[1]);
	__asm__ volatile("int $0x80"
	                 : "=a"(rc)
	                 : "a"(nr), "b"((unsigned long)p), "c"(ecx)
	                 : "memory", "r8", "r9", "r10", "r11");
	printf("umount32 rc=%ld errno=%ld (%s)\n", rc < 0 ? -1L : rc, rc < 0 ? -rc : 0L,
	       rc < 0 ? strerror((int)-rc) : "ok");
	return rc < 0 ? 1 : 0;
}
