# SPDX-License-Identifier: GPL-2.0-only
# build/esptag_counters.json: the data-path counter table (name, index,
# drop attribute) for scripts, from the same ESPTAG_COUNTERS table the CLI
# and esptagd print (tests/lib/counters.py reads it).
COUNTERS_JSON := $(BUILD)/esptag_counters.json
all tests: $(COUNTERS_JSON)

$(BUILD)/bin/gen_counters: $(BUILD)/obj/scripts/gen_counters.o $(LIB)
	$(call msg,LINK,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ -o $@

$(COUNTERS_JSON): $(BUILD)/bin/gen_counters
	$(call msg,GEN,$@)
	$(Q)$< > $@
