// SPDX-License-Identifier: GPL-2.0-only
/*
 * The esptag command-line grammar (user/lib/ctl_cli*.c): good commands give
 * the exact request, bad ones a clear error and no request (and no key
 * bytes left in the command).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "../lib/test.h"
#include "ctl_cli.h"
#include <esptag/maps.h>

#define K128 "0x0102030405060708090a0b0c0d0e0f10a1a2a3a4"
#define K256 "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20a1a2a3a4"

static struct esptag_cli_cmd cmd;
static char err[256];

/* Parse a space-separated line (quotes allowed, like a batch file). */
static int parse(const char *line)
{
	static char buf[1024];
	char *argv[64];
	int argc;

	snprintf(buf, sizeof(buf), "%s", line);
	argc = esptag_cli_split(buf, argv, 64);
	if (argc < 0)
		return -2;
	err[0] = 0;
	return esptag_cli_parse(argc, argv, &cmd, err, sizeof(err));
}

static bool cmd_is_zero(void)
{
	const uint8_t *p = (const uint8_t *)&cmd;

	for (size_t i = 0; i < sizeof(cmd); i++)
		if (p[i])
			return false;
	return true;
}

/* A bad command: error mentioning `needle`, and nothing left in cmd. */
#define BAD(line, needle)                                                           \
	do {                                                                        \
		T_EQ(parse(line), -1);                                              \
		if (!strstr(err, needle)) {                                         \
			t_fail(__FILE__, __LINE__, "error '%s' lacks '%s'", err, needle); \
			return;                                                     \
		}                                                                   \
		T_ASSERT(cmd_is_zero());                                            \
	} while (0)

static void state_add_v4_out(void)
{
	uint8_t want_key[16], want_salt[4] = { 0xa1, 0xa2, 0xa3, 0xa4 };

	for (int i = 0; i < 16; i++)
		want_key[i] = i + 1;
	T_EQ(parse("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
		   "mode transport reqid 7 aead 'rfc4106(gcm(aes))' " K128 " 128 dir out"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_ADD);
	T_ASSERT(!strcmp(cmd.dev, "eth0"));
	T_ASSERT(!strcmp(cmd.sa.dev, "eth0"));
	T_EQ(cmd.sa.family, 4);
	T_EQ(cmd.sa.dir, ESPTAG_DIR_OUT);
	T_EQ(cmd.sa.mode, ESPTAG_MODE_TRANSPORT);
	T_EQ(cmd.sa.spi, 0x1000);
	T_EQ(cmd.sa.reqid, 7);
	T_EQ(cmd.sa.alg, ESPTAG_ALG_AES_GCM_128);
	T_EQ(cmd.sa.key_len, 16);
	T_EQ(cmd.sa.icv_len, 16);
	T_EQ(cmd.sa.sa_index, ESPTAG_SA_INDEX_NONE);
	T_MEMEQ(cmd.sa.key, 16, want_key, 16);
	T_MEMEQ(cmd.sa.salt, 4, want_salt, 4);
	T_EQ(cmd.sa.key[16], 0);
	T_EQ(cmd.sa.daddr[0], 198);
	T_EQ(cmd.sa.daddr[3], 7);
	T_EQ(cmd.sa.daddr[4], 0);
	T_EQ(cmd.sa.saddr[3], 1);
	esptag_cli_cmd_clear(&cmd);
	T_ASSERT(cmd_is_zero());
}

static void state_add_v6_tunnel_esn_vlans(void)
{
	T_EQ(parse("state add dev vf1 src 2001:db8::1 dst 2001:db8:1::2 proto esp spi 4096 "
		   "mode tunnel aead rfc4106(gcm(aes)) " K256 " 128 replay-window 1024 esn "
		   "vlan 100 vlan 4094 limit time-hard 60 dir in"), 0);
	T_EQ(cmd.sa.family, 6);
	T_EQ(cmd.sa.mode, ESPTAG_MODE_TUNNEL);
	T_EQ(cmd.sa.alg, ESPTAG_ALG_AES_GCM_256);
	T_EQ(cmd.sa.key_len, 32);
	T_EQ(cmd.sa.key[31], 0x20);
	T_EQ(cmd.sa.salt[3], 0xa4);
	T_EQ(cmd.sa.replay_window, 1024);
	T_EQ(cmd.sa.sa_flags, ESPTAG_SA_F_ESN);
	T_EQ(cmd.sa.nvlans, 2);
	T_EQ(cmd.sa.vid[0], 100);
	T_EQ(cmd.sa.vid[1], 4094);
	T_EQ(cmd.sa.lifetime, 60);
	T_EQ(cmd.sa.dir, ESPTAG_DIR_IN);
	T_EQ(cmd.sa.daddr[15], 2);
}

static void state_add_mode_defaults_to_transport(void)
{
	T_EQ(parse("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 256 "
		   "aead rfc4106(gcm(aes)) " K128 " 128 dir out"), 0);
	T_EQ(cmd.sa.mode, ESPTAG_MODE_TRANSPORT);
}

static void state_add_bad(void)
{
	const char *base = "state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out ";
	char line[512];

	/* bad key lengths: 16 bytes (no salt), 21 bytes, 24+4 (AES-192) */
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10 128", base);
	BAD(line, "20 bytes for AES-128");
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) " K128 "ff 128", base);
	BAD(line, "21 bytes");
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) 0x%s 128", base,
		 "0102030405060708090a0b0c0d0e0f101112131415161718a1a2a3a4");
	BAD(line, "28 bytes");
	/* not hex, odd length */
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f10a1a2a3zz 128", base);
	BAD(line, "not hexadecimal");
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) 0x102030405060708090a0b0c0d0e0f10a1a2a3a4 128", base);
	BAD(line, "not hexadecimal");
	/* unknown algorithms, ICV */
	snprintf(line, sizeof(line), "%saead rfc4309(ccm(aes)) " K128 " 128", base);
	BAD(line, "unknown algorithm 'rfc4309(ccm(aes))'");
	snprintf(line, sizeof(line), "%saead gcm(aes) " K128 " 128", base);
	BAD(line, "unknown algorithm");
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) " K128 " 96", base);
	BAD(line, "ICV length '96' not supported");
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) " K128, base);
	BAD(line, "aead needs NAME KEY ICV-BITS");
	/* all-zero key */
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) 0x%040d 128", base, 0);
	BAD(line, "key missing");

	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto ah spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "only esp");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "reserved");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1ffffffff dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "not a 32-bit number");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi -5 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "not a 32-bit number");
	BAD("state add dev eth0 src 192.0.2.1 dst 2001:db8::2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "both be IPv4 or both IPv6");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.300 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "not an IPv4 or IPv6 address");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) " K128 " 128",
	    "dir in");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir sideways aead rfc4106(gcm(aes)) " K128 " 128",
	    "dir must be 'in' or 'out'");
	BAD("state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "needs 'dev DEV'");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out",
	    "needs 'aead");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 spi 0x2000 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "given twice");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 mode beet dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "transport or tunnel");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir in replay-window 1025 aead rfc4106(gcm(aes)) " K128 " 128",
	    "replay-window '1025'");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out replay-window 32 aead rfc4106(gcm(aes)) " K128 " 128",
	    "'dir in' SAs only");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out vlan 4095 aead rfc4106(gcm(aes)) " K128 " 128",
	    "1-4094");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out vlan 1 vlan 2 vlan 3 aead rfc4106(gcm(aes)) " K128 " 128",
	    "at most two");
	BAD("state add dev averyveryverylongname src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128",
	    "1-15 characters");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out colour blue aead rfc4106(gcm(aes)) " K128 " 128",
	    "unknown keyword 'colour'");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128 limit time-use-soft 5",
	    "not supported");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128 limit byte-hard -1",
	    "number of bytes");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128 limit time-hard 5 limit time-hard 6",
	    "'limit time-hard' given twice");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128 limit packet-soft 9 limit packet-hard 8",
	    "packet-soft is beyond packet-hard");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out aead rfc4106(gcm(aes)) " K128 " 128 limit frobs 1",
	    "limit 'frobs' unknown");
	BAD("state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi", "needs a value");
}

static void state_del_and_simple(void)
{
	T_EQ(parse("state del dev eth0 dst 2001:db8::9 proto esp spi 0x2000 dir in"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_DEL);
	T_EQ(cmd.id.family, 6);
	T_EQ(cmd.id.spi, 0x2000);
	T_EQ(cmd.id.dir, ESPTAG_DIR_IN);
	T_EQ(cmd.id.proto, 50);
	T_EQ(parse("state del dev eth0 dst 192.0.2.9 proto esp spi 0x2000"), 0);
	T_EQ(cmd.id.dir, 0);
	BAD("state del dev eth0 proto esp spi 0x2000", "needs dev DEV dst ADDR");
	BAD("state del dev 'e\"th0' dst 192.0.2.9 proto esp spi 0x2000", "bad character");
	BAD("state del dev eth0:1 dst 192.0.2.9 proto esp spi 0x2000", "bad character");
	T_EQ(parse("state list"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_LIST);
	T_EQ(parse("state show"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_LIST);
	T_EQ(parse("state flush"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_FLUSH);
	BAD("state flush now", "takes no arguments but 'dev DEV'");
	BAD("state frobnicate", "unknown command 'state frobnicate'");
	T_EQ(parse("agent status"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_AGENT_STATUS);
	T_EQ(parse("agent sa"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_AGENT_SA);
	T_EQ(parse("stats"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATS);
	T_EQ(parse("monitor"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_MONITOR);
	BAD("xfrm state", "unknown object 'xfrm'");
	BAD("agent reboot", "use status, sa or help");
}

static void policy_good(void)
{
	T_EQ(parse("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/25 dir out action protect spi 0x1000"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_ADD);
	T_EQ(cmd.pol.family, 4);
	T_EQ(cmd.pol.src_plen, 24);
	T_EQ(cmd.pol.dst_plen, 25);
	T_EQ(cmd.pol.dst[3], 0);
	T_EQ(cmd.pol.action, ESPTAG_ACT_PROTECT);
	T_EQ(cmd.pol.spi, 0x1000);
	T_EQ(parse("policy add dev eth0 src 2001:db8::/32 dst ::/0 dir in action protect"), 0);
	T_EQ(cmd.pol.family, 6);
	T_EQ(cmd.pol.dst_plen, 0);
	T_EQ(cmd.pol.spi, 0);
	T_EQ(parse("policy add dev eth0 src 0.0.0.0/0 dst 203.0.113.5 dir out action bypass"), 0);
	T_EQ(cmd.pol.dst_plen, 32);
	T_EQ(cmd.pol.action, ESPTAG_ACT_BYPASS);
	T_EQ(parse("policy add dev eth0 src 0.0.0.0/0 dst 203.0.113.0/24 dir in action discard"), 0);
	T_EQ(cmd.pol.action, ESPTAG_ACT_DISCARD);
	T_EQ(parse("policy del dev eth0 src 0.0.0.0/0 dst 203.0.113.0/24 dir in"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_DEL);
	T_EQ(parse("policy get dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_GET);
	T_EQ(cmd.pol.dir, ESPTAG_DIR_OUT);
	T_EQ(cmd.pol.dst_plen, 32);
	/* A trap policy: reqid and template, no SPI, no SA needed. */
	T_EQ(parse("policy add dev eth0 src 192.0.2.1/32 dst 192.0.2.2/32 dir out tmpl src 192.0.2.1 dst 192.0.2.2 proto esp reqid 7 mode transport"), 0);
	T_EQ(cmd.pol.action, ESPTAG_ACT_PROTECT);
	T_EQ(cmd.pol.spi, 0);
	T_EQ(cmd.pol.reqid, 7);
	T_EQ(cmd.pol.tmpl_flags, ESPTAG_CTL_TMPL_SRC | ESPTAG_CTL_TMPL_DST | ESPTAG_CTL_TMPL_REQID);
	T_EQ(parse("policy list"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_LIST);
	T_EQ(parse("policy flush"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_FLUSH);
}

/* The SA of an outbound protect policy, named as ip xfrm's template does. */
static void policy_tmpl(void)
{
	T_EQ(parse("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out "
		   "tmpl src 192.0.2.1 dst 203.0.113.2 proto esp spi 0x1000 reqid 7 mode tunnel"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_ADD);
	T_EQ(cmd.pol.action, ESPTAG_ACT_PROTECT);	/* a template means protect */
	T_EQ(cmd.pol.spi, 0x1000);
	T_EQ(cmd.pol.reqid, 7);
	T_EQ(cmd.pol.tmpl_mode, ESPTAG_MODE_TUNNEL);
	T_EQ(cmd.pol.tmpl_family, 4);
	T_EQ(cmd.pol.tmpl_flags, ESPTAG_CTL_TMPL_SRC | ESPTAG_CTL_TMPL_DST | ESPTAG_CTL_TMPL_REQID);
	T_EQ(cmd.pol.tmpl_dst[0], 203);
	T_EQ(cmd.pol.tmpl_src[3], 1);
	/* the selector's dst is not the template's */
	T_EQ(cmd.pol.dst[0], 198);
	T_EQ(cmd.pol.dst_plen, 24);
	T_EQ(parse("policy update dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out "
		   "action protect spi 0x2000 tmpl dst 198.51.100.2"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_POLICY_UPDATE);
	T_EQ(cmd.pol.spi, 0x2000);
	T_EQ(cmd.pol.tmpl_flags, ESPTAG_CTL_TMPL_DST);
	T_EQ(parse("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out "
		   "action protect reqid 9"), 0);
	T_EQ(cmd.pol.spi, 0);
	T_EQ(cmd.pol.tmpl_flags, ESPTAG_CTL_TMPL_REQID);
	T_EQ(parse("policy update dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action bypass"),
	     0);
	T_EQ(cmd.pol.action, ESPTAG_ACT_BYPASS);
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action bypass tmpl dst 203.0.113.2",
	    "only go with 'action protect'");
	/* An inbound template: the SA that must have decrypted the traffic. */
	T_EQ(parse("policy add dev eth0 src 198.51.100.0/24 dst 192.0.2.0/24 dir in tmpl src 198.51.100.2 dst 192.0.2.1 proto esp reqid 7 mode tunnel"), 0);
	T_EQ(cmd.pol.dir, ESPTAG_DIR_IN);
	T_EQ(cmd.pol.action, ESPTAG_ACT_PROTECT);
	T_EQ(cmd.pol.reqid, 7);
	T_EQ(cmd.pol.tmpl_mode, ESPTAG_MODE_TUNNEL);
	T_EQ(cmd.pol.tmpl_flags, ESPTAG_CTL_TMPL_SRC | ESPTAG_CTL_TMPL_DST | ESPTAG_CTL_TMPL_REQID);
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out tmpl dst 203.0.113.2",
	    "needs 'spi SPI'");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out spi 0x1000 tmpl dst 203.0.113.2 dst 203.0.113.3",
	    "'tmpl dst' given twice");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out spi 0x1000 tmpl src 2001:db8::1 dst 203.0.113.2",
	    "both be IPv4 or both IPv6");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out spi 0x1000 tmpl dst peer",
	    "is not an IPv4 or IPv6 address");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out spi 0x1000 tmpl mode beet",
	    "tmpl mode must be");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out spi 0x1000 tmpl dst 203.0.113.2 aead x",
	    "unknown keyword 'aead'");
	BAD("policy update dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out", "needs 'action");
	BAD("policy del dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out tmpl dst 203.0.113.2",
	    "unknown keyword 'tmpl'");
}

static void policy_bad(void)
{
	BAD("policy add dev eth0 src 192.0.2.1/24 dst 198.51.100.0/24 dir out action bypass",
	    "host bits set");
	BAD("policy add dev eth0 src 192.0.2.0/33 dst 198.51.100.0/24 dir out action bypass",
	    "prefix length must be 0-32");
	BAD("policy add dev eth0 src 2001:db8::/129 dst 2001:db8::/64 dir out action bypass",
	    "prefix length must be 0-128");
	BAD("policy add dev eth0 src 192.0.2.0/ dst 198.51.100.0/24 dir out action bypass",
	    "prefix length missing");
	BAD("policy add dev eth0 src 192.0.2.0/-1 dst 198.51.100.0/24 dir out action bypass",
	    "prefix length missing");
	BAD("policy add dev eth0 src 192.0.2.0/2x dst 198.51.100.0/24 dir out action bypass",
	    "prefix length must be");
	BAD("policy add dev eth0 src bogus/24 dst 198.51.100.0/24 dir out action bypass",
	    "not an IPv4 or IPv6 address");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 2001:db8::/32 dir out action bypass",
	    "both be IPv4 or both IPv6");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action protect",
	    "needs 'spi SPI'");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action bypass spi 0x1000",
	    "only goes with 'action protect'");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action encrypt",
	    "action must be");
	BAD("policy add dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out", "needs 'action");
	BAD("policy add dev eth0 src 192.0.2.0/24 dir out action bypass", "needs dev DEV src PREFIX dst PREFIX");
	BAD("policy del dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action bypass",
	    "unknown keyword 'action'");
	BAD("policy get dev eth0 src 192.0.2.0/24 dst 198.51.100.0/24 dir out action bypass",
	    "unknown keyword 'action'");
	BAD("policy get dev eth0 src 192.0.2.0/24 dir out", "policy get needs dev DEV src PREFIX dst PREFIX");
}

static void split(void)
{
	char line[] = "  state add 'rfc4106(gcm(aes))' \"a b\" x # comment";
	char *argv[8];

	T_EQ(esptag_cli_split(line, argv, 8), 5);
	T_ASSERT(!strcmp(argv[2], "rfc4106(gcm(aes))"));
	T_ASSERT(!strcmp(argv[3], "a b"));
	T_ASSERT(!strcmp(argv[4], "x"));
	char l2[] = "state 'add";
	T_EQ(esptag_cli_split(l2, argv, 8), -1);
	char l3[] = "   # only a comment";
	T_EQ(esptag_cli_split(l3, argv, 8), 0);
	char l4[] = "a b c";
	T_EQ(esptag_cli_split(l4, argv, 2), -1);
}


/*
 * ip-xfrm spellings: each line parses, and gives exactly this op, verb,
 * help object and dev (the socket it selects).
 */
static void ip_xfrm_habits(void)
{
	static const struct {
		const char *line;
		int op, verb, help;
		const char *dev;
	} t[] = {
		{ "state ls", ESPTAG_CTL_STATE_LIST, 0, 0, "" },
		{ "state list", ESPTAG_CTL_STATE_LIST, 0, 0, "" },
		{ "state show dev eth0", ESPTAG_CTL_STATE_LIST, 0, 0, "eth0" },
		{ "st l", ESPTAG_CTL_STATE_LIST, 0, 0, "" },
		{ "s", ESPTAG_CTL_STATE_LIST, 0, 0, "" },
		{ "sa list", ESPTAG_CTL_STATE_LIST, 0, 0, "" },
		{ "sta sh", ESPTAG_CTL_STATE_LIST, 0, 0, "" },
		{ "state count", ESPTAG_CTL_STATE_LIST, ESPTAG_CLI_COUNT, 0, "" },
		{ "st c dev eth1", ESPTAG_CTL_STATE_LIST, ESPTAG_CLI_COUNT, 0, "eth1" },
		{ "state deleteall", ESPTAG_CTL_STATE_FLUSH, 0, 0, "" },
		{ "state deletea dev eth0", ESPTAG_CTL_STATE_FLUSH, 0, 0, "eth0" },
		{ "state f", ESPTAG_CTL_STATE_FLUSH, 0, 0, "" },
		{ "pol li", ESPTAG_CTL_POLICY_LIST, 0, 0, "" },
		{ "policy ls dev eth0", ESPTAG_CTL_POLICY_LIST, 0, 0, "eth0" },
		{ "p s", ESPTAG_CTL_POLICY_LIST, 0, 0, "" },
		{ "policy deleteall", ESPTAG_CTL_POLICY_FLUSH, 0, 0, "" },
		{ "pol fl dev eth0", ESPTAG_CTL_POLICY_FLUSH, 0, 0, "eth0" },
		{ "a st", ESPTAG_CTL_AGENT_STATUS, 0, 0, "" },
		{ "agent show dev eth0", ESPTAG_CTL_AGENT_STATUS, 0, 0, "eth0" },
		{ "agent sa dev eth0", ESPTAG_CTL_AGENT_SA, 0, 0, "eth0" },
		{ "stats dev eth0", ESPTAG_CTL_STATS, 0, 0, "eth0" },
		{ "stat", ESPTAG_CTL_STATE_LIST, 0, 0, "" }, /* state wins, as in ip xfrm */
		{ "mon dev eth0", ESPTAG_CTL_MONITOR, 0, 0, "eth0" },
		{ "vf ls dev eth0", ESPTAG_CTL_VF_LIST, 0, 0, "eth0" },
		{ "vf trust 3 on dev eth0", ESPTAG_CTL_VF_TRUST, 0, 0, "eth0" },
		{ "vf t 3 off", ESPTAG_CTL_VF_TRUST, 0, 0, "" },
		{ "vf reset 3 dev eth0", ESPTAG_CTL_VF_RESET, 0, 0, "eth0" },
		{ "vf d 3 dev eth0", ESPTAG_CTL_VF_DEL, 0, 0, "eth0" },
		{ "help", 0, 0, ESPTAG_CLI_OBJ_ALL, "" },
		{ "help state", 0, 0, ESPTAG_CLI_OBJ_STATE, "" },
		{ "state help", 0, 0, ESPTAG_CLI_OBJ_STATE, "" },
		{ "st h", 0, 0, ESPTAG_CLI_OBJ_STATE, "" },
		{ "policy help", 0, 0, ESPTAG_CLI_OBJ_POLICY, "" },
		{ "agent help", 0, 0, ESPTAG_CLI_OBJ_AGENT, "" },
		{ "vf help", 0, 0, ESPTAG_CLI_OBJ_VF, "" },
		{ "stats help", 0, 0, ESPTAG_CLI_OBJ_STATS, "" },
		{ "monitor help", 0, 0, ESPTAG_CLI_OBJ_MONITOR, "" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (parse(t[i].line)) {
			t_fail(__FILE__, __LINE__, "'%s' refused: %s", t[i].line, err);
			return;
		}
		if (cmd.op != t[i].op || cmd.verb != t[i].verb || cmd.help != t[i].help ||
		    strcmp(cmd.dev, t[i].dev)) {
			t_fail(__FILE__, __LINE__, "'%s': op %d verb %d help %d dev '%s'", t[i].line,
			       cmd.op, cmd.verb, cmd.help, cmd.dev);
			return;
		}
	}
}

/* state get, the ip xfrm spellings of del, and `flag esn`. */
static void ip_xfrm_sa_fields(void)
{
	T_EQ(parse("state get dst 198.51.100.7 proto esp spi 0x1000 dir out"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_GET);
	T_EQ(cmd.verb, ESPTAG_CLI_GET);
	T_EQ(cmd.id.family, 4);
	T_EQ(cmd.id.daddr[0], 198);
	T_EQ(cmd.id.daddr[3], 7);
	T_EQ(cmd.id.spi, 0x1000);
	T_EQ(cmd.id.dir, ESPTAG_DIR_OUT);
	T_ASSERT(!strcmp(cmd.dev, ""));
	T_EQ(parse("st g dev eth0 dst 2001:db8::9 spi 4096"), 0);
	T_EQ(cmd.verb, ESPTAG_CLI_GET);
	T_EQ(cmd.id.family, 6);
	T_EQ(cmd.id.spi, 4096);
	T_EQ(cmd.id.dir, 0);
	T_ASSERT(!strcmp(cmd.dev, "eth0"));
	BAD("state get dst 198.51.100.7", "state get needs");
	BAD("state get spi 0x1000", "state get needs");
	BAD("state get dst 198.51.100.7 spi 0x1000 key 1", "unknown keyword 'key' in state get");
	T_EQ(parse("state d dev eth0 dst 192.0.2.9 proto esp spi 0x2000"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_DEL);
	T_EQ(cmd.id.spi, 0x2000);
	T_EQ(parse("state delete dev eth0 dst 192.0.2.9 proto esp spi 0x2000"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_DEL);
	T_EQ(parse("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
		   "aead 'rfc4106(gcm(aes))' " K128 " 128 flag esn dir out"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_ADD);
	T_ASSERT(cmd.sa.sa_flags & ESPTAG_SA_F_ESN);
	T_EQ(parse("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
		   "aead 'rfc4106(gcm(aes))' " K128 " 128 esn dir out"), 0);
	T_ASSERT(cmd.sa.sa_flags & ESPTAG_SA_F_ESN);
	T_EQ(parse("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
		   "aead 'rfc4106(gcm(aes))' " K128 " 128 dir out"), 0);
	T_ASSERT(!(cmd.sa.sa_flags & ESPTAG_SA_F_ESN));
	BAD("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
	    "aead 'rfc4106(gcm(aes))' " K128 " 128 flag esn esn dir out", "'esn' given twice");
	BAD("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
	    "aead 'rfc4106(gcm(aes))' " K128 " 128 flag wildrecv dir out", "only 'flag esn'");
	BAD("state add dev eth0 src 192.0.2.1 dst 198.51.100.7 proto esp spi 0x1000 "
	    "aead 'rfc4106(gcm(aes))' " K128 " 128 dir out flag", "'flag' needs a value");
}

/* limit words (ip xfrm), state update, state allocspi, refused algorithms */
static void lifetimes_and_ike_words(void)
{
	const char *base = "state add dev eth0 src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir out ";
	char line[512];

	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) " K128 " 128 limit time-soft 30 "
		 "limit time-hard 60 limit byte-soft 1000 limit byte-hard 0x10000000000 "
		 "limit packet-soft 5 limit packet-hard 10", base);
	T_EQ(parse(line), 0);
	T_EQ(cmd.sa.soft_time, 30);
	T_EQ(cmd.sa.lifetime, 60);
	T_EQ(cmd.sa.soft_bytes, 1000);
	T_EQ(cmd.sa.hard_bytes, 0x10000000000ull);
	T_EQ(cmd.sa.soft_packets, 5);
	T_EQ(cmd.sa.hard_packets, 10);
	/* algorithms an SA cannot have: the error says what it can */
	snprintf(line, sizeof(line), "%senc cbc(aes) 0x0102030405060708090a0b0c0d0e0f10", base);
	BAD(line, "'cbc(aes)' not supported: esptag SAs are AES-GCM with a 16-byte ICV and a 128- or 256-bit key");
	snprintf(line, sizeof(line), "%sauth hmac(sha256) 0x01", base);
	BAD(line, "auth 'hmac(sha256)' not supported");
	snprintf(line, sizeof(line), "%saead rfc7539esp(chacha20,poly1305) " K256 " 128", base);
	BAD(line, "AES-GCM with a 16-byte ICV");
	snprintf(line, sizeof(line), "%saead rfc4106(gcm(aes)) " K128 " 64", base);
	BAD(line, "ICV length '64' not supported: only 128 (bits); esptag SAs are AES-GCM");
	/* state update: limits and window only; what was given */
	T_EQ(parse("state update src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1000 dir in "
		   "limit packet-hard 100 replay-window 64"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_UPDATE);
	T_EQ(cmd.verb, ESPTAG_CLI_UPDATE);
	T_EQ(cmd.sa.hard_packets, 100);
	T_EQ(cmd.sa.replay_window, 64);
	T_EQ(cmd.upd, ESPTAG_CLI_UPD_PACKET_HARD | ESPTAG_CLI_UPD_REPLAY);
	{
		struct esptag_ctl_sa cur = { .lifetime = 60, .soft_bytes = 7, .hard_packets = 1,
					     .replay_window = 32, .cur_bytes = 5, .seq = 9 };

		esptag_cli_update_merge(&cmd, &cur);
		T_EQ(cur.lifetime, 60);
		T_EQ(cur.soft_bytes, 7);
		T_EQ(cur.hard_packets, 100);
		T_EQ(cur.replay_window, 64);
		T_EQ(cur.cur_bytes, 0);
		T_EQ(cur.seq, 0);
	}
	BAD("state update dst 192.0.2.2 proto esp spi 0x1000 aead rfc4106(gcm(aes)) " K128 " 128",
	    "cannot change keys");
	BAD("state update dst 192.0.2.2 proto esp spi 0x1000", "nothing to change");
	BAD("state update dst 192.0.2.2 limit packet-hard 5", "state update needs");
	BAD("state update dst 192.0.2.2 spi 0x1000 dir out replay-window 32", "'dir in' SAs only");
	/* allocspi */
	T_EQ(parse("state allocspi src 192.0.2.2 dst 192.0.2.1 proto esp min 0x100 max 0x1ff reqid 3 dev eth0"), 0);
	T_EQ(cmd.op, ESPTAG_CTL_STATE_ALLOCSPI);
	T_EQ(cmd.verb, ESPTAG_CLI_ALLOCSPI);
	T_EQ(cmd.spi.family, 4);
	T_EQ(cmd.spi.proto, 50);
	T_EQ(cmd.spi.min, 0x100);
	T_EQ(cmd.spi.max, 0x1ff);
	T_EQ(cmd.spi.reqid, 3);
	T_EQ(cmd.spi.daddr[3], 1);
	T_EQ(cmd.spi.saddr[3], 2);
	T_ASSERT(!strcmp(cmd.dev, "eth0"));
	T_EQ(parse("st allocspi src 2001:db8::2 dst 2001:db8::1 proto esp"), 0);
	T_EQ(cmd.spi.family, 6);
	T_EQ(cmd.spi.min, 0);
	BAD("state allocspi dst 192.0.2.1 proto esp", "allocspi needs");
	BAD("state allocspi src 192.0.2.2 dst 192.0.2.1 min 0x200", "both min SPI and max SPI");
	BAD("state allocspi src 192.0.2.2 dst 192.0.2.1 min 0x300 max 0x200", "above max");
	BAD("state allocspi src 192.0.2.2 dst 2001:db8::1", "both be IPv4 or both IPv6");
	BAD("state allocspi src 192.0.2.2 dst 192.0.2.1 spi 0x1000", "unknown keyword 'spi'");
}

/* An ambiguous prefix is refused, naming the candidates; so are bad dev names. */
static void ip_xfrm_refused(void)
{
	BAD("agent s", "ambiguous agent command 's': it could be status, sa");
	BAD("state de", "state del needs"); /* del wins over deleteall */
	BAD("state x", "unknown command 'state x'");
	BAD("help frob", "no help on 'frob'");
	BAD("stats list", "takes no arguments but 'dev DEV'");
	BAD("state list dev 'a\"b'", "bad character");
	BAD("state list dev 'a\\b'", "bad character");
	BAD("stats dev 'x\"y'", "bad character");
	BAD("state list dev eth0 dev eth1", "'dev' given twice");
	BAD("vf reset 3 now", "takes no more arguments but 'dev DEV'");
	BAD("vf del 3 dev 'a\\b'", "bad character");
}

/* "-s NEXT": the old socket spelling only for a path that is not an object. */
static void s_old_or_stats(void)
{
	char dir[] = "/tmp/et-cliparse-XXXXXX", sock[64];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	T_ASSERT(esptag_cli_s_is_socket("/run/esptag/eth0.sock"));
	T_ASSERT(esptag_cli_s_is_socket("./x.sock"));
	T_ASSERT(!esptag_cli_s_is_socket("state"));
	T_ASSERT(!esptag_cli_s_is_socket("st"));
	T_ASSERT(!esptag_cli_s_is_socket("policy"));
	T_ASSERT(!esptag_cli_s_is_socket("stats"));
	T_ASSERT(!esptag_cli_s_is_socket("-j"));
	T_ASSERT(!esptag_cli_s_is_socket(""));
	T_ASSERT(!esptag_cli_s_is_socket(NULL));
	T_ASSERT(!esptag_cli_s_is_socket("nosuch.sock"));
	/* an existing socket without '/' in its name (relative, in the cwd) */
	T_ASSERT(mkdtemp(dir) != NULL);
	snprintf(sock, sizeof(sock), "%s/esp0.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	T_ASSERT(fd >= 0 && !bind(fd, (struct sockaddr *)&sun, sizeof(sun)));
	T_ASSERT(!chdir(dir));
	T_ASSERT(esptag_cli_s_is_socket("esp0.sock"));
	T_ASSERT(!esptag_cli_s_is_socket("esp1.sock"));
	close(fd);
	unlink(sock);
	T_ASSERT(!chdir("/"));
	rmdir(dir);
}

int main(void)
{
	T_RUN(state_add_v4_out);
	T_RUN(state_add_v6_tunnel_esn_vlans);
	T_RUN(state_add_mode_defaults_to_transport);
	T_RUN(state_add_bad);
	T_RUN(state_del_and_simple);
	T_RUN(policy_good);
	T_RUN(policy_bad);
	T_RUN(policy_tmpl);
	T_RUN(split);
	T_RUN(ip_xfrm_habits);
	T_RUN(ip_xfrm_sa_fields);
	T_RUN(ip_xfrm_refused);
	T_RUN(s_old_or_stats);
	T_RUN(lifetimes_and_ike_words);
	return t_done();
}
