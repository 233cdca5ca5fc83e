/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared agent fixture of the fuzz_agent_* targets (header-only). */
#ifndef FUZZ_AGENT_FIXTURE_H
#define FUZZ_AGENT_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "agent.h"
#include "esptag_proto.h"

static const uint8_t fx_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

static void fx_sa(struct agent *a, uint8_t dir, uint8_t family, uint8_t mode, uint32_t spi,
		  const char *daddr, const char *saddr, uint8_t flags, uint8_t klen)
{
	struct esptag_rec_sa r;

	memset(&r, 0, sizeof(r));
	esptag_rec_init(&r, ESPTAG_REC_SA, sizeof(r));
	r.dir = dir;
	r.family = family;
	r.proto = ESPTAG_IPPROTO_ESP;
	r.mode = mode;
	r.spi = htonl(spi);
	inet_pton(family == 4 ? AF_INET : AF_INET6, daddr, r.daddr);
	inet_pton(family == 4 ? AF_INET : AF_INET6, saddr, r.saddr);
	memcpy(r.local_mac, fx_mac, 6);
	r.alg = klen == 16 ? ESPTAG_ALG_AES_GCM_128 : ESPTAG_ALG_AES_GCM_256;
	r.key_len = klen;
	r.icv_len = 16;
	r.sa_flags = flags;
	r.replay_window = htons(64);
	memset(r.key, 0x11, klen);
	memset(r.salt, 0x22, 4);
	if (agent_sad_add(a, &r, 0) < 0)
		abort();
}

static void fx_populate(struct agent *a)
{
	struct esptag_rec_local l;

	fx_sa(a, ESPTAG_DIR_OUT, 4, ESPTAG_MODE_TRANSPORT, 0x100, "192.0.2.2", "192.0.2.1", 0, 16);
	fx_sa(a, ESPTAG_DIR_OUT, 6, ESPTAG_MODE_TUNNEL, 0x101, "2001:db8::2", "2001:db8::1", 0, 32);
	fx_sa(a, ESPTAG_DIR_OUT, 4, ESPTAG_MODE_TRANSPORT, 0x102, "192.0.2.99", "192.0.2.1",
	      ESPTAG_SA_F_ESN, 16);
	fx_sa(a, ESPTAG_DIR_IN, 4, ESPTAG_MODE_TRANSPORT, 0x102, "192.0.2.99", "0.0.0.0",
	      ESPTAG_SA_F_ESN, 16);
	fx_sa(a, ESPTAG_DIR_IN, 4, ESPTAG_MODE_TRANSPORT, 0x200, "192.0.2.1", "0.0.0.0", 0, 16);
	fx_sa(a, ESPTAG_DIR_IN, 6, ESPTAG_MODE_TUNNEL, 0x201, "2001:db8::1", "2001:db8::2", 0, 32);
	memset(&l, 0, sizeof(l));
	esptag_rec_init(&l, ESPTAG_REC_LOCAL, sizeof(l));
	l.family = 4;
	memcpy(l.mac, fx_mac, 6);
	inet_pton(AF_INET, "192.0.2.99", l.addr);
	agent_local_add(a, &l, 0);
}

#define FX_NSA 6

static struct agent *fixture_agent(void)
{
	static struct agent a;
	static int ready;
	const struct agent_opts o = {.capacity = 64, .port_limit = 32, .local_capacity = 8};

	/* A fuzzed config request may have changed the SAD: start over. */
	if (ready && (a.sad_used != FX_NSA || a.nlocal != 1 || !agent_sad_get(&a, 0) ||
		      !agent_sad_get(&a, FX_NSA - 1))) {
		agent_fini(&a);
		ready = 0;
	}
	if (!ready) {
		if (agent_init(&a, &o, NULL))
			abort();
		fx_populate(&a);
		ready = 1;
	}
	return &a;
}

/* Invariants of every output frame. */
static void fixture_check_outputs(struct agent *a)
{
	int s;
	unsigned int i;

	for (s = 0; s < 2; s++) {
		for (i = 0; i < a->q[s].n; i++) {
			const struct agent_pkt *p = &a->q[s].pkt[i];

			struct esptag_meta_view m;

			if (p->len > AGENT_SLOT || p->len < 14)
				abort();
			/* Every Rx tag the agent writes is one the host accepts,
			 * and OK is only ever reported with a real SA. */
			if (s == AGENT_HOST && p->data[12] == 0x88 && p->data[13] == 0xb6) {
				if (esptag_meta_decode(p->data + 12, p->len - 12, a->eth_meta, &m))
					abort();
				if (m.result == ESPTAG_RES_OK && !agent_sad_get(a, m.sa_index))
					abort();
			}
		}
	}
}

#endif
