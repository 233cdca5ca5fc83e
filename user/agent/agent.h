/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * esptag-agent: the software agent (bump in the wire between a host-side and
 * a wire-side interface). This header is the agent's internal API: the SAD,
 * the ESP/AES-GCM core, the config handler and the two frame handlers. The
 * frame handlers work on memory only (no sockets), so unit tests and fuzzers
 * drive them directly; io.c feeds them from AF_PACKET rings.
 */
#ifndef ESPTAG_AGENT_H
#define ESPTAG_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <pthread.h>
#include <linux/virtio_net.h>
#include <esptag/wire.h>
#include "esptag_proto.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_pkey_st EVP_PKEY;

enum agent_side {
	AGENT_HOST = 0, /* toward the host (NIC) */
	AGENT_WIRE = 1, /* toward the wire */
};

#define AGENT_BATCH 64		     /* frames per output batch (sendmmsg) */
#define AGENT_SLOT (65536 + 1024)    /* bytes per output frame buffer */
#define AGENT_MAX_FRAME (65535 + 64) /* largest frame taken as input */

#define AGENT_DEF_CAPACITY 65536
#define AGENT_DEF_LOCALS 1024

/* Per-SA counters. The SA holds those of the control context (and of the
 * only context of a single-threaded agent); each worker of a multi-core
 * agent has its own array of them, summed on read (agent_sa_stats). */
struct agent_sa_ctr {
	uint64_t packets, bytes;
	uint32_t auth_fail, domain_reject;
};

/* One SA. Key material lives only inside ctx (OpenSSL zeroes it on free),
 * the salt here (a->sa is locked memory left out of core dumps). */
struct agent_sa {
	bool used;
	uint16_t port;		  /* owner (hdr.port of ADD_SA) */
	uint32_t hnext;		  /* hash chain: index + 1, 0 = end */
	struct esptag_rec_sa rec; /* as added; key and salt zeroed */
	uint8_t salt[ESPTAG_SALT_LEN];
	EVP_CIPHER_CTX *ctx; /* keyed once, IV set per packet */
	uint64_t ivdb;	     /* Tx: IVDB, next sequence number */
	bool tx_spent;	     /* Tx: the last number of the space was used (ivdb and
			      * tx_spent move by atomics: workers share them) */
	uint64_t rx_top;     /* Rx: highest authenticated sequence (atomic max) */
	union {
		struct agent_sa_ctr c;
		struct {
			uint64_t packets, bytes;
			uint32_t auth_fail, domain_reject;
		};
	};
};

struct agent_local {
	bool used;
	uint16_t port;
	uint32_t hnext;
	struct esptag_rec_local rec;
};

struct agent_pkt {
	struct virtio_net_hdr vh;
	uint8_t *data;
	uint32_t len;
};

struct agent_q {
	unsigned int n;
	struct agent_pkt pkt[AGENT_BATCH];
	uint8_t *mem; /* AGENT_BATCH * AGENT_SLOT */
};

#define AGENT_CACHE_SIZE ESPTAG_CFG_REPLY_CACHE

struct agent_cache_ent {
	bool used;
	uint8_t mac[6];
	uint8_t opcode;
	uint16_t port;
	uint32_t msg_id;
	uint8_t digest[32]; /* SHA-256 of the request (F_RETRY masked) */
	uint16_t len; /* reply frame length */
	uint8_t frame[ESPTAG_ETH_HLEN + ESPTAG_CFG_MAX_PAYLOAD];
};

/*
 * Rx coalescing (rx.c): the last frame of the host batch, a decrypted TCP
 * segment of a transport-mode SA, while later in-order segments of the same
 * flow and SA may still be appended to it. Offsets count in the untagged
 * frame.
 */
struct agent_gro {
	bool open;
	bool odd;		/* payload so far of odd length: nothing more appended */
	uint8_t family;
	uint16_t l3, tcp, thl;	/* IP header, TCP header and its length */
	uint16_t segs;		/* ESP packets in the frame */
	uint32_t sa_index;
	uint32_t end;		/* end of the TCP payload */
	uint32_t next_tcp;	/* TCP sequence number the next segment must have */
	uint64_t next_seq;	/* ESP sequence number the next packet must have */
	uint64_t psum;		/* ones' complement sum of the TCP payload */
	struct esptag_meta_view m; /* the first packet's tag */
};

struct agent;
typedef void (*agent_flush_fn)(struct agent *a, int side);

/* ADD_SA records (with keys) of one request, staged before they go in. */
#define AGENT_STAGE_RECS ESPTAG_CFG_MAX_RECORDS

/* Ephemeral keys of executed wrapped ADD_SA frames, remembered against replays. */
#define AGENT_SEEN_EPH 4096

struct agent {
	uint32_t capacity, port_limit, local_capacity;
	uint32_t sad_used, nlocal;
	struct agent_sa *sa; /* [capacity], locked, not in core dumps */
	struct esptag_rec_sa *stage; /* [AGENT_STAGE_RECS], locked, not in core dumps */
	uint32_t *hash;	     /* SA hash heads: index + 1 */
	uint32_t hmask;
	uint32_t *free_idx; /* free SA indices, a min-heap: lowest first */
	uint32_t nfree;
	uint32_t *port_used;	   /* [65536] SAs per port */
	struct agent_local *local; /* [local_capacity] */
	uint32_t *lhash;
	uint32_t lmask;
	struct agent_cache_ent *cache; /* [AGENT_CACHE_SIZE] ring */
	uint32_t cache_next;
	uint64_t epoch;
	uint64_t ctr[ESPTAG_AC_MAX];
	unsigned int drop_pct; /* --test-drop-config */
	uint64_t rng;
	uint16_t eth_cfg, eth_meta;
	uint16_t features;   /* ESPTAG_FEAT_* announced in CAPS */
	uint16_t ip_id;	     /* tunnel-mode outer IPv4 id */
	uint32_t rx_coalesce; /* MTU of the host's port for coalesced frames; 0: off */
	struct agent_gro gro; /* the host batch's open frame (rx.c) */
	bool gro_hold;	      /* agent_slot(HOST) leaves the open frame open */
	struct agent_q q[2]; /* output batches per side */
	uint8_t *scratch;    /* AGENT_SLOT bytes of work space */
	agent_flush_fn flush;
	void *io;
	/*
	 * Multi-core agent (agent_worker_init): every worker has its own
	 * struct agent sharing the SAD's arrays with the control context ctl
	 * (the one agent_init made), its own output batches, scratch, counters
	 * and per-SA counters (sactr). Workers run frames holding sadlock for
	 * reading; a config frame runs on ctl with it held for writing.
	 * Single-threaded (tests, fuzzers, --cpus 1): ctl and sadlock NULL.
	 */
	struct agent *ctl;
	pthread_rwlock_t *sadlock;
	struct agent_sa_ctr *sactr; /* worker: [capacity] */
	EVP_CIPHER_CTX **sactx;	    /* worker: [capacity] its copies of the SAs' contexts */
	struct agent **workers;	    /* control context: its workers */
	unsigned int nworkers;
	/* Version 2 (wrapped keys): the identity, the versions spoken. */
	EVP_PKEY *id_key;		/* X25519 private key (OpenSSL's memory) */
	uint8_t id_pub[ESPTAG_X25519_LEN];
	uint8_t version_min;		/* 1 with --allow-v1, else 2 */
	uint8_t (*seen_eph)[ESPTAG_X25519_LEN];	/* [AGENT_SEEN_EPH] ring */
	uint32_t seen_next;
};

#define AGENT_FEATURES \
	(ESPTAG_FEAT_TSO | ESPTAG_FEAT_HAIRPIN | ESPTAG_FEAT_ESN | ESPTAG_FEAT_TUNNEL | \
	 ESPTAG_FEAT_IPV6)

struct agent_opts {
	uint32_t capacity, port_limit, local_capacity;
	bool set_features;
	uint16_t features; /* announced in CAPS (set_features; else AGENT_FEATURES) */
	unsigned int drop_pct;
	uint16_t eth_cfg, eth_meta;
	EVP_PKEY *id_key;	/* the identity (the agent takes it); NULL: a fresh one */
	bool allow_v1;		/* accept version 1 requests (keys in clear) */
	uint32_t rx_coalesce;	/* --rx-coalesce: the host port's MTU; 0: no coalescing */
};

/* agent.c: life cycle */
int agent_init(struct agent *a, const struct agent_opts *o, agent_flush_fn flush);
void agent_fini(struct agent *a);
void agent_flush_all(struct agent *a);
/* Output slot for one frame toward side; flushes the batch when full. */
struct agent_pkt *agent_slot(struct agent *a, int side);
void agent_commit(struct agent *a, int side, uint32_t len);
uint32_t agent_rand32(struct agent *a);
/* Print counters and per-SA stats (never keys) to f. */
void agent_dump_stats(struct agent *a, FILE *f);
/* Worker w of the control context ctl (see struct agent). */
int agent_worker_init(struct agent *w, struct agent *ctl, pthread_rwlock_t *lock);
void agent_worker_fini(struct agent *w);
/* A config frame received by worker w (holding sadlock for reading). */
void agent_cfg_from_worker(struct agent *w, uint8_t *f, size_t len);
/* Counter c summed over ctl and its workers (call on the control context
 * with sadlock held for writing, or single-threaded). */
uint64_t agent_ctr_sum(const struct agent *a, int c);
/* The counters of SA idx, summed the same way. */
void agent_sa_stats(const struct agent *a, uint32_t idx, struct agent_sa_ctr *out);
/* Where this context counts frames of sa. */
static inline struct agent_sa_ctr *agent_sa_ctr(struct agent *a, struct agent_sa *sa)
{
	return a->sactr ? &a->sactr[sa - a->sa] : &sa->c;
}
/* The cipher context this context uses for sa. */
static inline EVP_CIPHER_CTX *agent_sa_cipher(struct agent *a, struct agent_sa *sa)
{
	return a->sactx ? a->sactx[sa - a->sa] : sa->ctx;
}
/* The context that holds the SAD's bookkeeping (counts, free list). */
static inline struct agent *agent_ctl(struct agent *a)
{
	return a->ctl ? a->ctl : a;
}

/* Logging to stderr with syslog priorities. */
/* The agent logs through the shared logger (user/lib/log.h): one format for
 * every esptag program. agent_log(prio, ...) is logm(). */
#include "log.h"
#define agent_log logm

/* sad.c: the SAD */
struct agent_sa_key {
	uint8_t daddr[16];
	uint8_t family, proto, dir, nvlans;
	uint32_t spi; /* network order */
	uint8_t mac[6];
	uint16_t vid[2];
};
void agent_sa_key_from_rec(struct agent_sa_key *k, const struct esptag_rec_sa *r);
struct agent_sa *agent_sad_find(struct agent *a, const struct agent_sa_key *k);
/* Add rec (with key) as the SA of port. Returns the index or -1. */
int64_t agent_sad_add(struct agent *a, const struct esptag_rec_sa *rec, uint16_t port);
void agent_sad_del(struct agent *a, uint32_t idx);
struct agent_sa *agent_sad_get(struct agent *a, uint32_t idx);
/* FNV-1a over n bytes, continuing from h (start: 2166136261). */
uint32_t agent_fnv(uint32_t h, const void *p, size_t n);

/* local.c: local (hairpin) addresses */
bool agent_local_equal(const struct esptag_rec_local *x, const struct esptag_rec_local *y);
struct agent_local *agent_local_find_rec(struct agent *a, const struct esptag_rec_local *r);
/* Hairpin lookup by destination address; prefers an entry whose MAC is dmac. */
struct agent_local *agent_local_find_addr(struct agent *a, uint8_t family, const uint8_t *addr,
					  const uint8_t *dmac);
int agent_local_add(struct agent *a, const struct esptag_rec_local *r, uint16_t port);
void agent_local_del(struct agent *a, struct agent_local *l);

/* esp.c: RFC 4303 + RFC 4106 AES-GCM */
int agent_esp_key(struct agent_sa *sa, const uint8_t *key, unsigned int key_len,
		  const uint8_t *salt, bool encrypt);
void agent_esp_unkey(struct agent_sa *sa);
/*
 * esp: ESP header (SPI, seq_lo, IV) already written, followed by plen bytes
 * of payload and room for 3 + 2 + 16 more bytes. Pads (1, 2, 3...), appends
 * pad length and next header, encrypts in place and appends the ICV.
 * seq_hi goes into the AAD when the SA uses ESN. Returns the ESP length
 * (header + ciphertext + ICV) or 0 on a crypto error.
 */
size_t agent_esp_seal(struct agent_sa *sa, uint8_t *esp, size_t plen, uint8_t next_hdr,
		      uint32_t seq_hi);
/*
 * Decrypt the ESP packet esp[0..len) into out (ciphertext length len - 32;
 * out may equal esp + 16) and verify the ICV. Returns 0 on success with
 * *pad_len and *next_hdr from the trailer, -1 on ICV mismatch, -2 on a
 * malformed trailer.
 */
int agent_esp_open(struct agent_sa *sa, const uint8_t *esp, size_t len, uint8_t *out,
		   uint32_t seq_hi, uint8_t *pad_len, uint8_t *next_hdr);
/* The same with a cipher context of the caller's (a worker's copy of the
 * SA's: OpenSSL contexts are not shared between threads). */
size_t agent_esp_seal_ctx(EVP_CIPHER_CTX *ctx, const struct agent_sa *sa, uint8_t *esp,
			  size_t plen, uint8_t next_hdr, uint32_t seq_hi);
int agent_esp_open_ctx(EVP_CIPHER_CTX *ctx, const struct agent_sa *sa, const uint8_t *esp,
		       size_t len, uint8_t *out, uint32_t seq_hi, uint8_t *pad_len,
		       uint8_t *next_hdr);
/* A copy of the SA's keyed context (NULL: out of memory); freeing cleanses. */
EVP_CIPHER_CTX *agent_esp_ctx_dup(const struct agent_sa *sa);
void agent_esp_ctx_free(EVP_CIPHER_CTX *c);
/* RFC 4303 A2: the high half of the sequence number for seq_lo. */
uint32_t agent_esn_infer(uint64_t top, uint32_t window, uint32_t seq_lo);

/* ctl.c: config frames from the host side (f is writable: key bytes are
 * wiped once the SA is installed). */
void agent_cfg_frame(struct agent *a, uint8_t *f, size_t len);

/* rx.c, tx.c (datapath.h): the two data path directions. */
void agent_host_frame(struct agent *a, uint8_t *f, size_t len, const struct virtio_net_hdr *vh);
void agent_wire_frame(struct agent *a, const uint8_t *f, size_t len,
		      const struct virtio_net_hdr *vh);
/* rx.c: the open coalesced frame gets its final TCP checksum and takes
 * nothing more (before the host batch is sent or gets another frame). */
void agent_gro_close(struct agent *a);

#endif
