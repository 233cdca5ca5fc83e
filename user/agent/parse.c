// SPDX-License-Identifier: GPL-2.0-only
/*
 * Header parsing of the agent's data path: Ethernet and VLAN tags, the IP
 * header and the position of the ESP header. Every offset is checked
 * against the frame length.
 */
#include "datapath.h"

int agent_parse_l2(const uint8_t *f, size_t len, struct l2 *l)
{
	size_t off = 12;
	uint16_t t;

	l->nvlans = 0;
	l->vid[0] = l->vid[1] = 0;
	for (;;) {
		if (off + 2 > len)
			return -1;
		t = rd16(f + off);
		if (esptag_eth_p_is_vlan(t)) {
			if (l->nvlans == 2 || off + 6 > len)
				return -1;
			l->vid[l->nvlans++] = rd16(f + off + 2) & 0x0fff;
			off += 4;
			continue;
		}
		l->proto = t;
		l->l3 = off + 2;
		return 0;
	}
}

int agent_parse_ip(const uint8_t *f, size_t len, const struct l2 *l2, struct ipi *ip)
{
	const uint8_t *h = f + l2->l3;
	size_t tot;

	if (l2->proto == ETH_P_IP_) {
		if (l2->l3 + 20u > len || (h[0] >> 4) != 4 || (h[0] & 15) < 5)
			return -1;
		ip->family = 4;
		ip->hl = (h[0] & 15) * 4;
		tot = rd16(h + 2);
		if (tot < ip->hl || l2->l3 + tot > len)
			return -1;
		ip->end = l2->l3 + tot;
		return 0;
	}
	if (l2->proto == ETH_P_IPV6_) {
		if (l2->l3 + 40u > len || (h[0] >> 4) != 6)
			return -1;
		ip->family = 6;
		ip->hl = 40;
		tot = 40 + rd16(h + 4);
		if (l2->l3 + tot > len)
			return -1;
		ip->end = l2->l3 + tot;
		return 0;
	}
	return -1;
}

void agent_ip_grow(uint8_t *f, const struct l2 *l2, uint8_t family, int grow)
{
	uint8_t *h = f + l2->l3;

	if (family == 4) {
		wr16(h + 2, rd16(h + 2) + grow);
		ipv4_csum(h, (h[0] & 15) * 4);
	} else {
		wr16(h + 4, rd16(h + 4) + grow);
	}
}

long agent_find_esp(const uint8_t *f, const struct l2 *l2, const struct ipi *ip)
{
	const uint8_t *h = f + l2->l3;
	size_t off;
	uint8_t nh;
	int n;

	if (ip->family == 4) {
		if (h[9] != ESPTAG_IPPROTO_ESP)
			return 0;
		if (rd16(h + 6) & 0x3fff)
			return -1;
		return l2->l3 + ip->hl;
	}
	nh = h[6];
	off = l2->l3 + 40;
	for (n = 0; n < 8; n++) {
		if (nh == ESPTAG_IPPROTO_ESP)
			return off;
		if (nh == 44) /* fragment header */
			return -1;
		if (nh != 0 && nh != 43 && nh != 60)
			return 0;
		if (off + 8 > ip->end)
			return 0;
		nh = f[off];
		off += ((size_t)f[off + 1] + 1) * 8;
	}
	return 0;
}
