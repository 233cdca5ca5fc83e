// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test driver for bpf/lib/parse.h: parses a whole frame (L2, metadata tag,
 * VLANs, IPv4/IPv6, ESP/TCP/UDP) and records what it found in `res`. The
 * same function runs as XDP and as TC so both contexts pass the verifier.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "lib/parse.h"

/* Mirrored by tests/bpf/test_parse.c. */
struct parse_result {
	__s32	ret;		/* 0 or the PE_* error of the failing stage */
	__u32	stage;		/* 1 l2, 2 l3, 3 l4, 4 done */
	__u16	l3_proto;
	__u16	l3_off;
	__u16	l4_off;
	__u8	l4_proto;
	__u8	nvlans;
	__be16	vlan_tci[2];
	__u8	meta_kind;	/* 0 when untagged */
	__u8	has_meta;
	__u16	nh_off;		/* offset of the byte naming the L4 protocol */
	__be32	esp_spi;
	__be32	esp_seq;
	__u32	l4_hlen;
};

struct parse_result res;

static __always_inline int parse_all(void *data, void *end)
{
	struct parse_result r = {};
	struct l2_info l2;
	struct cursor c;
	int proto, ret;

	cursor_init(&c, data);
	r.stage = 1;
	proto = parse_l2(&c, end, bpf_htons(ESPTAG_ETH_P_META), &l2);
	if (proto < 0)
		goto out_err;
	r.l3_proto = proto;
	r.nvlans = l2.vlan.n;
	r.vlan_tci[0] = l2.vlan.n > 0 ? l2.vlan.tag[0].tci : 0;
	r.vlan_tci[1] = l2.vlan.n > 1 ? l2.vlan.tag[1].tci : 0;
	if (l2.meta) {
		r.has_meta = 1;
		r.meta_kind = l2.meta->kind;
	}
	r.l3_off = c.pos - data;
	r.stage = 2;
	if (proto == ETH_P_IP) {
		struct iphdr *iph;

		proto = parse_iphdr(&c, end, &iph);
		if (proto < 0)
			goto out_err;
		r.nh_off = (void *)&iph->protocol - data;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6_info info;

		proto = parse_ipv6hdr(&c, end, &info);
		if (proto < 0)
			goto out_err;
		r.nh_off = (void *)info.nexthdr - data;
	} else {
		r.stage = 4;
		goto out;
	}
	r.l4_proto = proto;
	r.l4_off = c.pos - data;
	r.stage = 3;
	if (proto == IPPROTO_ESP) {
		struct esptag_esp_hdr *esp;

		ret = parse_esp(&c, end, &esp);
		if (ret < 0) {
			proto = ret;
			goto out_err;
		}
		r.esp_spi = esp->spi;
		r.esp_seq = esp->seq;
	} else if (proto == IPPROTO_TCP) {
		struct tcphdr *tcp;

		ret = parse_tcphdr(&c, end, &tcp);
		if (ret < 0) {
			proto = ret;
			goto out_err;
		}
		r.l4_hlen = ret;
	} else if (proto == IPPROTO_UDP) {
		struct udphdr *udp;

		ret = parse_udphdr(&c, end, &udp);
		if (ret < 0) {
			proto = ret;
			goto out_err;
		}
		r.l4_hlen = ret;
	}
	r.stage = 4;
out:
	r.ret = 0;
	res = r;
	return 0;
out_err:
	r.ret = proto;
	res = r;
	return proto;
}

SEC("xdp")
int parse_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;

	return parse_all(data, end) < 0 ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int parse_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	return parse_all(data, end) < 0 ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
