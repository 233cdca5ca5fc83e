// SPDX-License-Identifier: GPL-2.0-only
/*
 * The opcodes of config requests (docs/protocol.md): each executes all or
 * nothing on the SAD and the table of local addresses and appends its
 * records to the reply. A request only ever touches its own port's entries.
 */
#include <string.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include "agent.h"
#include "cfg_ops.h"
#include "wrap.h"

#define MAX_RECS ESPTAG_CFG_MAX_RECORDS

static void put32(__be32 *p, uint32_t v)
{
	*p = htonl(v);
}

static void put64(__be32 *hi, __be32 *lo, uint64_t v)
{
	*hi = htonl(v >> 32);
	*lo = htonl((uint32_t)v);
}

void agent_caps_fill(struct agent *a, struct esptag_rec_caps *c, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	esptag_rec_init(c, ESPTAG_REC_CAPS, sizeof(*c));
	c->version_min = a->version_min;
	c->version_max = ESPTAG_PROTO_VERSION_MAX;
	c->alg_mask = htons(ESPTAG_ALG_MASK);
	put64(&c->epoch_hi, &c->epoch_lo, a->epoch);
	put32(&c->sad_capacity, a->capacity);
	put32(&c->sad_used, a->sad_used);
	put32(&c->port_limit, a->port_limit);
	put32(&c->port_used, a->port_used[port]);
	c->max_records = htons(MAX_RECS);
	c->max_payload = htons(ESPTAG_CFG_MAX_PAYLOAD);
	c->local_capacity = htons(a->local_capacity > 0xffff ? 0xffff : a->local_capacity);
	c->features = htons(a->features);
}

void agent_reply_err(struct agent_reply *r, uint8_t status, uint16_t idx)
{
	r->status = status;
	r->err_index = idx;
}

/* A host that speaks version 2 gets the CAPS with the agent's key (72
 * bytes); a version 1 host the 40 bytes it can read. */
static void op_hello(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	struct esptag_rec_caps2 c;
	struct esptag_rec_caps hc;
	struct esptag_rec_view rv;
	size_t off = 0;
	uint8_t host_max = ESPTAG_PROTO_VERSION;

	if (esptag_cfg_next(v, &off, &rv) == 1 && rv.len >= sizeof(hc)) {
		memcpy(&hc, rv.data, sizeof(hc));
		host_max = hc.version_max;
	}
	agent_caps_fill(a, &c.caps, v->port);
	if (host_max < ESPTAG_PROTO_V2) {
		esptag_cfg_add(&r->b, ESPTAG_REC_CAPS, &c.caps, sizeof(c.caps));
		return;
	}
	memcpy(c.agent_key, a->id_pub, sizeof(c.agent_key));
	esptag_cfg_add(&r->b, ESPTAG_REC_CAPS, &c, sizeof(c));
}

/* Whether eph was accepted before (a replayed wrapped frame). The first 8
 * bytes screen the ring (one compare per entry), memcmp confirms. */
static bool eph_seen(const struct agent *a, const uint8_t *eph)
{
	uint64_t h, x;

	memcpy(&h, eph, sizeof(h));
	for (uint32_t i = 0; i < AGENT_SEEN_EPH; i++) {
		memcpy(&x, a->seen_eph[i], sizeof(x));
		if (x == h && !memcmp(a->seen_eph[i], eph, ESPTAG_X25519_LEN))
			return true;
	}
	return false;
}

/*
 * Version 2: the SA_WRAP records of v unwrapped into sa[] (with keys), with
 * the frame's ephemeral key (its last record, WRAP_KEY, into *wk), for the
 * port the request came on, each record's domain and position. A frame
 * whose ephemeral key was seen before (a replay) or does not give a shared
 * secret fails with BAD_RECORD on the WRAP_KEY record, a record that does
 * not open with BAD_RECORD on that record. Returns n or -1.
 */
static int unwrap_all(struct agent *a, const struct esptag_cfg_view *v, struct esptag_rec_sa *sa,
		      struct esptag_rec_wrap_key *wk, struct agent_reply *r)
{
	struct esptag_wrap_ctx c;
	struct esptag_rec_sa_wrap w;
	struct esptag_rec_view rv = {0};
	size_t off = 0;
	uint16_t n = v->count - 1, i = 0;

	/* The framing rules put WRAP_KEY last, after n SA_WRAP records. */
	while (esptag_cfg_next(v, &off, &rv) == 1 && rv.type == ESPTAG_REC_SA_WRAP)
		;
	if (rv.type != ESPTAG_REC_WRAP_KEY || n > MAX_RECS) {
		agent_reply_err(r, ESPTAG_ST_MALFORMED, ESPTAG_ERR_INDEX_NONE);
		return -1;
	}
	memcpy(wk, rv.data, sizeof(*wk));
	if (eph_seen(a, wk->eph_key)) {
		agent_log(4, "ADD_SA port %u: ephemeral key used before (a replay): refused",
			  v->port);
		agent_reply_err(r, ESPTAG_ST_BAD_RECORD, n);
		return -1;
	}
	if (esptag_unwrap_begin(&c, a->id_key, a->id_pub, wk, v->port, n)) {
		agent_log(4, "ADD_SA port %u: no shared secret with the ephemeral key: refused",
			  v->port);
		agent_reply_err(r, ESPTAG_ST_BAD_RECORD, n);
		return -1;
	}
	off = 0;
	for (i = 0; i < n && esptag_cfg_next(v, &off, &rv) == 1; i++) {
		memcpy(&w, rv.data, sizeof(w));
		if (esptag_wrap_open(&c, &w, i, &sa[i]) || esptag_sa_plain_key_check(&sa[i])) {
			agent_log(4, "ADD_SA port %u record %u: the wrapped key does not open for this agent, port, domain, frame and position: refused",
				  v->port, i);
			agent_reply_err(r, ESPTAG_ST_BAD_RECORD, i);
			esptag_wrap_end(&c);
			return -1;
		}
	}
	esptag_wrap_end(&c);
	return n;
}

static bool sa_key_equal(const struct esptag_rec_sa *x, const struct esptag_rec_sa *y)
{
	struct agent_sa_key kx, ky;

	agent_sa_key_from_rec(&kx, x);
	agent_sa_key_from_rec(&ky, y);
	return !memcmp(&kx, &ky, sizeof(kx));
}

static void op_add_sa(struct agent *a, const struct esptag_cfg_view *v, uint8_t *recs_rw,
		      struct agent_reply *r)
{
	struct esptag_rec_sa *sa = a->stage; /* [MAX_RECS], locked memory */
	struct esptag_rec_view rv;
	struct agent_sa_key k;
	int64_t added[MAX_RECS];
	struct esptag_rec_wrap_key wk;
	size_t off = 0;
	uint16_t n = 0, i, j;

	if (v->version >= ESPTAG_PROTO_V2) {
		int got = unwrap_all(a, v, sa, &wk, r);

		if (got < 0)
			goto out;
		n = got;
	}
	while (v->version < ESPTAG_PROTO_V2 && esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS) {
		memcpy(&sa[n], rv.data, sizeof(sa[n]));
		/* The request's key bytes are not needed any more. */
		OPENSSL_cleanse(recs_rw + (rv.data - v->records) +
				    offsetof(struct esptag_rec_sa, key),
				ESPTAG_KEY_MAX + ESPTAG_SALT_LEN);
		n++;
	}
	for (i = 0; i < n; i++) {
		agent_sa_key_from_rec(&k, &sa[i]);
		if (agent_sad_find(a, &k)) {
			agent_reply_err(r, ESPTAG_ST_DUPLICATE, i);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (sa_key_equal(&sa[i], &sa[j])) {
				agent_reply_err(r, ESPTAG_ST_DUPLICATE, i);
				goto out;
			}
		}
	}
	if (a->port_used[v->port] + n > a->port_limit) {
		agent_reply_err(r, ESPTAG_ST_PORT_LIMIT, a->port_limit - a->port_used[v->port]);
		goto out;
	}
	if (a->sad_used + n > a->capacity) {
		agent_reply_err(r, ESPTAG_ST_NO_SPACE, a->capacity - a->sad_used);
		goto out;
	}
	for (i = 0; i < n; i++) {
		added[i] = agent_sad_add(a, &sa[i], v->port);
		if (added[i] < 0) {
			while (i--)
				agent_sad_del(a, added[i]);
			agent_reply_err(r, ESPTAG_ST_BUSY, ESPTAG_ERR_INDEX_NONE);
			agent_log(3, "ADD_SA: cannot set up the cipher context");
			goto out;
		}
	}
	/* Installed: the frame's ephemeral key is spent. */
	if (v->version >= ESPTAG_PROTO_V2) {
		memcpy(a->seen_eph[a->seen_next], wk.eph_key, ESPTAG_X25519_LEN);
		a->seen_next = (a->seen_next + 1) % AGENT_SEEN_EPH;
	}
	for (i = 0; i < n; i++) {
		struct esptag_rec_sa echo = a->sa[added[i]].rec; /* key/salt zero */

		esptag_cfg_add(&r->b, ESPTAG_REC_SA, &echo, sizeof(echo));
		agent_log(7, "ADD_SA port %u index %lld spi 0x%08x dir %u", v->port,
			  (long long)added[i], ntohl(echo.spi), echo.dir);
	}
out:
	OPENSSL_cleanse(sa, MAX_RECS * sizeof(*sa));
}

static void op_del_sa(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	struct esptag_rec_sa_ref ref[MAX_RECS];
	struct esptag_rec_view rv;
	size_t off = 0;
	uint16_t n = 0, i;

	while (esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS)
		memcpy(&ref[n++], rv.data, sizeof(ref[0]));
	for (i = 0; i < n; i++) {
		struct agent_sa *sa = agent_sad_get(a, ntohl(ref[i].sa_index));

		if (!sa || sa->port != v->port) {
			agent_reply_err(r, ESPTAG_ST_UNKNOWN_SA, i);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		agent_sad_del(a, ntohl(ref[i].sa_index));
		esptag_cfg_add(&r->b, ESPTAG_REC_SA_REF, &ref[i], sizeof(ref[i]));
	}
}

static void op_flush(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	uint32_t i, nsa = 0, nl = 0;

	for (i = 0; i < a->capacity && a->port_used[v->port]; i++) {
		if (a->sa[i].used && a->sa[i].port == v->port) {
			agent_sad_del(a, i);
			nsa++;
		}
	}
	for (i = 0; i < a->local_capacity; i++) {
		if (a->local[i].used && a->local[i].port == v->port) {
			agent_local_del(a, &a->local[i]);
			nl++;
		}
	}
	agent_log(6, "FLUSH_PORT port %u: %u SAs, %u locals removed", v->port, nsa, nl);
}

static void op_add_local(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	struct esptag_rec_local lo[MAX_RECS];
	struct esptag_rec_view rv;
	size_t off = 0;
	uint16_t n = 0, i, j;

	while (esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS)
		memcpy(&lo[n++], rv.data, sizeof(lo[0]));
	for (i = 0; i < n; i++) {
		if (agent_local_find_rec(a, &lo[i])) {
			agent_reply_err(r, ESPTAG_ST_DUPLICATE, i);
			return;
		}
		for (j = 0; j < i; j++) {
			if (agent_local_equal(&lo[i], &lo[j])) {
				agent_reply_err(r, ESPTAG_ST_DUPLICATE, i);
				return;
			}
		}
	}
	if (a->nlocal + n > a->local_capacity) {
		agent_reply_err(r, ESPTAG_ST_NO_SPACE, a->local_capacity - a->nlocal);
		return;
	}
	for (i = 0; i < n; i++) {
		agent_local_add(a, &lo[i], v->port);
		esptag_cfg_add(&r->b, ESPTAG_REC_LOCAL, &lo[i], sizeof(lo[i]));
	}
}

static void op_del_local(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	struct esptag_rec_local lo[MAX_RECS];
	struct esptag_rec_view rv;
	size_t off = 0;
	uint16_t n = 0, i;

	while (esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS)
		memcpy(&lo[n++], rv.data, sizeof(lo[0]));
	for (i = 0; i < n; i++) {
		struct agent_local *l = agent_local_find_rec(a, &lo[i]);

		if (!l || l->port != v->port) {
			agent_reply_err(r, ESPTAG_ST_UNKNOWN_LOCAL, i);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		struct agent_local *l = agent_local_find_rec(a, &lo[i]);

		if (l)
			agent_local_del(a, l);
		esptag_cfg_add(&r->b, ESPTAG_REC_LOCAL, &lo[i], sizeof(lo[i]));
	}
}

static void op_dump(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	struct esptag_rec_view rv;
	struct esptag_rec_cursor cur;
	size_t off = 0;
	uint32_t next = 0, i;

	if (esptag_cfg_next(v, &off, &rv) == 1) {
		memcpy(&cur, rv.data, sizeof(cur));
		next = ntohl(cur.next);
	}
	for (i = next; i < a->capacity; i++) {
		struct agent_sa *sa = &a->sa[i];

		if (!sa->used || sa->port != v->port)
			continue;
		if (esptag_cfg_room(&r->b, sizeof(sa->rec) + sizeof(cur)) < 1) {
			memset(&cur, 0, sizeof(cur));
			esptag_rec_init(&cur, ESPTAG_REC_CURSOR, sizeof(cur));
			cur.next = htonl(i);
			esptag_cfg_add(&r->b, ESPTAG_REC_CURSOR, &cur, sizeof(cur));
			r->flags |= ESPTAG_CFG_F_MORE;
			return;
		}
		esptag_cfg_add(&r->b, ESPTAG_REC_SA, &sa->rec, sizeof(sa->rec));
	}
}

static void op_stats(struct agent *a, const struct esptag_cfg_view *v, struct agent_reply *r)
{
	struct esptag_rec_sa_ref ref[MAX_RECS];
	struct esptag_rec_view rv;
	size_t off = 0;
	uint16_t n = 0, i;

	while (esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS)
		memcpy(&ref[n++], rv.data, sizeof(ref[0]));
	if (!n) {
		for (i = 0; i < ESPTAG_AC_MAX; i++) {
			struct esptag_rec_counter c;

			memset(&c, 0, sizeof(c));
			esptag_rec_init(&c, ESPTAG_REC_COUNTER, sizeof(c));
			c.id = htons(i);
			put64(&c.value_hi, &c.value_lo, agent_ctr_sum(a, i));
			esptag_cfg_add(&r->b, ESPTAG_REC_COUNTER, &c, sizeof(c));
		}
		return;
	}
	for (i = 0; i < n; i++) {
		struct agent_sa *sa = agent_sad_get(a, ntohl(ref[i].sa_index));

		if (!sa || sa->port != v->port) {
			agent_reply_err(r, ESPTAG_ST_UNKNOWN_SA, i);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		struct agent_sa *sa = agent_sad_get(a, ntohl(ref[i].sa_index));
		struct esptag_rec_sa_stats s;
		struct agent_sa_ctr st;

		agent_sa_stats(a, ntohl(ref[i].sa_index), &st);
		memset(&s, 0, sizeof(s));
		esptag_rec_init(&s, ESPTAG_REC_SA_STATS, sizeof(s));
		s.sa_index = ref[i].sa_index;
		put64(&s.packets_hi, &s.packets_lo, st.packets);
		put64(&s.bytes_hi, &s.bytes_lo, st.bytes);
		put32(&s.auth_fail, st.auth_fail);
		put32(&s.domain_reject, st.domain_reject);
		put64(&s.seq_hi, &s.seq_lo, sa->rec.dir == ESPTAG_DIR_OUT ? sa->ivdb : sa->rx_top);
		esptag_cfg_add(&r->b, ESPTAG_REC_SA_STATS, &s, sizeof(s));
	}
}

void agent_cfg_exec(struct agent *a, const struct esptag_cfg_view *v, uint8_t *recs_rw,
		    struct agent_reply *r)
{
	switch (v->opcode) {
	case ESPTAG_OP_HELLO:
		op_hello(a, v, r);
		break;
	case ESPTAG_OP_ADD_SA:
		op_add_sa(a, v, recs_rw, r);
		break;
	case ESPTAG_OP_DEL_SA:
		op_del_sa(a, v, r);
		break;
	case ESPTAG_OP_FLUSH_PORT:
		op_flush(a, v, r);
		break;
	case ESPTAG_OP_ADD_LOCAL:
		op_add_local(a, v, r);
		break;
	case ESPTAG_OP_DEL_LOCAL:
		op_del_local(a, v, r);
		break;
	case ESPTAG_OP_DUMP_SA:
		op_dump(a, v, r);
		break;
	case ESPTAG_OP_GET_STATS:
		op_stats(a, v, r);
		break;
	default:
		agent_reply_err(r, ESPTAG_ST_BAD_OPCODE, ESPTAG_ERR_INDEX_NONE);
		break;
	}
}
