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
#include "cfg_ops.h"
#include "secmem.h"
#include "esptag_proto.h"

static const uint8_t agent_mac[6] = ESPTAG_AGENT_MAC_INIT;

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

/*
 * Requests not even looked at: no readable header (silent), dropped by
 * --test-drop-config, or a reply (a reply is never answered).
 */
static bool cfg_ignored(struct agent *a, const uint8_t *pl, size_t len, struct esptag_cfg_hdr *h)
{
	if (len < ESPTAG_ETH_HLEN + sizeof(*h)) {
		a->ctr[ESPTAG_AC_CFG_ERR]++;
		return true;
	}
	if (a->drop_pct && agent_rand32(a) % 100 < a->drop_pct) {
		a->ctr[ESPTAG_AC_CFG_DROPPED]++;
		return true;
	}
	memcpy(h, pl, sizeof(*h));
	if (h->flags & ESPTAG_CFG_F_REPLY) {
		a->ctr[ESPTAG_AC_CFG_ERR]++;
		return true;
	}
	return false;
}

/* The reply status of a decoding error. */
static void cfg_decode_err(struct agent_reply *r, int rc, uint16_t bad_index)
{
	switch (rc) {
	case ESPTAG_EVERSION:
		agent_reply_err(r, ESPTAG_ST_BAD_VERSION, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_EOPCODE:
		agent_reply_err(r, ESPTAG_ST_BAD_OPCODE, ESPTAG_ERR_INDEX_NONE);
		break;
	case ESPTAG_EBADREC:
	case ESPTAG_EALG:
		agent_reply_err(r, -rc, bad_index);
		break;
	default:
		agent_reply_err(r, ESPTAG_ST_MALFORMED, bad_index);
		break;
	}
}

/* Whatever happened, no key byte of an ADD_SA request stays in the buffer. */
static void cfg_wipe_keys(uint8_t *pl, size_t plen)
{
	size_t off;

	for (off = sizeof(struct esptag_cfg_hdr);
	     off + sizeof(struct esptag_rec_sa) <= plen &&
	     off + sizeof(struct esptag_rec_sa) <= ESPTAG_CFG_MAX_PAYLOAD;
	     off += sizeof(struct esptag_rec_sa))
		OPENSSL_cleanse(pl + off + offsetof(struct esptag_rec_sa, key),
				ESPTAG_KEY_MAX + ESPTAG_SALT_LEN);
}

/* A reply carries the request's version (when it is one spoken here). */
static uint8_t reply_version(const struct esptag_cfg_hdr *h)
{
	if (h->version >= ESPTAG_PROTO_VERSION && h->version <= ESPTAG_PROTO_VERSION_MAX)
		return h->version;
	return ESPTAG_PROTO_VERSION_MAX;
}

/* Decode and execute the request; the reply is built into e->frame. */
static void cfg_execute(struct agent *a, uint8_t *pl, size_t plen, const struct esptag_cfg_hdr *h,
			struct agent_reply *r, struct agent_cache_ent *e)
{
	struct esptag_cfg_view v;
	int rc;

	memset(r, 0, sizeof(*r));
	r->status = ESPTAG_ST_OK;
	r->err_index = ESPTAG_ERR_INDEX_NONE;
	esptag_cfg_begin(&r->b, e->frame + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, h->opcode,
			 ESPTAG_CFG_F_REPLY, 0, ntohl(h->msg_id), ntohs(h->port));
	esptag_cfg_set_version(&r->b, reply_version(h));
	rc = esptag_cfg_decode(pl, plen, &v);
	if (rc)
		cfg_decode_err(r, rc, v.bad_index);
	else if (v.version < a->version_min && v.opcode != ESPTAG_OP_HELLO)
		/* Version 1 (keys in clear) only when the operator allows it. */
		agent_reply_err(r, ESPTAG_ST_BAD_VERSION, ESPTAG_ERR_INDEX_NONE);
	else
		agent_cfg_exec(a, &v, pl + sizeof(*h), r);
	if (rc && h->opcode == ESPTAG_OP_ADD_SA)
		cfg_wipe_keys(pl, plen);
}

/* Errors carry no records, except BAD_VERSION: our CAPS. */
static void cfg_error_reply(struct agent *a, const struct esptag_cfg_hdr *h,
			    struct agent_reply *r, struct agent_cache_ent *e)
{
	esptag_cfg_begin(&r->b, e->frame + ESPTAG_ETH_HLEN, ESPTAG_CFG_MAX_PAYLOAD, h->opcode,
			 ESPTAG_CFG_F_REPLY, r->status, ntohl(h->msg_id), ntohs(h->port));
	/* BAD_VERSION: the agent's highest version, and its CAPS (40 bytes:
	 * readable by any host). */
	esptag_cfg_set_version(&r->b, r->status == ESPTAG_ST_BAD_VERSION ?
					      ESPTAG_PROTO_VERSION_MAX : reply_version(h));
	if (r->status == ESPTAG_ST_BAD_VERSION) {
		struct esptag_rec_caps c;

		agent_caps_fill(a, &c, ntohs(h->port));
		esptag_cfg_add(&r->b, ESPTAG_REC_CAPS, &c, sizeof(c));
	}
	a->ctr[ESPTAG_AC_CFG_ERR]++;
	agent_log(7, "config %s msg %u port %u: %s (record %u)", esptag_opcode_str(h->opcode),
		  ntohl(h->msg_id), ntohs(h->port), esptag_status_str(r->status), r->err_index);
}

/* Finish the reply frame to src and fill its cache entry. */
static void cfg_finish(struct agent *a, const uint8_t *src, const struct esptag_cfg_hdr *h,
		       struct agent_reply *r, struct agent_cache_ent *e, const uint8_t *digest,
		       bool have_digest)
{
	size_t flen = ESPTAG_ETH_HLEN + esptag_cfg_end(&r->b, r->err_index);

	/* Status and flags are not builder arguments we can change later:
	 * patch them in the header. */
	e->frame[ESPTAG_ETH_HLEN + 2] = ESPTAG_CFG_F_REPLY | r->flags;
	e->frame[ESPTAG_ETH_HLEN + 3] = r->status;
	memcpy(e->frame, src, 6);
	memcpy(e->frame + 6, agent_mac, 6);
	e->frame[12] = a->eth_cfg >> 8;
	e->frame[13] = a->eth_cfg & 0xff;
	if (flen < 60) {
		memset(e->frame + flen, 0, 60 - flen);
		flen = 60;
	}
	e->len = flen;
	/* BUSY is transient: a retransmission must be executed, not replayed. */
	e->used = r->status != ESPTAG_ST_BUSY && have_digest;
	memcpy(e->digest, digest, sizeof(e->digest));
	memcpy(e->mac, src, 6);
	e->port = ntohs(h->port);
	e->msg_id = ntohl(h->msg_id);
	e->opcode = h->opcode;
}

void agent_cfg_frame(struct agent *a, uint8_t *f, size_t len)
{
	uint8_t *pl = f + ESPTAG_ETH_HLEN;
	size_t plen = len - ESPTAG_ETH_HLEN;
	struct esptag_cfg_hdr h;
	struct agent_cache_ent *e;
	struct agent_reply r;
	uint8_t digest[32] = {0};
	bool have_digest;

	if (cfg_ignored(a, pl, len, &h))
		return;
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
	cfg_execute(a, pl, plen, &h, &r, e);
	if (r.status != ESPTAG_ST_OK)
		cfg_error_reply(a, &h, &r, e);
	cfg_finish(a, f + 6, &h, &r, e, digest, have_digest);
	send_reply(a, e);
	/*
	 * Decoding, keying and unkeying (ADD_SA, DEL_SA, FLUSH_PORT) leave
	 * copies of key material in dead stack frames: zero them. Config frames
	 * are control plane; 64 KiB of memset each is cheap.
	 */
	esptag_stack_wipe();
}
