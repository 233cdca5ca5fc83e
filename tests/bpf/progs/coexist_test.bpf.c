// SPDX-License-Identifier: GPL-2.0-only
/*
 * Other BPF users of esptag's port (tests/integration/test_coexist.sh):
 *  - foreign_pass: someone else's XDP program (XDP_PASS), which esptagd must
 *    never replace;
 *  - tc_ok / tc_unspec: someone else's direct-action tc filter that ends the
 *    chain (TC_ACT_OK) or lets it continue (TC_ACT_UNSPEC), before or after
 *    esptag_tx;
 *  - tc_mark: an ingress filter before esptag_rx_mark that sets a mark bit
 *    outside esptag's default mask (0x00040000) and continues.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int foreign_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int tc_ok(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("tc")
int tc_unspec(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tc_mark(struct __sk_buff *skb)
{
	skb->mark |= 0x00040000;
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
