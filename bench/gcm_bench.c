// SPDX-License-Identifier: GPL-2.0-only
/*
 * Baseline of benchmark 5: a bare OpenSSL AES-128-GCM seal loop with one
 * reused EVP_CIPHER_CTX (keyed once; per packet only the nonce is set, the
 * way user/agent/esp.c does it), over exactly the bytes the agent encrypts
 * for a UDP packet of the given payload (UDP header + payload + ESP pad +
 * pad length + next header), 8 bytes of AAD (SPI, seq), 16-byte tag.
 *
 *   gcm_bench PAYLOAD SECONDS SAMPLES   -> one JSON line: pps per wall second
 *                                          (samples) and per CPU second (cpu_samples)
 *
 * Pin it with taskset to the CPU the agent gets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static uint8_t buf[9216 + 16];
	uint8_t key[16], nonce[12] = { 1, 2, 3, 4 }, aad[8] = { 0, 0, 0x10, 0x01 };
	int payload, samples, outl;
	double secs, *cpu;
	size_t len;
	EVP_CIPHER_CTX *ctx;

	if (argc != 4 || (payload = atoi(argv[1])) < 0 || payload > 9000 ||
	    (secs = atof(argv[2])) <= 0 || (samples = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: gcm_bench PAYLOAD SECONDS SAMPLES\n");
		return 2;
	}
	len = 8 + payload + 2;
	len = (len + 3) & ~(size_t)3;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = 0xa0 + i;	/* a throwaway benchmark key */
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, NULL) != 1) {
		fprintf(stderr, "gcm_bench: OpenSSL AES-GCM set-up failed\n");
		return 1;
	}
	cpu = calloc(samples, sizeof(*cpu));
	if (!cpu)
		return 1;
	printf("{\"bench\":\"gcm\",\"what\":\"openssl_gcm_%d\",\"unit\":\"pps\",\"payload\":%d,"
	       "\"plaintext_bytes\":%zu,\"samples\":[", payload, payload, len);
	for (int s = 0; s < samples; s++) {
		uint64_t t0 = clock_ns(CLOCK_MONOTONIC), end = t0 + (uint64_t)(secs * 1e9), n = 0, t;
		uint64_t c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);

		do {
			for (int k = 0; k < 256; k++, n++) {
				uint64_t seq = n + 1;

				memcpy(nonce + 4, &seq, 8);
				memcpy(aad + 4, &seq, 4);
				if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 ||
				    EVP_EncryptUpdate(ctx, NULL, &outl, aad, sizeof(aad)) != 1 ||
				    EVP_EncryptUpdate(ctx, buf, &outl, buf, len) != 1 ||
				    EVP_EncryptFinal_ex(ctx, buf + len, &outl) != 1 ||
				    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, buf + len) != 1) {
					fprintf(stderr, "gcm_bench: seal failed\n");
					return 1;
				}
			}
			t = clock_ns(CLOCK_MONOTONIC);
		} while (t < end);
		cpu[s] = n / ((clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9);
		printf("%s%.1f", s ? "," : "", n / ((t - t0) / 1e9));
		fflush(stdout);
	}
	/* Packets per second of CPU time: what one core does when it is not
	 * shared (other work on the machine takes wall time, not CPU time). */
	printf("],\"cpu_samples\":[");
	for (int s = 0; s < samples; s++)
		printf("%s%.1f", s ? "," : "", cpu[s]);
	printf("]}\n");
	free(cpu);
	EVP_CIPHER_CTX_free(ctx);
	return 0;
}
