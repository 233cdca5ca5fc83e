// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag_tx under BPF_PROG_TEST_RUN: a table of frames (IPv4/IPv6,
 * transport/tunnel, no VLAN / 802.1Q / Q-in-Q, policy protect / bypass /
 * discard / most specific wins, unusable SAs, agent down, tagged and config
 * frames, truncated and malformed headers, GSO), each checked for verdict,
 * exact output bytes (the expected frame is built from scratch here, not
 * derived from the program's input) and the delta of every counter.
 * Then: sequence numbers taken from both CPUs at once never repeat, and
 * host policies found by exact match before the LPM.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "../lib/test.h"
#include "../lib/bpf_test.h"

static struct bt_obj obj;
static int fd_tx, fd_sad, fd_spd, fd_src, fd_cfg, fd_host;

static const uint8_t mac_dst[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x01 };
static const uint8_t mac_src[6] = { 0x02, 0x00, 0x5e, 0x00, 0x53, 0x02 };
static const struct esptag_vlan vlans[2] = {
	{ BT_BE16(0x88a8), BT_BE16(100) }, { BT_BE16(0x8100), BT_BE16(0xa000 | 200) },
};
static const struct esptag_vlan vlan1[1] = { { BT_BE16(0x8100), BT_BE16(42) } };

/* ---------------------------------------------------------------------- */
/* Map set-up                                                              */

struct sa_def {
	uint32_t index;
	uint32_t spi;
	uint8_t dir, family, mode, flags;
	const char *saddr, *daddr;	/* tunnel endpoints */
	uint64_t expires_ns;
	uint32_t ifindex;
};

enum { T = ESPTAG_MODE_TRANSPORT, U = ESPTAG_MODE_TUNNEL };
#define ALIVE ESPTAG_SAF_ALIVE

static const struct sa_def sas[] = {
	{ 1, 0x1001, ESPTAG_DIR_OUT, 4, T, ALIVE, NULL, NULL, 0, 0 },
	{ 2, 0x1002, ESPTAG_DIR_OUT, 4, U, ALIVE | ESPTAG_SAF_TUNNEL, "192.0.2.1", "203.0.113.1", 0, 1 },
	{ 3, 0x1003, ESPTAG_DIR_OUT, 6, T, ALIVE, NULL, NULL, 0, 0 },
	{ 4, 0x1004, ESPTAG_DIR_OUT, 6, U, ALIVE | ESPTAG_SAF_TUNNEL, "2001:db8::1", "2001:db8:2::1", 0, 0 },
	/* 5: referenced by a policy, never installed */
	{ 6, 0x1006, ESPTAG_DIR_OUT, 4, T, ALIVE, NULL, NULL, 1, 0 },	/* expired */
	{ 7, 0x1007, ESPTAG_DIR_OUT, 6, U, ALIVE | ESPTAG_SAF_TUNNEL, "2001:db8::1", "2001:db8:7::1", 0, 0 },
	{ 8, 0x1008, ESPTAG_DIR_OUT, 4, U, ALIVE | ESPTAG_SAF_TUNNEL, "192.0.2.1", "203.0.113.8", 0, 0 },
	{ 9, 0x1009, ESPTAG_DIR_IN, 4, T, ALIVE, NULL, NULL, 0, 0 },	/* inbound */
	{ 10, 0x100a, ESPTAG_DIR_OUT, 4, T, ALIVE, NULL, NULL, 0, 9999 },	/* other port */
	{ 11, 0x100b, ESPTAG_DIR_OUT, 4, T, ALIVE | ESPTAG_SAF_ESN, NULL, NULL, 0, 0 },
	{ 12, 0x100c, ESPTAG_DIR_OUT, 4, T, ALIVE, NULL, NULL, 0, 0 },	/* counter at 2^32 */
	{ 13, 0x100d, ESPTAG_DIR_OUT, 4, T, 0, NULL, NULL, 0, 0 },	/* not alive */
	{ 14, 0x100e, ESPTAG_DIR_OUT, 6, T, ALIVE, NULL, NULL, 0, 0 },	/* v6 SA, v4 policy */
};

static const struct sa_def *sa_of(uint32_t index)
{
	for (size_t i = 0; i < sizeof(sas) / sizeof(sas[0]); i++)
		if (sas[i].index == index)
			return &sas[i];
	return NULL;
}

static int set_cfg(uint32_t flags, uint16_t eth_p_cfg, uint16_t eth_p_meta)
{
	struct esptag_cfg c = { .flags = flags, .eth_p_cfg = eth_p_cfg, .eth_p_meta = eth_p_meta };
	uint32_t zero = 0;

	return bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY);
}

/* The SA's sequence counter, in its esptag_sad value (no program runs
 * between the read and the write here). */
static int set_seq(uint32_t index, uint64_t next)
{
	struct esptag_sa v;

	if (bpf_map_lookup_elem(fd_sad, &index, &v))
		return -1;
	v.seq = (struct esptag_seq){ .next = next };
	return bpf_map_update_elem(fd_sad, &index, &v, BPF_ANY);
}

static uint64_t get_seq(uint32_t index)
{
	struct esptag_sa v = {};

	bpf_map_lookup_elem(fd_sad, &index, &v);
	return v.seq.next;
}

struct node_def {
	uint32_t id, parent;
	const char *daddr;
	int plen, parent_plen;
};

/* Outbound policy tree (see the rows below for what each one tests). */
static const struct node_def nodes[] = {
	{ 1, 0, "198.51.100.0", 24, 0 },
	{ 2, 1, "198.51.100.128", 25, 24 },
	{ 3, 1, "198.51.100.64", 26, 24 },
	{ 4, 0, "203.0.113.0", 24, 0 },
	{ 5, 0, "2001:db8:1::", 48, 0 },
	{ 6, 0, "2001:db8:2::", 48, 0 },
	{ 7, 4, "203.0.113.64", 26, 24 },
	{ 8, 1, "198.51.100.16", 28, 24 },
	{ 9, 1, "198.51.100.32", 28, 24 },
	{ 10, 0, "2001:db8:3::", 48, 0 },
	{ 11, 1, "198.51.100.48", 28, 24 },
	{ 12, 4, "203.0.113.128", 26, 24 },
	{ 13, 4, "203.0.113.192", 26, 24 },
	{ 14, 4, "203.0.113.32", 27, 24 },
	{ 15, 4, "203.0.113.16", 28, 24 },
	{ 16, 4, "203.0.113.8", 29, 24 },
	{ 17, 0, "192.0.2.128", 25, 0 },	/* discard everything */
	{ 18, 5, "2001:db8:1:5::", 64, 48 },
};

struct rule_def {
	uint32_t node;
	const char *saddr;
	int plen;
	uint8_t action;
	uint32_t sa;
};

enum { BYP = ESPTAG_ACT_BYPASS, PROT = ESPTAG_ACT_PROTECT, DISC = ESPTAG_ACT_DISCARD };

static const struct rule_def rules[] = {
	{ 1, "192.0.2.0", 24, PROT, 1 },
	{ 2, "192.0.2.128", 25, DISC, 0 },	/* no rule for 192.0.2.0/25: falls back to 1 */
	{ 3, "0.0.0.0", 0, BYP, 0 },
	{ 4, "0.0.0.0", 0, PROT, 2 },
	{ 5, "::", 0, PROT, 3 },
	{ 6, "::", 0, PROT, 4 },
	{ 7, "192.0.2.99", 32, PROT, 5 },	/* missing SA */
	{ 8, "0.0.0.0", 0, PROT, 6 },	/* expired */
	{ 9, "0.0.0.0", 0, PROT, 7 },	/* IPv4 in IPv6 */
	{ 10, "::", 0, PROT, 8 },	/* IPv6 in IPv4 */
	{ 11, "0.0.0.0", 0, PROT, 9 },	/* inbound SA */
	{ 12, "0.0.0.0", 0, PROT, 10 },	/* other port's SA */
	{ 13, "0.0.0.0", 0, PROT, 11 },	/* ESN */
	{ 14, "0.0.0.0", 0, PROT, 12 },	/* exhausted counter */
	{ 15, "0.0.0.0", 0, PROT, 13 },	/* SA not alive */
	{ 16, "0.0.0.0", 0, PROT, 14 },	/* SA of the wrong family */
	{ 17, "0.0.0.0", 0, DISC, 0 },
	{ 18, "2001:db8::99", 128, DISC, 0 },	/* else falls back to node 5 */
};

static int install(void)
{
	for (size_t i = 0; i < sizeof(sas) / sizeof(sas[0]); i++) {
		const struct sa_def *d = &sas[i];
		struct esptag_sa sa = {
			.spi = htonl(d->spi), .dir = d->dir, .family = d->family,
			.mode = d->mode, .flags = d->flags, .ifindex = d->ifindex,
			.icv_len = 16, .expires_ns = d->expires_ns,
		};

		if (d->saddr) {
			bt_addr(d->saddr, sa.saddr, NULL);
			bt_addr(d->daddr, sa.daddr, NULL);
		}
		/* The SA only: each case sets the counter it needs (set_seq). */
		if (esptag_sa_mirror_write(&(struct esptag_sa_maps){ .sad = fd_sad, .sa_stats = -1 },
					   d->index, &sa, NULL, NULL))
			return -errno;
	}
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		const struct node_def *n = &nodes[i];
		struct esptag_spd_key k = { .dir = ESPTAG_DIR_OUT };
		struct esptag_spd_node v = { .id = n->id, .parent = n->parent,
					     .parent_prefixlen = n->parent ? 32 + n->parent_plen : 0 };
		int fam;

		bt_addr(n->daddr, k.daddr, &fam);
		k.family = fam;
		k.prefixlen = 32 + n->plen;
		if (bpf_map_update_elem(fd_spd, &k, &v, BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule_def *r = &rules[i];
		struct esptag_spd_src_key k = { .prefixlen = 32 + r->plen, .node = r->node };
		struct esptag_policy p = { .action = r->action, .sa_index = r->sa, .id = i + 1 };

		bt_addr(r->saddr, k.saddr, NULL);
		if (bpf_map_update_elem(fd_src, &k, &p, BPF_ANY))
			return -errno;
	}
	return set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0);
}

/* ---------------------------------------------------------------------- */
/* Frames                                                                  */

struct flow {
	int family;			/* 4 or 6 */
	const char *src, *dst;
	int nvlans;			/* 0, 1 (802.1Q), 2 (802.1ad + 802.1Q) */
	uint8_t l4;			/* IPPROTO_TCP or IPPROTO_UDP */
	size_t payload;
};

static const struct esptag_vlan *flow_vlans(const struct flow *f)
{
	return f->nvlans == 1 ? vlan1 : vlans;
}

/* An IP packet (header, optional ESP, L4 header, payload) appended to p;
 * returns the offset of its IP header. proto_override: value of the IP
 * protocol / next header when an ESP header follows (50), else 0. */
static size_t put_ip(struct bt_pkt *p, const struct flow *f, bool esp, uint32_t spi,
		     uint64_t seq)
{
	uint8_t proto = esp ? IPPROTO_ESP : f->l4;
	size_t ip, l4;

	ip = f->family == 4 ? bt_ipv4(p, f->src, f->dst, proto)
			    : bt_ipv6(p, f->src, f->dst, proto);
	if (esp)
		bt_esp(p, spi, seq);
	if (f->l4 == IPPROTO_TCP) {
		bt_tcp(p, 40000, 443, 0x01020304, 0x18);
		bt_payload(p, f->payload, 0x30);
	} else {
		l4 = bt_udp(p, 40000, 4789);
		bt_payload(p, f->payload, 0x50);
		bt_udp_finish(p, l4);
	}
	if (f->family == 4)
		bt_ipv4_finish(p, ip);
	else
		bt_ipv6_finish(p, ip);
	return ip;
}

static void plain_frame(struct bt_pkt *p, const struct flow *f)
{
	memset(p, 0, sizeof(*p));
	bt_l2(p, mac_dst, mac_src, flow_vlans(f), f->nvlans,
	      f->family == 4 ? ETH_P_IP : ETH_P_IPV6);
	put_ip(p, f, false, 0, 0);
}

static void meta_tx(struct bt_pkt *p, uint8_t flags, uint8_t nh, size_t esp_off,
		    size_t payload_off, uint16_t mss, uint32_t sa_index, uint64_t seq)
{
	struct esptag_meta m = {
		.version = ESPTAG_META_VERSION, .kind = ESPTAG_META_TX,
		.flags = flags, .next_hdr = nh,
		.esp_off = htons(esp_off), .payload_off = htons(payload_off),
		.mss = htons(mss), .sa_index = htonl(sa_index),
		.seq_hi = htonl(seq >> 32), .seq_lo = htonl((uint32_t)seq),
	};

	bt_meta_insert(p, &m);
}

/* What esptag_tx must emit for a protected flow. */
static void protected_frame(struct bt_pkt *p, const struct flow *f, const struct sa_def *sa,
			    uint64_t seq)
{
	uint8_t flags = ESPTAG_META_F_OFFLOAD |
			(sa->flags & ESPTAG_SAF_ESN ? ESPTAG_META_F_ESN : 0);
	size_t l3, esp_off;
	uint8_t nh;

	memset(p, 0, sizeof(*p));
	if (sa->mode == ESPTAG_MODE_TRANSPORT) {
		bt_l2(p, mac_dst, mac_src, flow_vlans(f), f->nvlans,
		      f->family == 4 ? ETH_P_IP : ETH_P_IPV6);
		l3 = put_ip(p, f, true, sa->spi, seq);
		esp_off = l3 + (f->family == 4 ? 20 : 40);
		nh = f->l4;
	} else {
		struct bt_pkt inner = { 0 };
		size_t o;

		bt_l2(p, mac_dst, mac_src, flow_vlans(f), f->nvlans,
		      sa->family == 4 ? ETH_P_IP : ETH_P_IPV6);
		put_ip(&inner, f, false, 0, 0);
		if (sa->family == 4) {
			o = bt_ipv4(p, sa->saddr, sa->daddr, IPPROTO_ESP);
			p->b[o + 4] = (uint8_t)(seq >> 8);	/* id = low 16 bits of seq */
			p->b[o + 5] = (uint8_t)seq;
			p->b[o + 6] = 0;			/* no DF */
		} else {
			o = bt_ipv6(p, sa->saddr, sa->daddr, IPPROTO_ESP);
		}
		esp_off = o + (sa->family == 4 ? 20 : 40);
		bt_esp(p, sa->spi, seq);
		bt_put(p, inner.b, inner.len);
		if (sa->family == 4)
			bt_ipv4_finish(p, o);
		else
			bt_ipv6_finish(p, o);
		nh = f->family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	}
	meta_tx(p, flags, nh, esp_off, esp_off + 16, 0, sa->index, seq);
}

/* ---------------------------------------------------------------------- */
/* The table                                                               */

enum outcome { PROTECT, PASS, DROP };

struct row {
	const char *name;
	struct flow f;
	enum outcome out;
	uint32_t sa;		/* PROTECT: the SA; DROP: SA whose drops count (0: none) */
	int cnt;		/* the one counter that must move */
	uint64_t seq;		/* PROTECT: counter value before the run */
};

#define V4(s, d, nv, l4) { 4, s, d, nv, l4, 64 }
#define V6(s, d, nv, l4) { 6, s, d, nv, l4, 64 }
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

static const struct row rows[] = {
	{ "v4_transport_tcp", V4("192.0.2.1", "198.51.100.7", 0, TCP), PROTECT, 1, ESPTAG_CNT_TX_PROTECT, 1 },
	{ "v4_transport_udp_vlan", V4("192.0.2.1", "198.51.100.7", 1, UDP), PROTECT, 1, ESPTAG_CNT_TX_PROTECT, 77 },
	{ "v4_transport_tcp_qinq", V4("192.0.2.9", "198.51.100.8", 2, TCP), PROTECT, 1, ESPTAG_CNT_TX_PROTECT, 0xfffffffe },
	{ "v6_transport_tcp", V6("2001:db8::1", "2001:db8:1::5", 0, TCP), PROTECT, 3, ESPTAG_CNT_TX_PROTECT, 1 },
	{ "v6_transport_udp_qinq", V6("2001:db8::1", "2001:db8:1::5", 2, UDP), PROTECT, 3, ESPTAG_CNT_TX_PROTECT, 5 },
	{ "v4_tunnel_tcp_vlan", V4("192.0.2.1", "203.0.113.5", 1, TCP), PROTECT, 2, ESPTAG_CNT_TX_PROTECT, 0x10203 },
	{ "v4_tunnel_udp_qinq", V4("192.0.2.1", "203.0.113.5", 2, UDP), PROTECT, 2, ESPTAG_CNT_TX_PROTECT, 9 },
	{ "v6_tunnel_udp", V6("2001:db8::1", "2001:db8:2::9", 0, UDP), PROTECT, 4, ESPTAG_CNT_TX_PROTECT, 3 },
	{ "v6_tunnel_tcp_vlan", V6("2001:db8::1", "2001:db8:2::9", 1, TCP), PROTECT, 4, ESPTAG_CNT_TX_PROTECT, 3 },
	{ "v4_in_v6_tunnel", V4("192.0.2.1", "198.51.100.33", 0, TCP), PROTECT, 7, ESPTAG_CNT_TX_PROTECT, 12 },
	{ "v6_in_v4_tunnel_qinq", V6("2001:db8::1", "2001:db8:3::1", 2, UDP), PROTECT, 8, ESPTAG_CNT_TX_PROTECT, 13 },
	{ "esn_seq_hi", V4("192.0.2.1", "203.0.113.200", 0, TCP), PROTECT, 11, ESPTAG_CNT_TX_PROTECT, 0x100000005ull },
	{ "dst_more_specific_falls_back_to_parent", V4("192.0.2.1", "198.51.100.200", 0, TCP), PROTECT, 1, ESPTAG_CNT_TX_PROTECT, 40 },
	{ "dst_more_specific_wins_discard", V4("192.0.2.200", "198.51.100.200", 0, TCP), DROP, 0, ESPTAG_CNT_TX_DROP_DISCARD, 0 },
	{ "dst_more_specific_wins_bypass", V4("192.0.2.1", "198.51.100.70", 1, UDP), PASS, 0, ESPTAG_CNT_TX_BYPASS, 0 },
	{ "v6_dst_more_specific_falls_back", V6("2001:db8::1", "2001:db8:1:5::1", 0, UDP), PROTECT, 3, ESPTAG_CNT_TX_PROTECT, 8 },
	{ "v6_dst_more_specific_wins_discard", V6("2001:db8::99", "2001:db8:1:5::1", 1, UDP), DROP, 0, ESPTAG_CNT_TX_DROP_DISCARD, 0 },
	{ "discard", V4("192.0.2.1", "192.0.2.200", 0, UDP), DROP, 0, ESPTAG_CNT_TX_DROP_DISCARD, 0 },
	{ "no_policy_v4", V4("192.0.2.1", "192.0.2.50", 0, TCP), PASS, 0, ESPTAG_CNT_TX_BYPASS, 0 },
	{ "no_policy_v6", V6("2001:db8::1", "2001:db8:9::1", 2, TCP), PASS, 0, ESPTAG_CNT_TX_BYPASS, 0 },
	{ "src_miss_no_parent", V4("198.51.100.1", "198.51.100.7", 0, TCP), PASS, 0, ESPTAG_CNT_TX_BYPASS, 0 },
	{ "missing_sa", V4("192.0.2.99", "203.0.113.70", 0, TCP), DROP, 0, ESPTAG_CNT_TX_DROP_NO_SA, 0 },
	{ "expired_sa", V4("192.0.2.1", "198.51.100.17", 0, TCP), DROP, 6, ESPTAG_CNT_TX_DROP_EXPIRED, 0 },
	{ "inbound_sa", V4("192.0.2.1", "198.51.100.50", 0, TCP), DROP, 0, ESPTAG_CNT_TX_DROP_NO_SA, 0 },
	{ "other_port_sa", V4("192.0.2.1", "203.0.113.130", 1, TCP), DROP, 0, ESPTAG_CNT_TX_DROP_NO_SA, 0 },
	{ "dead_sa", V4("192.0.2.1", "203.0.113.20", 0, TCP), DROP, 0, ESPTAG_CNT_TX_DROP_NO_SA, 0 },
	{ "wrong_family_sa", V4("192.0.2.1", "203.0.113.9", 0, UDP), DROP, 14, ESPTAG_CNT_TX_DROP_NO_SA, 0 },
	{ "counter_exhausted", V4("192.0.2.1", "203.0.113.40", 0, TCP), DROP, 12, ESPTAG_CNT_TX_DROP_EXPIRED, 0x100000000ull },
};

static void run_row(const struct row *r)
{
	struct bt_pkt in, want;
	struct bt_expect e = { 0 };
	struct esptag_sa_stats s0, s1;
	uint32_t stat_sa = r->sa;

	plain_frame(&in, &r->f);
	if (r->seq && set_seq(r->out == PROTECT ? r->sa : stat_sa, r->seq)) {
		t_fail(__FILE__, __LINE__, "set_seq");
		return;
	}
	if (stat_sa)
		bt_sa_stats(&obj, stat_sa, &s0);
	e.cnt[0] = (struct bt_cnt){ r->cnt, 1 };
	switch (r->out) {
	case PROTECT:
		protected_frame(&want, &r->f, sa_of(r->sa), r->seq);
		e.retval = TC_ACT_OK;
		e.out = want.b;
		e.out_len = want.len;
		break;
	case PASS:
		e.retval = TC_ACT_OK;
		e.out = in.b;
		e.out_len = in.len;
		break;
	case DROP:
		e.retval = TC_ACT_SHOT;
		break;
	}
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL))
		return;
	if (r->out == PROTECT)
		T_EQ(get_seq(r->sa), r->seq + 1);
	if (stat_sa) {
		bt_sa_stats(&obj, stat_sa, &s1);
		if (r->out == PROTECT) {
			T_EQ(s1.packets - s0.packets, 1);
			T_EQ(s1.bytes - s0.bytes, in.len);
			T_EQ(s1.drops - s0.drops, 0);
		} else {
			T_EQ(s1.packets - s0.packets, 0);
			T_EQ(s1.drops - s0.drops, 1);
		}
	}
}

static const struct row *cur_row;
static void row_case(void)
{
	run_row(cur_row);
}

/* ---------------------------------------------------------------------- */
/* Single cases                                                            */

static void agent_down(void)
{
	struct flow f = V4("192.0.2.1", "198.51.100.7", 0, TCP);
	struct bt_expect e = { .retval = TC_ACT_SHOT,
			       .cnt = { { ESPTAG_CNT_TX_DROP_AGENT_DOWN, 1 } } };
	struct bt_expect ok = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_BYPASS, 1 } } };
	struct bt_pkt in, other;
	uint64_t seq = get_seq(1);

	plain_frame(&in, &f);
	T_ASSERT(!set_cfg(0, 0, 0));
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	/* Bypass traffic still flows while the agent is down. */
	f.dst = "192.0.2.50";
	plain_frame(&other, &f);
	ok.out = other.b;
	ok.out_len = other.len;
	BT_CHECK(&obj, fd_tx, other.b, other.len, NULL, &ok, NULL);
	set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0);
	T_EQ(get_seq(1), seq);	/* no number spent on a dropped frame */
}

static void already_tagged(void)
{
	struct flow f = V4("192.0.2.1", "198.51.100.7", 0, TCP);
	struct esptag_meta m = { .version = 1, .kind = ESPTAG_META_TX };
	struct bt_expect e = { .retval = TC_ACT_SHOT,
			       .cnt = { { ESPTAG_CNT_TX_DROP_TAGGED, 1 } } };
	struct bt_pkt in;

	/* A well-formed tag, a forged one with garbage. */
	plain_frame(&in, &f);
	bt_meta_insert(&in, &m);
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	in.b[14] = 0xee;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

/*
 * The config or metadata EtherType behind one (802.1Q) or two (802.1ad +
 * 802.1Q) VLAN tags: the agent would take the frame as plain and send it to
 * the wire (an ADD_SA with its key, or a tag over plaintext). Dropped with
 * their own counter, whatever follows; no sequence number spent.
 */
static void vlan_hidden_dropped(void)
{
	struct bt_expect e = { .retval = TC_ACT_SHOT,
			       .cnt = { { ESPTAG_CNT_TX_DROP_VLAN_HIDDEN, 1 } } };
	const uint16_t types[] = { ESPTAG_ETH_P_CFG, ESPTAG_ETH_P_META };
	struct flow f = V4("192.0.2.1", "198.51.100.7", 0, TCP);
	struct esptag_meta m = { .version = 1, .kind = ESPTAG_META_TX,
				 .flags = ESPTAG_META_F_OFFLOAD, .sa_index = BT_BE32(1) };
	struct bt_pkt in;
	uint64_t seq = get_seq(1);

	for (int nv = 1; nv <= 2; nv++) {
		for (size_t t = 0; t < 2; t++) {
			memset(&in, 0, sizeof(in));
			bt_l2(&in, mac_dst, mac_src, flow_vlans(&(struct flow){ .nvlans = nv }),
			      nv, types[t]);
			bt_payload(&in, 60, 1);
			if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL))
				printf("# %d VLAN tag(s) before 0x%04x\n", nv, types[t]);
		}
		/* A well-formed TX tag (protected flow) pushed behind VLANs. */
		plain_frame(&in, &f);
		bt_meta_insert(&in, &m);
		bt_insert(&in, 12, nv == 1 ? "\x81\x00\x00\x2a" : "\x88\xa8\x00\x64\x81\x00\x00\xc8",
			  4 * nv);
		BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	}
	/* Custom EtherTypes: the configured ones are looked for. */
	T_ASSERT(!set_cfg(ESPTAG_CFGF_AGENT_UP, 0x9000, 0x9001));
	for (size_t t = 0; t < 2; t++) {
		memset(&in, 0, sizeof(in));
		bt_l2(&in, mac_dst, mac_src, vlans, 2, 0x9000 + t);
		bt_payload(&in, 60, 1);
		BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	}
	set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0);
	T_EQ(get_seq(1), seq);
}

static void config_frame_passes(void)
{
	struct bt_expect e = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_CONFIG, 1 } } };
	struct bt_pkt in = { 0 };
	uint8_t agent[6] = ESPTAG_AGENT_MAC_INIT;

	bt_l2(&in, agent, mac_src, NULL, 0, ESPTAG_ETH_P_CFG);
	bt_payload(&in, 46, 1);
	e.out = in.b;
	e.out_len = in.len;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

static void non_ip_passes(void)
{
	struct bt_expect e = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PASS_OTHER, 1 } } };
	struct bt_pkt in = { 0 };

	bt_l2(&in, mac_dst, mac_src, vlans, 2, ETH_P_ARP);
	bt_payload(&in, 28, 1);
	e.out = in.b;
	e.out_len = in.len;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

/* More VLAN tags than the parser follows could hide IP: fail closed. */
static void three_vlans_dropped(void)
{
	struct bt_expect e = { .retval = TC_ACT_SHOT,
			       .cnt = { { ESPTAG_CNT_TX_DROP_MALFORMED, 1 } } };
	struct flow f = V4("192.0.2.1", "198.51.100.7", 2, TCP);
	struct bt_pkt in;

	plain_frame(&in, &f);
	/* A third 802.1Q tag after the two of the flow. */
	bt_insert(&in, 20, "\x81\x00\x00\x09", 4);
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

/* Configurable EtherTypes: the defaults lose their meaning. */
static void custom_ethertypes(void)
{
	struct flow f = V4("192.0.2.1", "198.51.100.7", 0, TCP);
	struct bt_expect cfg = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_CONFIG, 1 } } };
	struct bt_expect other = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PASS_OTHER, 1 } } };
	struct bt_expect prot = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PROTECT, 1 } } };
	struct bt_pkt in = { 0 }, want;
	struct bt_result res;

	T_ASSERT(!set_cfg(ESPTAG_CFGF_AGENT_UP, 0x9000, 0x9001));
	bt_l2(&in, mac_dst, mac_src, NULL, 0, 0x9000);
	bt_payload(&in, 46, 1);
	cfg.out = in.b;
	cfg.out_len = in.len;
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &cfg, NULL))
		goto out;
	in.b[12] = 0x88, in.b[13] = 0xb5;	/* the default config EtherType: not special now */
	other.out = in.b;
	other.out_len = in.len;
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &other, NULL))
		goto out;
	set_seq(1, 1000);
	plain_frame(&in, &f);
	protected_frame(&want, &f, sa_of(1), 1000);
	want.b[12] = 0x90, want.b[13] = 0x01;	/* tag TPID */
	prot.out = want.b;
	prot.out_len = want.len;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &prot, &res);
out:
	set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0);
}

static void ipv4_options_transport(void)
{
	struct bt_expect e = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PROTECT, 1 } } };
	struct bt_pkt in = { 0 }, want = { 0 };
	const struct sa_def *sa = sa_of(1);
	size_t ip, esp;

	bt_l2(&in, mac_dst, mac_src, vlan1, 1, ETH_P_IP);
	ip = bt_ipv4(&in, "192.0.2.1", "198.51.100.9", IPPROTO_UDP);
	bt_put(&in, "\x94\x04\x00\x00\x01\x01\x01\x00", 8);	/* router alert, NOPs */
	in.b[ip] = 0x47;
	bt_udp(&in, 1, 2);
	bt_payload(&in, 20, 0);
	bt_ipv4_finish(&in, ip);

	bt_l2(&want, mac_dst, mac_src, vlan1, 1, ETH_P_IP);
	ip = bt_ipv4(&want, "192.0.2.1", "198.51.100.9", IPPROTO_ESP);
	bt_put(&want, "\x94\x04\x00\x00\x01\x01\x01\x00", 8);
	want.b[ip] = 0x47;
	esp = bt_esp(&want, sa->spi, 500);
	bt_udp(&want, 1, 2);
	bt_payload(&want, 20, 0);
	bt_ipv4_finish(&want, ip);
	meta_tx(&want, ESPTAG_META_F_OFFLOAD, IPPROTO_UDP, esp, esp + 16, 0, 1, 500);
	T_ASSERT(!set_seq(1, 500));
	e.out = want.b;
	e.out_len = want.len;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

/* IPv6 with hop-by-hop and destination options: ESP goes after the chain
 * and the last header's next header becomes 50. */
static void ipv6_ext_transport(void)
{
	struct bt_expect e = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PROTECT, 1 } } };
	struct bt_ipv6_ext hbh = { .nexthdr = 60, .data = { 1, 4 } };
	struct bt_ipv6_ext dst = { .nexthdr = IPPROTO_TCP, .data = { 1, 4 } };
	struct bt_pkt in = { 0 }, want = { 0 };
	const struct sa_def *sa = sa_of(3);
	size_t ip, esp;

	bt_l2(&in, mac_dst, mac_src, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&in, "2001:db8::1", "2001:db8:1::77", 0);
	bt_put(&in, &hbh, 8);
	bt_put(&in, &dst, 8);
	bt_tcp(&in, 5, 6, 7, 0x10);
	bt_payload(&in, 33, 0);
	bt_ipv6_finish(&in, ip);

	bt_l2(&want, mac_dst, mac_src, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&want, "2001:db8::1", "2001:db8:1::77", 0);
	bt_put(&want, &hbh, 8);
	dst.nexthdr = IPPROTO_ESP;
	bt_put(&want, &dst, 8);
	esp = bt_esp(&want, sa->spi, 21);
	bt_tcp(&want, 5, 6, 7, 0x10);
	bt_payload(&want, 33, 0);
	bt_ipv6_finish(&want, ip);
	meta_tx(&want, ESPTAG_META_F_OFFLOAD, IPPROTO_TCP, esp, esp + 16, 0, 3, 21);
	T_ASSERT(!set_seq(3, 21));
	e.out = want.b;
	e.out_len = want.len;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

/* Transport mode cannot protect fragments; tunnel mode can. */
static void fragments(void)
{
	struct bt_expect drop = { .retval = TC_ACT_SHOT,
				  .cnt = { { ESPTAG_CNT_TX_DROP_MALFORMED, 1 } } };
	struct bt_expect prot = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PROTECT, 1 } } };
	struct flow f4 = V4("192.0.2.1", "198.51.100.7", 0, UDP);
	struct flow t4 = V4("192.0.2.1", "203.0.113.5", 0, UDP);
	struct bt_ipv6_ext frag = { .nexthdr = IPPROTO_UDP, .data = { 0, 0x08 } };
	struct bt_pkt in = { 0 }, want = { 0 };
	size_t ip;

	plain_frame(&in, &f4);
	in.b[14 + 6] = 0x20;			/* MF */
	bt_ipv4_finish(&in, 14);
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL))
		return;
	plain_frame(&in, &t4);
	in.b[14 + 6] = 0x20;
	bt_ipv4_finish(&in, 14);
	/* Expected: the fragment whole inside the tunnel. */
	{
		const struct sa_def *sa = sa_of(2);
		size_t o, esp;

		bt_l2(&want, mac_dst, mac_src, NULL, 0, ETH_P_IP);
		o = bt_ipv4(&want, sa->saddr, sa->daddr, IPPROTO_ESP);
		want.b[o + 4] = 0, want.b[o + 5] = 66, want.b[o + 6] = 0;
		esp = bt_esp(&want, sa->spi, 66);
		bt_put(&want, in.b + 14, in.len - 14);
		bt_ipv4_finish(&want, o);
		meta_tx(&want, ESPTAG_META_F_OFFLOAD, IPPROTO_IPIP, esp, esp + 16, 0, 2, 66);
	}
	T_ASSERT(!set_seq(2, 66));
	prot.out = want.b;
	prot.out_len = want.len;
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &prot, NULL))
		return;
	/* IPv6 fragment header, transport SA. */
	memset(&in, 0, sizeof(in));
	bt_l2(&in, mac_dst, mac_src, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&in, "2001:db8::1", "2001:db8:1::5", 44);
	bt_put(&in, &frag, 8);
	bt_udp(&in, 1, 2);
	bt_payload(&in, 10, 0);
	bt_ipv6_finish(&in, ip);
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL);
}

/* Malformed IP headers of a protected flow: dropped, never sent in clear. */
static void malformed_headers(void)
{
	struct bt_expect drop = { .retval = TC_ACT_SHOT,
				  .cnt = { { ESPTAG_CNT_TX_DROP_MALFORMED, 1 } } };
	struct flow f4 = V4("192.0.2.1", "198.51.100.7", 1, TCP);
	struct flow f6 = V6("2001:db8::1", "2001:db8:1::5", 0, TCP);
	struct bt_pkt in;

	plain_frame(&in, &f4);
	in.b[18] = 0x44;			/* IHL 4 */
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL))
		return;
	plain_frame(&in, &f4);
	in.b[18] = 0x65;			/* version 6 in an IPv4 EtherType */
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL))
		return;
	plain_frame(&in, &f4);
	in.b[18 + 3] += 1;			/* tot_len one more than the frame */
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL))
		return;
	plain_frame(&in, &f4);
	in.len += 6;				/* trailing bytes beyond tot_len */
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL))
		return;
	plain_frame(&in, &f6);
	in.b[14] = 0x40;			/* version 4 in an IPv6 EtherType */
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL))
		return;
	plain_frame(&in, &f6);
	in.b[14 + 5] -= 1;			/* payload_len one short */
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &drop, NULL);
}

/*
 * A protected frame cut at every length: dropped as malformed, never sent
 * in clear. (The skb test run itself refuses an IP EtherType without a
 * whole fixed IP header, so those cuts cannot reach the program.)
 */
static void truncated_everywhere(void)
{
	static const struct flow flows[] = {
		V4("192.0.2.1", "198.51.100.7", 2, TCP),
		V6("2001:db8::1", "2001:db8:1::5", 1, UDP),
		V4("192.0.2.1", "203.0.113.5", 0, UDP),
	};
	struct bt_expect drop = { .retval = TC_ACT_SHOT,
				  .cnt = { { ESPTAG_CNT_TX_DROP_MALFORMED, 1 } } };
	static struct bt_result res;
	int ran = 0;

	for (size_t i = 0; i < sizeof(flows) / sizeof(flows[0]); i++) {
		struct bt_pkt in;

		plain_frame(&in, &flows[i]);
		for (size_t len = ETH_HLEN; len < in.len; len++) {
			if (bt_run(fd_tx, in.b, len, NULL, &res) == -EINVAL)
				continue;	/* refused by the kernel before the program */
			if (!BT_CHECK(&obj, fd_tx, in.b, len, NULL, &drop, NULL)) {
				fprintf(stderr, "flow %zu cut at %zu\n", i, len);
				return;
			}
			ran++;
		}
	}
	/* 3 flows x (payload + L4 + part of the headers) at least. */
	T_ASSERT(ran > 3 * 64);
}

/* ---------------------------------------------------------------------- */
/* GSO                                                                     */

/* The SA's lifetime, in its esptag_sad value. */
static struct esptag_sa_life life_of(uint32_t idx)
{
	struct esptag_sa v = {};

	bpf_map_lookup_elem(fd_sad, &idx, &v);
	return v.life;
}

static int set_life(uint32_t idx, const struct esptag_sa_life *l)
{
	struct esptag_sa v;

	if (bpf_map_lookup_elem(fd_sad, &idx, &v))
		return -1;
	v.life = *l;
	return bpf_map_update_elem(fd_sad, &idx, &v, BPF_ANY);
}

static void gso_check(const struct flow *f, uint32_t sa_index, uint32_t gso_segs,
		      uint32_t want_segs)
{
	struct esptag_sa_life l0 = life_of(sa_index), l1;
	/* Lifetime bytes: the IP packets the agent cuts, each with IP + TCP headers. */
	uint64_t hdrs = (f->family == 4 ? 20 : 40) + 20, ip_len = hdrs + f->payload;
	const struct sa_def *sa = sa_of(sa_index);
	struct __sk_buff skb = { .gso_size = 1000, .gso_segs = gso_segs };
	struct bt_expect e = { .retval = TC_ACT_OK,
			       .cnt = { { ESPTAG_CNT_TX_PROTECT_GSO, 1 } } };
	struct bt_pkt in, want;
	size_t l3 = ETH_HLEN + 4 * f->nvlans, esp_off;
	uint8_t nh;

	plain_frame(&in, f);
	want = in;
	if (sa->mode == ESPTAG_MODE_TUNNEL) {
		esp_off = l3;
		nh = f->family == 4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	} else {
		esp_off = l3 + (f->family == 4 ? 20 : 40);
		nh = IPPROTO_TCP;
	}
	meta_tx(&want, ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO, nh, esp_off, esp_off,
		1000, sa_index, 700);
	e.out = want.b;
	e.out_len = want.len;
	T_ASSERT(!set_seq(sa_index, 700));
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &e, NULL))
		return;
	T_EQ(get_seq(sa_index), 700 + want_segs);	/* one number per segment */
	l1 = life_of(sa_index);
	T_EQ(l1.packets - l0.packets, want_segs);
	T_EQ(l1.bytes - l0.bytes, ip_len + (want_segs - 1) * hdrs);
	T_ASSERT(l1.last_ns != 0);
}

/*
 * A hard packet or byte limit (the SA's lifetime) holds exactly for a GSO
 * frame too: a super-packet whose segments would pass it is dropped whole
 * (tx_drop_limit) and nothing of it is counted; one that fits exactly passes.
 */
static void gso_hard_limit(void)
{
	struct flow f = { 4, "192.0.2.1", "198.51.100.7", 1, TCP, 2500 };
	struct __sk_buff skb = { .gso_size = 1000, .gso_segs = 3 };
	struct bt_expect drop = { .retval = TC_ACT_SHOT, .cnt = { { ESPTAG_CNT_TX_DROP_LIMIT, 1 } } };
	struct bt_expect pass = { .retval = TC_ACT_OK, .cnt = { { ESPTAG_CNT_TX_PROTECT_GSO, 1 } } };
	uint32_t idx = 1;
	struct esptag_sa_life l = life_of(idx), after;
	struct bt_pkt in;
	uint64_t bytes = 2540 + 2 * 40;	/* 3 segments of a 2540-byte IP packet */

	plain_frame(&in, &f);
	l.hard_packets = l.packets + 2;	/* 3 segments do not fit */
	T_ASSERT(!set_life(idx, &l));
	T_ASSERT(!set_seq(idx, 900));
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &drop, NULL))
		return;
	after = life_of(idx);
	T_EQ(after.packets, l.packets);
	T_EQ(after.bytes, l.bytes);
	T_EQ(after.refused, l.refused + 1);
	T_EQ(get_seq(idx), 900);		/* no sequence number spent */
	l = after;
	l.hard_packets = l.packets + 3;	/* exactly fits */
	l.hard_bytes = l.bytes + bytes;
	T_ASSERT(!set_life(idx, &l));
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &pass, NULL))
		return;
	after = life_of(idx);
	T_EQ(after.packets, l.packets + 3);
	T_EQ(after.bytes, l.bytes + bytes);
	l = after;
	l.hard_packets = l.hard_bytes = 0;
	T_ASSERT(!set_life(idx, &l));
}

static void gso_transport_v4(void)
{
	struct flow f = { 4, "192.0.2.1", "198.51.100.7", 1, TCP, 2500 };

	gso_check(&f, 1, 3, 3);
}

static void gso_transport_v6_segs_computed(void)
{
	struct flow f = { 6, "2001:db8::1", "2001:db8:1::5", 2, TCP, 3001 };

	gso_check(&f, 3, 0, 4);		/* gso_segs left 0: ceil(3001 / 1000) */
}

static void gso_tunnel_v4(void)
{
	struct flow f = { 4, "192.0.2.1", "203.0.113.5", 0, TCP, 1800 };

	gso_check(&f, 2, 2, 2);
}

static void gso_tunnel_v6_in_v4_segs_computed(void)
{
	struct flow f = { 6, "2001:db8::1", "2001:db8:3::1", 1, TCP, 1000 };

	gso_check(&f, 8, 0, 1);		/* exactly one segment's worth */
}

/*
 * One GSO frame must not make the agent send thousands: mss below
 * ESPTAG_GSO_MIN_MSS (88), or more than ESPTAG_GSO_MAX_SEGS segments, is
 * dropped with its own counter, before a sequence number is taken. mss 88
 * itself still goes out.
 */
static void gso_limits(void)
{
	struct flow f = { 4, "192.0.2.1", "198.51.100.7", 0, TCP, 2500 };
	struct bt_expect e = { .retval = TC_ACT_SHOT,
			       .cnt = { { ESPTAG_CNT_TX_DROP_GSO_LIMIT, 1 } } };
	struct bt_expect ok = { .retval = TC_ACT_OK,
				.cnt = { { ESPTAG_CNT_TX_PROTECT_GSO, 1 } } };
	const struct { uint32_t size, segs; } rows[] = {
		{ 1, 0 }, { 1, 2500 }, { 87, 0 }, { 87, 29 }, { 1000, ESPTAG_GSO_MAX_SEGS + 1 },
	};
	struct bt_pkt in;

	plain_frame(&in, &f);
	T_ASSERT(!set_seq(1, 900));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct __sk_buff skb = { .gso_size = rows[i].size, .gso_segs = rows[i].segs };

		if (!BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &e, NULL))
			printf("# gso_size %u gso_segs %u\n", rows[i].size, rows[i].segs);
	}
	T_EQ(get_seq(1), 900);
	{
		struct __sk_buff skb = { .gso_size = ESPTAG_GSO_MIN_MSS, .gso_segs = 0 };

		BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &ok, NULL);
		T_EQ(get_seq(1), 900 + (2500 + ESPTAG_GSO_MIN_MSS - 1) / ESPTAG_GSO_MIN_MSS);
	}
}

static void gso_udp_refused(void)
{
	struct flow f = { 4, "192.0.2.1", "198.51.100.7", 0, UDP, 2500 };
	struct __sk_buff skb = { .gso_size = 1000, .gso_segs = 3 };
	struct bt_expect e = { .retval = TC_ACT_SHOT,
			       .cnt = { { ESPTAG_CNT_TX_DROP_GSO_PROTO, 1 } } };
	struct bt_pkt in;

	plain_frame(&in, &f);
	BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &e, NULL);
}

/* An agent without TSO (ESPTAG_CFGF_NO_TSO): a protected super-packet is
 * dropped and counted before it takes sequence numbers; a plain packet of
 * the same SA is still protected, and super-packets pass again once the
 * flag is cleared. */
static void gso_no_tso_dropped(void)
{
	struct flow f = { 4, "192.0.2.1", "198.51.100.7", 1, TCP, 2500 };
	struct __sk_buff skb = { .gso_size = 1000, .gso_segs = 3 };
	struct bt_expect drop = { .retval = TC_ACT_SHOT,
				  .cnt = { { ESPTAG_CNT_TX_DROP_NO_TSO, 1 } } };
	struct bt_expect prot = { .retval = TC_ACT_OK,
				  .cnt = { { ESPTAG_CNT_TX_PROTECT, 1 } } };
	struct bt_pkt in, small;
	struct flow fs = f;

	fs.payload = 100;
	plain_frame(&in, &f);
	plain_frame(&small, &fs);
	T_ASSERT(!set_seq(1, 900));
	T_ASSERT(!set_cfg(ESPTAG_CFGF_AGENT_UP | ESPTAG_CFGF_NO_TSO, 0, 0));
	if (!BT_CHECK(&obj, fd_tx, in.b, in.len, &skb, &drop, NULL))
		goto out;
	if (get_seq(1) != 900) {
		t_fail(__FILE__, __LINE__, "sequence numbers taken by a dropped super-packet");
		goto out;
	}
	if (!BT_CHECK(&obj, fd_tx, small.b, small.len, NULL, &prot, NULL))
		goto out;
	T_ASSERT(!set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0));
	gso_check(&f, 1, 3, 3);
out:
	set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0);
}

/* ---------------------------------------------------------------------- */
/* Concurrency: two threads pinned to CPU 0 and 1 run the program on the
 * same SA; every sequence number seen must be unique and the counter must
 * have advanced by exactly the number of packets. */

#define SEQ_RUNS 4000

struct seq_thread {
	int cpu;
	int err;
	uint64_t seqs[SEQ_RUNS];
};

static struct bt_pkt seq_pkt;

static void *seq_worker(void *arg)
{
	struct seq_thread *t = arg;
	static __thread struct bt_result res;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		t->err = -errno;
		return NULL;
	}
	for (int i = 0; i < SEQ_RUNS; i++) {
		const struct esptag_meta *m = (const void *)(res.out + 12);

		if (bt_run(fd_tx, seq_pkt.b, seq_pkt.len, NULL, &res) ||
		    res.retval != TC_ACT_OK || res.out_len != seq_pkt.len + 46) {
			t->err = -EIO;
			return NULL;
		}
		t->seqs[i] = (uint64_t)ntohl(m->seq_hi) << 32 | ntohl(m->seq_lo);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void seq_unique_across_cpus(void)
{
	static struct seq_thread th[2];
	static uint64_t all[2 * SEQ_RUNS];
	struct flow f = V4("192.0.2.1", "198.51.100.7", 0, UDP);
	pthread_t tid[2];

	if (libbpf_num_possible_cpus() < 2 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		t_skip("needs 2 CPUs");
		return;
	}
	plain_frame(&seq_pkt, &f);
	T_ASSERT(!set_seq(1, 1));
	for (int i = 0; i < 2; i++) {
		th[i].cpu = i;
		th[i].err = 0;
		T_ASSERT(!pthread_create(&tid[i], NULL, seq_worker, &th[i]));
	}
	for (int i = 0; i < 2; i++)
		pthread_join(tid[i], NULL);
	T_EQ(th[0].err, 0);
	T_EQ(th[1].err, 0);
	memcpy(all, th[0].seqs, sizeof(th[0].seqs));
	memcpy(all + SEQ_RUNS, th[1].seqs, sizeof(th[1].seqs));
	qsort(all, 2 * SEQ_RUNS, sizeof(all[0]), cmp_u64);
	for (int i = 1; i < 2 * SEQ_RUNS; i++)
		if (all[i] == all[i - 1]) {
			t_fail(__FILE__, __LINE__, "sequence number %llu used twice",
			       (unsigned long long)all[i]);
			return;
		}
	/* Exactly 1..2N, each once: no number lost, none repeated. */
	T_EQ(all[0], 1);
	T_EQ(all[2 * SEQ_RUNS - 1], 2 * SEQ_RUNS);
	T_EQ(get_seq(1), 2 * SEQ_RUNS + 1);
	/* Each thread saw increasing numbers. */
	for (int t = 0; t < 2; t++)
		for (int i = 1; i < SEQ_RUNS; i++)
			T_ASSERT(th[t].seqs[i] > th[t].seqs[i - 1]);
}

/* The per-CPU counters: the program counted on both CPUs. */
static void counters_on_both_cpus(void)
{
	int fd = bt_map_fd(&obj, "esptag_stats"), ncpu = libbpf_num_possible_cpus();
	uint32_t k = ESPTAG_CNT_TX_PROTECT;
	uint64_t v[ncpu > 0 ? ncpu : 1];

	if (ncpu < 2) {
		t_skip("needs 2 CPUs");
		return;
	}
	T_ASSERT(!bpf_map_lookup_elem(fd, &k, v));
	T_ASSERT(v[0] >= SEQ_RUNS && v[1] >= SEQ_RUNS);
}

static int *acq_seen;

static int acq_cb(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct esptag_acquire))
		memcpy(ctx, data, sizeof(struct esptag_acquire));
	(*acq_seen)++;
	return 0;
}
/* Acquire records the ring buffer held since the last call (the last one in *last). */
static int acq_records(struct esptag_acquire *last)
{
	static struct ring_buffer *rb;
	static int n;
	static struct esptag_acquire got;

	if (!rb)
		rb = ring_buffer__new(bt_map_fd(&obj, "esptag_acquire"), acq_cb, &got, NULL);
	if (!rb)
		return -1;
	n = 0;
	acq_seen = &n;
	ring_buffer__consume(rb);
	if (last)
		*last = got;
	return n;
}

/*
 * A trap policy (protect by reqid without an SA, ESPTAG_POLF_TRAP): every
 * packet dropped (tx_drop_trap), the first raises one acquire, the next
 * ones none until esptag_acq_pend is re-armed (0); the policy's use
 * (esptag_pol_use) counts each packet.
 */
static void trap_policy_acquire(void)
{
	struct flow f = V4("192.0.2.1", "192.0.2.70", 0, UDP);
	struct bt_expect e = { .retval = TC_ACT_SHOT, .cnt = { { ESPTAG_CNT_TX_DROP_TRAP, 1 } } };
	struct esptag_spd_key k = { .prefixlen = 32 + 26, .dir = ESPTAG_DIR_OUT, .family = 4 };
	struct esptag_spd_node v = { .id = 19 };
	struct esptag_spd_src_key sk = { .prefixlen = 32, .node = 19 };
	struct esptag_policy pol = { .action = ESPTAG_ACT_PROTECT, .flags = ESPTAG_POLF_TRAP,
				     .sa_index = ESPTAG_SA_INDEX_NONE, .id = 100 };
	int pend = bt_map_fd(&obj, "esptag_acq_pend"), use = bt_map_fd(&obj, "esptag_pol_use");
	int ncpu = libbpf_num_possible_cpus();
	struct esptag_pol_use u[ncpu > 0 ? ncpu : 1];
	struct esptag_acquire a;
	uint32_t id = 100;
	uint64_t zero = 0, packets = 0;
	struct bt_pkt in;

	bt_addr("192.0.2.64", k.daddr, NULL);
	T_ASSERT(!bpf_map_update_elem(fd_spd, &k, &v, BPF_ANY));
	T_ASSERT(!bpf_map_update_elem(fd_src, &sk, &pol, BPF_ANY));
	T_ASSERT(!bpf_map_update_elem(pend, &id, &zero, BPF_ANY));
	memset(u, 0, sizeof(u));
	T_ASSERT(!bpf_map_update_elem(use, &id, u, BPF_ANY));
	plain_frame(&in, &f);
	T_EQ(acq_records(NULL), 0);
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	T_EQ(acq_records(&a), 1);
	T_EQ(a.policy_id, 100);
	T_EQ(a.family, 4);
	T_EQ(a.proto, IPPROTO_UDP);
	T_EQ(a.saddr[0], 192);
	T_EQ(a.daddr[3], 70);
	/* In flight: dropped again, no second acquire. */
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	T_EQ(acq_records(NULL), 0);
	/* Re-armed (an SA came and went): the next packet asks again. */
	T_ASSERT(!bpf_map_update_elem(pend, &id, &zero, BPF_ANY));
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	T_EQ(acq_records(NULL), 1);
	/* Without the TRAP flag the same policy is an unresolved one: no acquire. */
	pol.flags = 0;
	T_ASSERT(!bpf_map_update_elem(fd_src, &sk, &pol, BPF_ANY));
	T_ASSERT(!bpf_map_update_elem(pend, &id, &zero, BPF_ANY));
	e.cnt[0].idx = ESPTAG_CNT_TX_DROP_NO_SA;
	BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
	T_EQ(acq_records(NULL), 0);
	T_ASSERT(!bpf_map_lookup_elem(use, &id, u));
	for (int i = 0; i < (ncpu > 0 ? ncpu : 1); i++)
		packets += u[i].packets;
	T_EQ(packets, 5);
	bpf_map_delete_elem(fd_src, &sk);
	bpf_map_delete_elem(fd_spd, &k);
}

/* One esptag_spd_host entry (exact dir, family, src, dst); action 0: delete. */
static int host_set(uint8_t dir, const char *src, const char *dst, uint8_t action, uint32_t sa,
		    uint32_t id)
{
	struct esptag_spd_host_key k = { .dir = dir };
	struct esptag_policy p = { .action = action, .sa_index = sa, .id = id };
	int fam;

	bt_addr(src, k.saddr, &fam);
	bt_addr(dst, k.daddr, NULL);
	k.family = fam;
	if (!action)
		return bpf_map_delete_elem(fd_host, &k);
	return bpf_map_update_elem(fd_host, &k, &p, BPF_ANY);
}

static bool host_run(const struct flow *f, uint32_t retval, int cnt)
{
	struct bt_expect e = { .retval = retval, .cnt = { { cnt, 1 } } };
	struct bt_pkt in;

	plain_frame(&in, f);
	return BT_CHECK(&obj, fd_tx, in.b, in.len, NULL, &e, NULL);
}

/*
 * Host policies by exact match (esptag_spd_host), looked up before the
 * two-level LPM while esptag_cfg has ESPTAG_CFGF_SPD_HOST: an entry for the
 * exact pair is the answer even where a less specific LPM rule says
 * otherwise; another pair, another direction or a deleted entry falls back
 * to the LPM; the use of the policy a hit names is counted under its id.
 * Without the flag the hash is not looked at.
 */
static void host_policy_exact(void)
{
	struct flow f = V4("192.0.2.1", "198.51.100.7", 0, TCP);
	struct flow g = V4("192.0.2.2", "198.51.100.7", 0, TCP);
	struct flow h = V6("2001:db8::1", "2001:db8:1::5", 0, UDP);
	int use = bt_map_fd(&obj, "esptag_pol_use");
	int ncpu = libbpf_num_possible_cpus();
	struct esptag_pol_use u[ncpu > 0 ? ncpu : 1];
	uint64_t seq1 = get_seq(1), seq11 = get_seq(11), packets = 0;
	uint32_t id = 201;

	T_ASSERT(fd_host >= 0);
	memset(u, 0, sizeof(u));
	T_ASSERT(!bpf_map_update_elem(use, &id, u, BPF_ANY));
	/* LPM alone: 198.51.100.0/24 from 192.0.2.0/24 protects with SA 1. */
	T_ASSERT(host_run(&f, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	T_EQ(get_seq(1), seq1 + 1);
	/* An entry, but no SPD_HOST flag: the hash is not looked at. */
	T_ASSERT(!host_set(ESPTAG_DIR_OUT, "192.0.2.1", "198.51.100.7", DISC, 0, 200));
	T_ASSERT(host_run(&f, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	T_EQ(get_seq(1), seq1 + 2);
	seq1++;
	/* With it, the exact pair is more specific than the LPM rule: it wins. */
	T_ASSERT(!set_cfg(ESPTAG_CFGF_AGENT_UP | ESPTAG_CFGF_SPD_HOST, 0, 0));
	T_ASSERT(host_run(&f, TC_ACT_SHOT, ESPTAG_CNT_TX_DROP_DISCARD));
	/* Another source to the same host: a miss, the LPM decides. */
	T_ASSERT(host_run(&g, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	T_EQ(get_seq(1), seq1 + 2);
	/* An exact protect names its own SA (11), not the LPM rule's (1). */
	T_ASSERT(!host_set(ESPTAG_DIR_OUT, "192.0.2.1", "198.51.100.7", PROT, 11, 201));
	T_ASSERT(host_run(&f, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	T_EQ(get_seq(11), seq11 + 1);
	T_EQ(get_seq(1), seq1 + 2);
	T_ASSERT(!bpf_map_lookup_elem(use, &id, u));
	for (int i = 0; i < (ncpu > 0 ? ncpu : 1); i++)
		packets += u[i].packets;
	T_EQ(packets, 1);
	/* Deleted: the LPM again. */
	T_ASSERT(!host_set(ESPTAG_DIR_OUT, "192.0.2.1", "198.51.100.7", 0, 0, 0));
	T_ASSERT(host_run(&f, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	T_EQ(get_seq(1), seq1 + 3);
	/* An inbound entry for the pair is not an outbound policy. */
	T_ASSERT(!host_set(ESPTAG_DIR_IN, "192.0.2.1", "198.51.100.7", DISC, 0, 202));
	T_ASSERT(host_run(&f, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	T_ASSERT(!host_set(ESPTAG_DIR_IN, "192.0.2.1", "198.51.100.7", 0, 0, 0));
	/* IPv6: an exact bypass beats 2001:db8:1::/48 protect. */
	T_ASSERT(!host_set(ESPTAG_DIR_OUT, "2001:db8::1", "2001:db8:1::5", BYP, 0, 203));
	T_ASSERT(host_run(&h, TC_ACT_OK, ESPTAG_CNT_TX_BYPASS));
	T_ASSERT(!host_set(ESPTAG_DIR_OUT, "2001:db8::1", "2001:db8:1::5", 0, 0, 0));
	T_ASSERT(host_run(&h, TC_ACT_OK, ESPTAG_CNT_TX_PROTECT));
	bpf_map_delete_elem(use, &id);
	set_cfg(ESPTAG_CFGF_AGENT_UP, 0, 0);
}

int main(void)
{
	int err = bt_open(&obj, "bpf/esptag_tx.bpf.o", "tx", NULL, NULL);

	if (err) {
		printf("FAIL load: esptag_tx.bpf.o: %s\n", strerror(-err));
		return 1;
	}
	printf("PASS verifier_accepts_esptag_tx\n");
	fd_tx = bt_prog_fd(&obj, "esptag_tx");
	fd_sad = bt_map_fd(&obj, "esptag_sad");
	fd_spd = bt_map_fd(&obj, "esptag_spd");
	fd_src = bt_map_fd(&obj, "esptag_spd_src");
	fd_host = bt_map_fd(&obj, "esptag_spd_host");
	fd_cfg = bt_map_fd(&obj, "esptag_cfg");
	err = install();
	if (fd_tx < 0 || err) {
		printf("FAIL setup: maps: %s\n", strerror(-err));
		bt_close(&obj);
		return 1;
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cur_row = &rows[i];
		t_run(rows[i].name, row_case);
	}
	T_RUN(agent_down);
	T_RUN(already_tagged);
	T_RUN(vlan_hidden_dropped);
	T_RUN(config_frame_passes);
	T_RUN(non_ip_passes);
	T_RUN(three_vlans_dropped);
	T_RUN(custom_ethertypes);
	T_RUN(ipv4_options_transport);
	T_RUN(ipv6_ext_transport);
	T_RUN(fragments);
	T_RUN(malformed_headers);
	T_RUN(truncated_everywhere);
	T_RUN(gso_transport_v4);
	T_RUN(gso_transport_v6_segs_computed);
	T_RUN(gso_tunnel_v4);
	T_RUN(gso_tunnel_v6_in_v4_segs_computed);
	T_RUN(gso_udp_refused);
	T_RUN(gso_no_tso_dropped);
	T_RUN(gso_limits);
	T_RUN(gso_hard_limit);
	T_RUN(seq_unique_across_cpus);
	T_RUN(counters_on_both_cpus);
	T_RUN(trap_policy_acquire);
	T_RUN(host_policy_exact);
	bt_close(&obj);
	return t_done();
}
