// SPDX-License-Identifier: MIT
/*
 * A FUSE file system whose opens (and lock calls) hang while a flag file
 * exists, and whose flush (a close) of any open but the first hangs while
 * FLAGFILE.close exists, and whose locks conflict and never come while
 * FLAGFILE.lock exists: the hostile submount of
 * tests/security/vfsd_redteam18.sh, standing for a FUSE daemon the container
 * runs below a virtiofs share's source.  One regular file, /slow.
 * Usage: slow_fuse FLAGFILE MOUNTPOINT [fuse opts]
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *flag;
static char close_flag[4096], lock_flag[4096];
static uint64_t nopen;

/* Waits while the file f exists, 30 s at most. */
static void hang_on(const char *f)
{
	for (int i = 0; i < 3000 && access(f, F_OK) == 0; i++)
		usleep(10000);
}

static void hang(void)
{
	hang_on(flag);
}

static int sf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof(*st));
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (strcmp(path, "/slow") == 0) {
		st->st_mode = S_IFREG | 0666;
		st->st_nlink = 1;
		return 0;
	}
	return -ENOENT;
}

static int sf_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	(void)off;
	(void)fi;
	(void)flags;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "slow", NULL, 0, 0);
	return 0;
}

static int sf_open(const char *path, struct fuse_file_info *fi)
{
	if (strcmp(path, "/slow") != 0)
		return -ENOENT;
	hang();
	fi->fh = __atomic_add_fetch(&nopen, 1, __ATOMIC_SEQ_CST);
	return 0;
}

static int sf_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	if (fi->fh != 1)
		hang_on(close_flag);
	return 0;
}

static int sf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	return 0;
}

static int sf_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
	(void)path;
	(void)buf;
	(void)off;
	(void)fi;
	return (int)size;
}

static int sf_lock(const char *path, struct fuse_file_info *fi, int cmd, struct flock *fl)
{
	(void)path;
	(void)fi;
	hang();
	/* FLAGFILE.lock: every lock is taken by someone else, and a wait never ends. */
	if (cmd != F_GETLK && fl->l_type != F_UNLCK && access(lock_flag, F_OK) == 0) {
		if (cmd == F_SETLK)
			return -EAGAIN;
		hang_on(lock_flag);
	}
	if (cmd == F_GETLK)
		fl->l_type = F_UNLCK;
	return 0;
}

static const struct fuse_operations ops = {
    .getattr = sf_getattr,
    .readdir = sf_readdir,
    .open = sf_open,
    .read = sf_read,
    .write = sf_write,
    .lock = sf_lock,
    .flush = sf_flush,
};

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	flag = argv[1];
	snprintf(close_flag, sizeof(close_flag), "%s.close", flag);
	snprintf(lock_flag, sizeof(lock_flag), "%s.lock", flag);
	argv[1] = argv[0];
	return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
