# Benchmark helpers (make bench).
METABENCH := $(BUILD)/bench/metabench
$(METABENCH): bench/metabench.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(METABENCH)
