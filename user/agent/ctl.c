// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config packets (EtherType 0x88B5) from the host side: decode with the
 * codec, execute all-or-nothing, answer, remember the answer in the reply
 * cache so that a retransmitted request (same source MAC, port, msg_id and
 * opcode, and the same request bytes: a SHA-256 of them is kept, never the
 * bytes, which hold keys) is answered again without being executed twice.
 * A request that reuses a cached msg_id with other contents is a new
 * request: it is executed, never answered with the other request's reply.
 */
#include <string.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "agent.h"
#include "secmem.h"
#include "esptag_proto.h"

static const uint8_t agent_mac[6] = ESPTAG_AGENT_MAC_INIT;

#define MAX_RECS ESPTAG_CFG_MAX_RECORDS

struct reply {
	struct esptag_cfg_builder b;
	uint8_t status;
	uint16_t err_index;
	uint8_t flags;
};

static void put32(__be32 *p, uint32_t v)
{
	*p = htonl(v);
}

static void put64(__be32 *hi, __be32 *lo, uint64_t v)
{
	*hi = htonl(v >> 32);
	*lo = htonl((uint32_t)v);
}

static void caps_fill(struct agent *a, struct esptag_rec_caps *c, uint16_t port)
{
	memset(c, 0, sizeof(*c));
	esptag_rec_init(c, ESPTAG_REC_CAPS, sizeof(*c));
	c->version_min = ESPTAG_PROTO_VERSION;
	c->version_max = ESPTAG_PROTO_VERSION;
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

static void set_err(struct reply *r, uint8_t status, uint16_t idx)
{
	r->status = status;
	r->err_index = idx;
}

/* ---- opcodes ---- */

static void op_hello(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
{
	struct esptag_rec_caps c;

	caps_fill(a, &c, v->port);
	esptag_cfg_add(&r->b, ESPTAG_REC_CAPS, &c, sizeof(c));
}

static bool sa_key_equal(const struct esptag_rec_sa *x, const struct esptag_rec_sa *y)
{
	struct agent_sa_key kx, ky;

	agent_sa_key_from_rec(&kx, x);
	agent_sa_key_from_rec(&ky, y);
	return !memcmp(&kx, &ky, sizeof(kx));
}

static void op_add_sa(struct agent *a, const struct esptag_cfg_view *v, uint8_t *recs_rw,
		      struct reply *r)
{
	struct esptag_rec_sa *sa = a->stage; /* [MAX_RECS], locked memory */
	struct esptag_rec_view rv;
	struct agent_sa_key k;
	int64_t added[MAX_RECS];
	size_t off = 0;
	uint16_t n = 0, i, j;

	while (esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS) {
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
			set_err(r, ESPTAG_ST_DUPLICATE, i);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (sa_key_equal(&sa[i], &sa[j])) {
				set_err(r, ESPTAG_ST_DUPLICATE, i);
				goto out;
			}
		}
	}
	if (a->port_used[v->port] + n > a->port_limit) {
		set_err(r, ESPTAG_ST_PORT_LIMIT, a->port_limit - a->port_used[v->port]);
		goto out;
	}
	if (a->sad_used + n > a->capacity) {
		set_err(r, ESPTAG_ST_NO_SPACE, a->capacity - a->sad_used);
		goto out;
	}
	for (i = 0; i < n; i++) {
		added[i] = agent_sad_add(a, &sa[i], v->port);
		if (added[i] < 0) {
			while (i--)
				agent_sad_del(a, added[i]);
			set_err(r, ESPTAG_ST_BUSY, ESPTAG_ERR_INDEX_NONE);
			agent_log(3, "ADD_SA: cannot set up the cipher context");
			goto out;
		}
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

static void op_del_sa(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
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
			set_err(r, ESPTAG_ST_UNKNOWN_SA, i);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		agent_sad_del(a, ntohl(ref[i].sa_index));
		esptag_cfg_add(&r->b, ESPTAG_REC_SA_REF, &ref[i], sizeof(ref[i]));
	}
}

static void op_flush(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
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

static void op_add_local(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
{
	struct esptag_rec_local lo[MAX_RECS];
	struct esptag_rec_view rv;
	size_t off = 0;
	uint16_t n = 0, i, j;

	while (esptag_cfg_next(v, &off, &rv) == 1 && n < MAX_RECS)
		memcpy(&lo[n++], rv.data, sizeof(lo[0]));
	for (i = 0; i < n; i++) {
		if (agent_local_find_rec(a, &lo[i])) {
			set_err(r, ESPTAG_ST_DUPLICATE, i);
			return;
		}
		for (j = 0; j < i; j++) {
			if (agent_local_equal(&lo[i], &lo[j])) {
				set_err(r, ESPTAG_ST_DUPLICATE, i);
				return;
			}
		}
	}
	if (a->nlocal + n > a->local_capacity) {
		set_err(r, ESPTAG_ST_NO_SPACE, a->local_capacity - a->nlocal);
		return;
	}
	for (i = 0; i < n; i++) {
		agent_local_add(a, &lo[i], v->port);
		esptag_cfg_add(&r->b, ESPTAG_REC_LOCAL, &lo[i], sizeof(lo[i]));
	}
}

static void op_del_local(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
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
			set_err(r, ESPTAG_ST_UNKNOWN_LOCAL, i);
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

static void op_dump(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
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

static void op_stats(struct agent *a, const struct esptag_cfg_view *v, struct reply *r)
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
			put64(&c.value_hi, &c.value_lo, a->ctr[i]);
			esptag_cfg_add(&r->b, ESPTAG_REC_COUNTER, &c, sizeof(c));
		}
		return;
	}
	for (i = 0; i < n; i++) {
		struct agent_sa *sa = agent_sad_get(a, ntohl(ref[i].sa_index));

		if (!sa || sa->port != v->port) {
			set_err(r, ESPTAG_ST_UNKNOWN_SA, i);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		struct agent_sa *sa = agent_sad_get(a, ntohl(ref[i].sa_index));
		struct esptag_rec_sa_stats s;

		memset(&s, 0, sizeof(s));
		esptag_rec_init(&s, ESPTAG_REC_SA_STATS, sizeof(s));
		s.sa_index = ref[i].sa_index;
		put64(&s.packets_hi, &s.packets_lo, sa->packets);
		put64(&s.bytes_hi, &s.bytes_lo, sa->bytes);
		put32(&s.auth_fail, sa->auth_fail);
		put32(&s.domain_reject, sa->domain_reject);
		put64(&s.seq_hi, &s.seq_lo, sa->rec.dir == ESPTAG_DIR_OUT ? sa->ivdb : sa->rx_top);
		esptag_cfg_add(&r->b, ESPTAG_REC_SA_STATS, &s, sizeof(s));
	}
}

/* ---- the frame ---- */

/*
 * The identity of a request for the reply cache: a SHA-256 over its header
 * (F_RETRY masked: a retransmission sets it) and its declared records, not
 * over whatever padding follows them. Returns -1 when it cannot be made (the
 * request is then never answered from the cache).
 */
static int req_digest(const uint8_t *pl, size_t plen, uint8_t out[32])
{
	struct esptag_cfg_hdr h;
	size_t n = plen;
	unsigned int len = 32;
	int ok;

	memcpy(&h, pl, sizeof(h));
	if (sizeof(h) + ntohs(h.length) <= plen)
		n = sizeof(h) + ntohs(h.length);
	h.flags &= ~ESPTAG_CFG_F_RETRY;
	{
		EVP_MD_CTX *c = EVP_MD_CTX_new();

		ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
		     EVP_DigestUpdate(c, &h, sizeof(h)) &&
		     EVP_DigestUpdate(c, pl + sizeof(h), n - sizeof(h)) &&
		     EVP_DigestFinal_ex(c, out, &len);
		EVP_MD_CTX_free(c);
	}
	return ok && len == 32 ? 0 : -1;
}

static struct agent_cache_ent *cache_find(struct agent *a, const uint8_t *mac, uint16_t port,
					  uint32_t msg_id, uint8_t opcode, const uint8_t *digest)
{
	uint32_t i;

	if (!digest)
		return NULL;
	for (i = 0; i < AGENT_CACHE_SIZE; i++) {
		struct agent_cache_ent *e = &a->cache[i];

		if (e->used && e->msg_id == msg_id && e->port == port && e->opcode == opcode &&
		    !memcmp(e->mac, mac, 6) && !CRYPTO_memcmp(e->digest, digest, 32))
			return e;
	}
	return NULL;
}

static void send_reply(struct agent *a, const struct agent_cache_ent *e)
{
	struct agent_pkt *p = agent_slot(a, AGENT_HOST);

	memcpy(p->data, e->frame, e->len);
	agent_commit(a, AGENT_HOST, e->len);
}

void agent_cfg_frame(struct agent *a, uint8_t *f, size_t len)
{
	uint8_t *pl = f + ESPTAG_ETH_HLEN, *recs_rw;
	size_t plen = len - ESPTAG_ETH_HLEN, flen;
	struct esptag_cfg_view v;
	struct esptag_cfg_hdr h;
	struct agent_cache_ent *e;
	struct reply r;
	uint8_t digest[32] = {0};
	bool have_digest;
	int rc;

	if (len < ESPTAG_ETH_HLEN + sizeof(h)) {
		a->ctr[ESPTAG_AC_CFG_ERR]++; /* no readable header: silent */
		return;
	}
	if (a->drop_pct && agent_rand32(a) % 100 < a->drop_pct) {
		a->ctr[ESPTAG_AC_CFG_DROPPED]++;
		return;
	}
	memcpy(&h, pl, sizeof(h));
	if (h.flags & ESPTAG_CFG_F_REPLY) {
		a->ctr[ESPTAG_AC_CFG_ERR]++; /* a reply is never answered */
		return;
	}
	if (plen > ESPTAG_CFG_MAX_PAYLOAD)
		plen = ESPTAG_CFG_MAX_PAYLOAD + 1; /* decode says MALFORMED */
	/* Before anything wipes the request's key bytes. */
	have_digest = !req_digest(pl, plen, digest);
	e = cache_find(a, f + 6, ntohs(h.port), ntohl(h.msg_id), h.opcode,
		       have_digest ? digest : NULL);
	if (e) {
		a->ctr[ESPTAG_AC_CFG_DUP]++;
		send_reply(a, e);
		return;
	}
	a->ctr[ESPTAG_AC_CFG_RX]++;

	e = &a->cache[a->cache_next];
	a->cache_next = (a->cache_next + 1) % AGENT_CACHE_SIZE;
	memset(e, 0, offsetof(struct agent_cache_ent, frame));

	memset(&r, 0, sizeof(r));
	r.status = ESPTAG_ST_OK;
	r.err_index = ESPTAG_ERR_INDEX_NONE;
	esptag_cfg_begin(&r.b, e->frame + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, h.opcode,
			 ESPTAG_CFG_F_REPLY, 0, ntohl(h.msg_id), ntohs(h.port));

	rc = esptag_cfg_decode(pl, plen, &v);
	switch (rc) {
	case 0:
		recs_rw = pl + sizeof(h);
		switch (v.opcode) {
		case ESPTAG_OP_HELLO:
			op_hello(a, &v, &r);
			break;
		case ESPTAG_OP_ADD_SA:
			op_add_sa(a, &v, recs_rw, &r);
			break;
		case ESPTAG_OP_DEL_SA:
			op_del_sa(a, &v, &r);
			break;
		case ESPTAG_OP_FLUSH_PORT:
			op_flush(a, &v, &r);
			break;
		case ESPTAG_OP_ADD_LOCAL:
			op_add_local(a, &v, &r);
			break;
		case ESPTAG_OP_DEL_LOCAL:
			op_del_local(a, &v, &r);
			break;
		case ESPTAG_OP_DUMP_SA:
			op_dump(a, &v, &r);
			break;
		case ESPTAG_OP_GET_STATS:
			op_stats(a, &v, &r);
			break;
		default:
			set_err(&r, ESPTAG_ST_BAD_OPCODE, ESPTAG_ERR_INDEX_NONE);
			break;
		}
		break;
	case ESPTAG_EVERSION:
		set_err(&r, ESPTAG_ST_BAD_VERSION, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_EOPCODE:
		set_err(&r, ESPTAG_ST_BAD_OPCODE, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_EBADREC:
	case ESPTAG_EALG:
		set_err(&r, -rc, v.bad_index);
		break;
	default:
		set_err(&r, ESPTAG_ST_MALFORMED, v.bad_index);
		break;
	}
	/* Whatever happened, no key byte of the request stays in the buffer. */
	if (rc && h.opcode == ESPTAG_OP_ADD_SA) {
		size_t off;

		for (off = sizeof(h); off + sizeof(struct esptag_rec_sa) <= plen &&
				      off + sizeof(struct esptag_rec_sa) <= ESPTAG_CFG_MAX_PAYLOAD;
		     off += sizeof(struct esptag_rec_sa))
			OPENSSL_cleanse(pl + off + offsetof(struct esptag_rec_sa, key),
					ESPTAG_KEY_MAX + ESPTAG_SALT_LEN);
	}

	if (r.status != ESPTAG_ST_OK) {
		/* Errors carry no records, except BAD_VERSION: our CAPS. */
		esptag_cfg_begin(&r.b, e->frame + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, h.opcode,
				 ESPTAG_CFG_F_REPLY, r.status, ntohl(h.msg_id), ntohs(h.port));
		if (r.status == ESPTAG_ST_BAD_VERSION) {
			struct esptag_rec_caps c;

			caps_fill(a, &c, ntohs(h.port));
			esptag_cfg_add(&r.b, ESPTAG_REC_CAPS, &c, sizeof(c));
		}
		a->ctr[ESPTAG_AC_CFG_ERR]++;
		agent_log(7, "config %s msg %u port %u: %s (record %u)",
			  esptag_opcode_str(h.opcode), ntohl(h.msg_id), ntohs(h.port),
			  esptag_status_str(r.status), r.err_index);
	}
	flen = ESPTAG_ETH_HLEN + esptag_cfg_end(&r.b, r.err_index);
	/* Status and flags are not builder arguments we can change later:
	 * patch them in the header. */
	e->frame[ESPTAG_ETH_HLEN + 2] = ESPTAG_CFG_F_REPLY | r.flags;
	e->frame[ESPTAG_ETH_HLEN + 3] = r.status;
	memcpy(e->frame, f + 6, 6);
	memcpy(e->frame + 6, agent_mac, 6);
	e->frame[12] = a->eth_cfg >> 8;
	e->frame[13] = a->eth_cfg & 0xff;
	if (flen < 60) {
		memset(e->frame + flen, 0, 60 - flen);
		flen = 60;
	}
	e->len = flen;
	/* BUSY is transient: a retransmission must be executed, not replayed. */
	e->used = r.status != ESPTAG_ST_BUSY && have_digest;
	memcpy(e->digest, digest, sizeof(digest));
	memcpy(e->mac, f + 6, 6);
	e->port = ntohs(h.port);
	e->msg_id = ntohl(h.msg_id);
	e->opcode = h.opcode;
	send_reply(a, e);
	/*
	 * Decoding, keying and unkeying (ADD_SA, DEL_SA, FLUSH_PORT) leave
	 * copies of key material in dead stack frames: zero them. Config frames
	 * are control plane; 64 KiB of memset each is cheap.
	 */
	esptag_stack_wipe();
}
