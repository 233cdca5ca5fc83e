// SPDX-License-Identifier: GPL-2.0-only
/*
 * bpf/lib/parse.h under BPF_PROG_TEST_RUN (tests/bpf/progs/parse_test.bpf.c),
 * as XDP and as TC: well-formed frames report every offset and field;
 * every frame cut at each byte before the end of its last header gives
 * PE_TRUNC; malformed and unsupported headers give their errors.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "../lib/test.h"
#include "../lib/bpf_test.h"

/* Mirror of struct parse_result in parse_test.bpf.c. */
struct parse_result {
	int32_t ret;
	uint32_t stage;
	uint16_t l3_proto;
	uint16_t l3_off;
	uint16_t l4_off;
	uint8_t l4_proto;
	uint8_t nvlans;
	uint16_t vlan_tci[2];
	uint8_t meta_kind;
	uint8_t has_meta;
	uint16_t nh_off;
	uint32_t esp_spi;
	uint32_t esp_seq;
	uint32_t l4_hlen;
};

enum { PE_TRUNC = -1, PE_MALFORMED = -2, PE_UNSUPPORTED = -3 };

static struct bt_obj obj;
static int fd_xdp, fd_tc, fd_bss;
static const uint8_t mac_a[6] = { 0x02, 0, 0, 0, 0, 0x0a };
static const uint8_t mac_b[6] = { 0x02, 0, 0, 0, 0, 0x0b };

/* Run both programs; on success *r holds the result of the TC run, and the
 * XDP run must have agreed. Returns the verdict class: 0 pass, 1 drop, -1 error. */
static int run_both(const struct bt_pkt *p, size_t len, struct parse_result *r)
{
	static struct bt_result res;
	struct parse_result rx;
	uint32_t zero = 0;
	int vx, vt, err;

	if (bt_run(fd_xdp, p->b, len, NULL, &res))
		return -1;
	vx = res.retval == XDP_PASS ? 0 : res.retval == XDP_DROP ? 1 : -1;
	if (bpf_map_lookup_elem(fd_bss, &zero, &rx))
		return -1;
	/* The skb test run refuses an IPv4/IPv6 EtherType without a whole
	 * fixed IP header (-EINVAL): those cuts are covered by XDP alone. */
	err = bt_run(fd_tc, p->b, len, NULL, &res);
	if (err == -EINVAL && len < p->len) {
		*r = rx;
		return vx;
	}
	if (err)
		return -1;
	vt = res.retval == TC_ACT_OK ? 0 : res.retval == TC_ACT_SHOT ? 1 : -1;
	if (bpf_map_lookup_elem(fd_bss, &zero, r))
		return -1;
	if (vx != vt || memcmp(&rx, r, sizeof(rx)))
		return -1;
	return vt;
}

/*
 * A well-formed frame: check the expected result, then every cut before
 * hdr_end (the end of the last header parsed) must give PE_TRUNC and every
 * cut after it must still parse.
 */
static void check_frame(const struct bt_pkt *p, const struct parse_result *want,
			size_t hdr_end)
{
	struct parse_result r;
	int v;

	v = run_both(p, p->len, &r);
	T_EQ(v, 0);
	if (memcmp(&r, want, sizeof(r))) {
		t_hexdiff(&r, sizeof(r), want, sizeof(*want));
		T_ASSERT(!"parse result differs");
	}
	/* Both test-run flavours refuse frames shorter than ETH_HLEN. */
	for (size_t len = ETH_HLEN; len < p->len; len++) {
		v = run_both(p, len, &r);
		if (len < hdr_end) {
			if (v != 1 || r.ret != PE_TRUNC) {
				t_fail(__FILE__, __LINE__, "cut at %zu: verdict %d ret %d, want drop/PE_TRUNC",
				       len, v, r.ret);
				return;
			}
		} else if (v != 0 || r.ret != 0 || r.stage != 4) {
			t_fail(__FILE__, __LINE__, "cut at %zu (after headers): verdict %d ret %d",
			       len, v, r.ret);
			return;
		}
	}
}

static void check_error(const struct bt_pkt *p, int want_ret, uint32_t want_stage)
{
	struct parse_result r;
	int v = run_both(p, p->len, &r);

	T_EQ(v, 1);
	T_EQ(r.ret, want_ret);
	T_EQ(r.stage, want_stage);
}

static void ipv4_tcp(void)
{
	struct bt_pkt p = { 0 };
	size_t ip, tcp;
	struct parse_result w = { 0 };

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(&p, "192.0.2.1", "198.51.100.7", IPPROTO_TCP);
	tcp = bt_tcp(&p, 1000, 80, 1, 0x18);
	bt_payload(&p, 40, 1);
	bt_ipv4_finish(&p, ip);
	w = (struct parse_result){ .stage = 4, .l3_proto = ETH_P_IP, .l3_off = ip,
				   .l4_off = tcp, .l4_proto = IPPROTO_TCP,
				   .nh_off = ip + 9, .l4_hlen = 20 };
	check_frame(&p, &w, tcp + 20);
}

static void vlan_ipv4_options_udp(void)
{
	struct esptag_vlan v = { htons(ETH_P_8021Q), htons(100) };
	struct bt_pkt p = { 0 };
	struct parse_result w;
	size_t ip, udp;
	uint8_t opt[4] = { 1, 1, 1, 0 };	/* NOP NOP NOP EOL */

	bt_l2(&p, mac_b, mac_a, &v, 1, ETH_P_IP);
	ip = bt_ipv4(&p, "192.0.2.1", "198.51.100.7", IPPROTO_UDP);
	bt_put(&p, opt, 4);
	p.b[ip] = 0x46;
	udp = bt_udp(&p, 4500, 4500);
	bt_payload(&p, 9, 3);
	bt_udp_finish(&p, udp);
	bt_ipv4_finish(&p, ip);
	w = (struct parse_result){ .stage = 4, .l3_proto = ETH_P_IP, .l3_off = 18,
				   .l4_off = udp, .l4_proto = IPPROTO_UDP, .nvlans = 1,
				   .vlan_tci = { htons(100) }, .nh_off = ip + 9, .l4_hlen = 8 };
	check_frame(&p, &w, udp + 8);
}

static void qinq_ipv6_tcp(void)
{
	struct esptag_vlan v[2] = { { htons(ETH_P_8021AD), htons(10) },
				    { htons(ETH_P_8021Q), htons(0x2000 | 20) } };
	struct bt_pkt p = { 0 };
	struct parse_result w;
	size_t ip, tcp;

	bt_l2(&p, mac_b, mac_a, v, 2, ETH_P_IPV6);
	ip = bt_ipv6(&p, "2001:db8::1", "2001:db8:1::2", IPPROTO_TCP);
	tcp = bt_tcp(&p, 1000, 443, 7, 0x10);
	p.b[tcp + 12] = 6 << 4;		/* doff 6: 4 option bytes */
	bt_put(&p, "\x01\x01\x01\x00", 4);
	bt_payload(&p, 100, 0);
	bt_ipv6_finish(&p, ip);
	w = (struct parse_result){ .stage = 4, .l3_proto = ETH_P_IPV6, .l3_off = 22,
				   .l4_off = tcp, .l4_proto = IPPROTO_TCP, .nvlans = 2,
				   .vlan_tci = { htons(10), htons(0x2000 | 20) },
				   .nh_off = ip + 6, .l4_hlen = 24 };
	check_frame(&p, &w, tcp + 24);
}

static void meta_vlan_ipv4_esp(void)
{
	struct esptag_vlan v = { htons(ETH_P_8021Q), htons(5) };
	struct esptag_meta m = { .version = 1, .kind = ESPTAG_META_TX,
				 .flags = ESPTAG_META_F_OFFLOAD };
	struct bt_pkt p = { 0 };
	struct parse_result w;
	size_t ip, esp;

	bt_l2(&p, mac_b, mac_a, &v, 1, ETH_P_IP);
	ip = bt_ipv4(&p, "192.0.2.1", "203.0.113.9", IPPROTO_ESP);
	esp = bt_esp(&p, 0x01020304, 0x0000000500000007ull);
	bt_payload(&p, 30, 9);
	bt_ipv4_finish(&p, ip);
	bt_meta_insert(&p, &m);
	ip += ESPTAG_META_LEN;
	esp += ESPTAG_META_LEN;
	w = (struct parse_result){ .stage = 4, .l3_proto = ETH_P_IP, .l3_off = ip,
				   .l4_off = esp, .l4_proto = IPPROTO_ESP, .nvlans = 1,
				   .vlan_tci = { htons(5) }, .has_meta = 1,
				   .meta_kind = ESPTAG_META_TX, .nh_off = ip + 9,
				   .esp_spi = htonl(0x01020304), .esp_seq = htonl(7) };
	check_frame(&p, &w, esp + 16);
}

static void ipv6_ext_esp(void)
{
	struct bt_ipv6_ext hbh = { .nexthdr = 60, .hdrlen = 0, .data = { 1, 4 } };
	struct bt_ipv6_ext dst = { .nexthdr = IPPROTO_ESP, .hdrlen = 1, .data = { 1, 12 } };
	struct bt_pkt p = { 0 };
	struct parse_result w;
	size_t ip, d, esp;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&p, "2001:db8::1", "2001:db8:1::2", 0);
	bt_put(&p, &hbh, 8);
	d = bt_put(&p, &dst, 8);
	bt_put(&p, NULL, 8);		/* second 8 octets of the dstopts header */
	esp = bt_esp(&p, 0xabcdef01, 3);
	bt_payload(&p, 17, 0);
	bt_ipv6_finish(&p, ip);
	w = (struct parse_result){ .stage = 4, .l3_proto = ETH_P_IPV6, .l3_off = 14,
				   .l4_off = esp, .l4_proto = IPPROTO_ESP, .nh_off = d,
				   .esp_spi = htonl(0xabcdef01), .esp_seq = htonl(3) };
	check_frame(&p, &w, esp + 16);
}

static void arp_passes(void)
{
	struct bt_pkt p = { 0 };
	struct parse_result w = { .stage = 4, .l3_proto = ETH_P_ARP, .l3_off = 14 };

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_ARP);
	bt_payload(&p, 28, 0);
	check_frame(&p, &w, 14);
}

static void three_vlans_unsupported(void)
{
	struct esptag_vlan v[2] = { { htons(ETH_P_8021AD), htons(1) },
				    { htons(ETH_P_8021Q), htons(2) } };
	struct bt_pkt p = { 0 };

	bt_l2(&p, mac_b, mac_a, v, 2, ETH_P_8021Q);
	bt_put(&p, "\x00\x03\x08\x00", 4);
	bt_ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_UDP);
	check_error(&p, PE_UNSUPPORTED, 1);
}

static void ipv6_fragment_unsupported(void)
{
	struct bt_ipv6_ext frag = { .nexthdr = IPPROTO_UDP };
	struct bt_pkt p = { 0 };
	size_t ip;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&p, "2001:db8::1", "2001:db8::2", 44);
	bt_put(&p, &frag, 8);
	bt_udp(&p, 1, 2);
	bt_ipv6_finish(&p, ip);
	check_error(&p, PE_UNSUPPORTED, 2);
}

static void ipv6_long_chain_unsupported(void)
{
	struct bt_ipv6_ext e = { .nexthdr = 60 };
	struct bt_pkt p = { 0 };
	size_t ip;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&p, "2001:db8::1", "2001:db8::2", 60);
	for (int i = 0; i < 5; i++)
		bt_put(&p, &e, 8);
	bt_ipv6_finish(&p, ip);
	check_error(&p, PE_UNSUPPORTED, 2);
}

static void ipv6_late_hbh_malformed(void)
{
	struct bt_ipv6_ext e = { .nexthdr = 0 };
	struct bt_pkt p = { 0 };
	size_t ip;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&p, "2001:db8::1", "2001:db8::2", 60);
	bt_put(&p, &e, 8);
	bt_put(&p, NULL, 8);
	bt_ipv6_finish(&p, ip);
	check_error(&p, PE_MALFORMED, 2);
}

static void ipv4_malformed(void)
{
	static const struct { size_t off; uint8_t val; } bad[] = {
		{ 0, 0x55 },	/* version 5 */
		{ 0, 0x44 },	/* IHL 4 */
		{ 2, 0x00 },	/* tot_len high byte 0 ... */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bt_pkt p = { 0 };
		size_t ip;

		bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IP);
		ip = bt_ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_UDP);
		bt_udp(&p, 1, 2);
		bt_ipv4_finish(&p, ip);
		p.b[ip + bad[i].off] = bad[i].val;
		if (bad[i].off == 2)
			p.b[ip + 3] = 19;	/* ... tot_len 19 < header */
		check_error(&p, PE_MALFORMED, 2);
		if (t_cur_failed)
			return;
	}
}

static void ipv6_bad_version(void)
{
	struct bt_pkt p = { 0 };
	size_t ip;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IPV6);
	ip = bt_ipv6(&p, "2001:db8::1", "2001:db8::2", IPPROTO_UDP);
	bt_udp(&p, 1, 2);
	bt_ipv6_finish(&p, ip);
	p.b[ip] = 0x40;
	check_error(&p, PE_MALFORMED, 2);
}

static void meta_malformed(void)
{
	static const struct { size_t off; uint8_t val; } bad[] = {
		{ 2, 2 },	/* version 2 */
		{ 3, 0 },	/* kind 0 */
		{ 3, 3 },	/* kind 3 */
		{ 4, 0x10 },	/* unknown flag */
	};
	struct esptag_meta m = { .version = 1, .kind = ESPTAG_META_RX };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bt_pkt p = { 0 };
		size_t ip;

		bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IP);
		ip = bt_ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_UDP);
		bt_udp(&p, 1, 2);
		bt_ipv4_finish(&p, ip);
		bt_meta_insert(&p, &m);
		p.b[12 + bad[i].off] = bad[i].val;
		check_error(&p, PE_MALFORMED, 1);
		if (t_cur_failed)
			return;
	}
}

static void meta_nested_malformed(void)
{
	struct esptag_meta m = { .version = 1, .kind = ESPTAG_META_TX };
	struct bt_pkt p = { 0 };

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_ARP);
	bt_payload(&p, 28, 0);
	bt_meta_insert(&p, &m);
	bt_meta_insert(&p, &m);
	check_error(&p, PE_MALFORMED, 1);
}

static void tcp_bad_doff(void)
{
	struct bt_pkt p = { 0 };
	size_t ip, tcp;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_TCP);
	tcp = bt_tcp(&p, 1, 2, 3, 0x02);
	bt_ipv4_finish(&p, ip);
	p.b[tcp + 12] = 4 << 4;
	check_error(&p, PE_MALFORMED, 3);
}

static void udp_bad_len(void)
{
	struct bt_pkt p = { 0 };
	size_t ip, udp;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_UDP);
	udp = bt_udp(&p, 1, 2);
	bt_ipv4_finish(&p, ip);
	p.b[udp + 5] = 7;	/* length 7 < 8 */
	check_error(&p, PE_MALFORMED, 3);
}

static void esp_spi_zero(void)
{
	struct bt_pkt p = { 0 };
	size_t ip;

	bt_l2(&p, mac_b, mac_a, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(&p, "192.0.2.1", "192.0.2.2", IPPROTO_ESP);
	bt_esp(&p, 0, 1);
	bt_ipv4_finish(&p, ip);
	check_error(&p, PE_MALFORMED, 3);
}

int main(void)
{
	int err = bt_open(&obj, "tests/progs/parse_test.bpf.o", "parse", NULL, NULL);

	if (err) {
		printf("FAIL load: parse_test.bpf.o: %s\n", strerror(-err));
		return 1;
	}
	fd_xdp = bt_prog_fd(&obj, "parse_xdp");
	fd_tc = bt_prog_fd(&obj, "parse_tc");
	fd_bss = bt_map_fd(&obj, ".bss");
	if (fd_xdp < 0 || fd_tc < 0 || fd_bss < 0) {
		printf("FAIL load: programs or .bss map missing\n");
		bt_close(&obj);
		return 1;
	}
	T_RUN(ipv4_tcp);
	T_RUN(vlan_ipv4_options_udp);
	T_RUN(qinq_ipv6_tcp);
	T_RUN(meta_vlan_ipv4_esp);
	T_RUN(ipv6_ext_esp);
	T_RUN(arp_passes);
	T_RUN(three_vlans_unsupported);
	T_RUN(ipv6_fragment_unsupported);
	T_RUN(ipv6_long_chain_unsupported);
	T_RUN(ipv6_late_hbh_malformed);
	T_RUN(ipv4_malformed);
	T_RUN(ipv6_bad_version);
	T_RUN(meta_malformed);
	T_RUN(meta_nested_malformed);
	T_RUN(tcp_bad_doff);
	T_RUN(udp_bad_len);
	T_RUN(esp_spi_zero);
	bt_close(&obj);
	return t_done();
}
