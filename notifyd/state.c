/* SPDX-License-Identifier: MIT */
#include "notifyd/state.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int dirfd_ = -EBADF; /* written once at start */

static bool is_state_file(const char *name, size_t *stem)
{
	size_t len = strlen(name);

	if (name[0] == '.' || len <= 5 || strcmp(name + len - 5, ".json") != 0)
		return false;
	*stem = len - 5;
	return true;
}

int state_init(const char *dir, bool keep)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = fd_mkdir_p(dir, 0700); /* it says which mounts are notifyd's */

	if (r < 0)
		return r;
	dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0)
		return -errno;
	if (fchmod(dirfd_, 0700) < 0)
		return -errno;
	d = fdopendir(fcntl(dirfd_, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return -errno;
	rewinddir(d);
	while ((de = readdir(d))) {
		size_t stem;
		/* Temporaries of a writer that died, and everything when not restarting. */
		if (de->d_name[0] == '.' ? strncmp(de->d_name, ".tmp.", 5) == 0
		                         : !keep && is_state_file(de->d_name, &stem))
			(void)unlinkat(dirfd_, de->d_name, 0);
	}
	return 0;
}

int state_write(const char *name, struct json_object *obj)
{
	char path[NAME_MAX + 1], tmp[NAME_MAX + 1];
	const char *text;
	_cleanup_close_ int fd = -EBADF;
	size_t len;

	if (dirfd_ < 0)
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s.json", name) >= sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), ".tmp.%ld.%s", (long)syscall(SYS_gettid), name) >=
	        sizeof(tmp))
		return -ENAMETOOLONG;
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	fd = openat(dirfd_, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0) {
			int r = -errno;
			(void)unlinkat(dirfd_, tmp, 0);
			return r;
		}
		done += (size_t)w;
	}
	if (renameat(dirfd_, tmp, dirfd_, path) < 0) {
		int r = -errno;
		(void)unlinkat(dirfd_, tmp, 0);
		return r;
	}
	return 0;
}

int state_read(const char *name, struct json_object **ret)
{
	char path[NAME_MAX + 1];
	_cleanup_close_ int fd = -EBADF;
	struct json_object *obj;

	if (dirfd_ < 0)
		return -ENOENT;
	if ((size_t)snprintf(path, sizeof(path), "%s.json", name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = openat(dirfd_, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	obj = json_object_from_fd(fd);
	if (!obj)
		return -EINVAL;
	*ret = obj;
	return 0;
}

void state_remove(const char *name)
{
	char path[NAME_MAX + 1];

	if (dirfd_ < 0 || (size_t)snprintf(path, sizeof(path), "%s.json", name) >= sizeof(path))
		return;
	(void)unlinkat(dirfd_, path, 0);
}

void state_foreach(const char *prefix,
                   void (*fn)(const char *name, struct json_object *obj, void *userdata),
                   void *userdata)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t plen = strlen(prefix);

	if (dirfd_ < 0)
		return;
	d = fdopendir(fcntl(dirfd_, F_DUPFD_CLOEXEC, 3));
	if (!d)
		return;
	rewinddir(d); /* the duplicate shares dirfd_'s position with every earlier reader */
	while ((de = readdir(d))) {
		char name[NAME_MAX + 1];
		struct json_object *obj = NULL;
		size_t stem;
		int r;

		if (!is_state_file(de->d_name, &stem) || strncmp(de->d_name, prefix, plen) != 0)
			continue;
		memcpy(name, de->d_name, stem);
		name[stem] = '\0';
		r = state_read(name, &obj);
		if (r < 0) {
			log_warn("state: %s unreadable (%s); removed", de->d_name, strerror(-r));
			state_remove(name);
			continue;
		}
		fn(name, obj, userdata);
		json_object_put(obj);
	}
}

int state_get_u64(struct json_object *obj, const char *key, unsigned long long *ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	*ret = (unsigned long long)json_object_get_uint64(v);
	return 0;
}

int state_get_str(struct json_object *obj, const char *key, const char **ret)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return -EINVAL;
	*ret = json_object_get_string(v);
	return 0;
}

int state_set_u64(struct json_object *obj, const char *key, unsigned long long v)
{
	struct json_object *n = json_object_new_uint64(v);

	if (!n)
		return -ENOMEM;
	return json_object_object_add(obj, key, n) < 0 ? -ENOMEM : 0;
}

int state_set_str(struct json_object *obj, const char *key, const char *v)
{
	struct json_object *s = json_object_new_string(v ? v : "");

	if (!s)
		return -ENOMEM;
	return json_object_object_add(obj, key, s) < 0 ? -ENOMEM : 0;
}
