# C unit tests: tests/unit/test_NAME.c -> $(BUILD)/tests/unit/test_NAME
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
PROGRAMS_TEST += $(UNIT_BINS)
all: $(UNIT_BINS)

$(BUILD)/tests/unit/test_mount_options: $(OBJ)/tests/unit/test_mount_options.o \
		$(OBJ)/notifyd/mount_options.o $(OBJ)/notifyd/profile.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -linih -lmount $(LDLIBS)

$(BUILD)/tests/unit/test_mount_verify: $(OBJ)/tests/unit/test_mount_verify.o \
		$(OBJ)/notifyd/mount_verify.o $(OBJ)/notifyd/profile.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -linih -lmount $(LDLIBS)

$(BUILD)/tests/unit/test_oci_state: $(OBJ)/tests/unit/test_oci_state.o \
		$(OBJ)/notifyd/oci_listener.o $(OBJ)/notifyd/lxc_cookie.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -ljson-c $(LDLIBS)

# Helpers run by integration tests and benchmarks.
HELPERS := $(BUILD)/tests/helpers/mv_launch $(BUILD)/tests/helpers/mountloop \
	$(BUILD)/tests/helpers/lxc_proxy_client
all: $(HELPERS)
$(BUILD)/tests/helpers/mv_launch: $(OBJ)/tests/helpers/mv_launch.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lseccomp $(LDLIBS)
$(BUILD)/tests/helpers/lxc_proxy_client: $(OBJ)/tests/helpers/lxc_proxy_client.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# Runs a program with chosen system calls answering ENOSYS (an older kernel's view).
$(BUILD)/tests/helpers/enosys: $(OBJ)/tests/helpers/enosys.o
	$(CC) $(LDFLAGS) -o $@ $^ -lseccomp $(LDLIBS)
all: $(BUILD)/tests/helpers/enosys
$(BUILD)/tests/helpers/mountloop: tests/helpers/mountloop.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -static -o $@ $<

# Static helper run inside test containers, whose root file system has only busybox.
MOUNT_RACE := $(BUILD)/tests/helpers/mount_race
$(MOUNT_RACE): tests/helpers/mount_race.c
	@mkdir -p $(dir $@)
	$(CC) -static -pthread $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(MOUNT_RACE)
POSIX_SUITE := $(BUILD)/tests/posix/posix_suite
$(POSIX_SUITE): tests/posix/posix_suite.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(POSIX_SUITE)
LOOP_HOSTILE := $(BUILD)/tests/helpers/loop_hostile
$(LOOP_HOSTILE): tests/helpers/loop_hostile.c
	@mkdir -p $(dir $@)
	$(CC) -static -pthread $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(LOOP_HOSTILE)
# Static helper of tests/integration/notifyd_restart_storm.sh (runs in the busybox
# and LXC containers) and bench/restart.sh: trapped calls in a loop, every result kept.
STORM_PROBE := $(BUILD)/tests/helpers/storm_probe
$(STORM_PROBE): tests/helpers/storm_probe.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(STORM_PROBE)

$(BUILD)/tests/unit/test_profile: $(OBJ)/tests/unit/test_profile.o $(OBJ)/notifyd/profile.o \
		$(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -linih $(LDLIBS)

# A malicious vhost-user-fs back-end, for tests/security/vfsd_host.sh.
VU_EVIL := $(BUILD)/tests/helpers/vu_evil_backend
$(VU_EVIL): $(OBJ)/tests/helpers/vu_evil_backend.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(VU_EVIL)

# tests/security/notifyd_fuse_confine.sh: a hostile container's /etc/ld.so.preload
# library, run inside the FUSE program notifyd starts (built without the
# sanitizers: it loads into the host's fuse2fs in the container).
FUSE_PRELOAD := $(BUILD)/tests/helpers/fuse_preload.so
$(FUSE_PRELOAD): tests/security/fuse_preload.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(FUSE_PRELOAD)

# vfsd's seccomp filter loaded in forked children (every vfsd module for the allowlists).
$(BUILD)/tests/unit/test_vfsd_seccomp: $(OBJ)/tests/unit/test_vfsd_seccomp.o \
		$(filter-out $(OBJ)/vfsd/main.o,$(VFSD_OBJ)) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(VFSD_LIBS) $(LDLIBS)

# A hostile virtio-fs guest against vfsd, run by tests/security/vfsd_guest.sh.
$(BUILD)/tests/helpers/vfsd_guest_attack: $(OBJ)/tests/security/vfsd_guest_attack.o \
		$(VFSD_CORE_OBJ) $(COMMON_OBJ) | $(BUILD)/vfsd
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(BUILD)/tests/helpers/vfsd_guest_attack

# Static helper for tests/security/notifyd_locked_flags.sh and notifyd_devices.sh.
LOCKED_FLAGS := $(BUILD)/tests/helpers/locked_flags
$(LOCKED_FLAGS): tests/helpers/locked_flags.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(LOCKED_FLAGS)

# Static helper for tests/security/notifyd_newmount_hostile.sh (issue 20): the new
# mount API used by a hostile container, and on the host for the kernel's answers.
NEWMOUNT_HOSTILE := $(BUILD)/tests/helpers/newmount_hostile
$(NEWMOUNT_HOSTILE): tests/security/newmount_hostile.c
	@mkdir -p $(dir $@)
	$(CC) -static -pthread $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(NEWMOUNT_HOSTILE)

# Static helpers of tests/integration/newmount_oci.sh and newmount_fuse.sh:
# libmount 2.39+'s new-mount-API sequences and the composefs-style one
# (newmount_seq) and a program with no mount(2) fallback (fsopen_only), run
# in busybox containers.
NEWMOUNT_SEQ := $(BUILD)/tests/helpers/newmount_seq
$(NEWMOUNT_SEQ): tests/helpers/newmount_seq.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
FSOPEN_ONLY := $(BUILD)/tests/helpers/fsopen_only
$(FSOPEN_ONLY): tests/helpers/fsopen_only.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(NEWMOUNT_SEQ) $(FSOPEN_ONLY)

# Static lock probe for the QEMU guest (tests/vm/guest-init.sh, run-vfsd-vm.sh).
GUEST_LOCK := $(BUILD)/tests/helpers/guest_lock
$(GUEST_LOCK): tests/helpers/guest_lock.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(GUEST_LOCK)

# Static helper for tests/security/notifyd_redteam.sh (runs in the busybox container).
UMOUNT_SWAP := $(BUILD)/tests/helpers/umount_swap
$(UMOUNT_SWAP): tests/security/umount_swap.c
	@mkdir -p $(dir $@)
	$(CC) -static -pthread $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(UMOUNT_SWAP)

# Static helper for tests/security/notifyd_restart_redteam.sh (runs in the busybox container).
RESTART_FLIP := $(BUILD)/tests/helpers/restart_flip
$(RESTART_FLIP): tests/security/restart_flip.c
	@mkdir -p $(dir $@)
	$(CC) -static -pthread $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(RESTART_FLIP)

# Static helper for tests/security/notifyd_redteam19.sh: 32-bit umount(2) by int 0x80.
UMOUNT32 := $(BUILD)/tests/helpers/umount32
$(UMOUNT32): tests/security/umount32.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(UMOUNT32)
LOOP32 := $(BUILD)/tests/helpers/loop32
$(LOOP32): tests/security/loop32.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(LOOP32)

# Red-team attacks on vfsd by a hostile guest, run by tests/security/vfsd_redteam.sh.
$(BUILD)/tests/helpers/vfsd_redteam: $(OBJ)/tests/security/vfsd_redteam.o \
		$(VFSD_CORE_OBJ) $(COMMON_OBJ) | $(BUILD)/vfsd
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(BUILD)/tests/helpers/vfsd_redteam

# A hostile guest against vfsd's host-shared locks, run by tests/security/vfsd_locks_hostile.sh.
$(BUILD)/tests/helpers/vfsd_locks_hostile: $(OBJ)/tests/security/vfsd_locks_hostile.o \
		$(VFSD_CORE_OBJ) $(COMMON_OBJ) | $(BUILD)/vfsd
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(BUILD)/tests/helpers/vfsd_locks_hostile

# The red team of issue 18's vfsd changes, run by tests/security/vfsd_redteam18.sh.
$(BUILD)/tests/helpers/vfsd_redteam18: $(OBJ)/tests/security/vfsd_redteam18.o \
		$(VFSD_CORE_OBJ) $(COMMON_OBJ) | $(BUILD)/vfsd
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
all: $(BUILD)/tests/helpers/vfsd_redteam18

# A FUSE file system whose opens hang on demand (vfsd_redteam18.sh's hostile submount).
$(BUILD)/tests/helpers/slow_fuse: tests/helpers/slow_fuse.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) $$(pkg-config --cflags fuse3) -o $@ $< $$(pkg-config --libs fuse3)
all: $(BUILD)/tests/helpers/slow_fuse

# tests/security/notifyd_redteam2.sh: the second red-team round.  lock_grab runs
# in the busybox container (static); fuse_preload_abi.so loads into the host's
# fuse2fs through the container's /etc/ld.so.preload (no sanitizers).
LOCK_GRAB := $(BUILD)/tests/helpers/lock_grab
$(LOCK_GRAB): tests/security/lock_grab.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
FUSE_PRELOAD_ABI := $(BUILD)/tests/helpers/fuse_preload_abi.so
$(FUSE_PRELOAD_ABI): tests/security/fuse_preload_abi.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(LOCK_GRAB) $(FUSE_PRELOAD_ABI)

# fuse_daemon.c's reservations from threads (links with container.c and mount_record.c alone).
$(BUILD)/tests/unit/test_fuse_daemon: $(OBJ)/tests/unit/test_fuse_daemon.o \
		$(OBJ)/notifyd/fuse_daemon.o $(OBJ)/notifyd/container.o $(OBJ)/notifyd/mount_record.o \
		$(OBJ)/notifyd/fd_store.o $(OBJ)/notifyd/state.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lmount -ljson-c -lsystemd $(LDLIBS)
# The dispatcher and target.c with a real notify fd (a child that installs a
# SCMP_ACT_NOTIFY filter): every notifyd module but main.o.
NOTIFYD_LIB_OBJ := $(filter-out $(OBJ)/notifyd/main.o,$(NOTIFYD_OBJ))
$(BUILD)/tests/unit/test_supervise: $(OBJ)/tests/unit/test_supervise.o $(NOTIFYD_LIB_OBJ) \
		$(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)
$(BUILD)/tests/unit/test_target: $(OBJ)/tests/unit/test_target.o $(NOTIFYD_LIB_OBJ) \
		$(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)
# metrics.c's labels, exact totals from threads, histogram buckets.
$(BUILD)/tests/unit/test_metrics: $(OBJ)/tests/unit/test_metrics.o $(NOTIFYD_LIB_OBJ) \
		$(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)
# share_idmap.c: map inversion, and a real idmapped copy made with the namespace.
$(BUILD)/tests/unit/test_share_idmap: $(OBJ)/tests/unit/test_share_idmap.o $(NOTIFYD_LIB_OBJ) \
		$(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)
# fuse_children.c's mounter and daemon run for real, with malloc and the
# snprintf/dprintf family trapped after fork (the test defines them).
$(BUILD)/tests/unit/test_fuse_children: $(OBJ)/tests/unit/test_fuse_children.o \
		$(OBJ)/notifyd/fuse_children.o $(OBJ)/notifyd/fuse_confine.o \
		$(OBJ)/notifyd/fuse_plan.o $(OBJ)/notifyd/fuse_startup.o $(NOTIFYD_LIB_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $(sort $^) $(NOTIFYD_LIBS) $(LDLIBS)

# Stands in for notifyd under `notifyd --keeper` (tests/integration/notifyd_keeper.sh).
$(BUILD)/tests/helpers/fdstore_child: $(OBJ)/tests/helpers/fdstore_child.o
	$(CC) $(LDFLAGS) -o $@ $^ -lsystemd $(LDLIBS)
all: $(BUILD)/tests/helpers/fdstore_child
# The differential tester (tests/integration/vfsd_difftest.sh, make difftest).
DIFFTEST := $(BUILD)/tests/posix/difftest
$(DIFFTEST): tests/posix/difftest.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(DIFFTEST)

$(BUILD)/tests/unit/test_ns_allow: $(OBJ)/tests/unit/test_ns_allow.o \
		$(OBJ)/notifyd/oci_listener.o $(OBJ)/notifyd/ns_allow.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -ljson-c -linih $(LDLIBS)

# Static netlink uevent listener run inside test containers
# (tests/integration/notifyd_uevents.sh, tests/security/notifyd_uevents_hostile.sh).
UEVENT_LISTEN := $(BUILD)/tests/helpers/uevent_listen
$(UEVENT_LISTEN): tests/helpers/uevent_listen.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(UEVENT_LISTEN)
# Static helper run inside test containers: a mount through the new mount API only
# (tests/integration/newmount_kernel.sh).
NEWAPI_SMOKE := $(BUILD)/tests/helpers/newapi_smoke
$(NEWAPI_SMOKE): tests/helpers/newapi_smoke.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(NEWAPI_SMOKE)

$(BUILD)/tests/unit/test_newapi: $(OBJ)/tests/unit/test_newapi.o $(OBJ)/notifyd/newapi_args.o \
		$(OBJ)/notifyd/kernel_check.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# target_addfd() and target_same_file() with a real notify fd.
$(BUILD)/tests/unit/test_target_addfd: $(OBJ)/tests/unit/test_target_addfd.o $(NOTIFYD_LIB_OBJ) \
		$(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)

# Red-team attacks on the new mount API's emulation, run inside test containers.
REDTEAM20 := $(BUILD)/tests/security/redteam20
$(REDTEAM20): tests/security/redteam20.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(REDTEAM20)
