# libFuzzer targets for vfsd (tests/fuzz/README.md).  Included from the
# top-level Makefile.
#
#   make fuzz-build   clang, -fsanitize=fuzzer,address,undefined, into build-fuzz/
#   make fuzz         build, then run each target FUZZ_SECONDS (default 60)
#
# The objects are built by the ordinary $(OBJ)/%.o rule in a sub-make with
# BUILD=build-fuzz, CC=clang and the sanitizers in SANITIZE, so they can never
# mix with build/ or build-asan/.  Two clang warnings gcc does not give are
# off (designated initializers leaving fields zero, the opcode-name macro).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_fuse fuzz_vhost_user
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_BINS    := $(addprefix $(BUILD)/tests/fuzz/,$(FUZZ_TARGETS))
FUZZ_VFSD_OBJ := $(filter-out $(OBJ)/vfsd/main.o,$(VFSD_OBJ))
FUZZ_COMMON  := $(OBJ)/tests/fuzz/fixture.o $(OBJ)/tests/fuzz/canary.o

# Inside the sub-make only: the targets themselves.
fuzz-targets: $(FUZZ_BINS)

$(FUZZ_BINS): $(BUILD)/tests/fuzz/%: $(OBJ)/tests/fuzz/%.o $(FUZZ_COMMON) $(FUZZ_VFSD_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(VFSD_LIBS) $(LDLIBS)

# The canary scan must not be instrumented for libFuzzer (canary.c says why);
# it reads megabytes per input, so no sanitizer either.
$(OBJ)/tests/fuzz/canary.o: tests/fuzz/canary.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -fsanitize=%,$(MV_CFLAGS)) $(CFLAGS) -c -o $@ $<

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SANITIZE="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
		CFLAGS="-Wno-missing-field-initializers -Wno-string-plus-int $(CFLAGS)" fuzz-targets

fuzz: deps fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

.PHONY: fuzz fuzz-build fuzz-targets
