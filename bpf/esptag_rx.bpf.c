// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * esptag Rx: XDP on a host port (PF, or a VF inside its VM).
 *
 * Frames reach the host from the agent. The agent tags every ESP frame it
 * handled with an Rx metadata tag (kind RX) and leaves the IP header, the
 * ESP header + IV, the (now plaintext) payload, the ESP trailer and the ICV
 * in place. This program:
 *
 *  - tagged, result OK: checks the SA named by the tag (esptag_sad: inbound,
 *    alive, not expired, on this port, of this frame's domain = dst MAC and
 *    VLAN IDs), that the tag agrees with the packet (SPI, low sequence
 *    number, offsets, lengths, ESP trailer), anti-replay (bpf/lib/replay.h),
 *    then removes tag, ESP header + IV, trailer and ICV (transport: restores
 *    the IP protocol / IPv6 next header and the lengths; tunnel: removes the
 *    outer IP header too) and passes the frame with a "trusted, SA n" record
 *    (struct esptag_xdp_meta) in the XDP metadata area;
 *  - tagged, any other result: drop, counted by reason;
 *  - config EtherType from the agent's address: pass (daemon socket);
 *  - untagged IP: inbound policy (dir in, dst = our address, src = peer):
 *    protect -> drop (must have arrived encrypted), discard -> drop,
 *    bypass or no rule -> pass;
 *  - anything else untagged (ARP, ...): pass.
 *
 * esptag_rx_mark (tc ingress, same object) moves the record into skb->mark.
 *
 * Two XDP entry points share one body: SEC("xdp") esptag_rx, which
 * `ip link set dev X xdp obj esptag_rx.bpf.o sec xdp` loads, and
 * SEC("xdp.frags") esptag_rx_frags for jumbo-MTU ports (veth refuses a
 * single-buffer XDP program when the peer's MTU does not fit a page; TSO on
 * the peer is lost with either: measurements in docs/rx.md). The body reads
 * only headers directly (first buffer); lengths come from
 * bpf_xdp_get_buff_len, a trailer in a fragment is read with
 * bpf_xdp_load_bytes and cut with bpf_xdp_adjust_tail, so both entry points
 * handle multi-buffer frames.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/cfg.h"
#include "lib/spd.h"
#include "lib/replay.h"
#include "lib/mark.h"

char _license[] SEC("license") = "Dual BSD/GPL";

#define RX_HDR_MAX	144	/* EtherType + VLANs + IP header we move, bytes */
#define RX_IP_HDR_MAX	128	/* IPv4 with options / IPv6 with extensions */
#define RX_MOVE_MAX	50	/* largest block rx_move() copies */

/* Outcome of one frame: a counter (enum esptag_counter) and, when the frame
 * was attributed to a known SA, its index for the per-SA counters. */
struct rx_out {
	__u32 cnt;
	__u32 sa_index;
	bool sa_known;
	bool drop;		/* counted as cnt but dropped (ESP dummy packet) */
	__u32 bytes;
};

static const __u8 agent_mac[ETH_ALEN] = ESPTAG_AGENT_MAC_INIT;

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

static __always_inline bool addr6_eq(const void *pkt, const __u8 *sa)
{
	const __u32 *a = pkt, *b = (const __u32 *)sa;

	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

static __always_inline __u32 result_counter(__u8 result)
{
	switch (result) {
	case ESPTAG_RES_AUTH_FAIL:
		return ESPTAG_CNT_RX_DROP_AUTH;
	case ESPTAG_RES_NO_SA:
		return ESPTAG_CNT_RX_DROP_NO_SA;
	case ESPTAG_RES_MALFORMED:
		return ESPTAG_CNT_RX_DROP_AGENT_MALFORMED;
	default:	/* UNSUPPORTED (unknown codes are refused as malformed) */
		return ESPTAG_CNT_RX_DROP_UNSUPPORTED;
	}
}

/* Untagged IP: inbound policy by (our address = dst, peer = src). */
static __always_inline __u32 rx_plain_ip(struct cursor *c, void *end, int proto)
{
	__u8 daddr[16] = {}, saddr[16] = {};
	struct esptag_policy *pol;
	__u8 family;

	if (proto == ETH_P_IP) {
		struct iphdr *iph;

		if (parse_iphdr(c, end, &iph) < 0)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		__builtin_memcpy(daddr, &iph->daddr, 4);
		__builtin_memcpy(saddr, &iph->saddr, 4);
		family = 4;
	} else {
		struct ipv6hdr *ip6 = c->pos;

		/* Addresses only: extension headers do not matter here. */
		if ((void *)(ip6 + 1) > end)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		if (ip6->version != 6)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		family = 6;
	}
	pol = spd_lookup(ESPTAG_DIR_IN, family, daddr, saddr);
	if (pol && pol->action == ESPTAG_ACT_PROTECT)
		return ESPTAG_CNT_RX_DROP_POLICY;
	if (pol && pol->action == ESPTAG_ACT_DISCARD)
		return ESPTAG_CNT_RX_DROP_DISCARD;
	return ESPTAG_CNT_RX_PLAIN;
}

/* Does the frame's L2 domain (dst MAC, VLAN IDs) and port match the SA? */
static __always_inline bool rx_domain_ok(const struct esptag_sa *sa,
					 const struct l2_info *l2, __u32 ifindex)
{
	int i;

	if (sa->ifindex && sa->ifindex != ifindex)
		return false;
	if (!mac_eq(l2->eth->h_dest, sa->local_mac))
		return false;
	if (sa->nvlans != l2->vlan.n)
		return false;
#pragma unroll
	for (i = 0; i < ESPTAG_MAX_VLANS; i++)
		if (i < l2->vlan.n &&
		    ((l2->vlan.tag[i].tci ^ sa->vlan[i].tci) & bpf_htons(0x0fff)))
			return false;
	return true;
}

/*
 * Anti-replay under the SA's lock. The slot is an array element: all zero
 * (a fresh window) until the first packet; esptagd zeroes it on install.
 */
static __always_inline int rx_replay(__u32 sa_index, __u64 seq, __u32 window)
{
	struct esptag_replay *r = bpf_map_lookup_elem(&esptag_replay, &sa_index);
	int v;

	if (!r)
		return -1;	/* index beyond the array: fail closed (counted as old) */
	bpf_spin_lock(&r->lock);
	v = replay_update(r, seq, window);
	bpf_spin_unlock(&r->lock);
	return v;
}

/*
 * Move [42, 42 + n) (the frame's EtherType, VLAN tags and, in transport
 * mode, the IP header) and the MAC addresses forward over the removed bytes
 * (the 30-byte tag, then gap bytes right after the block). n is a constant
 * here: plain 16-bit loads and stores, no helper call, no stack buffer (the
 * usual header stacks). The block moves to higher addresses, so it is
 * copied from its end; the MACs go last, over the block's old place.
 */
static __always_inline int rx_move(struct xdp_md *ctx, const int n, __u32 gap)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u16 *src = data + 42, *dst, *mdst, *macs = data;
	int i;

	gap &= 0xff;	/* <= 128 + 16; tells the verifier */
	mdst = data + ESPTAG_META_LEN + gap;
	/* Keep clang from rebuilding mdst + 6 from data and gap after the
	 * check: the verifier knows the range of this very register. */
	asm volatile("" : "+r"(mdst));
	dst = mdst + ETH_ALEN;		/* data + 42 + gap */
	if ((void *)src + n > end || (void *)dst + n > end)
		return -1;
	/* Fully unrolled: n is a constant, the condition folds away. */
#pragma unroll
	for (i = RX_MOVE_MAX / 2 - 1; i >= 0; i--)
		if (i < n / 2)
			dst[i] = src[i];
#pragma unroll
	for (i = ETH_ALEN - 1; i >= 0; i--)
		mdst[i] = macs[i];
	return 0;
}

/* Same for any keep (IPv4 options, IPv6 extension headers): helpers. */
static __always_inline int rx_move_any(struct xdp_md *ctx, __u32 keep, __u32 gap,
				       __u8 *buf, __u8 *macs)
{
	if (keep < 2 || keep > RX_HDR_MAX)
		return -1;
	if (bpf_xdp_load_bytes(ctx, 0, macs, 2 * ETH_ALEN) ||
	    bpf_xdp_load_bytes(ctx, 42, buf, keep) ||
	    bpf_xdp_store_bytes(ctx, 42 + gap, buf, keep) ||
	    bpf_xdp_store_bytes(ctx, ESPTAG_META_LEN + gap, macs, 2 * ETH_ALEN))
		return -1;
	return 0;
}

/* 2 + 4 * VLANs (+ 20 IPv4 / 40 IPv6 header in transport mode). */
#define RX_MOVE_CASE(n)	case n: err = rx_move(ctx, n, gap); break

/* Close the gaps and drop the head. Returns 0 or -1. */
static __always_inline int rx_strip_head(struct xdp_md *ctx, __u32 keep, __u32 gap)
{
	__u8 buf[RX_HDR_MAX], macs[2 * ETH_ALEN];
	int err;

	switch (keep) {
	RX_MOVE_CASE(2);
	RX_MOVE_CASE(6);
	RX_MOVE_CASE(10);
	RX_MOVE_CASE(22);
	RX_MOVE_CASE(26);
	RX_MOVE_CASE(30);
	RX_MOVE_CASE(42);
	RX_MOVE_CASE(46);
	RX_MOVE_CASE(50);
	default:
		err = rx_move_any(ctx, keep, gap, buf, macs);
	}
	if (err)
		return -1;
	return bpf_xdp_adjust_head(ctx, ESPTAG_META_LEN + gap) ? -1 : 0;
}

/* Hand "trusted, SA sa_index" to the tc companion through XDP metadata. */
static __always_inline void rx_set_meta(struct xdp_md *ctx, __u32 sa_index)
{
	struct esptag_xdp_meta *m;
	void *data;

	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(*m)))
		return;		/* no metadata support: passes untrusted */
	m = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(m + 1) > data)
		return;
	m->magic = ESPTAG_XDP_META_MAGIC;
	m->sa_index = sa_index;
}

/* Tagged frame: validate, check, strip. Fills o. */
static __always_inline void rx_tagged(struct xdp_md *ctx, struct cursor *c,
				      struct l2_info *l2, struct rx_out *o)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct esptag_meta *m = l2->meta;
	struct esptag_esp_hdr *esp;
	struct iphdr *iph = NULL;
	__u8 *ip6_nh = NULL;
	struct esptag_sa *sa;
	__u32 frame_len, l2len, iphl, ip_total, esp_off, trailer, tail_off;
	__u32 sa_index, plen, icv, gap, keep, l2x, extra;
	__u16 esp_off16, payload_off16, trailer16;
	__u8 next_hdr, tr[2], *tail;
	bool dummy;
	__u64 seq;
	int rv;

	/* Tag validation (docs/protocol.md 2.9, the RX rules). */
	o->cnt = ESPTAG_CNT_RX_DROP_MALFORMED;
	if (m->kind != ESPTAG_META_RX || m->reserved || m->reserved2 || m->mss ||
	    (m->flags & (ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO)) ||
	    m->result > ESPTAG_RES_MAX ||
	    (m->seq_hi && !(m->flags & ESPTAG_META_F_ESN)) ||
	    bpf_ntohs(m->inner_proto) < 0x0600)
		return;
	sa_index = bpf_ntohl(m->sa_index);
	o->sa_index = sa_index;
	if (m->result != ESPTAG_RES_OK) {
		o->cnt = result_counter(m->result);
		sa = bpf_map_lookup_elem(&esptag_sad, &sa_index);
		o->sa_known = sa && !ESPTAG_SA_EMPTY(sa);
		return;
	}

	/* The SA and its domain (an empty slot is an unknown index). */
	sa = bpf_map_lookup_elem(&esptag_sad, &sa_index);
	if (!sa || ESPTAG_SA_EMPTY(sa)) {
		o->cnt = ESPTAG_CNT_RX_DROP_UNKNOWN_SA;
		return;
	}
	o->sa_known = true;
	if (sa->dir != ESPTAG_DIR_IN) {
		o->cnt = ESPTAG_CNT_RX_DROP_DIR;
		return;
	}
	if (!(sa->flags & ESPTAG_SAF_ALIVE) ||
	    (sa->expires_ns && bpf_ktime_get_ns() >= sa->expires_ns)) {
		o->cnt = ESPTAG_CNT_RX_DROP_DEAD;
		return;
	}
	if (!rx_domain_ok(sa, l2, ctx->ingress_ifindex)) {
		o->cnt = ESPTAG_CNT_RX_DROP_DOMAIN;
		return;
	}

	/* The packet: outer IP of the SA's family carrying ESP. */
	o->cnt = ESPTAG_CNT_RX_DROP_MALFORMED;
	l2x = l2->vlan.n * 4;		/* VLAN tag bytes */
	if (l2x > 4 * ESPTAG_MAX_VLANS)
		return;
	l2len = ETH_HLEN + l2x;		/* without the tag */
	if (l2->proto == ETH_P_IP && sa->family == 4) {
		if (parse_iphdr(c, end, &iph) != ESPTAG_IPPROTO_ESP ||
		    ipv4_is_fragment(iph))
			return;
		if (iph->daddr != *(const __be32 *)sa->daddr)
			return;
		iphl = iph->ihl * 4;
		ip_total = bpf_ntohs(iph->tot_len);
	} else if (l2->proto == ETH_P_IPV6 && sa->family == 6) {
		struct ipv6_info ip6;

		if (parse_ipv6hdr(c, end, &ip6) != ESPTAG_IPPROTO_ESP)
			return;
		if (!addr6_eq(&ip6.ip6->daddr, sa->daddr))
			return;
		iphl = ip6.hdrlen;
		ip_total = sizeof(struct ipv6hdr) + bpf_ntohs(ip6.ip6->payload_len);
		ip6_nh = ip6.nexthdr;	/* the byte naming ESP */
	} else {
		return;
	}
	if (parse_esp(c, end, &esp) < 0)
		return;

	/* The tag must describe this very packet. */
	/* The packet ends where the IP lengths say (docs/protocol.md 2.6):
	 * bytes after it (Ethernet padding) are cut off with the trailer. */
	frame_len = bpf_xdp_get_buff_len(ctx) - ESPTAG_META_LEN;
	if (l2len + ip_total > frame_len)
		return;
	extra = frame_len - (l2len + ip_total);
	frame_len = l2len + ip_total;
	esp_off16 = bpf_ntohs(m->esp_off);
	payload_off16 = bpf_ntohs(m->payload_off);
	trailer16 = bpf_ntohs(m->trailer_len);
	esp_off = esp_off16;
	trailer = trailer16;
	icv = sa->icv_len ? sa->icv_len : ESPTAG_ICV_LEN;
	if (esp_off != l2len + iphl ||
	    payload_off16 != esp_off + sizeof(struct esptag_esp_hdr) ||
	    iphl > RX_IP_HDR_MAX ||
	    trailer < 2 + icv || trailer > frame_len ||
	    payload_off16 > frame_len - trailer)
		return;
	plen = frame_len - trailer - payload_off16;	/* inner payload */
	if (esp->spi != sa->spi || esp->seq != m->seq_lo)
		return;
	seq = (__u64)bpf_ntohl(m->seq_hi) << 32 | bpf_ntohl(m->seq_lo);
	/* The agent reports an inferred seq_hi (F_ESN) exactly for ESN SAs. */
	if (!(sa->flags & ESPTAG_SAF_ESN) != !(m->flags & ESPTAG_META_F_ESN))
		return;
	next_hdr = m->next_hdr;
	/* Decrypted trailer: pad length, next header (RFC 4303 2.4-2.6). */
	tail_off = frame_len - icv - 2 + ESPTAG_META_LEN;
	tail = data + (tail_off & 0x3fff);	/* checked just below */
	if (tail_off < 0x4000 && (void *)(tail + 2) <= end) {
		tr[0] = tail[0];
		tr[1] = tail[1];
	} else if (tail_off > 0xffff || bpf_xdp_load_bytes(ctx, tail_off, tr, 2)) {
		return;		/* not in the first buffer: a fragment's */
	}
	if (tr[0] + 2 + icv != trailer || tr[1] != next_hdr)
		return;
	/* RFC 4303 2.6: a dummy packet (traffic flow confidentiality) is
	 * authenticated and advances the window, then is discarded. */
	dummy = next_hdr == IPPROTO_NONE;
	if ((sa->flags & ESPTAG_SAF_TUNNEL) && !dummy) {
		/* payload_off16 was checked to be l2len + iphl + 16 (< 512):
		 * the mask only tells the verifier. */
		void *inner = data + ESPTAG_META_LEN + (payload_off16 & 0x1ff);

		/* The inner packet fills the payload exactly. */
		if (next_hdr == 4) {
			struct iphdr *ih = inner;

			if ((void *)(ih + 1) > end || ih->version != 4 ||
			    ih->ihl < 5 || bpf_ntohs(ih->tot_len) != plen)
				return;
		} else if (next_hdr == 41) {
			struct ipv6hdr *ih = inner;

			if ((void *)(ih + 1) > end || ih->version != 6 ||
			    sizeof(*ih) + bpf_ntohs(ih->payload_len) != plen)
				return;
		} else {
			return;
		}
	}

	/* Anti-replay, only now that the agent authenticated the packet and
	 * every host-side check passed. */
	rv = rx_replay(sa_index, seq, sa->replay_window);
	if (rv == REPLAY_DUP) {
		o->cnt = ESPTAG_CNT_RX_DROP_REPLAY;
		return;
	}
	if (rv != REPLAY_FRESH) {
		o->cnt = ESPTAG_CNT_RX_DROP_OLD;
		return;
	}
	if (dummy) {
		o->cnt = ESPTAG_CNT_RX_OK;
		o->drop = true;
		return;
	}

	/* Rewrite. Packet pointers from the parse are still valid: no helper
	 * that moves packet data has run yet. */
	if (sa->flags & ESPTAG_SAF_TUNNEL) {
		__be16 *etype = data + 42 + l2x;

		if ((void *)(etype + 1) > end)
			return;
		*etype = bpf_htons(next_hdr == 4 ? ETH_P_IP : ETH_P_IPV6);
		keep = l2len - 2 * ETH_ALEN;
		gap = iphl + sizeof(struct esptag_esp_hdr);
	} else {
		__u32 shrink = sizeof(struct esptag_esp_hdr) + trailer;

		if (iph) {
			__be16 old_len = iph->tot_len, new_len, old_w, new_w;

			new_len = bpf_htons(ip_total - shrink);
			old_w = *(__be16 *)&iph->ttl;
			iph->protocol = next_hdr;
			new_w = *(__be16 *)&iph->ttl;
			iph->tot_len = new_len;
			csum_replace2(&iph->check, old_len, new_len);
			csum_replace2(&iph->check, old_w, new_w);
		} else if (ip6_nh) {
			struct ipv6hdr *ip6 = data + 44 + l2x;

			if ((void *)(ip6 + 1) > end)
				return;
			ip6->payload_len = bpf_htons(ip_total - sizeof(*ip6) - shrink);
			*ip6_nh = next_hdr;
		} else {
			return;
		}
		keep = l2len - 2 * ETH_ALEN + iphl;
		gap = sizeof(struct esptag_esp_hdr);
	}
	if (bpf_xdp_adjust_tail(ctx, -(int)(trailer + extra)))
		return;
	if (rx_strip_head(ctx, keep, gap))
		return;
	rx_set_meta(ctx, sa_index);
	o->bytes = frame_len - gap - trailer;
	o->cnt = ESPTAG_CNT_RX_OK;
}

static __always_inline int rx_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct rx_out o = { .cnt = ESPTAG_CNT_RX_DROP_MALFORMED };
	struct cfg_view cfg;
	struct l2_info l2;
	struct cursor c;
	int proto;

	cfg_load(&cfg);
	cursor_init(&c, data);
	proto = parse_l2(&c, end, cfg.eth_p_meta, &l2);
	if (proto < 0)
		goto out;
	if (l2.meta) {
		rx_tagged(ctx, &c, &l2, &o);
	} else if (proto == bpf_ntohs(cfg.eth_p_cfg)) {
		/* Agent replies; anything else with our EtherType is forged. */
		if (!l2.vlan.n && mac_eq(l2.eth->h_source, agent_mac))
			o.cnt = ESPTAG_CNT_RX_CONFIG;
	} else if (proto == ETH_P_IP || proto == ETH_P_IPV6) {
		o.cnt = rx_plain_ip(&c, end, proto);
	} else {
		o.cnt = ESPTAG_CNT_RX_PLAIN;
	}
out:
	stat_inc(o.cnt);
	if (o.sa_known) {
		if (o.cnt == ESPTAG_CNT_RX_OK)
			sa_stat_add(o.sa_index, 1, o.bytes, 0);
		else
			sa_stat_add(o.sa_index, 0, 0, 1);
	}
	if (o.drop)
		return XDP_DROP;
	switch (o.cnt) {
	case ESPTAG_CNT_RX_OK:
	case ESPTAG_CNT_RX_PLAIN:
	case ESPTAG_CNT_RX_CONFIG:
		return XDP_PASS;
	default:
		return XDP_DROP;
	}
}

SEC("xdp")
int esptag_rx(struct xdp_md *ctx)
{
	return rx_main(ctx);
}

SEC("xdp.frags")
int esptag_rx_frags(struct xdp_md *ctx)
{
	return rx_main(ctx);
}

/*
 * tc ingress companion. skb->mark = (mark & ~mask) | ((trusted | sa << shift)
 * & mask) for frames esptag_rx decrypted and accepted; frames without the
 * record get the esptag bits cleared (mark & ~mask), so nothing arriving on
 * this port can carry a trusted mark it did not earn. esptag_cfg gives mask,
 * trusted and shift; mask 0 selects the defaults: all 32 bits, trusted
 * 0x80000000, shift 0 (mark = 0x80000000 | sa_index). Returns
 * TC_ACT_UNSPEC so later filters (e.g. fw classifiers) still run. An SA
 * index the settings cannot hold without aliasing another SA's mark is
 * dropped (rx_drop_mark, bpf/lib/mark.h).
 */
SEC("tc")
int esptag_rx_mark(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *meta = (void *)(long)skb->data_meta;
	struct esptag_xdp_meta *m;
	struct cfg_view cfg;

	cfg_load(&cfg);
	/* esptag_rx's record is the whole XDP metadata area: an XDP program
	 * chained after it must not prepend its own. */
	m = meta;
	if ((void *)(m + 1) <= data && m->magic == ESPTAG_XDP_META_MAGIC)
		return rx_mark_set(skb, &cfg, m->sa_index);
	skb->mark &= ~cfg.mark_mask;
	return TC_ACT_UNSPEC;
}
