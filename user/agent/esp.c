// SPDX-License-Identifier: GPL-2.0-only
/*
 * ESP (RFC 4303) with AES-GCM (RFC 4106) through OpenSSL EVP. Each SA owns
 * one EVP_CIPHER_CTX keyed once at ADD_SA; per packet only the nonce is set
 * (EVP_*Init_ex with a NULL cipher and key keeps the key schedule), so the
 * data path neither creates contexts nor allocates.
 */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#include "agent.h"

int agent_esp_key(struct agent_sa *sa, const uint8_t *key, unsigned int key_len,
		  const uint8_t *salt, bool encrypt)
{
	const EVP_CIPHER *c;

	if (key_len == 16)
		c = EVP_aes_128_gcm();
	else if (key_len == 32)
		c = EVP_aes_256_gcm();
	else
		return -1;
	sa->ctx = EVP_CIPHER_CTX_new();
	if (!sa->ctx)
		return -1;
	if (EVP_CipherInit_ex(sa->ctx, c, NULL, NULL, NULL, encrypt ? 1 : 0) != 1 ||
	    EVP_CIPHER_CTX_ctrl(sa->ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_CipherInit_ex(sa->ctx, NULL, NULL, key, NULL, encrypt ? 1 : 0) != 1) {
		EVP_CIPHER_CTX_free(sa->ctx);
		sa->ctx = NULL;
		return -1;
	}
	memcpy(sa->salt, salt, ESPTAG_SALT_LEN);
	return 0;
}

void agent_esp_unkey(struct agent_sa *sa)
{
	/* EVP_CIPHER_CTX_free cleanses the cipher data (key schedule). */
	EVP_CIPHER_CTX_free(sa->ctx);
	sa->ctx = NULL;
	OPENSSL_cleanse(sa->salt, sizeof(sa->salt));
}

static size_t build_aad(const struct agent_sa *sa, const uint8_t *esp, uint32_t seq_hi,
			uint8_t *aad)
{
	memcpy(aad, esp, 4); /* SPI */
	if (sa->rec.sa_flags & ESPTAG_SA_F_ESN) {
		aad[4] = seq_hi >> 24;
		aad[5] = seq_hi >> 16;
		aad[6] = seq_hi >> 8;
		aad[7] = seq_hi;
		memcpy(aad + 8, esp + 4, 4); /* seq_lo */
		return 12;
	}
	memcpy(aad + 4, esp + 4, 4);
	return 8;
}

size_t agent_esp_seal(struct agent_sa *sa, uint8_t *esp, size_t plen, uint8_t next_hdr,
		      uint32_t seq_hi)
{
	return agent_esp_seal_ctx(sa->ctx, sa, esp, plen, next_hdr, seq_hi);
}

int agent_esp_open(struct agent_sa *sa, const uint8_t *esp, size_t len, uint8_t *out,
		   uint32_t seq_hi, uint8_t *pad_len, uint8_t *next_hdr)
{
	return agent_esp_open_ctx(sa->ctx, sa, esp, len, out, seq_hi, pad_len, next_hdr);
}

EVP_CIPHER_CTX *agent_esp_ctx_dup(const struct agent_sa *sa)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (c && EVP_CIPHER_CTX_copy(c, sa->ctx) != 1) {
		EVP_CIPHER_CTX_free(c);
		c = NULL;
	}
	return c;
}

void agent_esp_ctx_free(EVP_CIPHER_CTX *c)
{
	EVP_CIPHER_CTX_free(c);
}

size_t agent_esp_seal_ctx(EVP_CIPHER_CTX *ctx, const struct agent_sa *sa, uint8_t *esp,
			  size_t plen, uint8_t next_hdr, uint32_t seq_hi)
{
	uint8_t nonce[12], aad[12], *pt = esp + sizeof(struct esptag_esp_hdr);
	unsigned int pad = (4 - ((plen + 2) & 3)) & 3, i;
	size_t aad_len, ct_len;
	int outl;

	for (i = 0; i < pad; i++)
		pt[plen + i] = i + 1;
	pt[plen + pad] = pad;
	pt[plen + pad + 1] = next_hdr;
	ct_len = plen + pad + 2;

	memcpy(nonce, sa->salt, 4);
	memcpy(nonce + 4, esp + 8, 8);
	aad_len = build_aad(sa, esp, seq_hi, aad);
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &outl, aad, aad_len) != 1 ||
	    EVP_EncryptUpdate(ctx, pt, &outl, pt, ct_len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, pt + ct_len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ESPTAG_ICV_LEN, pt + ct_len) != 1)
		return 0;
	return sizeof(struct esptag_esp_hdr) + ct_len + ESPTAG_ICV_LEN;
}

int agent_esp_open_ctx(EVP_CIPHER_CTX *ctx, const struct agent_sa *sa, const uint8_t *esp,
		       size_t len, uint8_t *out, uint32_t seq_hi, uint8_t *pad_len,
		       uint8_t *next_hdr)
{
	uint8_t nonce[12], aad[12], tag[ESPTAG_ICV_LEN];
	size_t hl = sizeof(struct esptag_esp_hdr), aad_len, ct_len;
	unsigned int i, pad;
	int outl;

	if (len < hl + 2 + ESPTAG_ICV_LEN)
		return -2;
	ct_len = len - hl - ESPTAG_ICV_LEN;
	memcpy(nonce, sa->salt, 4);
	memcpy(nonce + 4, esp + 8, 8);
	memcpy(tag, esp + len - ESPTAG_ICV_LEN, ESPTAG_ICV_LEN);
	aad_len = build_aad(sa, esp, seq_hi, aad);
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &outl, aad, aad_len) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &outl, esp + hl, ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ESPTAG_ICV_LEN, tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + ct_len, &outl) != 1)
		return -1;
	pad = out[ct_len - 2];
	if (pad + 2 > ct_len)
		return -2;
	for (i = 0; i < pad; i++)
		if (out[ct_len - 2 - pad + i] != i + 1)
			return -2;
	*pad_len = pad;
	*next_hdr = out[ct_len - 1];
	return 0;
}

uint32_t agent_esn_infer(uint64_t top, uint32_t w, uint32_t seq)
{
	uint32_t tl = (uint32_t)top, th = top >> 32;

	if (!w)
		w = 1;
	if (tl >= w - 1) {
		/* Window within one subspace. */
		return seq >= tl - w + 1 ? th : th + 1;
	}
	/* Window spans two subspaces. */
	if (seq >= tl - w + 1)
		return th ? th - 1 : 0; /* nothing below subspace 0 */
	return th;
}
