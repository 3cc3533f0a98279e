COMMON_OBJ := $(addprefix $(OBJ)/common/,log.o fdutil.o nsutil.o unix_listener.o)

# tests/unit/test_unix_listener.c: the listener's rule against real files and sockets.
$(BUILD)/tests/unit/test_unix_listener: $(OBJ)/tests/unit/test_unix_listener.o $(COMMON_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
