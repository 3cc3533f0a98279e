COMMON_OBJ := $(addprefix $(OBJ)/common/,log.o fdutil.o nsutil.o unix_listener.o)
