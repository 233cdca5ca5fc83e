// SPDX-License-Identifier: GPL-2.0-only
/*
 * Wrapped SA keys (wrap.h, docs/protocol.md 1.10). Every primitive is
 * OpenSSL 3's: X25519 (EVP_PKEY, EVP_PKEY_derive), HKDF-SHA256 (EVP_KDF),
 * AES-256-GCM (EVP_CIPHER), SHA-256 (EVP_Digest). Intermediate secrets
 * (shared secret, PRK, KEK, plaintext key) are wiped before return or at
 * esptag_wrap_end().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include "esptag_proto.h"
#include "wrap.h"

int esptag_key_fingerprint(const uint8_t pub[ESPTAG_X25519_LEN], uint8_t fpr[ESPTAG_FPR_LEN])
{
	unsigned int len = 0;

	if (!EVP_Digest(pub, ESPTAG_X25519_LEN, fpr, &len, EVP_sha256(), NULL) ||
	    len != ESPTAG_FPR_LEN)
		return -1;
	return 0;
}

void esptag_fpr_str(const uint8_t fpr[ESPTAG_FPR_LEN], char out[ESPTAG_FPR_STRLEN])
{
	memcpy(out, "sha256:", 7);
	for (int i = 0; i < ESPTAG_FPR_LEN; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", fpr[i]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int esptag_fpr_parse(const char *s, uint8_t fpr[ESPTAG_FPR_LEN])
{
	int n = 0;

	if (!strncasecmp(s, "sha256:", 7))
		s += 7;
	while (*s) {
		int hi, lo;

		if (*s == ':') {
			s++;
			continue;
		}
		hi = hexval(s[0]);
		lo = hi < 0 ? -1 : hexval(s[1]);
		if (hi < 0 || lo < 0 || n == ESPTAG_FPR_LEN)
			return -1;
		fpr[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	return n == ESPTAG_FPR_LEN ? 0 : -1;
}

int esptag_x25519_pub(EVP_PKEY *k, uint8_t pub[ESPTAG_X25519_LEN])
{
	size_t len = ESPTAG_X25519_LEN;

	if (!k || EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != ESPTAG_X25519_LEN)
		return -1;
	return 0;
}

EVP_PKEY *esptag_x25519_from_priv(const uint8_t priv[ESPTAG_X25519_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, ESPTAG_X25519_LEN);
}

static EVP_PKEY *x25519_new(void)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
	EVP_PKEY *k = NULL;

	if (!c || EVP_PKEY_keygen_init(c) != 1 || EVP_PKEY_keygen(c, &k) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(c);
	return k;
}

static EVP_PKEY *read_key(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	EVP_PKEY *k;
	struct stat st;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (!fstat(fileno(f), &st) && (st.st_mode & 077))
		snprintf(err, errlen, "%s: mode %03o, readable by others", path,
			 st.st_mode & 0777);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || EVP_PKEY_get_id(k) != EVP_PKEY_X25519) {
		snprintf(err, errlen, "%s: not an X25519 private key (PKCS#8 PEM)", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

EVP_PKEY *esptag_identity_load(const char *dir, bool create, bool *created, char *err,
			       size_t errlen)
{
	char path[4096], tmp[4200];
	EVP_PKEY *k;
	FILE *f;
	int fd, ok;

	*created = false;
	err[0] = 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, ESPTAG_AGENT_KEY_FILE) >= (int)sizeof(path)) {
		snprintf(err, errlen, "state directory path too long");
		return NULL;
	}
	if (!access(path, F_OK) || !create)
		return read_key(path, err, errlen);	/* err: a warning when k */
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		return NULL;
	}
	k = x25519_new();
	if (!k) {
		snprintf(err, errlen, "cannot generate an X25519 key");
		return NULL;
	}
	/* Written whole under a temporary name, then linked in place: a
	 * second process starting at the same time keeps the first key. */
	snprintf(tmp, sizeof(tmp), "%s/.%s.%d", dir, ESPTAG_AGENT_KEY_FILE, (int)getpid());
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		EVP_PKEY_free(k);
		return NULL;
	}
	ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
	ok = !fflush(f) && !fsync(fileno(f)) && ok;
	ok = !fclose(f) && ok;
	if (!ok || (link(tmp, path) && errno != EEXIST)) {
		snprintf(err, errlen, "%s: cannot write the key: %s", path, strerror(errno));
		unlink(tmp);
		EVP_PKEY_free(k);
		return NULL;
	}
	unlink(tmp);
	EVP_PKEY_free(k);
	/* Whatever is there now is the key (ours, or another process's). */
	k = read_key(path, err, errlen);
	*created = k != NULL;
	return k;
}

size_t esptag_wrap_info(const struct esptag_rec_sa *sa, uint16_t port, uint32_t msg_id,
			uint16_t count, uint16_t index, uint8_t out[ESPTAG_WRAP_INFO_LEN])
{
	size_t n = sizeof(ESPTAG_WRAP_LABEL) - 1;
	uint16_t p = htons(port), cn = htons(count), ix = htons(index);
	uint32_t m = htonl(msg_id);

	memcpy(out, ESPTAG_WRAP_LABEL, n);
	memcpy(out + n, &p, 2);
	n += 2;
	memcpy(out + n, sa->local_mac, 6);
	n += 6;
	out[n++] = sa->nvlans;
	memcpy(out + n, sa->vlan, 8);
	n += 8;
	memcpy(out + n, &m, 4);
	n += 4;
	memcpy(out + n, &cn, 2);
	n += 2;
	memcpy(out + n, &ix, 2);
	n += 2;
	out[n++] = sa->dir;
	memcpy(out + n, &sa->spi, 4);	/* already big-endian */
	n += 4;
	return n;
}

void esptag_wrap_end(struct esptag_wrap_ctx *c)
{
	OPENSSL_cleanse(c->prk, sizeof(c->prk));
	EVP_KDF_CTX_free(c->kdf);
	EVP_CIPHER_CTX_free(c->aead);
	EVP_CIPHER_free(c->gcm);
	c->kdf = NULL;
	c->aead = NULL;
	c->gcm = NULL;
}

/* X25519 between our key and the peer's raw public key. */
static int x25519_derive(EVP_PKEY *ours, const uint8_t peer_pub[ESPTAG_X25519_LEN],
			 uint8_t shared[ESPTAG_X25519_LEN])
{
	EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer_pub,
						     ESPTAG_X25519_LEN);
	EVP_PKEY_CTX *c = peer ? EVP_PKEY_CTX_new(ours, NULL) : NULL;
	size_t len = ESPTAG_X25519_LEN;
	int ok;

	/* OpenSSL refuses a low-order peer point (an all-zero secret). */
	ok = c && EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, peer) == 1 &&
	     EVP_PKEY_derive(c, shared, &len) == 1 && len == ESPTAG_X25519_LEN;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(peer);
	if (!ok)
		OPENSSL_cleanse(shared, ESPTAG_X25519_LEN);
	return ok ? 0 : -1;
}

/*
 * The frame's state from the X25519 shared secret: HKDF-Extract once (the
 * PRK, RFC 5869 2.2; every record's HKDF shares IKM and salt), an
 * expand-only HKDF context and the AEAD objects for the records.
 */
static int frame_init(struct esptag_wrap_ctx *c, const uint8_t shared[ESPTAG_X25519_LEN],
		      const uint8_t eph_pub[ESPTAG_X25519_LEN],
		      const uint8_t agent_pub[ESPTAG_X25519_LEN])
{
	uint8_t salt[2 * ESPTAG_X25519_LEN];
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *x = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5];
	int ok;

	c->kdf = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	c->aead = EVP_CIPHER_CTX_new();
	c->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	memcpy(salt, eph_pub, ESPTAG_X25519_LEN);
	memcpy(salt + ESPTAG_X25519_LEN, agent_pub, ESPTAG_X25519_LEN);
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"EXTRACT_ONLY", 0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)shared,
						 ESPTAG_X25519_LEN);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt));
	p[4] = OSSL_PARAM_construct_end();
	ok = x && c->kdf && c->aead && c->gcm &&
	     EVP_KDF_derive(x, c->prk, sizeof(c->prk), p) == 1;
	EVP_KDF_CTX_free(x);
	EVP_KDF_free(kdf);
	if (!ok)
		esptag_wrap_end(c);
	return ok ? 0 : -1;
}

/*
 * A fresh ephemeral X25519 key (priv: its 32 private bytes, NULL: random
 * ones) and its public key. Imported from random bytes rather than made by
 * EVP_PKEY_keygen: the same key, a fifth cheaper (no keygen context, once
 * per ADD_SA frame). NULL on failure.
 */
static EVP_PKEY *x25519_ephemeral(const uint8_t *priv, uint8_t pub[ESPTAG_X25519_LEN])
{
	uint8_t e[ESPTAG_X25519_LEN];
	EVP_PKEY *k = NULL;

	if (priv)
		memcpy(e, priv, sizeof(e));
	if (priv || RAND_priv_bytes(e, sizeof(e)) == 1)
		k = esptag_x25519_from_priv(e);
	OPENSSL_cleanse(e, sizeof(e));
	if (k && esptag_x25519_pub(k, pub)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int esptag_wrap_begin(struct esptag_wrap_ctx *c, const uint8_t agent_pub[ESPTAG_X25519_LEN],
		      uint16_t port, uint32_t msg_id, uint16_t count, const uint8_t *eph_priv,
		      struct esptag_rec_wrap_key *wk)
{
	uint8_t shared[ESPTAG_X25519_LEN];
	EVP_PKEY *eph;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	memset(wk, 0, sizeof(*wk));
	c->port = port;
	c->msg_id = msg_id;
	c->count = count;
	esptag_rec_init(&wk->hdr, ESPTAG_REC_WRAP_KEY, sizeof(*wk));
	wk->msg_id = htonl(msg_id);
	eph = x25519_ephemeral(eph_priv, wk->eph_key);
	if (eph && !x25519_derive(eph, agent_pub, shared) &&
	    !frame_init(c, shared, wk->eph_key, agent_pub))
		rc = 0;
	EVP_PKEY_free(eph);
	OPENSSL_cleanse(shared, sizeof(shared));
	if (rc)
		esptag_wrap_end(c);
	return rc;
}

int esptag_unwrap_begin(struct esptag_wrap_ctx *c, EVP_PKEY *agent,
			const uint8_t agent_pub[ESPTAG_X25519_LEN],
			const struct esptag_rec_wrap_key *wk, uint16_t port, uint16_t count)
{
	uint8_t shared[ESPTAG_X25519_LEN];
	int rc = -1;

	memset(c, 0, sizeof(*c));
	c->port = port;
	c->msg_id = ntohl(wk->msg_id);
	c->count = count;
	if (!x25519_derive(agent, wk->eph_key, shared) &&
	    !frame_init(c, shared, wk->eph_key, agent_pub))
		rc = 0;
	OPENSSL_cleanse(shared, sizeof(shared));
	if (rc)
		esptag_wrap_end(c);
	return rc;
}

int esptag_wrap_kek(const struct esptag_wrap_ctx *c, const struct esptag_rec_sa *sa,
		    uint16_t index, uint8_t kek[32])
{
	uint8_t info[ESPTAG_WRAP_INFO_LEN];
	size_t ilen = esptag_wrap_info(sa, c->port, c->msg_id, c->count, index, info);
	OSSL_PARAM p[5];
	int ok;

	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"EXPAND_ONLY", 0);
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)c->prk,
						 sizeof(c->prk));
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, ilen);
	p[4] = OSSL_PARAM_construct_end();
	ok = c->kdf && index < c->count && EVP_KDF_derive(c->kdf, kek, 32, p) == 1;
	if (!ok)
		OPENSSL_cleanse(kek, 32);
	return ok ? 0 : -1;
}

/* AES-256-GCM with a zero nonce: every KEK is the record's own (the frame's
 * fresh ephemeral key, the record's position in it) and wraps exactly one
 * plaintext. */
static int gcm(struct esptag_wrap_ctx *c, bool enc, const uint8_t kek[32], const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, uint8_t *out, size_t len,
	       uint8_t tag[ESPTAG_WRAP_TAG_LEN])
{
	static const uint8_t nonce[12];
	EVP_CIPHER_CTX *x = c->aead;
	int n = 0, ok;

	ok = x && EVP_CipherInit_ex2(x, c->gcm, kek, nonce, enc, NULL) == 1 &&
	     EVP_CipherUpdate(x, NULL, &n, aad, (int)aad_len) == 1 &&
	     EVP_CipherUpdate(x, out, &n, in, (int)len) == 1 && n == (int)len;
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, ESPTAG_WRAP_TAG_LEN, tag) == 1;
	ok = ok && EVP_CipherFinal_ex(x, out + len, &n) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, ESPTAG_WRAP_TAG_LEN, tag) == 1;
	return ok ? 0 : -1;
}

int esptag_wrap_seal(struct esptag_wrap_ctx *c, const struct esptag_rec_sa *sa, uint16_t index,
		     struct esptag_rec_sa_wrap *w)
{
	uint8_t kek[32], pt[ESPTAG_WRAP_CT_LEN + 16];
	int rc = -1;

	memset(w, 0, sizeof(*w));
	w->sa = *sa;
	OPENSSL_cleanse(w->sa.key, sizeof(w->sa.key));
	OPENSSL_cleanse(w->sa.salt, sizeof(w->sa.salt));
	esptag_rec_init(&w->sa.hdr, ESPTAG_REC_SA_WRAP, sizeof(*w));
	memcpy(pt, sa->key, ESPTAG_KEY_MAX);
	memcpy(pt + ESPTAG_KEY_MAX, sa->salt, ESPTAG_SALT_LEN);
	if (!esptag_wrap_kek(c, &w->sa, index, kek) &&
	    !gcm(c, true, kek, (const uint8_t *)w, ESPTAG_WRAP_AAD_LEN, pt, w->wrapped,
		 ESPTAG_WRAP_CT_LEN, w->tag))
		rc = 0;
	if (rc)
		OPENSSL_cleanse(w, sizeof(*w));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(pt, sizeof(pt));
	return rc;
}

int esptag_wrap_open(struct esptag_wrap_ctx *c, const struct esptag_rec_sa_wrap *w,
		     uint16_t index, struct esptag_rec_sa *sa)
{
	uint8_t kek[32], pt[ESPTAG_WRAP_CT_LEN + 16], tag[ESPTAG_WRAP_TAG_LEN];
	int rc = -1;

	memcpy(tag, w->tag, sizeof(tag));
	if (esptag_wrap_kek(c, &w->sa, index, kek) ||
	    gcm(c, false, kek, (const uint8_t *)w, ESPTAG_WRAP_AAD_LEN, w->wrapped, pt,
		ESPTAG_WRAP_CT_LEN, tag))
		goto out;
	*sa = w->sa;
	esptag_rec_init(&sa->hdr, ESPTAG_REC_SA, sizeof(*sa));
	memcpy(sa->key, pt, ESPTAG_KEY_MAX);
	memcpy(sa->salt, pt + ESPTAG_KEY_MAX, ESPTAG_SALT_LEN);
	rc = 0;
out:
	if (rc)
		OPENSSL_cleanse(sa, sizeof(*sa));
	OPENSSL_cleanse(kek, sizeof(kek));
	OPENSSL_cleanse(pt, sizeof(pt));
	return rc;
}
