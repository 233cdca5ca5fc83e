# SPDX-License-Identifier: GPL-2.0-only
# esptagd: loader, agent channel and SA manager of one host port.
# Its objects include the BPF skeletons (build/skel/esptag_{tx,rx}.skel.h).
ESPTAGD_SRCS := $(wildcard user/esptagd/*.c)
ESPTAGD_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(ESPTAGD_SRCS))
BINS += $(BUILD)/bin/esptagd

$(ESPTAGD_OBJS): $(BUILD)/skel/esptag_tx.skel.h $(BUILD)/skel/esptag_rx.skel.h

$(BUILD)/bin/esptagd: $(ESPTAGD_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS) -lsystemd -lcrypto)

# PF mode loads esptag_port; its default skeleton name collides with
# struct esptag_port, hence a second skeleton named esptag_port_bpf.
$(BUILD)/skel/esptag_port_bpf.skel.h: $(BUILD)/bpf/esptag_port.bpf.o
	$(call bpf-skel,esptag_port_bpf)
$(ESPTAGD_OBJS): $(BUILD)/skel/esptag_port_bpf.skel.h

# Daemon unit tests (tests/unit/test_esptagd_*.c) link the daemon's agent
# channel (chan.c, chan_pkt.c); the test provides logm().
ESPTAGD_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_esptagd_*.c))
$(BUILD)/obj/tests/unit/test_esptagd_%.o: CFLAGS += -Iuser/esptagd
$(ESPTAGD_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/obj/user/esptagd/chan.o $(BUILD)/obj/user/esptagd/chan_pkt.o $(TLIB_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS))
