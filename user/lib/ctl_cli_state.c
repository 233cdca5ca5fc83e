// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag command-line grammar: state add, del, get, update, allocspi (the
 * SA, with its key for add; the key never leaves the command but in the
 * request). Lifetimes are ip xfrm's `limit WORD N`.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <esptag/maps.h>
#include "ctl_cli_int.h"

/* What an SA can have, for every refusal of another algorithm. */
#define ALG_SUPPORTED \
	"esptag SAs are AES-GCM with a 16-byte ICV and a 128- or 256-bit key: aead '" AEAD_NAME "' 0xKEYSALT 128"

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
		return fail(err, errlen, "unknown algorithm '%s' not supported: " ALG_SUPPORTED,
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
		return fail(err, errlen, "ICV length '%s' not supported: only 128 (bits); " ALG_SUPPORTED,
			    icv);
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
		if (cli_dev_kw(a, cmd, o->dev))
			return -1;
	} else if (!strcmp(kw, "dst")) {
		SEEN(a, S_DST, kw);
		if (!(v = cli_next_val(a, kw)) ||
		    cli_parse_addr(v, kw, o->family, o->daddr, err, errlen))
			return -1;
	} else if (!strcmp(kw, "proto")) {
		SEEN(a, S_PROTO, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_proto(v, "", err, errlen))
			return -1;
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

/* ip xfrm's limit words, what they set and the bit for state update. */
static const struct limit_word {
	const char *name;
	uint32_t bit;
	size_t off;	/* in struct esptag_ctl_sa */
	bool u32;	/* seconds (32 bits), else a 64-bit count */
} limit_words[] = {
	{ "time-soft", ESPTAG_CLI_UPD_TIME_SOFT, offsetof(struct esptag_ctl_sa, soft_time), true },
	{ "time-hard", ESPTAG_CLI_UPD_TIME_HARD, offsetof(struct esptag_ctl_sa, lifetime), true },
	{ "byte-soft", ESPTAG_CLI_UPD_BYTE_SOFT, offsetof(struct esptag_ctl_sa, soft_bytes), false },
	{ "byte-hard", ESPTAG_CLI_UPD_BYTE_HARD, offsetof(struct esptag_ctl_sa, hard_bytes), false },
	{ "packet-soft", ESPTAG_CLI_UPD_PACKET_SOFT, offsetof(struct esptag_ctl_sa, soft_packets), false },
	{ "packet-hard", ESPTAG_CLI_UPD_PACKET_HARD, offsetof(struct esptag_ctl_sa, hard_packets), false },
};

/*
 * limit WORD N (after the word "limit"): time-soft|time-hard SECONDS,
 * byte-soft|byte-hard BYTES, packet-soft|packet-hard PACKETS; 0 = no
 * limit. Each word once. 0 or -1.
 */
static int parse_limit(struct args *a, struct esptag_ctl_sa *sa, uint32_t *upd)
{
	const char *w, *v;
	char *end;
	unsigned long long n;

	if (!(w = cli_next_val(a, "limit")))
		return -1;
	for (size_t i = 0; i < sizeof(limit_words) / sizeof(limit_words[0]); i++) {
		const struct limit_word *l = &limit_words[i];

		if (strcmp(w, l->name))
			continue;
		if (*upd & l->bit)
			return fail(a->err, a->errlen, "'limit %s' given twice", w);
		if (!(v = cli_next_val(a, w)))
			return -1;
		errno = 0;
		n = strtoull(v, &end, 0);
		if (!*v || *end || errno || *v == '-' || (l->u32 && n > 0xffffffffull))
			return fail(a->err, a->errlen, "limit %s '%s' must be a number of %s (0 = none)",
				    w, v, l->u32 ? "seconds below 2^32" :
				    strstr(w, "byte") ? "bytes" : "packets");
		if (l->u32) {
			uint32_t u = n;

			memcpy((uint8_t *)sa + l->off, &u, sizeof(u));
		} else {
			uint64_t u = n;

			memcpy((uint8_t *)sa + l->off, &u, sizeof(u));
		}
		*upd |= l->bit;
		return 0;
	}
	if (!strcmp(w, "time-use-soft") || !strcmp(w, "time-use-hard"))
		return fail(a->err, a->errlen,
			    "'limit %s' not supported: esptag counts time from the add (time-soft, time-hard)",
			    w);
	return fail(a->err, a->errlen,
		    "limit '%s' unknown: time-soft|time-hard SECONDS, byte-soft|byte-hard BYTES, packet-soft|packet-hard PACKETS",
		    w);
}

/* Algorithms ip xfrm knows that an esptag SA cannot have. */
static int refuse_alg(struct args *a, const char *kw)
{
	const char *name = a->i + 1 < a->argc ? a->argv[a->i + 1] : "";

	return fail(a->err, a->errlen, "%s '%s' not supported: " ALG_SUPPORTED, kw, name);
}

/*
 * The keywords of state add with a value (mode, reqid, replay-window, vlan,
 * limit). Returns 1 if kw was one of them, 0 if not, -1 on error.
 */
static int state_add_value_kw(struct args *a, struct esptag_ctl_sa *sa, const char *kw,
			      uint32_t *upd)
{
	char *err = a->err;
	size_t errlen = a->errlen;
	const char *v;
	uint32_t u;

	if (!strcmp(kw, "mode")) {
		SEEN(a, S_MODE, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_mode(v, "", &sa->mode, err, errlen))
			return -1;
	} else if (!strcmp(kw, "reqid")) {
		SEEN(a, S_REQID, kw);
		if (!(v = cli_next_val(a, kw)) || cli_parse_reqid(v, &sa->reqid, err, errlen))
			return -1;
	} else if (!strcmp(kw, "replay-window")) {
		SEEN(a, S_REPLAY, kw);
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (cli_parse_u32(v, &sa->replay_window, ESPTAG_REPLAY_MAX))
			return fail(err, errlen, "replay-window '%s' must be 0-%u", v,
				    ESPTAG_REPLAY_MAX);
		*upd |= ESPTAG_CLI_UPD_REPLAY;
	} else if (!strcmp(kw, "vlan")) {
		if (!(v = cli_next_val(a, kw)))
			return -1;
		if (sa->nvlans == 2)
			return fail(err, errlen, "at most two 'vlan ID' (outer first)");
		if (cli_parse_u32(v, &u, 4094) || !u)
			return fail(err, errlen, "vlan '%s' must be 1-4094", v);
		sa->vid[sa->nvlans++] = u;
	} else if (!strcmp(kw, "limit")) {
		return parse_limit(a, sa, upd) ? -1 : 1;
	} else {
		return 0;
	}
	return 1;
}

/* One keyword of state add that does not name the SA. 0 or -1. */
static int state_add_kw(struct args *a, struct esptag_ctl_sa *sa, const char *kw, uint8_t *sfam,
			uint32_t *upd)
{
	const char *v;
	int r;

	if (!strcmp(kw, "src")) {
		SEEN(a, S_SRC, kw);
		if (!(v = cli_next_val(a, kw)) ||
		    cli_parse_addr(v, kw, sfam, sa->saddr, a->err, a->errlen))
			return -1;
		return 0;
	}
	if (!strcmp(kw, "aead")) {
		SEEN(a, S_AEAD, kw);
		return parse_aead(a, sa);
	}
	if (!strcmp(kw, "enc") || !strcmp(kw, "auth") || !strcmp(kw, "auth-trunc") ||
	    !strcmp(kw, "comp"))
		return refuse_alg(a, kw);
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
	r = state_add_value_kw(a, sa, kw, upd);
	if (r)
		return r < 0 ? -1 : 0;
	return fail(a->err, a->errlen, "unknown keyword '%s' in state add (try: esptag help)", kw);
}

/* A soft limit beyond its hard one would never be reached before it. */
static int limits_check(struct args *a, const struct esptag_ctl_sa *sa)
{
	if (sa->soft_time && sa->lifetime && sa->soft_time > sa->lifetime)
		return fail(a->err, a->errlen, "limit time-soft %u is beyond time-hard %u",
			    sa->soft_time, sa->lifetime);
	if (sa->soft_bytes && sa->hard_bytes && sa->soft_bytes > sa->hard_bytes)
		return fail(a->err, a->errlen, "limit byte-soft is beyond byte-hard");
	if (sa->soft_packets && sa->hard_packets && sa->soft_packets > sa->hard_packets)
		return fail(a->err, a->errlen, "limit packet-soft is beyond packet-hard");
	return 0;
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
	if (limits_check(a, sa))
		return -1;
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
		if (r == 0 && state_add_kw(a, sa, kw, &sfam, &cmd->upd))
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

/*
 * state update src ADDR dst ADDR proto esp spi SPI [dir in|out] [dev DEV]
 *              [limit WORD N]... [replay-window N]
 * Only the limits and the replay window change (the rest is kept: the CLI
 * reads the SA first); keys never do.
 */
int cli_parse_state_update(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_sa *sa = &cmd->sa;
	uint8_t sfam = 0, dfam = 0;
	const struct sa_id_out id = {.dev = sa->dev, .family = &dfam, .daddr = sa->daddr,
				     .dir = &sa->dir, .spi = &sa->spi};
	char *err = a->err;
	size_t errlen = a->errlen;

	a->seen = 0;
	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i], *v;
		int r = parse_sa_id_kw(a, cmd, kw, &id);

		if (r < 0)
			return -1;
		if (r)
			continue;
		if (!strcmp(kw, "src")) {
			SEEN(a, S_SRC, kw);
			if (!(v = cli_next_val(a, kw)) ||
			    cli_parse_addr(v, kw, &sfam, sa->saddr, err, errlen))
				return -1;
		} else if (!strcmp(kw, "aead") || !strcmp(kw, "enc") || !strcmp(kw, "auth") ||
			   !strcmp(kw, "auth-trunc") || !strcmp(kw, "key")) {
			return fail(err, errlen,
				    "state update cannot change keys or algorithms: delete the SA and add a new one (with a new key)");
		} else if (!strcmp(kw, "limit") || !strcmp(kw, "replay-window")) {
			if (state_add_value_kw(a, sa, kw, &cmd->upd) < 0)
				return -1;
		} else {
			return fail(err, errlen,
				    "unknown keyword '%s' in state update (limit WORD N, replay-window N)",
				    kw);
		}
	}
	if ((a->seen & (S_DST | S_SPI)) != (S_DST | S_SPI))
		return fail(err, errlen,
			    "state update needs dst ADDR [proto esp] spi SPI [dir in|out] and limit ... or replay-window N");
	if (!cmd->upd)
		return fail(err, errlen, "state update: nothing to change (limit WORD N, replay-window N)");
	if (sfam && sfam != dfam)
		return fail(err, errlen, "src and dst must both be IPv4 or both IPv6");
	if ((cmd->upd & ESPTAG_CLI_UPD_REPLAY) && sa->dir == ESPTAG_DIR_OUT && sa->replay_window)
		return fail(err, errlen, "replay-window applies to 'dir in' SAs only");
	sa->family = dfam;
	return limits_check(a, sa);
}

void esptag_cli_update_merge(const struct esptag_cli_cmd *cmd, struct esptag_ctl_sa *cur)
{
	const struct esptag_ctl_sa *n = &cmd->sa;

	for (size_t i = 0; i < sizeof(limit_words) / sizeof(limit_words[0]); i++) {
		const struct limit_word *l = &limit_words[i];

		if (cmd->upd & l->bit)
			memcpy((uint8_t *)cur + l->off, (const uint8_t *)n + l->off,
			       l->u32 ? sizeof(uint32_t) : sizeof(uint64_t));
	}
	if (cmd->upd & ESPTAG_CLI_UPD_REPLAY)
		cur->replay_window = n->replay_window;
	/* The request names the SA and carries the new values only. */
	cur->sa_index = 0;
	cur->state = 0;
	cur->seq = 0;
	cur->cur_bytes = cur->cur_packets = cur->add_time = cur->use_time = 0;
}

/*
 * state allocspi src ADDR dst ADDR proto esp [min N max M] [reqid N] [dev DEV]
 * (ip xfrm state allocspi): dst is this host, the inbound SA's destination.
 */
int cli_parse_state_allocspi(struct args *a, struct esptag_cli_cmd *cmd)
{
	struct esptag_ctl_spi *q = &cmd->spi;
	uint8_t sfam = 0, dfam = 0;
	bool has_min = false, has_max = false;
	char *err = a->err;
	size_t errlen = a->errlen;

	a->seen = 0;
	for (a->i = 2; a->i < a->argc; a->i++) {
		const char *kw = a->argv[a->i], *v;

		if (!strcmp(kw, "dev")) {
			if (cli_dev_kw(a, cmd, q->dev))
				return -1;
		} else if (!strcmp(kw, "src") || !strcmp(kw, "dst")) {
			bool src = kw[0] == 's';

			SEEN(a, src ? S_SRC : S_DST, kw);
			if (!(v = cli_next_val(a, kw)) ||
			    cli_parse_addr(v, kw, src ? &sfam : &dfam, src ? q->saddr : q->daddr, err,
					   errlen))
				return -1;
		} else if (!strcmp(kw, "proto")) {
			SEEN(a, S_PROTO, kw);
			if (!(v = cli_next_val(a, kw)) || cli_parse_proto(v, "", err, errlen))
				return -1;
		} else if (!strcmp(kw, "min") || !strcmp(kw, "max")) {
			bool *has = kw[1] == 'i' ? &has_min : &has_max;

			if (*has)
				return fail(err, errlen, "'%s' given twice", kw);
			*has = true;
			if (!(v = cli_next_val(a, kw)) ||
			    cli_parse_spi(v, kw[1] == 'i' ? &q->min : &q->max, err, errlen))
				return -1;
		} else if (!strcmp(kw, "reqid")) {
			SEEN(a, S_REQID, kw);
			if (!(v = cli_next_val(a, kw)) || cli_parse_reqid(v, &q->reqid, err, errlen))
				return -1;
		} else if (!strcmp(kw, "mode")) {
			uint8_t mode; /* allocspi reserves an SPI; the mode is the SA's */

			SEEN(a, S_MODE, kw);
			if (!(v = cli_next_val(a, kw)) || cli_parse_mode(v, "", &mode, err, errlen))
				return -1;
		} else {
			return fail(err, errlen, "unknown keyword '%s' in state allocspi", kw);
		}
	}
	if ((a->seen & (S_SRC | S_DST)) != (S_SRC | S_DST))
		return fail(err, errlen,
			    "state allocspi needs src PEER dst ADDR proto esp [min SPI max SPI] [reqid N] [dev DEV]");
	if (has_min != has_max)
		return fail(err, errlen, "state allocspi: give both min SPI and max SPI");
	if (sfam != dfam)
		return fail(err, errlen, "src and dst must both be IPv4 or both IPv6");
	if (has_min && (q->min > q->max))
		return fail(err, errlen, "state allocspi: min 0x%x is above max 0x%x", q->min, q->max);
	q->family = dfam;
	q->proto = ESPTAG_IPPROTO_ESP;
	return 0;
}
