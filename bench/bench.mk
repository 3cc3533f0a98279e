# Benchmark helpers (make bench).
METABENCH := $(BUILD)/bench/metabench
$(METABENCH): bench/metabench.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -D_GNU_SOURCE -Wall -Wextra -o $@ $<
all: $(METABENCH)
