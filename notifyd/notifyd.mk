NOTIFYD_OBJ := $(addprefix $(OBJ)/notifyd/,main.o keeper.o container.o mount_record.o control.o mount_kernel.o \
	mount_options.o mount_request.o mount_verify.o oci_listener.o profile.o profile_store.o \
	supervise.o request.o decision.o target.o umount_request.o view.o worker.o mount_lock.o ns_child.o \
	caller_cgroup.o source_open.o device_allow.o \
	mount_resolve.o mount_check.o fuse_action.o fuse_plan.o fuse_confine.o fuse_startup.o fuse_children.o fuse_daemon.o fuse_newapi.o loop_device.o loop_state.o loop_node.o \
	loop_request.o lxc_proxy.o lxc_cookie.o kernel_check.o \
	virtiofs_action.o share_launch.o share_idmap.o fd_store.o state.o restart.o inflight.o inherited.o ns_allow.o metrics.o \
	newapi_handle.o newapi_request.o newapi_fsconfig.o newapi_mount.o newapi_args.o)
# libnl-3: uevents injected into a container's network namespace (uevent.c).
NOTIFYD_OBJ += $(OBJ)/notifyd/uevent.o
$(OBJ)/notifyd/uevent.o: MV_CFLAGS += $(shell pkg-config --cflags libnl-3.0)
NOTIFYD_LIBS := -lseccomp -ljson-c -linih -lsystemd

PROGRAMS += $(BUILD)/notifyd $(BUILD)/notifyctl

# libmount: option strings and mountinfo (mount_options.c, mount_verify.c,
# caller_cgroup.c, fuse_daemon.c, oci_config_device.c); a test linking any of them needs it too.
NOTIFYD_LIBS += -lmount
# libmicrohttpd: the opt-in Prometheus listener (metrics.c, docs/metrics.md).
NOTIFYD_LIBS += -lmicrohttpd
# libnl-3: uevent.c; a test linking it needs it too.
NOTIFYD_LIBS += $(shell pkg-config --libs libnl-3.0)

$(BUILD)/notifyd: $(NOTIFYD_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)

# oci-config reads the shipped seccomp rules from the installed share dir.
$(OBJ)/notifyd/oci_config_seccomp.o: MV_CFLAGS += -DMV_DATADIR='"$(PREFIX)/share/mountvisor"'

$(BUILD)/notifyctl: $(OBJ)/notifyd/notifyctl.o $(OBJ)/notifyd/oci_config.o \
	$(OBJ)/notifyd/oci_config_seccomp.o $(OBJ)/notifyd/oci_config_device.o \
	$(OBJ)/notifyd/oci_config_json.o \
	$(OBJ)/notifyd/oci_listener.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -ljson-c -lmount $(LDLIBS)
