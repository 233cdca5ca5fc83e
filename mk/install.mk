# SPDX-License-Identifier: GPL-2.0-only
# make install / make uninstall, honouring PREFIX and DESTDIR:
#   $(SBINDIR)         esptagd esptag esptag-agent
#   $(MAN8DIR)         esptagd.8 esptag.8 esptag-agent.8
#   $(BPFOBJDIR)       the BPF objects (for ip link ... xdp obj, tc ... bpf obj, bpftool)
#   $(INCDIR)          the ABI headers (wire.h, maps.h) for agent vendors
#   $(SYSTEMDUNITDIR)  esptagd@.service, esptag-agent@.service, esptag-metrics@.service
#                      and .timer (@SBINDIR@ filled in)
#   $(WSDIR)           esptag.lua, the Wireshark dissector (docs/operations.md)
#   $(CHARON_PLUGINDIR) the kernel-esptag charon plugin, and $(STRONGSWAN_CONFDIR)
#                      its strongswan.conf snippet, when built (charon.mk)
#   $(DATADIR)         agent.conf.example, and `installed-dirs`: the directories
#                      install created, which uninstall removes again once empty
# `make uninstall` removes exactly those files and those directories.
PREFIX         ?= /usr/local
DESTDIR        ?=
SBINDIR        ?= $(PREFIX)/sbin
MAN8DIR        ?= $(PREFIX)/share/man/man8
BPFOBJDIR      ?= $(PREFIX)/lib$(if $(MULTIARCH),/$(MULTIARCH))/bpf/esptag
INCDIR         ?= $(PREFIX)/include/esptag
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DATADIR        ?= $(PREFIX)/share/esptag
WSDIR          ?= $(DATADIR)/wireshark
INSTALL        ?= install

INST_BINS  := esptagd esptag esptag-agent
INST_MANS  := $(notdir $(wildcard docs/*.8))
# The agent's own programs (esptag_agent_*) are built into it (skeletons).
INST_BPF_OBJS := $(filter-out $(BUILD)/bpf/esptag_agent_%,$(BPF_OBJS))
INST_BPF   := $(notdir $(INST_BPF_OBJS))
INST_HDRS  := $(notdir $(wildcard include/esptag/*.h))
INST_UNITS := $(patsubst systemd/%.in,%,$(wildcard systemd/*.service.in systemd/*.timer.in))
INST_DIRS  := $(SBINDIR) $(MAN8DIR) $(BPFOBJDIR) $(INCDIR) $(SYSTEMDUNITDIR) $(DATADIR) $(WSDIR) \
	      $(CHARON_INST_DIRS)
INST_FILES := $(addprefix $(SBINDIR)/,$(INST_BINS)) $(addprefix $(MAN8DIR)/,$(INST_MANS)) \
	      $(addprefix $(BPFOBJDIR)/,$(INST_BPF)) $(addprefix $(INCDIR)/,$(INST_HDRS)) \
	      $(addprefix $(SYSTEMDUNITDIR)/,$(INST_UNITS)) $(DATADIR)/agent.conf.example \
	      $(WSDIR)/esptag.lua $(CHARON_INST_FILES)
DIRS_LIST  := $(DESTDIR)$(DATADIR)/installed-dirs

.PHONY: install uninstall
# Creates each missing directory (and missing parents), noting it (without
# DESTDIR) in installed-dirs (kept across re-installs: a directory an earlier install
# made stays listed).
install: $(addprefix $(BUILD)/bin/,$(INST_BINS)) $(INST_BPF_OBJS) $(CHARON_INST_PREREQ)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)set -e; new=; \
	for d in $(INST_DIRS); do \
		p=$$d; while [ -n "$$p" ] && [ ! -d "$(DESTDIR)$$p" ]; do new="$$new $$p"; p=$${p%/*}; done; \
		mkdir -p "$(DESTDIR)$$d"; \
	done; \
	old=; [ -f "$(DIRS_LIST)" ] && old=$$(cat "$(DIRS_LIST)"); \
	printf '%s\n' $$old $$new | sed '/^$$/d' | sort -u > "$(DIRS_LIST).tmp"; \
	mv -f "$(DIRS_LIST).tmp" "$(DIRS_LIST)"
	$(Q)$(INSTALL) -m 0755 $(addprefix $(BUILD)/bin/,$(INST_BINS)) $(DESTDIR)$(SBINDIR)/
	$(Q)$(INSTALL) -m 0644 $(addprefix docs/,$(INST_MANS)) $(DESTDIR)$(MAN8DIR)/
	$(Q)$(INSTALL) -m 0644 $(INST_BPF_OBJS) $(DESTDIR)$(BPFOBJDIR)/
	$(Q)$(INSTALL) -m 0644 $(addprefix include/esptag/,$(INST_HDRS)) $(DESTDIR)$(INCDIR)/
	$(Q)for u in $(INST_UNITS); do \
		sed 's|@SBINDIR@|$(SBINDIR)|g' systemd/$$u.in > $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp && \
		mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$u.tmp $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
	done
	$(Q)$(INSTALL) -m 0644 systemd/agent.conf.example $(DESTDIR)$(DATADIR)/
	$(Q)$(INSTALL) -m 0644 wireshark/esptag.lua $(DESTDIR)$(WSDIR)/
	$(Q)$(if $(CHARON_INST_FILES),$(INSTALL) -m 0644 $(CHARON_PLUGIN) $(DESTDIR)$(CHARON_PLUGINDIR)/ && \
		$(INSTALL) -m 0644 strongswan/kernel-esptag.conf $(DESTDIR)$(STRONGSWAN_CONFDIR)/,true)

# Files first, then the directories install created, deepest first, each
# only if empty (something else may have put files there since).
uninstall:
	$(call msg,UNINST,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	$(Q)set -e; dirs=; [ -f "$(DIRS_LIST)" ] && dirs=$$(cat "$(DIRS_LIST)"); \
	rm -f "$(DIRS_LIST)"; \
	for d in $$(printf '%s\n' $$dirs | awk '{ print length($$0) " " $$0 }' | sort -rn | cut -d' ' -f2-); do \
		[ ! -d "$(DESTDIR)$$d" ] || rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d"; \
	done; true
