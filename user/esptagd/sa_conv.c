// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conversions between the control socket's SAs and the agent's SA records,
 * and the words the daemon uses for them in messages.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "esptagd.h"

void sa_to_rec(const struct daemon *d, const struct esptag_ctl_sa *s, struct esptag_rec_sa *r,
	       bool with_key)
{
	memset(r, 0, sizeof(*r));
	esptag_rec_init(r, ESPTAG_REC_SA, sizeof(*r));
	r->dir = s->dir;
	r->family = s->family;
	r->proto = ESPTAG_IPPROTO_ESP;
	r->mode = s->mode;
	r->spi = htonl(s->spi);
	memcpy(r->daddr, s->daddr, 16);
	memcpy(r->saddr, s->saddr, 16);
	memcpy(r->local_mac, d->mac, 6);
	r->nvlans = s->nvlans;
	r->alg = s->alg;
	for (int i = 0; i < s->nvlans; i++) {
		/* Q-in-Q: the outer tag is 802.1ad. */
		r->vlan[i].tpid = htons(s->nvlans == 2 && i == 0 ? 0x88a8 : 0x8100);
		r->vlan[i].tci = htons(s->vid[i]);
	}
	r->key_len = s->key_len;
	r->icv_len = s->icv_len;
	r->sa_flags = s->sa_flags;
	r->replay_window = htons(s->replay_window);
	r->sa_index = htonl(ESPTAG_SA_INDEX_NONE);
	if (with_key) {
		memcpy(r->key, s->key, s->key_len);
		memcpy(r->salt, s->salt, ESPTAG_SALT_LEN);
	}
}

void rec_to_sa(const struct daemon *d, const struct esptag_rec_sa *r,
	       struct esptag_ctl_sa *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dev, sizeof(s->dev), "%s", d->dev);
	s->dir = r->dir;
	s->family = r->family;
	s->mode = r->mode;
	s->alg = r->alg;
	s->key_len = r->key_len;
	s->icv_len = r->icv_len;
	s->sa_flags = r->sa_flags;
	s->nvlans = r->nvlans > 2 ? 2 : r->nvlans;
	for (int i = 0; i < s->nvlans; i++)
		s->vid[i] = ntohs(r->vlan[i].tci) & 0xfff;
	s->spi = ntohl(r->spi);
	s->replay_window = ntohs(r->replay_window);
	s->sa_index = ntohl(r->sa_index);
	memcpy(s->saddr, r->saddr, 16);
	memcpy(s->daddr, r->daddr, 16);
}

const char *sa_desc(const struct esptag_ctl_sa *s, char *buf, size_t len)
{
	char a[64];

	snprintf(buf, len, "spi 0x%08x dst %s dir %s", s->spi,
		 esptag_addr_str(s->family, s->daddr, a, sizeof(a)),
		 s->dir == ESPTAG_DIR_IN ? "in" : "out");
	return buf;
}

const char *agent_hint(int st)
{
	switch (st) {
	case ESPTAG_ST_DUPLICATE:
		return "an SA with this dst, proto, spi and domain already exists in the agent; delete it first or use another SPI";
	case ESPTAG_ST_NO_SPACE:
		return "the agent's SAD is full; delete SAs first (esptag agent status shows the capacity)";
	case ESPTAG_ST_PORT_LIMIT:
		return "this port's SA quota in the agent is used up; delete SAs first";
	case ESPTAG_ST_BAD_ALG:
		return "the agent does not support this algorithm or key length (see esptag agent status)";
	case ESPTAG_ST_BAD_RECORD:
		return "the agent rejected a field of the SA";
	case ESPTAG_ST_UNKNOWN_SA:
		return "the agent does not know this SA";
	case ESPTAG_ST_BAD_VERSION:
		return "the agent does not speak this protocol version";
	case ESPTAG_ST_BUSY:
		return "the agent is busy; try again";
	case ESPTAG_ST_NOT_PERMITTED:
		return "not permitted: a VF gets SAs only while the PF trusts it (on the host: esptag vf trust VF on)";
	default:
		return "see the agent's log";
	}
}

uint64_t expiry(uint32_t lifetime)
{
	return lifetime ? now_ns() + (uint64_t)lifetime * 1000000000ull : 0;
}

/* The ESPTAG_FEAT_* an agent must announce to take this SA. */
uint16_t sa_features(const struct esptag_ctl_sa *c)
{
	return (c->sa_flags & ESPTAG_SA_F_ESN ? ESPTAG_FEAT_ESN : 0) |
	       (c->mode == ESPTAG_MODE_TUNNEL ? ESPTAG_FEAT_TUNNEL : 0) |
	       (c->family == 6 ? ESPTAG_FEAT_IPV6 : 0);
}

const char *feat_str(uint16_t f, char *buf, size_t len)
{
	static const struct {
		uint16_t bit;
		const char *name;
	} names[] = {
		{ ESPTAG_FEAT_TSO, "tso" },	  { ESPTAG_FEAT_HAIRPIN, "hairpin" },
		{ ESPTAG_FEAT_ESN, "esn" },	  { ESPTAG_FEAT_TUNNEL, "tunnel" },
		{ ESPTAG_FEAT_IPV6, "ipv6" },
	};
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? "," : "",
				      names[i].name);
	return n ? buf : "none";
}

