# SPDX-License-Identifier: GPL-2.0-only
# Version baked into every program (user/lib/version.c, -V/--version): the
# release from VERSION, the git commit (with -dirty), the libxdp version
# built against. build/gen/esptag_version.h is rewritten only when that
# changes, so a commit rebuilds version.o and relinks, nothing else.
ESPTAG_VERSION ?= $(or $(shell cat VERSION 2>/dev/null),$(shell git describe --tags --always 2>/dev/null),unknown)
ESPTAG_GIT     ?= $(shell h=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
			{ git diff --quiet HEAD -- 2>/dev/null || h=$$h-dirty; }; echo $${h:-unknown})
LIBXDP_VERSION ?= $(or $(shell pkg-config --modversion libxdp 2>/dev/null),unknown)
VERSION_H      := $(BUILD)/gen/esptag_version.h

.PHONY: FORCE
FORCE:
$(VERSION_H): FORCE
	@mkdir -p $(@D)
	$(Q)printf '#define ESPTAG_VERSION "%s"\n#define ESPTAG_GIT "%s"\n#define ESPTAG_LIBXDP_VERSION "%s"\n' \
		'$(ESPTAG_VERSION)' '$(ESPTAG_GIT)' '$(LIBXDP_VERSION)' > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi

$(BUILD)/obj/user/lib/version.o: CFLAGS += -I$(BUILD)/gen
$(BUILD)/obj/user/lib/version.o: $(VERSION_H)
