// SPDX-License-Identifier: GPL-2.0-only
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
 *    protect -> drop (must have arrived encrypted) unless it is UDP for a
 *    registered bypass socket (bpf/lib/bypass.h), discard -> drop,
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
#include <xdp/xdp_helpers.h>
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/cfg.h"
#include "lib/spd.h"
#include "lib/replay.h"
#include "lib/mark.h"
#include "lib/rx_strip.h"
#include "lib/bypass.h"
#include "lib/life.h"

#define RX_IP_HDR_MAX	128	/* IPv4 with options / IPv6 with extensions */
#define RX_L3_OFF	(RX_ETYPE_OFF + 2)	/* IP header of a tagged frame (+ VLAN tags) */
#define RX_ESP_LEN	sizeof(struct esptag_esp_hdr)	/* ESP header + IV, 16 */
#define RX_ESP_TRAILER	2	/* pad length, next header (RFC 4303 2.4-2.6) */
#define RX_PAYLOAD_MASK	0x1ff	/* payload_off < 512 (checked): tells the verifier */
#define RX_DIRECT_MAX	0x4000	/* trailer offsets read directly below this */
#define RX_TAIL_MAX	0xffff	/* bpf_xdp_load_bytes offsets */

/* What the stages of one frame learn and hand on. */
struct rx_ctx {
	struct l2_info l2;
	struct esptag_sa *sa;
	struct esptag_esp_hdr *esp;
	struct iphdr *iph;	/* transport IPv4: the header to fix */
	__u8 *ip6_nh;		/* IPv6: the byte naming ESP */
	__u64 seq;		/* 64-bit sequence number of the tag */
	__u32 segs;		/* ESP packets in the frame: seq .. seq + segs - 1 */
	__u32 sa_index;
	__u32 l2x;		/* VLAN tag bytes */
	__u32 l2len;		/* MACs, VLAN tags, EtherType (without the tag) */
	__u32 iphl;		/* outer IP header with options / extension headers */
	__u32 ip_total;		/* outer IP packet length */
	__u32 frame_len;	/* l2len + ip_total: the frame without tag and padding */
	__u32 extra;		/* bytes after the IP packet (Ethernet padding) */
	__u32 payload_off;	/* from the tag, checked */
	__u32 trailer;		/* ESP trailer + ICV, from the tag, checked */
	__u32 plen;		/* inner payload length */
	__u32 bytes;		/* accepted: frame length after the strip */
	__u32 cfg_flags;	/* esptag_cfg.flags */
	__u64 clock_ns;		/* esptag_cfg's clock (lib/cfg.h) */
	__u32 life_bytes;	/* charged to the SA's lifetime: the IP packet after ESP */
	__u8 next_hdr;
	bool sa_known;		/* per-SA counters apply */
	bool dummy;		/* ESP dummy packet (next header 59) */
	bool charged;		/* life_charge() took this frame */
};

static const __u8 agent_mac[ETH_ALEN] = ESPTAG_AGENT_MAC_INIT;

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

/*
 * Plaintext UDP a protect policy covers: accepted only when the socket it
 * will be delivered to is a registered bypass socket (an IKE daemon's).
 * Not for fragments or IPv6 with extension headers (no UDP header here).
 */
static __always_inline bool rx_bypass_socket(struct xdp_md *ctx, struct cursor *c, void *end,
					     __u8 family, const __u8 *saddr, const __u8 *daddr,
					     __u8 l4proto)
{
	struct bpf_sock_tuple t = {};
	struct udphdr *udp;

	if (l4proto != IPPROTO_UDP || parse_udphdr(c, end, &udp) < 0)
		return false;
	if (family == 4) {
		__builtin_memcpy(&t.ipv4.saddr, saddr, 4);
		__builtin_memcpy(&t.ipv4.daddr, daddr, 4);
		t.ipv4.sport = udp->source;
		t.ipv4.dport = udp->dest;
		return bypass_udp_socket(ctx, &t, sizeof(t.ipv4));
	}
	__builtin_memcpy(t.ipv6.saddr, saddr, 16);
	__builtin_memcpy(t.ipv6.daddr, daddr, 16);
	t.ipv6.sport = udp->source;
	t.ipv6.dport = udp->dest;
	return bypass_udp_socket(ctx, &t, sizeof(t.ipv6));
}

/* Untagged IP: inbound policy by (our address = dst, peer = src). */
static __always_inline __u32 rx_plain_ip(struct xdp_md *ctx, struct cursor *c, void *end,
					 int proto, const struct cfg_view *cfg)
{
	__u8 daddr[16] = {}, saddr[16] = {};
	struct esptag_policy *pol;
	__u8 family, l4proto = 0;

	if (proto == ETH_P_IP) {
		struct iphdr *iph;

		if (parse_iphdr(c, end, &iph) < 0)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		__builtin_memcpy(daddr, &iph->daddr, 4);
		__builtin_memcpy(saddr, &iph->saddr, 4);
		family = 4;
		if (!ipv4_is_fragment(iph))
			l4proto = iph->protocol;
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
		l4proto = ip6->nexthdr;
		c->pos = ip6 + 1;
	}
	pol = spd_lookup(ESPTAG_DIR_IN, family, daddr, saddr, cfg->flags & ESPTAG_CFGF_SPD_HOST);
	if (pol)
		spd_use(pol, cfg->clock_ns);
	if (pol && pol->action == ESPTAG_ACT_PROTECT)
		return (cfg->flags & ESPTAG_CFGF_BYPASS) &&
		       rx_bypass_socket(ctx, c, end, family, saddr, daddr, l4proto) ?
		       ESPTAG_CNT_RX_BYPASS_SOCKET : ESPTAG_CNT_RX_DROP_POLICY;
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
		    ((l2->vlan.tag[i].tci ^ sa->vlan[i].tci) & bpf_htons(VLAN_VID_MASK)))
			return false;
	return true;
}

/*
 * Anti-replay with the SA's window held (ESPTAG_REPLAY_BUSY in top,
 * include/esptag/maps.h): taken with compare-and-swap, once inline and,
 * when another CPU holds it, up to RX_REPLAY_TRIES more times in bpf_loop
 * (a holder runs a few dozen instructions and no helper, and XDP does not
 * nest on a CPU); still held: the packet is dropped (rx_drop_replay_busy),
 * a window is never checked without being held.
 * The atomic exchange that stores the new top releases it (a full barrier:
 * the bitmap's stores are visible first). The slot is an array element:
 * all zero (a fresh window) until the first packet; esptagd zeroes it on
 * install. It lives in the SA's esptag_sad value, next to the SA.
 */
#define RX_REPLAY_TRIES	(1 << 16)
#define RX_REPLAY_BUSY	(-2)

struct replay_hold {
	struct esptag_replay *r;
	__u64 top;		/* top when taken, without the bit */
	bool held;
};

/* Take r if nobody holds it: true with h->top set. */
static __always_inline bool replay_take(struct replay_hold *h)
{
	__u64 top = *(volatile __u64 *)&h->r->top;

	if (top & ESPTAG_REPLAY_BUSY ||
	    __sync_val_compare_and_swap(&h->r->top, top, top | ESPTAG_REPLAY_BUSY) != top)
		return false;
	h->top = top;
	h->held = true;
	return true;
}

static long replay_take_cb(__u64 i, void *ctx)
{
	return replay_take(ctx);	/* 1 stops the loop */
}

/* r: the window in the SA's esptag_sad value (&sa->replay). */
static __always_inline int rx_replay(struct esptag_replay *r, __u64 seq, __u32 segs, __u32 window)
{
	struct replay_hold h = { .r = r };
	__u64 new_top;
	int v;

	if (!replay_take(&h))
		bpf_loop(RX_REPLAY_TRIES, replay_take_cb, &h, 0);
	if (!h.held)
		return RX_REPLAY_BUSY;
	if (segs > 1)
		v = replay_update_range(h.r, h.top, seq, segs, window, &new_top);
	else
		v = replay_update(h.r, h.top, seq, window, &new_top);
	__sync_lock_test_and_set(&h.r->top, new_top);
	return v;
}

/* Tag validation (docs/protocol.md 2.9, the RX rules). */
static __always_inline __u32 rx_tag_check(const struct esptag_meta *m)
{
	if (m->kind != ESPTAG_META_RX || m->reserved || m->reserved2 ||
	    bpf_ntohs(m->mss) > ESPTAG_RX_MAX_SEGS ||
	    (m->flags & (ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO)) ||
	    m->result > ESPTAG_RES_MAX ||
	    (m->seq_hi && !(m->flags & ESPTAG_META_F_ESN)) ||
	    bpf_ntohs(m->inner_proto) < ETH_P_802_3_MIN)
		return ESPTAG_CNT_RX_DROP_TAG;
	return STAGE_NEXT;
}

/* The agent's verdict: anything but OK is dropped, counted by reason. */
static __always_inline __u32 rx_agent_result(const struct esptag_meta *m, struct rx_ctx *x)
{
	struct esptag_sa *sa;

	if (m->result == ESPTAG_RES_OK)
		return STAGE_NEXT;
	sa = bpf_map_lookup_elem(&esptag_sad, &x->sa_index);
	x->sa_known = sa && !ESPTAG_SA_EMPTY(sa);
	return result_counter(m->result);
}

/* The SA and its domain (an empty slot is an unknown index). */
static __always_inline __u32 rx_sa_check(struct xdp_md *ctx, struct rx_ctx *x)
{
	struct esptag_sa *sa = bpf_map_lookup_elem(&esptag_sad, &x->sa_index);

	if (!sa || ESPTAG_SA_EMPTY(sa))
		return ESPTAG_CNT_RX_DROP_UNKNOWN_SA;
	x->sa = sa;
	x->sa_known = true;
	if (sa->dir != ESPTAG_DIR_IN)
		return ESPTAG_CNT_RX_DROP_DIR;
	if (!(sa->flags & ESPTAG_SAF_ALIVE) ||
	    (sa->expires_ns && bpf_ktime_get_ns() >= sa->expires_ns))
		return ESPTAG_CNT_RX_DROP_DEAD;
	if (!rx_domain_ok(sa, &x->l2, ctx->ingress_ifindex))
		return ESPTAG_CNT_RX_DROP_DOMAIN;
	return STAGE_NEXT;
}

/* The packet: outer IP of the SA's family, to the SA's address, carrying ESP. */
static __always_inline __u32 rx_outer(struct cursor *c, void *end, struct rx_ctx *x)
{
	const struct esptag_sa *sa = x->sa;

	x->l2x = x->l2.vlan.n * 4;
	if (x->l2x > 4 * ESPTAG_MAX_VLANS)
		return ESPTAG_CNT_RX_DROP_MALFORMED;
	x->l2len = ETH_HLEN + x->l2x;		/* without the tag */
	if (x->l2.proto == ETH_P_IP && sa->family == 4) {
		struct iphdr *iph;

		if (parse_iphdr(c, end, &iph) != ESPTAG_IPPROTO_ESP ||
		    ipv4_is_fragment(iph))
			return ESPTAG_CNT_RX_DROP_OUTER;
		if (iph->daddr != *(const __be32 *)sa->daddr)
			return ESPTAG_CNT_RX_DROP_OUTER;
		x->iph = iph;
		x->iphl = iph->ihl * 4;
		x->ip_total = bpf_ntohs(iph->tot_len);
	} else if (x->l2.proto == ETH_P_IPV6 && sa->family == 6) {
		struct ipv6_info ip6;

		if (parse_ipv6hdr(c, end, &ip6) != ESPTAG_IPPROTO_ESP)
			return ESPTAG_CNT_RX_DROP_OUTER;
		if (!addr6_eq(&ip6.ip6->daddr, sa->daddr))
			return ESPTAG_CNT_RX_DROP_OUTER;
		x->iphl = ip6.hdrlen;
		x->ip_total = sizeof(struct ipv6hdr) + bpf_ntohs(ip6.ip6->payload_len);
		x->ip6_nh = ip6.nexthdr;
	} else {
		return ESPTAG_CNT_RX_DROP_OUTER;
	}
	switch (parse_esp(c, end, &x->esp)) {
	case 0:
		return STAGE_NEXT;
	case PE_MALFORMED:
		return ESPTAG_CNT_RX_DROP_SPI_SEQ;	/* SPI 0 */
	default:
		return ESPTAG_CNT_RX_DROP_OUTER;	/* ESP header cut */
	}
}

/* The tag must describe this very packet: offsets, lengths, SPI, sequence. */
static __always_inline __u32 rx_tag_matches(struct xdp_md *ctx, const struct esptag_meta *m,
					    struct rx_ctx *x)
{
	const struct esptag_sa *sa = x->sa;
	__u32 frame_len, esp_off, icv;
	__u16 payload_off16;

	/* The packet ends where the IP lengths say (docs/protocol.md 2.6):
	 * bytes after it (Ethernet padding) are cut off with the trailer. */
	frame_len = bpf_xdp_get_buff_len(ctx) - ESPTAG_META_LEN;
	if (x->l2len + x->ip_total > frame_len)
		return ESPTAG_CNT_RX_DROP_OUTER;	/* IP length beyond the frame */
	x->extra = frame_len - (x->l2len + x->ip_total);
	frame_len = x->l2len + x->ip_total;
	x->frame_len = frame_len;
	esp_off = bpf_ntohs(m->esp_off);
	payload_off16 = bpf_ntohs(m->payload_off);
	x->trailer = bpf_ntohs(m->trailer_len);
	icv = sa->icv_len ? sa->icv_len : ESPTAG_ICV_LEN;
	if (esp_off != x->l2len + x->iphl ||
	    payload_off16 != esp_off + RX_ESP_LEN ||
	    x->iphl > RX_IP_HDR_MAX ||
	    x->trailer < RX_ESP_TRAILER + icv || x->trailer > frame_len ||
	    payload_off16 > frame_len - x->trailer)
		return ESPTAG_CNT_RX_DROP_TAG;
	x->payload_off = payload_off16;
	x->plen = frame_len - x->trailer - payload_off16;	/* inner payload */
	if (x->esp->spi != sa->spi || x->esp->seq != m->seq_lo)
		return ESPTAG_CNT_RX_DROP_SPI_SEQ;
	x->seq = (__u64)bpf_ntohl(m->seq_hi) << 32 | bpf_ntohl(m->seq_lo);
	/* The agent reports an inferred seq_hi (F_ESN) exactly for ESN SAs. */
	if (!(sa->flags & ESPTAG_SAF_ESN) != !(m->flags & ESPTAG_META_F_ESN))
		return ESPTAG_CNT_RX_DROP_TAG;
	x->next_hdr = m->next_hdr;
	return STAGE_NEXT;
}

/* Decrypted trailer: pad length, next header (RFC 4303 2.4-2.6). */
static __always_inline __u32 rx_trailer(struct xdp_md *ctx, struct rx_ctx *x)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 icv = x->sa->icv_len ? x->sa->icv_len : ESPTAG_ICV_LEN;
	__u32 tail_off = x->frame_len - icv - RX_ESP_TRAILER + ESPTAG_META_LEN;
	__u8 tr[RX_ESP_TRAILER], *tail;

	tail = data + (tail_off & (RX_DIRECT_MAX - 1));	/* checked just below */
	if (tail_off < RX_DIRECT_MAX && (void *)(tail + RX_ESP_TRAILER) <= end) {
		tr[0] = tail[0];
		tr[1] = tail[1];
	} else if (tail_off > RX_TAIL_MAX ||
		   bpf_xdp_load_bytes(ctx, tail_off, tr, RX_ESP_TRAILER)) {
		return ESPTAG_CNT_RX_DROP_TRAILER;	/* not in the first buffer: a fragment's */
	}
	if (tr[0] + RX_ESP_TRAILER + icv != x->trailer || tr[1] != x->next_hdr)
		return ESPTAG_CNT_RX_DROP_TRAILER;
	/* RFC 4303 2.6: a dummy packet (traffic flow confidentiality) is
	 * authenticated and advances the window, then is discarded. */
	x->dummy = x->next_hdr == IPPROTO_NONE;
	return STAGE_NEXT;
}

/* Tunnel mode: the inner IPv4 / IPv6 packet fills the payload exactly. */
static __always_inline __u32 rx_inner(struct xdp_md *ctx, struct rx_ctx *x)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	/* payload_off was checked to be l2len + iphl + 16 (< 512): the mask
	 * only tells the verifier. */
	void *inner = data + ESPTAG_META_LEN + (x->payload_off & RX_PAYLOAD_MASK);

	if (!(x->sa->flags & ESPTAG_SAF_TUNNEL) || x->dummy)
		return STAGE_NEXT;
	if (x->next_hdr == IPPROTO_IPIP) {
		struct iphdr *ih = inner;

		if ((void *)(ih + 1) > end || ih->version != 4 ||
		    ih->ihl < 5 || bpf_ntohs(ih->tot_len) != x->plen)
			return ESPTAG_CNT_RX_DROP_INNER;
	} else if (x->next_hdr == IPPROTO_IPV6) {
		struct ipv6hdr *ih = inner;

		if ((void *)(ih + 1) > end || ih->version != 6 ||
		    sizeof(*ih) + bpf_ntohs(ih->payload_len) != x->plen)
			return ESPTAG_CNT_RX_DROP_INNER;
	} else {
		return ESPTAG_CNT_RX_DROP_INNER;
	}
	return STAGE_NEXT;
}

/* Does the decrypting SA fit the inbound policy's template? */
static __always_inline bool rx_tmpl_fits(const struct esptag_pol_tmpl *t,
					 const struct esptag_sa *sa)
{
	if ((t->flags & ESPTAG_TMPLF_REQID) && t->reqid != sa->reqid)
		return false;
	if (t->mode && t->mode != sa->mode)
		return false;
	if ((t->flags & (ESPTAG_TMPLF_SRC | ESPTAG_TMPLF_DST)) && t->family != sa->family)
		return false;
	if ((t->flags & ESPTAG_TMPLF_SRC) && !addr6_eq(t->saddr, sa->saddr))
		return false;
	if ((t->flags & ESPTAG_TMPLF_DST) && !addr6_eq(t->daddr, sa->daddr))
		return false;
	return true;
}

/*
 * XFRM's inbound template check: the decrypted packet's inbound policy
 * (its own addresses: the IP header of transport mode, the inner header of
 * tunnel mode), if it is a protect policy with a template, must name the SA
 * that decrypted it (reqid, mode, addresses). Only when some inbound policy
 * has a template (ESPTAG_CFGF_IN_TMPL): otherwise decrypted traffic costs
 * no policy lookup.
 */
static __always_inline __u32 rx_policy_tmpl(struct xdp_md *ctx, struct rx_ctx *x)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u8 saddr[16] = {}, daddr[16] = {}, family;
	const struct esptag_policy *pol;
	const struct esptag_pol_tmpl *t;
	__u32 id;

	if (!(x->cfg_flags & ESPTAG_CFGF_IN_TMPL) || x->dummy)
		return STAGE_NEXT;
	if (x->sa->flags & ESPTAG_SAF_TUNNEL) {
		void *inner = data + ESPTAG_META_LEN + (x->payload_off & RX_PAYLOAD_MASK);

		if (x->next_hdr == IPPROTO_IPIP) {
			struct iphdr *ih = inner;

			if ((void *)(ih + 1) > end)
				return ESPTAG_CNT_RX_DROP_INNER;
			__builtin_memcpy(saddr, &ih->saddr, 4);
			__builtin_memcpy(daddr, &ih->daddr, 4);
			family = 4;
		} else {
			struct ipv6hdr *ih = inner;

			if ((void *)(ih + 1) > end)
				return ESPTAG_CNT_RX_DROP_INNER;
			__builtin_memcpy(saddr, &ih->saddr, 16);
			__builtin_memcpy(daddr, &ih->daddr, 16);
			family = 6;
		}
	} else if (x->iph) {
		__builtin_memcpy(saddr, &x->iph->saddr, 4);
		__builtin_memcpy(daddr, &x->iph->daddr, 4);
		family = 4;
	} else {
		__u64 l2x = x->l2x;
		struct ipv6hdr *ip6;

		bound_mask(l2x, 0xf);
		ip6 = data + RX_L3_OFF + l2x;
		if ((void *)(ip6 + 1) > end)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		__builtin_memcpy(saddr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		family = 6;
	}
	pol = spd_lookup(ESPTAG_DIR_IN, family, daddr, saddr,
			 x->cfg_flags & ESPTAG_CFGF_SPD_HOST);
	if (!pol || pol->action != ESPTAG_ACT_PROTECT || !(pol->flags & ESPTAG_POLF_TMPL))
		return STAGE_NEXT;
	id = pol->id;
	t = bpf_map_lookup_elem(&esptag_pol_tmpl, &id);
	if (!t || !rx_tmpl_fits(t, x->sa))
		return ESPTAG_CNT_RX_DROP_TMPL;	/* no template: fail closed */
	return STAGE_NEXT;
}

/* Anti-replay, only now that the agent authenticated the packet and every
 * host-side check passed. A dummy packet ends here. */
static __always_inline __u32 rx_replay_check(struct rx_ctx *x)
{
	int rv = rx_replay(&x->sa->replay, x->seq, x->segs, x->sa->replay_window);

	if (rv == REPLAY_DUP)
		return ESPTAG_CNT_RX_DROP_REPLAY;
	if (rv == RX_REPLAY_BUSY)
		return ESPTAG_CNT_RX_DROP_REPLAY_BUSY;
	if (rv != REPLAY_FRESH)
		return ESPTAG_CNT_RX_DROP_OLD;
	if (x->dummy)
		return ESPTAG_CNT_RX_DUMMY;
	return STAGE_NEXT;
}

/*
 * The SA's hard byte and packet limits (lib/life.h), once the packet is
 * authentic and fresh: the IP packet as it is delivered (tunnel: the inner
 * packet; transport: IP header + payload).
 */
static __always_inline __u32 rx_life(struct rx_ctx *x)
{
	x->life_bytes = x->plen + (x->sa->flags & ESPTAG_SAF_TUNNEL ? 0 : x->iphl);
	if (!life_charge(&x->sa->life, x->segs, x->life_bytes, x->clock_ns))
		return ESPTAG_CNT_RX_DROP_LIMIT;
	x->charged = true;
	return STAGE_NEXT;
}

/*
 * Rewrite the headers that stay and work out what goes: tunnel mode keeps
 * the L2 header (its EtherType now the inner packet's), transport mode the
 * IP header too (protocol / next header and lengths restored). Packet
 * pointers from the parse are still valid: no helper that moves packet
 * data has run yet.
 */
static __always_inline __u32 rx_rewrite(struct xdp_md *ctx, struct rx_ctx *x,
					__u32 *keep, __u32 *gap)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 shrink = RX_ESP_LEN + x->trailer;
	__u64 l2x = x->l2x;

	bound_mask(l2x, 0xf);	/* <= 4 * ESPTAG_MAX_VLANS, checked by rx_outer */
	if (x->sa->flags & ESPTAG_SAF_TUNNEL) {
		__be16 *etype = data + RX_ETYPE_OFF + l2x;

		if ((void *)(etype + 1) > end)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		*etype = bpf_htons(x->next_hdr == IPPROTO_IPIP ? ETH_P_IP : ETH_P_IPV6);
		*keep = x->l2len - RX_MACS_LEN;
		*gap = x->iphl + RX_ESP_LEN;
		return STAGE_NEXT;
	}
	if (x->iph) {
		struct iphdr *iph = x->iph;
		__be16 old_len = iph->tot_len, new_len, old_w, new_w;

		new_len = bpf_htons(x->ip_total - shrink);
		old_w = *(__be16 *)&iph->ttl;
		iph->protocol = x->next_hdr;
		new_w = *(__be16 *)&iph->ttl;
		iph->tot_len = new_len;
		csum_replace2(&iph->check, old_len, new_len);
		csum_replace2(&iph->check, old_w, new_w);
	} else if (x->ip6_nh) {
		struct ipv6hdr *ip6 = data + RX_L3_OFF + l2x;

		if ((void *)(ip6 + 1) > end)
			return ESPTAG_CNT_RX_DROP_MALFORMED;
		ip6->payload_len = bpf_htons(x->ip_total - sizeof(*ip6) - shrink);
		*x->ip6_nh = x->next_hdr;
	} else {
		return ESPTAG_CNT_RX_DROP_MALFORMED;
	}
	*keep = x->l2len - RX_MACS_LEN + x->iphl;
	*gap = RX_ESP_LEN;
	return STAGE_NEXT;
}

/* Cut trailer and padding, close the gaps, hand "trusted, SA n" on. */
static __always_inline __u32 rx_strip(struct xdp_md *ctx, struct rx_ctx *x)
{
	__u32 keep = 0, gap = 0, cnt;

	cnt = rx_rewrite(ctx, x, &keep, &gap);
	if (cnt != STAGE_NEXT)
		return cnt;
	if (bpf_xdp_adjust_tail(ctx, -(int)(x->trailer + x->extra)))
		return ESPTAG_CNT_RX_DROP_MALFORMED;
	if (rx_strip_head(ctx, keep, gap))
		return ESPTAG_CNT_RX_DROP_MALFORMED;
	rx_set_meta(ctx, x->sa_index);
	x->bytes = x->frame_len - gap - x->trailer;
	return ESPTAG_CNT_RX_OK;
}

/* Tagged frame: one stage after the other until one ends the frame's path. */
static __always_inline __u32 rx_tagged(struct xdp_md *ctx, struct cursor *c, struct rx_ctx *x)
{
	void *end = (void *)(long)ctx->data_end;
	const struct esptag_meta *m = x->l2.meta;
	__u32 cnt;

	if ((cnt = rx_tag_check(m)) != STAGE_NEXT)
		return cnt;
	x->sa_index = bpf_ntohl(m->sa_index);
	x->segs = bpf_ntohs(m->mss) > 1 ? bpf_ntohs(m->mss) : 1;
	if ((cnt = rx_agent_result(m, x)) != STAGE_NEXT ||
	    (cnt = rx_sa_check(ctx, x)) != STAGE_NEXT ||
	    (cnt = rx_outer(c, end, x)) != STAGE_NEXT ||
	    (cnt = rx_tag_matches(ctx, m, x)) != STAGE_NEXT ||
	    (cnt = rx_trailer(ctx, x)) != STAGE_NEXT ||
	    (cnt = rx_inner(ctx, x)) != STAGE_NEXT ||
	    (cnt = rx_policy_tmpl(ctx, x)) != STAGE_NEXT ||
	    (cnt = rx_replay_check(x)) != STAGE_NEXT ||
	    (cnt = rx_life(x)) != STAGE_NEXT)
		return cnt;
	return rx_strip(ctx, x);
}

/* Untagged config EtherType: agent replies only; anything else is forged. */
static __always_inline __u32 rx_config(const struct rx_ctx *x)
{
	if (!x->l2.vlan.n && mac_eq(x->l2.eth->h_source, agent_mac))
		return ESPTAG_CNT_RX_CONFIG;
	return ESPTAG_CNT_RX_DROP_MALFORMED;
}

static __always_inline int rx_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct rx_ctx x = {};
	struct cfg_view cfg;
	struct cursor c;
	__u32 cnt;
	int proto;

	cfg_load(&cfg);
	x.cfg_flags = cfg.flags;
	x.clock_ns = cfg.clock_ns;
	cursor_init(&c, data);
	proto = parse_l2(&c, end, cfg.eth_p_meta, &x.l2);
	if (proto == PE_MALFORMED && x.l2.eth && x.l2.eth->h_proto == cfg.eth_p_meta)
		cnt = ESPTAG_CNT_RX_DROP_TAG;	/* version, kind, flags; nested tags */
	else if (proto < 0)
		cnt = ESPTAG_CNT_RX_DROP_MALFORMED;
	else if (x.l2.meta)
		cnt = rx_tagged(ctx, &c, &x);
	else if (proto == bpf_ntohs(cfg.eth_p_cfg))
		cnt = rx_config(&x);
	else if (proto == ETH_P_IP || proto == ETH_P_IPV6)
		cnt = rx_plain_ip(ctx, &c, end, proto, &cfg);
	else
		cnt = ESPTAG_CNT_RX_PLAIN;

	if (x.charged && cnt != ESPTAG_CNT_RX_OK && x.sa)	/* x.sa: for the verifier */
		life_uncharge(&x.sa->life, x.segs, x.life_bytes);
	stat_inc(cnt);
	if (x.sa_known) {
		/* A dummy packet is one of the SA's packets (0 bytes delivered). */
		if (cnt == ESPTAG_CNT_RX_OK || cnt == ESPTAG_CNT_RX_DUMMY)
			sa_stat_add(x.sa_index, x.segs ? x.segs : 1, x.bytes, 0);
		else
			sa_stat_add(x.sa_index, 0, 0, 1);
	}
	switch (cnt) {
	case ESPTAG_CNT_RX_OK:
	case ESPTAG_CNT_RX_PLAIN:
	case ESPTAG_CNT_RX_CONFIG:
	case ESPTAG_CNT_RX_BYPASS_SOCKET:
		return XDP_PASS;
	default:
		return XDP_DROP;
	}
}

/*
 * libxdp's run config (its dispatcher, where the kernel has freplace): run
 * before programs at libxdp's default priority (50), so protected traffic is
 * checked before a program that might redirect it, and chain on to the next
 * program only for frames esptag_rx passes. --xdp-priority overrides the
 * priority (xdp_program__set_run_prio).
 */
#define ESPTAG_XDP_RUN_PRIO	10

struct {
	__uint(priority, ESPTAG_XDP_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(esptag_rx);

struct {
	__uint(priority, ESPTAG_XDP_RUN_PRIO);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(esptag_rx_frags);

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
 * trusted and shift; mask 0 selects the defaults: mask 0x8000ffff, trusted
 * 0x80000000, shift 0 (esptag bits = 0x80000000 | sa_index; the other 15
 * bits of the mark, set by other software before us, are kept). Returns
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

char LICENSE[] SEC("license") = "GPL";
