// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag_rx (XDP) and esptag_rx_mark (tc) under BPF_PROG_TEST_RUN.
 *
 * Every case builds the frame the stack must receive (the "plain" frame)
 * with the packet builders, then, independently of the program, the frame
 * the agent hands to the host: ESP header + IV inserted, trailer (RFC 4303
 * padding 1, 2, 3 ..., pad length, next header) and a 16-byte ICV appended,
 * IP protocol 50 and lengths grown (tunnel: an outer header added), and the
 * Rx metadata tag. Each row asserts the verdict, the exact output bytes, the
 * XDP metadata record, every esptag_stats counter delta and the per-SA
 * counters.
 */
#include <errno.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "../lib/test.h"
#include "../lib/bpf_test.h"

/* Table rows and expectations list their leading fields positionally. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static struct bt_obj obj;
static int fd_rx, fd_rx_frags, fd_mark, fd_sad, fd_spd, fd_spd_src, fd_cfg;

static const uint8_t mac_us[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint8_t mac_other[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x02 };
static const uint8_t mac_peer[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x99 };
static const uint8_t mac_agent[6] = ESPTAG_AGENT_MAC_INIT;

#define IFINDEX		1	/* the test run's ingress device (lo) */
#define V4_US		"192.0.2.1"
#define V4_PEER		"203.0.113.5"
#define V6_US		"2001:db8::1"
#define V6_PEER		"2001:db8:2::5"
#define TUN4_US		"198.51.100.1"
#define TUN4_PEER	"198.51.100.2"
#define TUN6_US		"2001:db8:100::1"
#define TUN6_PEER	"2001:db8:100::2"

/* Our SAs (agent indices). */
enum {
	SA_V4 = 1, SA_V6, SA_TUN4, SA_TUN6, SA_VLAN, SA_QINQ, SA_OUT, SA_DEAD,
	SA_EXPIRED, SA_OTHER_MAC, SA_ESN, SA_W32, SA_W64, SA_W1024, SA_IFINDEX,
	SA_OTHER_VLAN, SA_FRAGS, SA_V4OPT,
};

struct sa_def {
	uint32_t index;
	uint32_t spi;
	int family;
	bool tunnel;
	const char *us, *peer;		/* daddr (our side), saddr */
	int nvlans;
	struct esptag_vlan vlan[2];
	const uint8_t *mac;
	uint8_t dir;
	uint8_t flags;			/* ESPTAG_SAF_* */
	uint16_t window;
	uint32_t ifindex;
	uint64_t expires_ns;
};

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BE16(x) __builtin_bswap16(x)
#else
#define BE16(x) (x)
#endif
#define VL(tpid, vid) { BE16(tpid), BE16(vid) }

static const struct sa_def sas[] = {
	{ SA_V4, 0x1001, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, IFINDEX, 0 },
	{ SA_V6, 0x1002, 6, false, V6_US, V6_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_TUN4, 0x1003, 4, true, TUN4_US, TUN4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE | ESPTAG_SAF_TUNNEL, 64, 0, 0 },
	{ SA_TUN6, 0x1004, 6, true, TUN6_US, TUN6_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE | ESPTAG_SAF_TUNNEL, 64, 0, 0 },
	{ SA_VLAN, 0x1005, 4, false, V4_US, V4_PEER, 1, { VL(0x8100, 100) }, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_QINQ, 0x1006, 6, false, V6_US, V6_PEER, 2, { VL(0x88a8, 10), VL(0x8100, 20) }, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_OUT, 0x1007, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_OUT, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_DEAD, 0x1008, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, 0, 64, 0, 0 },
	{ SA_EXPIRED, 0x1009, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 1 },
	{ SA_OTHER_MAC, 0x100a, 4, false, V4_US, V4_PEER, 0, {}, mac_other, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_ESN, 0x100b, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE | ESPTAG_SAF_ESN, 128, 0, 0 },
	{ SA_W32, 0x100c, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 32, 0, 0 },
	{ SA_W64, 0x100d, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_W1024, 0x100e, 6, false, V6_US, V6_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE | ESPTAG_SAF_ESN, 1024, 0, 0 },
	{ SA_IFINDEX, 0x100f, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 9999, 0 },
	{ SA_OTHER_VLAN, 0x1010, 4, false, V4_US, V4_PEER, 1, { VL(0x8100, 101) }, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_FRAGS, 0x1011, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
	{ SA_V4OPT, 0x1012, 4, false, V4_US, V4_PEER, 0, {}, mac_us, ESPTAG_DIR_IN, ESPTAG_SAF_ALIVE, 64, 0, 0 },
};

static const struct sa_def *sa_get(uint32_t index)
{
	for (size_t i = 0; i < sizeof(sas) / sizeof(sas[0]); i++)
		if (sas[i].index == index)
			return &sas[i];
	abort();
}

static int sa_install(const struct sa_def *d)
{
	struct esptag_sa sa = {
		.spi = htonl(d->spi), .dir = d->dir, .family = d->family,
		.mode = d->tunnel ? ESPTAG_MODE_TUNNEL : ESPTAG_MODE_TRANSPORT,
		.flags = d->flags, .ifindex = d->ifindex, .nvlans = d->nvlans,
		.icv_len = ESPTAG_ICV_LEN, .replay_window = d->window,
		.expires_ns = d->expires_ns,
	};

	memcpy(sa.local_mac, d->mac, 6);
	memcpy(sa.vlan, d->vlan, sizeof(sa.vlan));
	bt_addr(d->us, sa.daddr, NULL);
	bt_addr(d->peer, sa.saddr, NULL);
	/* A fresh replay window, then the SA (user/lib/sa_mirror.h). */
	return esptag_sa_mirror_write(&(struct esptag_sa_maps){ .sad = fd_sad, .sa_stats = -1 },
				      d->index, &sa, NULL, NULL);
}

/* The SA's replay window, in its esptag_sad value (no program runs between
 * a read and a write here). */
static int get_replay(uint32_t idx, struct esptag_replay *r)
{
	struct esptag_sa v;

	if (bpf_map_lookup_elem(fd_sad, &idx, &v))
		return -1;
	*r = v.replay;
	return 0;
}

static int put_replay(uint32_t idx, const struct esptag_replay *r)
{
	struct esptag_sa v;

	if (bpf_map_lookup_elem(fd_sad, &idx, &v))
		return -1;
	v.replay = *r;
	return bpf_map_update_elem(fd_sad, &idx, &v, BPF_ANY);
}

/* ---------------------------------------------------------------------- */
/* Frames                                                                  */
/* ---------------------------------------------------------------------- */

struct flow {
	int family;			/* of the plain packet */
	int nvlans;
	struct esptag_vlan vlan[2];
	const uint8_t *dst_mac;
	const char *src, *dst;
	uint8_t l4;			/* IPPROTO_UDP / TCP */
	size_t plen;			/* L4 payload bytes */
	uint8_t seed;
	int v4_opts;			/* 4-byte option words in the IPv4 header */
	int v6_ext;			/* IPv6: hop-by-hop, then destination options headers */
};

/* The frame the host stack must receive. Returns the IP header offset. */
static size_t plain_frame(const struct flow *f, struct bt_pkt *p)
{
	size_t ip, l4 = 0;

	p->len = 0;
	bt_l2(p, f->dst_mac, mac_peer, f->vlan, f->nvlans,
	      f->family == 4 ? ETH_P_IP : ETH_P_IPV6);
	if (f->family == 4) {
		ip = bt_ipv4(p, f->src, f->dst, f->l4);
		if (f->v4_opts) {
			/* NOP options, then IHL grows accordingly. */
			for (int i = 0; i < f->v4_opts * 4; i++)
				bt_put(p, "\x01", 1);
			p->b[ip] = 0x40 | (5 + f->v4_opts);
		}
	} else {
		ip = bt_ipv6(p, f->src, f->dst, f->v6_ext ? 0 : f->l4);
		for (int i = 0; i < f->v6_ext; i++) {
			struct bt_ipv6_ext e = { .nexthdr = i + 1 < f->v6_ext ? 60 : f->l4,
						 .data = { 1, 4 } };	/* PadN */

			bt_put(p, &e, sizeof(e));
		}
	}
	if (f->l4 == IPPROTO_TCP)
		l4 = bt_tcp(p, 40000, 443, 0x01020304, 0x18);
	else if (f->l4 == IPPROTO_UDP)
		l4 = bt_udp(p, 40000, 4789);
	bt_payload(p, f->plen, f->seed);
	if (f->l4 == IPPROTO_UDP)
		bt_udp_finish(p, l4);
	if (f->family == 4)
		bt_ipv4_finish(p, ip);
	else
		bt_ipv6_finish(p, ip);
	return ip;
}

static const uint8_t icv_pattern = 0xc5;

/* Append the decrypted trailer (pad, pad length, next header) and an ICV
 * for a payload of plen bytes. Returns the trailer length. */
static size_t put_trailer(struct bt_pkt *p, size_t plen, uint8_t next_hdr)
{
	size_t pad = (4 - (plen + 2) % 4) % 4;
	uint8_t icv[ESPTAG_ICV_LEN];

	for (size_t i = 1; i <= pad; i++) {
		uint8_t b = (uint8_t)i;

		bt_put(p, &b, 1);
	}
	bt_put(p, &(uint8_t){ (uint8_t)pad }, 1);
	bt_put(p, &next_hdr, 1);
	memset(icv, icv_pattern, sizeof(icv));
	bt_put(p, icv, sizeof(icv));
	return pad + 2 + ESPTAG_ICV_LEN;
}

static void ip_fix(struct bt_pkt *p, size_t ip, int family)
{
	if (family == 4)
		bt_ipv4_finish(p, ip);
	else
		bt_ipv6_finish(p, ip);
}

struct wire_opts {
	uint8_t result;
	uint32_t sa_index;
	uint64_t seq;
	uint8_t flags;
};

/*
 * What the agent sends the host for plain frame `plain` (IP header at ip)
 * received under SA d with sequence number seq: transport adds ESP in
 * place; tunnel wraps the plain IP packet in an outer header of d's family.
 */
static void wire_frame(const struct sa_def *d, const struct bt_pkt *plain, size_t ip,
		       const struct wire_opts *w, struct bt_pkt *out)
{
	size_t l2len = ip, iphl, esp_off, payload_off, trailer, oip;
	int pfam = (plain->b[ip] >> 4) == 4 ? 4 : 6;
	struct esptag_meta m = { 0 };
	uint8_t nh;

	out->len = 0;
	if (!d->tunnel) {
		size_t nh_off = 6;

		iphl = pfam == 4 ? (plain->b[ip] & 0xf) * 4 : 40;
		if (pfam == 6) {
			/* Walk hop-by-hop / destination options: ESP follows them. */
			uint8_t t = plain->b[ip + 6];

			while (t == 0 || t == 60) {
				nh_off = iphl;
				t = plain->b[ip + iphl];
				iphl += 8 * (plain->b[ip + iphl + 1] + 1);
			}
		}
		nh = pfam == 4 ? plain->b[ip + 9] : plain->b[ip + nh_off];
		bt_put(out, plain->b, ip + iphl);
		esp_off = out->len;
		bt_esp(out, d->spi, w->seq);
		payload_off = out->len;
		bt_put(out, plain->b + ip + iphl, plain->len - ip - iphl);
		trailer = put_trailer(out, plain->len - ip - iphl, nh);
		if (pfam == 4)
			out->b[ip + 9] = ESPTAG_IPPROTO_ESP;
		else
			out->b[ip + nh_off] = ESPTAG_IPPROTO_ESP;
		ip_fix(out, ip, pfam);
	} else {
		bt_put(out, plain->b, l2len);
		/* EtherType of the outer family (the last 2 bytes of L2). */
		out->b[l2len - 2] = d->family == 4 ? 0x08 : 0x86;
		out->b[l2len - 1] = d->family == 4 ? 0x00 : 0xdd;
		oip = d->family == 4 ? bt_ipv4(out, d->peer, d->us, ESPTAG_IPPROTO_ESP)
				     : bt_ipv6(out, d->peer, d->us, ESPTAG_IPPROTO_ESP);
		esp_off = out->len;
		bt_esp(out, d->spi, w->seq);
		payload_off = out->len;
		bt_put(out, plain->b + ip, plain->len - ip);
		nh = pfam == 4 ? 4 : 41;
		trailer = put_trailer(out, plain->len - ip, nh);
		ip_fix(out, oip, d->family);
	}
	m.version = ESPTAG_META_VERSION;
	m.kind = ESPTAG_META_RX;
	m.flags = w->flags;
	m.next_hdr = nh;
	m.result = w->result;
	m.esp_off = htons(esp_off);
	m.payload_off = htons(payload_off);
	m.trailer_len = w->result == ESPTAG_RES_OK ? htons(trailer) : 0;
	m.sa_index = htonl(w->sa_index);
	m.seq_hi = htonl((uint32_t)(w->seq >> 32));
	m.seq_lo = htonl((uint32_t)w->seq);
	bt_meta_insert(out, &m);
}

/* ---------------------------------------------------------------------- */
/* Running                                                                 */
/* ---------------------------------------------------------------------- */

struct xdp_res {
	uint32_t retval;
	uint32_t meta_len;
	uint32_t len;			/* frame bytes after the metadata */
	uint8_t buf[BT_PKT_MAX + 4096];
	const uint8_t *frame;
	struct esptag_xdp_meta meta;
};

static int run_xdp(int fd, const void *in, size_t len, uint32_t ifindex, struct xdp_res *r)
{
	struct xdp_md ctx = { .data = 0, .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in, .data_size_in = len,
		.data_out = r->buf, .data_size_out = sizeof(r->buf),
		.ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		.ctx_out = &ctx, .ctx_size_out = sizeof(ctx),
		.repeat = 1);
	int err = bpf_prog_test_run_opts(fd, &opts);

	if (err)
		return err;
	r->retval = opts.retval;
	r->meta_len = ctx.data;		/* data_meta is 0 in the output */
	r->len = opts.data_size_out - ctx.data;
	r->frame = r->buf + ctx.data;
	memset(&r->meta, 0, sizeof(r->meta));
	if (r->meta_len == sizeof(r->meta))
		memcpy(&r->meta, r->buf, sizeof(r->meta));
	return 0;
}

struct expect {
	uint32_t verdict;
	int cnt;			/* the one esptag_stats counter that moves by 1 */
	const struct bt_pkt *out;	/* expected frame (NULL: the input, unchanged) */
	uint32_t sa;			/* per-SA counters to check, 0 = none */
	int sa_pkts, sa_drops;
	bool trusted;			/* XDP metadata record expected */
};

static uint64_t sa_bytes_delta;

/* Run one frame through fd and check everything; false on failure. */
static bool check_at(int line, int fd, const struct bt_pkt *in, size_t len,
		     const struct expect *e)
{
	static struct xdp_res r;
	uint64_t before[ESPTAG_CNT_MAX], after[ESPTAG_CNT_MAX];
	struct esptag_sa_stats sb, sa_after;
	int err;

	if (bt_counters(&obj, before) || (e->sa && bt_sa_stats(&obj, e->sa, &sb) < 0)) {
		t_fail(__FILE__, line, "cannot read counters");
		return false;
	}
	err = run_xdp(fd, in->b, len, IFINDEX, &r);
	if (err) {
		t_fail(__FILE__, line, "test run: %s", strerror(-err));
		return false;
	}
	if (bt_counters(&obj, after) || (e->sa && bt_sa_stats(&obj, e->sa, &sa_after) < 0)) {
		t_fail(__FILE__, line, "cannot read counters");
		return false;
	}
	if (r.retval != e->verdict) {
		t_fail(__FILE__, line, "verdict %u, want %u (counter moved: %d)", r.retval,
		       e->verdict, ({ int k = -1; for (int i = 0; i < ESPTAG_CNT_MAX; i++) if (after[i] != before[i]) k = i; k; }));
		return false;
	}
	for (int k = 0; k < ESPTAG_CNT_MAX; k++) {
		long long d = (long long)(after[k] - before[k]), want = k == e->cnt;

		if (d != want) {
			t_fail(__FILE__, line, "counter %d moved by %lld, want %lld", k, d, want);
			return false;
		}
	}
	if (e->verdict == XDP_PASS) {
		const uint8_t *want = e->out ? e->out->b : in->b;
		size_t wlen = e->out ? e->out->len : len;

		if (r.len != wlen || memcmp(r.frame, want, wlen)) {
			t_hexdiff(r.frame, r.len, want, wlen);
			t_fail(__FILE__, line, "output frame differs (len %u, want %zu)", r.len, wlen);
			return false;
		}
		if (e->trusted && (r.meta_len != sizeof(r.meta) ||
				   r.meta.magic != ESPTAG_XDP_META_MAGIC || r.meta.sa_index != e->sa)) {
			t_fail(__FILE__, line, "XDP metadata: len %u magic %#x sa %u, want sa %u",
			       r.meta_len, r.meta.magic, r.meta.sa_index, e->sa);
			return false;
		}
		if (!e->trusted && r.meta_len) {
			t_fail(__FILE__, line, "unexpected XDP metadata (%u bytes)", r.meta_len);
			return false;
		}
	}
	if (e->sa) {
		long long dp = sa_after.packets - sb.packets, dd = sa_after.drops - sb.drops;
		long long db = sa_after.bytes - sb.bytes;

		if (dp != e->sa_pkts || dd != e->sa_drops) {
			t_fail(__FILE__, line, "SA %u: packets +%lld drops +%lld, want +%d +%d",
			       e->sa, dp, dd, e->sa_pkts, e->sa_drops);
			return false;
		}
		if (e->sa_pkts && e->verdict == XDP_PASS && (uint64_t)db != (e->out ? e->out->len : len)) {
			t_fail(__FILE__, line, "SA %u: bytes +%lld, want +%zu", e->sa, db,
			       e->out ? e->out->len : len);
			return false;
		}
		sa_bytes_delta = db;
	}
	return true;
}
#define CHECK(fd, in, len, ...) \
	do { if (!check_at(__LINE__, fd, in, len, &(struct expect){ __VA_ARGS__ })) return; } while (0)

static const struct flow flow_v4 = { 4, 0, {}, mac_us, V4_PEER, V4_US, IPPROTO_UDP, 61, 1, 0 };
static const struct flow flow_v6 = { 6, 0, {}, mac_us, V6_PEER, V6_US, IPPROTO_TCP, 100, 2, 0 };

/* Build plain + wire for sa/flow with an OK tag and sequence seq. */
static size_t build_ok(uint32_t sa, const struct flow *f, uint64_t seq,
		       struct bt_pkt *plain, struct bt_pkt *wire)
{
	const struct sa_def *d = sa_get(sa);
	struct wire_opts w = { ESPTAG_RES_OK, sa, seq, (d->flags & ESPTAG_SAF_ESN) ? ESPTAG_META_F_ESN : 0 };
	size_t ip = plain_frame(f, plain);

	wire_frame(d, plain, ip, &w, wire);
	return ip;
}

/* Tunnel mode: the stack gets the inner packet behind the same L2. */
static void tunnel_expect(const struct bt_pkt *plain, size_t ip, struct bt_pkt *out)
{
	*out = *plain;
	(void)ip;
}

static struct bt_pkt plain, wire, expect_pkt;

/* ---------------------------------------------------------------------- */
/* Cases                                                                   */
/* ---------------------------------------------------------------------- */

static void ok_one(int fd, uint32_t sa, const struct flow *f, uint64_t seq)
{
	size_t ip = build_ok(sa, f, seq, &plain, &wire);

	tunnel_expect(&plain, ip, &expect_pkt);
	CHECK(fd, &wire, wire.len, XDP_PASS, ESPTAG_CNT_RX_OK, &expect_pkt, sa, 1, 0, true);
}

static void test_ok_ipv4_transport(void)
{
	ok_one(fd_rx, SA_V4, &flow_v4, 1);
}

/* A hairpinned frame (east-west, turned around by the agent) is handled
 * like any other decrypted frame. */
static void test_ok_hairpin(void)
{
	const struct sa_def *d = sa_get(SA_V4);
	struct wire_opts w = { ESPTAG_RES_OK, SA_V4, 2, ESPTAG_META_F_HAIRPIN };
	size_t ip = plain_frame(&flow_v4, &plain);

	wire_frame(d, &plain, ip, &w, &wire);
	CHECK(fd_rx, &wire, wire.len, XDP_PASS, ESPTAG_CNT_RX_OK, &plain, SA_V4, 1, 0, true);
}

static void test_ok_ipv6_transport(void)
{
	ok_one(fd_rx, SA_V6, &flow_v6, 1);
}

static void test_ok_ipv4_options_transport(void)
{
	struct flow f = flow_v4;

	f.v4_opts = 3;
	ok_one(fd_rx, SA_V4OPT, &f, 1);
}

static void test_ok_ipv6_ext_transport(void)
{
	struct flow f = flow_v6;

	/* ESP after extension headers: the next header to restore is in the
	 * last of them. */
	f.v6_ext = 1;
	ok_one(fd_rx, SA_V6, &f, 11);
	f.v6_ext = 2;
	ok_one(fd_rx, SA_V6, &f, 12);
}

static void test_ok_ipv4_tunnel_inner_v4(void)
{
	struct flow f = { 4, 0, {}, mac_us, "192.0.2.77", "192.0.2.1", IPPROTO_TCP, 33, 3, 0 };

	ok_one(fd_rx, SA_TUN4, &f, 1);
}

static void test_ok_ipv4_tunnel_inner_v6(void)
{
	struct flow f = { 6, 0, {}, mac_us, V6_PEER, V6_US, IPPROTO_UDP, 7, 4, 0 };

	ok_one(fd_rx, SA_TUN4, &f, 2);
}

static void test_ok_ipv6_tunnel_inner_v4(void)
{
	struct flow f = { 4, 0, {}, mac_us, "192.0.2.77", "192.0.2.1", IPPROTO_UDP, 0, 5, 0 };

	ok_one(fd_rx, SA_TUN6, &f, 1);
}

static void test_ok_ipv6_tunnel_inner_v6(void)
{
	struct flow f = { 6, 0, {}, mac_us, V6_PEER, V6_US, IPPROTO_TCP, 1400, 6, 0 };

	ok_one(fd_rx, SA_TUN6, &f, 2);
}

static void test_ok_vlan(void)
{
	struct flow f = flow_v4;

	f.nvlans = 1;
	f.vlan[0] = (struct esptag_vlan)VL(0x8100, 100);
	ok_one(fd_rx, SA_VLAN, &f, 1);
	/* PCP/DEI bits do not matter, the VID does. */
	f.vlan[0].tci = htons(0xe000 | 100);
	ok_one(fd_rx, SA_VLAN, &f, 2);
}

static void test_ok_qinq(void)
{
	struct flow f = flow_v6;

	f.nvlans = 2;
	f.vlan[0] = (struct esptag_vlan)VL(0x88a8, 10);
	f.vlan[1] = (struct esptag_vlan)VL(0x8100, 20);
	ok_one(fd_rx, SA_QINQ, &f, 1);
}

static void test_ok_frags_program(void)
{
	/* The xdp.frags entry point runs the same body: single buffer... */
	ok_one(fd_rx_frags, SA_FRAGS, &flow_v4, 1);
	/* ... and a multi-buffer frame (trailer in a fragment). */
	{
		struct flow f = flow_v6;

		/* The test run puts at most 4096 - 256 - 320 = 3520 bytes in
		 * the first buffer, the rest in fragments. */
		f.plen = 3800;
		T_ASSERT(!put_replay(SA_V6, &(struct esptag_replay){ 0 }));
		ok_one(fd_rx_frags, SA_V6, &f, 7);
		T_ASSERT(wire.len > 3520 + ESPTAG_ICV_LEN + 4);
		ok_one(fd_rx, SA_V6, &f, 8);
	}
}

/* Results other than OK: dropped, counted by reason, window untouched. */
static void test_results(void)
{
	static const struct { uint8_t result; int cnt; } rows[] = {
		{ ESPTAG_RES_AUTH_FAIL, ESPTAG_CNT_RX_DROP_AUTH },
		{ ESPTAG_RES_NO_SA, ESPTAG_CNT_RX_DROP_NO_SA },
		{ ESPTAG_RES_MALFORMED, ESPTAG_CNT_RX_DROP_AGENT_MALFORMED },
		{ ESPTAG_RES_UNSUPPORTED, ESPTAG_CNT_RX_DROP_UNSUPPORTED },
	};
	const struct sa_def *d = sa_get(SA_W64);

	sa_install(d);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct wire_opts w = { rows[i].result, SA_W64, 500, 0 };
		size_t ip = plain_frame(&flow_v4, &plain);

		wire_frame(d, &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, rows[i].cnt, NULL, SA_W64, 0, 1);
		/* Unknown index: dropped the same, no per-SA entry created. */
		w.sa_index = i == 1 ? ESPTAG_SA_INDEX_NONE : 4242;
		wire_frame(d, &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, rows[i].cnt);
	}
	/* An unknown result code is a bad tag (docs/protocol.md 2.9). */
	{
		struct wire_opts w = { 77, SA_W64, 500, 0 };
		size_t ip = plain_frame(&flow_v4, &plain);

		wire_frame(d, &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_TAG, NULL, SA_W64, 0, 0);
	}
	/* None of them touched the window: 500 is still fresh. */
	ok_one(fd_rx, SA_W64, &flow_v4, 500);
}

#define TAG(w)	((struct esptag_meta *)((w)->b + 12))

/* RFC 4303 2.6 dummy packets (next header 59): authenticated, the window
 * advances, counted as rx_dummy (a packet of the SA, not a drop), then
 * discarded. */
static void test_dummy_packet(void)
{
	struct flow f = flow_v4;

	f.l4 = IPPROTO_NONE;
	sa_install(sa_get(SA_W64));
	build_ok(SA_W64, &f, 5, &plain, &wire);
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DUMMY, NULL, SA_W64, 1, 0);
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_REPLAY, NULL, SA_W64, 0, 1);
	/* Tunnel mode too. */
	sa_install(sa_get(SA_TUN6));
	build_ok(SA_TUN6, &f, 5, &plain, &wire);
	TAG(&wire)->next_hdr = IPPROTO_NONE;
	wire.b[wire.len - ESPTAG_ICV_LEN - 1] = IPPROTO_NONE;
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DUMMY, NULL, SA_TUN6, 1, 0);
}

/* Host-side SA checks. */
static void test_sa_checks(void)
{
	static const struct { uint32_t sa; int cnt; } rows[] = {
		{ SA_OUT, ESPTAG_CNT_RX_DROP_DIR },
		{ SA_DEAD, ESPTAG_CNT_RX_DROP_DEAD },
		{ SA_EXPIRED, ESPTAG_CNT_RX_DROP_DEAD },
		{ SA_OTHER_MAC, ESPTAG_CNT_RX_DROP_DOMAIN },
		{ SA_IFINDEX, ESPTAG_CNT_RX_DROP_DOMAIN },
		{ SA_OTHER_VLAN, ESPTAG_CNT_RX_DROP_DOMAIN },
	};
	struct flow vf = flow_v4;

	vf.nvlans = 1;
	vf.vlan[0] = (struct esptag_vlan)VL(0x8100, 100);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		build_ok(rows[i].sa, rows[i].sa == SA_OTHER_VLAN ? &vf : &flow_v4, 1, &plain, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, rows[i].cnt, NULL, rows[i].sa, 0, 1);
	}
	/* A VLAN SA used for an untagged frame, an untagged SA for a tagged
	 * one, Q-in-Q SA with one tag: all wrong domain. */
	{
		struct wire_opts w = { ESPTAG_RES_OK, SA_VLAN, 9, 0 };
		size_t ip = plain_frame(&flow_v4, &plain);

		wire_frame(sa_get(SA_VLAN), &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_DOMAIN, NULL, SA_VLAN, 0, 1);
		w.sa_index = SA_V4;
		ip = plain_frame(&vf, &plain);
		wire_frame(sa_get(SA_V4), &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_DOMAIN, NULL, SA_V4, 0, 1);
	}
	/* Unknown index with result OK. */
	{
		struct wire_opts w = { ESPTAG_RES_OK, 31337, 1, 0 };
		size_t ip = plain_frame(&flow_v4, &plain);

		wire_frame(sa_get(SA_V4), &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_UNKNOWN_SA);
	}
	/* A frame for another MAC carried by the right SA's domain fails too:
	 * plain frame to mac_other under SA_V4. */
	{
		struct flow f = flow_v4;

		f.dst_mac = mac_other;
		build_ok(SA_V4, &f, 77, &plain, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_DOMAIN, NULL, SA_V4, 0, 1);
	}
}

/* Replay: run seq on sa, expect verdict/counter. */
static bool replay_at(int line, uint32_t sa, uint64_t seq, int cnt)
{
	const struct sa_def *d = sa_get(sa);
	const struct flow *f = d->family == 4 ? &flow_v4 : &flow_v6;
	size_t ip = build_ok(sa, f, seq, &plain, &wire);

	tunnel_expect(&plain, ip, &expect_pkt);
	if (cnt == ESPTAG_CNT_RX_OK)
		return check_at(line, fd_rx, &wire, wire.len,
				&(struct expect){ XDP_PASS, cnt, &expect_pkt, sa, 1, 0, true });
	return check_at(line, fd_rx, &wire, wire.len,
			&(struct expect){ XDP_DROP, cnt, NULL, sa, 0, 1, false });
}
#define REPLAY(sa, seq, cnt) do { if (!replay_at(__LINE__, sa, seq, cnt)) return; } while (0)
#define FRESH	ESPTAG_CNT_RX_OK
#define DUP	ESPTAG_CNT_RX_DROP_REPLAY
#define OLD	ESPTAG_CNT_RX_DROP_OLD

static void test_replay_fresh_dup_old(void)
{
	sa_install(sa_get(SA_W64));
	REPLAY(SA_W64, 0, OLD);		/* 0 is never valid */
	REPLAY(SA_W64, 1, FRESH);
	REPLAY(SA_W64, 1, DUP);
	REPLAY(SA_W64, 3, FRESH);	/* gap */
	REPLAY(SA_W64, 2, FRESH);	/* late, inside the window */
	REPLAY(SA_W64, 2, DUP);
	REPLAY(SA_W64, 100, FRESH);	/* advance */
	REPLAY(SA_W64, 36, OLD);	/* 100 - 36 = 64: left of the window */
	REPLAY(SA_W64, 37, FRESH);	/* 63: last slot */
	REPLAY(SA_W64, 37, DUP);
	REPLAY(SA_W64, 100, DUP);
	REPLAY(SA_W64, 5000, FRESH);	/* jump beyond the whole ring */
	REPLAY(SA_W64, 4999, FRESH);
	REPLAY(SA_W64, 100, OLD);
}

/* A frame the agent coalesced from segs ESP packets seq .. seq + segs - 1
 * (tag mss): the range is fresh only as a whole, right of the window, and
 * then every number in it is recorded and counted. */
static bool range_at(int line, uint32_t sa, uint64_t seq, uint16_t segs, int cnt)
{
	const struct sa_def *d = sa_get(sa);
	const struct flow *f = d->family == 4 ? &flow_v4 : &flow_v6;
	size_t ip = build_ok(sa, f, seq, &plain, &wire);

	((struct esptag_meta *)(wire.b + 12))->mss = htons(segs);
	tunnel_expect(&plain, ip, &expect_pkt);
	if (cnt == ESPTAG_CNT_RX_OK)
		return check_at(line, fd_rx, &wire, wire.len,
				&(struct expect){ XDP_PASS, cnt, &expect_pkt, sa, segs, 0, true });
	/* A bad tag is refused before the SA is looked at (no per-SA drop). */
	return check_at(line, fd_rx, &wire, wire.len,
			&(struct expect){ XDP_DROP, cnt, NULL,
					  cnt == ESPTAG_CNT_RX_DROP_TAG ? 0 : sa, 0, 1, false });
}
#define RANGE(sa, seq, n, cnt) do { if (!range_at(__LINE__, sa, seq, n, cnt)) return; } while (0)

static void test_replay_range(void)
{
	sa_install(sa_get(SA_W64));
	RANGE(SA_W64, 10, 4, FRESH);	/* 10 .. 13 */
	REPLAY(SA_W64, 10, DUP);
	REPLAY(SA_W64, 11, DUP);
	REPLAY(SA_W64, 12, DUP);
	REPLAY(SA_W64, 13, DUP);
	REPLAY(SA_W64, 9, FRESH);	/* left of the range, inside the window */
	RANGE(SA_W64, 14, 2, FRESH);
	RANGE(SA_W64, 15, 3, OLD);	/* overlaps what was seen: refused whole */
	REPLAY(SA_W64, 16, FRESH);	/* ... and nothing of it recorded */
	REPLAY(SA_W64, 17, FRESH);
	RANGE(SA_W64, 5, 2, OLD);	/* left of the top */
	RANGE(SA_W64, 60, 10, FRESH);	/* 60 .. 69, across a bitmap word */
	REPLAY(SA_W64, 63, DUP);
	REPLAY(SA_W64, 64, DUP);
	REPLAY(SA_W64, 69, DUP);
	REPLAY(SA_W64, 59, FRESH);
	RANGE(SA_W64, 200, 64, FRESH);	/* the largest range */
	REPLAY(SA_W64, 200, DUP);
	REPLAY(SA_W64, 263, DUP);
	RANGE(SA_W64, 300, 65, ESPTAG_CNT_RX_DROP_TAG);	/* more than ESPTAG_RX_MAX_SEGS */
	REPLAY(SA_W64, 300, FRESH);
}

static void test_replay_window_sizes(void)
{
	static const struct { uint32_t sa; uint32_t w; } rows[] = {
		{ SA_W32, 32 }, { SA_W64, 64 }, { SA_W1024, 1024 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint32_t sa = rows[i].sa, w = rows[i].w;
		uint64_t top = 3000;

		sa_install(sa_get(sa));
		REPLAY(sa, top, FRESH);
		REPLAY(sa, top - w, OLD);
		REPLAY(sa, top - w + 1, FRESH);
		REPLAY(sa, top - w + 1, DUP);
		REPLAY(sa, top - 1, FRESH);
		REPLAY(sa, top, DUP);
	}
}

/*
 * The 1024-bit ring when the top advances by less than a lap: exactly the
 * numbers top+1 .. seq are forgotten. Bits of the previous lap are planted
 * in top's word (above top), in a word in between, in seq's word (below
 * and above seq), then the numbers sharing those bits are tried.
 */
static void test_replay_ring(void)
{
	sa_install(sa_get(SA_W1024));
	REPLAY(SA_W1024, 2000, FRESH);	/* ring 976, word 15 */
	REPLAY(SA_W1024, 986, FRESH);	/* ring 986, word 15, above top */
	REPLAY(SA_W1024, 1100, FRESH);	/* ring 76, word 1 */
	REPLAY(SA_W1024, 1154, FRESH);	/* ring 130, word 2 (below 2200's bit) */
	REPLAY(SA_W1024, 1184, FRESH);	/* ring 160, word 2 (above 2200's bit) */
	REPLAY(SA_W1024, 1181, FRESH);	/* ring 157 */
	REPLAY(SA_W1024, 1188, FRESH);	/* ring 164 */
	REPLAY(SA_W1024, 2200, FRESH);	/* advance 200: ring 977..1023, 0..152 */
	REPLAY(SA_W1024, 2000, DUP);	/* kept */
	REPLAY(SA_W1024, 2010, FRESH);	/* ring 986 forgotten */
	REPLAY(SA_W1024, 2124, FRESH);	/* ring 76 forgotten */
	REPLAY(SA_W1024, 2178, FRESH);	/* ring 130 forgotten */
	REPLAY(SA_W1024, 1184, DUP);	/* ring 160 still 1184's */
	REPLAY(SA_W1024, 1177, FRESH);	/* 2200 - 1023: last slot */
	REPLAY(SA_W1024, 1176, OLD);	/* 2200 - 1024 */
	REPLAY(SA_W1024, 2210, FRESH);	/* same word: ring 153..162 */
	REPLAY(SA_W1024, 2205, FRESH);	/* ring 157 forgotten */
	REPLAY(SA_W1024, 1188, DUP);	/* ring 164 kept */
	REPLAY(SA_W1024, 1186, OLD);	/* 2210 - 1024 */
	REPLAY(SA_W1024, 3233, FRESH);	/* 1023 ahead: 16 words, top's word twice */
	REPLAY(SA_W1024, 2210, DUP);	/* ring 162: 3233 - 2210 = 1023 */
	REPLAY(SA_W1024, 3186, FRESH);	/* ring 114 */
	REPLAY(SA_W1024, 3234, FRESH);
	REPLAY(SA_W1024, 2210, OLD);
}

/* The program against a reference model (every number ever accepted is
 * remembered) on pseudo-random sequences, for each window size. */
static void test_replay_model(void)
{
	static const struct { uint32_t sa; uint32_t w; } rows[] = {
		{ SA_W32, 32 }, { SA_W64, 64 }, { SA_W1024, 1024 },
	};
	static uint8_t seen[1 << 16];
	uint32_t rnd = 12345;

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		uint64_t top = 0;

		memset(seen, 0, sizeof(seen));
		sa_install(sa_get(rows[r].sa));
		for (int i = 0; i < 400; i++) {
			int64_t s;
			int want;

			rnd = rnd * 1103515245 + 12345;
			/* Mostly around the window's edge, sometimes far ahead. */
			s = (int64_t)top + (int64_t)((rnd >> 8) % (rows[r].w + 300)) -
			    (int64_t)rows[r].w - 20;
			if ((rnd >> 4) % 16 == 0)
				s = top + 1 + (rnd >> 12) % 1500;
			if (s < 0 || s >= (int64_t)sizeof(seen))
				continue;
			if (s == 0)
				want = OLD;
			else if ((uint64_t)s > top)
				want = FRESH;
			else if (top - s >= rows[r].w)
				want = OLD;
			else if (seen[s])
				want = DUP;
			else
				want = FRESH;
			if (want == FRESH) {
				seen[s] = 1;
				if ((uint64_t)s > top)
					top = s;
			}
			if (!replay_at(__LINE__, rows[r].sa, s, want)) {
				fprintf(stderr, "  window %u, step %d, seq %lld, top %llu\n",
					rows[r].w, i, (long long)s, (unsigned long long)top);
				return;
			}
		}
	}
}

/*
 * Two CPUs feed the same sequence numbers 1..N of one SA at once: under the
 * SA's spin lock every number is accepted exactly once in all; the other
 * copy is a duplicate or, when one CPU ran more than a window ahead, too old.
 */
#define RACE_N	3000
static struct bt_pkt race_frames[RACE_N];
static pthread_barrier_t race_start;

struct race_arg {
	int cpu;
	int ok, dup, old, other;
};

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	static __thread struct xdp_res r;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	pthread_barrier_wait(&race_start);
	for (int i = 0; i < RACE_N; i++) {
		if (run_xdp(fd_rx, race_frames[i].b, race_frames[i].len, IFINDEX, &r)) {
			a->other++;
			continue;
		}
		a->ok += r.retval == XDP_PASS;
		a->other += r.retval != XDP_PASS && r.retval != XDP_DROP;
	}
	return NULL;
}

static void test_replay_two_cpus(void)
{
	uint64_t before[ESPTAG_CNT_MAX], after[ESPTAG_CNT_MAX];
	struct race_arg a[2] = { { .cpu = 0 }, { .cpu = 1 } };
	pthread_t t[2];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 2) {
		t_skip("needs 2 CPUs");
		return;
	}
	for (int i = 0; i < RACE_N; i++)
		build_ok(SA_W1024, &flow_v6, i + 1, &plain, &race_frames[i]);
	for (int round = 0; round < 4; round++) {
		memset(a, 0, sizeof(a));
		a[1].cpu = 1;
		sa_install(sa_get(SA_W1024));	/* fresh window */
		T_EQ(bt_counters(&obj, before), 0);
		pthread_barrier_init(&race_start, NULL, 2);
		for (int i = 0; i < 2; i++)
			T_EQ(pthread_create(&t[i], NULL, race_thread, &a[i]), 0);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&race_start);
		T_EQ(bt_counters(&obj, after), 0);
		T_EQ(a[0].other + a[1].other, 0);
		T_EQ(a[0].ok + a[1].ok, RACE_N);
		T_EQ(after[ESPTAG_CNT_RX_OK] - before[ESPTAG_CNT_RX_OK], RACE_N);
		T_EQ(after[ESPTAG_CNT_RX_DROP_REPLAY] - before[ESPTAG_CNT_RX_DROP_REPLAY] +
		     after[ESPTAG_CNT_RX_DROP_OLD] - before[ESPTAG_CNT_RX_DROP_OLD], RACE_N);
		fprintf(stderr, "  two CPUs, round %d: cpu0 accepted %d, cpu1 %d, duplicates %llu, too old %llu\n",
			round, a[0].ok, a[1].ok,
			(unsigned long long)(after[ESPTAG_CNT_RX_DROP_REPLAY] - before[ESPTAG_CNT_RX_DROP_REPLAY]),
			(unsigned long long)(after[ESPTAG_CNT_RX_DROP_OLD] - before[ESPTAG_CNT_RX_DROP_OLD]));
	}
}

/*
 * A window another CPU holds (ESPTAG_REPLAY_BUSY in top, set here by hand)
 * is never checked: the packet is dropped (rx_drop_replay_busy) and the
 * window stays as it was; once released the same number is accepted.
 */
static void test_replay_busy(void)
{
	uint32_t idx = SA_W64;
	struct esptag_replay r;

	sa_install(sa_get(SA_W64));
	REPLAY(SA_W64, 10, FRESH);
	T_EQ(get_replay(idx, &r), 0);
	T_EQ(r.top, 10);
	r.top |= ESPTAG_REPLAY_BUSY;
	T_EQ(put_replay(idx, &r), 0);
	REPLAY(SA_W64, 11, ESPTAG_CNT_RX_DROP_REPLAY_BUSY);
	REPLAY(SA_W64, 10, ESPTAG_CNT_RX_DROP_REPLAY_BUSY);	/* not even a duplicate check */
	T_EQ(get_replay(idx, &r), 0);
	T_EQ(r.top, 10 | ESPTAG_REPLAY_BUSY);
	r.top = 10;
	T_EQ(put_replay(idx, &r), 0);
	REPLAY(SA_W64, 11, FRESH);
	REPLAY(SA_W64, 10, DUP);
	T_EQ(get_replay(idx, &r), 0);
	T_EQ(r.top, 11);	/* released: the bit is not left set */
}

static void test_replay_esn_wrap(void)
{
	sa_install(sa_get(SA_ESN));	/* window 128 */
	REPLAY(SA_ESN, 0xfffffff0ULL, FRESH);
	REPLAY(SA_ESN, 0xffffffffULL, FRESH);
	REPLAY(SA_ESN, 0x100000000ULL, FRESH);	/* seq_lo wraps to 0, seq_hi 1 */
	REPLAY(SA_ESN, 0x100000005ULL, FRESH);
	REPLAY(SA_ESN, 0xfffffffeULL, FRESH);	/* previous epoch, inside the window */
	REPLAY(SA_ESN, 0xffffffffULL, DUP);
	REPLAY(SA_ESN, 0x100000000ULL, DUP);
	REPLAY(SA_ESN, 0x100000005ULL - 128, OLD);
	/* A non-ESN SA refuses a non-zero seq_hi. */
	{
		struct wire_opts w = { ESPTAG_RES_OK, SA_W32, 0x100000001ULL, ESPTAG_META_F_ESN };
		size_t ip = plain_frame(&flow_v4, &plain);

		wire_frame(sa_get(SA_W32), &plain, ip, &w, &wire);
		CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_TAG, NULL, SA_W32, 0, 1);
	}
}

/* Tag or packet inconsistent with the SA: one mutation per row. */
typedef void (*mutate_fn)(struct bt_pkt *w);

/* Offsets in the SA_V4 / flow_v4 wire frame: tag 12..44, IP 44, ESP 64. */
#define W_IP	44
#define W_ESP	64

static void m_version(struct bt_pkt *w) { TAG(w)->version = 2; }
static void m_kind(struct bt_pkt *w) { TAG(w)->kind = ESPTAG_META_TX; }
static void m_kind0(struct bt_pkt *w) { TAG(w)->kind = 0; }
static void m_flags(struct bt_pkt *w) { TAG(w)->flags = 0x80; }
static void m_reserved(struct bt_pkt *w) { TAG(w)->reserved = 1; }
static void m_reserved2(struct bt_pkt *w) { TAG(w)->reserved2 = htons(1); }
static void m_esp_off(struct bt_pkt *w) { TAG(w)->esp_off = htons(ntohs(TAG(w)->esp_off) + 4); }
static void m_payload_off(struct bt_pkt *w) { TAG(w)->payload_off = htons(ntohs(TAG(w)->payload_off) - 8); }
static void m_trailer_short(struct bt_pkt *w) { TAG(w)->trailer_len = htons(17); }
static void m_trailer_long(struct bt_pkt *w) { TAG(w)->trailer_len = htons(ntohs(TAG(w)->trailer_len) + 4); }
static void m_trailer_huge(struct bt_pkt *w) { TAG(w)->trailer_len = htons(0xfff0); }
static void m_next_hdr(struct bt_pkt *w) { TAG(w)->next_hdr = IPPROTO_TCP; }
static void m_spi(struct bt_pkt *w) { w->b[W_ESP + 3] ^= 1; }
static void m_spi0(struct bt_pkt *w) { memset(w->b + W_ESP, 0, 4); }
static void m_seq_lo(struct bt_pkt *w) { w->b[W_ESP + 7] ^= 1; }
static void m_ip_len(struct bt_pkt *w) { w->b[W_IP + 3] -= 4; }
static void m_ip_proto(struct bt_pkt *w) { w->b[W_IP + 9] = IPPROTO_UDP; }
static void m_ip_frag(struct bt_pkt *w) { w->b[W_IP + 6] = 0x20; }	/* MF */
static void m_ip_ver(struct bt_pkt *w) { w->b[W_IP] = 0x65; }
static void m_ip_ihl(struct bt_pkt *w) { w->b[W_IP] = 0x44; }
static void m_ip_daddr(struct bt_pkt *w) { w->b[W_IP + 19] ^= 1; }
static void m_ethertype(struct bt_pkt *w) { w->b[42] = 0x86; w->b[43] = 0xdd; }
static void m_pad_len(struct bt_pkt *w) { w->b[w->len - ESPTAG_ICV_LEN - 2] ^= 1; }
static void m_trailer_nh(struct bt_pkt *w) { w->b[w->len - ESPTAG_ICV_LEN - 1] = IPPROTO_TCP; }
static void m_nested_tag(struct bt_pkt *w) { w->b[42] = 0x88; w->b[43] = 0xb6; }
static void m_offload(struct bt_pkt *w) { TAG(w)->flags = ESPTAG_META_F_OFFLOAD; }
static void m_gso(struct bt_pkt *w) { TAG(w)->flags = ESPTAG_META_F_GSO; }
static void m_mss(struct bt_pkt *w) { TAG(w)->mss = htons(1400); }
static void m_seq_hi(struct bt_pkt *w) { TAG(w)->seq_hi = htonl(1); }
static void m_len_proto(struct bt_pkt *w) { w->b[42] = 0x05; w->b[43] = 0xdc; }
static void m_esn_flag(struct bt_pkt *w) { TAG(w)->flags = ESPTAG_META_F_ESN; }

/* Each mutation is dropped with its own reason, and only that counter moves. */
static void test_malformed(void)
{
	/* The first rows and the nested tag fail before the SA is looked up. */
	static const struct { const char *what; mutate_fn fn; int cnt; } rows[] = {
		{ "tag version", m_version, ESPTAG_CNT_RX_DROP_TAG },
		{ "tag kind TX", m_kind, ESPTAG_CNT_RX_DROP_TAG },
		{ "tag kind 0", m_kind0, ESPTAG_CNT_RX_DROP_TAG },
		{ "unknown flag", m_flags, ESPTAG_CNT_RX_DROP_TAG },
		{ "reserved", m_reserved, ESPTAG_CNT_RX_DROP_TAG },
		{ "reserved2", m_reserved2, ESPTAG_CNT_RX_DROP_TAG },
		{ "nested tag", m_nested_tag, ESPTAG_CNT_RX_DROP_TAG },
		{ "OFFLOAD flag", m_offload, ESPTAG_CNT_RX_DROP_TAG },
		{ "GSO flag", m_gso, ESPTAG_CNT_RX_DROP_TAG },
		{ "mss", m_mss, ESPTAG_CNT_RX_DROP_TAG },
		{ "seq_hi without F_ESN", m_seq_hi, ESPTAG_CNT_RX_DROP_TAG },
		{ "802.3 length as EtherType", m_len_proto, ESPTAG_CNT_RX_DROP_TAG },
		{ "esp_off", m_esp_off, ESPTAG_CNT_RX_DROP_TAG },
		{ "payload_off", m_payload_off, ESPTAG_CNT_RX_DROP_TAG },
		{ "trailer_len < 18", m_trailer_short, ESPTAG_CNT_RX_DROP_TAG },
		{ "trailer_len vs pad", m_trailer_long, ESPTAG_CNT_RX_DROP_TRAILER },
		{ "trailer_len > frame", m_trailer_huge, ESPTAG_CNT_RX_DROP_TAG },
		{ "tag next_hdr", m_next_hdr, ESPTAG_CNT_RX_DROP_TRAILER },
		{ "SPI mismatch", m_spi, ESPTAG_CNT_RX_DROP_SPI_SEQ },
		{ "SPI 0", m_spi0, ESPTAG_CNT_RX_DROP_SPI_SEQ },
		{ "seq_lo mismatch", m_seq_lo, ESPTAG_CNT_RX_DROP_SPI_SEQ },
		{ "IP tot_len", m_ip_len, ESPTAG_CNT_RX_DROP_TRAILER },
		{ "IP protocol", m_ip_proto, ESPTAG_CNT_RX_DROP_OUTER },
		{ "IP fragment", m_ip_frag, ESPTAG_CNT_RX_DROP_OUTER },
		{ "IP version", m_ip_ver, ESPTAG_CNT_RX_DROP_OUTER },
		{ "IP IHL", m_ip_ihl, ESPTAG_CNT_RX_DROP_OUTER },
		{ "IP daddr", m_ip_daddr, ESPTAG_CNT_RX_DROP_OUTER },
		{ "EtherType vs SA family", m_ethertype, ESPTAG_CNT_RX_DROP_OUTER },
		{ "pad length", m_pad_len, ESPTAG_CNT_RX_DROP_TRAILER },
		{ "trailer next header", m_trailer_nh, ESPTAG_CNT_RX_DROP_TRAILER },
		{ "F_ESN on a non-ESN SA", m_esn_flag, ESPTAG_CNT_RX_DROP_TAG },
	};

	sa_install(sa_get(SA_V4));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		build_ok(SA_V4, &flow_v4, 10, &plain, &wire);
		rows[i].fn(&wire);
		if (!check_at(__LINE__, fd_rx, &wire, wire.len, &(struct expect){
				XDP_DROP, rows[i].cnt, NULL, SA_V4, 0, i < 12 ? 0 : 1 })) {
			fprintf(stderr, "  row: %s\n", rows[i].what);
			return;
		}
	}
	/* None of them consumed sequence number 10. */
	ok_one(fd_rx, SA_V4, &flow_v4, 10);
}

/* Bytes after the IP packet (Ethernet padding) are cut off with the trailer. */
static void test_trailing_bytes(void)
{
	sa_install(sa_get(SA_V4));
	build_ok(SA_V4, &flow_v4, 20, &plain, &wire);
	bt_put(&wire, "\0\0\0\0\0\0", 6);
	CHECK(fd_rx, &wire, wire.len, XDP_PASS, ESPTAG_CNT_RX_OK, &plain, SA_V4, 1, 0, true);
	/* An IP length beyond the frame is not. */
	build_ok(SA_V4, &flow_v4, 21, &plain, &wire);
	wire.b[W_IP + 3] += 1;
	wire.b[W_IP + 11] -= 1;	/* keep the header checksum right */
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_OUTER, NULL, SA_V4, 0, 1);
}

/* Tunnel SA: next header and the inner packet must agree. */
static void test_malformed_tunnel(void)
{
	struct flow f = { 4, 0, {}, mac_us, "192.0.2.77", "192.0.2.1", IPPROTO_TCP, 33, 3, 0 };
	size_t inner = 12 + ESPTAG_META_LEN + 2 + 20 + 16;	/* tag, outer v4, ESP */

	sa_install(sa_get(SA_TUN4));
	build_ok(SA_TUN4, &f, 3, &plain, &wire);
	TAG(&wire)->next_hdr = IPPROTO_TCP;
	wire.b[wire.len - ESPTAG_ICV_LEN - 1] = IPPROTO_TCP;
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_INNER, NULL, SA_TUN4, 0, 1);
	build_ok(SA_TUN4, &f, 3, &plain, &wire);
	wire.b[inner + 3] += 1;		/* inner tot_len */
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_INNER, NULL, SA_TUN4, 0, 1);
	build_ok(SA_TUN4, &f, 3, &plain, &wire);
	TAG(&wire)->next_hdr = 41;	/* says IPv6, is IPv4 */
	wire.b[wire.len - ESPTAG_ICV_LEN - 1] = 41;
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_INNER, NULL, SA_TUN4, 0, 1);
	ok_one(fd_rx, SA_TUN4, &f, 3);
}

/* Every cut of a good frame is dropped and consumes nothing: inside the
 * MACs, tag and VLAN tags as malformed, after them as a bad outer packet
 * (IP or ESP header cut, IP length beyond the frame). */
static void test_truncated(void)
{
	static const struct { uint32_t sa; int nvlans; } rows[] = {
		{ SA_V4, 0 }, { SA_QINQ, 2 }, { SA_TUN6, 0 },
	};

	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		const struct sa_def *d = sa_get(rows[r].sa);
		struct flow f = d->family == 4 ? flow_v4 : flow_v6;

		sa_install(d);
		f.nvlans = rows[r].nvlans;
		memcpy(f.vlan, d->vlan, sizeof(f.vlan));
		build_ok(rows[r].sa, &f, 40, &plain, &wire);
		for (size_t len = ETH_HLEN; len < wire.len; len++) {
			size_t l2_end = 12 + sizeof(struct esptag_meta) + 4 * f.nvlans;
			int cnt = len < l2_end ? ESPTAG_CNT_RX_DROP_MALFORMED : ESPTAG_CNT_RX_DROP_OUTER;

			if (!check_at(__LINE__, fd_rx, &wire, len, &(struct expect){ XDP_DROP, cnt })) {
				fprintf(stderr, "  SA %u cut at %zu of %zu\n", rows[r].sa, len, wire.len);
				return;
			}
		}
		ok_one(fd_rx, rows[r].sa, &f, 40);
	}
	/* Untagged IP cut inside its header: malformed too. */
	plain_frame(&flow_v4, &plain);
	for (size_t len = ETH_HLEN; len < ETH_HLEN + 20; len++)
		CHECK(fd_rx, &plain, len, XDP_DROP, ESPTAG_CNT_RX_DROP_MALFORMED);
	plain_frame(&flow_v6, &plain);
	for (size_t len = ETH_HLEN; len < ETH_HLEN + 40; len++)
		CHECK(fd_rx, &plain, len, XDP_DROP, ESPTAG_CNT_RX_DROP_MALFORMED);
}

/* Inbound policy for plaintext. */
static void spd_add(uint32_t id, uint32_t parent, uint32_t parent_plen, const char *dst,
		    int dplen)
{
	struct esptag_spd_key k = { .dir = ESPTAG_DIR_IN };
	struct esptag_spd_node n = { .id = id, .parent = parent, .parent_prefixlen = parent_plen };
	int fam;

	bt_addr(dst, k.daddr, &fam);
	k.family = fam;
	k.prefixlen = 32 + dplen;
	if (bpf_map_update_elem(fd_spd, &k, &n, BPF_ANY))
		abort();
}

static void spd_src_add(uint32_t node, const char *src, int splen, uint8_t action)
{
	struct esptag_spd_src_key k = { .prefixlen = 32 + splen, .node = node };
	struct esptag_policy p = { .action = action, .id = node * 100 + splen };

	bt_addr(src, k.saddr, NULL);
	if (bpf_map_update_elem(fd_spd_src, &k, &p, BPF_ANY))
		abort();
}

static void test_policy(void)
{
	static const struct {
		const char *src, *dst;
		int nvlans;
		uint32_t verdict;
		int cnt;
	} rows[] = {
		{ "203.0.113.5", "192.0.2.1", 0, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY },
		{ "203.0.113.5", "192.0.2.1", 1, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY },
		{ "203.0.113.5", "192.0.2.1", 2, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY },
		{ "203.0.113.66", "192.0.2.1", 0, XDP_PASS, ESPTAG_CNT_RX_PLAIN },	/* bypass /32 */
		{ "198.51.100.7", "192.0.2.1", 0, XDP_DROP, ESPTAG_CNT_RX_DROP_DISCARD },	/* parent */
		{ "198.51.100.7", "192.0.2.9", 0, XDP_DROP, ESPTAG_CNT_RX_DROP_DISCARD },
		{ "203.0.113.5", "192.0.2.9", 0, XDP_PASS, ESPTAG_CNT_RX_PLAIN },	/* no rule */
		{ "203.0.113.5", "198.51.100.1", 0, XDP_PASS, ESPTAG_CNT_RX_PLAIN },	/* no node */
		{ "2001:db8:2::5", "2001:db8:1::1", 0, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY },
		{ "2001:db8:3::5", "2001:db8:1::1", 2, XDP_PASS, ESPTAG_CNT_RX_PLAIN },
	};

	spd_add(1, 0, 0, "192.0.2.0", 24);
	spd_src_add(1, "198.51.100.0", 24, ESPTAG_ACT_DISCARD);
	spd_add(2, 1, 32 + 24, "192.0.2.1", 32);
	spd_src_add(2, "203.0.113.0", 24, ESPTAG_ACT_PROTECT);
	spd_src_add(2, "203.0.113.66", 32, ESPTAG_ACT_BYPASS);
	spd_add(3, 0, 0, "2001:db8:1::", 48);
	spd_src_add(3, "2001:db8:2::", 48, ESPTAG_ACT_PROTECT);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct flow f = strchr(rows[i].dst, ':') ? flow_v6 : flow_v4;

		f.src = rows[i].src;
		f.dst = rows[i].dst;
		f.nvlans = rows[i].nvlans;
		f.vlan[0] = (struct esptag_vlan)VL(rows[i].nvlans == 2 ? 0x88a8 : 0x8100, 7);
		f.vlan[1] = (struct esptag_vlan)VL(0x8100, 8);
		plain_frame(&f, &plain);
		if (!check_at(__LINE__, fd_rx, &plain, plain.len, &(struct expect){
				rows[i].verdict, rows[i].cnt })) {
			fprintf(stderr, "  row %zu: %s -> %s\n", i, rows[i].src, rows[i].dst);
			return;
		}
	}
	/* Decrypted traffic is not subject to the plaintext rule. */
	{
		struct flow f = flow_v4;

		sa_install(sa_get(SA_V4));
		f.src = "203.0.113.5";
		ok_one(fd_rx, SA_V4, &f, 1);
	}
}

/*
 * Host policies by exact match (esptag_spd_host) on Rx, with
 * ESPTAG_CFGF_SPD_HOST, before the LPM of test_policy's tree: a pair with no rule becomes protect (plaintext
 * dropped), a pair under the LPM's protect rule becomes bypass; deleted,
 * the LPM decides again.
 */
static bool rx_plain_is(const char *src, const char *dst, uint32_t verdict, int cnt)
{
	struct flow f = flow_v4;

	f.src = src;
	f.dst = dst;
	plain_frame(&f, &plain);
	return check_at(__LINE__, fd_rx, &plain, plain.len, &(struct expect){ verdict, cnt });
}

static void test_policy_host_exact(void)
{
	int fd_host = bt_map_fd(&obj, "esptag_spd_host");
	struct esptag_spd_host_key a = { .dir = ESPTAG_DIR_IN, .family = 4 }, b = a;
	struct esptag_policy prot = { .action = ESPTAG_ACT_PROTECT, .id = 300 };
	struct esptag_policy byp = { .action = ESPTAG_ACT_BYPASS, .id = 301 };

	uint32_t zero = 0;
	struct esptag_cfg c = { 0 };

	T_ASSERT(fd_host >= 0);
	T_ASSERT(!bpf_map_lookup_elem(fd_cfg, &zero, &c));
	c.flags |= ESPTAG_CFGF_SPD_HOST;
	T_ASSERT(!bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY));
	bt_addr("203.0.113.5", a.saddr, NULL);
	bt_addr("192.0.2.9", a.daddr, NULL);
	bt_addr("203.0.113.5", b.saddr, NULL);
	bt_addr("192.0.2.1", b.daddr, NULL);
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.9", XDP_PASS, ESPTAG_CNT_RX_PLAIN));
	T_ASSERT(!bpf_map_update_elem(fd_host, &a, &prot, BPF_ANY));
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.9", XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY));
	T_ASSERT(!bpf_map_delete_elem(fd_host, &a));
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.9", XDP_PASS, ESPTAG_CNT_RX_PLAIN));
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.1", XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY));
	T_ASSERT(!bpf_map_update_elem(fd_host, &b, &byp, BPF_ANY));
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.1", XDP_PASS, ESPTAG_CNT_RX_PLAIN));
	/* Another source, same destination: a miss, the LPM's protect. */
	T_ASSERT(rx_plain_is("203.0.113.6", "192.0.2.1", XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY));
	/* Without the flag the entry is not looked at. */
	c.flags &= ~ESPTAG_CFGF_SPD_HOST;
	T_ASSERT(!bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY));
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.1", XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY));
	T_ASSERT(!bpf_map_delete_elem(fd_host, &b));
	T_ASSERT(rx_plain_is("203.0.113.5", "192.0.2.1", XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY));
}

/*
 * Inbound templates (XFRM's check): while esptag_cfg has IN_TMPL, a
 * decrypted packet whose inbound protect policy has ESPTAG_POLF_TMPL must
 * come through an SA fitting esptag_pol_tmpl[policy id] (reqid, mode,
 * addresses), else rx_drop_tmpl. Uses test_policy's tree: 203.0.113.5 ->
 * 192.0.2.1 is protect, policy id 224; SA_V4 has reqid 0, transport.
 */
static void set_cfg_flag(uint32_t flag, bool on)
{
	uint32_t zero = 0;
	struct esptag_cfg c = { 0 };

	bpf_map_lookup_elem(fd_cfg, &zero, &c);
	c.flags = on ? c.flags | flag : c.flags & ~flag;
	bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY);
}

static void set_in_tmpl(bool on)
{
	set_cfg_flag(ESPTAG_CFGF_IN_TMPL, on);
}

static void test_policy_template(void)
{
	int fd_tmpl = bt_map_fd(&obj, "esptag_pol_tmpl");
	struct esptag_spd_src_key k = { .prefixlen = 32 + 24, .node = 2 };
	struct esptag_policy p = { .action = ESPTAG_ACT_PROTECT, .flags = ESPTAG_POLF_TMPL,
				   .id = 224 };
	struct esptag_pol_tmpl t = { .reqid = 5, .flags = ESPTAG_TMPLF_REQID };
	struct flow f = flow_v4;
	uint32_t id = 224;
	uint64_t seq = 100;

	bt_addr("203.0.113.0", k.saddr, NULL);
	T_ASSERT(!bpf_map_update_elem(fd_spd_src, &k, &p, BPF_ANY));
	T_ASSERT(!bpf_map_update_elem(fd_tmpl, &id, &t, BPF_ANY));
	f.src = "203.0.113.5";
	/* Check off (no IN_TMPL): the template is not looked at. */
	ok_one(fd_rx, SA_V4, &f, seq++);
	set_in_tmpl(true);
	/* Another reqid: decrypted, verified, then dropped. */
	build_ok(SA_V4, &f, seq++, &plain, &wire);
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_TMPL, NULL, SA_V4, 0, 1);
	/* The SA's reqid (0): accepted. */
	t.reqid = 0;
	T_ASSERT(!bpf_map_update_elem(fd_tmpl, &id, &t, BPF_ANY));
	ok_one(fd_rx, SA_V4, &f, seq++);
	/* Mode tunnel against a transport SA: dropped. */
	t.mode = ESPTAG_MODE_TUNNEL;
	T_ASSERT(!bpf_map_update_elem(fd_tmpl, &id, &t, BPF_ANY));
	build_ok(SA_V4, &f, seq++, &plain, &wire);
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_TMPL, NULL, SA_V4, 0, 1);
	/* SA addresses: the right peer passes, another is dropped. */
	t.mode = ESPTAG_MODE_TRANSPORT;
	t.flags = ESPTAG_TMPLF_REQID | ESPTAG_TMPLF_SRC | ESPTAG_TMPLF_DST;
	t.family = 4;
	bt_addr(V4_PEER, t.saddr, NULL);
	bt_addr(V4_US, t.daddr, NULL);
	T_ASSERT(!bpf_map_update_elem(fd_tmpl, &id, &t, BPF_ANY));
	ok_one(fd_rx, SA_V4, &f, seq++);
	bt_addr("203.0.113.6", t.saddr, NULL);
	T_ASSERT(!bpf_map_update_elem(fd_tmpl, &id, &t, BPF_ANY));
	build_ok(SA_V4, &f, seq++, &plain, &wire);
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_TMPL, NULL, SA_V4, 0, 1);
	/* The flag without an entry: fail closed. */
	bpf_map_delete_elem(fd_tmpl, &id);
	build_ok(SA_V4, &f, seq++, &plain, &wire);
	CHECK(fd_rx, &wire, wire.len, XDP_DROP, ESPTAG_CNT_RX_DROP_TMPL, NULL, SA_V4, 0, 1);
	/* A policy without a template: accepted whatever the SA. */
	p.flags = 0;
	T_ASSERT(!bpf_map_update_elem(fd_spd_src, &k, &p, BPF_ANY));
	ok_one(fd_rx, SA_V4, &f, seq++);
	set_in_tmpl(false);
}

/*
 * Bypass sockets: plaintext UDP that an inbound protect policy covers
 * passes only when the socket it is delivered to (bpf_sk_lookup_udp in this
 * namespace) has its cookie in esptag_bypass and esptag_cfg has BYPASS
 * (without the flag no socket is looked up: the policy decides). A UDP
 * socket of this test on an ephemeral port (any address) stands for an IKE
 * daemon's.
 */
static void test_bypass_socket(void)
{
	int fd_byp = bt_map_fd(&obj, "esptag_bypass");
	int us = socket(AF_INET, SOCK_DGRAM, 0), other = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct esptag_bypass v = { .family = 4, .proto = IPPROTO_UDP };
	socklen_t al = sizeof(a);
	uint16_t port_us, port_other;
	uint64_t cookie;
	socklen_t cl = sizeof(cookie);
	struct flow f = flow_v4;
	size_t ip;

	T_ASSERT(us >= 0 && other >= 0);
	T_ASSERT(!bind(us, (struct sockaddr *)&a, sizeof(a)) &&
		 !getsockname(us, (struct sockaddr *)&a, &al));
	port_us = a.sin_port;
	a.sin_port = 0;
	T_ASSERT(!bind(other, (struct sockaddr *)&a, sizeof(a)) &&
		 !getsockname(other, (struct sockaddr *)&a, &al));
	port_other = a.sin_port;
	T_ASSERT(!getsockopt(us, SOL_SOCKET, SO_COOKIE, &cookie, &cl));
	/* 203.0.113.5 -> 192.0.2.1 is protect (test_policy's tree). */
	f.src = "203.0.113.5";
	ip = plain_frame(&f, &plain);
	memcpy(plain.b + ip + 20 + 2, &port_us, 2);	/* UDP destination port */
	CHECK(fd_rx, &plain, plain.len, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY);
	T_ASSERT(!bpf_map_update_elem(fd_byp, &cookie, &v, BPF_ANY));
	/* Registered, but the flag is clear: no lookup, still dropped. */
	CHECK(fd_rx, &plain, plain.len, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY);
	set_cfg_flag(ESPTAG_CFGF_BYPASS, true);
	CHECK(fd_rx, &plain, plain.len, XDP_PASS, ESPTAG_CNT_RX_BYPASS_SOCKET);
	/* Another socket between the same hosts stays protected. */
	memcpy(plain.b + ip + 20 + 2, &port_other, 2);
	CHECK(fd_rx, &plain, plain.len, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY);
	/* TCP to the same port: no UDP socket, dropped. */
	f.l4 = IPPROTO_TCP;
	ip = plain_frame(&f, &plain);
	CHECK(fd_rx, &plain, plain.len, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY);
	/* The socket closed: its cookie matches nothing any more. */
	f.l4 = IPPROTO_UDP;
	ip = plain_frame(&f, &plain);
	memcpy(plain.b + ip + 20 + 2, &port_us, 2);
	close(us);
	CHECK(fd_rx, &plain, plain.len, XDP_DROP, ESPTAG_CNT_RX_DROP_POLICY);
	bpf_map_delete_elem(fd_byp, &cookie);
	set_cfg_flag(ESPTAG_CFGF_BYPASS, false);
	close(other);
}

static void test_config_and_other(void)
{
	struct bt_pkt p = { 0 };
	uint8_t body[46];

	/* Agent reply: passes untouched. */
	memset(body, 0x11, sizeof(body));
	bt_l2(&p, mac_us, mac_agent, NULL, 0, ESPTAG_ETH_P_CFG);
	bt_put(&p, body, sizeof(body));
	CHECK(fd_rx, &p, p.len, XDP_PASS, ESPTAG_CNT_RX_CONFIG);
	/* Same EtherType from any other address: forged, dropped. */
	p.len = 0;
	bt_l2(&p, mac_us, mac_peer, NULL, 0, ESPTAG_ETH_P_CFG);
	bt_put(&p, body, sizeof(body));
	CHECK(fd_rx, &p, p.len, XDP_DROP, ESPTAG_CNT_RX_DROP_MALFORMED);
	/* ARP and other non-IP: pass. */
	p.len = 0;
	bt_l2(&p, mac_us, mac_peer, NULL, 0, ETH_P_ARP);
	bt_put(&p, body, 28);
	CHECK(fd_rx, &p, p.len, XDP_PASS, ESPTAG_CNT_RX_PLAIN);
	/* Too short for Ethernet + tag. */
	p.len = 0;
	bt_l2(&p, mac_us, mac_peer, NULL, 0, ESPTAG_ETH_P_META);
	bt_put(&p, body, 10);
	CHECK(fd_rx, &p, p.len, XDP_DROP, ESPTAG_CNT_RX_DROP_MALFORMED);
	/* Three VLAN tags: cannot be checked, dropped. */
	{
		struct esptag_vlan v3[2] = { VL(0x88a8, 1), VL(0x8100, 2) };

		p.len = 0;
		bt_l2(&p, mac_us, mac_peer, v3, 2, 0x8100);
		bt_put(&p, "\x00\x03\x08\x00", 4);
		bt_put(&p, body, 40);
		CHECK(fd_rx, &p, p.len, XDP_DROP, ESPTAG_CNT_RX_DROP_MALFORMED);
	}
}

/* Configured EtherTypes (esptag_cfg) replace the defaults. */
static void test_custom_ethertypes(void)
{
	struct esptag_cfg c = { .eth_p_meta = 0x88b7, .eth_p_cfg = 0x88b4 };
	uint32_t zero = 0;

	sa_install(sa_get(SA_V4));
	build_ok(SA_V4, &flow_v4, 1, &plain, &wire);
	wire.b[12] = 0x88;
	wire.b[13] = 0xb7;
	if (bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY)) {
		t_fail(__FILE__, __LINE__, "cfg update");
		return;
	}
	check_at(__LINE__, fd_rx, &wire, wire.len,
		 &(struct expect){ XDP_PASS, ESPTAG_CNT_RX_OK, &plain, SA_V4, 1, 0, true });
	/* The default tag EtherType is now just an unknown protocol. */
	build_ok(SA_V4, &flow_v4, 2, &plain, &wire);
	check_at(__LINE__, fd_rx, &wire, wire.len, &(struct expect){ XDP_PASS, ESPTAG_CNT_RX_PLAIN });
	memset(&c, 0, sizeof(c));
	bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY);
}

/* esptag_rx_mark without a record (tc test runs carry no XDP metadata):
 * the esptag bits are cleared, the others kept. The record path is tested
 * live (tests/integration/test_rx_mark.sh). */
static void test_mark_untrusted(void)
{
	static const struct { uint32_t mask, in, out; } rows[] = {
		{ 0, 0x80040005, 0x00040000 },		/* default 0x8000ffff: */
		{ 0, 0x7fff0000, 0x7fff0000 },		/* others' bits stay */
		{ 0xff000000, 0x81234567, 0x00234567 },
		{ 0x0000ff00, 0x8000ffff, 0x800000ff },
	};
	uint32_t zero = 0;

	plain_frame(&flow_v4, &plain);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct esptag_cfg c = { .mark_mask = rows[i].mask, .mark_trusted = rows[i].mask & 0x80808080 };
		struct __sk_buff skb = { .mark = rows[i].in };
		static struct bt_result r;
		int err;

		bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY);
		err = bt_run(fd_mark, plain.b, plain.len, &skb, &r);
		T_EQ(err, 0);
		T_EQ((int32_t)r.retval, TC_ACT_UNSPEC);
		T_EQ(r.skb_out.mark, rows[i].out);
	}
	bpf_map_update_elem(fd_cfg, &zero, &(struct esptag_cfg){ 0 }, BPF_ANY);
}

int main(void)
{
	if (bt_open(&obj, "bpf/esptag_rx.bpf.o", "rx", NULL, NULL)) {
		printf("FAIL esptag_rx_load: cannot load build/bpf/esptag_rx.bpf.o\n");
		return 1;
	}
	fd_rx = bt_prog_fd(&obj, "esptag_rx");
	fd_rx_frags = bt_prog_fd(&obj, "esptag_rx_frags");
	fd_mark = bt_prog_fd(&obj, "esptag_rx_mark");
	fd_sad = bt_map_fd(&obj, "esptag_sad");
	fd_spd = bt_map_fd(&obj, "esptag_spd");
	fd_spd_src = bt_map_fd(&obj, "esptag_spd_src");
	fd_cfg = bt_map_fd(&obj, "esptag_cfg");
	for (size_t i = 0; i < sizeof(sas) / sizeof(sas[0]); i++)
		if (sa_install(&sas[i])) {
			printf("FAIL esptag_rx_setup: SA %u: %s\n", sas[i].index, strerror(errno));
			bt_close(&obj);
			return 1;
		}

	T_RUN(test_ok_ipv4_transport);
	T_RUN(test_ok_hairpin);
	T_RUN(test_ok_ipv6_transport);
	T_RUN(test_ok_ipv4_options_transport);
	T_RUN(test_ok_ipv6_ext_transport);
	T_RUN(test_ok_ipv4_tunnel_inner_v4);
	T_RUN(test_ok_ipv4_tunnel_inner_v6);
	T_RUN(test_ok_ipv6_tunnel_inner_v4);
	T_RUN(test_ok_ipv6_tunnel_inner_v6);
	T_RUN(test_ok_vlan);
	T_RUN(test_ok_qinq);
	T_RUN(test_ok_frags_program);
	T_RUN(test_results);
	T_RUN(test_sa_checks);
	T_RUN(test_dummy_packet);
	T_RUN(test_replay_fresh_dup_old);
	T_RUN(test_replay_window_sizes);
	T_RUN(test_replay_range);
	T_RUN(test_replay_ring);
	T_RUN(test_replay_model);
	T_RUN(test_replay_esn_wrap);
	T_RUN(test_replay_two_cpus);
	T_RUN(test_replay_busy);
	T_RUN(test_malformed);
	T_RUN(test_malformed_tunnel);
	T_RUN(test_trailing_bytes);
	T_RUN(test_truncated);
	T_RUN(test_policy);
	T_RUN(test_policy_host_exact);
	T_RUN(test_policy_template);
	T_RUN(test_bypass_socket);
	T_RUN(test_config_and_other);
	T_RUN(test_custom_ethertypes);
	T_RUN(test_mark_untrusted);

	bt_close(&obj);
	return t_done();
}
