# SPDX-License-Identifier: GPL-2.0-only
# esptag: the command-line client of esptagd.
ESPTAG_SRCS := $(wildcard user/esptag/*.c)
ESPTAG_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(ESPTAG_SRCS))
BINS += $(BUILD)/bin/esptag

$(BUILD)/bin/esptag: $(ESPTAG_OBJS) $(LIB)
	$(call link-bin,$(LDLIBS))
