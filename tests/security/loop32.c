/* SPDX-License-Identifier: MIT */
/*
 * loop32 DEVICE NAME : for tests/security/notifyd_redteam19.sh, in a
 * container, on a loop device notifyd handed it.  The old LOOP_GET_STATUS and
 * LOOP_SET_STATUS as a 32-bit x86 program makes them (int 0x80, ioctl nr 54,
 * the 140-byte i386 struct loop_info in memory below 4 GiB), checked against
 * the 64-bit LOOP_GET_STATUS64 (all of them trapped by notifyd):
 *   get: lo_number and lo_name are the device's, and not one byte past the
 *        140 of the struct is written (a canary);
 *   set: lo_name NAME set by LOOP_SET_STATUS is the device's lo_file_name.
 * Prints one line per check, "loop32 get ok" / "loop32 set ok" or what
 * differed; exit 0 only if both held.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define I386_SIZE  140
#define I386_NAME  32 /* offset of lo_name */
#define I386_FLAGS 28 /* offset of lo_flags */

static long ioctl32(int fd, unsigned long cmd, void *arg)
{
	long rc;

	__asm__ volatile("int $0x80"
	                 : "=a"(rc)
	                 : "a"(54L), "b"((unsigned long)fd), "c"(cmd), "d"((unsigned long)arg)
	                 : "memory", "r8", "r9", "r10", "r11");
	return rc;
}

int main(int argc, char **argv)
{
	struct loop_info64 i64;
	unsigned char *p;
	int fd, bad = 0, num;
	long rc;

	if (argc != 3 || strlen(argv[2]) >= LO_NAME_SIZE) {
		fprintf(stderr, "usage: loop32 DEVICE NAME\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1,
	         0);
	if (fd < 0 || p == MAP_FAILED) {
		perror("open/mmap");
		return 2;
	}
	memset(&i64, 0, sizeof(i64));
	if (ioctl(fd, LOOP_GET_STATUS64, &i64) < 0) {
		perror("LOOP_GET_STATUS64");
		return 2;
	}
	memset(p, 0xAA, 4096);
	rc = ioctl32(fd, LOOP_GET_STATUS, p);
	memcpy(&num, p, sizeof(num));
	if (rc < 0) {
		printf("loop32 get: errno %ld (%s)\n", -rc, strerror((int)-rc));
		bad++;
	} else {
		int over = 0;

		for (int i = I386_SIZE; i < 512; i++)
			over += p[i] != 0xAA;
		if (over || num != (int)i64.lo_number ||
		    strncmp((char *)p + I386_NAME, (char *)i64.lo_file_name, LO_NAME_SIZE) != 0) {
			printf(
			    "loop32 get: %d bytes past the struct written, lo_number %d (want %u), "
			    "lo_name '%.64s' (want '%.64s')\n",
			    over, num, i64.lo_number, (char *)p + I386_NAME,
			    (char *)i64.lo_file_name);
			bad++;
		} else {
			printf("loop32 get ok\n");
		}
	}
	memset(p, 0, 4096);
	strcpy((char *)p + I386_NAME, argv[2]);
	memset(p + I386_FLAGS, 0, 4);
	rc = ioctl32(fd, LOOP_SET_STATUS, p);
	memset(&i64, 0, sizeof(i64));
	if (rc < 0) {
		printf("loop32 set: errno %ld (%s)\n", -rc, strerror((int)-rc));
		bad++;
	} else if (ioctl(fd, LOOP_GET_STATUS64, &i64) < 0 ||
	           strcmp((char *)i64.lo_file_name, argv[2]) != 0) {
		printf("loop32 set: lo_file_name is '%.64s', want '%s'\n", (char *)i64.lo_file_name,
		       argv[2]);
		bad++;
	} else {
		printf("loop32 set ok\n");
	}
	return bad ? 1 : 0;
}
