// SPDX-License-Identifier: GPL-2.0-only
/*
 * TSO in the agent: a GSO super-packet with a Tx tag (flag GSO) is cut into
 * TCP segments of at most mss payload bytes; each segment gets its own TCP
 * sequence number, flags and full checksum, its IP header (transport mode)
 * or an outer IP header from the SA's tunnel endpoints (tunnel mode), its
 * own wire sequence number and is encrypted like any ESP packet.
 */
#include <string.h>
#include "datapath.h"

/* A super-packet, checked and ready to be cut (in a->scratch, untagged). */
struct tso {
	struct l2 l2;
	struct ipi ip;
	struct agent_sa *sa;
	bool tunnel;
	uint8_t outer; /* family of the segments' (outer) IP header */
	size_t ohl;    /* tunnel: outer IP header length; transport: 0 */
	size_t tcp;    /* offset of the TCP header */
	size_t thl;    /* TCP header length */
	size_t payload, nseg;
	uint32_t tcp_seq;
	uint16_t ip_id;
};

/* Mode checks: the tag must match the SA's mode and the packet. */
static const char *tso_mode(const struct esptag_meta_view *m, struct tso *t)
{
	t->tunnel = t->sa->rec.mode == ESPTAG_MODE_TUNNEL;
	if (t->tunnel) {
		if (m->esp_off != t->l2.l3 || m->next_hdr != (t->ip.family == 4 ? 4 : 41))
			return "tunnel GSO: ESP offset is not the inner IP header, or next header "
			       "mismatch";
		t->outer = t->sa->rec.family;
		t->ohl = t->outer == 4 ? 20 : 40;
	} else {
		if (m->esp_off != t->l2.l3 + t->ip.hl || m->next_hdr != 6 ||
		    t->ip.family != t->sa->rec.family)
			return "transport GSO: ESP offset is not after the IP header, or not TCP";
		t->outer = t->ip.family;
		t->ohl = 0;
	}
	return NULL;
}

/* TCP header and segment size checks of the super-packet s. */
static const char *tso_tcp(const uint8_t *s, const struct esptag_meta_view *m, struct tso *t)
{
	const struct l2 *l2 = &t->l2;
	const struct ipi *ip = &t->ip;

	if (s[l2->l3 + (ip->family == 4 ? 9 : 6)] != 6) /* TCP only */
		return "GSO of a non-TCP packet";
	t->tcp = l2->l3 + ip->hl;
	if (t->tcp + 20 > ip->end)
		return "truncated TCP header";
	t->thl = (s[t->tcp + 12] >> 4) * 4;
	if (t->thl < 20 || t->tcp + t->thl > ip->end)
		return "bad TCP header length";
	t->payload = ip->end - t->tcp - t->thl;
	if (!m->mss ||
	    l2->l3 + t->ohl + ESP_HL + ip->hl + t->thl + m->mss + TRAILER_ROOM > AGENT_SLOT)
		return "MSS zero or too large";
	t->nseg = t->payload ? (t->payload + m->mss - 1) / m->mss : 1;
	return NULL;
}

/*
 * Copy the super-packet (without its tag) into a->scratch and check it.
 * Returns 0 when t is ready, 1 when the frame was dropped and counted
 * (no SA, GSO limits), -1 when it is malformed (*why).
 */
static int tso_prepare(struct agent *a, const uint8_t *f, size_t len,
		       const struct esptag_meta_view *m, struct tso *t, const char **why)
{
	size_t flen = len - TAG;
	uint8_t *s = a->scratch;

	*why = "frame too large";
	if (flen > AGENT_SLOT)
		return -1;
	memcpy(s, f, 12);
	memcpy(s + 12, f + 12 + TAG, len - 12 - TAG);
	*why = "bad VLAN tags";
	if (agent_parse_l2(s, flen, &t->l2))
		return -1;
	t->sa = agent_tx_sa(a, m->sa_index, s, &t->l2);
	if (!t->sa)
		return 1;
	*why = "no IP header";
	if (agent_parse_ip(s, flen, &t->l2, &t->ip))
		return -1;
	*why = tso_mode(m, t);
	if (!*why)
		*why = tso_tcp(s, m, t);
	if (*why)
		return -1;
	if (m->mss < ESPTAG_GSO_MIN_MSS || t->nseg > ESPTAG_GSO_MAX_SEGS) {
		/* One frame must not turn into thousands (docs/protocol.md 2.3). */
		agent_log(7, "tx: GSO dropped: mss %u, %zu segments", m->mss, t->nseg);
		a->ctr[ESPTAG_AC_TX_DROP_GSO_LIMIT]++;
		return 1;
	}
	t->tcp_seq = rd32(s + t->tcp + 4);
	t->ip_id = t->ip.family == 4 ? rd16(s + t->l2.l3 + 4) : 0;
	return 0;
}

/* TCP header of segment i at o + tcpoff: sequence, flags, full checksum
 * over the pseudo-header of the IP header h (addresses already copied). */
static void tso_seg_tcp(const uint8_t *s, const struct tso *t, size_t mss, size_t i,
			uint8_t *tcph, const uint8_t *h, size_t tcp_len)
{
	uint8_t fl = s[t->tcp + 13];
	uint64_t sum;

	wr32(tcph + 4, t->tcp_seq + (uint32_t)(i * mss));
	if (i != t->nseg - 1)
		fl &= ~(TCP_FIN | TCP_PSH);
	if (i)
		fl &= ~TCP_CWR;
	tcph[13] = fl;
	wr16(tcph + 16, 0);
	if (t->ip.family == 4)
		sum = csum_add(0, h + 12, 8);
	else
		sum = csum_add(0, h + 8, 32);
	sum += 6 + tcp_len;
	wr16(tcph + 16, csum_fold(csum_add(sum, tcph, tcp_len)));
}

/* The (inner) IP header h of segment i. */
static void tso_seg_ip(const struct tso *t, size_t i, uint8_t *h, size_t tcp_len)
{
	if (t->ip.family == 4) {
		wr16(h + 2, t->ip.hl + tcp_len + (t->tunnel ? 0 : ESP_HL));
		wr16(h + 4, t->ip_id + i);
		if (!t->tunnel)
			h[9] = ESPTAG_IPPROTO_ESP;
		ipv4_csum(h, t->ip.hl);
	} else {
		wr16(h + 4, tcp_len + (t->tunnel ? 0 : ESP_HL));
		if (!t->tunnel)
			h[6] = ESPTAG_IPPROTO_ESP;
	}
}

/* Tunnel mode: the outer header from the SA's tunnel endpoints. */
static void tso_seg_outer(struct agent *a, const struct tso *t, uint8_t *o, size_t plen)
{
	const struct agent_sa *sa = t->sa;
	uint8_t *h = o + t->l2.l3;

	wr16(o + t->l2.l3 - 2, t->outer == 4 ? ETH_P_IP_ : ETH_P_IPV6_);
	if (t->outer == 4) {
		h[0] = 0x45;
		h[1] = 0;
		wr16(h + 2, 20 + ESP_HL + plen);
		wr16(h + 4, a->ip_id++);
		wr16(h + 6, 0);
		h[8] = 64;
		h[9] = ESPTAG_IPPROTO_ESP;
		memcpy(h + 12, sa->rec.saddr, 4);
		memcpy(h + 16, sa->rec.daddr, 4);
		ipv4_csum(h, 20);
	} else {
		wr32(h, 0x60000000);
		wr16(h + 4, ESP_HL + plen);
		h[6] = ESPTAG_IPPROTO_ESP;
		h[7] = 64;
		memcpy(h + 8, sa->rec.saddr, 16);
		memcpy(h + 24, sa->rec.daddr, 16);
	}
}

/* Build, encrypt and send segment i. NULL, or why the rest is dropped. */
static const char *tso_segment(struct agent *a, const struct esptag_meta_view *m,
			       const struct tso *t, size_t i)
{
	const uint8_t *s = a->scratch;
	size_t rest = t->payload - i * m->mss;
	size_t dlen = rest < m->mss ? rest : m->mss;
	size_t tcp_len = t->thl + dlen, plen, esplen, esp, pt, ipoff, tcpoff;
	uint8_t *o = agent_slot(a, AGENT_WIRE)->data;
	struct l2 ol2 = t->l2;
	uint64_t seq;

	memcpy(o, s, t->l2.l3);
	esp = t->l2.l3 + (t->tunnel ? t->ohl : t->ip.hl);
	pt = esp + ESP_HL;
	if (t->tunnel) {
		ipoff = pt;
		tcpoff = pt + t->ip.hl;
		memcpy(o + ipoff, s + t->l2.l3, t->ip.hl + t->thl);
	} else {
		ipoff = t->l2.l3;
		tcpoff = pt;
		memcpy(o + ipoff, s + t->l2.l3, t->ip.hl);
		memcpy(o + tcpoff, s + t->tcp, t->thl);
	}
	memcpy(o + tcpoff + t->thl, s + t->tcp + t->thl + i * m->mss, dlen);
	tso_seg_tcp(s, t, m->mss, i, o + tcpoff, o + ipoff, tcp_len);
	tso_seg_ip(t, i, o + ipoff, tcp_len);
	plen = t->tunnel ? t->ip.hl + tcp_len : tcp_len;
	if (t->tunnel)
		tso_seg_outer(a, t, o, plen);
	if (!agent_ivdb_next(t->sa, m->seq + i, &seq))
		return "sequence number space exhausted (rekey)";
	agent_esp_hdr_write(o + esp, t->sa, seq);
	esplen = agent_esp_seal_ctx(agent_sa_cipher(a, t->sa), t->sa, o + esp, plen, m->next_hdr, seq >> 32);
	if (!esplen)
		return "cipher error";
	agent_ip_grow(o, &t->l2, t->outer, (int)(esplen - ESP_HL - plen));
	agent_sa_ctr(a, t->sa)->packets++;
	agent_sa_ctr(a, t->sa)->bytes += plen;
	a->ctr[ESPTAG_AC_TX_SEGMENTS]++;
	ol2.proto = t->outer == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
	agent_tx_out(a, o, esp + esplen, &ol2, t->outer);
	return NULL;
}

void agent_tx_tso(struct agent *a, const uint8_t *f, size_t len, const struct esptag_meta_view *m)
{
	const char *why = NULL;
	struct tso t;
	size_t i;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = tso_prepare(a, f, len, m, &t, &why);
	if (rc > 0)
		return;
	for (i = 0; !rc && i < t.nseg; i++)
		if ((why = tso_segment(a, m, &t, i)))
			rc = -1;
	if (rc)
		agent_tx_malformed(a, why);
}
