// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test helper for the agent's TSO path (tests/agent/tso_inject.c): a TC
 * egress program that wraps every IP frame, GSO super-packets included, in
 * a Tx metadata tag with F_GSO, as the host data path does for TCP GSO
 * (bpf_skb_change_head keeps the GSO state; an ESP header cannot be
 * inserted into a TCP GSO skb on this kernel).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <esptag/wire.h>

const volatile __u32 sa_index = 0;
const volatile __u32 seq_lo = 1;
const volatile __u16 esp_off = 34;
const volatile __u16 mss_override = 0;
const volatile __u8 next_hdr = 6;

SEC("tc")
int tso_tag(struct __sk_buff *skb)
{
	struct esptag_meta m = {};
	__u8 macs[12];
	__u16 mss;

	if (skb->protocol != bpf_htons(0x0800) && skb->protocol != bpf_htons(0x86DD))
		return TC_ACT_OK;
	mss = mss_override ? mss_override : skb->gso_size;
	if (!mss)
		mss = 1400;
	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)))
		return TC_ACT_SHOT;
	if (bpf_skb_change_head(skb, ESPTAG_META_LEN, 0))
		return TC_ACT_SHOT;
	m.tpid = bpf_htons(ESPTAG_ETH_P_META);
	m.version = ESPTAG_META_VERSION;
	m.kind = ESPTAG_META_TX;
	m.flags = ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO;
	m.next_hdr = next_hdr;
	m.esp_off = bpf_htons(esp_off);
	m.payload_off = bpf_htons(esp_off);
	m.mss = bpf_htons(mss);
	m.sa_index = bpf_htonl(sa_index);
	m.seq_lo = bpf_htonl(seq_lo);
	/* The tag's last two bytes are the original EtherType, already in place. */
	if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) ||
	    bpf_skb_store_bytes(skb, 12, &m, ESPTAG_META_LEN, 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
