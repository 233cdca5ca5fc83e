/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The worked examples of docs/protocol.md, built from the structs of
 * include/esptag/wire.h with the codec. Shared by tests/unit/test_protocol.c
 * (compares them with the document) and the fuzzers (seed corpora).
 * Keys are obviously fake (00 01 02 ...), addresses are documentation ones.
 */
#ifndef ESPTAG_PROTOCOL_EXAMPLES_H
#define ESPTAG_PROTOCOL_EXAMPLES_H

#include <string.h>
#include <arpa/inet.h>
#include <openssl/evp.h>
#include "esptag_proto.h"
#include "wrap.h"

/* Documentation MACs (RFC 7042): the PF host port, a VF, the peer. */
static const uint8_t ex_pf_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01 };
static const uint8_t ex_vf_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02 };
static const uint8_t ex_peer_mac[6] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x0b };
static const uint8_t ex_agent_mac[6] = ESPTAG_AGENT_MAC_INIT;

#define EX_MSG_ID 0x1a2b3c01u

enum ex_kind { EX_CFG, EX_CFG_FRAME, EX_META, EX_RAW };

/*
 * Version 2 examples: the X25519 keys of RFC 7748 section 6.1. The agent's
 * identity is Bob's key pair, the requester's ephemeral key Alice's, so
 * the shared secret is the RFC's 4a5d9d5b...1742.
 */
static const uint8_t ex_agent_priv[32] = {
	0x5d, 0xab, 0x08, 0x7e, 0x62, 0x4a, 0x8a, 0x4b, 0x79, 0xe1, 0x7f, 0x8b, 0x83, 0x80, 0x0e, 0xe6,
	0x6f, 0x3b, 0xb1, 0x29, 0x26, 0x18, 0xb6, 0xfd, 0x1c, 0x2f, 0x8b, 0x27, 0xff, 0x88, 0xe0, 0xeb,
};
static const uint8_t ex_agent_pub[32] = {
	0xde, 0x9e, 0xdb, 0x7d, 0x7b, 0x7d, 0xc1, 0xb4, 0xd3, 0x5b, 0x61, 0xc2, 0xec, 0xe4, 0x35, 0x37,
	0x3f, 0x83, 0x43, 0xc8, 0x5b, 0x78, 0x67, 0x4d, 0xad, 0xfc, 0x7e, 0x14, 0x6f, 0x88, 0x2b, 0x4f,
};
static const uint8_t ex_eph_priv[32] = {
	0x77, 0x07, 0x6d, 0x0a, 0x73, 0x18, 0xa5, 0x7d, 0x3c, 0x16, 0xc1, 0x72, 0x51, 0xb2, 0x66, 0x45,
	0xdf, 0x4c, 0x2f, 0x87, 0xeb, 0xc0, 0x99, 0x2a, 0xb1, 0x77, 0xfb, 0xa5, 0x1d, 0xb9, 0x2c, 0x2a,
};
#define EX_V2_MSG_ID (EX_MSG_ID + 0x0f)

static inline void ex_fill(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

static inline void ex_v4(uint8_t *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	memset(a, 0, 16);
	a[0] = b0, a[1] = b1, a[2] = b2, a[3] = b3;
}

static inline void ex_v6(uint8_t *a, const char *s)
{
	inet_pton(AF_INET6, s, a);
}

/* SA 0: AES-GCM-128, transport, IPv4, outbound, PF domain, no VLAN. */
static inline void ex_sa_v4(struct esptag_rec_sa *sa, bool request)
{
	memset(sa, 0, sizeof(*sa));
	esptag_rec_init(sa, ESPTAG_REC_SA, sizeof(*sa));
	sa->dir = ESPTAG_DIR_OUT;
	sa->family = 4;
	sa->proto = ESPTAG_IPPROTO_ESP;
	sa->mode = ESPTAG_MODE_TRANSPORT;
	sa->spi = htonl(0x00001001);
	ex_v4(sa->daddr, 198, 51, 100, 2);
	ex_v4(sa->saddr, 192, 0, 2, 1);
	memcpy(sa->local_mac, ex_pf_mac, 6);
	sa->alg = ESPTAG_ALG_AES_GCM_128;
	sa->key_len = 16;
	sa->icv_len = ESPTAG_ICV_LEN;
	if (request) {
		sa->sa_index = htonl(ESPTAG_SA_INDEX_NONE);
		ex_fill(sa->key, 16, 0x00);
		ex_fill(sa->salt, 4, 0xa0);
	} else {
		sa->sa_index = htonl(0);
	}
}

/* SAs 1 and 2: AES-GCM-256, tunnel, IPv6, ESN, VF domain behind
 * S-tag 100 + C-tag 200; an outbound/inbound pair. */
static inline void ex_sa_v6(struct esptag_rec_sa *sa, bool out, bool request)
{
	memset(sa, 0, sizeof(*sa));
	esptag_rec_init(sa, ESPTAG_REC_SA, sizeof(*sa));
	sa->dir = out ? ESPTAG_DIR_OUT : ESPTAG_DIR_IN;
	sa->family = 6;
	sa->proto = ESPTAG_IPPROTO_ESP;
	sa->mode = ESPTAG_MODE_TUNNEL;
	sa->spi = htonl(out ? 0x00002001 : 0x00002002);
	ex_v6(sa->daddr, out ? "2001:db8:b::1" : "2001:db8:a::1");
	ex_v6(sa->saddr, out ? "2001:db8:a::1" : "2001:db8:b::1");
	memcpy(sa->local_mac, ex_vf_mac, 6);
	sa->nvlans = 2;
	sa->alg = ESPTAG_ALG_AES_GCM_256;
	sa->vlan[0].tpid = htons(0x88a8);
	sa->vlan[0].tci = htons(100);
	sa->vlan[1].tpid = htons(0x8100);
	sa->vlan[1].tci = htons(200);
	sa->key_len = 32;
	sa->icv_len = ESPTAG_ICV_LEN;
	sa->sa_flags = ESPTAG_SA_F_ESN;
	sa->replay_window = htons(out ? 0 : 128);
	if (request) {
		sa->sa_index = htonl(ESPTAG_SA_INDEX_NONE);
		ex_fill(sa->key, 32, out ? 0x00 : 0x40);
		ex_fill(sa->salt, 4, out ? 0xb0 : 0xc0);
	} else {
		sa->sa_index = htonl(out ? 1 : 2);
	}
}

static inline void ex_local(struct esptag_rec_local *l)
{
	memset(l, 0, sizeof(*l));
	esptag_rec_init(l, ESPTAG_REC_LOCAL, sizeof(*l));
	l->family = 4;
	memcpy(l->mac, ex_vf_mac, 6);
	ex_v4(l->addr, 192, 0, 2, 20);
}

static inline void ex_sa_ref(struct esptag_rec_sa_ref *r, uint32_t idx)
{
	memset(r, 0, sizeof(*r));
	esptag_rec_init(r, ESPTAG_REC_SA_REF, sizeof(*r));
	r->sa_index = htonl(idx);
}

static inline void ex_cursor(struct esptag_rec_cursor *c, uint32_t next)
{
	memset(c, 0, sizeof(*c));
	esptag_rec_init(c, ESPTAG_REC_CURSOR, sizeof(*c));
	c->next = htonl(next);
}

static inline void ex_caps_host(struct esptag_rec_caps *c)
{
	memset(c, 0, sizeof(*c));
	esptag_rec_init(c, ESPTAG_REC_CAPS, sizeof(*c));
	c->version_min = 1;
	c->version_max = 1;
}

static inline void ex_caps_agent(struct esptag_rec_caps *c, uint32_t port_used);
static inline void ex_caps_agent_v2(struct esptag_rec_caps *c)
{
	ex_caps_agent(c, 0);
	c->version_min = 2;
	c->version_max = 2;
}

static inline void ex_caps_agent(struct esptag_rec_caps *c, uint32_t port_used)
{
	memset(c, 0, sizeof(*c));
	esptag_rec_init(c, ESPTAG_REC_CAPS, sizeof(*c));
	c->version_min = 1;
	c->version_max = 1;
	c->alg_mask = htons(ESPTAG_ALG_MASK);
	c->epoch_hi = htonl(0x01234567);
	c->epoch_lo = htonl(0x89abcdef);
	c->sad_capacity = htonl(65536);
	c->sad_used = htonl(port_used);
	c->port_limit = htonl(4096);
	c->port_used = htonl(port_used);
	c->max_records = htons(ESPTAG_CFG_MAX_RECORDS);
	c->max_payload = htons(ESPTAG_CFG_MAX_PAYLOAD);
	c->local_capacity = htons(256);
	c->features = htons(ESPTAG_FEAT_TSO | ESPTAG_FEAT_HAIRPIN | ESPTAG_FEAT_ESN |
			    ESPTAG_FEAT_TUNNEL | ESPTAG_FEAT_IPV6);
}

#define EX_BEGIN(op, fl, st, id, port)                                      \
	struct esptag_cfg_builder b;                                         \
	esptag_cfg_begin(&b, buf, cap, (op), (fl), (st), (id), (port))
#define EX_REPLY ESPTAG_CFG_F_REPLY

/* ---- version 2 ---- */

/* A host that wants wrapped keys only: versions 2..2. */
static inline size_t ex_hello_v2_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_caps c;
	EX_BEGIN(ESPTAG_OP_HELLO, 0, 0, EX_MSG_ID + 0x0e, 0);

	memset(&c, 0, sizeof(c));
	esptag_rec_init(&c, ESPTAG_REC_CAPS, sizeof(c));
	c.version_min = 2;
	c.version_max = 2;
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline void ex_caps_agent_v2(struct esptag_rec_caps *c);

/* The agent (versions 2..2: started without --allow-v1) with its key. */
static inline size_t ex_hello_v2_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_caps2 c;
	EX_BEGIN(ESPTAG_OP_HELLO, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 0x0e, 0);

	ex_caps_agent_v2(&c.caps);
	esptag_rec_init(&c, ESPTAG_REC_CAPS, sizeof(c));
	memcpy(c.agent_key, ex_agent_pub, 32);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

/* The SA of add_sa_request, wrapped: port 0, msg_id EX_V2_MSG_ID. */
static inline size_t ex_add_sa_v2_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	struct esptag_rec_sa_wrap w;
	struct esptag_rec_wrap_key wk;
	struct esptag_wrap_ctx c;
	int rc;
	EX_BEGIN(ESPTAG_OP_ADD_SA, 0, 0, EX_V2_MSG_ID, 0);

	esptag_cfg_set_version(&b, 2);
	ex_sa_v4(&sa, true);
	if (esptag_wrap_begin(&c, ex_agent_pub, 0, EX_V2_MSG_ID, 1, ex_eph_priv, &wk))
		return 0;
	rc = esptag_wrap_seal(&c, &sa, 0, &w);
	esptag_wrap_end(&c);
	if (rc)
		return 0;
	esptag_cfg_add(&b, ESPTAG_REC_SA_WRAP, &w, sizeof(w));
	esptag_cfg_add(&b, ESPTAG_REC_WRAP_KEY, &wk, sizeof(wk));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_add_sa_v2_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	EX_BEGIN(ESPTAG_OP_ADD_SA, EX_REPLY, ESPTAG_ST_OK, EX_V2_MSG_ID, 0);

	esptag_cfg_set_version(&b, 2);
	ex_sa_v4(&sa, false);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

/* add_sa_request (version 1, key in clear) sent to that agent. */
static inline size_t ex_bad_version_v1_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_caps c;
	EX_BEGIN(ESPTAG_OP_ADD_SA, EX_REPLY, ESPTAG_ST_BAD_VERSION, EX_MSG_ID + 2, 0);

	esptag_cfg_set_version(&b, 2);
	ex_caps_agent_v2(&c);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

/* The derivation of add_sa_v2_request, step by step. */
static inline size_t ex_wrap_shared(uint8_t *buf, size_t cap)
{
	static const uint8_t shared[32] = {
		0x4a, 0x5d, 0x9d, 0x5b, 0xa4, 0xce, 0x2d, 0xe1, 0x72, 0x8e, 0x3b, 0xf4, 0x80, 0x35, 0x0f, 0x25,
		0xe0, 0x7e, 0x21, 0xc9, 0x47, 0xd1, 0x9e, 0x33, 0x76, 0xf0, 0x9b, 0x3c, 0x1e, 0x16, 0x17, 0x42,
	};

	memcpy(buf, shared, 32);
	return 32;
}

static inline size_t ex_wrap_info(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;

	ex_sa_v4(&sa, true);
	return esptag_wrap_info(&sa, 0, EX_V2_MSG_ID, 1, 0, buf);
}

static inline size_t ex_wrap_kek(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	struct esptag_rec_wrap_key wk;
	struct esptag_wrap_ctx c;
	int rc;

	if (esptag_wrap_begin(&c, ex_agent_pub, 0, EX_V2_MSG_ID, 1, ex_eph_priv, &wk))
		return 0;
	ex_sa_v4(&sa, true);
	rc = esptag_wrap_kek(&c, &sa, 0, buf);
	esptag_wrap_end(&c);
	return rc ? 0 : 32;
}

static inline size_t ex_agent_key_fpr(uint8_t *buf, size_t cap)
{
	return esptag_key_fingerprint(ex_agent_pub, buf) ? 0 : 32;
}

static inline size_t ex_hello_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_caps c;
	EX_BEGIN(ESPTAG_OP_HELLO, 0, 0, EX_MSG_ID, 0);

	ex_caps_host(&c);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_hello_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_caps c;
	EX_BEGIN(ESPTAG_OP_HELLO, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID, 0);

	ex_caps_agent(&c, 0);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_bad_version_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_caps c;
	EX_BEGIN(ESPTAG_OP_HELLO, EX_REPLY, ESPTAG_ST_BAD_VERSION, EX_MSG_ID, 0);

	ex_caps_agent(&c, 0);
	esptag_cfg_add(&b, ESPTAG_REC_CAPS, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_bad_opcode_reply(uint8_t *buf, size_t cap)
{
	EX_BEGIN(0x2a, EX_REPLY, ESPTAG_ST_BAD_OPCODE, EX_MSG_ID + 1, 0);

	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_add_sa_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	EX_BEGIN(ESPTAG_OP_ADD_SA, 0, 0, EX_MSG_ID + 2, 0);

	ex_sa_v4(&sa, true);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_add_sa_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	EX_BEGIN(ESPTAG_OP_ADD_SA, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 2, 0);

	ex_sa_v4(&sa, false);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_add_sa_batch_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	EX_BEGIN(ESPTAG_OP_ADD_SA, 0, 0, EX_MSG_ID + 3, 2);

	ex_sa_v6(&sa, true, true);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	ex_sa_v6(&sa, false, true);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_add_sa_batch_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	EX_BEGIN(ESPTAG_OP_ADD_SA, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 3, 2);

	ex_sa_v6(&sa, true, false);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	ex_sa_v6(&sa, false, false);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

/* The batch sent again under a new msg_id: SA 1 of the batch exists. */
static inline size_t ex_add_sa_duplicate_reply(uint8_t *buf, size_t cap)
{
	EX_BEGIN(ESPTAG_OP_ADD_SA, EX_REPLY, ESPTAG_ST_DUPLICATE, EX_MSG_ID + 4, 2);

	return esptag_cfg_end(&b, 1);
}

static inline size_t ex_del_sa_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa_ref r;
	EX_BEGIN(ESPTAG_OP_DEL_SA, 0, 0, EX_MSG_ID + 5, 0);

	ex_sa_ref(&r, 0);
	esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &r, sizeof(r));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_del_sa_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa_ref r;
	EX_BEGIN(ESPTAG_OP_DEL_SA, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 5, 0);

	ex_sa_ref(&r, 0);
	esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &r, sizeof(r));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_flush_port_request(uint8_t *buf, size_t cap)
{
	EX_BEGIN(ESPTAG_OP_FLUSH_PORT, 0, 0, EX_MSG_ID + 6, 2);

	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_flush_port_reply(uint8_t *buf, size_t cap)
{
	EX_BEGIN(ESPTAG_OP_FLUSH_PORT, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 6, 2);

	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

/* The whole FLUSH_PORT request frame: Ethernet header, payload, padding. */
static inline size_t ex_flush_port_request_frame(uint8_t *buf, size_t cap)
{
	size_t n;

	memcpy(buf, ex_agent_mac, 6);
	memcpy(buf + 6, ex_pf_mac, 6);
	buf[12] = ESPTAG_ETH_P_CFG >> 8;
	buf[13] = ESPTAG_ETH_P_CFG & 0xff;
	n = ex_flush_port_request(buf + 14, cap - 14) + 14;
	memset(buf + n, 0, 60 - n);
	return 60;
}

static inline size_t ex_add_local_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_local l;
	EX_BEGIN(ESPTAG_OP_ADD_LOCAL, 0, 0, EX_MSG_ID + 7, 2);

	ex_local(&l);
	esptag_cfg_add(&b, ESPTAG_REC_LOCAL, &l, sizeof(l));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_add_local_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_local l;
	EX_BEGIN(ESPTAG_OP_ADD_LOCAL, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 7, 2);

	ex_local(&l);
	esptag_cfg_add(&b, ESPTAG_REC_LOCAL, &l, sizeof(l));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_del_local_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_local l;
	EX_BEGIN(ESPTAG_OP_DEL_LOCAL, 0, 0, EX_MSG_ID + 8, 2);

	ex_local(&l);
	esptag_cfg_add(&b, ESPTAG_REC_LOCAL, &l, sizeof(l));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_del_local_unknown_reply(uint8_t *buf, size_t cap)
{
	EX_BEGIN(ESPTAG_OP_DEL_LOCAL, EX_REPLY, ESPTAG_ST_UNKNOWN_LOCAL, EX_MSG_ID + 8, 2);

	return esptag_cfg_end(&b, 0);
}

static inline size_t ex_dump_sa_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_cursor c;
	EX_BEGIN(ESPTAG_OP_DUMP_SA, 0, 0, EX_MSG_ID + 9, 2);

	ex_cursor(&c, 1);
	esptag_cfg_add(&b, ESPTAG_REC_CURSOR, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_dump_sa_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa sa;
	struct esptag_rec_cursor c;
	EX_BEGIN(ESPTAG_OP_DUMP_SA, EX_REPLY | ESPTAG_CFG_F_MORE, ESPTAG_ST_OK,
		 EX_MSG_ID + 9, 2);

	ex_sa_v6(&sa, true, false);
	esptag_cfg_add(&b, ESPTAG_REC_SA, &sa, sizeof(sa));
	ex_cursor(&c, 2);
	esptag_cfg_add(&b, ESPTAG_REC_CURSOR, &c, sizeof(c));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_get_stats_sa_request(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa_ref r;
	EX_BEGIN(ESPTAG_OP_GET_STATS, 0, 0, EX_MSG_ID + 10, 0);

	ex_sa_ref(&r, 0);
	esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &r, sizeof(r));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_get_stats_sa_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_sa_stats s;
	EX_BEGIN(ESPTAG_OP_GET_STATS, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 10, 0);

	memset(&s, 0, sizeof(s));
	esptag_rec_init(&s, ESPTAG_REC_SA_STATS, sizeof(s));
	s.sa_index = htonl(0);
	s.packets_lo = htonl(1000);
	s.bytes_lo = htonl(1234567);
	s.auth_fail = htonl(0);
	s.domain_reject = htonl(3);
	s.seq_lo = htonl(1001);
	esptag_cfg_add(&b, ESPTAG_REC_SA_STATS, &s, sizeof(s));
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_get_stats_counters_request(uint8_t *buf, size_t cap)
{
	EX_BEGIN(ESPTAG_OP_GET_STATS, 0, 0, EX_MSG_ID + 11, 0);

	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

static inline size_t ex_get_stats_counters_reply(uint8_t *buf, size_t cap)
{
	struct esptag_rec_counter c;
	EX_BEGIN(ESPTAG_OP_GET_STATS, EX_REPLY, ESPTAG_ST_OK, EX_MSG_ID + 11, 0);

	for (int i = 0; i < ESPTAG_AC_MAX; i++) {
		memset(&c, 0, sizeof(c));
		esptag_rec_init(&c, ESPTAG_REC_COUNTER, sizeof(c));
		c.id = htons(i);
		/* 1000 frames encrypted, 3 from the VF domain dropped, 12
		 * config requests of which one duplicate. */
		c.value_lo = htonl(i == ESPTAG_AC_TX_ENCRYPTED ? 1000 :
				   i == ESPTAG_AC_TX_DROP_DOMAIN ? 3 :
				   i == ESPTAG_AC_CFG_RX ? 12 :
				   i == ESPTAG_AC_CFG_DUP ? 1 : 0);
		esptag_cfg_add(&b, ESPTAG_REC_COUNTER, &c, sizeof(c));
	}
	return esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
}

/* ---- metadata tags ---- */

static inline uint16_t ex_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static inline void ex_macs(uint8_t *buf, const uint8_t *dst, const uint8_t *src)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
}

/* IPv4 header at p: 192.0.2.1 -> 198.51.100.2 (or swapped). */
static inline void ex_ipv4(uint8_t *p, uint16_t tot_len, uint16_t id, uint8_t proto, bool to_peer)
{
	uint16_t c;

	memset(p, 0, 20);
	p[0] = 0x45;
	p[2] = tot_len >> 8, p[3] = tot_len & 0xff;
	p[4] = id >> 8, p[5] = id & 0xff;
	p[6] = 0x40; /* DF */
	p[8] = 64;
	p[9] = proto;
	if (to_peer) {
		p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 1;
		p[16] = 198, p[17] = 51, p[18] = 100, p[19] = 2;
	} else {
		p[12] = 198, p[13] = 51, p[14] = 100, p[15] = 2;
		p[16] = 192, p[17] = 0, p[18] = 2, p[19] = 1;
	}
	c = ex_csum(p, 20);
	p[10] = c >> 8, p[11] = c & 0xff;
}

/*
 * Tx, offload, not GSO, IPv4 transport: a 4-byte UDP datagram 192.0.2.1:4000
 * -> 198.51.100.2:5000 after the host's TC program inserted the tag, the
 * ESP header and the IV (seq 1 of SA 0). The whole frame.
 */
static inline size_t ex_tx_meta(uint8_t *buf, size_t cap)
{
	struct esptag_meta_view m = {
		.kind = ESPTAG_META_TX, .flags = ESPTAG_META_F_OFFLOAD, .next_hdr = 17,
		.esp_off = 34, .payload_off = 50, .sa_index = 0, .seq = 1,
		.inner_proto = 0x0800,
	};
	uint8_t *ip = buf + 44, *esp = ip + 20, *udp = esp + 16;

	ex_macs(buf, ex_peer_mac, ex_pf_mac);
	esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
	ex_ipv4(ip, 20 + 16 + 8 + 4, 0x1234, ESPTAG_IPPROTO_ESP, true);
	memset(esp, 0, 16);
	esp[2] = 0x10, esp[3] = 0x01;	/* SPI 0x1001 */
	esp[7] = 1;			/* seq_lo 1 */
	esp[15] = 1;			/* IV = 64-bit seq 1 */
	udp[0] = 4000 >> 8, udp[1] = 4000 & 0xff;
	udp[2] = 5000 >> 8, udp[3] = 5000 & 0xff;
	udp[4] = 0, udp[5] = 12;
	udp[6] = 0, udp[7] = 0;		/* UDP checksum: 0 (none) */
	memcpy(udp + 8, "ping", 4);
	return 44 + 20 + 16 + 8 + 4;
}

/* Tx GSO: start of a TCP super-packet of 2 x 1448 bytes; no ESP yet. */
static inline size_t ex_tx_gso_meta(uint8_t *buf, size_t cap)
{
	struct esptag_meta_view m = {
		.kind = ESPTAG_META_TX, .flags = ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO,
		.next_hdr = 6, .esp_off = 34, .payload_off = 34, .mss = 1448,
		.sa_index = 0, .seq = 2, .inner_proto = 0x0800,
	};

	ex_macs(buf, ex_peer_mac, ex_pf_mac);
	esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
	ex_ipv4(buf + 44, 20 + 32 + 2 * 1448, 0x1235, 6, true);
	return 44 + 20;
}

/* Tx offload=0 (port tagging of an untrusted VF): only the tag. */
static inline size_t ex_tx_bypass_meta(uint8_t *buf, size_t cap)
{
	struct esptag_meta_view m = {
		.kind = ESPTAG_META_TX, .sa_index = ESPTAG_SA_INDEX_NONE,
		.inner_proto = 0x0800,
	};

	ex_macs(buf, ex_peer_mac, ex_vf_mac);
	esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
	ex_ipv4(buf + 44, 20 + 8 + 4, 0x0001, 17, true);
	return 44 + 20;
}

/* Rx OK: the reply datagram decrypted by inbound SA 3, seq 1; pad 2. */
static inline size_t ex_rx_ok_meta(uint8_t *buf, size_t cap)
{
	struct esptag_meta_view m = {
		.kind = ESPTAG_META_RX, .result = ESPTAG_RES_OK, .next_hdr = 17,
		.esp_off = 34, .payload_off = 50, .trailer_len = 2 + 2 + 16,
		.sa_index = 3, .seq = 1, .inner_proto = 0x0800,
	};

	ex_macs(buf, ex_pf_mac, ex_peer_mac);
	esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
	ex_ipv4(buf + 44, 20 + 16 + 12 + 2 + 2 + 16, 0x5678, ESPTAG_IPPROTO_ESP, false);
	return 44 + 20;
}

static inline size_t ex_rx_auth_fail_meta(uint8_t *buf, size_t cap)
{
	struct esptag_meta_view m = {
		.kind = ESPTAG_META_RX, .result = ESPTAG_RES_AUTH_FAIL,
		.esp_off = 34, .payload_off = 50, .sa_index = 3, .seq = 2,
		.inner_proto = 0x0800,
	};

	ex_macs(buf, ex_pf_mac, ex_peer_mac);
	esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
	ex_ipv4(buf + 44, 20 + 16 + 12 + 2 + 2 + 16, 0x5679, ESPTAG_IPPROTO_ESP, false);
	return 44 + 20;
}

/* Rx hairpin: the PF (192.0.2.1) sent to 192.0.2.20, a LOCAL address of
 * the VF; the agent encrypted it with the PF's outbound SA and decrypted it
 * with the VF domain's inbound SA 4 (sequence number 7), back to the host
 * side. */
static inline size_t ex_rx_hairpin_meta(uint8_t *buf, size_t cap)
{
	struct esptag_meta_view m = {
		.kind = ESPTAG_META_RX, .flags = ESPTAG_META_F_HAIRPIN,
		.result = ESPTAG_RES_OK, .next_hdr = 17, .esp_off = 34, .payload_off = 50,
		.trailer_len = 2 + 2 + 16, .sa_index = 4, .seq = 7, .inner_proto = 0x0800,
	};
	uint8_t *ip = buf + 44;
	uint16_t c;

	ex_macs(buf, ex_vf_mac, ex_pf_mac);
	esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
	ex_ipv4(ip, 20 + 16 + 12 + 2 + 2 + 16, 0x1240, ESPTAG_IPPROTO_ESP, true);
	ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 20;
	ip[10] = ip[11] = 0;
	c = ex_csum(ip, 20);
	ip[10] = c >> 8, ip[11] = c & 0xff;
	return 44 + 20;
}

struct ex_example {
	const char *name;
	enum ex_kind kind;
	size_t (*build)(uint8_t *buf, size_t cap);
	/* Tags: bytes of the frame that exist beyond the shown start (for
	 * the offset range checks of the decoder). */
	size_t frame_len;
};

static const struct ex_example ex_examples[] = {
	{ "hello_request", EX_CFG, ex_hello_request, 0 },
	{ "hello_reply", EX_CFG, ex_hello_reply, 0 },
	{ "bad_version_reply", EX_CFG, ex_bad_version_reply, 0 },
	{ "bad_opcode_reply", EX_CFG, ex_bad_opcode_reply, 0 },
	{ "add_sa_request", EX_CFG, ex_add_sa_request, 0 },
	{ "add_sa_reply", EX_CFG, ex_add_sa_reply, 0 },
	{ "add_sa_batch_request", EX_CFG, ex_add_sa_batch_request, 0 },
	{ "add_sa_batch_reply", EX_CFG, ex_add_sa_batch_reply, 0 },
	{ "add_sa_duplicate_reply", EX_CFG, ex_add_sa_duplicate_reply, 0 },
	{ "del_sa_request", EX_CFG, ex_del_sa_request, 0 },
	{ "del_sa_reply", EX_CFG, ex_del_sa_reply, 0 },
	{ "flush_port_request_frame", EX_CFG_FRAME, ex_flush_port_request_frame, 0 },
	{ "flush_port_reply", EX_CFG, ex_flush_port_reply, 0 },
	{ "add_local_request", EX_CFG, ex_add_local_request, 0 },
	{ "add_local_reply", EX_CFG, ex_add_local_reply, 0 },
	{ "del_local_request", EX_CFG, ex_del_local_request, 0 },
	{ "del_local_unknown_reply", EX_CFG, ex_del_local_unknown_reply, 0 },
	{ "dump_sa_request", EX_CFG, ex_dump_sa_request, 0 },
	{ "dump_sa_reply", EX_CFG, ex_dump_sa_reply, 0 },
	{ "get_stats_sa_request", EX_CFG, ex_get_stats_sa_request, 0 },
	{ "get_stats_sa_reply", EX_CFG, ex_get_stats_sa_reply, 0 },
	{ "get_stats_counters_request", EX_CFG, ex_get_stats_counters_request, 0 },
	{ "get_stats_counters_reply", EX_CFG, ex_get_stats_counters_reply, 0 },
	{ "hello_v2_request", EX_CFG, ex_hello_v2_request, 0 },
	{ "hello_v2_reply", EX_CFG, ex_hello_v2_reply, 0 },
	{ "agent_key_fingerprint", EX_RAW, ex_agent_key_fpr, 0 },
	{ "add_sa_v2_request", EX_CFG, ex_add_sa_v2_request, 0 },
	{ "add_sa_v2_reply", EX_CFG, ex_add_sa_v2_reply, 0 },
	{ "wrap_shared_secret", EX_RAW, ex_wrap_shared, 0 },
	{ "wrap_hkdf_info", EX_RAW, ex_wrap_info, 0 },
	{ "wrap_kek", EX_RAW, ex_wrap_kek, 0 },
	{ "bad_version_v1_reply", EX_CFG, ex_bad_version_v1_reply, 0 },
	{ "tx_meta", EX_META, ex_tx_meta, 44 + 20 + 16 + 8 + 4 },
	{ "tx_gso_meta", EX_META, ex_tx_gso_meta, 44 + 20 + 32 + 2 * 1448 },
	{ "tx_bypass_meta", EX_META, ex_tx_bypass_meta, 44 + 20 + 8 + 4 },
	{ "rx_ok_meta", EX_META, ex_rx_ok_meta, 44 + 20 + 16 + 12 + 2 + 2 + 16 },
	{ "rx_auth_fail_meta", EX_META, ex_rx_auth_fail_meta, 44 + 20 + 16 + 12 + 2 + 2 + 16 },
	{ "rx_hairpin_meta", EX_META, ex_rx_hairpin_meta, 44 + 20 + 16 + 12 + 2 + 2 + 16 },
};

#define EX_COUNT (sizeof(ex_examples) / sizeof(ex_examples[0]))

#endif
