// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's ESP/AES-GCM core against the published ESP packets of
 * draft-mcgrew-gcm-test-01 (RFC 4106 test cases): agent_esp_seal() must
 * produce each packet byte for byte from its plaintext, and
 * agent_esp_open() must accept it and give the plaintext back. 32-bit and
 * 64-bit (ESN) sequence numbers, AES-GCM-128 and -256. Also: ICV, AAD and
 * ESN high-half tampering are refused, and RFC 4303 A2 ESN inference.
 */
#include <openssl/evp.h>
#include <arpa/inet.h>
#include "../lib/test.h"
#include "agent.h"

struct vec {
	const char *key, *salt, *iv, *pt, *pkt;
	uint32_t spi;
	uint64_t seq;
	int esn;
};

/* draft-mcgrew-gcm-test-01 section 4: the AES-GCM-128/256 ESP test cases
 * (the AES-192 cases are left out: esptag has no AES-192). */
static const struct vec vecs[] = {
    {.key = "4c80cdefbb5d10da906ac73c3613a634",
     .spi = 0x00004321,
     .seq = 0x8765432100000000ull,
     .esn = 1,
     .salt = "2e443b68",
     .iv = "4956ed7e3b244cfe",
     .pt = "45000048699a000080114db7c0a80102c0a801010a9bf15638d3010000010000"
	   "00000000045f736970045f756470037369700963796265726369747902646b00"
	   "0021000101020201",
     .pkt = "00004321000000004956ed7e3b244cfefecf537e729d5b07dc30df528dd22b76"
	    "8d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d"
	    "15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe72"
	    "2fd04796562dfdb4"},
    {.key = "feffe9928665731c6d6a8f9467308308",
     .spi = 0x0000a5f8,
     .seq = 0x0000000aull,
     .esn = 0,
     .salt = "cafebabe",
     .iv = "facedbaddecaf888",
     .pt = "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
	   "0001000000000000037369700963796265726369747902646b00000100010001",
     .pkt = "0000a5f80000000afacedbaddecaf888deb22cd9b07c72c16e3a65beeb8df304"
	    "a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642"
	    "cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a"},
    {.key = "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
     .spi = 0x4a2cbfe3,
     .seq = 0x00000002ull,
     .esn = 0,
     .salt = "11223344",
     .iv = "0102030405060708",
     .pt = "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000"
	   "7002400020bf0000020405b40101040201020201",
     .pkt = "4a2cbfe3000000020102030405060708ff425c9b724599df7a3bcd510194e00d"
	    "6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99d"
	    "ef842d8eb335f4eecfdbf831824b4c4915956c96"},
    {.key = "00000000000000000000000000000000",
     .spi = 0x00000000,
     .seq = 0x00000001ull,
     .esn = 0,
     .salt = "00000000",
     .iv = "0000000000000000",
     .pt = "4500003c99c500008001cb7a40679318010101010800075c0200440061626364"
	   "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
     .pkt = "000000000000000100000000000000004688daf2f973a392732909c331d56d60"
	    "f694abaa414b5e7ff5fdcdfff5e9a284456476492719ffb64de7d9dca1e1d894"
	    "bc3bd57873ed4d181d19d4d5c8c18af3f821d496eeb096e98ad2b69e4799c71d"},
    {.key = "3de09874b388e6491988d0c3607eae1f",
     .spi = 0x42f67e3f,
     .seq = 0x1010101010101010ull,
     .esn = 1,
     .salt = "57690e43",
     .iv = "4e280000a2fca1a3",
     .pt = "4500003c99c300008001cb7c40679318010101010800085c0200430061626364"
	   "65666768696a6b6c6d6e6f707172737475767761626364656667686901020201",
     .pkt = "42f67e3f101010104e280000a2fca1a3fba2caa4853cf9f0f22cb10d86dd83b0"
	    "fec75691cf1a04b00d1138ec9c35791765acbd8701ad79845bf9fe3fba487bc9"
	    "1755e6662b4c8d0d1f5e22739530320ae0d731cc978ecafaeae88f00e80d6e48"},
    {.key = "3de09874b388e6491988d0c3607eae1f",
     .spi = 0x42f67e3f,
     .seq = 0x1010101010101010ull,
     .esn = 1,
     .salt = "57690e43",
     .iv = "4e280000a2fca1a3",
     .pt = "4500001c42a200008001441f406793b6e00000020a00f5ff01020201",
     .pkt = "42f67e3f101010104e280000a2fca1a3fba2ca845e5df9f0f22c3e6e86dd831e"
	    "1fc65792cd1af9130e1379ed369f071f35e034be95f112e4e7d05d35"},
    {.key = "abbccddef00112233445566778899aab",
     .spi = 0x00000100,
     .seq = 0x0000000000000001ull,
     .esn = 1,
     .salt = "decaf888",
     .iv = "cafedebaceface74",
     .pt = "4500004933ba00007f119106c3fb1d10c2b1d326c02831ce0035dd7b800302d5"
	   "00004e20001e8c18d75b81dc91baa0476b91b924b280389d92c963bac046ec95"
	   "9b6266c04722b14923010101",
     .pkt = "0000010000000001cafedebaceface7418a6fd42f72cbf4ab2a2ea901f73d814"
	    "e3e7f243d95412e1c349c1d2fbec168f9190feebaf2cb01984e65863965d7472"
	    "b79da345e0e780191f0d2f0e0f496c226f2127b27db35724e7845d68651f57e6"
	    "5f354f75ff17015769623436"},
    {.key = "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
     .spi = 0x17405e67,
     .seq = 0x156f3126dd0db99bull,
     .esn = 1,
     .salt = "73616c74",
     .iv = "616e640169766563",
     .pt = "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb712602"
	   "50101f646d540001",
     .pkt = "17405e67dd0db99b616e640169766563f2d69ecdbd5a0d5b8d5ef38bad4da58d"
	    "1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3"
	    "b7eebca614c89b35"},
    {.key = "3de09874b388e6491988d0c3607eae1f",
     .spi = 0x42f67e3f,
     .seq = 0x1010101010101010ull,
     .esn = 1,
     .salt = "57690e43",
     .iv = "4e280000a2fca1a3",
     .pt = "45000049333e00007f119182c3fb1d10c2b1d326c02831ce0035cb458003025b"
	   "000001e0001e8c18d65759d52284a0352c71475c8880391c764d6e5ee0496b32"
	   "5ae270c03899493915010101",
     .pkt = "42f67e3f101010104e280000a2fca1a3fba2cad12fc1f9f00d3cebf305410db8"
	    "3d7784b607323d220f24b0a97d54182800cadb0f68d99ef0e0c0c89ae9bea888"
	    "4e52d65bc1afd0740f742444747b5b39ab533163aad4550ee5160975cdb608c5"
	    "769189609763b8e18caa81e2"},
    {.key = "abbccddef00112233445566778899aababbccddef00112233445566778899aab",
     .spi = 0x17405e67,
     .seq = 0x156f3126dd0db99bull,
     .esn = 1,
     .salt = "73616c74",
     .iv = "616e640169766563",
     .pt = "636973636f0172756c657301746865016e6574776501646566696e6501746865"
	   "746563686e6f6c6f67696573017468617477696c6c01646566696e65746f6d6f"
	   "72726f7701020201",
     .pkt = "17405e67dd0db99b616e640169766563d4b7ed86a1777f2ea13d6973d324c69e"
	    "7b43f826fb56831226508bebd2dceb18d0a6df10e5487df074113e14c641024e"
	    "3e6773d91a62ee429b043a10e3efe6b012a49363412364f8c0cac587f249e56b"
	    "11e24f30e44ccc76"},
    {.key = "7d773d00c144c525ac619d18c84a3f47",
     .spi = 0x335467ae,
     .seq = 0xffffffffull,
     .esn = 0,
     .salt = "d9664267",
     .iv = "43457e9182443bc6",
     .pt = "01020201",
     .pkt = "335467aeffffffff43457e9182443bc6437f866bcb3f699fe9b0822bac961c45"
	    "04bef270"},
    {.key = "abbccddef00112233445566778899aab",
     .spi = 0x00000100,
     .seq = 0x0000000000000001ull,
     .esn = 1,
     .salt = "decaf888",
     .iv = "cafedebaceface74",
     .pt = "746f016265016f72016e6f7401746f0162650001",
     .pkt = "0000010000000001cafedebaceface7429c9fc69a197d038ccdd14e2ddfcaa05"
	    "43332164412503524303ed3c6c5f283843af8c3e"},
    {.key = "6c6567616c697a656d6172696a75616e61616e64646f69746265666f72656961",
     .spi = 0x796b6963,
     .seq = 0xffffffffffffffffull,
     .esn = 1,
     .salt = "7475726e",
     .iv = "333021696765746d",
     .pt = "45000030da3a00008001df3bc0a80005c0a800010800c6cd0200070061626364"
	   "65666768696a6b6c6d6e6f707172737401020201",
     .pkt = "796b6963ffffffff333021696765746df97ab2aa356d8edce17644ac8c78e25d"
	    "d24dedbb29ebf1b64a274b39b49c3a864cd3d78ca4ae68a32b42458fb57dbe82"
	    "1dcc63b9d0937ba2945f669368661a329fb4c053"},
};

#define NV (sizeof(vecs) / sizeof(vecs[0]))

struct parsed {
	uint8_t key[32], salt[4], iv[8], pt[256], pkt[300];
	int klen, ptlen, pktlen;
};

static int parse(const struct vec *v, struct parsed *p)
{
	p->klen = t_unhex(v->key, p->key, sizeof(p->key));
	p->ptlen = t_unhex(v->pt, p->pt, sizeof(p->pt));
	p->pktlen = t_unhex(v->pkt, p->pkt, sizeof(p->pkt));
	if (t_unhex(v->salt, p->salt, 4) != 4 || t_unhex(v->iv, p->iv, 8) != 8)
		return -1;
	return (p->klen == 16 || p->klen == 32) && p->ptlen > 0 && p->pktlen > 0 ? 0 : -1;
}

static int sa_setup(struct agent_sa *sa, const struct vec *v, const struct parsed *p, bool enc)
{
	memset(sa, 0, sizeof(*sa));
	sa->rec.sa_flags = v->esn ? ESPTAG_SA_F_ESN : 0;
	sa->rec.spi = htonl(v->spi);
	return agent_esp_key(sa, p->key, p->klen, p->salt, enc);
}

static void test_vectors_seal(void)
{
	uint8_t buf[512];
	unsigned int i;

	for (i = 0; i < NV; i++) {
		struct parsed p;
		struct agent_sa sa;
		size_t plen, n;
		uint8_t pad, nh;

		T_ASSERT(parse(&vecs[i], &p) == 0);
		T_ASSERT(sa_setup(&sa, &vecs[i], &p, true) == 0);
		pad = p.pt[p.ptlen - 2];
		nh = p.pt[p.ptlen - 1];
		plen = p.ptlen - 2 - pad;
		/* ESP header as the host writes it: SPI, seq_lo, explicit IV. */
		memcpy(buf, p.pkt, 16);
		T_EQ(((uint32_t)buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3]), vecs[i].spi);
		memcpy(buf + 16, p.pt, plen);
		n = agent_esp_seal(&sa, buf, plen, nh, vecs[i].seq >> 32);
		agent_esp_unkey(&sa);
		if (n != (size_t)p.pktlen || memcmp(buf, p.pkt, n)) {
			fprintf(stderr, "vector %u\n", i + 1);
			T_MEMEQ(buf, n, p.pkt, (size_t)p.pktlen);
		}
	}
}

static void test_vectors_open(void)
{
	uint8_t out[512];
	unsigned int i;

	for (i = 0; i < NV; i++) {
		struct parsed p;
		struct agent_sa sa;
		uint8_t pad = 0xee, nh = 0xee;
		int rc;

		T_ASSERT(parse(&vecs[i], &p) == 0);
		T_ASSERT(sa_setup(&sa, &vecs[i], &p, false) == 0);
		rc = agent_esp_open(&sa, p.pkt, p.pktlen, out, vecs[i].seq >> 32, &pad, &nh);
		agent_esp_unkey(&sa);
		if (rc)
			fprintf(stderr, "vector %u: open rc %d\n", i + 1, rc);
		T_EQ(rc, 0);
		T_MEMEQ(out, (size_t)p.pktlen - 32, p.pt, (size_t)p.ptlen);
		T_EQ(pad, p.pt[p.ptlen - 2]);
		T_EQ(nh, p.pt[p.ptlen - 1]);
	}
}

/* In place (out == ciphertext), as the agent's Rx path may do. */
static void test_vectors_open_in_place(void)
{
	unsigned int i;

	for (i = 0; i < NV; i++) {
		struct parsed p;
		struct agent_sa sa;
		uint8_t pad, nh;

		T_ASSERT(parse(&vecs[i], &p) == 0);
		T_ASSERT(sa_setup(&sa, &vecs[i], &p, false) == 0);
		T_EQ(agent_esp_open(&sa, p.pkt, p.pktlen, p.pkt + 16, vecs[i].seq >> 32, &pad, &nh),
		     0);
		agent_esp_unkey(&sa);
		T_MEMEQ(p.pkt + 16, (size_t)p.pktlen - 32, p.pt, (size_t)p.ptlen);
	}
}

static void test_tamper_refused(void)
{
	uint8_t out[512];
	unsigned int i;
	int pos;

	for (i = 0; i < NV; i++) {
		struct parsed p;
		struct agent_sa sa;
		uint8_t pad, nh;

		T_ASSERT(parse(&vecs[i], &p) == 0);
		T_ASSERT(sa_setup(&sa, &vecs[i], &p, false) == 0);
		/* SPI (AAD), seq (AAD), IV (nonce), ciphertext, ICV. */
		for (pos = 0; pos < p.pktlen; pos += (pos < 16 ? 4 : 7)) {
			p.pkt[pos] ^= 0x01;
			T_EQ(
			    agent_esp_open(&sa, p.pkt, p.pktlen, out, vecs[i].seq >> 32, &pad, &nh),
			    -1);
			p.pkt[pos] ^= 0x01;
		}
		T_EQ(agent_esp_open(&sa, p.pkt, p.pktlen, out, vecs[i].seq >> 32, &pad, &nh), 0);
		/* With ESN the high half is authenticated though not sent. */
		if (vecs[i].esn)
			T_EQ(agent_esp_open(&sa, p.pkt, p.pktlen, out, (vecs[i].seq >> 32) + 1,
					    &pad, &nh),
			     -1);
		agent_esp_unkey(&sa);
	}
}

static void test_both_esn_kinds_covered(void)
{
	unsigned int i, n32 = 0, n64 = 0, n128 = 0, n256 = 0;

	for (i = 0; i < NV; i++) {
		struct parsed p;

		T_ASSERT(parse(&vecs[i], &p) == 0);
		vecs[i].esn ? n64++ : n32++;
		p.klen == 16 ? n128++ : n256++;
	}
	T_ASSERT(n32 >= 3 && n64 >= 3 && n128 >= 3 && n256 >= 3);
}

static void test_seal_roundtrip_padding(void)
{
	static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t salt[4] = {0xde, 0xad, 0xbe, 0xef};
	uint8_t buf[128], ref[128], out[128], pad, nh;
	struct agent_sa enc, dec;
	size_t plen, n;

	memset(&enc, 0, sizeof(enc));
	memset(&dec, 0, sizeof(dec));
	T_ASSERT(agent_esp_key(&enc, key, 16, salt, true) == 0);
	T_ASSERT(agent_esp_key(&dec, key, 16, salt, false) == 0);
	for (plen = 0; plen < 40; plen++) {
		memset(buf, 0, 16);
		buf[3] = 7;
		buf[7] = plen + 1;
		buf[15] = plen + 1;
		memset(buf + 16, 0xa5, plen);
		n = agent_esp_seal(&enc, buf, plen, 17, 0);
		/* RFC 4303: payload + pad + 2 is a multiple of 4, pad is 0..3. */
		T_EQ((n - 32) % 4, 0);
		T_ASSERT(n - 32 >= plen + 2 && n - 32 <= plen + 5);
		memcpy(ref, buf, n);
		T_EQ(agent_esp_open(&dec, buf, n, out, 0, &pad, &nh), 0);
		T_EQ(nh, 17);
		T_EQ(n - 32, plen + pad + 2);
		T_ASSERT(memcmp(ref, buf, n) == 0);
	}
	agent_esp_unkey(&enc);
	agent_esp_unkey(&dec);
}

static void test_esn_inference(void)
{
	/* RFC 4303 A2.1/A2.2 with W = 64. */
	T_EQ(agent_esn_infer(0x0000000500000100ull, 64, 0x00000101), 5);
	T_EQ(agent_esn_infer(0x0000000500000100ull, 64, 0x000000c1), 5); /* in window */
	T_EQ(agent_esn_infer(0x0000000500000100ull, 64, 0x00000010), 6); /* wrapped ahead */
	T_EQ(agent_esn_infer(0x0000000500000010ull, 64, 0xfffffff0), 4); /* window spans */
	T_EQ(agent_esn_infer(0x0000000500000010ull, 64, 0x00000020), 5);
	T_EQ(agent_esn_infer(0x00000005ffffffffull, 64, 0x00000002), 6);
	T_EQ(agent_esn_infer(0, 64, 1), 0);
	T_EQ(agent_esn_infer(0, 64, 0xfffffff0), 0);
}

int main(void)
{
	T_RUN(test_vectors_seal);
	T_RUN(test_vectors_open);
	T_RUN(test_vectors_open_in_place);
	T_RUN(test_tamper_refused);
	T_RUN(test_both_esn_kinds_covered);
	T_RUN(test_seal_roundtrip_padding);
	T_RUN(test_esn_inference);
	return t_done();
}
