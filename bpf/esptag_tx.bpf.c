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
 * A registered bypass socket's UDP packets (esptag_bypass, by socket
 * cookie: an IKE daemon's) go out in clear before any policy is looked up;
 * only while esptag_cfg has ESPTAG_CFGF_BYPASS (some socket is registered),
 * so that without one a UDP packet costs no cookie and no hash lookup.
 * A trap policy (protect by reqid without an SA) drops its packets and
 * raises an acquire (esptag_acquire ring buffer, one per policy in flight).
 *
 * Fail closed: protect without a usable SA, with an expired SA or with the
 * agent down drops the frame, and so does a frame that would take the SA
 * past its hard byte or packet limit (lib/life.h). Frames already carrying
 * a metadata tag are dropped (never tagged twice); config frames of the
 * daemon pass untouched;
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
#include "lib/life.h"

#define TX_IPHDR_MAX	128	/* IP header + IPv6 extension headers moved at most */
#define TX_PREFIX_MAX	(ETH_HLEN + 4 * ESPTAG_MAX_VLANS + TX_IPHDR_MAX)
/*
 * Offsets come from 32-bit fields: clang checks a zero-extended copy and
 * hands the verifier the unchecked register. Masking inside one 64-bit
 * register makes the later bound check apply to the value actually used.
 */
#define bound16(v) bound_mask(v, 0xffff)

#define TX_ESP_LEN	sizeof(struct esptag_esp_hdr)	/* ESP header + IV, 16 */
#define TX_INS_MAX	(ESPTAG_META_LEN + sizeof(struct ipv6hdr) + TX_ESP_LEN)
#define TX_PULL_LEN	256	/* linear bytes wanted when headers are paged */
#define TX_MACS_LEN	(2 * ETH_ALEN)	/* destination + source MAC */
#define TX_TAG_OFF	TX_MACS_LEN	/* the tag goes right after the MACs */
#define TX_MSS_MAX	0xffff		/* the tag's mss field is 16 bits */
#define TX_SEQ32_MAX	0xffffffffull	/* last sequence number without ESN */
#define TX_OUTER_TTL	64		/* tunnel mode: outer TTL / hop limit */

#include "lib/tx_parse.h"

/*
 * A GSO packet's segments and the bytes of their headers (IP + TCP, from the
 * frame's start): every segment the agent makes carries them again. 0 when
 * the TCP header cannot be read (the packet cannot be framed).
 * (Tunnel mode too: the inner packet is the frame's own IP packet.)
 */
static __always_inline __u32 gso_hdrs_of(struct __sk_buff *skb, const struct tx_pkt *t)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct cursor c;
	struct tcphdr *tcp;
	__u32 l4_off = t->l4_off;
	int hl;

	if (t->chain_err || t->l4proto != IPPROTO_TCP)
		return 0;
	if (l4_off > TX_PREFIX_MAX)
		return 0;
	cursor_init(&c, data + l4_off);
	hl = parse_tcphdr(&c, end, &tcp);
	if (hl < 0)
		return 0;
	return l4_off + hl;
}

/* TCP payload segments of a GSO packet (the stack's count when it has one). */
static __always_inline __u32 gso_segs_of(struct __sk_buff *skb, __u32 hdrs, __u32 mss)
{
	if (skb->gso_segs)
		return skb->gso_segs;
	if (!hdrs || skb->len <= hdrs)
		return 0;
	return (skb->len - hdrs + mss - 1) / mss;
}

/* What the stages of one frame learn and hand on. */
struct tx_ctx {
	struct cfg_view cfg;
	struct tx_pkt t;
	struct esptag_sa *sa;
	__u64 seq;		/* first sequence number reserved */
	__u32 pkt_len;		/* skb->len on entry */
	__u32 sa_index;
	__u32 segs;		/* sequence numbers used: 1, or the GSO segments */
	__u64 life_bytes;	/* charged to the SA's lifetime (XFRM curlft bytes) */
	__u32 mss;		/* GSO: skb->gso_size */
	__u32 olen;		/* tunnel, not GSO: outer IP header length */
	__u32 ins;		/* bytes inserted after the MACs */
	__u32 esp_off;		/* ESP header offset in the frame without the tag */
	__u32 mv;		/* prefix (MACs .. insertion point) copied forward */
	__u32 new_l3;		/* IP header offset after the insertion */
	__u8 next_hdr;		/* ESP next header */
	bool gso;
	bool tunnel;
	bool sa_known;		/* per-SA counters apply */
	bool charged;		/* life_charge() took this frame */
};

/* Parse (headers in paged data made linear once) and sort the frame out. */
static __always_inline __u32 tx_classify(struct __sk_buff *skb, struct tx_ctx *x)
{
	int cls = tx_parse(skb, &x->cfg, &x->t);

	if (cls == TXC_TRUNC && skb->len > skb->data_end - skb->data) {
		if (bpf_skb_pull_data(skb, skb->len < TX_PULL_LEN ? skb->len : TX_PULL_LEN))
			cls = TXC_MALFORMED;
		else
			cls = tx_parse(skb, &x->cfg, &x->t);
	}
	switch (cls) {
	case TXC_IP:
		return STAGE_NEXT;
	case TXC_CONFIG:
		return ESPTAG_CNT_TX_CONFIG;
	case TXC_TAGGED:
		return ESPTAG_CNT_TX_DROP_TAGGED;
	case TXC_VLAN_HIDDEN:
		return ESPTAG_CNT_TX_DROP_VLAN_HIDDEN;
	case TXC_OTHER:
		return ESPTAG_CNT_TX_PASS_OTHER;
	default:
		return ESPTAG_CNT_TX_DROP_MALFORMED;
	}
}

/*
 * A registered bypass socket's UDP packet (an IKE daemon's) goes out in
 * clear whatever the policies say: its socket cookie is in esptag_bypass.
 */
static __always_inline __u32 tx_bypass_socket(struct __sk_buff *skb, struct tx_ctx *x)
{
	__u64 cookie;

	if (!(x->cfg.flags & ESPTAG_CFGF_BYPASS) || x->t.l4proto != IPPROTO_UDP ||
	    x->t.chain_err)
		return STAGE_NEXT;
	cookie = bpf_get_socket_cookie(skb);
	if (cookie && bpf_map_lookup_elem(&esptag_bypass, &cookie))
		return ESPTAG_CNT_TX_BYPASS_SOCKET;
	return STAGE_NEXT;
}

/*
 * A trap policy was hit: one acquire per policy in flight. esptag_acq_pend
 * holds the time until which an acquire is pending; the CPU that moves it
 * forward (compare and swap) sends the record. esptagd re-arms it (0) when
 * an SA appears for the policy; else it expires after ESPTAG_ACQ_EXPIRES_NS.
 */
static __always_inline void tx_acquire(const struct esptag_policy *pol, const struct tx_ctx *x)
{
	__u32 id = pol->id;
	__u64 *pend = bpf_map_lookup_elem(&esptag_acq_pend, &id);
	struct esptag_acquire *a;
	__u64 now, old;

	if (!pend)
		return;
	now = bpf_ktime_get_ns();
	old = *pend;
	if (now < old)
		return;
	if (__sync_val_compare_and_swap(pend, old, now + ESPTAG_ACQ_EXPIRES_NS) != old)
		return;
	a = bpf_ringbuf_reserve(&esptag_acquire, sizeof(*a), 0);
	if (!a) {
		*pend = old;	/* not sent: the next packet tries again */
		return;
	}
	a->policy_id = id;
	a->family = x->t.family;
	a->proto = x->t.l4proto;
	a->reserved = 0;
	__builtin_memcpy(a->saddr, x->t.saddr, 16);
	__builtin_memcpy(a->daddr, x->t.daddr, 16);
	bpf_ringbuf_submit(a, 0);
}

/* Outbound policy: bypass (or no rule) passes, protect names the SA. */
static __always_inline __u32 tx_policy(struct tx_ctx *x)
{
	struct esptag_policy *pol;

	pol = spd_lookup(ESPTAG_DIR_OUT, x->t.family, x->t.daddr, x->t.saddr,
			 x->cfg.flags & ESPTAG_CFGF_SPD_HOST);
	if (!pol)
		return ESPTAG_CNT_TX_BYPASS;
	spd_use(pol, x->cfg.clock_ns);
	if (pol->action == ESPTAG_ACT_BYPASS)
		return ESPTAG_CNT_TX_BYPASS;
	if (pol->action != ESPTAG_ACT_PROTECT)
		return ESPTAG_CNT_TX_DROP_DISCARD;	/* discard, or unknown: fail closed */
	x->sa_index = pol->sa_index;
	if (x->sa_index == ESPTAG_SA_INDEX_NONE && (pol->flags & ESPTAG_POLF_TRAP)) {
		tx_acquire(pol, x);
		return ESPTAG_CNT_TX_DROP_TRAP;
	}
	return STAGE_NEXT;
}

/* The SA: usable on this port for this packet, agent up, not expired. */
static __always_inline __u32 tx_sa_check(struct __sk_buff *skb, struct tx_ctx *x)
{
	struct esptag_sa *sa = bpf_map_lookup_elem(&esptag_sad, &x->sa_index);

	/* An empty slot (ESPTAG_SA_EMPTY) is not alive either. */
	if (!sa || !(sa->flags & ESPTAG_SAF_ALIVE) || sa->dir != ESPTAG_DIR_OUT ||
	    (sa->ifindex && sa->ifindex != skb->ifindex))
		return ESPTAG_CNT_TX_DROP_NO_SA;
	x->sa = sa;
	x->sa_known = true;
	if (!(x->cfg.flags & ESPTAG_CFGF_AGENT_UP))
		return ESPTAG_CNT_TX_DROP_AGENT_DOWN;
	/* The agent cannot segment: a super-packet would never be protected. */
	if (skb->gso_size && (x->cfg.flags & ESPTAG_CFGF_NO_TSO))
		return ESPTAG_CNT_TX_DROP_NO_TSO;
	if (sa->expires_ns && bpf_ktime_get_ns() >= sa->expires_ns)
		return ESPTAG_CNT_TX_DROP_EXPIRED;
	x->tunnel = sa->mode == ESPTAG_MODE_TUNNEL;
	if ((!x->tunnel && (sa->mode != ESPTAG_MODE_TRANSPORT || sa->family != x->t.family)) ||
	    (x->tunnel && sa->family != 4 && sa->family != 6))
		return ESPTAG_CNT_TX_DROP_NO_SA;	/* SA unusable for this packet */
	return STAGE_NEXT;
}

/* The frame can be protected as it is: lengths, VLAN offload, GSO limits. */
static __always_inline __u32 tx_frame_check(struct __sk_buff *skb, struct tx_ctx *x)
{
	__u32 hdrs;

	/*
	 * A VLAN tag held in skb metadata (a VLAN device with tx offload) would
	 * be inserted by the driver right after the MACs, in front of our tag,
	 * breaking the tag's place; fail closed rather than mis-tag.
	 */
	if (skb->vlan_present)
		return ESPTAG_CNT_TX_DROP_MALFORMED;
	/* The IP length must describe the frame exactly (no padding, no cut). */
	if (x->t.ip_len != skb->len - x->t.l3_off || (!x->tunnel && x->t.chain_err))
		return ESPTAG_CNT_TX_DROP_MALFORMED;
	x->gso = skb->gso_size != 0;
	x->life_bytes = x->t.ip_len;
	if (!x->gso)
		return STAGE_NEXT;
	x->mss = skb->gso_size;
	hdrs = gso_hdrs_of(skb, &x->t);
	x->segs = gso_segs_of(skb, hdrs, x->mss);
	/* Only TCP super-packets can be framed by the agent. */
	if (!x->segs || !hdrs || x->t.l4proto != IPPROTO_TCP || x->mss > TX_MSS_MAX)
		return ESPTAG_CNT_TX_DROP_GSO_PROTO;
	/* Each segment repeats the IP and TCP headers (lifetime bytes). */
	x->life_bytes += (__u64)(x->segs - 1) * (hdrs - x->t.l3_off);
	/*
	 * Every segment costs the agent one ESP frame: a tiny mss would make
	 * one frame tens of thousands (docs/protocol.md 2.3).
	 */
	if (x->mss < ESPTAG_GSO_MIN_MSS || x->segs > ESPTAG_GSO_MAX_SEGS)
		return ESPTAG_CNT_TX_DROP_GSO_LIMIT;
	return STAGE_NEXT;
}

/* The SA's hard byte and packet limits: charge the frame or drop it. */
static __always_inline __u32 tx_life(struct tx_ctx *x)
{
	if (!life_charge(&x->sa->life, x->segs, x->life_bytes, x->cfg.clock_ns))
		return ESPTAG_CNT_TX_DROP_LIMIT;
	x->charged = true;
	return STAGE_NEXT;
}

/* Reserve segs sequence numbers of the SA (never 0, never cycling). */
static __always_inline __u32 tx_seq_reserve(struct tx_ctx *x)
{
	struct esptag_seq *sq = &x->sa->seq;	/* in the SA's esptag_sad value */
	__u64 seq;

	seq = __sync_fetch_and_add(&sq->next, x->segs);
	/*
	 * A slot esptagd did not initialise starts at 0, which is no valid
	 * sequence number: take the next range instead (fetch-and-add ranges
	 * never overlap, so racing CPUs still get distinct numbers).
	 */
	if (!seq)
		seq = __sync_fetch_and_add(&sq->next, x->segs);
	if (!seq)	/* a counter written as 0: number 0 is never sent */
		seq = __sync_fetch_and_add(&sq->next, x->segs);
	/* RFC 4303 3.3.3: the counter must not cycle; rekey. */
	if (!(x->sa->flags & ESPTAG_SAF_ESN) && seq + x->segs - 1 > TX_SEQ32_MAX)
		return ESPTAG_CNT_TX_DROP_EXPIRED;
	x->seq = seq;
	return STAGE_NEXT;
}

/* Layout: MACs | tag | VLANs, ethertype [| IP header] [| outer IP] | ESP. */
static __always_inline __u32 tx_layout(struct tx_ctx *x)
{
	__u8 inner_nh = x->t.family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	__u64 mv;

	if (x->gso) {
		mv = TX_MACS_LEN;
		x->ins = ESPTAG_META_LEN;
		x->esp_off = x->tunnel ? x->t.l3_off : x->t.l4_off;
		x->next_hdr = x->tunnel ? inner_nh : x->t.l4proto;
	} else if (x->tunnel) {
		x->olen = x->sa->family == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
		mv = x->t.l3_off;
		x->ins = ESPTAG_META_LEN + x->olen + TX_ESP_LEN;
		x->esp_off = x->t.l3_off + x->olen;
		x->next_hdr = inner_nh;
	} else {
		if (x->t.ip_hlen > TX_IPHDR_MAX)
			return ESPTAG_CNT_TX_DROP_MALFORMED;
		mv = x->t.l4_off;
		x->ins = ESPTAG_META_LEN + TX_ESP_LEN;
		x->esp_off = x->t.l4_off;
		x->next_hdr = x->t.l4proto;
	}
	bound16(mv);
	if (mv > TX_PREFIX_MAX || mv < TX_MACS_LEN)
		return ESPTAG_CNT_TX_DROP_MALFORMED;
	x->mv = mv;
	return STAGE_NEXT;
}

/*
 * One head change: the frame moves back by ins bytes, and the prefix (MACs,
 * VLAN tags, EtherType [, IP header]) is copied forward to the new head so
 * that the tag follows the MACs and the gap for ESP (and the outer header)
 * follows the prefix. Plain loads and stores, in increasing order: every
 * source byte lies at least 16 bytes behind its destination, so nothing is
 * overwritten before it is read.
 */
static __always_inline __u32 tx_grow(struct __sk_buff *skb, struct tx_ctx *x)
{
	__u64 src = x->ins, n = x->mv - TX_MACS_LEN, off;
	void *data, *end;
	__u8 *s;
	int i;

	if (bpf_skb_change_head(skb, x->ins, 0))
		return ESPTAG_CNT_TX_DROP_ROOM;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	bound16(src);
	bound16(n);
	s = data + src;
	if (src > TX_INS_MAX || n > TX_PREFIX_MAX || (n & 1) ||
	    data + TX_MACS_LEN > end || (void *)(s + TX_MACS_LEN) > end)
		return ESPTAG_CNT_TX_DROP_ROOM;
	__builtin_memcpy(data, s, TX_MACS_LEN);
	s += TX_MACS_LEN;
	for (i = 0, off = 0; i < TX_PREFIX_MAX / 8; i++, off += 8) {
		__u8 *d = data + TX_TAG_OFF + ESPTAG_META_LEN + off;

		if (off + 8 > n)
			break;
		if ((void *)(s + off + 8) > end || (void *)(d + 8) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		*(__u64 *)d = *(__u64 *)(s + off);
	}
	for (i = 0; i < 3; i++, off += 2) {	/* the last 2, 4 or 6 bytes */
		__u8 *d = data + TX_TAG_OFF + ESPTAG_META_LEN + off;

		if (off + 2 > n)
			break;
		if ((void *)(s + off + 2) > end || (void *)(d + 2) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		*(__u16 *)d = *(__u16 *)(s + off);
	}
	return STAGE_NEXT;
}

/* The TX tag right after the MACs. A GSO frame is done: the agent frames it. */
static __always_inline __u32 tx_write_tag(struct __sk_buff *skb, struct tx_ctx *x)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	struct esptag_meta *m = data + TX_TAG_OFF;
	__u64 new_l3 = x->t.l3_off + ESPTAG_META_LEN;
	__u32 esp_off = x->esp_off;

	bound16(new_l3);
	if (new_l3 > TX_PREFIX_MAX + ESPTAG_META_LEN ||
	    new_l3 < ETH_HLEN + ESPTAG_META_LEN)
		return ESPTAG_CNT_TX_DROP_ROOM;
	x->new_l3 = new_l3;
	if ((void *)(m + 1) > end)
		return ESPTAG_CNT_TX_DROP_ROOM;
	/* Every field but inner_proto, which is already in place. */
	m->tpid = x->cfg.eth_p_meta;
	m->version = ESPTAG_META_VERSION;
	m->kind = ESPTAG_META_TX;
	m->flags = ESPTAG_META_F_OFFLOAD |
		   (x->gso ? ESPTAG_META_F_GSO : 0) |
		   (x->sa->flags & ESPTAG_SAF_ESN ? ESPTAG_META_F_ESN : 0);
	m->next_hdr = x->next_hdr;
	m->result = 0;
	m->reserved = 0;
	m->esp_off = bpf_htons(esp_off);
	m->payload_off = bpf_htons(x->gso ? esp_off : esp_off + TX_ESP_LEN);
	m->trailer_len = 0;
	m->mss = bpf_htons(x->mss);
	m->sa_index = bpf_htonl(x->sa_index);
	m->seq_hi = bpf_htonl(x->seq >> 32);
	m->seq_lo = bpf_htonl((__u32)x->seq);
	m->reserved2 = 0;
	return x->gso ? ESPTAG_CNT_TX_PROTECT_GSO : STAGE_NEXT;
}

/* Tunnel mode: the outer IPv4 or IPv6 header in the gap, and its EtherType. */
static __always_inline __u32 tx_outer_hdr(struct __sk_buff *skb, struct tx_ctx *x)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	const struct esptag_sa *sa = x->sa;
	__u64 new_l3 = x->new_l3, et_off = new_l3 - 2;
	__be16 *et;

	bound16(et_off);	/* own pointer: the verifier refuses off -2 */
	et = data + et_off;
	if ((void *)(et + 1) > end)
		return ESPTAG_CNT_TX_DROP_ROOM;
	if (sa->family == 4) {
		struct iphdr oh = {
			.version = 4, .ihl = 5, .tos = x->t.tos,
			.tot_len = bpf_htons(x->t.ip_len + x->olen + TX_ESP_LEN),
			.id = bpf_htons((__u16)x->seq), .frag_off = 0, .ttl = TX_OUTER_TTL,
			.protocol = IPPROTO_ESP,
		};
		struct iphdr *p = data + new_l3;

		__builtin_memcpy(&oh.saddr, sa->saddr, 4);
		__builtin_memcpy(&oh.daddr, sa->daddr, 4);
		oh.check = ipv4_csum20(&oh);
		if ((void *)(p + 1) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		__builtin_memcpy(p, &oh, sizeof(oh));
		*et = bpf_htons(ETH_P_IP);
	} else {
		struct ipv6hdr *p = data + new_l3;

		if ((void *)(p + 1) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		*(__be32 *)p = bpf_htonl(6u << 28 | (__u32)x->t.tos << 20);
		p->payload_len = bpf_htons(x->t.ip_len + TX_ESP_LEN);
		p->nexthdr = IPPROTO_ESP;
		p->hop_limit = TX_OUTER_TTL;
		__builtin_memcpy(&p->saddr, sa->saddr, 16);
		__builtin_memcpy(&p->daddr, sa->daddr, 16);
		*et = bpf_htons(ETH_P_IPV6);
	}
	return STAGE_NEXT;
}

/* Transport mode: the IP header now carries ESP (length, protocol, checksum). */
static __always_inline __u32 tx_transport_hdr(struct __sk_buff *skb, struct tx_ctx *x)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	if (x->t.family == 4) {
		struct iphdr *ip = data + x->new_l3;
		__be16 old_len, new_len, old_w, new_w;

		if ((void *)(ip + 1) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		old_len = ip->tot_len;
		new_len = bpf_htons(bpf_ntohs(old_len) + TX_ESP_LEN);
		old_w = *((__be16 *)&ip->ttl);
		ip->tot_len = new_len;
		ip->protocol = IPPROTO_ESP;
		new_w = *((__be16 *)&ip->ttl);
		csum_replace2(&ip->check, old_len, new_len);
		csum_replace2(&ip->check, old_w, new_w);
	} else {
		struct ipv6hdr *ip6 = data + x->new_l3;
		__u64 nh_rel = x->t.nh_rel;
		__u8 *nh;

		if ((void *)(ip6 + 1) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		ip6->payload_len = bpf_htons(bpf_ntohs(ip6->payload_len) + TX_ESP_LEN);
		bound16(nh_rel);
		if (nh_rel > TX_IPHDR_MAX)
			return ESPTAG_CNT_TX_DROP_ROOM;
		nh = (void *)ip6 + nh_rel;
		if ((void *)(nh + 1) > end)
			return ESPTAG_CNT_TX_DROP_ROOM;
		*nh = IPPROTO_ESP;
	}
	return STAGE_NEXT;
}

/* The ESP header: SPI, low 32 sequence bits, the 64-bit sequence as IV. */
static __always_inline __u32 tx_write_esp(struct __sk_buff *skb, struct tx_ctx *x)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u64 off = x->esp_off + ESPTAG_META_LEN;
	__be64 iv = bpf_cpu_to_be64(x->seq);
	struct esptag_esp_hdr *e;

	bound16(off);
	if (off > TX_PREFIX_MAX + ESPTAG_META_LEN + sizeof(struct ipv6hdr))
		return ESPTAG_CNT_TX_DROP_ROOM;
	e = data + off;
	if ((void *)(e + 1) > end)
		return ESPTAG_CNT_TX_DROP_ROOM;
	e->spi = x->sa->spi;
	e->seq = bpf_htonl((__u32)x->seq);
	__builtin_memcpy(e->iv, &iv, sizeof(iv));
	return ESPTAG_CNT_TX_PROTECT;
}

/* The frame passes (TC_ACT_OK) exactly for these counters. */
static __always_inline bool tx_passes(__u32 cnt)
{
	return cnt == ESPTAG_CNT_TX_PROTECT || cnt == ESPTAG_CNT_TX_PROTECT_GSO ||
	       cnt == ESPTAG_CNT_TX_BYPASS || cnt == ESPTAG_CNT_TX_PASS_OTHER ||
	       cnt == ESPTAG_CNT_TX_CONFIG || cnt == ESPTAG_CNT_TX_BYPASS_SOCKET;
}

SEC("tc")
int esptag_tx(struct __sk_buff *skb)
{
	struct tx_ctx x = { .pkt_len = skb->len, .segs = 1 };
	__u32 cnt;
	bool ok;

	cfg_load(&x.cfg);
	if ((cnt = tx_classify(skb, &x)) != STAGE_NEXT ||
	    (cnt = tx_bypass_socket(skb, &x)) != STAGE_NEXT ||
	    (cnt = tx_policy(&x)) != STAGE_NEXT ||
	    (cnt = tx_sa_check(skb, &x)) != STAGE_NEXT ||
	    (cnt = tx_frame_check(skb, &x)) != STAGE_NEXT ||
	    (cnt = tx_life(&x)) != STAGE_NEXT ||
	    (cnt = tx_seq_reserve(&x)) != STAGE_NEXT ||
	    (cnt = tx_layout(&x)) != STAGE_NEXT ||
	    (cnt = tx_grow(skb, &x)) != STAGE_NEXT ||
	    (cnt = tx_write_tag(skb, &x)) != STAGE_NEXT)
		goto out;
	cnt = x.tunnel ? tx_outer_hdr(skb, &x) : tx_transport_hdr(skb, &x);
	if (cnt != STAGE_NEXT)
		goto out;
	cnt = tx_write_esp(skb, &x);
out:
	ok = tx_passes(cnt);
	if (x.charged && !ok)
		life_uncharge(&x.sa->life, x.segs, x.life_bytes);
	stat_inc(cnt);
	if (x.sa_known)
		sa_stat_add(x.sa_index, ok ? x.segs : 0, ok ? x.pkt_len : 0, ok ? 0 : 1);
	return ok ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
