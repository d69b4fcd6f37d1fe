# bert.c — build, test, install.
#
#   make              library (static + shared) and the `bert` tool
#   make test         the whole test suite (installs missing packages first)
#   make demo         run bert.c on the bundled model
#   make test-asan    the test suite under AddressSanitizer + UBSan
#   make bench        forward-pass benchmark of the bert-base shape
#   make install PREFIX=/usr/local
#
# Options: BLAS=openblas (default) or BLAS=none (portable loops, no BLAS);
# MPI=none, CUDA=none, HTTP=none (no `bert serve`), PLOT=none (no `bert plot`).

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
BLAS    ?= openblas
# The version is BERT_VERSION in include/bert.h (its one place).
VERSION := $(shell sed -n 's/^#define BERT_VERSION "\(.*\)"$$/\1/p' include/bert.h)

MULTIARCH := $(shell $(CC) -dumpmachine 2>/dev/null)
# Prefer the OpenMP build of OpenBLAS: called inside our own OpenMP regions
# it runs single-threaded instead of starting threads of its own.
OPENBLAS_PC := $(firstword $(wildcard /usr/lib/$(MULTIARCH)/openblas-openmp/pkgconfig))
PKGCONF := PKG_CONFIG_PATH=$(OPENBLAS_PC)$${PKG_CONFIG_PATH:+:$$PKG_CONFIG_PATH} pkg-config

comma := ,
ifeq ($(BLAS),openblas)
BLAS_CFLAGS := $(shell $(PKGCONF) --cflags openblas 2>/dev/null) -DBERT_USE_CBLAS
BLAS_LIBDIR := $(shell $(PKGCONF) --variable=libdir openblas 2>/dev/null)
BLAS_LIBS   := $(shell $(PKGCONF) --libs openblas 2>/dev/null) $(if $(BLAS_LIBDIR),-Wl$(comma)-rpath$(comma)$(BLAS_LIBDIR))
endif

JSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null)
JSON_LIBS   := $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)
# utf8proc: Unicode categories, decomposition and case mapping for the tokenizer.
UNICODE_LIBS := $(shell pkg-config --libs libutf8proc 2>/dev/null || echo -lutf8proc)

# PLplot (cairo devices) draws `bert plot`; only the CLI links it. PLOT=none
# builds the tool without it (`bert plot` then says so), as HTTP=none does
# without libmicrohttpd, which serves `bert serve` (src/server): a tool with
# fewer libraries to carry (tests/gpu/pack.sh).
PLOT ?= auto
HTTP ?= auto
ifneq ($(PLOT),none)
PLOT_CFLAGS := $(shell pkg-config --cflags plplot 2>/dev/null)
PLOT_LIBS   := $(shell pkg-config --libs plplot 2>/dev/null || echo -lplplot)
endif
ifneq ($(HTTP),none)
HTTP_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
HTTP_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
endif

# Open MPI (libopenmpi-dev) makes training data-parallel (src/dist/mpi.c);
# without it, or with MPI=none, the library knows only a job of one.
MPI      ?= auto
ifneq ($(MPI),none)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell pkg-config --libs ompi-c 2>/dev/null)
endif
ifneq ($(MPI_LIBS),)
MPI_DEFS := -DBERT_USE_MPI
endif

OPT      ?= -O3
WARN     := -Wall -Wextra -Wshadow -Wno-unknown-pragmas
# -fno-math-errno: nothing here reads errno after a math call, and without it
# sqrtf in a loop is a possible errno write that stops vectorisation.
CFLAGS   += -std=c11 $(OPT) -g $(WARN) -fno-math-errno -fPIC -fopenmp -fvisibility=hidden -D_POSIX_C_SOURCE=200809L \
            -Iinclude -Isrc $(BLAS_CFLAGS) $(JSON_CFLAGS)
LDLIBS   += $(BLAS_LIBS) $(JSON_LIBS) $(UNICODE_LIBS) $(MPI_LIBS) $(CUDA_LIBS) -lz -fopenmp -lm -ldl -lpthread

# CUDA (src/cuda, --device cuda): built where nvcc is found (CUDA=none leaves
# it out), never in sanitizer or fuzzing builds. The CUDA runtime is linked
# statically; cuBLAS is opened at run time, so the tool starts and runs on
# the CPU where no GPU or driver is. Kernels for sm_80 (A100) and sm_90
# (H100/H200), with PTX for newer GPUs.
CUDA     ?= auto
NVCC     ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
ifneq ($(CUDA),none)
ifeq ($(findstring -fsanitize,$(OPT)),)
# An nvcc that cannot build for these GPUs with this host compiler (too old,
# or a newer gcc than it takes) leaves CUDA out rather than failing the
# build: a one-line kernel is compiled once per build directory to find out.
CUDA_NVCC := $(if $(NVCC),$(shell test -f $(BUILD)/.cuda-probe || { mkdir -p $(BUILD) && \
	printf '__global__ void k(float *x) { x[0] = 1; }\n' > $(BUILD)/.cuda-probe.cu && \
	{ $(NVCC) $(CUDA_ARCH) -c $(BUILD)/.cuda-probe.cu -o $(BUILD)/.cuda-probe.o >/dev/null 2>&1 && echo yes || echo no; } \
	> $(BUILD)/.cuda-probe; }; grep -q yes $(BUILD)/.cuda-probe && echo $(NVCC)))
endif
endif
ifneq ($(CUDA_NVCC),)
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(realpath $(CUDA_NVCC)))
CUDA_OBJ  := $(patsubst %.cu,$(BUILD)/%.o,$(wildcard src/cuda/*.cu))
CUDA_LIBS := -L$(CUDA_HOME)/lib64 -lcudart_static -lrt -lstdc++
CUDA_SKIP := src/cuda/none.c
endif

LIB_SRC  := $(filter-out $(CUDA_SKIP),$(wildcard src/util/*.c src/io/*.c src/data/*.c src/kernels/*.c src/model/*.c src/tokenizer/*.c src/tasks/*.c src/train/*.c src/dist/*.c src/cuda/*.c))
CLI_SRC  := $(filter-out $(if $(filter none,$(PLOT)),src/cli/cmd_plot.c,src/cli/cmd_plot_none.c),$(wildcard src/cli/*.c))
SERVER_SRC := $(if $(filter none,$(HTTP)),src/server/params.c src/server/none.c,$(filter-out src/server/none.c,$(wildcard src/server/*.c)))
TEST_SRC := $(filter-out tests/json_close.c tests/st_close.c tests/dist_check.c tests/faults/% tests/cuda_emu/%,$(wildcard tests/*.c tests/*/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(CUDA_OBJ)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

STATIC   := $(BUILD)/libbert.a
SHARED   := $(BUILD)/libbert.so.$(VERSION)
BIN      := $(BUILD)/bert
TESTBIN  := $(BUILD)/test_bert
BENCHBIN := $(BUILD)/bench_forward

.PHONY: all deps test test-asan demo bench examples install uninstall clean
all: deps
	@$(MAKE) --no-print-directory $(STATIC) $(SHARED) $(BIN)

deps:
	@tools/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/src/cuda/%.o: src/cuda/%.cu
	@mkdir -p $(dir $@)
	$(CUDA_NVCC) -O3 -std=c++17 $(CUDA_ARCH) -Iinclude -Isrc -DBERT_CUDA_LIBDIR='"$(CUDA_HOME)/lib64"' \
		-Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra -MMD -MP -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,libbert.so.0 -o $@ $^ $(LDFLAGS) $(LDLIBS)
	ln -sf libbert.so.$(VERSION) $(BUILD)/libbert.so.0
	ln -sf libbert.so.0 $(BUILD)/libbert.so

# The tool links the static library so it runs from the build tree.
$(BIN): $(CLI_OBJ) $(SERVER_OBJ) $(STATIC)
	$(CC) -o $@ $(CLI_OBJ) $(SERVER_OBJ) $(STATIC) $(LDFLAGS) $(LDLIBS) $(PLOT_LIBS) $(HTTP_LIBS)
$(CLI_OBJ): CFLAGS += $(PLOT_CFLAGS)
$(BUILD)/src/dist/%.o: CFLAGS += $(MPI_CFLAGS) $(MPI_DEFS)
$(SERVER_OBJ): CFLAGS += $(HTTP_CFLAGS)

# Tests see the library's internals (they test kernels and loaders directly).
$(TESTBIN): $(TEST_OBJ) $(STATIC)
	$(CC) -o $@ $(TEST_OBJ) $(STATIC) $(LDFLAGS) $(LDLIBS)
$(TEST_OBJ): CFLAGS += -Itests -fvisibility=default

# The tool as HTTP=none PLOT=none links it (no libmicrohttpd, no PLplot),
# from this build's objects: tests/cli/test_cli.sh runs it.
BARE_OBJ := $(filter-out $(BUILD)/src/cli/cmd_plot.o $(BUILD)/src/cli/cmd_plot_none.o,$(CLI_OBJ)) \
            $(BUILD)/src/cli/cmd_plot_none.o $(BUILD)/src/server/params.o $(BUILD)/src/server/none.o
$(BUILD)/bert-bare: $(BARE_OBJ) $(STATIC)
	$(CC) -o $@ $(BARE_OBJ) $(STATIC) $(LDFLAGS) $(LDLIBS)

# The GPU path's own source run on the CPU (tests/cuda_emu/): src/cuda's .cu
# files built by the host C++ compiler against emulated CUDA headers, a
# stand-in cuBLAS and NCCL (over MPI) opened as the real ones are, and the
# tests linked to them.
# Needs no nvcc and no GPU (CXX: make's default, g++); tests/run.sh runs the
# tests that need a GPU on it.
EMU_DIR  := $(BUILD)/cuda-emu
EMU_OBJ  := $(patsubst src/cuda/%.cu,$(EMU_DIR)/%.o,$(wildcard src/cuda/*.cu)) $(EMU_DIR)/emu.o \
            $(EMU_DIR)/test_emulated.o $(EMU_DIR)/emu_checks.o
EMU_FLAGS := -g $(OPT) -ffp-contract=off -Wall -Wextra -Itests/cuda_emu/include -Itests/cuda_emu -Iinclude -Isrc
$(EMU_DIR)/%.o: src/cuda/%.cu
	@mkdir -p $(dir $@)
	$(CXX) -x c++ -std=c++17 $(EMU_FLAGS) -DBERT_CUDA_LIBDIR='"$(CURDIR)/$(EMU_DIR)"' -MMD -MP -c $< -o $@
$(EMU_DIR)/emu.o: tests/cuda_emu/emu.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(EMU_FLAGS) -MMD -MP -c $< -o $@
$(EMU_DIR)/emu_checks.o: tests/cuda_emu/emu_checks.cc
	@mkdir -p $(dir $@)
	$(CXX) -std=c++17 $(EMU_FLAGS) -Itests -fvisibility=default -MMD -MP -c $< -o $@
$(EMU_DIR)/test_emulated.o: tests/cuda_emu/test_emulated.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -Itests/cuda_emu -fvisibility=default -MMD -MP -c $< -o $@
$(EMU_DIR)/libcublas.so.13: tests/cuda_emu/cublas.c tests/cuda_emu/include/cublas_v2.h tests/cuda_emu/emu.h tests/cuda_emu/include/cuda_fp16.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(EMU_FLAGS) -fPIC -shared -o $@ $< $(LDFLAGS)
$(EMU_DIR)/libnccl.so.2: tests/cuda_emu/nccl.c tests/cuda_emu/include/nccl.h tests/cuda_emu/emu.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(EMU_FLAGS) $(MPI_CFLAGS) $(MPI_DEFS) -fPIC -shared -o $@ $< $(LDFLAGS) $(MPI_LIBS)
$(BUILD)/test_cuda_emu: $(TEST_OBJ) $(EMU_OBJ) $(STATIC) $(EMU_DIR)/libcublas.so.13 $(EMU_DIR)/libnccl.so.2
	$(CXX) -rdynamic -o $@ $(TEST_OBJ) $(EMU_OBJ) $(STATIC) $(LDFLAGS) $(LDLIBS)
# The tool on the emulator: --device cuda runs end to end, under mpirun too
# (tests/cli/test_mpi.sh trains data-parallel on it).
EMU_RUNTIME := $(filter-out $(EMU_DIR)/test_emulated.o $(EMU_DIR)/emu_checks.o,$(EMU_OBJ))
$(BUILD)/bert-cuda-emu: $(CLI_OBJ) $(SERVER_OBJ) $(EMU_RUNTIME) $(STATIC) $(EMU_DIR)/libcublas.so.13 $(EMU_DIR)/libnccl.so.2
	$(CXX) -rdynamic -o $@ $(CLI_OBJ) $(SERVER_OBJ) $(EMU_RUNTIME) $(STATIC) $(LDFLAGS) $(LDLIBS) $(PLOT_LIBS) $(HTTP_LIBS)
# The GPU benchmarks on the emulator: tests/gpu/rehearse.sh runs the lent
# GPU's scripts (tests/gpu/run.sh, bench/gpu.sh) end to end on them.
$(BUILD)/bench_forward-cuda-emu: $(BUILD)/bench/bench_forward.o $(EMU_RUNTIME) $(STATIC) $(EMU_DIR)/libcublas.so.13 $(EMU_DIR)/libnccl.so.2
	$(CXX) -rdynamic -o $@ $(BUILD)/bench/bench_forward.o $(EMU_RUNTIME) $(STATIC) $(LDFLAGS) $(LDLIBS)
$(BUILD)/bench_train-cuda-emu: $(BUILD)/bench/bench_train.o $(EMU_RUNTIME) $(STATIC) $(EMU_DIR)/libcublas.so.13 $(EMU_DIR)/libnccl.so.2
	$(CXX) -rdynamic -o $@ $(BUILD)/bench/bench_train.o $(EMU_RUNTIME) $(STATIC) $(LDFLAGS) $(LDLIBS)
# Data-parallel GPU training with the loop's before_step hook, on the
# emulator (tests/cli/test_mpi.sh runs it under mpirun).
$(BUILD)/dist_hook_emu: $(BUILD)/tests/cuda_emu/dist_hook.o $(EMU_RUNTIME) $(STATIC) $(EMU_DIR)/libcublas.so.13 $(EMU_DIR)/libnccl.so.2
	$(CXX) -rdynamic -o $@ $(BUILD)/tests/cuda_emu/dist_hook.o $(EMU_RUNTIME) $(STATIC) $(LDFLAGS) $(LDLIBS)

# Compares JSONL outputs with expected files (numbers within a tolerance).
$(BUILD)/json_close: $(BUILD)/tests/json_close.o
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Compares the F32 tensors of two safetensors files within a tolerance.
$(BUILD)/st_close: $(BUILD)/tests/st_close.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# The data-parallel collectives, run under mpirun by tests/cli/test_mpi.sh.
$(BUILD)/dist_check: $(BUILD)/tests/dist_check.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Compares the tokenizer's Unicode classes with Hugging Face's (see the tool).
$(BUILD)/unicode_diff: $(BUILD)/tools/unicode_diff.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_train: $(BUILD)/bench/bench_train.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_dist: $(BUILD)/bench/bench_dist.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_tokenizer: $(BUILD)/bench/bench_tokenizer.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# Programs that use the public header alone (bert.h), as a user's would.
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
examples: $(EXAMPLES)
$(BUILD)/examples/%: examples/%.c $(STATIC) include/bert.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) -Wall -Wextra $(filter -fsanitize%,$(OPT)) -Iinclude -o $@ $< $(STATIC) $(LDFLAGS) $(LDLIBS)

$(BENCHBIN): $(BUILD)/bench/bench_forward.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

$(BUILD)/bench_gemm: $(BUILD)/bench/bench_gemm.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# `make test` also installs clang's libFuzzer runtime when missing, so that
# the suite runs every fuzz target briefly (tests/cli/test_harness.sh).
test: deps
	@tools/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/bert-bare $(TESTBIN) $(BUILD)/test_cuda_emu $(BUILD)/bert-cuda-emu $(BUILD)/dist_hook_emu $(BUILD)/bench_forward-cuda-emu $(BUILD)/bench_train-cuda-emu $(BUILD)/unicode_diff $(BUILD)/json_close $(BUILD)/st_close $(BUILD)/dist_check $(EXAMPLES) $(BUILD)/fail_io.so $(BUILD)/fs_copy
	@tests/run.sh $(BUILD)

test-asan: deps
	@$(MAKE) -s --no-print-directory BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" build-asan/bert build-asan/bert-bare build-asan/test_bert build-asan/test_cuda_emu build-asan/bert-cuda-emu build-asan/dist_hook_emu build-asan/bench_forward-cuda-emu build-asan/bench_train-cuda-emu build-asan/unicode_diff build-asan/json_close build-asan/st_close build-asan/dist_check build-asan/fail_io.so build-asan/fs_copy \
		$(patsubst examples/%.c,build-asan/examples/%,$(wildcard examples/*.c))
	@ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp tests/run.sh build-asan

demo: deps
	@$(MAKE) --no-print-directory $(BIN)
	@tools/demo.sh $(BUILD)

bench: deps
	@$(MAKE) --no-print-directory $(BENCHBIN)
	$(BENCHBIN) $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/bert.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(SHARED) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libbert.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libbert.so.0
	ln -sf libbert.so.0 $(DESTDIR)$(PREFIX)/lib/libbert.so
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/
	for pc in bert bert-shared; do \
	    sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	        -e 's|@LIBS_PRIVATE@|$(LDLIBS)|' \
	        $$pc.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/$$pc.pc || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/bert.h $(DESTDIR)$(PREFIX)/lib/libbert.* $(DESTDIR)$(PREFIX)/bin/bert \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/bert.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/bert-shared.pc

clean:
	rm -rf $(BUILD) build-asan

# Fuzzing: clang's libFuzzer with ASan + UBSan, BLAS=none (the parsers
# need no BLAS), in build-fuzz. `make fuzz FUZZ_SECONDS=N` installs clang
# when missing, builds every fuzz/*.c target and runs each N seconds from
# its seeds (fuzz/run.sh); `make test` runs them briefly when clang is there.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_NAMES   := $(patsubst fuzz/%.c,%,$(wildcard fuzz/*.c))
.PHONY: fuzz fuzz-build
fuzz:
	@tools/install-deps.sh --fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)
fuzz-build:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang BLAS=none \
		OPT="-O1 -fno-omit-frame-pointer -Wno-pass-failed -fsanitize=fuzzer-no-link $(FUZZ_SAN)" LDFLAGS="$(FUZZ_SAN)" \
		$(addprefix $(FUZZ_BUILD)/fuzzers/,$(FUZZ_NAMES))
# The CLI's objects as an archive, for fuzz targets that call its pieces.
$(BUILD)/libbert-cli.a: $(filter-out $(BUILD)/src/cli/main.o,$(CLI_OBJ))
	@rm -f $@
	$(AR) rcs $@ $^
$(BUILD)/fuzzers/%: $(BUILD)/fuzz/%.o $(BUILD)/libbert-cli.a $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(OPT) -fsanitize=fuzzer -o $@ $^ $(LDFLAGS) $(LDLIBS) $(PLOT_LIBS)
.SECONDARY: $(FUZZ_NAMES:%=$(BUILD)/fuzz/%.o)
$(BUILD)/fuzz/%.o: CFLAGS += -DFUZZ_FIXTURES='"$(CURDIR)/tests/fixtures"'

# An LD_PRELOAD shim that fails the Nth write/fsync/rename/mkdir
# (tests/faults/fail_io.c; used by tests/cli/test_harness.sh).
$(BUILD)/fail_io.so: tests/faults/fail_io.c
	$(CC) -std=c11 -O1 -g -Wall -Wextra -fPIC -shared -D_GNU_SOURCE -o $@ $< -ldl
$(BUILD)/fs_copy: $(BUILD)/tests/faults/fs_copy.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS)

-include $(wildcard $(BUILD)/fuzz/*.d) $(EMU_OBJ:.o=.d) $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SERVER_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/tools/unicode_diff.d $(BUILD)/tests/json_close.d $(BUILD)/bench/bench_forward.d $(BUILD)/bench/bench_tokenizer.d $(BUILD)/bench/bench_train.d $(BUILD)/bench/bench_gemm.d
