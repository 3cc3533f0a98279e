NOTIFYD_OBJ := $(addprefix $(OBJ)/notifyd/,main.o container.o control.o mount_kernel.o \
	mount_options.o mount_request.o mount_verify.o oci_listener.o profile.o profile_store.o \
	supervise.o target.o umount_request.o view.o worker.o mount_lock.o ns_child.o \
	caller_cgroup.o source_open.o device_allow.o \
	mount_resolve.o mount_fuse.o fuse_confine.o fuse_startup.o fuse_daemon.o loop_device.o \
	loop_request.o lxc_proxy.o lxc_cookie.o kernel_check.o)
NOTIFYD_LIBS := -lseccomp -ljson-c -linih

PROGRAMS += $(BUILD)/notifyd $(BUILD)/notifyctl

$(BUILD)/notifyd: $(NOTIFYD_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(NOTIFYD_LIBS) $(LDLIBS)

$(BUILD)/notifyctl: $(OBJ)/notifyd/notifyctl.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
