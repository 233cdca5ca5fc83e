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
#define KS_DIGEST	32

struct key_seen {
	uint8_t secret[KS_SECRET];
	size_t n, cap;			/* digests held, room for */
	size_t bytes;			/* mapping size */
	uint8_t (*dig)[KS_DIGEST];	/* in the same mapping, after this header */
};

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

int key_seen_init(struct daemon *d)
{
	struct key_seen *k = ks_alloc(1024);

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
}

/* HMAC-SHA256(secret, key_len || key || salt). 0 or -1. */
static int digest(const struct key_seen *k, const struct esptag_ctl_sa *c, uint8_t out[KS_DIGEST])
{
	uint8_t msg[1 + ESPTAG_KEY_MAX + ESPTAG_SALT_LEN];
	OSSL_PARAM prm[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t len = 0;
	int rc = -1;

	msg[0] = c->key_len;
	memcpy(msg + 1, c->key, c->key_len);
	memcpy(msg + 1 + c->key_len, c->salt, ESPTAG_SALT_LEN);
	if (ctx && EVP_MAC_init(ctx, k->secret, sizeof(k->secret), prm) &&
	    EVP_MAC_update(ctx, msg, 1 + c->key_len + ESPTAG_SALT_LEN) &&
	    EVP_MAC_final(ctx, out, &len, KS_DIGEST) && len == KS_DIGEST)
		rc = 0;
	explicit_bzero(msg, sizeof(msg));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return rc;
}

bool key_seen(struct daemon *d, const struct esptag_ctl_sa *c)
{
	uint8_t h[KS_DIGEST];
	bool seen = false;

	if (!d->kseen || digest(d->kseen, c, h))
		return false;
	for (size_t i = 0; i < d->kseen->n && !seen; i++)
		seen = !memcmp(d->kseen->dig[i], h, KS_DIGEST);
	explicit_bzero(h, sizeof(h));
	return seen;
}

int key_seen_add(struct daemon *d, const struct esptag_ctl_sa *c)
{
	struct key_seen *k = d->kseen;

	if (!k)
		return -1;
	if (k->n == k->cap) {
		struct key_seen *n = ks_alloc(k->cap * 2);

		if (!n)
			return -1;
		memcpy(n->secret, k->secret, sizeof(k->secret));
		memcpy(n->dig, k->dig, k->n * KS_DIGEST);
		n->n = k->n;
		esptag_secmem_free(k, k->bytes);
		d->kseen = k = n;
	}
	if (digest(k, c, k->dig[k->n]))
		return -1;
	k->n++;
	return 0;
}
