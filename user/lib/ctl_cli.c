// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar. Every error says what was wrong and what is
 * expected; nothing is sent unless the whole command parsed.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <esptag/maps.h>
#include "ctl_cli.h"
#include "util.h"

#define AEAD_NAME "rfc4106(gcm(aes))"

/* The shared error-buffer helper (util.h), under its short local name. */
#define fail esptag_fail

void esptag_cli_cmd_clear(struct esptag_cli_cmd *cmd)
{
	explicit_bzero(cmd, sizeof(*cmd));
}

static int parse_u32(const char *s, uint32_t *out, uint32_t max)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 0xHEX -> bytes; returns the length or -1. */
static int parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	n = strlen(s);
	if (!n || n % 2)
		return -1;
	if (n / 2 > cap)
		return (int)(n / 2);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			explicit_bzero(out, cap);
			return -2;
		}
		out[i] = hi << 4 | lo;
	}
	return (int)(n / 2);
}

static int set_dev(char *dst, const char *s, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (!n || n >= ESPTAG_CTL_DEV_LEN)
		return fail(err, errlen, "device name '%s' must be 1-15 characters", s);
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || strchr("/:\\\"'", s[i]))
			return fail(err, errlen, "device name '%s' has a bad character", s);
	memset(dst, 0, ESPTAG_CTL_DEV_LEN);
	memcpy(dst, s, n);
	return 0;
}

static int parse_dir(const char *s, uint8_t *dir, char *err, size_t errlen)
{
	if (!strcmp(s, "in"))
		*dir = ESPTAG_DIR_IN;
	else if (!strcmp(s, "out"))
		*dir = ESPTAG_DIR_OUT;
	else
		return fail(err, errlen, "dir must be 'in' or 'out', not '%s'", s);
	return 0;
}

static int parse_spi(const char *s, uint32_t *spi, char *err, size_t errlen)
{
	if (parse_u32(s, spi, 0xffffffffu))
		return fail(err, errlen, "spi '%s' is not a 32-bit number (e.g. 0x1000)", s);
	if (*spi < 256)
		return fail(err, errlen, "spi %s is reserved (0-255, RFC 4303); use 256 or more",
			    s);
	return 0;
}

/* Walks argv: NEXT(kw) fetches the value of keyword kw. */
struct args {
	int argc, i;
	char **argv;
	char *err;
	size_t errlen;
};

static const char *next_val(struct args *a, const char *kw)
{
	if (a->i + 1 >= a->argc) {
		fail(a->err, a->errlen, "'%s' needs a value", kw);
		return NULL;
	}
	return a->argv[++a->i];
}

#define SEEN(bit, kw)                                                                \
	do {                                                                         \
		if (seen & (bit))                                                    \
			return fail(err, errlen, "'%s' given twice", kw);            \
		seen |= (bit);                                                       \
	} while (0)

enum {
	S_DEV = 1 << 0, S_SRC = 1 << 1, S_DST = 1 << 2, S_PROTO = 1 << 3, S_SPI = 1 << 4,
	S_MODE = 1 << 5, S_REQID = 1 << 6, S_AEAD = 1 << 7, S_REPLAY = 1 << 8, S_ESN = 1 << 9,
	S_DIR = 1 << 10, S_LIMIT = 1 << 11, S_ACTION = 1 << 12, S_TMPL = 1 << 13,
	S_TSRC = 1 << 14, S_TDST = 1 << 15,
};

static int parse_aead(struct args *a, struct esptag_ctl_sa *sa)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	uint8_t ks[ESPTAG_KEY_MAX + ESPTAG_SALT_LEN + 1];
	const char *name, *hex, *icv;
	uint32_t bits;
	int n;

	if (a->i + 3 >= a->argc)
		return fail(err, errlen,
			    "aead needs NAME KEY ICV-BITS, e.g. aead '" AEAD_NAME "' 0x<40 or 72 hex digits> 128");
	name = a->argv[++a->i];
	hex = a->argv[++a->i];
	icv = a->argv[++a->i];
	if (strcmp(name, AEAD_NAME))
		return fail(err, errlen, "unknown algorithm '%s': only '" AEAD_NAME "' is supported",
			    name);
	n = parse_hex(hex, ks, sizeof(ks));
	if (n == -1 || n == -2) {
		explicit_bzero(ks, sizeof(ks));
		return fail(err, errlen, "aead key is not hexadecimal (0x followed by an even number of hex digits)");
	}
	if (n != 16 + ESPTAG_SALT_LEN && n != 32 + ESPTAG_SALT_LEN) {
		explicit_bzero(ks, sizeof(ks));
		return fail(err, errlen,
			    "aead key is %d bytes: it must be key+salt, 20 bytes for AES-128 or 36 for AES-256",
			    n);
	}
	if (parse_u32(icv, &bits, 0xffff) || bits != 128) {
		explicit_bzero(ks, sizeof(ks));
		return fail(err, errlen, "ICV length '%s' not supported: only 128 (bits)", icv);
	}
	sa->key_len = n - ESPTAG_SALT_LEN;
	sa->alg = sa->key_len == 16 ? ESPTAG_ALG_AES_GCM_128 : ESPTAG_ALG_AES_GCM_256;
	sa->icv_len = ESPTAG_ICV_LEN;
	memcpy(sa->key, ks, sa->key_len);
	memcpy(sa->salt, ks + sa->key_len, ESPTAG_SALT_LEN);
	explicit_bzero(ks, sizeof(ks));
	return 0;
}

/*
 * The keywords that name an SA (dev, dst, proto, spi, dir), shared by
 * `state add` and `state del`. Returns 1 if kw was one of them, 0 if not,
 * -1 on error (err filled).
 */
static int parse_sa_id_kw(struct args *a, struct esptag_cli_cmd *cmd, const char *kw,
			  unsigned int *seenp, char *dev, uint8_t *family, uint8_t *daddr,
			  uint32_t *spi, uint8_t *dir)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	unsigned int seen = *seenp;
	const char *v;

	if (!strcmp(kw, "dev")) {
		SEEN(S_DEV, kw);
		if (!(v = next_val(a, kw)) || set_dev(dev, v, err, errlen))
			return -1;
		memcpy(cmd->dev, dev, sizeof(cmd->dev));
	} else if (!strcmp(kw, "dst")) {
		SEEN(S_DST, kw);
		if (!(v = next_val(a, kw)))
			return -1;
		if (esptag_addr_parse(v, family, daddr))
			return fail(err, errlen, "dst '%s' is not an IPv4 or IPv6 address", v);
	} else if (!strcmp(kw, "proto")) {
		SEEN(S_PROTO, kw);
		if (!(v = next_val(a, kw)))
			return -1;
		if (strcmp(v, "esp"))
			return fail(err, errlen, "proto '%s' not supported: only esp", v);
	} else if (!strcmp(kw, "spi")) {
		SEEN(S_SPI, kw);
		if (!(v = next_val(a, kw)) || parse_spi(v, spi, err, errlen))
			return -1;
	} else if (!strcmp(kw, "dir")) {
		SEEN(S_DIR, kw);
		if (!(v = next_val(a, kw)) || parse_dir(v, dir, err, errlen))
			return -1;
	} else {
		return 0;
	}
	*seenp = seen;
	return 1;
}

static int parse_state_add(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_sa *sa = &cmd->sa;
	char *err = a->err;
	size_t errlen = a->errlen;
	uint8_t sfam = 0, dfam = 0;
	unsigned int seen = 0;
	const char *v;
	uint32_t u;

	sa->sa_index = ESPTAG_SA_INDEX_NONE;
	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i];
		int r = parse_sa_id_kw(a, cmd, kw, &seen, sa->dev, &dfam, sa->daddr, &sa->spi,
				       &sa->dir);

		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (!strcmp(kw, "src")) {
			SEEN(S_SRC, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (esptag_addr_parse(v, &sfam, sa->saddr))
				return fail(err, errlen, "src '%s' is not an IPv4 or IPv6 address", v);
		} else if (!strcmp(kw, "mode")) {
			SEEN(S_MODE, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (!strcmp(v, "transport"))
				sa->mode = ESPTAG_MODE_TRANSPORT;
			else if (!strcmp(v, "tunnel"))
				sa->mode = ESPTAG_MODE_TUNNEL;
			else
				return fail(err, errlen, "mode must be transport or tunnel, not '%s'", v);
		} else if (!strcmp(kw, "reqid")) {
			SEEN(S_REQID, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (parse_u32(v, &sa->reqid, 0xffffffffu))
				return fail(err, errlen, "reqid '%s' is not a 32-bit number", v);
		} else if (!strcmp(kw, "aead")) {
			SEEN(S_AEAD, kw);
			if (parse_aead(a, sa))
				return -1;
		} else if (!strcmp(kw, "replay-window")) {
			SEEN(S_REPLAY, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (parse_u32(v, &sa->replay_window, ESPTAG_REPLAY_MAX))
				return fail(err, errlen, "replay-window '%s' must be 0-%u", v,
					    ESPTAG_REPLAY_MAX);
		} else if (!strcmp(kw, "esn")) {
			SEEN(S_ESN, kw);
			sa->sa_flags |= ESPTAG_SA_F_ESN;
		} else if (!strcmp(kw, "vlan")) {
			if (!(v = next_val(a, kw)))
				return -1;
			if (sa->nvlans == 2)
				return fail(err, errlen, "at most two 'vlan ID' (outer first)");
			if (parse_u32(v, &u, 4094) || !u)
				return fail(err, errlen, "vlan '%s' must be 1-4094", v);
			sa->vid[sa->nvlans++] = u;
		} else if (!strcmp(kw, "limit")) {
			SEEN(S_LIMIT, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (strcmp(v, "time-hard"))
				return fail(err, errlen, "only 'limit time-hard SECONDS' is supported");
			if (!(v = next_val(a, "time-hard")))
				return -1;
			if (parse_u32(v, &sa->lifetime, 0xffffffffu) || !sa->lifetime)
				return fail(err, errlen, "time-hard '%s' must be 1 or more seconds", v);
		} else {
			return fail(err, errlen, "unknown keyword '%s' in state add (try: esptag help)",
				    kw);
		}
	}
	if (!(seen & S_DEV))
		return fail(err, errlen, "state add needs 'dev DEV'");
	if (!(seen & S_DST))
		return fail(err, errlen, "state add needs 'dst ADDR'");
	if (!(seen & S_SRC))
		return fail(err, errlen, "state add needs 'src ADDR'");
	if (!(seen & S_SPI))
		return fail(err, errlen, "state add needs 'spi SPI'");
	if (!(seen & S_PROTO))
		return fail(err, errlen, "state add needs 'proto esp'");
	if (!(seen & S_AEAD))
		return fail(err, errlen, "state add needs 'aead '" AEAD_NAME "' 0xKEYSALT 128'");
	if (!(seen & S_DIR))
		return fail(err, errlen, "state add needs 'dir in' or 'dir out'");
	if (!(seen & S_MODE))
		sa->mode = ESPTAG_MODE_TRANSPORT;
	if (sfam != dfam)
		return fail(err, errlen, "src and dst must both be IPv4 or both IPv6");
	sa->family = dfam;
	if (sa->replay_window && sa->dir == ESPTAG_DIR_OUT)
		return fail(err, errlen, "replay-window applies to 'dir in' SAs only");
	return esptag_ctl_sa_check(sa, true, err, errlen);
}

static int parse_state_del(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_sa_id *id = &cmd->id;
	char *err = a->err;
	size_t errlen = a->errlen;
	unsigned int seen = 0;

	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i];
		int r = parse_sa_id_kw(a, cmd, kw, &seen, id->dev, &id->family, id->daddr,
				       &id->spi, &id->dir);

		if (r < 0)
			return -1;
		if (!r)
			return fail(err, errlen, "unknown keyword '%s' in state del", kw);
	}
	if ((seen & (S_DEV | S_DST | S_SPI)) != (S_DEV | S_DST | S_SPI))
		return fail(err, errlen, "state del needs dev DEV dst ADDR proto esp spi SPI [dir in|out]");
	id->proto = ESPTAG_IPPROTO_ESP;
	return esptag_ctl_sa_id_check(id, err, errlen);
}

/*
 * policy add|update|del. add and update take the action, and for an
 * outbound protect policy what names its SA: spi and/or reqid, and a
 * template as in ip xfrm, "tmpl [src ADDR] [dst ADDR] [proto esp]
 * [spi SPI] [reqid N] [mode MODE]", whose src and dst are the SA's
 * addresses (dst: the peer), not the policy's selector.
 */
static int parse_policy(struct args *a, struct esptag_cli_cmd *cmd, bool add)
{
	struct esptag_ctl_policy *p = &cmd->pol;
	const char *verb = a->argv[1];
	char *err = a->err;
	size_t errlen = a->errlen;
	uint8_t sfam = 0, dfam = 0, tsfam = 0, tdfam = 0;
	unsigned int seen = 0;
	bool tmpl = false;
	const char *v;

	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i];

		if (!strcmp(kw, "dev")) {
			SEEN(S_DEV, kw);
			if (!(v = next_val(a, kw)) || set_dev(p->dev, v, err, errlen))
				return -1;
			memcpy(cmd->dev, p->dev, sizeof(cmd->dev));
		} else if (tmpl && !strcmp(kw, "src")) {
			SEEN(S_TSRC, "tmpl src");
			if (!(v = next_val(a, kw)))
				return -1;
			if (esptag_addr_parse(v, &tsfam, p->tmpl_src))
				return fail(err, errlen, "tmpl src '%s' is not an IPv4 or IPv6 address", v);
			p->tmpl_flags |= ESPTAG_CTL_TMPL_SRC;
		} else if (tmpl && !strcmp(kw, "dst")) {
			SEEN(S_TDST, "tmpl dst");
			if (!(v = next_val(a, kw)))
				return -1;
			if (esptag_addr_parse(v, &tdfam, p->tmpl_dst))
				return fail(err, errlen, "tmpl dst '%s' is not an IPv4 or IPv6 address", v);
			p->tmpl_flags |= ESPTAG_CTL_TMPL_DST;
		} else if (!strcmp(kw, "src")) {
			SEEN(S_SRC, kw);
			if (!(v = next_val(a, kw)) ||
			    esptag_prefix_parse(v, &sfam, p->src, &p->src_plen, err, errlen))
				return -1;
		} else if (!strcmp(kw, "dst")) {
			SEEN(S_DST, kw);
			if (!(v = next_val(a, kw)) ||
			    esptag_prefix_parse(v, &dfam, p->dst, &p->dst_plen, err, errlen))
				return -1;
		} else if (!strcmp(kw, "dir")) {
			SEEN(S_DIR, kw);
			if (!(v = next_val(a, kw)) || parse_dir(v, &p->dir, err, errlen))
				return -1;
		} else if (add && !tmpl && !strcmp(kw, "action")) {
			SEEN(S_ACTION, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (!strcmp(v, "protect"))
				p->action = ESPTAG_ACT_PROTECT;
			else if (!strcmp(v, "bypass"))
				p->action = ESPTAG_ACT_BYPASS;
			else if (!strcmp(v, "discard"))
				p->action = ESPTAG_ACT_DISCARD;
			else
				return fail(err, errlen,
					    "action must be 'protect spi SPI', 'bypass' or 'discard', not '%s'",
					    v);
		} else if (add && !strcmp(kw, "spi")) {
			SEEN(S_SPI, kw);
			if (!(v = next_val(a, kw)) || parse_spi(v, &p->spi, err, errlen))
				return -1;
		} else if (add && !strcmp(kw, "reqid")) {
			SEEN(S_REQID, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (parse_u32(v, &p->reqid, 0xffffffffu))
				return fail(err, errlen, "reqid '%s' is not a 32-bit number", v);
			p->tmpl_flags |= ESPTAG_CTL_TMPL_REQID;
		} else if (add && !strcmp(kw, "tmpl")) {
			SEEN(S_TMPL, kw);
			tmpl = true;
		} else if (tmpl && !strcmp(kw, "proto")) {
			SEEN(S_PROTO, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (strcmp(v, "esp"))
				return fail(err, errlen, "tmpl proto '%s' not supported: only esp", v);
		} else if (tmpl && !strcmp(kw, "mode")) {
			SEEN(S_MODE, kw);
			if (!(v = next_val(a, kw)))
				return -1;
			if (!strcmp(v, "transport"))
				p->tmpl_mode = ESPTAG_MODE_TRANSPORT;
			else if (!strcmp(v, "tunnel"))
				p->tmpl_mode = ESPTAG_MODE_TUNNEL;
			else
				return fail(err, errlen, "tmpl mode must be transport or tunnel, not '%s'", v);
		} else {
			return fail(err, errlen, "unknown keyword '%s' in policy %s%s", kw, verb,
				    tmpl ? " tmpl (src, dst, proto, spi, reqid, mode)" : "");
		}
	}
	if ((seen & (S_DEV | S_SRC | S_DST | S_DIR)) != (S_DEV | S_SRC | S_DST | S_DIR))
		return fail(err, errlen, "policy %s needs dev DEV src PREFIX dst PREFIX dir in|out%s",
			    verb, add ? " action ..." : "");
	if (sfam != dfam)
		return fail(err, errlen, "src and dst prefixes must both be IPv4 or both IPv6");
	p->family = dfam;
	if (tsfam && tdfam && tsfam != tdfam)
		return fail(err, errlen, "tmpl src and tmpl dst must both be IPv4 or both IPv6");
	p->tmpl_family = tsfam ? tsfam : tdfam;
	if (add) {
		if (!(seen & S_ACTION) && tmpl)
			p->action = ESPTAG_ACT_PROTECT;	/* a template means protect */
		else if (!(seen & S_ACTION))
			return fail(err, errlen,
				    "policy %s needs 'action protect spi SPI', 'action bypass' or 'action discard'",
				    verb);
		if ((seen & S_SPI) && p->action != ESPTAG_ACT_PROTECT)
			return fail(err, errlen, "'spi' only goes with 'action protect'");
		if ((seen & (S_REQID | S_TMPL)) && p->action != ESPTAG_ACT_PROTECT)
			return fail(err, errlen, "'reqid' and 'tmpl' only go with 'action protect'");
		if ((seen & (S_REQID | S_TMPL)) && p->dir != ESPTAG_DIR_OUT)
			return fail(err, errlen,
				    "'reqid' and 'tmpl' name the outbound SA: 'dir in action protect' takes none");
		if (p->action == ESPTAG_ACT_PROTECT && p->dir == ESPTAG_DIR_OUT &&
		    !(seen & (S_SPI | S_REQID)))
			return fail(err, errlen,
				    "'dir out action protect' needs 'spi SPI' (the outbound SA; add 'tmpl dst PEER' when SAs toward several peers share it)");
	} else {
		p->action = ESPTAG_ACT_BYPASS; /* ignored by the daemon for del */
	}
	return esptag_ctl_policy_check(p, true, err, errlen);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

static int parse_onoff(const char *s, bool *on)
{
	if (!strcmp(s, "on"))
		*on = true;
	else if (!strcmp(s, "off"))
		*on = false;
	else
		return -1;
	return 0;
}

/* vf add VF dev IFNAME mac MAC [addr ADDR] [vlan ID [vlan ID]] [trust on|off] [limit N]
 * vf del VF | vf trust VF on|off | vf reset VF */
static int parse_vf(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_vf *vf = &cmd->vf;
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *verb = a->argv[1];
	uint32_t n;
	bool on;

	if (a->argc < 3)
		return fail(err, errlen, "'vf %s' needs the VF number", verb);
	if (parse_u32(a->argv[2], &n, ESPTAG_CTL_VF_MAX))
		return fail(err, errlen, "bad VF number '%s' (0..%u)", a->argv[2],
			    ESPTAG_CTL_VF_MAX);
	vf->vf = n;
	a->i = 2;
	if (cmd->op == ESPTAG_CTL_VF_TRUST) {
		if (a->argc != 4 || parse_onoff(a->argv[3], &on))
			return fail(err, errlen, "usage: vf trust VF on|off");
		vf->flags = on ? ESPTAG_CTL_VF_TRUSTED : 0;
		return 0;
	}
	if (cmd->op != ESPTAG_CTL_VF_ADD) {
		if (a->argc > 3)
			return fail(err, errlen, "'vf %s VF' takes no more arguments (got '%s')",
				    verb, a->argv[3]);
		return 0;
	}
	vf->flags = ESPTAG_CTL_VF_TRUSTED;
	while (++a->i < a->argc) {
		const char *kw = a->argv[a->i], *v = next_val(a, kw);

		if (!v)
			return -1;
		if (!strcmp(kw, "dev")) {
			if (set_dev(vf->ifname, v, err, errlen))
				return -1;
		} else if (!strcmp(kw, "mac")) {
			if (parse_mac(v, vf->mac))
				return fail(err, errlen, "bad MAC '%s' (xx:xx:xx:xx:xx:xx)", v);
		} else if (!strcmp(kw, "addr")) {
			if (esptag_addr_parse(v, &vf->family, vf->addr))
				return fail(err, errlen, "bad address '%s'", v);
		} else if (!strcmp(kw, "vlan")) {
			if (vf->nvlans == 2)
				return fail(err, errlen, "at most two 'vlan ID'");
			if (parse_u32(v, &n, 4094) || !n)
				return fail(err, errlen, "bad VLAN ID '%s' (1..4094)", v);
			vf->vid[vf->nvlans++] = n;
		} else if (!strcmp(kw, "trust")) {
			if (parse_onoff(v, &on))
				return fail(err, errlen, "'trust' takes on or off");
			vf->flags = on ? ESPTAG_CTL_VF_TRUSTED : 0;
		} else if (!strcmp(kw, "limit")) {
			if (parse_u32(v, &n, ESPTAG_SAD_MAX) || !n)
				return fail(err, errlen, "bad limit '%s' (1..%u SAs)", v, ESPTAG_SAD_MAX);
			vf->limit = n;
		} else {
			return fail(err, errlen,
				    "unknown keyword '%s' (vf add VF dev IFNAME mac MAC [addr ADDR] [vlan ID] [trust on|off] [limit N])",
				    kw);
		}
	}
	return esptag_ctl_vf_check(vf, ESPTAG_CTL_VF_ADD, true, err, errlen);
}

static int no_args(struct args *a, const char *what)
{
	if (a->argc > 2)
		return fail(a->err, a->errlen, "'%s' takes no arguments (got '%s')", what,
			    a->argv[2]);
	return 0;
}

static bool is(const char *s, const char *a, const char *b)
{
	return !strcmp(s, a) || (b && !strcmp(s, b));
}

int esptag_cli_parse(int argc, char **argv, struct esptag_cli_cmd *cmd, char *err, size_t errlen)
{
	struct args a = { .argc = argc, .argv = argv, .err = err, .errlen = errlen };
	const char *obj, *verb;
	int rc = -1;

	memset(cmd, 0, sizeof(*cmd));
	if (argc < 1)
		return fail(err, errlen, "no command (try: esptag help)");
	obj = argv[0];
	verb = argc > 1 ? argv[1] : "";
	if (is(obj, "state", "sa")) {
		if (is(verb, "add", NULL)) {
			cmd->op = ESPTAG_CTL_STATE_ADD;
			rc = parse_state_add(&a, cmd);
		} else if (is(verb, "del", "delete")) {
			cmd->op = ESPTAG_CTL_STATE_DEL;
			rc = parse_state_del(&a, cmd);
		} else if (is(verb, "list", "show") || !*verb) {
			cmd->op = ESPTAG_CTL_STATE_LIST;
			rc = no_args(&a, "state list");
		} else if (is(verb, "flush", NULL)) {
			cmd->op = ESPTAG_CTL_STATE_FLUSH;
			rc = no_args(&a, "state flush");
		} else {
			rc = fail(err, errlen, "unknown command 'state %s': use add, del, list or flush",
				  verb);
		}
	} else if (is(obj, "policy", NULL)) {
		if (is(verb, "add", NULL)) {
			cmd->op = ESPTAG_CTL_POLICY_ADD;
			rc = parse_policy(&a, cmd, true);
		} else if (is(verb, "update", NULL)) {
			cmd->op = ESPTAG_CTL_POLICY_UPDATE;
			rc = parse_policy(&a, cmd, true);
		} else if (is(verb, "del", "delete")) {
			cmd->op = ESPTAG_CTL_POLICY_DEL;
			rc = parse_policy(&a, cmd, false);
		} else if (is(verb, "list", "show") || !*verb) {
			cmd->op = ESPTAG_CTL_POLICY_LIST;
			rc = no_args(&a, "policy list");
		} else if (is(verb, "flush", NULL)) {
			cmd->op = ESPTAG_CTL_POLICY_FLUSH;
			rc = no_args(&a, "policy flush");
		} else {
			rc = fail(err, errlen,
				  "unknown command 'policy %s': use add, update, del, list or flush",
				  verb);
		}
	} else if (is(obj, "agent", NULL)) {
		if (is(verb, "status", "show") || !*verb) {
			cmd->op = ESPTAG_CTL_AGENT_STATUS;
			rc = no_args(&a, "agent status");
		} else if (is(verb, "sa", NULL)) {
			cmd->op = ESPTAG_CTL_AGENT_SA;
			rc = no_args(&a, "agent sa");
		} else {
			rc = fail(err, errlen, "unknown command 'agent %s': use status or sa", verb);
		}
	} else if (is(obj, "vf", NULL)) {
		if (is(verb, "list", "show") || !*verb) {
			cmd->op = ESPTAG_CTL_VF_LIST;
			rc = argc > 2 ? no_args(&a, "vf list") : 0;
		} else {
			if (is(verb, "add", NULL))
				cmd->op = ESPTAG_CTL_VF_ADD;
			else if (is(verb, "del", "delete"))
				cmd->op = ESPTAG_CTL_VF_DEL;
			else if (is(verb, "trust", NULL))
				cmd->op = ESPTAG_CTL_VF_TRUST;
			else if (is(verb, "reset", NULL))
				cmd->op = ESPTAG_CTL_VF_RESET;
			if (cmd->op)
				rc = parse_vf(&a, cmd);
			else
				rc = fail(err, errlen,
					  "unknown command 'vf %s': use list, add, del, trust or reset",
					  verb);
		}
	} else if (is(obj, "stats", NULL)) {
		cmd->op = ESPTAG_CTL_STATS;
		rc = argc > 1 ? fail(err, errlen, "'stats' takes no arguments") : 0;
	} else if (is(obj, "monitor", NULL)) {
		cmd->op = ESPTAG_CTL_MONITOR;
		rc = argc > 1 ? fail(err, errlen, "'monitor' takes no arguments") : 0;
	} else {
		rc = fail(err, errlen,
			  "unknown object '%s': use state, policy, agent, vf, stats or monitor", obj);
	}
	if (rc)
		esptag_cli_cmd_clear(cmd);
	return rc;
}

int esptag_cli_split(char *line, char **argv, int max)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		char q = 0;

		while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
			r++;
		if (!*r || *r == '#')
			break;
		if (n == max)
			return -1;
		argv[n++] = w;
		while (*r && (q || (*r != ' ' && *r != '\t' && *r != '\n' && *r != '\r'))) {
			if (!q && (*r == '\'' || *r == '"')) {
				q = *r++;
				continue;
			}
			if (q && *r == q) {
				q = 0;
				r++;
				continue;
			}
			*w++ = *r++;
		}
		if (q)
			return -1;
		if (*r)
			r++;
		*w++ = 0;
	}
	return n;
}
