// SPDX-License-Identifier: GPL-2.0-only
/*
 * SPI reservations (state allocspi, an IKE daemon's get_spi): an inbound SPI
 * held for (family, our address) until an inbound state add takes it, a
 * state del names it, or --spi-reserve-time passes. A short array: an IKE
 * daemon reserves one SPI per CHILD_SA being negotiated.
 */
#include <stdlib.h>
#include <string.h>
#include "esptagd.h"

struct spi_res *spi_res_find(struct daemon *d, uint8_t family, const uint8_t daddr[16],
			     uint32_t spi)
{
	for (size_t i = 0; i < d->nres; i++) {
		struct spi_res *r = &d->res[i];

		if (r->spi == spi && r->family == family && !memcmp(r->daddr, daddr, 16))
			return r;
	}
	return NULL;
}

int spi_res_add(struct daemon *d, const struct spi_res *r)
{
	if (d->nres == d->res_cap) {
		size_t ncap = d->res_cap ? d->res_cap * 2 : 64;
		struct spi_res *n;

		if (ncap > 65536)
			return -1;
		n = realloc(d->res, ncap * sizeof(*n));
		if (!n)
			return -1;
		d->res = n;
		d->res_cap = ncap;
	}
	d->res[d->nres++] = *r;
	return 0;
}

void spi_res_del(struct daemon *d, struct spi_res *r)
{
	*r = d->res[--d->nres];
}

size_t spi_res_expire(struct daemon *d, uint64_t now)
{
	size_t n = 0;

	for (size_t i = 0; i < d->nres;) {
		if (d->res[i].expires_ns <= now) {
			spi_res_del(d, &d->res[i]);
			n++;
		} else {
			i++;
		}
	}
	return n;
}
