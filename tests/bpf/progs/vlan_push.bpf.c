// SPDX-License-Identifier: GPL-2.0-only
/*
 * What `tc ... action vlan push id 42` does (this kernel has no act_vlan):
 * bpf_skb_vlan_push puts an 802.1Q tag, VID 42, into the skb's metadata
 * (the driver or the peer inserts it after the MACs), then classification
 * goes on with the next filter. Used by tests/integration/test_vlan_hidden.sh
 * to put a VLAN tag between the host's frames and the agent.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("tc")
int vlan_push(struct __sk_buff *skb)
{
	if (!skb->vlan_present)
		bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 42);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
