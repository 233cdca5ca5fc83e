/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Wrapped SA keys (config protocol version 2, docs/protocol.md 1.10): the
 * agent's X25519 identity, its fingerprint, and the wrap of the SA keys of
 * an ADD_SA frame for that identity. OpenSSL 3 EVP only: X25519 through
 * EVP_PKEY / EVP_PKEY_derive, HKDF-SHA256 through EVP_KDF, AES-256-GCM
 * through EVP_CIPHER.
 */
#ifndef ESPTAG_WRAP_H
#define ESPTAG_WRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <esptag/wire.h>

typedef struct evp_pkey_st EVP_PKEY;

#define ESPTAG_FPR_LEN		32	/* SHA-256 of the 32-byte public key */
#define ESPTAG_FPR_STRLEN	(7 + 2 * ESPTAG_FPR_LEN + 1)	/* "sha256:" hex NUL */
#define ESPTAG_WRAP_LABEL	"esptag v2 key wrap"	/* start of the HKDF info */
#define ESPTAG_WRAP_INFO_LEN	(sizeof(ESPTAG_WRAP_LABEL) - 1 + 2 + 6 + 1 + 8 + 4 + 2 + 2 + 1 + 4)
#define ESPTAG_AGENT_KEY_FILE	"agent-key.pem"

/* The fingerprint of an agent key: SHA-256 of its 32 raw bytes. */
int esptag_key_fingerprint(const uint8_t pub[ESPTAG_X25519_LEN], uint8_t fpr[ESPTAG_FPR_LEN]);
/* "sha256:" and 64 lowercase hex digits. */
void esptag_fpr_str(const uint8_t fpr[ESPTAG_FPR_LEN], char out[ESPTAG_FPR_STRLEN]);
/* Parse a fingerprint as esptag_fpr_str writes it (the "sha256:" prefix and
 * ':' between bytes optional, any case). 0, or -1. */
int esptag_fpr_parse(const char *s, uint8_t fpr[ESPTAG_FPR_LEN]);

/* The raw public key of an X25519 EVP_PKEY. 0 or -1. */
int esptag_x25519_pub(EVP_PKEY *k, uint8_t pub[ESPTAG_X25519_LEN]);
/* An X25519 key from 32 raw private bytes (tests, worked examples). */
EVP_PKEY *esptag_x25519_from_priv(const uint8_t priv[ESPTAG_X25519_LEN]);
/*
 * The identity key in dir/ESPTAG_AGENT_KEY_FILE (PKCS#8 PEM, mode 0600): read
 * it, or (create) make one when there is none (dir is created 0700 if
 * missing; two processes starting at once end up with the same key).
 * *created says whether it was made now. NULL with a message in err; a
 * key with a message in err: a warning (the file is readable by others).
 */
EVP_PKEY *esptag_identity_load(const char *dir, bool create, bool *created, char *err,
			       size_t errlen);

/*
 * The wrap of one version 2 ADD_SA frame (docs/protocol.md 1.10): one
 * ephemeral key per frame, one X25519 per frame, then per record an HKDF
 * expansion and one AES-256-GCM. The HKDF extract (same IKM and salt for
 * every record of the frame) and the EVP objects are made once per frame.
 * Holds secrets: always end it with esptag_wrap_end().
 */
struct esptag_wrap_ctx {
	uint8_t prk[32];		/* HKDF-Extract(salt eph_key || agent_key, Z) */
	uint16_t port;
	uint32_t msg_id;
	uint16_t count;			/* SA_WRAP records in the frame */
	struct evp_kdf_ctx_st *kdf;	/* HKDF-SHA256, expand only */
	struct evp_cipher_ctx_st *aead;
	struct evp_cipher_st *gcm;	/* AES-256-GCM, fetched once */
};

/* The HKDF info of SA_WRAP record index (of count) in a frame for port and
 * msg_id: label, port, domain (local_mac, nvlans, vlan[2] as in the
 * record), msg_id, count, index, dir, spi. Returns its length. */
size_t esptag_wrap_info(const struct esptag_rec_sa *sa, uint16_t port, uint32_t msg_id,
			uint16_t count, uint16_t index, uint8_t out[ESPTAG_WRAP_INFO_LEN]);
/*
 * Requester: a frame of count SA_WRAP records for the agent key agent_pub,
 * for port and msg_id; fills wk, the frame's WRAP_KEY record. eph_priv: the
 * ephemeral private key (NULL: a fresh random one, the only correct use
 * outside tests). 0, or -1 (c ended).
 */
int esptag_wrap_begin(struct esptag_wrap_ctx *c, const uint8_t agent_pub[ESPTAG_X25519_LEN],
		      uint16_t port, uint32_t msg_id, uint16_t count, const uint8_t *eph_priv,
		      struct esptag_rec_wrap_key *wk);
/*
 * Agent: the frame whose WRAP_KEY is wk, received on port with count
 * SA_WRAP records, for the identity key agent (agent_pub its public key,
 * computed once). 0, or -1 (a low-order eph_key; c ended).
 */
int esptag_unwrap_begin(struct esptag_wrap_ctx *c, EVP_PKEY *agent,
			const uint8_t agent_pub[ESPTAG_X25519_LEN],
			const struct esptag_rec_wrap_key *wk, uint16_t port, uint16_t count);
/* The KEK of SA_WRAP record index with the SA part sa (tests, examples). */
int esptag_wrap_kek(const struct esptag_wrap_ctx *c, const struct esptag_rec_sa *sa,
		    uint16_t index, uint8_t kek[32]);
/*
 * Wrap the key and salt of sa (an SA request record with its key) as
 * record index of the frame into w. 0, or -1 (w wiped).
 */
int esptag_wrap_seal(struct esptag_wrap_ctx *c, const struct esptag_rec_sa *sa, uint16_t index,
		     struct esptag_rec_sa_wrap *w);
/*
 * Unwrap w, record index of the frame, into sa: an SA request record (type
 * SA, len 108) with key and salt. 0, or -1 when the wrap does not open
 * (another agent key, ephemeral key, port, domain, msg_id, record count or
 * position, or any byte of the record changed); sa is wiped then.
 */
int esptag_wrap_open(struct esptag_wrap_ctx *c, const struct esptag_rec_sa_wrap *w,
		     uint16_t index, struct esptag_rec_sa *sa);
/* Wipe the frame's secrets, free its EVP objects. */
void esptag_wrap_end(struct esptag_wrap_ctx *c);

#endif
