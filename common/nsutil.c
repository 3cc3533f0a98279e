/* SPDX-License-Identifier: MIT */
#include "common/nsutil.h"
#include "common/cleanup.h"
#include "common/fdutil.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

int ns_same(int fd, int other)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0 || fstat(other, &b) < 0)
		return -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int ns_open_at(int procdir, const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "ns/%s", name);
	fd = openat(procdir, path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int ns_owner_userns(int nsfd)
{
	int fd = ioctl(nsfd, NS_GET_USERNS);

	return fd < 0 ? -errno : fd;
}

static int parse_ids(const char *line, unsigned field, unsigned long *ret)
{
	const char *p = line;

	for (unsigned i = 0; i < field; i++) {
		p += strcspn(p, " \t");
		p += strspn(p, " \t");
	}
	char *end;
	errno = 0;
	*ret = strtoul(p, &end, 10);
	return (errno || end == p) ? -EINVAL : 0;
}

int proc_read_creds(int procdir, struct proc_creds *ret)
{
	char buf[8192];
	ssize_t n = fd_read_file_at(procdir, "status", buf, sizeof(buf));
	unsigned have = 0;
	unsigned long v;

	if (n < 0)
		return (int)n;
	memset(ret, 0, sizeof(*ret));
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "Uid:", 4) == 0) {
			if (parse_ids(line, 4, &v) < 0) /* real effective saved fs */
				return -EINVAL;
			ret->fsuid = (uid_t)v;
			have |= 1;
		} else if (strncmp(line, "Gid:", 4) == 0) {
			if (parse_ids(line, 4, &v) < 0)
				return -EINVAL;
			ret->fsgid = (gid_t)v;
			have |= 2;
		} else if (strncmp(line, "CapEff:", 7) == 0) {
			ret->cap_eff = strtoull(line + 7, NULL, 16);
			have |= 4;
		} else if (strncmp(line, "Groups:", 7) == 0) {
			char *p = line + 7, *end;
			while (ret->n_groups < ARRAY_SIZE(ret->groups)) {
				unsigned long g = strtoul(p, &end, 10);
				if (end == p)
					break;
				ret->groups[ret->n_groups++] = (gid_t)g;
				p = end;
			}
		}
	}
	return have == 7 ? 0 : -EINVAL;
}

bool ns_id_mapped(const char *map_text, uint32_t host_id)
{
	const char *p = map_text;

	while (p && *p) {
		unsigned long inside, outside, count;
		if (sscanf(p, "%lu %lu %lu", &inside, &outside, &count) == 3 &&
		    (uint64_t)host_id >= outside && (uint64_t)host_id < (uint64_t)outside + count)
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}
