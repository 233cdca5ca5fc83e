# SPDX-License-Identifier: GPL-2.0-only
# esptag top-level build. Quiet by default; `make V=1` shows commands.
#
# Layout conventions (new files are picked up without editing this file):
#   bpf/*.bpf.c              -> build/bpf/*.bpf.o + build/skel/*.skel.h
#   user/lib/*.c             -> build/lib/libesptag.a
#   user/<tool>/*.c          -> build/bin/<name> (see mk/*.mk for each tool)
#   tests/unit/test_*.c      -> build/tests/test_*   (C unit tests)
#   tests/bpf/test_*.c       -> build/tests/test_*   (BPF_PROG_TEST_RUN tests)
#   tests/bpf/progs/*.bpf.c  -> build/tests/progs/*.bpf.o
#   tests/fuzz/fuzz_*.c      -> build/fuzz/fuzz_*    (libFuzzer)
#   mk/*.mk                  extra rules per component
.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Canned recipes, used by this file and mk/*.mk:
#   $(call link-bin,LIBS)  link the prerequisites (headers left out) into $@
#   $(bpf-obj)             compile the BPF source $< into $@ (+ its .d)
#   $(call bpf-skel,NAME)  generate the skeleton of $< with object name NAME
define link-bin
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(filter-out %.h,$^) -o $@ $(1)
endef
define bpf-obj
	$(call msg,BPF,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $(@:.o=.d) -c $< -o $@
endef
define bpf-skel
	$(call msg,SKEL,$@)
	@mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name $(1) > $@
endef

BUILD     ?= build
CC        ?= gcc
CLANG     ?= clang
BPFTOOL   ?= bpftool
AR        ?= ar
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	     -D_GNU_SOURCE -Iinclude -Iuser/lib -I$(BUILD)/skel -MMD -MP
LDLIBS    += -lbpf -lxdp -lelf -lz -lcrypto -lpthread
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -D__TARGET_ARCH_$(ARCH) \
	     -Iinclude -Ibpf -I/usr/include/$(MULTIARCH) -MMD -MP

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/skel/%.skel.h,$(BPF_SRCS))
LIB_SRCS   := $(wildcard user/lib/*.c)
LIB_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB        := $(BUILD)/lib/libesptag.a
TPROG_SRCS := $(wildcard tests/bpf/progs/*.bpf.c)
TPROG_OBJS := $(patsubst tests/bpf/progs/%.bpf.c,$(BUILD)/tests/progs/%.bpf.o,$(TPROG_SRCS))
TEST_SRCS  := $(wildcard tests/unit/test_*.c tests/bpf/test_*.c)
TEST_BINS  := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(TEST_SRCS)))
TLIB_SRCS  := $(wildcard tests/lib/*.c)
TLIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(TLIB_SRCS))
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

# Tools add themselves to BINS in mk/*.mk.
BINS :=
include $(sort $(wildcard mk/*.mk))

.PHONY: all bpf bins tests fuzz-build deps test demo bench fuzz clean conformance check-root
all: bpf bins tests

bpf: $(BPF_OBJS) $(SKELS)
bins: $(BINS)
tests: $(TEST_BINS) $(TPROG_OBJS) $(BINS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c
	$(bpf-obj)

$(BUILD)/tests/progs/%.bpf.o: tests/bpf/progs/%.bpf.c
	$(bpf-obj)

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call bpf-skel,$(subst -,_,$*))

$(BUILD)/obj/%.o: %.c | $(SKELS)
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(TLIB_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS))

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/bpf/test_%.o $(TLIB_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS))

# libFuzzer targets: the fuzz source plus the library sources, instrumented.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	       -D_GNU_SOURCE -DESPTAG_FUZZ -Iinclude -Iuser/lib -Iuser/agent
fuzz-build: $(FUZZ_BINS)
# FUZZ_EXTRA_SRCS_<name>: extra sources of fuzz_<name> (also prerequisites).
.SECONDEXPANSION:
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) $(FUZZ_EXTRA_SRCS) $$(FUZZ_EXTRA_SRCS_$$*) $(wildcard include/esptag/*.h user/lib/*.h)
	$(call msg,FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(LIB_SRCS) $(FUZZ_EXTRA_SRCS_$*) -o $@ -lcrypto

deps:
	$(Q)scripts/deps

test: deps
	$(Q)scripts/bpffs
	$(Q)$(MAKE) --no-print-directory all fuzz-build
	$(Q)tests/run

fuzz: deps fuzz-build
	$(Q)tests/fuzz/run $(or $(FUZZ_SECONDS),60)

demo: deps
	$(Q)scripts/bpffs
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo

bench: deps
	$(Q)scripts/bpffs
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/bench

clean:
	$(call msg,CLEAN,$(BUILD))
	$(Q)rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
