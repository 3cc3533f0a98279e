/* SPDX-License-Identifier: MIT */
/* The records of the mounts notifyd made for a container entry (mount_record.h). */
#include "notifyd/mount_record.h"
#include "notifyd/state.h"
#include "common/cleanup.h"
#include "common/kernel_compat.h"
#include "common/log.h"
#include "common/nsutil.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/nsfs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* An entry's records: its "mounts" resource.  list and n are under the entry's lock. */
struct records {
	struct container_resource base;
	struct mount_record *list;
	unsigned n;
};

static void record_free(struct mount_record *m)
{
	free(m->type);
	free(m->source);
	free(m->target);
	free(m);
}

static void records_release(struct container_resource *res)
{
	struct records *rs = (struct records *)res;

	for (struct mount_record *m = rs->list, *next; m; m = next) {
		next = m->next;
		record_free(m);
	}
	free(rs);
}

static struct json_object *records_save(struct container *c, struct container_resource *res);

/*
 * Records are per entry (a `runc exec` records the mounts it made itself), go
 * with the entry, and need nothing when it hangs up: the mounts stay in the
 * container's mount namespace and go away with it.  They are saved in the
 * entry's state file (records_save()) after each change, so that a
 * restarted notifyd still knows its mounts (mount_record_restore()).
 */
static const struct container_resource_ops records_ops = {
    .name = "mounts",
    .release = records_release,
    .save = records_save,
};

static struct records *records_find(struct container *c)
{
	return (struct records *)container_resource_find(c, &records_ops);
}

unsigned mount_record_count(struct container *c)
{
	struct records *rs = records_find(c);
	unsigned n = 0;

	if (rs) {
		pthread_mutex_lock(&c->lock);
		n = rs->n;
		pthread_mutex_unlock(&c->lock);
	}
	return n;
}

void mount_record_foreach(struct container *c,
                          void (*fn)(const struct mount_record *m, void *userdata), void *userdata)
{
	struct records *rs = records_find(c);

	if (!rs)
		return;
	pthread_mutex_lock(&c->lock);
	for (const struct mount_record *m = rs->list; m; m = m->next)
		fn(m, userdata);
	pthread_mutex_unlock(&c->lock);
}

/*
 * statmount(STATMOUNT_MNT_BASIC) of mount mnt_id in namespace mntns_id (0:
 * the calling thread's): 1 and its old id in *old_id, 0 not there, -errno.
 */
static int statmount_basic(uint64_t mnt_id, uint64_t mntns_id, uint32_t *old_id)
{
	struct mv_mnt_id_req req = {
	    .size = sizeof(req),
	    .mnt_id = mnt_id,
	    .param = MV_STATMOUNT_MNT_BASIC,
	    .mnt_ns_id = mntns_id,
	};
	uint64_t buf[512]; /* struct statmount: fixed part only, no strings asked for */

	if (syscall(__NR_statmount, &req, buf, sizeof(buf), 0) == 0) {
		/* struct statmount's mnt_id_old: a __u32 at byte 56 (uapi, Linux 6.8). */
		memcpy(old_id, (const char *)buf + 56, sizeof(*old_id));
		return 1;
	}
	/* ENOENT: no such mount in that namespace, or the namespace is gone with its mounts. */
	return errno == ENOENT ? 0 : -errno;
}

int mount_record_old_id(uint64_t mnt_id, uint64_t mntns_id, uint64_t *old_id)
{
	uint32_t old = 0;
	int r = statmount_basic(mnt_id, mntns_id, &old);

	*old_id = old;
	return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

int mount_record_present(uint64_t mnt_id, uint64_t mntns_id)
{
	uint32_t old_id;

	return statmount_basic(mnt_id, mntns_id, &old_id);
}

int mount_record_ns_id(int nsfd, uint64_t *ret)
{
	uint64_t id = 0;

	if (ioctl(nsfd, NS_GET_MNTNS_ID, &id) < 0)
		return -errno;
	if (id == 0)
		return -EOPNOTSUPP;
	*ret = id;
	return 0;
}

/*
 * The namespace a new record's mount is in, when the kernel can tell: the
 * container's init's (the common case; a mount made from a namespace the
 * container created later is learnt when notifyd meets it there, see
 * mount_record_prune()).  0 when unknown.
 */
static uint64_t init_mntns_id(struct container *c, uint64_t mnt_id)
{
	_cleanup_close_ int nsfd = -EBADF;
	uint64_t id = 0;

	if (c->pidfd < 0)
		return 0;
	nsfd = ioctl(c->pidfd, PIDFD_GET_MNT_NAMESPACE, 0);
	if (nsfd < 0 || mount_record_ns_id(nsfd, &id) < 0)
		return 0;
	return mount_record_present(mnt_id, id) == 1 ? id : 0;
}

/* Prune without saving: for mount_record_restore(), whose caller saves. */
static int prune(struct container *c, uint64_t mntns_id)
{
	struct records *rs = records_find(c);
	struct mount_record *gone = NULL, *m;
	int n = 0, r;

	if (mntns_id == 0)
		return -EINVAL;
	if (!rs)
		return 0;
	pthread_mutex_lock(&c->lock);
	for (struct mount_record **p = &rs->list; (m = *p);) {
		r = mount_record_present(m->mnt_id, m->mntns_id ? m->mntns_id : mntns_id);
		if (r == 1 && !m->mntns_id)
			m->mntns_id = mntns_id;
		if (r == 0 && m->mntns_id) {
			*p = m->next;
			m->next = gone;
			gone = m;
			rs->n--;
			n++;
			continue;
		}
		p = &m->next;
	}
	pthread_mutex_unlock(&c->lock);
	for (; gone; gone = m) {
		m = gone->next;
		record_free(gone);
	}
	return n;
}

int mount_record_prune(struct container *c, uint64_t mntns_id)
{
	int n = prune(c, mntns_id);

	if (n > 0)
		container_save(c);
	return n;
}

int mount_record_prune_at(struct container *c, int procfd)
{
	_cleanup_close_ int nsfd = ns_open_at(procfd, "mnt");
	uint64_t id = 0;
	int r;

	if (nsfd < 0)
		return nsfd;
	r = mount_record_ns_id(nsfd, &id);
	return r < 0 ? r : mount_record_prune(c, id);
}

int mount_record_add(struct container *c, uint64_t mnt_id, uint64_t mnt_id_old, const char *type,
                     const char *source, const char *target)
{
	struct records *rs =
	    (struct records *)container_resource(c, &records_ops, sizeof(struct records));
	struct mount_record *m = rs ? calloc(1, sizeof(*m)) : NULL;

	if (!m)
		return -ENOMEM;
	m->mnt_id = mnt_id;
	m->mnt_id_old = mnt_id_old;
	m->mntns_id = init_mntns_id(c, mnt_id);
	m->type = strdup(type);
	m->source = strdup(source);
	m->target = strdup(target);
	if (!m->type || !m->source || !m->target) {
		free(m->type);
		free(m->source);
		free(m->target);
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_lock(&c->lock);
	m->next = rs->list;
	rs->list = m;
	rs->n++;
	pthread_mutex_unlock(&c->lock);
	container_save(c);
	return 0;
}

bool mount_record_owns(struct container *c, uint64_t mnt_id)
{
	struct records *rs = records_find(c);
	bool found = false;

	if (!rs)
		return false;
	pthread_mutex_lock(&c->lock);
	for (struct mount_record *m = rs->list; m && !found; m = m->next)
		found = m->mnt_id == mnt_id;
	pthread_mutex_unlock(&c->lock);
	return found;
}

bool mount_record_owns_old(struct container *c, uint64_t mnt_id_old, uint64_t *mnt_id)
{
	struct records *rs = records_find(c);
	uint64_t id = 0;
	uint32_t now_old = 0;
	int r;

	if (mnt_id_old == 0 || !rs)
		return false;
	pthread_mutex_lock(&c->lock);
	for (struct mount_record *m = rs->list; m && !id; m = m->next)
		if (m->mnt_id_old == mnt_id_old)
			id = m->mnt_id;
	pthread_mutex_unlock(&c->lock);
	if (!id)
		return false;
	r = statmount_basic(id, 0, &now_old);
	if (r == -ENOSYS && id == mnt_id_old) /* before 6.8: the record holds the old id */
		r = 1, now_old = (uint32_t)mnt_id_old;
	if (r != 1 || now_old != mnt_id_old)
		return false;
	*mnt_id = id;
	return true;
}

bool mount_record_remove(struct container *c, uint64_t mnt_id)
{
	struct records *rs = records_find(c);
	struct mount_record *m = NULL;

	if (!rs)
		return false;
	pthread_mutex_lock(&c->lock);
	for (struct mount_record **p = &rs->list; *p; p = &(*p)->next)
		if ((*p)->mnt_id == mnt_id) {
			m = *p;
			*p = m->next;
			rs->n--;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	if (!m)
		return false;
	record_free(m);
	container_save(c);
	return true;
}

/*
 * The entry's records for its state file: one object per record, with all
 * a restarted notifyd needs to know the mount again (its unique id and
 * namespace) and to list it.  c's lock is held.
 */
static struct json_object *records_save(struct container *c, struct container_resource *res)
{
	struct records *rs = (struct records *)res;
	struct json_object *a = json_object_new_array();

	(void)c;
	for (const struct mount_record *m = rs->list; m && a; m = m->next) {
		struct json_object *o = json_object_new_object();

		if (!o || state_set_u64(o, "mnt_id", m->mnt_id) < 0 ||
		    state_set_u64(o, "mnt_id_old", m->mnt_id_old) < 0 ||
		    state_set_u64(o, "mntns_id", m->mntns_id) < 0 ||
		    state_set_str(o, "type", m->type) < 0 ||
		    state_set_str(o, "source", m->source) < 0 ||
		    state_set_str(o, "target", m->target) < 0 || json_object_array_add(a, o) < 0) {
			json_object_put(o);
			json_object_put(a);
			return NULL;
		}
	}
	return a;
}

int mount_record_restore(struct container *c, struct json_object *obj)
{
	struct records *rs;
	size_t n;

	if (!json_object_is_type(obj, json_type_array))
		return -EINVAL;
	n = json_object_array_length(obj);
	rs = (struct records *)container_resource(c, &records_ops, sizeof(struct records));
	if (!rs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(obj, i);
		unsigned long long id, old, ns;
		const char *type, *source, *target;
		struct mount_record *m;

		if (state_get_u64(o, "mnt_id", &id) < 0 ||
		    state_get_u64(o, "mnt_id_old", &old) < 0 ||
		    state_get_u64(o, "mntns_id", &ns) < 0 || state_get_str(o, "type", &type) < 0 ||
		    state_get_str(o, "source", &source) < 0 ||
		    state_get_str(o, "target", &target) < 0)
			continue; /* not ours to guess: that mount is the kernel's now */
		m = calloc(1, sizeof(*m));
		if (!m)
			return -ENOMEM;
		m->mnt_id = id;
		m->mnt_id_old = old;
		m->mntns_id = ns;
		m->type = strdup(type);
		m->source = strdup(source);
		m->target = strdup(target);
		if (!m->type || !m->source || !m->target) {
			record_free(m);
			return -ENOMEM;
		}
		pthread_mutex_lock(&c->lock);
		m->next = rs->list;
		rs->list = m;
		rs->n++;
		pthread_mutex_unlock(&c->lock);
	}
	/*
	 * Reconcile: a mount unmounted while nobody served the container (by
	 * the kernel, or the container went) is dropped.  Against the init's
	 * namespace while it lives; records that know their namespace are
	 * looked up there (prune()), so a namespace gone drops its records.
	 */
	if (c->pidfd >= 0) {
		_cleanup_close_ int nsfd = ioctl(c->pidfd, PIDFD_GET_MNT_NAMESPACE, 0);
		uint64_t ns_id = 0;

		if (nsfd >= 0 && mount_record_ns_id(nsfd, &ns_id) == 0) {
			int dropped = prune(c, ns_id);

			if (dropped > 0)
				log_info(
				    "container %s: %d of its mounts went while notifyd was away",
				    c->id, dropped);
		}
	}
	return 0;
}
