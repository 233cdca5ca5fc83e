// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar: state add and state del (the SA, with its
 * key for add; the key never leaves the command but in the request).
 */
#include <string.h>
#include <esptag/maps.h>
#include "ctl_cli_int.h"

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
	n = cli_parse_hex(hex, ks, sizeof(ks));
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
	if (cli_parse_u32(icv, &bits, 0xffff) || bits != 128) {
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

/* Where state add and state del put the keywords that name an SA. */
struct sa_id_out {
	char *dev;
	uint8_t *family, *daddr, *dir;
	uint32_t *spi;
};

/*
 * The keywords that name an SA (dev, dst, proto, spi, dir), shared by
 * `state add` and `state del`. Returns 1 if kw was one of them, 0 if not,
 * -1 on error (err filled).
 */
static int parse_sa_id_kw(struct args *a, struct esptag_cli_cmd *cmd, const char *kw,
			  const struct sa_id_out *o)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *v;

	if (!strcmp(kw, "dev")) {
		SEEN(a, S_DEV, kw);
		if (!(v = cli_next_val(a, kw)) || cli_set_dev(o->dev, v, err, errlen))
			return -1;
		memcpy(cmd->dev, o->dev, sizeof(cmd->dev));
	} else if (!strcmp(kw, "dst")) {
		SEEN(a, S_DST, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (esptag_addr_parse(v, o->family, o->daddr))
			return fail(err, errlen, "dst '%s' is not an IPv4 or IPv6 address", v);
	} else if (!strcmp(kw, "proto")) {
		SEEN(a, S_PROTO, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (strcmp(v, "esp"))
			return fail(err, errlen, "proto '%s' not supported: only esp", v);
	} else if (!strcmp(kw, "spi")) {
		SEEN(a, S_SPI, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_spi(v, o->spi, err, errlen))
			return -1;
	} else if (!strcmp(kw, "dir")) {
		SEEN(a, S_DIR, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_dir(v, o->dir, err, errlen))
			return -1;
	} else {
		return 0;
	}
	return 1;
}

/*
 * The keywords of state add with a value (mode, reqid, replay-window, vlan,
 * limit). Returns 1 if kw was one of them, 0 if not, -1 on error.
 */
static int state_add_value_kw(struct args *a, struct esptag_ctl_sa *sa, const char *kw)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *v;
	uint32_t u;

	if (!strcmp(kw, "mode")) {
		SEEN(a, S_MODE, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (!strcmp(v, "transport"))
			sa->mode = ESPTAG_MODE_TRANSPORT;
		else if (!strcmp(v, "tunnel"))
			sa->mode = ESPTAG_MODE_TUNNEL;
		else
			return fail(err, errlen, "mode must be transport or tunnel, not '%s'", v);
	} else if (!strcmp(kw, "reqid")) {
		SEEN(a, S_REQID, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (cli_parse_u32(v, &sa->reqid, 0xffffffffu))
			return fail(err, errlen, "reqid '%s' is not a 32-bit number", v);
	} else if (!strcmp(kw, "replay-window")) {
		SEEN(a, S_REPLAY, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (cli_parse_u32(v, &sa->replay_window, ESPTAG_REPLAY_MAX))
			return fail(err, errlen, "replay-window '%s' must be 0-%u", v,
				    ESPTAG_REPLAY_MAX);
	} else if (!strcmp(kw, "vlan")) {
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (sa->nvlans == 2)
			return fail(err, errlen, "at most two 'vlan ID' (outer first)");
		if (cli_parse_u32(v, &u, 4094) || !u)
			return fail(err, errlen, "vlan '%s' must be 1-4094", v);
		sa->vid[sa->nvlans++] = u;
	} else if (!strcmp(kw, "limit")) {
		SEEN(a, S_LIMIT, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (strcmp(v, "time-hard"))
			return fail(err, errlen, "only 'limit time-hard SECONDS' is supported");
		if (!(v = cli_next_val(a, "time-hard")))
			return -1;
		if (cli_parse_u32(v, &sa->lifetime, 0xffffffffu) || !sa->lifetime)
			return fail(err, errlen, "time-hard '%s' must be 1 or more seconds", v);
	} else {
		return 0;
	}
	return 1;
}

/* One keyword of state add that does not name the SA. 0 or -1. */
static int state_add_kw(struct args *a, struct esptag_ctl_sa *sa, const char *kw, uint8_t *sfam)
{
	const char *v;
	int r;

	if (!strcmp(kw, "src")) {
		SEEN(a, S_SRC, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (esptag_addr_parse(v, sfam, sa->saddr))
			return fail(a->err, a->errlen, "src '%s' is not an IPv4 or IPv6 address", v);
		return 0;
	}
	if (!strcmp(kw, "aead")) {
		SEEN(a, S_AEAD, kw);
		return parse_aead(a, sa);
	}
	/* `flag esn` as ip xfrm spells it, or plain `esn` */
	if (!strcmp(kw, "flag")) {
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (strcmp(v, "esn"))
			return fail(a->err, a->errlen, "flag '%s' not supported: only 'flag esn'", v);
		kw = "esn";
	}
	if (!strcmp(kw, "esn")) {
		SEEN(a, S_ESN, kw);
		sa->sa_flags |= ESPTAG_SA_F_ESN;
		return 0;
	}
	r = state_add_value_kw(a, sa, kw);
	if (r)
		return r < 0 ? -1 : 0;
	return fail(a->err, a->errlen, "unknown keyword '%s' in state add (try: esptag help)", kw);
}

/* What state add needs, and what goes together. */
static int state_add_finish(struct args *a, struct esptag_ctl_sa *sa, uint8_t sfam, uint8_t dfam)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	unsigned int seen = a->seen;

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

int cli_parse_state_add(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_sa *sa = &cmd->sa;
	uint8_t sfam = 0, dfam = 0;
	const struct sa_id_out id = {.dev = sa->dev, .family = &dfam, .daddr = sa->daddr,
				     .dir = &sa->dir, .spi = &sa->spi};

	sa->sa_index = ESPTAG_SA_INDEX_NONE;
	a->seen = 0;
	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i];
		int r = parse_sa_id_kw(a, cmd, kw, &id);

		if (r < 0)
			return -1;
		if (r == 0 && state_add_kw(a, sa, kw, &sfam))
			return -1;
	}
	return state_add_finish(a, sa, sfam, dfam);
}

/* The keywords naming an SA (state del, state get) into cmd->id. */
static int parse_sa_id(struct args *a, struct esptag_cli_cmd *cmd, const char *what)
{
	struct esptag_ctl_sa_id *id = &cmd->id;
	const struct sa_id_out o = {.dev = id->dev, .family = &id->family, .daddr = id->daddr,
				    .dir = &id->dir, .spi = &id->spi};

	a->seen = 0;
	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i];
		int r = parse_sa_id_kw(a, cmd, kw, &o);

		if (r < 0)
			return -1;
		if (!r)
			return fail(a->err, a->errlen, "unknown keyword '%s' in %s", kw, what);
	}
	id->proto = ESPTAG_IPPROTO_ESP;
	return 0;
}

int cli_parse_state_del(struct args *a, struct esptag_cli_cmd *cmd)
{
	if (parse_sa_id(a, cmd, "state del"))
		return -1;
	if ((a->seen & (S_DEV | S_DST | S_SPI)) != (S_DEV | S_DST | S_SPI))
		return fail(a->err, a->errlen,
			    "state del needs dev DEV dst ADDR proto esp spi SPI [dir in|out]");
	return esptag_ctl_sa_id_check(&cmd->id, a->err, a->errlen);
}

/* state get [dev DEV] dst ADDR [proto esp] spi SPI [dir in|out] */
int cli_parse_state_get(struct args *a, struct esptag_cli_cmd *cmd)
{
	if (parse_sa_id(a, cmd, "state get"))
		return -1;
	if ((a->seen & (S_DST | S_SPI)) != (S_DST | S_SPI))
		return fail(a->err, a->errlen,
			    "state get needs dst ADDR [proto esp] spi SPI [dir in|out] [dev DEV]");
	return 0;
}
