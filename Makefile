# SPDX-License-Identifier: MIT
# async-inspect and libasync. Everything builds into .output/; `make V=1` shows commands.
#
#   make            libasync (static, shared, pkg-config), async-inspect, examples
#   make deps       install the Debian packages the build needs (root; make test/demo do it)
#   make test       unit tests under ASan+UBSan, then the BPF integration tests (root)
#   make tsan       the multi-threaded runtime tests under ThreadSanitizer
#   make stress     the runtime unit tests in a loop, quiet then loaded (STRESS_SECONDS)
#   make demo       start an example, trace it, print the summary (root)
#   make bench      benchmarks; see bench/RESULTS.md
#   make fuzz       libFuzzer targets for the file parsers (FUZZ_SECONDS each)
#   make install    PREFIX=/usr/local DESTDIR=
#   make format     clang-format the tree

OUTPUT ?= .output
PREFIX ?= /usr/local
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' -e 's/ppc64le/powerpc/' \
			-e 's/riscv64/riscv/' -e 's/s390x/s390/')
VERSION := 0.1.0
FUZZ_SECONDS ?= 60
STRESS_SECONDS ?= 120

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
	MAKEFLAGS += --no-print-directory
endif

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
CFLAGS ?= -g -O2
# Frame pointers everywhere, so `profile` (and perf) walk native stacks through libasync,
# the examples and the tool itself; docs/profile.md says what to do for your own code.
FRAME_POINTERS := -fno-omit-frame-pointer
ALL_CFLAGS := $(CFLAGS) $(FRAME_POINTERS) -std=gnu11 $(WARN) -Iinclude -I$(OUTPUT) -D_GNU_SOURCE \
	-pthread
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# BPF programs see the kernel's types from vmlinux.h and libbpf's headers.
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Iinclude -Ibpf \
	-I$(OUTPUT) -Wall -Werror
# clang -target bpf does not see the host's multiarch include directory by itself.
CLANG_BPF_SYS_INCLUDES = $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

RUNTIME_SRCS := $(sort $(wildcard runtime/*.c))
RUNTIME_HDRS := $(wildcard include/async/*.h runtime/*.h)
RUNTIME_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/runtime/%.o,$(RUNTIME_SRCS))
NOPROBE_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/noprobes/runtime/%.o,$(RUNTIME_SRCS))
ASAN_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/asan/runtime/%.o,$(RUNTIME_SRCS))

BPF_SRCS := $(sort $(wildcard bpf/*.bpf.c))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
TEST_BPF_SRCS := $(sort $(wildcard tests/bpf/*.bpf.c))
TEST_BPF_SKELS := $(patsubst tests/bpf/%.bpf.c,$(OUTPUT)/tests/%.skel.h,$(TEST_BPF_SRCS))

USER_SRCS := $(sort $(wildcard user/*.c))
USER_HDRS := $(wildcard user/*.h bpf/*.h)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/user/%.o,$(USER_SRCS))
USER_LIBS := -lbpf -lelf -lz -lm

EXAMPLES := $(patsubst examples/%.c,$(OUTPUT)/examples/%,$(sort $(wildcard examples/*.c)))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(sort $(wildcard tests/unit/test_*.c)))
# C programs the integration tests drive (workloads, probe readers).
TEST_PROGS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/%,$(filter-out %.bpf.c,$(sort $(wildcard tests/bpf/*.c))))
BENCH_PROGS := $(patsubst bench/%.c,$(OUTPUT)/bench/%,$(sort $(wildcard bench/*.c)))
BENCH_NOPROBE_PROGS := $(patsubst bench/%.c,$(OUTPUT)/bench/noprobes/%,$(sort $(wildcard bench/*.c)))
FUZZERS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))

LIBASYNC_A := $(OUTPUT)/libasync.a
LIBASYNC_SO := $(OUTPUT)/libasync.so
LIBASYNC_NOPROBES := $(OUTPUT)/noprobes/libasync.a
TOOL := $(OUTPUT)/async-inspect

.PHONY: all deps test-deps lib tool examples tests test unit-test bpf-test tsan stress demo \
	bench fuzz install format clean
.DELETE_ON_ERROR:
# Skeletons and objects built through pattern chains are products, not temporaries.
.SECONDARY:

all: lib tool examples $(OUTPUT)/async-inspect.8

# ---- packages: a fresh Debian machine needs nothing but make --------------------------
DEB_PACKAGES := clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev systemtap-sdt-dev \
	libcmocka-dev pkg-config

# What the integration tests drive besides the build: JSON checks, wrk load, dot, tmux;
# gdb prints the stacks of a hung unit test (tests/watchdog); man renders the man page.
TEST_DEB_PACKAGES := python3 wrk graphviz tmux binutils bpftrace gdb man-db
DEPS_STAMP := $(OUTPUT)/.deps-ok
TEST_DEPS_STAMP := $(OUTPUT)/.test-deps-ok

# `make` only compiles; the package installation runs from `make deps` (build packages),
# and from `make test` and `make demo` (with what tests and the demo drive) before they build.
deps: $(DEPS_STAMP)
test-deps: $(DEPS_STAMP) $(TEST_DEPS_STAMP)
$(DEPS_STAMP): | $(OUTPUT)
	$(Q)./scripts/ensure-packages $(DEB_PACKAGES)
	$(Q)touch $@

$(TEST_DEPS_STAMP): | $(OUTPUT)
	$(Q)./scripts/ensure-packages $(TEST_DEB_PACKAGES)
	$(Q)touch $@

$(OUTPUT) $(OUTPUT)/runtime $(OUTPUT)/noprobes/runtime $(OUTPUT)/asan/runtime $(OUTPUT)/user \
$(OUTPUT)/examples $(OUTPUT)/tests $(OUTPUT)/bench/noprobes $(OUTPUT)/fuzz:
	$(Q)mkdir -p $@

# ---- libasync ---------------------------------------------------------------------------
lib: $(LIBASYNC_A) $(LIBASYNC_SO) $(LIBASYNC_NOPROBES) $(OUTPUT)/libasync.pc

$(OUTPUT)/runtime/%.o: runtime/%.c $(RUNTIME_HDRS) | $(OUTPUT)/runtime
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@

$(OUTPUT)/noprobes/runtime/%.o: runtime/%.c $(RUNTIME_HDRS) | $(OUTPUT)/noprobes/runtime
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DASYNC_NO_PROBES -fPIC -c $< -o $@

$(OUTPUT)/asan/runtime/%.o: runtime/%.c $(RUNTIME_HDRS) Makefile | $(OUTPUT)/asan/runtime
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -DASYNC_TEST_CLOCK -DASYNC_DEBUG -O1 -c $< -o $@

$(LIBASYNC_A): $(RUNTIME_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBASYNC_NOPROBES): $(NOPROBE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIBASYNC_SO): $(RUNTIME_OBJS) runtime/libasync.map
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -pthread -Wl,-soname,libasync.so.0 -Wl,--version-script=runtime/libasync.map \
		-o $@.0 $(RUNTIME_OBJS) && ln -sf libasync.so.0 $@

$(OUTPUT)/libasync.pc: runtime/libasync.pc.in | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< >$@

# ---- BPF programs and skeletons ---------------------------------------------------------
# trace: compare-and-swap on ring tails (BPF ISA v3)
$(OUTPUT)/trace.bpf.o $(OUTPUT)/record.bpf.o: BPF_CFLAGS += -mcpu=v3

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/async/abi.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

$(OUTPUT)/tests/%.bpf.o: tests/bpf/%.bpf.c $(wildcard bpf/*.h) include/async/abi.h | $(OUTPUT)/tests
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(CLANG_BPF_SYS_INCLUDES) -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp && rm -f $@.tmp

%.skel.h: %.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< >$@

# ---- async-inspect ------------------------------------------------------------------------
tool: $(TOOL)

$(OUTPUT)/user/%.o: user/%.c $(USER_HDRS) include/async/abi.h $(BPF_SKELS) | $(OUTPUT)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Iuser -I. -c $< -o $@

$(TOOL): $(USER_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -pthread -o $@ $^ $(USER_LIBS)

# The man page, from the tool's own --help texts (scripts/gen-man).
$(OUTPUT)/async-inspect.8: $(TOOL) scripts/gen-man
	$(call msg,GEN,$@)
	$(Q)./scripts/gen-man $(TOOL) $(VERSION) >$@

# ---- examples: linked against the shared libasync ------------------------------------------
examples: $(EXAMPLES)

$(OUTPUT)/examples/%: examples/%.c $(RUNTIME_HDRS) $(LIBASYNC_SO) | $(OUTPUT)/examples
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< -L$(OUTPUT) -lasync -Wl,-rpath,'$$ORIGIN/..'

# ---- tests --------------------------------------------------------------------------------
tests: $(UNIT_TESTS) $(TEST_PROGS) $(TEST_BPF_SKELS) all

# Runtime unit tests link the ASan-built runtime; tool unit tests (test_tool_*) below.
TOOL_UNIT_TESTS := $(filter $(OUTPUT)/tests/test_tool_%,$(UNIT_TESTS))
RUNTIME_UNIT_TESTS := $(filter-out $(TOOL_UNIT_TESTS),$(UNIT_TESTS))

$(RUNTIME_UNIT_TESTS): $(OUTPUT)/tests/test_%: tests/unit/test_%.c $(ASAN_OBJS) $(wildcard tests/unit/*.h) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -O1 -Iruntime -Itests/unit -o $@ $< $(ASAN_OBJS) -lcmocka

# Tool unit tests (tests/unit/test_tool_*.c) link the ASan-built user/ helpers: every
# user/*.c except main.c and the per-subcommand files (helpers include no skeleton).
USER_CMD_SRCS := user/main.c $(patsubst %,user/%.c,trace top tasks profile record report \
	graph deadlock analyze list diagnose)
# Helpers that load a BPF skeleton are tested through the commands, not linked here.
USER_SKEL_SRCS := user/pollwatch.c
ASAN_USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/asan/user/%.o,$(filter-out $(USER_CMD_SRCS) \
	$(USER_SKEL_SRCS),$(USER_SRCS)))

$(OUTPUT)/asan/user:
	$(Q)mkdir -p $@

$(OUTPUT)/asan/user/%.o: user/%.c $(USER_HDRS) include/async/abi.h | $(OUTPUT)/asan/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -O1 -Iuser -I. -c $< -o $@

$(TOOL_UNIT_TESTS): $(OUTPUT)/tests/test_tool_%: tests/unit/test_tool_%.c $(ASAN_USER_OBJS) $(wildcard tests/unit/*.h) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -O1 -Iuser -I. -Itests/unit -o $@ $< $(ASAN_USER_OBJS) \
		-lcmocka $(USER_LIBS)

$(OUTPUT)/tests/%: tests/bpf/%.c $(TEST_BPF_SKELS) $(LIBASYNC_A) $(RUNTIME_HDRS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -I$(OUTPUT)/tests -Iuser -I. -o $@ $< $(LIBASYNC_A) $(USER_LIBS)

# The packages first, on their own: a parallel build must not compile before they exist.
test:
	$(Q)$(MAKE) test-deps
	$(Q)$(MAKE) tests
	$(Q)./tests/run-all $(OUTPUT)

unit-test: $(UNIT_TESTS)
	$(Q)./tests/run-all --unit-only $(OUTPUT)

bpf-test: tests
	$(Q)./tests/run-all --bpf-only $(OUTPUT)

# ---- ThreadSanitizer: the multi-threaded runtime tests ----------------------------------------
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
TSAN_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/tsan/runtime/%.o,$(RUNTIME_SRCS))
TSAN_TESTS := $(patsubst %,$(OUTPUT)/tsan/tests/test_%,exec sync chan combinators blocking \
	timer reactor net registry)

$(OUTPUT)/tsan/runtime $(OUTPUT)/tsan/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/tsan/runtime/%.o: runtime/%.c $(RUNTIME_HDRS) Makefile | $(OUTPUT)/tsan/runtime
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -DASYNC_TEST_CLOCK -DASYNC_DEBUG -O1 -fPIC -c $< -o $@

$(OUTPUT)/tsan/tests/test_%: tests/unit/test_%.c $(TSAN_OBJS) $(wildcard tests/unit/*.h) | $(OUTPUT)/tsan/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -O1 -Iruntime -Itests/unit -o $@ $< $(TSAN_OBJS) -lcmocka

tsan: $(TSAN_TESTS)
	$(Q)./tests/run-all --tsan $(OUTPUT)

# Not part of `make test`'s time budget: .ci/run calls it after the tests.
stress: $(RUNTIME_UNIT_TESTS)
	$(Q)./tests/stress $(OUTPUT) $(STRESS_SECONDS)

# ---- demo ---------------------------------------------------------------------------------
demo:
	$(Q)$(MAKE) test-deps
	$(Q)$(MAKE) all
	$(Q)./examples/demo.sh $(OUTPUT)

# ---- benchmarks ---------------------------------------------------------------------------
$(OUTPUT)/bench/%: bench/%.c $(LIBASYNC_A) $(RUNTIME_HDRS) | $(OUTPUT)/bench/noprobes
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBASYNC_A)

$(OUTPUT)/bench/noprobes/%: bench/%.c $(LIBASYNC_NOPROBES) $(RUNTIME_HDRS) | $(OUTPUT)/bench/noprobes
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -DASYNC_NO_PROBES -o $@ $< $(LIBASYNC_NOPROBES)

# Runtime benchmarks (no root), then what each tracer mode costs (root). BENCH=trace runs one.
BENCH_SCRIPTS := run callgrind trace profile record tasks
BENCH_STAMP := $(OUTPUT)/.bench-deps-ok
$(BENCH_STAMP): | $(OUTPUT)
	$(Q)./scripts/ensure-packages valgrind cargo librust-tokio-dev
	$(Q)touch $@

bench: all tests $(BENCH_PROGS) $(BENCH_NOPROBE_PROGS) $(BENCH_STAMP)
	$(Q)for b in $(or $(BENCH),$(BENCH_SCRIPTS)); do \
		echo "== bench/$$b.sh $(OUTPUT)"; ./bench/$$b.sh $(OUTPUT) || exit 1; \
	done

# ---- fuzzing (clang's libFuzzer) ------------------------------------------------------------
$(OUTPUT)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(USER_SRCS) $(USER_HDRS) $(BPF_SKELS) | $(OUTPUT)/fuzz
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 -D_GNU_SOURCE -Iinclude \
		-I$(OUTPUT) -Iuser -I. -o $@ $< $(shell sed -n 's|^// fuzz-sources: ||p' $<) $(USER_LIBS)

# New inputs go to $(OUTPUT)/fuzz/NAME.corpus (libFuzzer writes to its first directory);
# the committed seeds under tests/fuzz/corpus/NAME are only read.
fuzz: $(FUZZERS)
	$(Q)for f in $(FUZZERS); do \
		name=$$(basename $$f); mkdir -p $$f.corpus $$f.artifacts; \
		echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
		seeds=tests/fuzz/corpus/$$name; [ -d $$seeds ] || seeds=; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -artifact_prefix=$$f.artifacts/ \
			$$f.corpus $$seeds || exit 1; \
	done

# ---- install ------------------------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include/async
	install -m 0755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(LIBASYNC_A) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(LIBASYNC_SO).0 $(DESTDIR)$(PREFIX)/lib/
	ln -sf libasync.so.0 $(DESTDIR)$(PREFIX)/lib/libasync.so
	install -m 0644 include/async/*.h $(DESTDIR)$(PREFIX)/include/async/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' runtime/libasync.pc.in \
		>$(DESTDIR)$(PREFIX)/lib/pkgconfig/libasync.pc
	install -D -m 0644 $(OUTPUT)/async-inspect.8 $(DESTDIR)$(PREFIX)/share/man/man8/async-inspect.8
	install -D -m 0644 contrib/async-inspect.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/async-inspect
	@# a system prefix: let the dynamic loader find libasync.so.0 at once
	$(if $(DESTDIR),,$(if $(filter /usr /usr/local,$(PREFIX)),ldconfig))

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^vmlinux/')

clean:
	rm -rf $(OUTPUT)
