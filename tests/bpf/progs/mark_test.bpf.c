// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test driver for bpf/lib/mark.h, the mark esptag_rx_mark gives a frame
 * esptag_rx accepted: the SA index comes in cb[0] (a tc test run carries no
 * XDP metadata), the settings from esptag_cfg, the mark goes out in the skb.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lib/maps.h"
#include "lib/mark.h"

SEC("tc")
int mark_tc(struct __sk_buff *skb)
{
	struct cfg_view cfg;

	cfg_load(&cfg);
	return rx_mark_set(skb, &cfg, skb->cb[0]);
}

char LICENSE[] SEC("license") = "GPL";
