# SPDX-License-Identifier: GPL-2.0-only
# Tx -> agent -> Rx round trip test: links the in-memory agent core
# (user/agent, no sockets) for the real AES-GCM path.
$(BUILD)/obj/tests/bpf/test_roundtrip.o: CFLAGS += -Iuser/agent
$(BUILD)/tests/test_roundtrip: $(AGENT_CORE_OBJS)
# The agent objects need the codec library after them on the link line.
$(BUILD)/tests/test_roundtrip: LDLIBS := $(LIB) $(LDLIBS)
