// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tx -> agent -> Rx round trip: a plain frame goes through esptag_tx
 * (BPF_PROG_TEST_RUN, tc), then through the agent, then through esptag_rx
 * (BPF_PROG_TEST_RUN, XDP); what comes out must be byte-identical to what
 * Tx received, marked "trusted, SA n".
 *
 * Two agents:
 *  - "double": a test double that only turns the Tx tag into an Rx OK tag
 *    (appends RFC 4303 padding, pad length, next header and a dummy ICV,
 *    grows the IP length, keeps the ESP header as the agent does);
 *  - "agent": the real software agent core (user/agent, in memory): site A
 *    encrypts with AES-GCM (IVDB, outer header in tunnel mode), the wire
 *    frame goes to site B, which finds the inbound SA in the frame's domain,
 *    decrypts, verifies the ICV and tags the frame for B's host.
 *
 * Site A's host maps (Tx) and site B's (Rx) are two separate pin sets.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "../lib/test.h"
#include "../lib/bpf_test.h"
#include "esptag_proto.h"
#include "agent.h"

static struct bt_obj tx, rx;
static int fd_tx, fd_rx;
static struct agent agent_a, agent_b;

static const uint8_t mac_a[6] = { 0x02, 0x00, 0x5e, 0x00, 0x0a, 0x01 };	/* site A port */
static const uint8_t mac_b[6] = { 0x02, 0x00, 0x5e, 0x00, 0x0b, 0x01 };	/* site B port */
static const uint8_t key[16] = { 0x4c, 0x80, 0xcd, 0xef, 0xbb, 0x5d, 0x10, 0xda,
				 0x90, 0x6a, 0xc7, 0x3c, 0x36, 0x13, 0xa6, 0x34 };
static const uint8_t salt[4] = { 0x2e, 0x44, 0x3b, 0x68 };

struct rt_case {
	const char *name;
	int family;			/* plain packet */
	const char *src, *dst;
	bool tunnel;
	int sa_family;			/* tunnel: outer */
	const char *tsrc, *tdst;	/* tunnel endpoints */
	int nvlans;
	uint8_t l4;
	size_t plen;
	bool esn;
	uint64_t first_seq;
};

static const struct esptag_vlan vl1[2] = { { 0x0081, 0x6400 } };		/* 802.1Q 100 */
static const struct esptag_vlan vl2[2] = { { 0xa888, 0x0a00 }, { 0x0081, 0x1400 } };	/* 10, 20 */

static const struct rt_case cases[] = {
	{ "v4_transport_udp", 4, "192.0.2.1", "198.51.100.7", false, 4, NULL, NULL, 0, IPPROTO_UDP, 100, false, 1 },
	{ "v4_transport_tcp_vlan", 4, "192.0.2.1", "198.51.100.7", false, 4, NULL, NULL, 1, IPPROTO_TCP, 1000, false, 1 },
	{ "v6_transport_tcp", 6, "2001:db8::1", "2001:db8:1::5", false, 6, NULL, NULL, 0, IPPROTO_TCP, 333, false, 1 },
	{ "v6_transport_udp_qinq", 6, "2001:db8::1", "2001:db8:1::5", false, 6, NULL, NULL, 2, IPPROTO_UDP, 1, false, 1 },
	{ "v4_tunnel_v4_qinq", 4, "192.0.2.1", "203.0.113.5", true, 4, "198.51.100.1", "198.51.100.2", 2, IPPROTO_TCP, 500, false, 1 },
	{ "v6_tunnel_v6", 6, "2001:db8::1", "2001:db8:2::9", true, 6, "2001:db8:100::1", "2001:db8:100::2", 0, IPPROTO_UDP, 64, false, 1 },
	{ "v6_in_v4_tunnel", 6, "2001:db8::1", "2001:db8:2::9", true, 4, "198.51.100.1", "198.51.100.2", 1, IPPROTO_UDP, 77, false, 1 },
	{ "v4_in_v6_tunnel", 4, "192.0.2.1", "203.0.113.5", true, 6, "2001:db8:100::1", "2001:db8:100::2", 0, IPPROTO_TCP, 20, false, 1 },
	{ "v4_transport_esn_wrap", 4, "192.0.2.1", "198.51.100.7", false, 4, NULL, NULL, 0, IPPROTO_UDP, 50, true, 0xfffffffeULL },
};

#define NFRAMES	3	/* frames per case: consecutive sequence numbers */

/* ---------------------------------------------------------------------- */

static const struct esptag_vlan *case_vlans(const struct rt_case *c)
{
	return c->nvlans == 1 ? vl1 : vl2;
}

static void plain_frame(const struct rt_case *c, uint8_t seed, struct bt_pkt *p)
{
	size_t ip, l4;

	memset(p, 0, sizeof(*p));
	bt_l2(p, mac_b, mac_a, case_vlans(c), c->nvlans, c->family == 4 ? ETH_P_IP : ETH_P_IPV6);
	ip = c->family == 4 ? bt_ipv4(p, c->src, c->dst, c->l4) : bt_ipv6(p, c->src, c->dst, c->l4);
	l4 = c->l4 == IPPROTO_TCP ? bt_tcp(p, 40000, 443, 0x01020304 + seed, 0x18)
				  : bt_udp(p, 40000, 4789);
	bt_payload(p, c->plen, seed);
	if (c->l4 == IPPROTO_UDP)
		bt_udp_finish(p, l4);
	if (c->family == 4)
		bt_ipv4_finish(p, ip);
	else
		bt_ipv6_finish(p, ip);
}

/* The SA record an agent gets (ADD_SA), direction dir. */
static void agent_rec(const struct rt_case *c, uint32_t spi, uint8_t dir, struct esptag_rec_sa *r)
{
	int fam = c->tunnel ? c->sa_family : c->family;

	memset(r, 0, sizeof(*r));
	esptag_rec_init(r, ESPTAG_REC_SA, sizeof(*r));
	r->dir = dir;
	r->family = fam;
	r->proto = ESPTAG_IPPROTO_ESP;
	r->mode = c->tunnel ? ESPTAG_MODE_TUNNEL : ESPTAG_MODE_TRANSPORT;
	r->spi = htonl(spi);
	bt_addr(c->tunnel ? c->tdst : c->dst, r->daddr, NULL);
	bt_addr(c->tunnel ? c->tsrc : c->src, r->saddr, NULL);
	/* Domain: the sender's port on A, the receiver's port on B. */
	memcpy(r->local_mac, dir == ESPTAG_DIR_OUT ? mac_a : mac_b, 6);
	r->nvlans = c->nvlans;
	if (c->nvlans)
		memcpy(r->vlan, case_vlans(c), sizeof(r->vlan));
	r->alg = ESPTAG_ALG_AES_GCM_128;
	r->key_len = 16;
	r->icv_len = 16;
	r->sa_flags = c->esn ? ESPTAG_SA_F_ESN : 0;
	r->replay_window = htons(64);
	r->sa_index = htonl(ESPTAG_SA_INDEX_NONE);
	memcpy(r->key, key, sizeof(key));
	memcpy(r->salt, salt, sizeof(salt));
}

/* The host mirror of an agent SA (what esptagd writes into esptag_sad). */
static void host_sa(const struct esptag_rec_sa *r, struct esptag_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->spi = r->spi;
	sa->dir = r->dir;
	sa->family = r->family;
	sa->mode = r->mode;
	sa->flags = ESPTAG_SAF_ALIVE | (r->mode == ESPTAG_MODE_TUNNEL ? ESPTAG_SAF_TUNNEL : 0) |
		    (r->sa_flags & ESPTAG_SA_F_ESN ? ESPTAG_SAF_ESN : 0);
	memcpy(sa->local_mac, r->local_mac, 6);
	sa->nvlans = r->nvlans;
	sa->icv_len = r->icv_len;
	memcpy(sa->vlan, r->vlan, sizeof(sa->vlan));
	memcpy(sa->saddr, r->saddr, 16);
	memcpy(sa->daddr, r->daddr, 16);
	sa->replay_window = ntohs(r->replay_window);
}

/* Site A: outbound SA idx, sequence counter, policy dst/plen -> protect. */
static int install_tx(const struct rt_case *c, uint32_t idx, const struct esptag_rec_sa *r)
{
	struct esptag_sa sa;
	struct esptag_seq seq = { .next = c->first_seq };
	struct esptag_spd_key k = { .dir = ESPTAG_DIR_OUT };
	struct esptag_spd_node n = { .id = idx + 1 };
	struct esptag_spd_src_key sk = { .prefixlen = 32, .node = idx + 1 };
	struct esptag_policy pol = { .action = ESPTAG_ACT_PROTECT, .spi = r->spi, .sa_index = idx };
	struct esptag_cfg cfg = { .flags = ESPTAG_CFGF_AGENT_UP };
	struct esptag_sa_maps sm = bt_sa_maps(&tx);
	uint32_t zero = 0;
	int fam;

	host_sa(r, &sa);
	bt_addr(c->dst, k.daddr, &fam);
	k.family = fam;
	k.prefixlen = 32 + (fam == 4 ? 32 : 128);
	if (esptag_sa_mirror_write(&sm, idx, &sa, &seq, NULL) ||
	    bpf_map_update_elem(bt_map_fd(&tx, "esptag_spd"), &k, &n, BPF_ANY) ||
	    bpf_map_update_elem(bt_map_fd(&tx, "esptag_spd_src"), &sk, &pol, BPF_ANY) ||
	    bpf_map_update_elem(bt_map_fd(&tx, "esptag_cfg"), &zero, &cfg, BPF_ANY))
		return -errno;
	return 0;
}

static int install_rx(uint32_t idx, const struct esptag_rec_sa *r)
{
	struct esptag_sa sa;

	struct esptag_sa_maps sm = bt_sa_maps(&rx);

	host_sa(r, &sa);
	/* A fresh replay window, zeroed counters, then the SA. */
	return esptag_sa_mirror_write(&sm, idx, &sa, NULL, NULL);
}

/* ---------------------------------------------------------------------- */
/* Agents                                                                  */

static struct bt_pkt cap[2];	/* last frame an agent emitted, per side */
static int ncap[2];

static void capture(struct agent *a, int side)
{
	for (unsigned int i = 0; i < a->q[side].n; i++) {
		struct agent_pkt *p = &a->q[side].pkt[i];

		if (p->len <= sizeof(cap[side].b)) {
			memcpy(cap[side].b, p->data, p->len);
			cap[side].len = p->len;
		}
		ncap[side]++;
	}
}

/* The double: Tx tag -> Rx OK tag for inbound SA rx_idx, ESP header kept,
 * trailer and a dummy ICV appended, IP length grown. */
static int double_agent(const struct bt_pkt *t, uint32_t rx_idx, struct bt_pkt *r)
{
	struct esptag_meta m;
	size_t esp_off, plen, pad, ip, trailer;
	uint16_t proto;
	uint8_t icv[16];

	if (t->len < 44)
		return -1;
	memcpy(&m, t->b + 12, sizeof(m));
	if (m.kind != ESPTAG_META_TX || !(m.flags & ESPTAG_META_F_OFFLOAD))
		return -1;
	/* The untagged frame. */
	memset(r, 0, sizeof(*r));
	bt_put(r, t->b, 12);
	bt_put(r, t->b + 42, t->len - 42);
	esp_off = ntohs(m.esp_off);
	plen = r->len - esp_off - 16;
	pad = (4 - (plen + 2) % 4) % 4;
	for (size_t i = 1; i <= pad; i++)
		bt_put(r, &(uint8_t){ (uint8_t)i }, 1);
	bt_put(r, &(uint8_t){ (uint8_t)pad }, 1);
	bt_put(r, &m.next_hdr, 1);
	memset(icv, 0xc5, sizeof(icv));
	bt_put(r, icv, sizeof(icv));
	trailer = pad + 2 + 16;
	/* Outer IP header right after L2. */
	ip = 12;
	memcpy(&proto, r->b + ip, 2);
	while (esptag_eth_p_is_vlan(ntohs(proto))) {
		ip += 4;
		memcpy(&proto, r->b + ip, 2);
	}
	ip += 2;
	if (proto == htons(ETH_P_IP))
		bt_ipv4_finish(r, ip);
	else
		bt_ipv6_finish(r, ip);
	m.kind = ESPTAG_META_RX;
	m.flags &= ESPTAG_META_F_ESN;
	m.result = ESPTAG_RES_OK;
	m.payload_off = htons(esp_off + 16);
	m.trailer_len = htons(trailer);
	m.mss = 0;
	m.sa_index = htonl(rx_idx);
	bt_meta_insert(r, &m);
	return 0;
}

/* The real agent: A encrypts toward the wire, B decrypts toward its host. */
static int real_agent(const struct bt_pkt *t, struct bt_pkt *r)
{
	static struct bt_pkt w, tcopy;

	tcopy = *t;
	ncap[AGENT_WIRE] = ncap[AGENT_HOST] = 0;
	agent_host_frame(&agent_a, tcopy.b, tcopy.len, NULL);
	agent_flush_all(&agent_a);
	if (ncap[AGENT_WIRE] != 1 || ncap[AGENT_HOST])
		return -1;
	w = cap[AGENT_WIRE];
	ncap[AGENT_WIRE] = 0;
	/* Really encrypted: the wire frame is the untagged Tx frame grown by
	 * the trailer and ICV, and its payload bytes differ from the clear. */
	{
		struct esptag_meta m;
		size_t po, plen;

		memcpy(&m, t->b + 12, sizeof(m));
		po = ntohs(m.payload_off);
		plen = t->len - ESPTAG_META_LEN - po;
		if (w.len < t->len - ESPTAG_META_LEN + 2 + ESPTAG_ICV_LEN ||
		    !memcmp(w.b + po, t->b + ESPTAG_META_LEN + po, plen))
			return -1;
	}
	agent_wire_frame(&agent_b, w.b, w.len, NULL);
	agent_flush_all(&agent_b);
	if (ncap[AGENT_HOST] != 1 || ncap[AGENT_WIRE])
		return -1;
	*r = cap[AGENT_HOST];
	return 0;
}

/* ---------------------------------------------------------------------- */

static void run_case(const struct rt_case *c, bool real, uint32_t spi)
{
	static struct bt_pkt plain, tagged, rxin;
	struct esptag_rec_sa ra, rb;
	int64_t ia, ib;
	uint64_t before[ESPTAG_CNT_MAX], after[ESPTAG_CNT_MAX];

	agent_rec(c, spi, ESPTAG_DIR_OUT, &ra);
	agent_rec(c, spi, ESPTAG_DIR_IN, &rb);
	ia = agent_sad_add(&agent_a, &ra, 0);
	ib = agent_sad_add(&agent_b, &rb, 0);
	T_ASSERT(ia >= 0 && ib >= 0);
	/* The host mirrors never hold the key. */
	memset(ra.key, 0, sizeof(ra.key));
	memset(rb.key, 0, sizeof(rb.key));
	T_EQ(install_tx(c, ia, &ra), 0);
	T_EQ(install_rx(ib, &rb), 0);
	for (int i = 0; i < NFRAMES; i++) {
		static struct bt_result res;
		struct xdp_md ctx = { .ingress_ifindex = 1 };
		struct esptag_xdp_meta meta;
		static uint8_t out[BT_PKT_MAX + 64];
		struct esptag_meta m;

		plain_frame(c, (uint8_t)(i + 1), &plain);
		T_EQ(bt_run(fd_tx, plain.b, plain.len, NULL, &res), 0);
		T_EQ(res.retval, TC_ACT_OK);
		T_ASSERT(res.out_len > plain.len && res.out_len <= sizeof(tagged.b));
		memcpy(tagged.b, res.out, res.out_len);
		tagged.len = res.out_len;
		memcpy(&m, tagged.b + 12, sizeof(m));
		T_EQ(ntohs(m.tpid), ESPTAG_ETH_P_META);
		T_EQ(((uint64_t)ntohl(m.seq_hi) << 32 | ntohl(m.seq_lo)), c->first_seq + i);

		if (real)
			T_EQ(real_agent(&tagged, &rxin), 0);
		else
			T_EQ(double_agent(&tagged, ib, &rxin), 0);
		memcpy(&m, rxin.b + 12, sizeof(m));
		T_EQ(m.kind, ESPTAG_META_RX);
		T_EQ(m.result, ESPTAG_RES_OK);
		T_EQ(ntohl(m.sa_index), ib);

		T_EQ(bt_counters(&rx, before), 0);
		ctx.data_end = rxin.len;
		{
			LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = rxin.b, .data_size_in = rxin.len,
				    .data_out = out, .data_size_out = sizeof(out),
				    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
				    .ctx_out = &ctx, .ctx_size_out = sizeof(ctx), .repeat = 1);

			T_EQ(bpf_prog_test_run_opts(fd_rx, &o), 0);
			if (o.retval != XDP_PASS) {
				T_EQ(bt_counters(&rx, after), 0);
				for (int k = 0; k < ESPTAG_CNT_MAX; k++)
					if (after[k] != before[k])
						t_fail(__FILE__, __LINE__, "Rx dropped, counter %s",
						       esptag_counter_str(k));
				if (getenv("RT_DEBUG"))
					esptag_hexdump(stderr, rxin.b, rxin.len);
				return;
			}
			T_EQ(ctx.data, sizeof(meta));
			memcpy(&meta, out, sizeof(meta));
			T_EQ(meta.magic, ESPTAG_XDP_META_MAGIC);
			T_EQ(meta.sa_index, ib);
			T_MEMEQ(out + ctx.data, o.data_size_out - ctx.data, plain.b, plain.len);
		}
		T_EQ(bt_counters(&rx, after), 0);
		T_EQ(after[ESPTAG_CNT_RX_OK] - before[ESPTAG_CNT_RX_OK], 1);
	}
	/* The same wire frame again is a replay for B's host. */
	if (real) {
		static struct bt_result res;

		T_EQ(bt_counters(&rx, before), 0);
		T_EQ(bt_run(fd_rx, rxin.b, rxin.len, NULL, &res), 0);
		T_EQ(res.retval, XDP_DROP);
		T_EQ(bt_counters(&rx, after), 0);
		T_EQ(after[ESPTAG_CNT_RX_DROP_REPLAY] - before[ESPTAG_CNT_RX_DROP_REPLAY], 1);
	}
	agent_sad_del(&agent_a, ia);
	agent_sad_del(&agent_b, ib);
}

static bool use_real;
static size_t cur;
static void case_fn(void)
{
	run_case(&cases[cur], use_real, 0x7000 + (uint32_t)cur * 2 + use_real);
}

int main(void)
{
	struct agent_opts ao = { .capacity = 64 };
	char name[96];

	if (bt_open(&tx, "bpf/esptag_tx.bpf.o", "rt-a", NULL, NULL) ||
	    bt_open(&rx, "bpf/esptag_rx.bpf.o", "rt-b", NULL, NULL)) {
		printf("FAIL roundtrip_load: cannot load the Tx/Rx objects\n");
		bt_close(&tx);
		return 1;
	}
	fd_tx = bt_prog_fd(&tx, "esptag_tx");
	fd_rx = bt_prog_fd(&rx, "esptag_rx");
	if (agent_init(&agent_a, &ao, capture) || agent_init(&agent_b, &ao, capture)) {
		printf("FAIL roundtrip_agent_init\n");
		return 1;
	}
	for (int real = 0; real < 2; real++)
		for (cur = 0; cur < sizeof(cases) / sizeof(cases[0]); cur++) {
			use_real = real;
			snprintf(name, sizeof(name), "roundtrip_%s_%s", real ? "agent" : "double",
				 cases[cur].name);
			t_run(name, case_fn);
		}
	agent_fini(&agent_a);
	agent_fini(&agent_b);
	bt_close(&tx);
	bt_close(&rx);
	return t_done();
}
