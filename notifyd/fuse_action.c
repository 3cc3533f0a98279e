/* SPDX-License-Identifier: MIT */
/*
 * The `fuse` action, in a worker thread:
 *
 *   1. checks (limits, caller's CAP_SYS_ADMIN, options: mount_check.c; the
 *      job's slots: job_reserve()), target and source resolved in the
 *      caller's view, source openable by the caller (open_files());
 *   2. notifyd opens, in the host's view, everything the program will get:
 *      the program itself (or the container's, program = container:NAME),
 *      the image (open_files()), the fusermount stand-in (a sealed memfd),
 *      its argv and environment (plan_command(), fuse_plan.c), the caller's
 *      ids and namespaces, /dev/null (plan_caller()); and reads what
 *      confines it: the caller's capabilities, no_new_privs, groups and
 *      cgroup (plan_confine(), fuse_confine.c);
 *   3. the start-up itself (mounter, daemon, FUSE_INIT, attaching the mount)
 *      runs in a thread of its own, which answers the request
 *      (fuse_startup.c), so the worker is free at once.
 */
#include "notifyd/fuse_action.h"
#include "notifyd/fuse_plan.h"
#include "notifyd/caller_cgroup.h"
#include "notifyd/loop_device.h"
#include "notifyd/lxc_proxy.h"
#include "notifyd/fuse_confine.h"
#include "notifyd/fuse_daemon.h"
#include "notifyd/fuse_startup.h"
#include "notifyd/mount_check.h"
#include "notifyd/mount_kernel.h"
#include "notifyd/mount_options.h"
#include "notifyd/mount_resolve.h"
#include "notifyd/view.h"
#include "common/cleanup.h"
#include "common/fdutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* What an LXC request keeps of its 30 s for the work after FUSE_INIT. */
#define FUSE_LXC_ATTACH_MS 3000

/* Is the resolved source a loop device notifyd gave this container? */
static bool is_own_loop(const struct request *rq, int source_fd, dev_t *rdev)
{
	struct stat st;

	if (fstat(source_fd, &st) < 0 || !S_ISBLK(st.st_mode))
		return false;
	*rdev = st.st_rdev;
	return loop_device_access(rq->c->id, st.st_rdev) == LOOP_OWNED;
}

/*
 * The job's slots: LXC's deadline (it stops waiting after 30 s: answer
 * ETIMEDOUT while it still listens), a max-fuse-daemons reservation and a
 * start-up slot.  0, or -errno with the refusal in *d.
 */
static int job_reserve(struct request *rq, const struct profile *p, struct fuse_job *job,
                       struct decision *d)
{
	bool global;
	int r;

	if (rq->t.lxc) {
		int left = lxc_reply_ms_left(rq->t.lxc) - FUSE_LXC_ATTACH_MS;

		if (left < 1000)
			return decision_fail(
			    d, ETIMEDOUT,
			    "LXC stops waiting for the answer before a FUSE start-up");
		if ((unsigned)left < job->startup_timeout_ms)
			job->startup_timeout_ms = (unsigned)left;
	}
	r = fuse_daemon_reserve(rq->c, FUSE_DAEMON_PROGRAM, p->max_fuse_daemons);
	if (r < 0)
		return decision_fail(d, -r, "container runs its max-fuse-daemons = %u FUSE daemons",
		                     p->max_fuse_daemons);
	job->reserved = true;
	r = fuse_startup_reserve(rq->c, p->max_fuse_starting, &global);
	if (r < 0 && global)
		return decision_fail(d, -r, "%d FUSE start-ups in progress across all containers",
		                     FUSE_MAX_STARTING_ALL);
	if (r < 0)
		return decision_fail(
		    d, -r, "container has max-fuse-starting = %u FUSE start-ups in progress",
		    p->max_fuse_starting);
	job->starting = true;
	return 0;
}

/*
 * The files the program gets: the program itself (the host's, opened
 * before anything of the container's is looked at, or the container's,
 * program = container:PATH), the target, and the image: the backing file of
 * a loop device notifyd gave the container (no kernel loop on the data
 * path), else the source opened as the caller, in its cgroup (its device
 * policy applies).  0, or -errno with the refusal in *d.
 */
static int open_files(struct request *rq, const struct profile_fs *fs, const struct proc_creds *cr,
                      struct fuse_plan *pl, struct decision *d)
{
	_cleanup_close_ int target_fd = -EBADF, source_fd = -EBADF;
	bool from_container = strncmp(fs->program, "container:", 10) == 0;
	const char *prog_path = from_container ? fs->program + 10 : fs->program;
	dev_t loop_rdev = 0;
	int r;

	if (!from_container) {
		pl->prog = open(prog_path, O_PATH | O_CLOEXEC);
		if (pl->prog < 0)
			return decision_fail(d, EOPNOTSUPP, "program %s: %s (fix the profile)",
			                     prog_path, strerror(errno));
	}
	/* Detached (the new mount API): no target yet, the source as the caller sees it. */
	r = mount_resolve_paths(rq, fs->source_none ? MOUNT_SOURCE_NONE : MOUNT_SOURCE_BLOCK_FILE,
	                        !pl->ro, cr, pl->detached ? NULL : &target_fd, &source_fd, d);
	if (r < 0)
		return r;
	if (from_container) {
		r = view_enter(rq->t.procfd, 1);
		if (r >= 0) {
			pl->prog = view_open(prog_path, O_PATH);
			view_leave();
			r = pl->prog < 0 ? pl->prog : 0;
		}
		if (r < 0)
			return decision_fail(d, -r, "program %s in the container: %s", prog_path,
			                     strerror(-r));
	}
	if (source_fd >= 0 && is_own_loop(rq, source_fd, &loop_rdev)) {
		pl->image = loop_device_open_backing(rq->c->id, loop_rdev, !pl->ro);
		if (pl->image < 0)
			return decision_fail(d, -pl->image, "%s: %s", rq->source,
			                     pl->image == -EACCES ? "loop device is read-only"
			                     : pl->image == -ENXIO
			                         ? "loop device has no backing file"
			                         : strerror(-pl->image));
	} else if (source_fd >= 0) {
		pl->image = mount_source_open(rq, cr, source_fd, !pl->ro, d);
		if (pl->image < 0)
			return pl->image;
	}
	pl->target = TAKE_FD(target_fd);
	return 0;
}

/*
 * Directories one of which every container has, for a detached start-up's
 * placeholder mountpoint: covered by the stand-in's tmpfs in the daemon's
 * private view only, so the program must not need what is in it.
 */
static const char *const placeholders[] = {"/tmp", "/run", "/mnt",  "/var/tmp", "/media",
                                           "/srv", "/opt", "/home", "/root",    "/dev"};

/*
 * The mountpoint a libfuse2 program is told when there is no target yet
 * (fuse_action_create()): it stat()s it and finds the stand-in there
 * (PATH), so it must be a directory in the caller's view; the first of
 * placeholders[] that is.  0, or -errno with the refusal in *d.
 */
static int plan_placeholder(struct request *rq, const char *prog_name, struct fuse_plan *pl,
                            struct decision *d)
{
	int r = view_enter(rq->t.procfd, 1);

	if (r < 0)
		return decision_fail(d, -r, "cannot enter the caller's mount namespace: %s",
		                     strerror(-r));
	r = -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(placeholders) && r < 0; i++) {
		_cleanup_close_ int fd = view_open(placeholders[i], O_PATH | O_DIRECTORY);
		if (fd >= 0)
			r = snprintf(pl->mountpoint, sizeof(pl->mountpoint), "%s", placeholders[i]);
	}
	view_leave();
	if (r < 0)
		return decision_fail(d, EOPNOTSUPP,
		                     "%s needs a placeholder mountpoint and the container has none "
		                     "of /tmp, /run, /mnt, ... (docs/new-mount-api.md)",
		                     prog_name);
	return 0;
}

/*
 * What runs: the hand-over (the fusermount stand-in for libfuse2), the
 * mountpoint the program is told, argv, environment, the kernel FUSE
 * options.  0, or -errno with the refusal in *d.
 */
static int plan_command(struct request *rq, const struct profile_fs *fs,
                        const struct mount_opts *opts, const char *prog_name, struct fuse_plan *pl,
                        struct decision *d)
{
	int r;

	pl->fusermount = fs->handover == FUSE_HANDOVER_FUSERMOUNT ||
	                 (fs->handover == FUSE_HANDOVER_AUTO && fuse_plan_links_libfuse2(pl->prog));
	if (pl->fusermount) {
		pl->shim = fuse_confine_shim_memfd();
		if (pl->shim < 0)
			return decision_fail(
			    d, EOPNOTSUPP,
			    "%s needs the fusermount stand-in, not found next to notifyd "
			    "(fuse-shim/) or in MOUNTVISOR_FUSE_SHIM_DIR",
			    prog_name);
	}
	/* libfuse2 stat()s the mountpoint it is given (in its own view, a
	 * placeholder that holds the stand-in: the target, or with none yet
	 * another directory); libfuse3 takes the fd. */
	if (pl->fusermount && pl->detached) {
		r = plan_placeholder(rq, prog_name, pl, d);
		if (r < 0)
			return r;
	} else if (pl->fusermount)
		r = snprintf(pl->mountpoint, sizeof(pl->mountpoint), "%s", rq->target);
	else
		r = snprintf(pl->mountpoint, sizeof(pl->mountpoint), "/dev/fd/%d", DFD_FUSE);
	if (r < 0 || (size_t)r >= sizeof(pl->mountpoint))
		return decision_fail(d, ENAMETOOLONG, "target too long for %s", prog_name);
	r = fuse_plan_argv(pl, fs, prog_name, opts, pl->image >= 0, pl->mountpoint);
	if (r < 0)
		return decision_fail(d, EINVAL, "arguments of [fs %s] do not fit this mount (%s)",
		                     fs->type, strerror(-r));
	fuse_plan_env(pl);
	snprintf(pl->source, sizeof(pl->source), "%.255s", rq->source[0] ? rq->source : rq->type);
	snprintf(pl->subtype, sizeof(pl->subtype), "%s", prog_name);
	for (size_t i = 0; fs->fuse_options[i] && pl->n_fsopts < (int)ARRAY_SIZE(pl->fsopts); i++)
		fuse_plan_fsopt(&pl->fsopts[pl->n_fsopts++], fs->fuse_options[i]);
	return 0;
}

/*
 * Who the program runs as and where: the caller's ids as its user
 * namespace sees them, its namespaces, root and cwd.  0, or -errno with the
 * refusal in *d.
 */
static int plan_caller(struct request *rq, const struct proc_creds *cr, struct fuse_plan *pl,
                       struct fuse_job *job, struct decision *d)
{
	char map[4096];

	if (fd_read_file_at(rq->t.procfd, "uid_map", map, sizeof(map)) < 0 ||
	    fuse_plan_map_to_ns(map, cr->fsuid, &pl->uid) < 0 ||
	    fd_read_file_at(rq->t.procfd, "gid_map", map, sizeof(map)) < 0 ||
	    fuse_plan_map_to_ns(map, cr->fsgid, &pl->gid) < 0)
		return decision_fail(d, EPERM,
		                     "the caller's ids are not mapped in its user namespace");
	snprintf(pl->uid_str, sizeof(pl->uid_str), "%u", pl->uid);
	snprintf(pl->gid_str, sizeof(pl->gid_str), "%u", pl->gid);
	for (unsigned i = 0; i < cr->n_groups && pl->n_groups < (int)ARRAY_SIZE(pl->groups); i++) {
		unsigned g;
		if (fuse_plan_map_to_ns(map, cr->groups[i], &g) == 0)
			pl->groups[pl->n_groups++] = g;
	}
	pl->userns = ns_open_at(rq->t.procfd, "user");
	pl->mntns = ns_open_at(rq->t.procfd, "mnt");
	pl->pidns = ns_open_at(rq->t.procfd, "pid");
	pl->ipcns = ns_open_at(rq->t.procfd, "ipc");
	pl->utsns = ns_open_at(rq->t.procfd, "uts");
	pl->netns = ns_open_at(rq->t.procfd, "net");
	pl->cgroupns = ns_open_at(rq->t.procfd, "cgroup");
	pl->root = openat(rq->t.procfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pl->cwd = openat(rq->t.procfd, "cwd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	pl->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	job->mntns_fd = ns_open_at(rq->t.procfd, "mnt");
	if (pl->userns < 0 || pl->mntns < 0 || pl->pidns < 0 || pl->root < 0 || pl->cwd < 0 ||
	    pl->devnull < 0 || job->mntns_fd < 0)
		return decision_fail(d, ESRCH, "the caller's namespaces are gone");
	return 0;
}

/*
 * What confines the program: the caller's capabilities, no_new_privs and
 * cgroup; then the last check that all of it, read through /proc/<tid>,
 * was still the caller's.  0, or -errno with the refusal in *d.
 */
static int plan_confine(struct request *rq, const char *prog_name, struct fuse_plan *pl,
                        struct decision *d)
{
	char why[256];
	int r;

	r = fuse_confine_prepare(rq->t.procfd, &pl->confine, why, sizeof(why));
	if (r < 0)
		return decision_fail(d, EPERM, "cannot confine %s: %s", prog_name, why);
	pl->cgroup_procs = caller_cgroup_v2_procs(rq->t.procfd);
	if (pl->cgroup_procs == -ENOMEDIUM) {
		log_debug("%s: the caller is in no cgroup2 hierarchy notifyd sees; %s stays in "
		          "notifyd's",
		          rq->c->id, prog_name);
		pl->cgroup_procs = -EBADF;
	} else if (pl->cgroup_procs < 0) {
		return decision_fail(d, EPERM,
		                     "cannot confine %s: opening the caller's cgroup.procs: %s",
		                     prog_name, strerror(-pl->cgroup_procs));
	}
	if (target_valid(&rq->t) < 0)
		return decision_fail(d, ENOENT, "caller gave up the request");
	log_debug("%s: %s gets CapBnd=%llx CapInh=%llx CapAmb=%llx NoNewPrivs=%d (caller: "
	          "CapBnd=%llx CapPrm=%llx CapEff=%llx Seccomp=%d)",
	          rq->c->id, prog_name, (unsigned long long)pl->confine.bnd,
	          (unsigned long long)pl->confine.inh, (unsigned long long)pl->confine.amb,
	          pl->confine.nnp, (unsigned long long)pl->confine.caller_bnd,
	          (unsigned long long)pl->confine.caller_prm,
	          (unsigned long long)pl->confine.caller_eff, pl->confine.caller_seccomp);
	return 0;
}

/*
 * The new mount API records `ro` (FSCONFIG_SET_FLAG) among the options,
 * where mount(2) has MS_RDONLY, which allowed-options does not judge: take
 * ro and rw out of rq->data (the last one wins, as in the kernel) into *ro.
 */
static void take_ro(struct request *rq, bool *ro)
{
	char out[sizeof(rq->data)], *save = NULL, *w;
	size_t n = 0;

	out[0] = '\0';
	for (w = strtok_r(rq->data, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "ro") || !strcmp(w, "rw")) {
			*ro = w[1] == 'o';
			continue;
		}
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", n ? "," : "", w);
	}
	memcpy(rq->data, out, sizeof(out));
}

/*
 * The fuse action up to the start-up, for mount(2) (created NULL: the mount
 * is attached at rq->target) and for the new mount API's CMD_CREATE
 * (fuse_action_create(): the detached mount goes to created()).
 */
static void
fuse_action_run(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                int (*created)(struct request *rq, int mnt_fd, uint64_t mnt_id, void *userdata),
                void *userdata, struct decision *d)
{
	struct mount_opts opts = {0};
	struct mount_flags mf;
	struct proc_creds cr;
	struct fuse_plan *pl = NULL;
	struct fuse_job *job = NULL;
	const char *prog_path;
	bool create_ro = false;
	int r;

	d->action = DECISION_FUSE;
	if (!fs || !fs->program) {
		decision_fail(d, EPERM, "fuse rule without a program");
		goto out;
	}
	prog_path = strncmp(fs->program, "container:", 10) ? fs->program : fs->program + 10;
	if (created) {
		/* FSCONFIG_CMD_CREATE takes no value (the kernel's EINVAL); mount_check_prepare()
		 * reads args[3] as mount(2)'s flags, which are 0 here. */
		if (rq->notif.data.args[3] || rq->notif.data.args[4]) {
			decision_fail(d, EINVAL, "FSCONFIG_CMD_CREATE with a value");
			goto out;
		}
		take_ro(rq, &create_ro);
	}

	r = mount_check_prepare(rq, p, fs, &mf, &opts, &cr, d);
	if (r < 0)
		goto out;
	mf.sb_ro |= create_ro;
	if (mf.sb_ro) /* FUSE programs learn read-only from their options */
		r = mount_opts_add(&opts, "ro");
	if (r < 0) {
		decision_fail(d, -r, "%s", strerror(-r));
		goto out;
	}
	pl = calloc(1, sizeof(*pl));
	job = calloc(1, sizeof(*job));
	if (!pl || !job) {
		decision_fail(d, ENOMEM, "out of memory");
		goto out;
	}
	fuse_plan_init(pl);
	job->rq = rq;
	job->pl = pl;
	job->mntns_fd = -EBADF;
	job->startup_timeout_ms = fs->startup_timeout_ms;
	job->created = created;
	job->userdata = userdata;
	pl->detached = created != NULL;
	snprintf(job->prog_name, sizeof(job->prog_name), "%s",
	         strrchr(prog_path, '/') ? strrchr(prog_path, '/') + 1 : prog_path);
	pl->ro = mf.sb_ro;
	for (size_t i = 0; i < opts.n; i++)
		if (!strcmp(opts.v[i], "ro"))
			pl->ro = true;
	pl->attr = mf.attr | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

	if (job_reserve(rq, p, job, d) < 0 || open_files(rq, fs, &cr, pl, d) < 0 ||
	    plan_command(rq, fs, &opts, job->prog_name, pl, d) < 0 ||
	    plan_caller(rq, &cr, pl, job, d) < 0 || plan_confine(rq, job->prog_name, pl, d) < 0)
		goto out;

	/* The start-up answers the request, from a thread of its own (and calls created()). */
	job->d = *d;
	fuse_startup_run(TAKE_PTR(job), d);
	pl = NULL;
	created = NULL;
out:
	if (created) /* refused before the start-up: created() learns it too */
		(void)created(rq, -(d->err ? d->err : EIO), 0, userdata);
	if (job) {
		if (job->starting)
			fuse_startup_release(rq->c);
		if (job->reserved)
			fuse_daemon_unreserve(rq->c, FUSE_DAEMON_PROGRAM);
		safe_close(job->mntns_fd);
		free(job);
	}
	if (pl) {
		fuse_plan_close(pl);
		free(pl);
	}
	mount_opts_free(&opts);
}

void fuse_action_mount(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                       struct decision *d)
{
	fuse_action_run(rq, p, fs, NULL, NULL, d);
}

void fuse_action_create(struct request *rq, const struct profile *p, const struct profile_fs *fs,
                        int (*created)(struct request *rq, int mnt_fd, uint64_t mnt_id,
                                       void *userdata),
                        void *userdata, struct decision *d)
{
	fuse_action_run(rq, p, fs, created, userdata, d);
}
