// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's SAD (the table of local addresses is in local.c).
 * SAs are found by index (Tx: the index the host put in the metadata) or by
 * the extended key (Rx: daddr, proto, SPI, dir, domain = local MAC + VLAN
 * IDs). Both tables are fixed-size arrays allocated at start-up with
 * chained hashing through indices, so nothing is allocated per packet.
 */
#include <string.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include "agent.h"

/*
 * Free SA indices: a binary min-heap, so an ADD_SA always takes the lowest
 * free index and live SAs stay packed at the start of the data path's
 * per-SA arrays (fewer cache lines and pages touched than indices spread
 * by the order of deletions).
 */
static void free_push(struct agent *a, uint32_t idx)
{
	uint32_t i = a->nfree++, parent;

	while (i && a->free_idx[parent = (i - 1) / 2] > idx) {
		a->free_idx[i] = a->free_idx[parent];
		i = parent;
	}
	a->free_idx[i] = idx;
}

static void free_pop(struct agent *a)
{
	uint32_t last = a->free_idx[--a->nfree], i = 0, c;

	while ((c = 2 * i + 1) < a->nfree) {
		if (c + 1 < a->nfree && a->free_idx[c + 1] < a->free_idx[c])
			c++;
		if (a->free_idx[c] >= last)
			break;
		a->free_idx[i] = a->free_idx[c];
		i = c;
	}
	if (a->nfree)
		a->free_idx[i] = last;
}

uint32_t agent_fnv(uint32_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 16777619u;
	return h;
}

static uint32_t key_hash(const struct agent_sa_key *k)
{
	return agent_fnv(2166136261u, k, sizeof(*k));
}

void agent_sa_key_from_rec(struct agent_sa_key *k, const struct esptag_rec_sa *r)
{
	unsigned int i;

	memset(k, 0, sizeof(*k));
	memcpy(k->daddr, r->daddr, r->family == 4 ? 4 : 16);
	k->family = r->family;
	k->proto = r->proto;
	k->dir = r->dir;
	k->nvlans = r->nvlans;
	k->spi = r->spi;
	memcpy(k->mac, r->local_mac, 6);
	for (i = 0; i < r->nvlans && i < 2; i++)
		k->vid[i] = ntohs(r->vlan[i].tci) & 0x0fff;
}

struct agent_sa *agent_sad_get(struct agent *a, uint32_t idx)
{
	if (idx >= a->capacity || !a->sa[idx].used)
		return NULL;
	return &a->sa[idx];
}

struct agent_sa *agent_sad_find(struct agent *a, const struct agent_sa_key *k)
{
	uint32_t i = a->hash[key_hash(k) & a->hmask];
	struct agent_sa_key sk;

	while (i) {
		struct agent_sa *sa = &a->sa[i - 1];

		agent_sa_key_from_rec(&sk, &sa->rec);
		if (!memcmp(&sk, k, sizeof(sk)))
			return sa;
		i = sa->hnext;
	}
	return NULL;
}

int64_t agent_sad_add(struct agent *a, const struct esptag_rec_sa *rec, uint16_t port)
{
	struct agent_sa_key k;
	struct agent_sa *sa;
	uint32_t idx, h;

	if (!a->nfree)
		return -1;
	idx = a->free_idx[0];
	sa = &a->sa[idx];
	memset(sa, 0, sizeof(*sa));
	if (agent_esp_key(sa, rec->key, rec->key_len, rec->salt, rec->dir == ESPTAG_DIR_OUT))
		return -1;
	/* Each worker its own copy of the keyed context (made here, under
	 * the write lock, so the data path never allocates). */
	for (h = 0; h < a->nworkers; h++) {
		a->workers[h]->sactx[idx] = agent_esp_ctx_dup(sa);
		if (!a->workers[h]->sactx[idx]) {
			while (h-- > 0) {
				agent_esp_ctx_free(a->workers[h]->sactx[idx]);
				a->workers[h]->sactx[idx] = NULL;
			}
			agent_esp_unkey(sa);
			OPENSSL_cleanse(sa, sizeof(*sa));
			return -1;
		}
	}
	free_pop(a);
	sa->used = true;
	sa->port = port;
	sa->rec = *rec;
	OPENSSL_cleanse(sa->rec.key, sizeof(sa->rec.key));
	OPENSSL_cleanse(sa->rec.salt, sizeof(sa->rec.salt));
	sa->rec.sa_index = htonl(idx);
	sa->ivdb = 1;
	for (h = 0; h < a->nworkers; h++)
		memset(&a->workers[h]->sactr[idx], 0, sizeof(struct agent_sa_ctr));
	agent_sa_key_from_rec(&k, rec);
	h = key_hash(&k) & a->hmask;
	sa->hnext = a->hash[h];
	a->hash[h] = idx + 1;
	a->port_used[port]++;
	a->sad_used++;
	return idx;
}

void agent_sad_del(struct agent *a, uint32_t idx)
{
	struct agent_sa *sa = &a->sa[idx];
	struct agent_sa_key k;
	uint32_t *pp, i;

	if (idx >= a->capacity || !sa->used)
		return;
	agent_sa_key_from_rec(&k, &sa->rec);
	for (pp = &a->hash[key_hash(&k) & a->hmask]; *pp; pp = &a->sa[*pp - 1].hnext) {
		if (*pp == idx + 1) {
			*pp = sa->hnext;
			break;
		}
	}
	a->port_used[sa->port]--;
	a->sad_used--;
	for (i = 0; i < a->nworkers; i++) {
		agent_esp_ctx_free(a->workers[i]->sactx[idx]);
		a->workers[i]->sactx[idx] = NULL;
	}
	agent_esp_unkey(sa);
	OPENSSL_cleanse(sa, sizeof(*sa));
	free_push(a, idx);
}
