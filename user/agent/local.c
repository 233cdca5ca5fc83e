// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's table of local (hairpin) addresses: a Tx packet to one of
 * them comes back to the host as received, in that address's domain. A
 * fixed-size array allocated at start-up with chained hashing through
 * indices, like the SAD.
 */
#include <string.h>
#include <arpa/inet.h>
#include "agent.h"

static uint32_t addr_hash(uint8_t family, const uint8_t *addr)
{
	return agent_fnv(agent_fnv(2166136261u, &family, 1), addr, 16);
}

bool agent_local_equal(const struct esptag_rec_local *x, const struct esptag_rec_local *y)
{
	unsigned int i;

	if (x->family != y->family || x->nvlans != y->nvlans || memcmp(x->mac, y->mac, 6) ||
	    memcmp(x->addr, y->addr, 16))
		return false;
	for (i = 0; i < x->nvlans && i < 2; i++)
		if ((ntohs(x->vlan[i].tci) & 0xfff) != (ntohs(y->vlan[i].tci) & 0xfff))
			return false;
	return true;
}

struct agent_local *agent_local_find_rec(struct agent *a, const struct esptag_rec_local *r)
{
	uint32_t i = a->lhash[addr_hash(r->family, r->addr) & a->lmask];

	while (i) {
		struct agent_local *l = &a->local[i - 1];

		if (agent_local_equal(&l->rec, r))
			return l;
		i = l->hnext;
	}
	return NULL;
}

struct agent_local *agent_local_find_addr(struct agent *a, uint8_t family, const uint8_t *addr,
					  const uint8_t *dmac)
{
	uint8_t full[16] = {0};
	struct agent_local *best = NULL;
	uint32_t i;

	if (!agent_ctl(a)->nlocal)
		return NULL;
	memcpy(full, addr, family == 4 ? 4 : 16);
	for (i = a->lhash[addr_hash(family, full) & a->lmask]; i; i = a->local[i - 1].hnext) {
		struct agent_local *l = &a->local[i - 1];

		if (l->rec.family != family || memcmp(l->rec.addr, full, 16))
			continue;
		if (!memcmp(l->rec.mac, dmac, 6))
			return l;
		if (!best)
			best = l;
	}
	return best;
}

int agent_local_add(struct agent *a, const struct esptag_rec_local *r, uint16_t port)
{
	uint32_t i, h;

	for (i = 0; i < a->local_capacity; i++) {
		struct agent_local *l = &a->local[i];

		if (l->used)
			continue;
		l->used = true;
		l->port = port;
		l->rec = *r;
		h = addr_hash(r->family, r->addr) & a->lmask;
		l->hnext = a->lhash[h];
		a->lhash[h] = i + 1;
		a->nlocal++;
		return 0;
	}
	return -1;
}

void agent_local_del(struct agent *a, struct agent_local *l)
{
	uint32_t idx = l - a->local, *pp;

	for (pp = &a->lhash[addr_hash(l->rec.family, l->rec.addr) & a->lmask]; *pp;
	     pp = &a->local[*pp - 1].hnext) {
		if (*pp == idx + 1) {
			*pp = l->hnext;
			break;
		}
	}
	memset(l, 0, sizeof(*l));
	a->nlocal--;
}
