// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VF <-> PF mailbox codec (user/lib/ctl_mbox.h): every message type
 * round-trips; every malformed variant (length, magic, version, type, flags,
 * reserved bytes, status on a request, payload size per type and direction,
 * bad RESET reply fields) is refused; truncations are refused.
 */
#include "../lib/test.h"
#include "ctl.h"
#include "ctl_mbox.h"
#include "ctl_cli.h"

static uint8_t cfgp[ESPTAG_CFG_MAX_PAYLOAD];

static size_t build(uint8_t *m, int type, bool reply, int32_t status, const void *p, uint32_t n)
{
	return esptag_mbox_build(m, ESPTAG_MBOX_MAX, type, reply, 0x1234, status, p, n);
}

static bool ok(const uint8_t *m, size_t n)
{
	struct esptag_mbox_view v;
	char err[160];

	return esptag_mbox_decode(m, n, &v, err, sizeof(err)) == 0;
}

static void roundtrip(void)
{
	uint8_t m[ESPTAG_MBOX_MAX];
	struct esptag_mbox_view v;
	struct esptag_mbox_reset r = { .vf = 3, .port = 4, .mac = { 2, 0, 0, 0xa, 1, 3 },
				       .trusted = 1, .limit = 10, .removed = 7 };
	char err[160];
	size_t n;

	for (size_t i = 0; i < sizeof(cfgp); i++)
		cfgp[i] = i;
	n = build(m, ESPTAG_MBOX_CFG, false, 0, cfgp, 16);
	T_ASSERT(n == 24 + 16);
	T_ASSERT(esptag_mbox_decode(m, n, &v, err, sizeof(err)) == 0);
	T_EQ(v.hdr.type, ESPTAG_MBOX_CFG);
	T_EQ(v.hdr.seq, 0x1234u);
	T_EQ(v.hdr.len, 16u);
	T_ASSERT(!memcmp(v.payload, cfgp, 16));
	n = build(m, ESPTAG_MBOX_CFG, true, 0, cfgp, ESPTAG_CFG_MAX_PAYLOAD);
	T_ASSERT(ok(m, n));
	n = build(m, ESPTAG_MBOX_RESET, false, 0, NULL, 0);
	T_ASSERT(ok(m, n));
	n = build(m, ESPTAG_MBOX_RESET, true, 0, &r, sizeof(r));
	T_ASSERT(esptag_mbox_decode(m, n, &v, err, sizeof(err)) == 0);
	T_ASSERT(!memcmp(v.payload, &r, sizeof(r)));
	n = build(m, ESPTAG_MBOX_RESET, true, ESPTAG_CTL_E_TIMEOUT, NULL, 0);
	T_ASSERT(ok(m, n));
	/* the builder refuses what does not fit */
	T_EQ(esptag_mbox_build(m, 30, ESPTAG_MBOX_CFG, false, 1, 0, cfgp, 16), 0u);
}

static void refused(void)
{
	uint8_t m[ESPTAG_MBOX_MAX + 8], g[ESPTAG_MBOX_MAX + 8];
	struct esptag_mbox_hdr *h = (struct esptag_mbox_hdr *)m;
	struct esptag_mbox_reset r = { .vf = 3, .port = 4 };
	size_t n, gn;
	int bad = 0;

#define MUT(stmt)                                        \
	do {                                             \
		memcpy(m, g, gn);                        \
		n = gn;                                  \
		stmt;                                    \
		if (ok(m, n)) {                          \
			t_fail(__FILE__, __LINE__, "accepted: %s", #stmt); \
			bad++;                           \
		}                                        \
	} while (0)

	gn = build(g, ESPTAG_MBOX_CFG, false, 0, cfgp, 40);
	T_ASSERT(ok(g, gn));
	MUT(n = 0);
	MUT(n = 23);
	MUT(n = gn - 1);
	MUT(n = gn + 1);
	MUT(h->magic ^= 1);
	MUT(h->version = 2);
	MUT(h->type = 0);
	MUT(h->type = ESPTAG_MBOX_TYPE_MAX + 1);
	MUT(h->flags = 0x80);
	MUT(h->reserved = 1);
	MUT(h->reserved2 = 1);
	MUT(h->status = 1);
	MUT(h->len = 41);
	MUT((h->len = 8, n = 24 + 8));			/* shorter than a cfg header */
	MUT((h->len = ESPTAG_CFG_MAX_PAYLOAD + 1, n = 24 + h->len));
	/* a config reply never carries a status of its own */
	gn = build(g, ESPTAG_MBOX_CFG, true, 0, cfgp, 16);
	MUT((h->status = ESPTAG_CTL_E_AGENT));
	MUT((h->status = -1));
	/* RESET: request without payload, reply with exactly one reset record */
	gn = build(g, ESPTAG_MBOX_RESET, false, 0, NULL, 0);
	MUT((h->len = 4, n = 28));
	gn = build(g, ESPTAG_MBOX_RESET, true, 0, &r, sizeof(r));
	T_ASSERT(ok(g, gn));
	MUT((h->len = sizeof(r) - 1, n = 24 + sizeof(r) - 1));
	MUT(((struct esptag_mbox_reset *)(m + 24))->port = 5);	/* port != vf + 1 */
	MUT(((struct esptag_mbox_reset *)(m + 24))->nvlans = 3);
	MUT(((struct esptag_mbox_reset *)(m + 24))->trusted = 2);
	MUT(((struct esptag_mbox_reset *)(m + 24))->reserved = 1);
	MUT((((struct esptag_mbox_reset *)(m + 24))->vf = 300,
	     ((struct esptag_mbox_reset *)(m + 24))->port = 301));
	/* an error reply carries no payload */
	MUT(h->status = ESPTAG_CTL_E_TIMEOUT);
	MUT(h->status = ESPTAG_CTL_E_MAX + 1);
	T_EQ(bad, 0);
#undef MUT
}

static void truncations(void)
{
	uint8_t m[ESPTAG_MBOX_MAX];
	size_t n = build(m, ESPTAG_MBOX_CFG, false, 0, cfgp, 200);

	for (size_t i = 0; i < n; i++)
		T_ASSERT(!ok(m, i));
}

static void vf_items(void)
{
	struct esptag_ctl_vf vf = { .vf = 1, .mac = { 2, 0, 0, 0xa, 1, 1 },
				    .flags = ESPTAG_CTL_VF_TRUSTED };
	char err[160];

	strcpy(vf.ifname, "sw-vm1");
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), 0);
	vf.mac[0] = 1;		/* multicast */
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), -1);
	vf.mac[0] = 2;
	vf.vf = ESPTAG_CTL_VF_MAX + 1;
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), -1);
	vf.vf = 1;
	vf.sa_count = 1;	/* reply field in a request */
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), -1);
	vf.sa_count = 0;
	vf.nvlans = 1;		/* VID 0 */
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), -1);
	vf.vid[0] = 100;
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), 0);
	strcpy(vf.ifname, "a/b");
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), -1);
	strcpy(vf.ifname, "sw-vm1");
	vf.flags = 0x80;
	T_EQ(esptag_ctl_vf_check(&vf, ESPTAG_CTL_VF_ADD, true, err, sizeof(err)), -1);
}

static int parse(const char *line, struct esptag_cli_cmd *c)
{
	char buf[512], *argv[64], err[256];
	int argc;

	snprintf(buf, sizeof(buf), "%s", line);
	argc = esptag_cli_split(buf, argv, 64);
	return argc < 0 ? -1 : esptag_cli_parse(argc, argv, c, err, sizeof(err));
}

static void vf_grammar(void)
{
	static const char *const bad[] = {
		"vf add 1", "vf add 1 dev sw-vm1", "vf add 1 mac 02:00:00:0a:01:01",
		"vf add 255 dev sw-vm1 mac 02:00:00:0a:01:01",
		"vf add 1 dev sw-vm1 mac 03:00:00:0a:01:01",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01 trust maybe",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01 limit 0",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01 vlan 4095",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01 vlan 1 vlan 2 vlan 3",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01 addr 192.0.2.300",
		"vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01 colour blue",
		"vf trust 1", "vf trust 1 yes", "vf trust x on", "vf reset", "vf reset 1 now",
		"vf del -1", "vf list all", "vf frobnicate 1",
	};
	struct esptag_cli_cmd c;

	T_EQ(parse("vf add 3 dev sw-vm3 mac 02:00:00:0a:01:03 addr 192.0.2.13 vlan 100 "
		   "trust off limit 5", &c), 0);
	T_EQ(c.op, ESPTAG_CTL_VF_ADD);
	T_EQ(c.vf.vf, 3);
	T_ASSERT(!strcmp(c.vf.ifname, "sw-vm3"));
	T_EQ(c.vf.mac[5], 3);
	T_EQ(c.vf.flags, 0);
	T_EQ(c.vf.limit, 5);
	T_EQ(c.vf.nvlans, 1);
	T_EQ(c.vf.vid[0], 100);
	T_EQ(c.vf.family, 4);
	T_EQ(parse("vf add 1 dev sw-vm1 mac 02:00:00:0a:01:01", &c), 0);
	T_EQ(c.vf.flags, ESPTAG_CTL_VF_TRUSTED);
	T_EQ(parse("vf trust 7 on", &c), 0);
	T_EQ(c.op, ESPTAG_CTL_VF_TRUST);
	T_EQ(c.vf.vf, 7);
	T_EQ(c.vf.flags, ESPTAG_CTL_VF_TRUSTED);
	T_EQ(parse("vf trust 7 off", &c), 0);
	T_EQ(c.vf.flags, 0);
	T_EQ(parse("vf reset 2", &c), 0);
	T_EQ(c.op, ESPTAG_CTL_VF_RESET);
	T_EQ(parse("vf del 2", &c), 0);
	T_EQ(c.op, ESPTAG_CTL_VF_DEL);
	T_EQ(parse("vf list", &c), 0);
	T_EQ(c.op, ESPTAG_CTL_VF_LIST);
	T_EQ(parse("vf", &c), 0);
	T_EQ(c.op, ESPTAG_CTL_VF_LIST);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!parse(bad[i], &c)) {
			t_fail(__FILE__, __LINE__, "accepted: %s", bad[i]);
			return;
		}
		T_EQ(c.op, 0);	/* zeroed on failure */
	}
}

int main(void)
{
	T_RUN(roundtrip);
	T_RUN(refused);
	T_RUN(truncations);
	T_RUN(vf_items);
	T_RUN(vf_grammar);
	return t_done();
}
