// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag-agent core in memory (no sockets): config requests built with the
 * codec, frames through agent_host_frame/agent_wire_frame, outputs read
 * from the agent's batches. What the namespace tests cannot see: key
 * memory wiped on DEL_SA/FLUSH_PORT and in the request buffer, reply-cache
 * eviction, ESN inference across a 2^32 boundary on Rx, the 32-bit sequence
 * limit without ESN and the saturating IVDB with ESN, partial L4 checksum
 * completion before encryption, malformed/fragmented ESP on Rx.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "../lib/test.h"
#include "agent.h"
#include "datapath.h"
#include "esptag_proto.h"
#include "wrap.h"

static const uint8_t MAC1[6] = {0x02, 0, 0x5e, 0, 0x53, 0x01};
static const uint8_t PEER[6] = {0x02, 0, 0x5e, 0, 0x53, 0x02};
static const uint8_t KEY[16] = {0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
				0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t SALT[4] = {0xca, 0xfe, 0xba, 0xbe};

static struct agent A;

static uint32_t rd32_(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint32_t msg_id = 100;

static int setup_v2(bool allow_v1)
{
	const struct agent_opts o = {.capacity = 32, .port_limit = 16, .local_capacity = 4,
				     .allow_v1 = allow_v1};

	agent_fini(&A);
	return agent_init(&A, &o, NULL);
}

static int setup(void)
{
	const struct agent_opts o = {.capacity = 32, .port_limit = 16, .local_capacity = 4,
				     .allow_v1 = true};

	agent_fini(&A);
	return agent_init(&A, &o, NULL);
}

/* Last frame queued toward side, or NULL. */
static struct agent_pkt *last(int side)
{
	return A.q[side].n ? &A.q[side].pkt[A.q[side].n - 1] : NULL;
}

static void clear(void)
{
	A.q[0].n = A.q[1].n = 0;
}

static void sa_rec(struct esptag_rec_sa *r, uint8_t dir, uint32_t spi, const char *daddr,
		   uint8_t flags)
{
	memset(r, 0, sizeof(*r));
	esptag_rec_init(r, ESPTAG_REC_SA, sizeof(*r));
	r->dir = dir;
	r->family = 4;
	r->proto = 50;
	r->mode = ESPTAG_MODE_TRANSPORT;
	r->spi = htonl(spi);
	inet_pton(AF_INET, daddr, r->daddr);
	memcpy(r->local_mac, MAC1, 6);
	r->alg = ESPTAG_ALG_AES_GCM_128;
	r->key_len = 16;
	r->icv_len = 16;
	r->sa_flags = flags;
	r->replay_window = htons(64);
	r->sa_index = htonl(ESPTAG_SA_INDEX_NONE);
	memcpy(r->key, KEY, 16);
	memcpy(r->salt, SALT, 4);
}

/* A config request frame built with the codec; returns its length. */
static size_t cfg_frame(uint8_t *frame, uint8_t op, uint16_t port, const void *recs, size_t rlen,
			uint8_t rtype, uint32_t id)
{
	struct esptag_cfg_builder b;
	size_t off, n;

	memcpy(frame, (uint8_t[])ESPTAG_AGENT_MAC_INIT, 6);
	memcpy(frame + 6, MAC1, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	esptag_cfg_begin(&b, frame + 14, 1500, op, 0, 0, id, port);
	for (off = 0; off < rlen; off += esptag_rec_size(rtype))
		esptag_cfg_add(&b, rtype, (const uint8_t *)recs + off, esptag_rec_size(rtype));
	n = esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
	return 14 + (n < 46 ? 46 : n);
}

/* Send a config request built with the codec; returns the reply status and
 * leaves the reply in the host batch. frame receives the request bytes. */
static int request(uint8_t *frame, uint8_t op, uint16_t port, const void *recs, size_t rlen,
		   uint8_t rtype, uint32_t id)
{
	size_t n = cfg_frame(frame, op, port, recs, rlen, rtype, id);
	struct agent_pkt *p;

	clear();
	agent_host_frame(&A, frame, n, NULL);
	p = last(AGENT_HOST);
	if (!p)
		return -1;
	return p->data[14 + 3];
}

static int add_sa(struct esptag_rec_sa *r, uint16_t port, uint32_t *idx)
{
	uint8_t frame[1600];
	int st = request(frame, ESPTAG_OP_ADD_SA, port, r, sizeof(*r), ESPTAG_REC_SA, ++msg_id);
	struct esptag_rec_sa echo;

	if (st == 0 && idx) {
		memcpy(&echo, last(AGENT_HOST)->data + 14 + 16, sizeof(echo));
		*idx = ntohl(echo.sa_index);
	}
	return st;
}

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		if (*b++)
			return false;
	return true;
}

static void test_add_sa_wipes_request_key(void)
{
	struct esptag_rec_sa r;
	uint8_t frame[1600];
	const uint8_t *rec;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x1000, "192.0.2.2", 0);
	T_EQ(request(frame, ESPTAG_OP_ADD_SA, 0, &r, sizeof(r), ESPTAG_REC_SA, ++msg_id), 0);
	rec = frame + 14 + 16;
	/* The key and salt bytes of the request buffer are gone... */
	T_ASSERT(all_zero(rec + offsetof(struct esptag_rec_sa, key), 36));
	/* ...the reply carries none, and neither does the stored record. */
	T_ASSERT(
	    all_zero(last(AGENT_HOST)->data + 14 + 16 + offsetof(struct esptag_rec_sa, key), 36));
	T_ASSERT(all_zero(A.sa[0].rec.key, 32) && all_zero(A.sa[0].rec.salt, 4));
	T_ASSERT(A.sa[0].ctx != NULL);
	/* A refused request is wiped too. */
	sa_rec(&r, ESPTAG_DIR_OUT, 0x1000, "192.0.2.2", 0);
	T_EQ(request(frame, ESPTAG_OP_ADD_SA, 0, &r, sizeof(r), ESPTAG_REC_SA, ++msg_id),
	     ESPTAG_ST_DUPLICATE);
	T_ASSERT(all_zero(rec + offsetof(struct esptag_rec_sa, key), 36));
}

static void test_del_and_flush_wipe_sa(void)
{
	struct esptag_rec_sa r;
	struct esptag_rec_sa_ref ref;
	uint8_t frame[1600];
	uint32_t i0, i1;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x1000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 3, &i0), 0);
	sa_rec(&r, ESPTAG_DIR_IN, 0x1001, "192.0.2.1", 0);
	T_EQ(add_sa(&r, 3, &i1), 0);
	T_ASSERT(!all_zero(A.sa[i0].salt, 4));
	memset(&ref, 0, sizeof(ref));
	esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
	ref.sa_index = htonl(i0);
	T_EQ(request(frame, ESPTAG_OP_DEL_SA, 3, &ref, sizeof(ref), ESPTAG_REC_SA_REF, ++msg_id),
	     0);
	T_ASSERT(all_zero(&A.sa[i0], sizeof(A.sa[i0])));
	T_EQ(request(frame, ESPTAG_OP_FLUSH_PORT, 3, NULL, 0, 0, ++msg_id), 0);
	T_ASSERT(all_zero(&A.sa[i1], sizeof(A.sa[i1])));
	T_EQ(A.sad_used, 0);
	T_EQ(A.port_used[3], 0);
}

static void test_reply_cache_evicts_oldest(void)
{
	struct esptag_rec_sa r;
	uint8_t frame[1600];
	uint32_t i, first;

	T_ASSERT(setup() == 0);
	first = ++msg_id;
	T_EQ(request(frame, ESPTAG_OP_FLUSH_PORT, 1, NULL, 0, 0, first), 0);
	T_EQ(request(frame, ESPTAG_OP_FLUSH_PORT, 1, NULL, 0, 0, first), 0);
	T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 1);
	for (i = 0; i < AGENT_CACHE_SIZE; i++)
		request(frame, ESPTAG_OP_GET_STATS, 1, NULL, 0, 0, ++msg_id);
	/* The first request's reply has been evicted: executed again. */
	T_EQ(request(frame, ESPTAG_OP_FLUSH_PORT, 1, NULL, 0, 0, first), 0);
	T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 1);
	/* A duplicate ADD_SA is answered from the cache, with the same index. */
	sa_rec(&r, ESPTAG_DIR_OUT, 0x2000, "192.0.2.2", 0);
	T_EQ(request(frame, ESPTAG_OP_ADD_SA, 1, &r, sizeof(r), ESPTAG_REC_SA, 7), 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x2000, "192.0.2.2", 0);
	T_EQ(request(frame, ESPTAG_OP_ADD_SA, 1, &r, sizeof(r), ESPTAG_REC_SA, 7), 0);
	T_EQ(A.sad_used, 1);
	T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 2);
}

/*
 * The reply cache answers only the very request it remembers: a msg_id
 * reused with other contents (another SA, another index) is executed as a
 * new request, never answered with the cached reply of the first one.
 */
static void test_reply_cache_needs_same_request(void)
{
	struct esptag_rec_sa r, echo;
	struct esptag_rec_sa_ref ref;
	uint8_t frame[1600];
	const uint8_t *rp;
	uint32_t i0, i1, i2;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x3000, "192.0.2.2", 0);
	T_EQ(request(frame, ESPTAG_OP_ADD_SA, 2, &r, sizeof(r), ESPTAG_REC_SA, 500), 0);
	memcpy(&echo, last(AGENT_HOST)->data + 14 + 16, sizeof(echo));
	i0 = ntohl(echo.sa_index);
	/* Same msg_id, port and opcode, another SA: a new SA, its own answer. */
	sa_rec(&r, ESPTAG_DIR_OUT, 0x3001, "192.0.2.2", 0);
	T_EQ(request(frame, ESPTAG_OP_ADD_SA, 2, &r, sizeof(r), ESPTAG_REC_SA, 500), 0);
	rp = last(AGENT_HOST)->data + 14;
	memcpy(&echo, rp + 16, sizeof(echo));
	i1 = ntohl(echo.sa_index);
	T_EQ(ntohl(echo.spi), 0x3001u);
	T_ASSERT(i1 != i0);
	T_EQ(A.sad_used, 2);
	T_EQ(A.port_used[2], 2);
	T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 0);
	/* The same request again (a retransmission, F_RETRY set): cached. */
	sa_rec(&r, ESPTAG_DIR_OUT, 0x3001, "192.0.2.2", 0);
	esptag_rec_init(&r, ESPTAG_REC_SA, sizeof(r));
	{
		struct esptag_cfg_builder b;
		size_t n;

		memcpy(frame, (uint8_t[])ESPTAG_AGENT_MAC_INIT, 6);
		memcpy(frame + 6, MAC1, 6);
		frame[12] = 0x88;
		frame[13] = 0xb5;
		esptag_cfg_begin(&b, frame + 14, 1500, ESPTAG_OP_ADD_SA, ESPTAG_CFG_F_RETRY, 0, 500,
				 2);
		esptag_cfg_add(&b, ESPTAG_REC_SA, &r, sizeof(r));
		n = esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
		clear();
		agent_host_frame(&A, frame, 14 + n, NULL);
		T_ASSERT(last(AGENT_HOST) != NULL);
		T_EQ(last(AGENT_HOST)->data[14 + 3], 0);
		memcpy(&echo, last(AGENT_HOST)->data + 14 + 16, sizeof(echo));
		T_EQ(ntohl(echo.sa_index), i1);
		T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 1);
		T_EQ(A.sad_used, 2);
	}
	/* DEL_SA of i0 under msg_id 600; a new SA takes index i0 again... */
	memset(&ref, 0, sizeof(ref));
	esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
	ref.sa_index = htonl(i0);
	T_EQ(request(frame, ESPTAG_OP_DEL_SA, 2, &ref, sizeof(ref), ESPTAG_REC_SA_REF, 600), 0);
	sa_rec(&r, ESPTAG_DIR_IN, 0x3002, "192.0.2.1", 0);
	T_EQ(add_sa(&r, 2, &i2), 0);
	T_EQ(A.sad_used, 2);
	/* ...and msg_id 600 reused for DEL_SA of i1: executed, i1 is gone,
	 * the reply names i1 (not the cached "i0 deleted"). */
	ref.sa_index = htonl(i1);
	T_EQ(request(frame, ESPTAG_OP_DEL_SA, 2, &ref, sizeof(ref), ESPTAG_REC_SA_REF, 600), 0);
	memcpy(&ref, last(AGENT_HOST)->data + 14 + 16, sizeof(ref));
	T_EQ(ntohl(ref.sa_index), i1);
	T_ASSERT(agent_sad_get(&A, i1) == NULL);
	T_ASSERT(agent_sad_get(&A, i2) != NULL);
	T_EQ(A.sad_used, 1);
	T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 1);
}

/* The IPv4 header checksum of ip (20 bytes, checksum field 0) written in. */
static void ip4_csum_set(uint8_t *ip)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = ~sum >> 8;
	ip[11] = ~sum;
}

/* A transport-mode IPv4/UDP frame with the ESP header inserted, tagged. */
static size_t tx_frame(uint8_t *f, uint32_t idx, uint32_t spi, uint64_t seq, bool esn,
		       const char *dst, size_t plen, bool partial)
{
	struct esptag_meta_view m;
	uint8_t *ip, *esp, *udp;
	size_t l = 14 + 30;
	uint32_t sum = 0;
	size_t i;

	memset(f, 0, 2048);
	memcpy(f, PEER, 6);
	memcpy(f + 6, MAC1, 6);
	ip = f + l;
	ip[0] = 0x45;
	ip[2] = (20 + 16 + 8 + plen) >> 8;
	ip[3] = 20 + 16 + 8 + plen;
	ip[8] = 64;
	ip[9] = 50;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	ip4_csum_set(ip);
	esp = ip + 20;
	*(uint32_t *)esp = htonl(spi);
	*(uint32_t *)(esp + 4) = htonl((uint32_t)seq);
	*(uint32_t *)(esp + 8) = htonl(seq >> 32);
	*(uint32_t *)(esp + 12) = htonl((uint32_t)seq);
	udp = esp + 16;
	udp[1] = 7;
	udp[3] = 9;
	udp[4] = (8 + plen) >> 8;
	udp[5] = 8 + plen;
	for (i = 0; i < plen; i++)
		udp[8 + i] = i;
	if (partial) {
		/* CHECKSUM_PARTIAL: pseudo-header sum (not complemented). */
		sum = 0xc000 + 0x0201 + 0xc000 + 0x0202;
		sum += 17 + 8 + plen;
		while (sum >> 16)
			sum = (sum & 0xffff) + (sum >> 16);
		udp[6] = sum >> 8;
		udp[7] = sum;
	}
	memset(&m, 0, sizeof(m));
	m.kind = ESPTAG_META_TX;
	m.flags = ESPTAG_META_F_OFFLOAD | (esn ? ESPTAG_META_F_ESN : 0);
	m.next_hdr = 17;
	m.esp_off = 34;
	m.payload_off = 50;
	m.sa_index = idx;
	m.seq = esn ? seq : (uint32_t)seq;
	m.inner_proto = 0x0800;
	esptag_meta_encode(f + 12, A.eth_meta, &m);
	return 14 + 30 + 20 + 16 + 8 + plen;
}

static void test_tx_completes_partial_checksum(void)
{
	struct virtio_net_hdr vh = {
	    .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 30 + 34 + 16, .csum_offset = 6};
	struct esptag_rec_sa r;
	uint8_t f[2048], pad, nh, pt[256];
	struct agent_sa dec;
	struct agent_pkt *p;
	uint32_t idx, sum = 0;
	size_t len, i, esplen;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x3000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &idx), 0);
	len = tx_frame(f, idx, 0x3000, 1, false, "192.0.2.2", 21, true);
	clear();
	agent_host_frame(&A, f, len, &vh);
	p = last(AGENT_WIRE);
	T_ASSERT(p != NULL);
	memset(&dec, 0, sizeof(dec));
	T_ASSERT(agent_esp_key(&dec, KEY, 16, SALT, false) == 0);
	esplen = p->len - 34;
	T_EQ(agent_esp_open(&dec, p->data + 34, esplen, pt, 0, &pad, &nh), 0);
	agent_esp_unkey(&dec);
	T_EQ(nh, 17);
	/* The UDP checksum verifies over the pseudo-header. */
	sum = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 17 + 8 + 21;
	for (i = 0; i < 8 + 21; i += 2)
		sum += pt[i] << 8 | (i + 1 < 8 + 21 ? pt[i + 1] : 0);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	T_EQ(sum, 0xffff);
	/* A partial checksum pointing before the payload is refused. */
	vh.csum_start = 30 + 20;
	len = tx_frame(f, idx, 0x3000, 2, false, "192.0.2.2", 21, true);
	clear();
	agent_host_frame(&A, f, len, &vh);
	T_ASSERT(last(AGENT_WIRE) == NULL);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_MALFORMED], 1);
}

static void test_tx_seq_limit_without_esn(void)
{
	struct esptag_rec_sa r;
	uint8_t f[2048];
	uint32_t idx;
	size_t len;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x4000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &idx), 0);
	len = tx_frame(f, idx, 0x4000, 0xffffffffu, false, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_ASSERT(last(AGENT_WIRE) != NULL);
	/* IVDB is now 2^32: the next frame would wrap the 32-bit space. */
	len = tx_frame(f, idx, 0x4000, 5, false, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_ASSERT(last(AGENT_WIRE) == NULL);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_MALFORMED], 1);
}

static uint64_t wire_iv(const struct agent_pkt *p)
{
	return (uint64_t)ntohl(*(const uint32_t *)(p->data + 34 + 8)) << 32 |
	       ntohl(*(const uint32_t *)(p->data + 34 + 12));
}

/*
 * An ESN SA's IVDB saturates at 2^64 - 1: that number is used once, then the
 * SA sends nothing more (dropped, counted). A wrapping IVDB would accept any
 * host number again (nonce reuse under the same key).
 */
static void test_tx_esn_ivdb_saturates(void)
{
	const uint64_t top = UINT64_MAX;
	struct esptag_rec_sa r;
	struct agent_pkt *p;
	uint8_t f[2048];
	uint32_t idx;
	size_t len;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x4100, "192.0.2.2", ESPTAG_SA_F_ESN);
	T_EQ(add_sa(&r, 0, &idx), 0);
	len = tx_frame(f, idx, 0x4100, top - 1, true, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	p = last(AGENT_WIRE);
	T_ASSERT(p != NULL);
	T_EQ(wire_iv(p), top - 1);
	/* A late host number is moved on by the IVDB rule: to 2^64 - 1, the last. */
	len = tx_frame(f, idx, 0x4100, 7, true, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	p = last(AGENT_WIRE);
	T_ASSERT(p != NULL);
	T_EQ(wire_iv(p), top);
	T_EQ(A.ctr[ESPTAG_AC_TX_ENCRYPTED], 2);
	/* Spent: small numbers, and 2^64 - 1 again, are dropped and counted. */
	len = tx_frame(f, idx, 0x4100, 5, true, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_ASSERT(last(AGENT_WIRE) == NULL);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_MALFORMED], 1);
	len = tx_frame(f, idx, 0x4100, top, true, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_ASSERT(last(AGENT_WIRE) == NULL);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_MALFORMED], 2);
	T_EQ(A.ctr[ESPTAG_AC_TX_ENCRYPTED], 2);
	T_EQ(A.sa[idx].packets, 2);
	/* Another SA is not affected. */
	sa_rec(&r, ESPTAG_DIR_OUT, 0x4101, "192.0.2.2", ESPTAG_SA_F_ESN);
	T_EQ(add_sa(&r, 0, &idx), 0);
	len = tx_frame(f, idx, 0x4101, 5, true, "192.0.2.2", 4, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	p = last(AGENT_WIRE);
	T_ASSERT(p != NULL);
	T_EQ(wire_iv(p), 5);
}

/* Encrypt with an outbound ESN SA, receive on an inbound one whose highest
 * seen sequence number is just below 2^32: the agent infers seq_hi = 1. */
static void test_rx_esn_across_boundary(void)
{
	struct esptag_rec_sa r;
	struct esptag_meta_view m;
	uint8_t f[2048], wire[2048];
	uint32_t out, in;
	size_t len, wlen;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x5000, "192.0.2.2", ESPTAG_SA_F_ESN);
	T_EQ(add_sa(&r, 0, &out), 0);
	sa_rec(&r, ESPTAG_DIR_IN, 0x5000, "192.0.2.2", ESPTAG_SA_F_ESN);
	memcpy(r.local_mac, PEER, 6); /* the receiver's domain: the frame's dst MAC */
	T_EQ(add_sa(&r, 0, &in), 0);
	len = tx_frame(f, out, 0x5000, (1ull << 32) | 2, true, "192.0.2.2", 10, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_ASSERT(last(AGENT_WIRE) != NULL);
	wlen = last(AGENT_WIRE)->len;
	memcpy(wire, last(AGENT_WIRE)->data, wlen);

	A.sa[in].rx_top = 0xfffffff0ull;
	clear();
	agent_wire_frame(&A, wire, wlen, NULL);
	T_ASSERT(last(AGENT_HOST) != NULL);
	T_EQ(
	    esptag_meta_decode(last(AGENT_HOST)->data + 12, last(AGENT_HOST)->len - 12, 0x88b6, &m),
	    0);
	T_EQ(m.result, ESPTAG_RES_OK);
	T_EQ(m.seq, (1ull << 32) | 2);
	T_ASSERT(m.flags & ESPTAG_META_F_ESN);
	T_EQ(A.sa[in].rx_top, (1ull << 32) | 2);

	/* Same frame with the receiver early in subspace 0 (2 is inside its
	 * window): seq_hi 0 is inferred and the ICV (which covers seq_hi)
	 * fails; the frame goes up unchanged. */
	A.sa[in].rx_top = 5;
	clear();
	agent_wire_frame(&A, wire, wlen, NULL);
	T_EQ(
	    esptag_meta_decode(last(AGENT_HOST)->data + 12, last(AGENT_HOST)->len - 12, 0x88b6, &m),
	    0);
	T_EQ(m.result, ESPTAG_RES_AUTH_FAIL);
	T_ASSERT(!memcmp(last(AGENT_HOST)->data + 44, wire + 14, wlen - 14));
}

/* A Tx-tagged transport-mode IPv4/TCP segment (checksum complete), sport
 * to port 80, tcp sequence tseq, flags, n bytes of payload. */
static size_t tcp_tx_frame(uint8_t *f, uint32_t idx, uint32_t spi, uint64_t seq, uint16_t sport,
			   uint32_t tseq, uint8_t flags, size_t n)
{
	struct esptag_meta_view m;
	uint8_t *ip, *esp, *th;
	uint32_t sum = 0;
	size_t i, tl = 20 + n;

	memset(f, 0, 2048);
	memcpy(f, PEER, 6);
	memcpy(f + 6, MAC1, 6);
	ip = f + 44;
	ip[0] = 0x45;
	ip[2] = (20 + 16 + tl) >> 8;
	ip[3] = 20 + 16 + tl;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 50;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, "192.0.2.2", ip + 16);
	ip4_csum_set(ip);
	esp = ip + 20;
	*(uint32_t *)esp = htonl(spi);
	*(uint32_t *)(esp + 4) = htonl((uint32_t)seq);
	*(uint32_t *)(esp + 12) = htonl((uint32_t)seq);
	th = esp + 16;
	th[0] = sport >> 8;
	th[1] = sport;
	th[3] = 80;
	*(uint32_t *)(th + 4) = htonl(tseq);
	*(uint32_t *)(th + 8) = htonl(7);
	th[12] = 5 << 4;
	th[13] = flags;
	th[14] = 0x10;
	for (i = 0; i < n; i++)
		th[20 + i] = (uint8_t)(tseq + i);
	sum = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + tl;
	for (i = 0; i + 1 < tl; i += 2)
		sum += th[i] << 8 | th[i + 1];
	if (tl & 1)
		sum += th[tl - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	th[16] = ~sum >> 8;
	th[17] = ~sum;
	memset(&m, 0, sizeof(m));
	m.kind = ESPTAG_META_TX;
	m.flags = ESPTAG_META_F_OFFLOAD;
	m.next_hdr = 6;
	m.esp_off = 34;
	m.payload_off = 50;
	m.sa_index = idx;
	m.seq = seq;
	m.inner_proto = 0x0800;
	esptag_meta_encode(f + 12, A.eth_meta, &m);
	return 44 + 20 + 16 + tl;
}

/* Ones' complement sum over n bytes. */
static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += p[i] << 8 | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/*
 * Rx coalescing: segments encrypted by an outbound SA, received in one
 * batch by the inbound twin. Contiguous ACK segments of one flow are one
 * frame (tag mss = their number, seq = the first's, IP length and
 * checksums of the whole as the host will see it after stripping ESP);
 * a gap, another flow or a segment after PSH starts a new frame.
 */
static void test_rx_coalesce(void)
{
	static uint8_t wire[12][2048];
	static const struct { uint16_t sport; uint32_t tseq; uint8_t flags; size_t n; } segs[] = {
		{1000, 100, 0x10, 300}, {1000, 400, 0x10, 300}, {1000, 700, 0x18, 101}, /* one frame */
		{1000, 801, 0x10, 50},	/* after PSH: new */
		{1000, 900, 0x10, 50},	/* gap (851 expected): new */
		{1000, 950, 0x10, 50},	/* contiguous: merged */
		{1001, 1000, 0x10, 50},	/* other flow, contiguous numbers: new */
	};
	size_t wl[12], n = sizeof(segs) / sizeof(segs[0]), i, ipl, tl;
	struct esptag_rec_sa r;
	struct esptag_meta_view m;
	struct agent_pkt *p;
	uint8_t f[2048], *b, *ip, *th;
	uint32_t out, in, s;

	T_ASSERT(setup() == 0);
	A.rx_coalesce = 9000;
	sa_rec(&r, ESPTAG_DIR_OUT, 0x6000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &out), 0);
	sa_rec(&r, ESPTAG_DIR_IN, 0x6000, "192.0.2.2", 0);
	memcpy(r.local_mac, PEER, 6);
	T_EQ(add_sa(&r, 0, &in), 0);
	for (i = 0; i < n; i++) {
		clear();
		agent_host_frame(&A, f, tcp_tx_frame(f, out, 0x6000, 10 + i, segs[i].sport,
						     segs[i].tseq, segs[i].flags, segs[i].n),
				 NULL);
		T_ASSERT(last(AGENT_WIRE) != NULL);
		wl[i] = last(AGENT_WIRE)->len;
		memcpy(wire[i], last(AGENT_WIRE)->data, wl[i]);
	}
	clear();
	for (i = 0; i < n; i++)
		agent_wire_frame(&A, wire[i], wl[i], NULL);
	agent_gro_close(&A);
	T_EQ(A.q[AGENT_HOST].n, 4);
	T_EQ(A.ctr[ESPTAG_AC_RX_DECRYPTED], 7);
	T_EQ(A.ctr[ESPTAG_AC_RX_COALESCED], 3);
	/* The merged frame, checked as esptag_rx will turn it into a packet. */
	p = &A.q[AGENT_HOST].pkt[0];
	T_EQ(esptag_meta_decode(p->data + 12, p->len - 12, 0x88b6, &m), 0);
	T_EQ(m.result, ESPTAG_RES_OK);
	T_EQ(m.mss, 3);
	T_EQ(m.seq, 10);
	T_EQ(m.trailer_len, 18);
	b = p->data + 30; /* the untagged frame */
	ip = b + 14;
	tl = 20 + 701;
	ipl = 20 + 16 + tl + 18;
	T_EQ(p->len, 30 + 14 + ipl);
	T_EQ((size_t)(ip[2] << 8 | ip[3]), ipl);
	T_EQ(sum16(0, ip, 20), 0xffff);
	T_EQ(rd32_(ip + 24), 10); /* the first packet's ESP sequence number */
	T_EQ(ip[20 + 16 + tl], 0);   /* pad length */
	T_EQ(ip[20 + 16 + tl + 1], 6); /* next header */
	th = ip + 36;
	T_EQ(th[13], 0x18); /* PSH of the last */
	T_EQ(rd32_(th + 4), 100);
	for (i = 0; i < 701; i++)
		if (th[20 + i] != (uint8_t)(100 + i))
			break;
	T_EQ(i, 701);
	s = 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + tl;
	T_EQ(sum16(s, th, tl), 0xffff);
	/* The others: after PSH; the gap and the one after it; other flow. */
	T_EQ(esptag_meta_decode(A.q[AGENT_HOST].pkt[1].data + 12, A.q[AGENT_HOST].pkt[1].len - 12,
				0x88b6, &m), 0);
	T_EQ(m.mss, 0);
	T_EQ(esptag_meta_decode(A.q[AGENT_HOST].pkt[2].data + 12, A.q[AGENT_HOST].pkt[2].len - 12,
				0x88b6, &m), 0);
	T_EQ(m.mss, 2);
	T_EQ(m.seq, 14);
	th = A.q[AGENT_HOST].pkt[2].data + 30 + 14 + 20 + 16;
	T_EQ(rd32_(th + 4), 900);
	T_EQ(sum16(0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 + 120, th, 120), 0xffff);
	T_EQ(esptag_meta_decode(A.q[AGENT_HOST].pkt[3].data + 12, A.q[AGENT_HOST].pkt[3].len - 12,
				0x88b6, &m), 0);
	T_EQ(m.mss, 0);

	/* Off (the default): one frame per packet. */
	A.rx_coalesce = 0;
	clear();
	for (i = 0; i < 3; i++)
		agent_wire_frame(&A, wire[i], wl[i], NULL);
	T_EQ(A.q[AGENT_HOST].n, 3);
	clear();
}

static void test_rx_malformed_and_fragment(void)
{
	struct esptag_rec_sa r;
	struct esptag_meta_view m;
	uint8_t f[2048], wire[2048];
	uint32_t out, in;
	size_t len, wlen;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x6000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &out), 0);
	sa_rec(&r, ESPTAG_DIR_IN, 0x6000, "192.0.2.2", 0);
	memcpy(r.local_mac, PEER, 6);
	T_EQ(add_sa(&r, 0, &in), 0);
	len = tx_frame(f, out, 0x6000, 9, false, "192.0.2.2", 10, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	wlen = last(AGENT_WIRE)->len;
	memcpy(wire, last(AGENT_WIRE)->data, wlen);

	/* Truncated: IP length says 20 + 20 bytes of ESP. */
	wire[16] = 0;
	wire[17] = 40;
	clear();
	agent_wire_frame(&A, wire, wlen, NULL);
	T_EQ(
	    esptag_meta_decode(last(AGENT_HOST)->data + 12, last(AGENT_HOST)->len - 12, 0x88b6, &m),
	    0);
	T_EQ(m.result, ESPTAG_RES_MALFORMED);
	T_EQ(A.ctr[ESPTAG_AC_RX_MALFORMED], 1);

	/* A fragment of an ESP packet: unsupported, never decrypted. */
	wire[16] = (wlen - 14) >> 8;
	wire[17] = wlen - 14;
	wire[20] = 0x20; /* MF */
	clear();
	agent_wire_frame(&A, wire, wlen, NULL);
	T_EQ(
	    esptag_meta_decode(last(AGENT_HOST)->data + 12, last(AGENT_HOST)->len - 12, 0x88b6, &m),
	    0);
	T_EQ(m.result, ESPTAG_RES_UNSUPPORTED);
	T_EQ(A.sa[in].packets, 0);
}

static void test_tx_foreign_domain_counted(void)
{
	struct esptag_rec_sa r;
	uint8_t f[2048];
	uint32_t idx;
	size_t len;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x7000, "192.0.2.2", 0);
	r.local_mac[5] = 0x77; /* another domain */
	T_EQ(add_sa(&r, 5, &idx), 0);
	len = tx_frame(f, idx, 0x7000, 1, false, "192.0.2.2", 10, false);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_ASSERT(last(AGENT_WIRE) == NULL);
	T_EQ(A.sa[idx].domain_reject, 1);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_DOMAIN], 1);
	T_EQ(A.sa[idx].ivdb, 1); /* no sequence number consumed */
}

/*
 * Host frames whose EtherType behind one or two VLAN tags is 0x88B5 or
 * 0x88B6 (a port VLAN or tc vlan push between host and agent): an ADD_SA
 * with its key, a TX tag over plaintext. Neither is obeyed nor forwarded:
 * nothing reaches the wire, the SAD is unchanged, tx_drop_vlan_hidden counts
 * them. A VLAN-tagged IPv4 frame still goes out untouched.
 */
static void test_tx_vlan_hidden_dropped(void)
{
	static const uint8_t tags[2][8] = {
		{0x81, 0x00, 0x00, 0x2a},
		{0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0xc8},
	};
	struct esptag_rec_sa r;
	uint8_t f[2048], g[2100];
	uint32_t idx, used;
	size_t len, nv;
	int n = 0;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x8000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &idx), 0);
	used = A.sad_used;
	for (nv = 1; nv <= 2; nv++) {
		/* An ADD_SA request (key inside) behind the VLAN tags. */
		sa_rec(&r, ESPTAG_DIR_OUT, 0x8100 + nv, "192.0.2.2", 0);
		len = cfg_frame(f, ESPTAG_OP_ADD_SA, 0, &r, sizeof(r), ESPTAG_REC_SA, ++msg_id);
		memcpy(g, f, 12);
		memcpy(g + 12, tags[nv - 1], 4 * nv);
		memcpy(g + 12 + 4 * nv, f + 12, len - 12);
		clear();
		agent_host_frame(&A, g, len + 4 * nv, NULL);
		T_ASSERT(last(AGENT_WIRE) == NULL);
		T_ASSERT(last(AGENT_HOST) == NULL);
		T_EQ(A.ctr[ESPTAG_AC_TX_DROP_VLAN_HIDDEN], ++n);
		/* A valid TX tag (offload=1) behind the VLAN tags. */
		len = tx_frame(f, idx, 0x8000, 10 + nv, false, "192.0.2.2", 30, false);
		memcpy(g, f, 12);
		memcpy(g + 12, tags[nv - 1], 4 * nv);
		memcpy(g + 12 + 4 * nv, f + 12, len - 12);
		clear();
		agent_host_frame(&A, g, len + 4 * nv, NULL);
		T_ASSERT(last(AGENT_WIRE) == NULL);
		T_EQ(A.ctr[ESPTAG_AC_TX_DROP_VLAN_HIDDEN], ++n);
	}
	T_EQ(A.sad_used, used);
	T_EQ(A.ctr[ESPTAG_AC_TX_UNTAGGED], 0);
	T_EQ(A.sa[idx].ivdb, 1); /* no sequence number consumed */
	/* Control: VLAN-tagged IPv4 is forwarded untouched. */
	memcpy(g, f, 12);
	memcpy(g + 12, tags[1], 8);
	g[20] = 0x08, g[21] = 0x00;
	memset(g + 22, 0x45, 40);
	clear();
	agent_host_frame(&A, g, 62, NULL);
	T_ASSERT(last(AGENT_WIRE) != NULL && last(AGENT_WIRE)->len == 62);
	T_EQ(A.ctr[ESPTAG_AC_TX_UNTAGGED], 1);
}

/* A TCP GSO frame (transport, IPv4) of plen payload bytes with mss. */
static size_t gso_frame(uint8_t *f, uint32_t idx, uint16_t mss, uint64_t seq, size_t plen)
{
	struct esptag_meta_view m;
	uint8_t *ip = f + 14 + 30, *tcp = ip + 20;
	size_t i;

	memset(f, 0, 14 + 30 + 40 + plen);
	memcpy(f, PEER, 6);
	memcpy(f + 6, MAC1, 6);
	ip[0] = 0x45;
	ip[2] = (40 + plen) >> 8;
	ip[3] = 40 + plen;
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, "192.0.2.1", ip + 12);
	inet_pton(AF_INET, "192.0.2.2", ip + 16);
	tcp[12] = 5 << 4;
	tcp[13] = 0x18;
	for (i = 0; i < plen; i++)
		tcp[20 + i] = i;
	memset(&m, 0, sizeof(m));
	m.kind = ESPTAG_META_TX;
	m.flags = ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO;
	m.next_hdr = 6;
	m.esp_off = 34;
	m.payload_off = 34;
	m.mss = mss;
	m.sa_index = idx;
	m.seq = seq;
	m.inner_proto = 0x0800;
	esptag_meta_encode(f + 12, A.eth_meta, &m);
	return 14 + 30 + 40 + plen;
}

/*
 * One GSO frame with a tiny mss would make the agent send one ESP frame per
 * payload byte. mss 1 and mss 87 are dropped whole (tx_drop_gso_limit), no
 * segment on the wire, no sequence number consumed; mss 88 (the minimum)
 * is framed.
 */
static void test_tx_gso_min_mss(void)
{
	static const uint16_t bad[] = {1, 2, 87};
	struct esptag_rec_sa r;
	uint8_t f[2048];
	uint32_t idx;
	size_t len, i;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x9000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &idx), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = gso_frame(f, idx, bad[i], 1, 60);
		clear();
		agent_host_frame(&A, f, len, NULL);
		T_EQ(A.q[AGENT_WIRE].n, 0);
		T_EQ(A.ctr[ESPTAG_AC_TX_DROP_GSO_LIMIT], i + 1);
	}
	T_EQ(A.ctr[ESPTAG_AC_TX_SEGMENTS], 0);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_MALFORMED], 0);
	T_EQ(A.sa[idx].ivdb, 1);
	len = gso_frame(f, idx, ESPTAG_GSO_MIN_MSS, 1, 200);
	clear();
	agent_host_frame(&A, f, len, NULL);
	T_EQ(A.q[AGENT_WIRE].n, 3);
	T_EQ(A.ctr[ESPTAG_AC_TX_SEGMENTS], 3);
	T_EQ(A.ctr[ESPTAG_AC_TX_DROP_GSO_LIMIT], 3);
}

/*
 * Two workers (agent_worker_init) on one SA, in two threads, each sending
 * the same host sequence numbers 1..N while the other one does, one of them
 * also sending config requests (the write-lock path): every wire IV is
 * used once, each worker's IVs increase, and the counters sum to what was
 * sent. Without the IVDB's per-SA lock both threads read the same IVDB
 * value and send the same IV.
 */
#define W_FRAMES 20000
struct w_rec {
	struct agent w;
	uint64_t ivs[W_FRAMES];
	unsigned int n;
	bool cfg;
	pthread_rwlock_t *lock;
	uint32_t idx;
};

static void w_flush(struct agent *a, int side)
{
	struct w_rec *r = a->io;
	unsigned int i;

	for (i = 0; r && side == AGENT_WIRE && i < a->q[side].n; i++)
		if (r->n < W_FRAMES)
			r->ivs[r->n++] = (uint64_t)rd32_(a->q[side].pkt[i].data + 34 + 8) << 32 |
					 rd32_(a->q[side].pkt[i].data + 34 + 12);
	a->q[side].n = 0;
}

static void *w_run(void *arg)
{
	struct w_rec *r = arg;
	uint8_t f[2048], cf[1600];
	struct esptag_rec_sa sr;
	unsigned int i;
	size_t len;

	pthread_rwlock_rdlock(r->lock);
	for (i = 1; i <= W_FRAMES; i++) {
		len = tx_frame(f, r->idx, 0x9000, i, false, "192.0.2.2", 8, false);
		agent_host_frame(&r->w, f, len, NULL);
		if (r->cfg && i % 2000 == 0) {
			sa_rec(&sr, ESPTAG_DIR_IN, 0x9100 + i, "192.0.2.1", 0);
			len = cfg_frame(cf, ESPTAG_OP_ADD_SA, 0, &sr, sizeof(sr), ESPTAG_REC_SA,
					90000 + i);
			agent_host_frame(&r->w, cf, len, NULL);
		}
		if (i % 64 == 0) { /* a batch boundary, as the workers' loop has */
			agent_flush_all(&r->w);
			pthread_rwlock_unlock(r->lock);
			pthread_rwlock_rdlock(r->lock);
		}
	}
	agent_flush_all(&r->w);
	pthread_rwlock_unlock(r->lock);
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static void test_workers_ivdb_unique(void)
{
	static struct w_rec rec[2];
	static uint64_t all[2 * W_FRAMES];
	pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
	struct esptag_rec_sa r;
	struct agent_sa_ctr st;
	pthread_t th[2];
	unsigned int i, j, dups = 0, down = 0;
	uint32_t idx;

	T_ASSERT(setup() == 0);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x9000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, &idx), 0);
	A.flush = w_flush;
	for (i = 0; i < 2; i++) {
		memset(&rec[i], 0, sizeof(rec[i]));
		T_EQ(agent_worker_init(&rec[i].w, &A, &lock), 0);
		rec[i].w.io = &rec[i];
		rec[i].lock = &lock;
		rec[i].idx = idx;
		rec[i].cfg = i == 1;
	}
	for (i = 0; i < 2; i++)
		T_EQ(pthread_create(&th[i], NULL, w_run, &rec[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	T_EQ(rec[0].n + rec[1].n, 2 * W_FRAMES);
	for (i = 0; i < 2; i++)
		for (j = 1; j < rec[i].n; j++)
			down += rec[i].ivs[j] <= rec[i].ivs[j - 1];
	T_EQ(down, 0);
	memcpy(all, rec[0].ivs, rec[0].n * sizeof(all[0]));
	memcpy(all + rec[0].n, rec[1].ivs, rec[1].n * sizeof(all[0]));
	qsort(all, rec[0].n + rec[1].n, sizeof(all[0]), cmp_u64);
	for (j = 1; j < rec[0].n + rec[1].n; j++)
		dups += all[j] == all[j - 1];
	T_EQ(dups, 0);
	/* Counters per worker, summed on read; the config requests ran. */
	T_EQ(agent_ctr_sum(&A, ESPTAG_AC_TX_ENCRYPTED), 2 * W_FRAMES);
	T_EQ(A.ctr[ESPTAG_AC_TX_ENCRYPTED], 0);
	agent_sa_stats(&A, idx, &st);
	T_EQ(st.packets, 2 * W_FRAMES);
	T_EQ(A.sad_used, 1 + W_FRAMES / 2000);
	A.flush = NULL;
	for (i = 0; i < 2; i++)
		agent_worker_fini(&rec[i].w);
	T_EQ(A.nworkers, 0);
}

/*
 * Two threads race for the last numbers of a (non-ESN) SA through
 * agent_ivdb_next alone, with no lock around it: every number from the
 * IVDB to 0xffffffff is handed out exactly once, increasing per thread,
 * the last one to one thread only, then the SA is spent.
 */
#define IV_TAIL 200000u
struct iv_race {
	struct agent_sa *sa;
	uint64_t *got;
	unsigned int n, refused;
};

static void *iv_race_run(void *arg)
{
	struct iv_race *r = arg;
	unsigned int i;
	uint64_t v;

	for (i = 0; i < IV_TAIL; i++) {
		if (agent_ivdb_next(r->sa, 5, &v))
			r->got[r->n++] = v;
		else
			r->refused++;
	}
	return NULL;
}

static void test_ivdb_race_to_last(void)
{
	static uint64_t got[2][IV_TAIL], all[2 * IV_TAIL];
	struct iv_race r[2];
	struct esptag_rec_sa rec;
	struct agent_sa *sa;
	pthread_t th[2];
	unsigned int i, j, down = 0, dups = 0, n;
	uint32_t idx;

	T_ASSERT(setup() == 0);
	sa_rec(&rec, ESPTAG_DIR_OUT, 0x9001, "192.0.2.2", 0);
	T_EQ(add_sa(&rec, 0, &idx), 0);
	sa = &A.sa[idx];
	sa->ivdb = 0xffffffffull - (IV_TAIL - 1); /* IV_TAIL numbers left */
	for (i = 0; i < 2; i++) {
		r[i] = (struct iv_race){sa, got[i], 0, 0};
		T_EQ(pthread_create(&th[i], NULL, iv_race_run, &r[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	n = r[0].n + r[1].n;
	T_EQ(n, IV_TAIL);
	T_EQ(r[0].refused + r[1].refused, IV_TAIL);
	for (i = 0; i < 2; i++)
		for (j = 1; j < r[i].n; j++)
			down += got[i][j] <= got[i][j - 1];
	T_EQ(down, 0);
	memcpy(all, got[0], r[0].n * sizeof(all[0]));
	memcpy(all + r[0].n, got[1], r[1].n * sizeof(all[0]));
	qsort(all, n, sizeof(all[0]), cmp_u64);
	for (j = 1; j < n; j++)
		dups += all[j] == all[j - 1];
	T_EQ(dups, 0);
	T_EQ(all[0], 0xffffffffull - (IV_TAIL - 1));
	T_EQ(all[n - 1], 0xffffffffull);
	T_ASSERT(sa->tx_spent);
}

/*
 * ADD_SA takes the lowest free index, whatever the order of the deletes:
 * live SAs stay packed at the start of the data path's per-SA arrays.
 */
static void test_sad_lowest_free_index(void)
{
	static const uint32_t want[4] = {2, 4, 6, 8};
	struct esptag_rec_sa r;
	uint32_t idx[8], got, i;

	T_ASSERT(setup() == 0);
	for (i = 0; i < 8; i++) {
		sa_rec(&r, ESPTAG_DIR_OUT, 0xa000 + i, "192.0.2.2", 0);
		T_EQ(add_sa(&r, 0, &idx[i]), 0);
		T_EQ(idx[i], i);
	}
	agent_sad_del(&A, 6);
	agent_sad_del(&A, 2);
	agent_sad_del(&A, 4);
	for (i = 0; i < 4; i++) {
		sa_rec(&r, ESPTAG_DIR_OUT, 0xb000 + i, "192.0.2.2", 0);
		T_EQ(add_sa(&r, 0, &got), 0);
		T_EQ(got, want[i]);
	}
}

/* ---- version 2: wrapped keys ---------------------------------------------- */

/* One version 2 ADD_SA frame: n SA_WRAP records and the WRAP_KEY. */
struct v2frame {
	struct esptag_rec_sa_wrap w[ESPTAG_CFG_MAX_WRAP];
	struct esptag_rec_wrap_key k;
	size_t n;
};

/* A version 2 ADD_SA of f's records (then its WRAP_KEY) on port under
 * msg_id id; returns the status. */
static int v2_add(uint8_t *frame, uint16_t port, const struct v2frame *f, uint32_t id)
{
	struct esptag_cfg_builder b;
	struct agent_pkt *p;
	size_t len;

	memcpy(frame, (uint8_t[])ESPTAG_AGENT_MAC_INIT, 6);
	memcpy(frame + 6, MAC1, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	esptag_cfg_begin(&b, frame + 14, 1500, ESPTAG_OP_ADD_SA, 0, 0, id, port);
	esptag_cfg_set_version(&b, 2);
	for (size_t i = 0; i < f->n; i++)
		esptag_cfg_add(&b, ESPTAG_REC_SA_WRAP, &f->w[i], sizeof(f->w[i]));
	esptag_cfg_add(&b, ESPTAG_REC_WRAP_KEY, &f->k, sizeof(f->k));
	len = esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE);
	clear();
	agent_host_frame(&A, frame, 14 + len, NULL);
	p = last(AGENT_HOST);
	return p ? p->data[14 + 3] : -1;
}

static uint16_t reply_err_index(void)
{
	const uint8_t *h = last(AGENT_HOST)->data + 14;

	return (uint16_t)(h[14] << 8 | h[15]);
}

/* f: n SAs (SPIs spi, spi + 1, ...) wrapped for agent_pub (NULL: the
 * agent's), port and id, under one fresh ephemeral key. */
static void wrap_frame(struct v2frame *f, uint32_t spi, size_t n, uint16_t port, uint32_t id,
		       const uint8_t *agent_pub)
{
	struct esptag_wrap_ctx c;
	struct esptag_rec_sa r;

	memset(f, 0, sizeof(*f));
	f->n = n;
	T_EQ(esptag_wrap_begin(&c, agent_pub ? agent_pub : A.id_pub, port, id, (uint16_t)n, NULL,
			       &f->k), 0);
	for (size_t i = 0; i < n; i++) {
		sa_rec(&r, ESPTAG_DIR_OUT, spi + (uint32_t)i, "192.0.2.2", 0);
		T_EQ(esptag_wrap_seal(&c, &r, (uint16_t)i, &f->w[i]), 0);
	}
	esptag_wrap_end(&c);
	OPENSSL_cleanse(&r, sizeof(r));
}

static void test_v2_add_sa_wrapped(void)
{
	struct v2frame f;
	struct esptag_rec_sa echo;
	uint8_t frame[1600];
	uint32_t id = ++msg_id, idx;

	T_ASSERT(setup_v2(false) == 0);
	wrap_frame(&f, 0x3000, 1, 3, id, NULL);
	/* The request holds no byte of the key or salt in clear. */
	T_ASSERT(!memmem(&f, sizeof(f), KEY, 4) && !memmem(&f, sizeof(f), SALT, 4));
	T_EQ(v2_add(frame, 3, &f, id), 0);
	T_EQ(last(AGENT_HOST)->data[14], 2);	/* a version 2 reply */
	memcpy(&echo, last(AGENT_HOST)->data + 14 + 16, sizeof(echo));
	T_EQ(echo.hdr.type, ESPTAG_REC_SA);
	idx = ntohl(echo.sa_index);
	T_ASSERT(all_zero(echo.key, 32) && all_zero(echo.salt, 4));
	T_ASSERT(A.sa[idx].used && A.sa[idx].port == 3);
	T_MEMEQ(A.sa[idx].salt, 4, SALT, 4);	/* unwrapped */
	T_EQ(A.sad_used, 1);
	/* A full frame: nine SAs under one ephemeral key, all installed. */
	id = ++msg_id;
	wrap_frame(&f, 0x3100, ESPTAG_CFG_MAX_WRAP, 3, id, NULL);
	T_EQ(v2_add(frame, 3, &f, id), 0);
	T_EQ(A.sad_used, 1 + ESPTAG_CFG_MAX_WRAP);
	for (size_t i = 0; i < ESPTAG_CFG_MAX_WRAP; i++) {
		memcpy(&echo, last(AGENT_HOST)->data + 14 + 16 + i * sizeof(echo), sizeof(echo));
		T_EQ(ntohl(echo.spi), 0x3100 + i);
		T_MEMEQ(A.sa[ntohl(echo.sa_index)].salt, 4, SALT, 4);
	}
}

/* A wrapped record moved to another port or domain, or changed anywhere:
 * BAD_RECORD at that record, nothing installed. */
static void test_v2_wrap_bound(void)
{
	struct v2frame f;
	uint8_t frame[1600];
	uint32_t id;
	static const struct {
		const char *what;
		size_t off;
		bool key_rec;	/* in the WRAP_KEY record */
	} flips[] = {
		{"spi", offsetof(struct esptag_rec_sa, spi) + 3, false},
		{"daddr", offsetof(struct esptag_rec_sa, daddr) + 3, false},
		{"local_mac", offsetof(struct esptag_rec_sa, local_mac) + 5, false},
		{"replay_window", offsetof(struct esptag_rec_sa, replay_window) + 1, false},
		{"wrapped", offsetof(struct esptag_rec_sa_wrap, wrapped), false},
		{"wrapped salt", offsetof(struct esptag_rec_sa_wrap, wrapped) + 33, false},
		{"tag", offsetof(struct esptag_rec_sa_wrap, tag) + 15, false},
		{"msg_id", offsetof(struct esptag_rec_wrap_key, msg_id) + 3, true},
		{"eph_key", offsetof(struct esptag_rec_wrap_key, eph_key) + 7, true},
	};

	T_ASSERT(setup_v2(false) == 0);
	/* Another port. */
	id = ++msg_id;
	wrap_frame(&f, 0x3001, 1, 3, id, NULL);
	T_EQ(v2_add(frame, 4, &f, id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 0);
	/* Another domain: behind a VLAN now. */
	id = ++msg_id;
	wrap_frame(&f, 0x3002, 1, 3, id, NULL);
	f.w[0].sa.nvlans = 1;
	f.w[0].sa.vlan[0].tpid = htons(0x8100);
	f.w[0].sa.vlan[0].tci = htons(10);
	T_EQ(v2_add(frame, 3, &f, id), ESPTAG_ST_BAD_RECORD);
	/* Any byte changed. */
	for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		id = ++msg_id;
		wrap_frame(&f, 0x3003, 1, 3, id, NULL);
		if (flips[i].key_rec)
			((uint8_t *)&f.k)[flips[i].off] ^= 0x01;
		else
			((uint8_t *)&f.w[0])[flips[i].off] ^= 0x01;
		if (v2_add(frame, 3, &f, id) != ESPTAG_ST_BAD_RECORD)
			t_fail(__FILE__, __LINE__, "%s changed: not BAD_RECORD", flips[i].what);
	}
	/* Wrapped for another agent's key. */
	{
		uint8_t other[32];
		EVP_PKEY *k = esptag_x25519_from_priv((const uint8_t[32]){1, 2, 3});

		T_ASSERT(k && !esptag_x25519_pub(k, other));
		EVP_PKEY_free(k);
		id = ++msg_id;
		wrap_frame(&f, 0x3004, 1, 3, id, other);
		T_EQ(v2_add(frame, 3, &f, id), ESPTAG_ST_BAD_RECORD);
	}
	/* In a batch: the bad record is named, the good one not installed. */
	id = ++msg_id;
	wrap_frame(&f, 0x3005, 2, 3, id, NULL);
	f.w[1].tag[0] ^= 0x80;
	T_EQ(v2_add(frame, 3, &f, id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 1);
	T_EQ(A.sad_used, 0);
	T_EQ(A.port_used[3], 0);
}

/* Inside one frame every record's key is bound to its position, the
 * number of records and its own SA: swapped, repeated, dropped or taken
 * into another frame, a record does not open. */
static void test_v2_wrap_position(void)
{
	struct v2frame f, g, h;
	uint8_t frame[1600];
	uint32_t id = ++msg_id;

	T_ASSERT(setup_v2(false) == 0);
	/* Two records swapped: neither opens where it is now. */
	wrap_frame(&f, 0x3200, 3, 3, id, NULL);
	g = f;
	g.w[0] = f.w[1];
	g.w[1] = f.w[0];
	T_EQ(v2_add(frame, 3, &g, id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 0);
	/* Record 0 also in position 1 (a second copy of an SA's key). */
	g = f;
	g.w[1] = f.w[0];
	T_EQ(v2_add(frame, 3, &g, ++msg_id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 1);
	/* The last record dropped: the frame had 3. */
	g = f;
	g.n = 2;
	T_EQ(v2_add(frame, 3, &g, ++msg_id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 0);
	/* A record of another frame (same port, msg_id and position, another
	 * ephemeral key). */
	wrap_frame(&h, 0x3300, 3, 3, id, NULL);
	g = f;
	g.w[2] = h.w[2];
	T_EQ(v2_add(frame, 3, &g, ++msg_id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 2);
	T_EQ(A.sad_used, 0);
	/* The frame as it was made opens, all three. */
	T_EQ(v2_add(frame, 3, &f, id), 0);
	T_EQ(A.sad_used, 3);
}

/* A replayed wrapped ADD_SA never makes a second SA. */
static void test_v2_replay(void)
{
	struct v2frame f, g;
	struct esptag_rec_sa_ref ref;
	uint8_t frame[1600], again[1600];
	uint32_t id = ++msg_id, idx;

	T_ASSERT(setup_v2(false) == 0);
	wrap_frame(&f, 0x4000, 1, 2, id, NULL);
	T_EQ(v2_add(frame, 2, &f, id), 0);
	idx = ntohl(((struct esptag_rec_sa *)(last(AGENT_HOST)->data + 30))->sa_index);
	/* The same bytes again: the reply cache's answer, same index. */
	T_EQ(v2_add(again, 2, &f, id), 0);
	T_EQ(A.ctr[ESPTAG_AC_CFG_DUP], 1);
	T_EQ(A.sad_used, 1);
	/* The frame under another msg_id (a relay's): refused at its WRAP_KEY. */
	T_EQ(v2_add(again, 2, &f, ++msg_id), ESPTAG_ST_BAD_RECORD);
	T_EQ(reply_err_index(), 1);
	T_EQ(A.sad_used, 1);
	/* Gone, then replayed: still refused, nothing comes back. */
	memset(&ref, 0, sizeof(ref));
	esptag_rec_init(&ref, ESPTAG_REC_SA_REF, sizeof(ref));
	ref.sa_index = htonl(idx);
	{
		struct esptag_cfg_builder b;

		memcpy(again, frame, 14);
		esptag_cfg_begin(&b, again + 14, 1500, ESPTAG_OP_DEL_SA, 0, 0, ++msg_id, 2);
		esptag_cfg_set_version(&b, 2);
		esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &ref, sizeof(ref));
		clear();
		agent_host_frame(&A, again, 14 + esptag_cfg_end(&b, ESPTAG_ERR_INDEX_NONE), NULL);
		T_EQ(last(AGENT_HOST)->data[14 + 3], 0);
	}
	T_EQ(A.sad_used, 0);
	T_EQ(v2_add(again, 2, &f, ++msg_id), ESPTAG_ST_BAD_RECORD);
	T_EQ(A.sad_used, 0);
	/* Part of an executed frame, alone: its ephemeral key is spent. */
	id = ++msg_id;
	wrap_frame(&f, 0x4001, 2, 2, id, NULL);
	T_EQ(v2_add(frame, 2, &f, id), 0);
	T_EQ(A.sad_used, 2);
	g = f;
	g.n = 1;
	T_EQ(v2_add(again, 2, &g, ++msg_id), ESPTAG_ST_BAD_RECORD);
	T_EQ(A.sad_used, 2);
}

/* HELLO and version 1 against an agent with and without --allow-v1. */
static void test_v2_versions(void)
{
	struct esptag_rec_caps hc, c;
	struct esptag_rec_caps2 c2;
	struct esptag_rec_sa r;
	uint8_t frame[1600];
	const uint8_t *rep;

	memset(&hc, 0, sizeof(hc));
	esptag_rec_init(&hc, ESPTAG_REC_CAPS, sizeof(hc));
	T_ASSERT(setup_v2(false) == 0);
	/* A version 1 host: 40-byte CAPS, versions 2..2. */
	hc.version_min = hc.version_max = 1;
	T_EQ(request(frame, ESPTAG_OP_HELLO, 0, &hc, sizeof(hc), ESPTAG_REC_CAPS, ++msg_id), 0);
	rep = last(AGENT_HOST)->data + 14;
	T_EQ(rep[0], 1);
	T_EQ(rep[12] << 8 | rep[13], 40);
	memcpy(&c, rep + 16, sizeof(c));
	T_EQ(c.version_min, 2);
	T_EQ(c.version_max, 2);
	/* ... and its ADD_SA (key in clear) is refused: BAD_VERSION, nothing added. */
	sa_rec(&r, ESPTAG_DIR_OUT, 0x5000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, NULL), ESPTAG_ST_BAD_VERSION);
	rep = last(AGENT_HOST)->data + 14;
	T_EQ(rep[0], 2);
	T_EQ(rep[16], ESPTAG_REC_CAPS);
	T_EQ(A.sad_used, 0);
	/* A version 2 host: 72-byte CAPS with the agent's key. */
	hc.version_min = 1;
	hc.version_max = 2;
	T_EQ(request(frame, ESPTAG_OP_HELLO, 0, &hc, sizeof(hc), ESPTAG_REC_CAPS, ++msg_id), 0);
	rep = last(AGENT_HOST)->data + 14;
	T_EQ(rep[12] << 8 | rep[13], 72);
	memcpy(&c2, rep + 16, sizeof(c2));
	T_MEMEQ(c2.agent_key, 32, A.id_pub, 32);
	{
		struct esptag_cfg_view v;

		T_EQ(esptag_cfg_decode(rep, 16 + 72, &v), 0);
	}
	/* --allow-v1: versions 1..2, the clear-key ADD_SA taken. */
	T_ASSERT(setup_v2(true) == 0);
	hc.version_min = hc.version_max = 1;
	T_EQ(request(frame, ESPTAG_OP_HELLO, 0, &hc, sizeof(hc), ESPTAG_REC_CAPS, ++msg_id), 0);
	memcpy(&c, last(AGENT_HOST)->data + 14 + 16, sizeof(c));
	T_EQ(c.version_min, 1);
	T_EQ(c.version_max, 2);
	sa_rec(&r, ESPTAG_DIR_OUT, 0x5000, "192.0.2.2", 0);
	T_EQ(add_sa(&r, 0, NULL), 0);
	T_EQ(A.sad_used, 1);
}

/* The identity key file: made once 0600, the same key after, a warning
 * when others may read it, a clear error when it is not a key. */
static void test_identity_file(void)
{
	char dir[] = "/tmp/et-agent-id-XXXXXX", sub[64], path[128], err[512];
	uint8_t p1[32], p2[32];
	struct stat st;
	bool created;
	EVP_PKEY *k;
	FILE *f;

	T_ASSERT(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/state", dir);
	snprintf(path, sizeof(path), "%s/%s", sub, ESPTAG_AGENT_KEY_FILE);
	k = esptag_identity_load(sub, false, &created, err, sizeof(err));
	T_ASSERT(!k && strstr(err, "No such file"));
	k = esptag_identity_load(sub, true, &created, err, sizeof(err));
	T_ASSERT(k && created && !err[0]);
	T_EQ(esptag_x25519_pub(k, p1), 0);
	EVP_PKEY_free(k);
	T_EQ(stat(path, &st), 0);
	T_EQ(st.st_mode & 0777, 0600);
	T_EQ(stat(sub, &st), 0);
	T_EQ(st.st_mode & 0777, 0700);
	k = esptag_identity_load(sub, true, &created, err, sizeof(err));
	T_ASSERT(k && !created && !err[0]);
	T_EQ(esptag_x25519_pub(k, p2), 0);
	T_MEMEQ(p1, 32, p2, 32);
	EVP_PKEY_free(k);
	T_EQ(chmod(path, 0644), 0);
	k = esptag_identity_load(sub, true, &created, err, sizeof(err));
	T_ASSERT(k && strstr(err, "readable by others"));
	EVP_PKEY_free(k);
	f = fopen(path, "w");
	T_ASSERT(f);
	fputs("not a key\n", f);
	fclose(f);
	k = esptag_identity_load(sub, true, &created, err, sizeof(err));
	T_ASSERT(!k && strstr(err, "not an X25519 private key"));
	unlink(path);
	rmdir(sub);
	rmdir(dir);
}

int main(void)
{
	T_RUN(test_add_sa_wipes_request_key);
	T_RUN(test_del_and_flush_wipe_sa);
	T_RUN(test_reply_cache_evicts_oldest);
	T_RUN(test_reply_cache_needs_same_request);
	T_RUN(test_tx_completes_partial_checksum);
	T_RUN(test_tx_seq_limit_without_esn);
	T_RUN(test_tx_esn_ivdb_saturates);
	T_RUN(test_rx_esn_across_boundary);
	T_RUN(test_rx_malformed_and_fragment);
	T_RUN(test_rx_coalesce);
	T_RUN(test_tx_foreign_domain_counted);
	T_RUN(test_tx_vlan_hidden_dropped);
	T_RUN(test_tx_gso_min_mss);
	T_RUN(test_workers_ivdb_unique);
	T_RUN(test_ivdb_race_to_last);
	T_RUN(test_sad_lowest_free_index);
	T_RUN(test_v2_add_sa_wrapped);
	T_RUN(test_v2_wrap_bound);
	T_RUN(test_v2_wrap_position);
	T_RUN(test_v2_replay);
	T_RUN(test_v2_versions);
	T_RUN(test_identity_file);
	agent_fini(&A);
	return t_done();
}
