# SPDX-License-Identifier: GPL-2.0-only
# make bench: benchmark programs (bench/), driven by scripts/bench.
#   bench/progs/*.bpf.c -> build/bench/progs/*.bpf.o + build/bench/*.skel.h
#   bench/bench_bpf.c   -> build/bench/bench_bpf   (BPF_PROG_TEST_RUN, live frames, SA scaling, churn)
#   bench/ctl_bench.c   -> build/bench/ctl_bench   (control socket: batched adds, latency, flush)
#   bench/gcm_bench.c   -> build/bench/gcm_bench   (bare OpenSSL AES-GCM loop)
#   bench/pkt_send.c    -> build/bench/pkt_send    (AF_PACKET frame blaster for the agent)
# Built with `make all` (the tests use them: tests/integration/test_bench.sh).
BENCH_PROG_SRCS := $(wildcard bench/progs/*.bpf.c)
BENCH_PROG_OBJS := $(patsubst bench/progs/%.bpf.c,$(BUILD)/bench/progs/%.bpf.o,$(BENCH_PROG_SRCS))
BENCH_SKELS     := $(patsubst bench/progs/%.bpf.c,$(BUILD)/bench/%.skel.h,$(BENCH_PROG_SRCS))
BENCH_BINS      := $(addprefix $(BUILD)/bench/,bench_bpf ctl_bench gcm_bench pkt_send)

tests: $(BENCH_BINS) $(BENCH_PROG_OBJS)

$(BUILD)/bench/progs/%.bpf.o: bench/progs/%.bpf.c
	$(bpf-obj)

$(BUILD)/bench/%.skel.h: $(BUILD)/bench/progs/%.bpf.o
	$(call bpf-skel,$(subst -,_,$*))

$(BUILD)/obj/bench/bench_bpf.o: CFLAGS += -I$(BUILD)/bench
$(BUILD)/obj/bench/bench_bpf.o: $(BENCH_SKELS)

$(BUILD)/bench/bench_bpf: $(BUILD)/obj/bench/bench_bpf.o $(TLIB_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS))

$(BUILD)/bench/ctl_bench: $(BUILD)/obj/bench/ctl_bench.o $(LIB)
	$(call link-bin,$(LDLIBS))

$(BUILD)/bench/gcm_bench: $(BUILD)/obj/bench/gcm_bench.o
	$(call link-bin,-lcrypto)

$(BUILD)/bench/pkt_send: $(BUILD)/obj/bench/pkt_send.o
	$(call link-bin)
