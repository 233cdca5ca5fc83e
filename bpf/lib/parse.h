/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Cursor-style packet parsers shared by every esptag program (XDP and TC).
 *
 * Each helper takes the cursor and data_end, bounds-checks the header it
 * reads, advances the cursor past it and returns the next protocol (>= 0,
 * host byte order) or a negative PE_* error. Callers must re-derive every
 * packet pointer after a helper that can move packet data (adjust_room,
 * change_head, ...).
 */
#ifndef ESPTAG_BPF_PARSE_H
#define ESPTAG_BPF_PARSE_H

#include <linux/types.h>
#include <stdbool.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <esptag/wire.h>

/* Parse errors: negative, never overlapping a protocol number. */
enum {
	PE_TRUNC	= -1,	/* header runs past data_end */
	PE_MALFORMED	= -2,	/* impossible field values */
	PE_UNSUPPORTED	= -3,	/* valid but not handled (3 VLAN tags, IPv6 fragment, ...) */
};

#define ESPTAG_MAX_VLANS	2
#define VLAN_VID_MASK		0x0fff	/* TCI: VLAN ID */
#define IPV4_FRAG_MASK		0x3fff	/* frag_off: MF flag and fragment offset */
#define ESPTAG_MAX_IPV6_EXT	4	/* extension headers skipped at most */

#ifndef IPPROTO_HOPOPTS
#define IPPROTO_HOPOPTS		0
#endif
#ifndef IPPROTO_ROUTING
#define IPPROTO_ROUTING		43
#endif
#ifndef IPPROTO_FRAGMENT
#define IPPROTO_FRAGMENT	44
#endif
#ifndef IPPROTO_DSTOPTS
#define IPPROTO_DSTOPTS		60
#endif
#ifndef IPPROTO_NONE
#define IPPROTO_NONE		59
#endif

/*
 * Clamp v (a 64-bit variable) with mask m in the register used afterwards:
 * clang may check a zero-extended copy of a 32-bit value and hand the
 * verifier the unchecked register, or reload a bounded value from the
 * stack without its bounds.
 */
#define bound_mask(v, m)	asm volatile("%[x] &= " #m : [x] "+r"(v))

struct cursor {
	void *pos;
};

static __always_inline void cursor_init(struct cursor *c, void *data)
{
	c->pos = data;
}

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

/* Ethernet header: returns the EtherType after the MAC addresses. */
static __always_inline int parse_ethhdr(struct cursor *c, void *end,
					struct ethhdr **eth)
{
	struct ethhdr *h = c->pos;

	if ((void *)(h + 1) > end)
		return PE_TRUNC;
	c->pos = h + 1;
	*eth = h;
	return bpf_ntohs(h->h_proto);
}

/*
 * Metadata tag; the cursor must point right after the MAC addresses (at the
 * tag's TPID). Returns the EtherType of the wrapped frame. Checks version and
 * kind only; the caller decides which kinds it accepts.
 */
static __always_inline int parse_meta(struct cursor *c, void *end,
				      struct esptag_meta **meta)
{
	struct esptag_meta *m = c->pos;

	if ((void *)(m + 1) > end)
		return PE_TRUNC;
	if (m->version != ESPTAG_META_VERSION ||
	    (m->kind != ESPTAG_META_TX && m->kind != ESPTAG_META_RX) ||
	    (m->flags & ~ESPTAG_META_F_KNOWN))
		return PE_MALFORMED;
	c->pos = m + 1;
	*meta = m;
	return bpf_ntohs(m->inner_proto);
}

struct vlan_info {
	__u8 n;				/* tags found, 0..2 */
	struct esptag_vlan tag[ESPTAG_MAX_VLANS];	/* as on the wire, outer first */
};

/*
 * Up to two 802.1Q / 802.1ad tags; the cursor points at the TCI of the first
 * tag (right after the EtherType proto). Returns the EtherType after them.
 * A third tag is PE_UNSUPPORTED.
 */
static __always_inline int parse_vlans(struct cursor *c, void *end, int proto,
				       struct vlan_info *v)
{
	int i;

	v->n = 0;
#pragma unroll
	for (i = 0; i < ESPTAG_MAX_VLANS; i++) {
		__be16 *h = c->pos;	/* TCI, next EtherType */

		if (!esptag_eth_p_is_vlan(proto))
			return proto;
		if ((void *)(h + 2) > end)
			return PE_TRUNC;
		v->tag[i].tpid = bpf_htons(proto);
		v->tag[i].tci = h[0];
		v->n = i + 1;
		proto = bpf_ntohs(h[1]);
		c->pos = h + 2;
	}
	if (esptag_eth_p_is_vlan(proto))
		return PE_UNSUPPORTED;
	return proto;
}

struct l2_info {
	struct ethhdr *eth;
	struct esptag_meta *meta;	/* NULL when untagged */
	struct vlan_info vlan;
	__u16 proto;			/* EtherType after tags, host order */
};

/*
 * Whole L2 header: MACs, an optional metadata tag (EtherType meta_tpid,
 * network order), up to two VLAN tags. Returns the L3 EtherType. The config
 * EtherType is returned like any other protocol.
 */
static __always_inline int parse_l2(struct cursor *c, void *end, __be16 meta_tpid,
				    struct l2_info *l2)
{
	int proto;

	l2->meta = NULL;
	l2->vlan.n = 0;
	proto = parse_ethhdr(c, end, &l2->eth);
	if (proto < 0)
		return proto;
	if (proto == bpf_ntohs(meta_tpid)) {
		c->pos = (void *)l2->eth + 2 * ETH_ALEN;
		proto = parse_meta(c, end, &l2->meta);
		if (proto < 0)
			return proto;
		if (proto == bpf_ntohs(meta_tpid))
			return PE_MALFORMED;	/* nested tags */
	}
	proto = parse_vlans(c, end, proto, &l2->vlan);
	if (proto < 0)
		return proto;
	l2->proto = proto;
	return proto;
}

/*
 * IPv4 header with options. Returns the protocol. Checks version, IHL and
 * that tot_len covers the header; it does not compare tot_len with data_end
 * (a GSO skb's linear part is shorter than tot_len).
 */
static __always_inline int parse_iphdr(struct cursor *c, void *end,
				       struct iphdr **iph)
{
	struct iphdr *h = c->pos;
	__u32 hlen;

	if ((void *)(h + 1) > end)
		return PE_TRUNC;
	if (h->version != 4 || h->ihl < 5)
		return PE_MALFORMED;
	hlen = h->ihl * 4;
	if (bpf_ntohs(h->tot_len) < hlen)
		return PE_MALFORMED;
	if (c->pos + hlen > end)
		return PE_TRUNC;
	c->pos += hlen;
	*iph = h;
	return h->protocol;
}

static __always_inline bool ipv4_is_fragment(const struct iphdr *iph)
{
	return iph->frag_off & bpf_htons(IPV4_FRAG_MASK);
}

struct ipv6_info {
	struct ipv6hdr *ip6;
	__u8 *nexthdr;		/* the byte naming the protocol after the chain */
	__u16 hdrlen;		/* fixed header + skipped extension headers */
};

/*
 * IPv6 header; hop-by-hop, routing and destination options headers are
 * skipped (at most ESPTAG_MAX_IPV6_EXT), a fragment header is refused
 * (PE_UNSUPPORTED). Returns the upper-layer protocol (ESP, TCP, ...).
 */
static __always_inline int parse_ipv6hdr(struct cursor *c, void *end,
					 struct ipv6_info *info)
{
	struct ipv6hdr *h = c->pos;
	__u8 *nh;
	int i;

	if ((void *)(h + 1) > end)
		return PE_TRUNC;
	if (h->version != 6)
		return PE_MALFORMED;
	info->ip6 = h;
	nh = &h->nexthdr;
	c->pos = h + 1;
#pragma unroll
	for (i = 0; i < ESPTAG_MAX_IPV6_EXT; i++) {
		__u8 *ext = c->pos;	/* next header, length in 8-octet units - 1 */

		if (*nh == IPPROTO_FRAGMENT)
			return PE_UNSUPPORTED;
		if (*nh != IPPROTO_HOPOPTS && *nh != IPPROTO_ROUTING &&
		    *nh != IPPROTO_DSTOPTS)
			break;
		if (*nh == IPPROTO_HOPOPTS && i != 0)
			return PE_MALFORMED;	/* only right after the header */
		if ((void *)(ext + 2) > end)
			return PE_TRUNC;
		if (c->pos + (ext[1] + 1) * 8 > end)
			return PE_TRUNC;
		nh = ext;
		c->pos += (ext[1] + 1) * 8;
	}
	if (*nh == IPPROTO_HOPOPTS || *nh == IPPROTO_ROUTING ||
	    *nh == IPPROTO_DSTOPTS || *nh == IPPROTO_FRAGMENT)
		return PE_UNSUPPORTED;	/* chain too long */
	info->nexthdr = nh;
	info->hdrlen = c->pos - (void *)h;
	return *nh;
}

/* ESP header with the 8-byte explicit IV (struct esptag_esp_hdr). */
static __always_inline int parse_esp(struct cursor *c, void *end,
				     struct esptag_esp_hdr **esp)
{
	struct esptag_esp_hdr *e = c->pos;

	if ((void *)(e + 1) > end)
		return PE_TRUNC;
	if (!e->spi)
		return PE_MALFORMED;	/* SPI 0 is reserved (RFC 4303 2.1) */
	c->pos = e + 1;
	*esp = e;
	return 0;
}

/* TCP header with options: returns the header length. */
static __always_inline int parse_tcphdr(struct cursor *c, void *end,
					struct tcphdr **tcp)
{
	struct tcphdr *h = c->pos;
	__u32 hlen;

	if ((void *)(h + 1) > end)
		return PE_TRUNC;
	hlen = h->doff * 4;
	if (hlen < sizeof(*h))
		return PE_MALFORMED;
	if (c->pos + hlen > end)
		return PE_TRUNC;
	c->pos += hlen;
	*tcp = h;
	return hlen;
}

static __always_inline int parse_udphdr(struct cursor *c, void *end,
					struct udphdr **udp)
{
	struct udphdr *h = c->pos;

	if ((void *)(h + 1) > end)
		return PE_TRUNC;
	if (bpf_ntohs(h->len) < sizeof(*h))
		return PE_MALFORMED;
	c->pos = h + 1;
	*udp = h;
	return sizeof(*h);
}

#endif /* ESPTAG_BPF_PARSE_H */
