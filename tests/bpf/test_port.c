// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag_port under BPF_PROG_TEST_RUN: frames from a VF at its port's
 * ingress (spoof check, config drop, forged tags, trusted pass), frames at
 * the uplink's egress (untrusted VF frames wrapped with offload=0, PF and
 * trusted frames untouched) and frames toward a VF (config and foreign tags
 * dropped, the VF's own RX tags passed), each checked for verdict, exact
 * output bytes and counter deltas. The test run's skb sits on loopback
 * (ifindex 1): esptag_ports[1] makes it a VF port; without that entry it is
 * the uplink, and __sk_buff.ingress_ifindex names the VF a frame came from.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <netinet/in.h>
#include "../lib/test.h"
#include "../lib/bpf_test.h"

static struct bt_obj obj;
static int fd_from, fd_egress, fd_ports, fd_sad, fd_cfg;

static const uint8_t vf_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02 };
static const uint8_t other_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x66 };
static const uint8_t peer_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x0b };
static const struct esptag_vlan vlan1[1] = { { BT_BE16(0x8100), BT_BE16(7) } };

#define PORT_IFINDEX	1	/* the VF port itself (loopback in the test run) */
#define VF_IN		42	/* the VF port as the uplink sees it (ingress_ifindex) */
#define SA_MINE		20	/* inbound SA of the VF's domain */
#define SA_OTHER	21	/* inbound SA of another domain */

static int set_port_at(uint32_t k, uint32_t flags)
{
	struct esptag_port p = { .flags = flags, .vf = 1 };

	memcpy(p.mac, vf_mac, 6);
	return bpf_map_update_elem(fd_ports, &k, &p, BPF_ANY);
}

static int set_port(uint32_t flags)
{
	return set_port_at(PORT_IFINDEX, flags);
}

static void del_port_at(uint32_t k)
{
	bpf_map_delete_elem(fd_ports, &k);
}

/* The test-run skb is the uplink: no entry for ifindex 1; the VF is VF_IN. */
static int as_uplink(uint32_t vf_flags)
{
	del_port_at(PORT_IFINDEX);
	return set_port_at(VF_IN, vf_flags);
}

static const struct __sk_buff from_vf_ctx = { .ingress_ifindex = VF_IN };

static int set_cfg(uint16_t eth_p_meta)
{
	struct esptag_cfg c = { .flags = ESPTAG_CFGF_AGENT_UP, .eth_p_meta = eth_p_meta };
	uint32_t zero = 0;

	return bpf_map_update_elem(fd_cfg, &zero, &c, BPF_ANY);
}

static void ip_frame(struct bt_pkt *p, const uint8_t *dst, const uint8_t *src, int nvlans)
{
	size_t ip, udp;

	memset(p, 0, sizeof(*p));
	bt_l2(p, dst, src, vlan1, nvlans, ETH_P_IP);
	ip = bt_ipv4(p, "192.0.2.20", "198.51.100.1", IPPROTO_UDP);
	udp = bt_udp(p, 1234, 53);
	bt_payload(p, 40, 7);
	bt_udp_finish(p, udp);
	bt_ipv4_finish(p, ip);
}

/* The offload=0 wrapping the switch must add (docs/protocol.md 2.4). */
static void wrapped(struct bt_pkt *p)
{
	struct esptag_meta m = { .version = 1, .kind = ESPTAG_META_TX,
				 .sa_index = BT_BE32(ESPTAG_SA_INDEX_NONE) };

	bt_meta_insert(p, &m);
}

static void tagged(struct bt_pkt *p, uint8_t kind, uint32_t sa_index)
{
	struct esptag_meta m = { .version = 1, .kind = kind, .sa_index = htonl(sa_index),
				 .flags = kind == ESPTAG_META_TX ? ESPTAG_META_F_OFFLOAD : 0,
				 .esp_off = htons(34), .payload_off = htons(50) };

	bt_meta_insert(p, &m);
}

#define EXPECT(v, c) { .retval = (v), .cnt = { { (c), 1 } } }

static bool check(int fd, const struct bt_pkt *in, const struct bt_pkt *want, uint32_t verdict,
		  int cnt, const struct __sk_buff *skb)
{
	struct bt_expect e = { .retval = verdict };

	if (cnt >= 0)
		e.cnt[0] = (struct bt_cnt){ cnt, 1 };
	if (want) {
		e.out = want->b;
		e.out_len = want->len;
	}
	return BT_CHECK(&obj, fd, in->b, in->len, skb, &e, NULL);
}

/* ---------------------------------------------------------------------- */
/* From the VF, at its port's ingress                                      */

static void untrusted_ingress_passes(void)
{
	struct bt_pkt in;

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK));
	ip_frame(&in, peer_mac, vf_mac, 1);
	check(fd_from, &in, &in, TC_ACT_OK, -1, NULL);	/* counted when wrapped */
}

static void untrusted_forged_tag_dropped(void)
{
	struct bt_pkt in;

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK));
	ip_frame(&in, peer_mac, vf_mac, 0);
	tagged(&in, ESPTAG_META_TX, 3);		/* a VF trying offload=1 */
	if (!check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_META, NULL))
		return;
	ip_frame(&in, peer_mac, vf_mac, 0);
	tagged(&in, ESPTAG_META_RX, 3);
	check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_META, NULL);
}

static void config_from_vf_dropped(void)
{
	uint8_t agent[6] = ESPTAG_AGENT_MAC_INIT;
	struct bt_pkt in = { 0 };

	for (int trusted = 0; trusted < 2; trusted++) {
		T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | (trusted ? ESPTAG_PORTF_TRUSTED : 0)));
		memset(&in, 0, sizeof(in));
		bt_l2(&in, agent, vf_mac, NULL, 0, ESPTAG_ETH_P_CFG);
		bt_payload(&in, 46, 0);
		if (!check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_CONFIG, NULL))
			return;
	}
}

/*
 * 0x88B5 / 0x88B6 behind one (802.1Q) or two (802.1ad + 802.1Q) VLAN tags,
 * from a trusted or untrusted VF, and toward a VF: dropped with their own
 * counter. A trusted VF's well-formed TX tag (offload=1, plaintext behind)
 * is dropped too once a VLAN tag sits in front of it: the agent would
 * forward it to the wire as plain.
 */
static void vlan_hidden_dropped(void)
{
	static const struct esptag_vlan two[2] = {
		{ BT_BE16(0x88a8), BT_BE16(100) }, { BT_BE16(0x8100), BT_BE16(200) },
	};
	const uint16_t types[] = { ESPTAG_ETH_P_CFG, ESPTAG_ETH_P_META };
	uint8_t agent[6] = ESPTAG_AGENT_MAC_INIT;
	struct bt_pkt in;

	for (int trusted = 0; trusted < 2; trusted++) {
		T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | (trusted ? ESPTAG_PORTF_TRUSTED : 0)));
		for (int nv = 1; nv <= 2; nv++) {
			for (size_t t = 0; t < 2; t++) {
				memset(&in, 0, sizeof(in));
				bt_l2(&in, agent, vf_mac, nv == 1 ? vlan1 : two, nv, types[t]);
				bt_payload(&in, 60, 0);
				if (!check(fd_from, &in, NULL, TC_ACT_SHOT,
					   ESPTAG_CNT_PORT_DROP_VLAN_HIDDEN, NULL)) {
					printf("# from VF (trusted %d), %d tag(s), 0x%04x\n", trusted,
					       nv, types[t]);
					return;
				}
				/* Toward the VF. */
				memset(&in, 0, sizeof(in));
				bt_l2(&in, vf_mac, peer_mac, nv == 1 ? vlan1 : two, nv, types[t]);
				bt_payload(&in, 60, 0);
				if (!check(fd_egress, &in, NULL, TC_ACT_SHOT,
					   ESPTAG_CNT_PORT_DROP_VLAN_HIDDEN, NULL)) {
					printf("# to VF, %d tag(s), 0x%04x\n", nv, types[t]);
					return;
				}
			}
			ip_frame(&in, peer_mac, vf_mac, 0);
			tagged(&in, ESPTAG_META_TX, 3);
			bt_insert(&in, 12, nv == 1 ? "\x81\x00\x00\x07" : "\x88\xa8\x00\x64\x81\x00\x00\xc8",
				  4 * nv);
			if (!check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_VLAN_HIDDEN,
				   NULL))
				return;
		}
	}
}

static void spoofed_source_dropped(void)
{
	struct bt_pkt in;

	for (int trusted = 0; trusted < 2; trusted++) {
		T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | (trusted ? ESPTAG_PORTF_TRUSTED : 0)));
		ip_frame(&in, peer_mac, other_mac, 0);
		if (!check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_SPOOF, NULL))
			return;
	}
	/* Spoof check off: accepted. */
	T_ASSERT(!set_port(0));
	ip_frame(&in, peer_mac, other_mac, 0);
	check(fd_from, &in, &in, TC_ACT_OK, -1, NULL);
}

static void trusted_passes(void)
{
	struct bt_pkt in;

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | ESPTAG_PORTF_TRUSTED));
	ip_frame(&in, peer_mac, vf_mac, 1);
	if (!check(fd_from, &in, &in, TC_ACT_OK, ESPTAG_CNT_PORT_PASS, NULL))
		return;
	/* Its own esptag_tx's offload=1 tag. */
	ip_frame(&in, peer_mac, vf_mac, 0);
	tagged(&in, ESPTAG_META_TX, 3);
	check(fd_from, &in, &in, TC_ACT_OK, ESPTAG_CNT_PORT_PASS, NULL);
}

static void trusted_bad_tags_dropped(void)
{
	struct bt_pkt in;

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | ESPTAG_PORTF_TRUSTED));
	ip_frame(&in, peer_mac, vf_mac, 0);
	tagged(&in, ESPTAG_META_RX, 3);		/* RX kind toward the agent */
	if (!check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_META, NULL))
		return;
	ip_frame(&in, peer_mac, vf_mac, 0);
	tagged(&in, ESPTAG_META_TX, 3);
	in.b[14] = 2;				/* version 2 */
	if (!check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_META, NULL))
		return;
}

/* A port without an entry cannot prove its MAC: fail closed. */
static void unknown_port_dropped(void)
{
	struct bt_pkt in;

	del_port_at(PORT_IFINDEX);
	ip_frame(&in, peer_mac, vf_mac, 0);
	check(fd_from, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_NO_PORT, NULL);
}

/* ---------------------------------------------------------------------- */
/* At the uplink's egress                                                  */

static void uplink_untrusted_wrapped(void)
{
	struct bt_pkt in, want;

	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK));
	ip_frame(&in, peer_mac, vf_mac, 0);
	want = in;
	wrapped(&want);
	if (!check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &from_vf_ctx))
		return;
	/* 802.1Q frame: the tag wraps it, inner_proto 0x8100. */
	ip_frame(&in, peer_mac, vf_mac, 1);
	want = in;
	wrapped(&want);
	T_EQ(want.b[42], 0x81);
	if (!check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &from_vf_ctx))
		return;
	/* ARP too, and a config frame of the VF's own making if it got here:
	 * whatever the VF sends is opaque payload to the agent. */
	memset(&in, 0, sizeof(in));
	bt_l2(&in, peer_mac, vf_mac, NULL, 0, ETH_P_ARP);
	bt_payload(&in, 28, 0);
	want = in;
	wrapped(&want);
	check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &from_vf_ctx);
}

static void uplink_gso_wrapped(void)
{
	struct __sk_buff skb = { .gso_size = 1000, .gso_segs = 3, .ingress_ifindex = VF_IN };
	struct bt_pkt in = { 0 }, want;
	size_t ip;

	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK));
	bt_l2(&in, peer_mac, vf_mac, NULL, 0, ETH_P_IP);
	ip = bt_ipv4(&in, "192.0.2.20", "198.51.100.1", IPPROTO_TCP);
	bt_tcp(&in, 1, 2, 3, 0x18);
	bt_payload(&in, 2900, 0);
	bt_ipv4_finish(&in, ip);
	want = in;
	wrapped(&want);
	check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &skb);
}

/* Frames from the PF's port (no entry) or from nowhere pass untouched. */
static void uplink_pf_frames_untouched(void)
{
	struct __sk_buff pf = { .ingress_ifindex = 77 };
	struct bt_pkt in;

	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK));
	ip_frame(&in, peer_mac, vf_mac, 0);
	if (!check(fd_egress, &in, &in, TC_ACT_OK, -1, &pf))
		return;
	tagged(&in, ESPTAG_META_TX, 3);		/* the PF's esptag_tx output */
	if (!check(fd_egress, &in, &in, TC_ACT_OK, -1, &pf))
		return;
	check(fd_egress, &in, &in, TC_ACT_OK, -1, NULL);	/* locally made */
}

/* The PF flips trust; the very next frame sees it. */
static void uplink_trust_flip_next_frame(void)
{
	struct bt_pkt in, want;

	ip_frame(&in, peer_mac, vf_mac, 0);
	want = in;
	wrapped(&want);
	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK));
	if (!check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &from_vf_ctx))
		return;
	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK | ESPTAG_PORTF_TRUSTED));
	if (!check(fd_egress, &in, &in, TC_ACT_OK, -1, &from_vf_ctx))
		return;
	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK));
	check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &from_vf_ctx);
}

static void uplink_custom_meta_ethertype(void)
{
	struct bt_pkt in, want;

	T_ASSERT(!as_uplink(ESPTAG_PORTF_SPOOFCHK));
	T_ASSERT(!set_cfg(0x9001));
	ip_frame(&in, peer_mac, vf_mac, 0);
	want = in;
	wrapped(&want);
	want.b[12] = 0x90, want.b[13] = 0x01;
	check(fd_egress, &in, &want, TC_ACT_OK, ESPTAG_CNT_PORT_WRAP, &from_vf_ctx);
	set_cfg(0);
}

/* ---------------------------------------------------------------------- */
/* Toward the VF                                                           */

static void to_vf_plain_passes(void)
{
	struct bt_pkt in;

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK));
	ip_frame(&in, vf_mac, peer_mac, 1);
	check(fd_egress, &in, &in, TC_ACT_OK, -1, NULL);	/* no counter moves */
}

static void to_vf_config_dropped(void)
{
	uint8_t agent[6] = ESPTAG_AGENT_MAC_INIT;
	struct bt_pkt in = { 0 };

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | ESPTAG_PORTF_TRUSTED));
	bt_l2(&in, vf_mac, agent, NULL, 0, ESPTAG_ETH_P_CFG);
	bt_payload(&in, 46, 0);
	check(fd_egress, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_CONFIG, NULL);
}

static void to_vf_own_rx_tag_passes(void)
{
	struct bt_pkt in;

	T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | ESPTAG_PORTF_TRUSTED));
	ip_frame(&in, vf_mac, peer_mac, 0);
	tagged(&in, ESPTAG_META_RX, ESPTAG_SA_INDEX_NONE);	/* NO_SA result */
	if (!check(fd_egress, &in, &in, TC_ACT_OK, -1, NULL))
		return;
	ip_frame(&in, vf_mac, peer_mac, 0);
	tagged(&in, ESPTAG_META_RX, SA_MINE);
	check(fd_egress, &in, &in, TC_ACT_OK, -1, NULL);
}

static void to_vf_foreign_tags_dropped(void)
{
	static const struct {
		const char *what;
		uint32_t port_flags;
		const uint8_t *dst;
		uint8_t kind;
		uint32_t sa;
	} rows[] = {
		{ "other domain's SA", ESPTAG_PORTF_TRUSTED, vf_mac, ESPTAG_META_RX, SA_OTHER },
		{ "unknown SA", ESPTAG_PORTF_TRUSTED, vf_mac, ESPTAG_META_RX, 999 },
		{ "other dst MAC", ESPTAG_PORTF_TRUSTED, other_mac, ESPTAG_META_RX, SA_MINE },
		{ "untrusted VF", 0, vf_mac, ESPTAG_META_RX, SA_MINE },
		{ "TX kind", ESPTAG_PORTF_TRUSTED, vf_mac, ESPTAG_META_TX, SA_MINE },
	};
	struct bt_pkt in;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | rows[i].port_flags));
		ip_frame(&in, rows[i].dst, peer_mac, 0);
		tagged(&in, rows[i].kind, rows[i].sa);
		if (!check(fd_egress, &in, NULL, TC_ACT_SHOT, ESPTAG_CNT_PORT_DROP_META, NULL)) {
			fprintf(stderr, "row: %s\n", rows[i].what);
			return;
		}
	}
}

/*
 * Tags cut at every length: a partial tag is never taken for a good one.
 * Toward a trusted VF (its own RX tag) and from a trusted VF (its TX tag):
 * every cut is dropped as a bad tag; an untrusted VF's cut frames are
 * dropped at its port whatever the cut, since the tag's EtherType shows.
 */
static void truncated_tags(void)
{
	static const struct { uint8_t kind; const uint8_t *dst, *src; uint32_t flags; bool to_vf; } c[] = {
		{ ESPTAG_META_RX, vf_mac, peer_mac, ESPTAG_PORTF_TRUSTED, true },
		{ ESPTAG_META_TX, peer_mac, vf_mac, ESPTAG_PORTF_TRUSTED, false },
		{ ESPTAG_META_TX, peer_mac, vf_mac, 0, false },
	};
	static struct bt_result res;
	struct bt_expect e = { .retval = TC_ACT_SHOT, .cnt = { { ESPTAG_CNT_PORT_DROP_META, 1 } } };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct bt_pkt in;
		int fd = c[i].to_vf ? fd_egress : fd_from;

		T_ASSERT(!set_port(ESPTAG_PORTF_SPOOFCHK | c[i].flags));
		ip_frame(&in, c[i].dst, c[i].src, 0);
		tagged(&in, c[i].kind, c[i].kind == ESPTAG_META_RX ? SA_MINE : 3);
		/* The whole frame passes (trusted) or is dropped (untrusted)... */
		T_ASSERT(!bt_run(fd, in.b, in.len, NULL, &res));
		T_EQ(res.retval, c[i].flags ? TC_ACT_OK : TC_ACT_SHOT);
		/* ... every frame cut inside the tag is dropped. */
		for (size_t len = ETH_HLEN; len < 12 + sizeof(struct esptag_meta); len++) {
			if (!BT_CHECK(&obj, fd, in.b, len, NULL, &e, NULL)) {
				fprintf(stderr, "case %zu cut at %zu\n", i, len);
				return;
			}
		}
	}
}

static int install_sas(void)
{
	struct esptag_sa sa = { .spi = htonl(0x2000), .dir = ESPTAG_DIR_IN, .family = 4,
				.mode = ESPTAG_MODE_TRANSPORT, .flags = ESPTAG_SAF_ALIVE,
				.icv_len = 16 };
	uint32_t k = SA_MINE;

	struct esptag_sa_maps m = { .sad = fd_sad, .sa_stats = -1 };
	int err;

	memcpy(sa.local_mac, vf_mac, 6);
	if ((err = esptag_sa_mirror_write(&m, k, &sa, NULL, NULL)))
		return err;
	k = SA_OTHER;
	memcpy(sa.local_mac, other_mac, 6);
	if ((err = esptag_sa_mirror_write(&m, k, &sa, NULL, NULL)))
		return err;
	return set_cfg(0);
}

int main(void)
{
	int err = bt_open(&obj, "bpf/esptag_port.bpf.o", "port", NULL, NULL);

	if (err) {
		printf("FAIL load: esptag_port.bpf.o: %s\n", strerror(-err));
		return 1;
	}
	printf("PASS verifier_accepts_esptag_port\n");
	fd_from = bt_prog_fd(&obj, "esptag_port_in");
	fd_egress = bt_prog_fd(&obj, "esptag_port_out");
	fd_ports = bt_map_fd(&obj, "esptag_ports");
	fd_sad = bt_map_fd(&obj, "esptag_sad");
	fd_cfg = bt_map_fd(&obj, "esptag_cfg");
	err = install_sas();
	if (fd_from < 0 || fd_egress < 0 || err) {
		printf("FAIL setup: %s\n", strerror(err ? -err : ENOENT));
		bt_close(&obj);
		return 1;
	}
	T_RUN(untrusted_ingress_passes);
	T_RUN(untrusted_forged_tag_dropped);
	T_RUN(config_from_vf_dropped);
	T_RUN(vlan_hidden_dropped);
	T_RUN(spoofed_source_dropped);
	T_RUN(trusted_passes);
	T_RUN(trusted_bad_tags_dropped);
	T_RUN(unknown_port_dropped);
	T_RUN(uplink_untrusted_wrapped);
	T_RUN(uplink_gso_wrapped);
	T_RUN(uplink_pf_frames_untouched);
	T_RUN(uplink_trust_flip_next_frame);
	T_RUN(uplink_custom_meta_ethertype);
	T_RUN(to_vf_plain_passes);
	T_RUN(to_vf_config_dropped);
	T_RUN(to_vf_own_rx_tag_passes);
	T_RUN(to_vf_foreign_tags_dropped);
	T_RUN(truncated_tags);
	bt_close(&obj);
	return t_done();
}
