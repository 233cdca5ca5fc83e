# SPDX-License-Identifier: GPL-2.0-only
# kernel-esptag: the strongSwan charon plugin (user/charon/, docs/strongswan.md).
#   build/strongswan-5.9.8/               config.h + headers (scripts/strongswan-src:
#                                         Debian's source package, configured)
#   build/pic/user/lib/*.o                the control-socket client, -fPIC
#   build/libstrongswan-kernel-esptag.so  linked against Debian's libcharon
#                                         (-z defs: every symbol resolves)
# Built by `make` when Debian's libcharon is installed (scripts/deps);
# `make charon-plugin` insists.
SSW_VERSION  := 5.9.8
SSW_DIR      := $(BUILD)/strongswan-$(SSW_VERSION)
SSW_LIBDIR   ?= /usr/lib/ipsec
CHARON_PLUGIN := $(BUILD)/libstrongswan-kernel-esptag.so
CHARON_SRCS  := $(wildcard user/charon/*.c)
CHARON_OBJS  := $(patsubst %.c,$(BUILD)/pic/%.o,$(CHARON_SRCS))
# The client code of user/lib the plugin links (not copied: compiled -fPIC).
CHARON_LIB_SRCS := $(addprefix user/lib/,ctl.c ctl_check.c ctl_io.c ctl_text.c ctl_client.c util.c)
CHARON_LIB_OBJS := $(patsubst %.c,$(BUILD)/pic/%.o,$(CHARON_LIB_SRCS))
# strongSwan's headers are not -Wextra clean: they are system headers here.
CHARON_CFLAGS := -O2 -g -fPIC -std=gnu11 -Wall -Werror -Wno-unused-parameter -D_GNU_SOURCE \
		 -include $(SSW_DIR)/config.h -isystem $(SSW_DIR)/src/libstrongswan \
		 -isystem $(SSW_DIR)/src/libcharon -Iinclude -Iuser/lib -fvisibility=hidden -MMD -MP

.PHONY: charon-plugin
charon-plugin: $(CHARON_PLUGIN)
ifneq ($(wildcard $(SSW_LIBDIR)/libcharon.so.0),)
all: $(CHARON_PLUGIN)
endif

$(SSW_DIR)/.done: scripts/strongswan-src
	$(call msg,FETCH,$(SSW_DIR))
	$(Q)scripts/strongswan-src $(abspath $(SSW_DIR))

$(BUILD)/pic/user/charon/%.o: user/charon/%.c $(SSW_DIR)/.done
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CHARON_CFLAGS) -c $< -o $@

$(BUILD)/pic/user/lib/%.o: user/lib/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -fPIC -fvisibility=hidden -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE \
		-Iinclude -Iuser/lib -MMD -MP -c $< -o $@

$(CHARON_PLUGIN): $(CHARON_OBJS) $(CHARON_LIB_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) -shared -o $@ $^ -L$(SSW_LIBDIR) -lcharon -lstrongswan \
		-Wl,-rpath,$(SSW_LIBDIR) -Wl,-z,defs

# make install (install.mk): the plugin where Debian's charon loads plugins
# from, the strongswan.conf snippet where it reads them. Both directories
# are fixed by charon, not by PREFIX; with a PREFIX other than /usr or
# /usr/local (a staging tree) they go under PREFIX instead.
PREFIX ?= /usr/local
ifneq ($(filter /usr /usr/local,$(PREFIX:/=)),)
CHARON_PLUGINDIR   ?= $(SSW_LIBDIR)/plugins
STRONGSWAN_CONFDIR ?= /etc/strongswan.d/charon
else
CHARON_PLUGINDIR   ?= $(PREFIX)/lib/ipsec/plugins
STRONGSWAN_CONFDIR ?= $(PREFIX)/etc/strongswan.d/charon
endif
ifneq ($(wildcard $(SSW_LIBDIR)/libcharon.so.0),)
CHARON_INST_DIRS   := $(CHARON_PLUGINDIR) $(STRONGSWAN_CONFDIR)
CHARON_INST_FILES  := $(CHARON_PLUGINDIR)/libstrongswan-kernel-esptag.so \
		      $(STRONGSWAN_CONFDIR)/kernel-esptag.conf
CHARON_INST_PREREQ := $(CHARON_PLUGIN)
endif
