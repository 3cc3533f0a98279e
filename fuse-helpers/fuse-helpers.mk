# fuse-helpers: the FUSE hand-over helpers (docs/fuse.md).
#
# The fusermount stand-in is built static (it runs inside containers whose
# root file system may hold no C library) and installed as fuse-shim/fusermount
# next to notifyd, where notifyd looks for it (or $MOUNTVISOR_FUSE_SHIM_DIR).
FUSE_SHIM := $(BUILD)/fuse-shim/fusermount
PROGRAMS_FUSE_HELPERS := $(FUSE_SHIM)

$(FUSE_SHIM): fuse-helpers/fusermount_shim.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<

# vhost-user-fs-mount: a host-side front-end for vhost-user-fs back-ends.
VUFS_MOUNT := $(BUILD)/vhost-user-fs-mount
PROGRAMS += $(VUFS_MOUNT)
$(VUFS_MOUNT): $(OBJ)/fuse-helpers/vhost_user_fs_mount.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

all: $(PROGRAMS_FUSE_HELPERS) $(VUFS_MOUNT)
