# SPDX-License-Identifier: GPL-2.0-only
# esptag-agent: the software agent (user/agent/).
AGENT_SRCS      := $(filter-out user/agent/main.c,$(wildcard user/agent/*.c))
AGENT_OBJS      := $(patsubst %.c,$(BUILD)/obj/%.o,$(AGENT_SRCS))
AGENT_CORE_SRCS := $(filter-out user/agent/io.c user/agent/xsk.c,$(AGENT_SRCS))
AGENT_CORE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(AGENT_CORE_SRCS))

BINS += $(BUILD)/bin/esptag-agent

$(BUILD)/obj/user/agent/xsk.o: $(BUILD)/skel/esptag_agent_xsk.skel.h
$(BUILD)/obj/user/agent/io.o: $(BUILD)/skel/esptag_agent_fanout.skel.h
$(BUILD)/bin/esptag-agent: $(BUILD)/obj/user/agent/main.o $(AGENT_OBJS) $(LIB)
	$(call link-bin,-lxdp -lbpf -lelf -lz -lcrypto -lsystemd -lpthread)

# Agent unit tests link the in-memory agent core (no sockets).
AGENT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_agent_*.c))
$(BUILD)/obj/tests/unit/test_agent_%.o: CFLAGS += -Iuser/agent
$(AGENT_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(AGENT_CORE_OBJS) $(TLIB_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS))

# Fuzzers of the agent's frame handlers (both directions).
FUZZ_EXTRA_SRCS_agent_host := $(AGENT_CORE_SRCS)
FUZZ_EXTRA_SRCS_agent_wire := $(AGENT_CORE_SRCS)
FUZZ_EXTRA_SRCS += $(AGENT_CORE_SRCS)

# Conformance suite against any agent: the test side's host-facing and
# wire-facing interfaces (optionally in namespaces).
AGENT_IF      ?=
AGENT_WIRE_IF ?=
AGENT_HOST_NS ?=
AGENT_WIRE_NS ?=
# AGENT_VERSION: the config protocol version of the run (default: the
# highest the agent and the suite share); run once per version it speaks.
AGENT_VERSION ?=
conformance:
	@test -n "$(AGENT_IF)" -a -n "$(AGENT_WIRE_IF)" || \
		{ echo "usage: make conformance AGENT_IF=<host-side if> AGENT_WIRE_IF=<wire-side if> [AGENT_HOST_NS=ns AGENT_WIRE_NS=ns] [AGENT_VERSION=1|2]"; exit 2; }
	$(Q)/usr/bin/python3 tests/conformance/conformance.py --host-if $(AGENT_IF) --wire-if $(AGENT_WIRE_IF) \
		$(if $(AGENT_HOST_NS),--host-ns $(AGENT_HOST_NS)) $(if $(AGENT_WIRE_NS),--wire-ns $(AGENT_WIRE_NS)) \
		$(if $(AGENT_VERSION),--version $(AGENT_VERSION))

# TSO test helper: a TC program that tags GSO super-packets like the host
# data path, and a loader that injects one through a PACKET_VNET_HDR socket.
AGENT_TSO_HELPER := $(BUILD)/tests/agent/tso_inject
tests: $(AGENT_TSO_HELPER)
$(BUILD)/tests/agent/tso_tag.bpf.o: tests/agent/tso_tag.bpf.c include/esptag/wire.h
	$(bpf-obj)
$(BUILD)/tests/agent/tso_tag.skel.h: $(BUILD)/tests/agent/tso_tag.bpf.o
	$(call bpf-skel,tso_tag_bpf)
$(AGENT_TSO_HELPER): CFLAGS += -I$(BUILD)/tests/agent
$(AGENT_TSO_HELPER): tests/agent/tso_inject.c $(BUILD)/tests/agent/tso_tag.skel.h
	$(call link-bin,-lbpf -lelf -lz)
