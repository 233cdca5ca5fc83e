// SPDX-License-Identifier: GPL-2.0-only
/*
 * The (key, salt) pairs this esptagd has added (state add), so that one is
 * never added twice: AES-GCM with a repeated key and salt repeats nonces as
 * soon as the sequence numbers meet again (RFC 4106 section 8). Only keyed
 * digests are kept, HMAC-SHA256 under a random secret drawn at start; the
 * secret and the digests live in locked memory left out of core dumps
 * (secmem.h) and are wiped at exit. Nothing is written to disk: a restarted
 * esptagd starts with an empty set (the SAs it adopts carry no key).
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include "esptagd.h"
#include "secmem.h"

#define KS_SECRET	32
#define KS_DIGEST	16	/* HMAC-SHA256 truncated to 128 bits */

/*
 * An open-addressing set of digests (linear probing, at most half full; an
 * all-zero slot is empty, and a digest is never all zero: its first byte
 * gets bit 0 set). Grows by doubling; 16 bytes per SA ever added.
 */
struct key_seen {
	uint8_t secret[KS_SECRET];
	size_t n, cap;			/* digests held, slots (a power of two) */
	size_t bytes;			/* mapping size */
	uint8_t (*dig)[KS_DIGEST];	/* in the same mapping, after this header */
};

static EVP_MAC *hmac;		/* fetched once (not secret) */

static size_t ks_bytes(size_t cap)
{
	return sizeof(struct key_seen) + cap * KS_DIGEST;
}

static struct key_seen *ks_alloc(size_t cap)
{
	struct key_seen *k = esptag_secmem_alloc(ks_bytes(cap), NULL);

	if (!k)
		return NULL;
	k->cap = cap;
	k->bytes = ks_bytes(cap);
	k->dig = (void *)(k + 1);
	return k;
}

static bool slot_empty(const uint8_t *d)
{
	for (int i = 0; i < KS_DIGEST; i++)
		if (d[i])
			return false;
	return true;
}

/* The slot holding h, or the empty one where it would go. */
static uint8_t *ks_slot(const struct key_seen *k, const uint8_t h[KS_DIGEST])
{
	uint64_t x;
	size_t i;

	memcpy(&x, h + 8, sizeof(x));
	for (i = x & (k->cap - 1);; i = (i + 1) & (k->cap - 1))
		if (slot_empty(k->dig[i]) || !memcmp(k->dig[i], h, KS_DIGEST))
			return k->dig[i];
}

int key_seen_init(struct daemon *d)
{
	struct key_seen *k;

	if (!hmac && !(hmac = EVP_MAC_fetch(NULL, "HMAC", NULL))) {
		log_err("OpenSSL: no HMAC");
		return -1;
	}
	k = ks_alloc(4096);
	if (!k)
		return -1;
	if (getrandom(k->secret, sizeof(k->secret), 0) != sizeof(k->secret)) {
		esptag_secmem_free(k, k->bytes);
		return -1;
	}
	d->kseen = k;
	return 0;
}

void key_seen_free(struct daemon *d)
{
	if (d->kseen)
		esptag_secmem_free(d->kseen, d->kseen->bytes);
	d->kseen = NULL;
	EVP_MAC_free(hmac);
	hmac = NULL;
}

/* HMAC-SHA256(secret, key_len || key || salt), truncated. 0 or -1. */
static int digest(const struct key_seen *k, const struct esptag_ctl_sa *c, uint8_t out[KS_DIGEST])
{
	uint8_t msg[1 + ESPTAG_KEY_MAX + ESPTAG_SALT_LEN], full[32];
	OSSL_PARAM prm[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
	size_t len = 0;
	int rc = -1;

	msg[0] = c->key_len;
	memcpy(msg + 1, c->key, c->key_len);
	memcpy(msg + 1 + c->key_len, c->salt, ESPTAG_SALT_LEN);
	if (ctx && EVP_MAC_init(ctx, k->secret, sizeof(k->secret), prm) &&
	    EVP_MAC_update(ctx, msg, 1 + c->key_len + ESPTAG_SALT_LEN) &&
	    EVP_MAC_final(ctx, full, &len, sizeof(full)) && len == sizeof(full)) {
		memcpy(out, full, KS_DIGEST);
		out[0] |= 1;
		rc = 0;
	}
	explicit_bzero(msg, sizeof(msg));
	explicit_bzero(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	return rc;
}

bool key_seen(struct daemon *d, const struct esptag_ctl_sa *c)
{
	uint8_t h[KS_DIGEST];
	bool seen;

	if (!d->kseen || digest(d->kseen, c, h))
		return false;
	seen = !slot_empty(ks_slot(d->kseen, h));
	explicit_bzero(h, sizeof(h));
	return seen;
}

/* Twice the slots, every digest moved over. */
static int ks_grow(struct daemon *d)
{
	struct key_seen *k = d->kseen, *n = ks_alloc(k->cap * 2);

	if (!n)
		return -1;
	memcpy(n->secret, k->secret, sizeof(k->secret));
	for (size_t i = 0; i < k->cap; i++)
		if (!slot_empty(k->dig[i]))
			memcpy(ks_slot(n, k->dig[i]), k->dig[i], KS_DIGEST);
	n->n = k->n;
	esptag_secmem_free(k, k->bytes);
	d->kseen = n;
	return 0;
}

int key_seen_add(struct daemon *d, const struct esptag_ctl_sa *c)
{
	uint8_t h[KS_DIGEST], *slot;

	if (!d->kseen || ((d->kseen->n + 1) * 2 > d->kseen->cap && ks_grow(d)))
		return -1;
	if (digest(d->kseen, c, h))
		return -1;
	slot = ks_slot(d->kseen, h);
	if (slot_empty(slot)) {
		memcpy(slot, h, KS_DIGEST);
		d->kseen->n++;
	}
	explicit_bzero(h, sizeof(h));
	return 0;
}
