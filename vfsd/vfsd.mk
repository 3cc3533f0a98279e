# vfsd: vhost-user-fs back-end.  Included from the top-level Makefile.
VFSD_CORE_OBJ := $(addprefix $(OBJ)/vfsd/,guest_mem.o virtqueue.o vhost_user.o vu_pool.o)
VFSD_OBJ := $(VFSD_CORE_OBJ) $(addprefix $(OBJ)/vfsd/,main.o options.o idmap.o fs_device.o \
	fuse_dispatch.o fuse_inode.o fuse_handle.o fuse_creds.o fuse_ops_entry.o fuse_ops_file.o fuse_ops_lock.o \
	fuse_ops_dir.o fuse_ops_xattr.o sandbox.o seccomp.o)
VFSD_LIBS := -lseccomp -lcap-ng

PROGRAMS += $(BUILD)/vfsd

$(BUILD)/vfsd: $(VFSD_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(VFSD_LIBS) $(LDLIBS)

$(BUILD)/tests/unit/test_vfsd_guest_mem: $(OBJ)/tests/unit/test_vfsd_guest_mem.o \
		$(OBJ)/vfsd/guest_mem.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/test_vfsd_virtqueue: $(OBJ)/tests/unit/test_vfsd_virtqueue.o \
		$(VFSD_CORE_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Plays the front-end against a running vfsd (needs the daemon built).
$(BUILD)/tests/unit/test_vfsd_frontend: $(OBJ)/tests/unit/test_vfsd_frontend.o \
		$(VFSD_CORE_OBJ) $(COMMON_OBJ) | $(BUILD)/vfsd
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --translate-uid/--translate-gid rules and their options.
$(BUILD)/tests/unit/test_vfsd_idmap: $(OBJ)/tests/unit/test_vfsd_idmap.o \
		$(OBJ)/vfsd/idmap.o $(OBJ)/vfsd/options.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
