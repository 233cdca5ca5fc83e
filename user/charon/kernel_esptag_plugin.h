/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * kernel-esptag: a charon plugin that makes esptagd charon's IPsec backend
 * (kernel_ipsec_t over esptagd's control socket). docs/strongswan.md.
 */
#ifndef KERNEL_ESPTAG_PLUGIN_H_
#define KERNEL_ESPTAG_PLUGIN_H_

#include <plugins/plugin.h>

typedef struct kernel_esptag_plugin_t kernel_esptag_plugin_t;

struct kernel_esptag_plugin_t {
	plugin_t plugin;
};

/* Looked up by charon's plugin loader (name "kernel-esptag"). */
plugin_t *kernel_esptag_plugin_create(void);

#endif
