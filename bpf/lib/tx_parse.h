/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptag_tx's first stage: parse the frame a host port sends (MACs, VLAN
 * tags, IPv4 or IPv6 with its extension chain) and sort it into a class.
 * Included by esptag_tx.bpf.c only (it uses that file's TX_* limits).
 */
#ifndef ESPTAG_BPF_TX_PARSE_H
#define ESPTAG_BPF_TX_PARSE_H

struct tx_pkt {
	__u32 l3_off;		/* IP header offset (after MACs and VLAN tags) */
	__u32 ip_hlen;		/* IPv4 header with options / IPv6 with ext chain */
	__u32 ip_len;		/* IP packet length from the header */
	__u32 nh_rel;		/* offset of the protocol/next header byte from l3_off */
	__u32 l4_off;		/* after ip_hlen */
	__u8 family;
	__u8 l4proto;		/* after the extension chain */
	__u8 tos;		/* IPv4 TOS / IPv6 traffic class */
	__u8 chain_err;		/* transport ESP impossible: fragment, bad ext chain */
	__u8 saddr[16];
	__u8 daddr[16];
};

enum tx_class {
	TXC_IP = 0,
	TXC_CONFIG,
	TXC_TAGGED,
	TXC_OTHER,
	TXC_MALFORMED,
	TXC_TRUNC,
	TXC_VLAN_HIDDEN,
};

/* IPv4 header: addresses, lengths; a fragment cannot go in transport mode. */
static __always_inline int tx_parse_ip4(struct cursor *c, void *end, struct tx_pkt *t)
{
	struct iphdr *iph;
	int proto = parse_iphdr(c, end, &iph);

	if (proto == PE_TRUNC)
		return TXC_TRUNC;
	if (proto < 0)
		return TXC_MALFORMED;
	t->family = 4;
	t->ip_len = bpf_ntohs(iph->tot_len);
	t->nh_rel = offsetof(struct iphdr, protocol);
	t->tos = iph->tos;
	t->l4proto = proto;
	if (ipv4_is_fragment(iph))
		t->chain_err = 1;
	__builtin_memset(t->saddr, 0, 16);
	__builtin_memset(t->daddr, 0, 16);
	__builtin_memcpy(t->saddr, &iph->saddr, 4);
	__builtin_memcpy(t->daddr, &iph->daddr, 4);
	return TXC_IP;
}

/* IPv6 header and extension chain; a chain transport mode cannot carry
 * (fragment header, too long) still gets policy (tunnel mode can). */
static __always_inline int tx_parse_ip6(struct cursor *c, void *end, struct tx_pkt *t)
{
	struct ipv6_info info = {};
	struct ipv6hdr *ip6 = c->pos;
	int proto;

	if ((void *)(ip6 + 1) > end)
		return TXC_TRUNC;
	proto = parse_ipv6hdr(c, end, &info);
	if (proto == PE_TRUNC && c->pos == (void *)ip6)
		return TXC_TRUNC;
	if (ip6->version != 6)
		return TXC_MALFORMED;
	t->family = 6;
	t->ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
	t->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	__builtin_memcpy(t->saddr, &ip6->saddr, 16);
	__builtin_memcpy(t->daddr, &ip6->daddr, 16);
	if (proto == PE_TRUNC)
		return TXC_TRUNC;
	if (proto < 0) {
		t->chain_err = 1;
		t->nh_rel = 0;
		t->l4proto = 0;
	} else {
		t->nh_rel = (void *)info.nexthdr - (void *)ip6;
		t->l4proto = proto;
	}
	return TXC_IP;
}

static __always_inline int tx_parse(struct __sk_buff *skb, const struct cfg_view *cfg,
				    struct tx_pkt *t)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct vlan_info vlan;
	struct ethhdr *eth;
	struct cursor c;
	int proto, cls;

	cursor_init(&c, data);
	proto = parse_ethhdr(&c, end, &eth);
	if (proto < 0)
		return TXC_TRUNC;
	/*
	 * Ours are only an untagged config frame (the daemon's) and, after
	 * this program, a tag right after the MACs. Either EtherType behind a
	 * VLAN tag, in the frame or in skb metadata (the driver inserts that
	 * one after the MACs), is a frame the agent would take as plain and
	 * forward to the wire: a config request with keys, or a tag over
	 * plaintext. Dropped.
	 */
	if (eth->h_proto == cfg->eth_p_meta)
		return skb->vlan_present ? TXC_VLAN_HIDDEN : TXC_TAGGED;
	if (eth->h_proto == cfg->eth_p_cfg)
		return skb->vlan_present ? TXC_VLAN_HIDDEN : TXC_CONFIG;
	proto = parse_vlans(&c, end, proto, &vlan);
	if (proto == PE_TRUNC)
		return TXC_TRUNC;
	if (proto < 0)
		return TXC_MALFORMED;	/* a third VLAN tag: could hide IP, fail closed */
	if (proto == bpf_ntohs(cfg->eth_p_meta) || proto == bpf_ntohs(cfg->eth_p_cfg))
		return TXC_VLAN_HIDDEN;
	t->l3_off = c.pos - data;
	t->chain_err = 0;
	if (proto == ETH_P_IP)
		cls = tx_parse_ip4(&c, end, t);
	else if (proto == ETH_P_IPV6)
		cls = tx_parse_ip6(&c, end, t);
	else
		return TXC_OTHER;
	if (cls != TXC_IP)
		return cls;
	t->l4_off = c.pos - data;
	t->ip_hlen = t->l4_off - t->l3_off;
	return TXC_IP;
}

#endif
