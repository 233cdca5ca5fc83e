// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag_tx: TC egress on a host port (PF, or a VF inside its VM).
 *
 * Outbound policy per (destination, source) prefix; protect inserts the ESP
 * header + IV (transport or tunnel mode, IPv4/IPv6, behind up to two VLAN
 * tags) and the metadata tag (offload=1) in one bpf_skb_change_head call:
 * the headers in front of the insertion point are copied to the new head,
 * so frames of any EtherType stack (VLAN, Q-in-Q) work, which
 * bpf_skb_adjust_room (IP frames only) does not allow.
 *
 * GSO super-packets only get the tag (F_GSO, mss, first sequence number,
 * gso_segs numbers reserved): growing a TCP GSO skb at the network layer
 * makes veth drop it, an L2 insertion keeps it whole. The agent frames ESP
 * per segment.
 *
 * Fail closed: protect without a usable SA, with an expired SA or with the
 * agent down drops the frame. Frames already carrying a metadata tag are
 * dropped (never tagged twice); config frames of the daemon pass untouched;
 * either EtherType behind VLAN tags is dropped (the agent would forward it
 * to the wire as plain). GSO with an mss below ESPTAG_GSO_MIN_MSS or more
 * than ESPTAG_GSO_MAX_SEGS segments is dropped.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/cfg.h"
#include "lib/spd.h"

#define TX_IPHDR_MAX	128	/* IP header + IPv6 extension headers moved at most */
#define TX_PREFIX_MAX	(ETH_HLEN + 4 * ESPTAG_MAX_VLANS + TX_IPHDR_MAX)
/*
 * Offsets come from 32-bit fields: clang checks a zero-extended copy and
 * hands the verifier the unchecked register. Masking inside one 64-bit
 * register makes the later bound check apply to the value actually used.
 */
#define bound16(v) asm volatile("%[x] &= 0xffff" : [x] "+r"(v))

#define TX_INS_MAX	(ESPTAG_META_LEN + sizeof(struct ipv6hdr) + sizeof(struct esptag_esp_hdr))
#define TX_PULL_LEN	256	/* linear bytes wanted when headers are paged */

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

static __always_inline int tx_parse(struct __sk_buff *skb, const struct cfg_view *cfg,
				    struct tx_pkt *t)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct vlan_info vlan;
	struct ethhdr *eth;
	struct cursor c;
	int proto;

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
	if (proto == ETH_P_IP) {
		struct iphdr *iph;

		proto = parse_iphdr(&c, end, &iph);
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
	} else if (proto == ETH_P_IPV6) {
		struct ipv6_info info = {};
		struct ipv6hdr *ip6 = c.pos;

		if ((void *)(ip6 + 1) > end)
			return TXC_TRUNC;
		proto = parse_ipv6hdr(&c, end, &info);
		if (proto == PE_TRUNC && c.pos == (void *)ip6)
			return TXC_TRUNC;
		if (ip6->version != 6)
			return TXC_MALFORMED;
		t->family = 6;
		t->ip_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
		t->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
		__builtin_memcpy(t->saddr, &ip6->saddr, 16);
		__builtin_memcpy(t->daddr, &ip6->daddr, 16);
		if (proto < 0) {
			/* Policy still applies (tunnel mode can carry it). */
			if (proto == PE_TRUNC)
				return TXC_TRUNC;
			t->chain_err = 1;
			t->nh_rel = 0;
			t->l4proto = 0;
		} else {
			t->nh_rel = (void *)info.nexthdr - (void *)ip6;
			t->l4proto = proto;
		}
	} else {
		return TXC_OTHER;
	}
	t->l4_off = c.pos - data;
	t->ip_hlen = t->l4_off - t->l3_off;
	return TXC_IP;
}

/* TCP payload segments of a GSO packet whose gso_segs the stack left 0. */
/* (Tunnel mode too: the inner packet is the frame's own IP packet.) */
static __always_inline __u32 gso_segs_of(struct __sk_buff *skb, const struct tx_pkt *t,
					 __u32 mss)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct cursor c;
	struct tcphdr *tcp;
	__u32 hdrs, l4_off = t->l4_off;
	int hl;

	if (skb->gso_segs)
		return skb->gso_segs;
	if (t->chain_err || t->l4proto != IPPROTO_TCP)
		return 0;
	if (l4_off > TX_PREFIX_MAX)
		return 0;
	cursor_init(&c, data + l4_off);
	hl = parse_tcphdr(&c, end, &tcp);
	if (hl < 0)
		return 0;
	hdrs = l4_off + hl;
	if (skb->len <= hdrs)
		return 0;
	return (skb->len - hdrs + mss - 1) / mss;
}

SEC("tc")
int esptag_tx(struct __sk_buff *skb)
{
	struct esptag_policy *pol;
	struct esptag_seq *sq;
	struct esptag_sa *sa;
	struct cfg_view cfg;
	struct tx_pkt t = {};
	__u32 cnt, sa_index = 0, ins, esp_off, olen = 0, segs = 1, mss = 0;
	__u64 mv, new_l3;
	__u32 pkt_len = skb->len;
	__u64 seq, now;
	bool gso, tunnel, sa_known = false;
	int cls, verdict = TC_ACT_SHOT;
	void *data, *end;
	__u8 next_hdr;

	cfg_load(&cfg);
	cls = tx_parse(skb, &cfg, &t);
	if (cls == TXC_TRUNC && skb->len > skb->data_end - skb->data) {
		/* Headers in paged data: make them linear once and retry. */
		if (bpf_skb_pull_data(skb, skb->len < TX_PULL_LEN ? skb->len : TX_PULL_LEN))
			cls = TXC_MALFORMED;
		else
			cls = tx_parse(skb, &cfg, &t);
	}
	switch (cls) {
	case TXC_IP:
		break;
	case TXC_CONFIG:
		cnt = ESPTAG_CNT_TX_CONFIG;
		verdict = TC_ACT_OK;
		goto out;
	case TXC_TAGGED:
		cnt = ESPTAG_CNT_TX_DROP_TAGGED;
		goto out;
	case TXC_VLAN_HIDDEN:
		cnt = ESPTAG_CNT_TX_DROP_VLAN_HIDDEN;
		goto out;
	case TXC_OTHER:
		cnt = ESPTAG_CNT_TX_PASS_OTHER;
		verdict = TC_ACT_OK;
		goto out;
	default:
		cnt = ESPTAG_CNT_TX_DROP_MALFORMED;
		goto out;
	}

	pol = spd_lookup(ESPTAG_DIR_OUT, t.family, t.daddr, t.saddr);
	if (!pol || pol->action == ESPTAG_ACT_BYPASS) {
		cnt = ESPTAG_CNT_TX_BYPASS;
		verdict = TC_ACT_OK;
		goto out;
	}
	if (pol->action != ESPTAG_ACT_PROTECT) {
		cnt = ESPTAG_CNT_TX_DROP_DISCARD;	/* discard, or unknown: fail closed */
		goto out;
	}

	sa_index = pol->sa_index;
	sa = bpf_map_lookup_elem(&esptag_sad, &sa_index);
	/* An empty slot (ESPTAG_SA_EMPTY) is not alive either. */
	if (!sa || !(sa->flags & ESPTAG_SAF_ALIVE) || sa->dir != ESPTAG_DIR_OUT ||
	    (sa->ifindex && sa->ifindex != skb->ifindex)) {
		cnt = ESPTAG_CNT_TX_DROP_NO_SA;
		goto out;
	}
	sa_known = true;
	if (!(cfg.flags & ESPTAG_CFGF_AGENT_UP)) {
		cnt = ESPTAG_CNT_TX_DROP_AGENT_DOWN;
		goto out;
	}
	/* The agent cannot segment: a super-packet would never be protected. */
	if (skb->gso_size && (cfg.flags & ESPTAG_CFGF_NO_TSO)) {
		cnt = ESPTAG_CNT_TX_DROP_NO_TSO;
		goto out;
	}
	if (sa->expires_ns) {
		now = bpf_ktime_get_ns();
		if (now >= sa->expires_ns) {
			cnt = ESPTAG_CNT_TX_DROP_EXPIRED;
			goto out;
		}
	}
	tunnel = sa->mode == ESPTAG_MODE_TUNNEL;
	if ((!tunnel && (sa->mode != ESPTAG_MODE_TRANSPORT || sa->family != t.family)) ||
	    (tunnel && sa->family != 4 && sa->family != 6)) {
		cnt = ESPTAG_CNT_TX_DROP_NO_SA;		/* SA unusable for this packet */
		goto out;
	}
	/*
	 * A VLAN tag held in skb metadata (a VLAN device with tx offload) would
	 * be inserted by the driver right after the MACs, in front of our tag,
	 * breaking the tag's place; fail closed rather than mis-tag.
	 */
	if (skb->vlan_present) {
		cnt = ESPTAG_CNT_TX_DROP_MALFORMED;
		goto out;
	}
	/* The IP length must describe the frame exactly (no padding, no cut). */
	if (t.ip_len != skb->len - t.l3_off || (!tunnel && t.chain_err)) {
		cnt = ESPTAG_CNT_TX_DROP_MALFORMED;
		goto out;
	}

	gso = skb->gso_size != 0;
	if (gso) {
		mss = skb->gso_size;
		segs = gso_segs_of(skb, &t, mss);
		if (!segs || t.l4proto != IPPROTO_TCP || mss > 0xffff) {
			/* Only TCP super-packets can be framed by the agent. */
			cnt = ESPTAG_CNT_TX_DROP_MALFORMED;
			goto out;
		}
		/*
		 * Every segment costs the agent one ESP frame: a tiny mss would
		 * make one frame tens of thousands (docs/protocol.md 2.3).
		 */
		if (mss < ESPTAG_GSO_MIN_MSS || segs > ESPTAG_GSO_MAX_SEGS) {
			cnt = ESPTAG_CNT_TX_DROP_GSO_LIMIT;
			goto out;
		}
	}

	sq = bpf_map_lookup_elem(&esptag_seq, &sa_index);
	if (!sq) {
		cnt = ESPTAG_CNT_TX_DROP_NO_SA;		/* index beyond the array */
		goto out;
	}
	seq = __sync_fetch_and_add(&sq->next, segs);
	/*
	 * A slot esptagd did not initialise starts at 0, which is no valid
	 * sequence number: take the next range instead (fetch-and-add ranges
	 * never overlap, so racing CPUs still get distinct numbers).
	 */
	if (!seq)
		seq = __sync_fetch_and_add(&sq->next, segs);
	if (!seq)	/* a counter written as 0: number 0 is never sent */
		seq = __sync_fetch_and_add(&sq->next, segs);
	if (!(sa->flags & ESPTAG_SAF_ESN) && seq + segs - 1 > 0xffffffffull) {
		/* RFC 4303 3.3.3: the counter must not cycle; rekey. */
		cnt = ESPTAG_CNT_TX_DROP_EXPIRED;
		goto out;
	}

	/* Layout: MACs | tag | VLANs, ethertype [| IP header] [| outer IP] | ESP. */
	if (gso) {
		mv = 2 * ETH_ALEN;
		ins = ESPTAG_META_LEN;
		esp_off = tunnel ? t.l3_off : t.l4_off;
		next_hdr = tunnel ? (t.family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6) : t.l4proto;
	} else if (tunnel) {
		olen = sa->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
		mv = t.l3_off;
		ins = ESPTAG_META_LEN + olen + sizeof(struct esptag_esp_hdr);
		esp_off = t.l3_off + olen;
		next_hdr = t.family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	} else {
		if (t.ip_hlen > TX_IPHDR_MAX) {
			cnt = ESPTAG_CNT_TX_DROP_MALFORMED;
			goto out;
		}
		mv = t.l4_off;
		ins = ESPTAG_META_LEN + sizeof(struct esptag_esp_hdr);
		esp_off = t.l4_off;
		next_hdr = t.l4proto;
	}
	bound16(mv);
	if (mv > TX_PREFIX_MAX || mv < 2 * ETH_ALEN) {
		cnt = ESPTAG_CNT_TX_DROP_MALFORMED;
		goto out;
	}
	/*
	 * One head change: the frame moves back by ins bytes, and the prefix
	 * (MACs, VLAN tags, EtherType [, IP header]) is copied forward to the
	 * new head so that the tag follows the MACs and the gap for ESP (and
	 * the outer header) follows the prefix. Plain loads and stores, in
	 * increasing order: every source byte lies at least 16 bytes behind
	 * its destination, so nothing is overwritten before it is read.
	 */
	if (bpf_skb_change_head(skb, ins, 0)) {
		cnt = ESPTAG_CNT_TX_DROP_ROOM;
		goto out;
	}
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	{
		__u64 src = ins, n = mv - 2 * ETH_ALEN, off;
		__u8 *s = data + src;
		int i;

		bound16(src);
		bound16(n);
		if (src > TX_INS_MAX || n > TX_PREFIX_MAX || (n & 1) ||
		    (void *)(s + 2 * ETH_ALEN) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		__builtin_memcpy(data, s, 2 * ETH_ALEN);
		s += 2 * ETH_ALEN;
		for (i = 0, off = 0; i < TX_PREFIX_MAX / 8; i++, off += 8) {
			__u8 *d = data + 2 * ETH_ALEN + ESPTAG_META_LEN + off;

			if (off + 8 > n)
				break;
			if ((void *)(s + off + 8) > end || (void *)(d + 8) > end) {
				cnt = ESPTAG_CNT_TX_DROP_ROOM;
				goto out;
			}
			*(__u64 *)d = *(__u64 *)(s + off);
		}
		for (i = 0; i < 3; i++, off += 2) {
			__u8 *d = data + 2 * ETH_ALEN + ESPTAG_META_LEN + off;

			if (off + 2 > n)
				break;
			if ((void *)(s + off + 2) > end || (void *)(d + 2) > end) {
				cnt = ESPTAG_CNT_TX_DROP_ROOM;
				goto out;
			}
			*(__u16 *)d = *(__u16 *)(s + off);
		}
	}

	new_l3 = t.l3_off + ESPTAG_META_LEN;
	bound16(new_l3);
	if (new_l3 > TX_PREFIX_MAX + ESPTAG_META_LEN ||
	    new_l3 < ETH_HLEN + ESPTAG_META_LEN) {
		cnt = ESPTAG_CNT_TX_DROP_ROOM;
		goto out;
	}

	{
		struct esptag_meta *m = data + 2 * ETH_ALEN;

		if ((void *)(m + 1) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		/* Every field but inner_proto, which is already in place. */
		m->tpid = cfg.eth_p_meta;
		m->version = ESPTAG_META_VERSION;
		m->kind = ESPTAG_META_TX;
		m->flags = ESPTAG_META_F_OFFLOAD |
			   (gso ? ESPTAG_META_F_GSO : 0) |
			   (sa->flags & ESPTAG_SAF_ESN ? ESPTAG_META_F_ESN : 0);
		m->next_hdr = next_hdr;
		m->result = 0;
		m->reserved = 0;
		m->esp_off = bpf_htons(esp_off);
		m->payload_off = bpf_htons(gso ? esp_off : esp_off + sizeof(struct esptag_esp_hdr));
		m->trailer_len = 0;
		m->mss = bpf_htons(mss);
		m->sa_index = bpf_htonl(sa_index);
		m->seq_hi = bpf_htonl(seq >> 32);
		m->seq_lo = bpf_htonl((__u32)seq);
		m->reserved2 = 0;
	}
	if (gso) {
		cnt = ESPTAG_CNT_TX_PROTECT_GSO;
		verdict = TC_ACT_OK;
		goto out;
	}

	if (tunnel) {
		__u64 et_off = new_l3 - 2;
		__be16 *et;

		bound16(et_off);	/* own pointer: the verifier refuses off -2 */
		et = data + et_off;
		if ((void *)(et + 1) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		if (sa->family == 4) {
			struct iphdr oh = {
				.version = 4, .ihl = 5, .tos = t.tos,
				.tot_len = bpf_htons(t.ip_len + olen + sizeof(struct esptag_esp_hdr)),
				.id = bpf_htons((__u16)seq), .frag_off = 0, .ttl = 64,
				.protocol = IPPROTO_ESP,
			};
			struct iphdr *p = data + new_l3;

			__builtin_memcpy(&oh.saddr, sa->saddr, 4);
			__builtin_memcpy(&oh.daddr, sa->daddr, 4);
			oh.check = ipv4_csum20(&oh);
			if ((void *)(p + 1) > end) {
				cnt = ESPTAG_CNT_TX_DROP_ROOM;
				goto out;
			}
			__builtin_memcpy(p, &oh, sizeof(oh));
			*et = bpf_htons(ETH_P_IP);
		} else {
			struct ipv6hdr *p = data + new_l3;

			if ((void *)(p + 1) > end) {
				cnt = ESPTAG_CNT_TX_DROP_ROOM;
				goto out;
			}
			*(__be32 *)p = bpf_htonl(6u << 28 | (__u32)t.tos << 20);
			p->payload_len = bpf_htons(t.ip_len + sizeof(struct esptag_esp_hdr));
			p->nexthdr = IPPROTO_ESP;
			p->hop_limit = 64;
			__builtin_memcpy(&p->saddr, sa->saddr, 16);
			__builtin_memcpy(&p->daddr, sa->daddr, 16);
			*et = bpf_htons(ETH_P_IPV6);
		}
	} else if (t.family == 4) {
		struct iphdr *ip = data + new_l3;
		__be16 old_len, new_len, old_w, new_w;

		if ((void *)(ip + 1) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		old_len = ip->tot_len;
		new_len = bpf_htons(bpf_ntohs(old_len) + sizeof(struct esptag_esp_hdr));
		old_w = *((__be16 *)&ip->ttl);
		ip->tot_len = new_len;
		ip->protocol = IPPROTO_ESP;
		new_w = *((__be16 *)&ip->ttl);
		csum_replace2(&ip->check, old_len, new_len);
		csum_replace2(&ip->check, old_w, new_w);
	} else {
		struct ipv6hdr *ip6 = data + new_l3;
		__u64 nh_rel = t.nh_rel;
		__u8 *nh;

		if ((void *)(ip6 + 1) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		ip6->payload_len = bpf_htons(bpf_ntohs(ip6->payload_len) +
					     sizeof(struct esptag_esp_hdr));
		bound16(nh_rel);
		if (nh_rel > TX_IPHDR_MAX) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		nh = (void *)ip6 + nh_rel;
		if ((void *)(nh + 1) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		*nh = IPPROTO_ESP;
	}

	{
		__u64 off = esp_off + ESPTAG_META_LEN;
		struct esptag_esp_hdr *e;
		__be64 iv = bpf_cpu_to_be64(seq);

		bound16(off);
		if (off > TX_PREFIX_MAX + ESPTAG_META_LEN + sizeof(struct ipv6hdr)) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		e = data + off;
		if ((void *)(e + 1) > end) {
			cnt = ESPTAG_CNT_TX_DROP_ROOM;
			goto out;
		}
		e->spi = sa->spi;
		e->seq = bpf_htonl((__u32)seq);
		__builtin_memcpy(e->iv, &iv, sizeof(iv));
	}
	cnt = ESPTAG_CNT_TX_PROTECT;
	verdict = TC_ACT_OK;
out:
	stat_inc(cnt);
	if (sa_known)
		sa_stat_add(sa_index, verdict == TC_ACT_OK ? segs : 0,
			    verdict == TC_ACT_OK ? pkt_len : 0,
			    verdict == TC_ACT_OK ? 0 : 1);
	return verdict;
}

char LICENSE[] SEC("license") = "GPL";
