// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag-agent's AF_PACKET fan-out program (PACKET_FANOUT_EBPF, see
 * user/agent/io.c): which worker gets a frame. The kernel's flow hash
 * cannot see through the metadata tag (every tagged frame would hash the
 * same and land on one worker), so a Tx-tagged frame is hashed on the flow
 * inside it: the IP addresses and the L4 ports (transport mode), or the
 * inner IP addresses (tunnel mode, next header 4 or 41). An untagged IP
 * frame: its addresses and the first word after the IP header (ports; ESP:
 * the SPI; IPv4 with options or IPv6 extension headers: whatever is there,
 * the same for every frame of the flow). A flow always lands on the same
 * worker, so its frames stay in order. Anything else: the first worker.
 * The program runs with skb->data at the network header: offsets here
 * count from the MAC header (bpf_skb_load_bytes_relative).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <esptag/wire.h>

/* Set before load: the agent's metadata EtherType (--meta-ethertype). */
const volatile __u16 meta_ethertype = ESPTAG_ETH_P_META;

static __always_inline __u32 word(struct __sk_buff *skb, __u32 off)
{
	__u32 v = 0;

	bpf_skb_load_bytes_relative(skb, off, &v, 4, BPF_HDR_START_MAC);
	return v;
}

static __always_inline __u32 mix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x45d9f3b;
	h ^= h >> 16;
	return h;
}

/* An untagged frame: Ethernet, IPv4 or IPv6, no VLAN. */
static __always_inline __u32 plain_hash(struct __sk_buff *skb, __be16 proto)
{
	__u8 vihl = 0;

	if (proto == bpf_htons(0x0800)) {
		bpf_skb_load_bytes_relative(skb, 14, &vihl, 1, BPF_HDR_START_MAC);
		return mix(word(skb, 26) ^ word(skb, 30) ^ word(skb, 14 + (vihl & 15) * 4));
	}
	if (proto == bpf_htons(0x86DD))
		return mix(word(skb, 34) ^ word(skb, 50) ^ word(skb, 54));
	return 0;
}

SEC("socket")
int esptag_fanout(struct __sk_buff *skb)
{
	struct esptag_meta m;
	__u32 h, l3, inner;

	if (bpf_skb_load_bytes_relative(skb, 12, &m, sizeof(m), BPF_HDR_START_MAC))
		return 0;
	if (m.tpid != bpf_htons(meta_ethertype))
		return plain_hash(skb, m.tpid);
	if (m.kind != ESPTAG_META_TX)
		return 0;
	/* Offsets in the tag count the frame without it. */
	l3 = 12 + sizeof(m);
	if (m.inner_proto == bpf_htons(0x0800))
		h = word(skb, l3 + 12) ^ word(skb, l3 + 16);
	else if (m.inner_proto == bpf_htons(0x86DD))
		h = word(skb, l3 + 20) ^ word(skb, l3 + 36);
	else
		return 0;
	inner = ((m.flags & ESPTAG_META_F_GSO) ? bpf_ntohs(m.esp_off) : bpf_ntohs(m.payload_off)) +
		ESPTAG_META_LEN;
	if (m.next_hdr == 4)
		h ^= word(skb, inner + 12) ^ word(skb, inner + 16);
	else if (m.next_hdr == 41)
		h ^= word(skb, inner + 20) ^ word(skb, inner + 36);
	else
		h ^= word(skb, inner); /* source and destination port */
	return mix(h);
}

char _license[] SEC("license") = "GPL";
