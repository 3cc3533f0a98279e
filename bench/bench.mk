# Benchmark helpers (make bench).
METABENCH := $(BUILD)/bench/metabench
NOTIFY_ANCHOR := $(BUILD)/bench/notify_anchor
$(METABENCH): bench/metabench.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -o $@ $<
$(NOTIFY_ANCHOR): bench/notify_anchor.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_CFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread
all: $(METABENCH) $(NOTIFY_ANCHOR)
SHARE_START := $(BUILD)/bench/share_start
$(SHARE_START): bench/share_start.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(SHARE_START)
OPCOUNT := $(BUILD)/bench/opcount
$(OPCOUNT): bench/opcount.c
	@mkdir -p $(dir $@)
	$(CC) $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(OPCOUNT)
# bench/newapi.sh: the new mount API's cycle (static: runs in busybox containers).
NEWAPI_LOOP := $(BUILD)/bench/newapi_loop
$(NEWAPI_LOOP): bench/newapi_loop.c
	@mkdir -p $(dir $@)
	$(CC) -static $(MV_PLAIN_CFLAGS) -o $@ $<
all: $(NEWAPI_LOOP)
