// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel-esptag: the plugin. Provides "kernel-ipsec" (the first loaded
 * provider wins: load it before kernel-netlink, which keeps serving
 * addresses and routes). docs/strongswan.md.
 */
#include <library.h>
#include <daemon.h>

#include "kernel_esptag_plugin.h"
#include "kernel_esptag_ipsec.h"

METHOD(plugin_t, get_name, char *, kernel_esptag_plugin_t *this)
{
	return "kernel-esptag";
}

METHOD(plugin_t, get_features, int, kernel_esptag_plugin_t *this, plugin_feature_t *features[])
{
	static plugin_feature_t f[] = {
		PLUGIN_CALLBACK(kernel_ipsec_register, kernel_esptag_ipsec_create),
			PLUGIN_PROVIDE(CUSTOM, "kernel-ipsec"),
	};
	*features = f;
	return countof(f);
}

METHOD(plugin_t, destroy, void, kernel_esptag_plugin_t *this)
{
	free(this);
}

__attribute__((visibility("default"))) plugin_t *kernel_esptag_plugin_create(void)
{
	kernel_esptag_plugin_t *this;

	INIT(this,
		.plugin = {
			.get_name = _get_name,
			.get_features = _get_features,
			.destroy = _destroy,
		},
	);
	return &this->plugin;
}
