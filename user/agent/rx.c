// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's receive direction, wire -> host: ESP packets are decrypted
 * and handed to the host with an Rx tag saying what happened (decrypted,
 * no SA, ICV mismatch, malformed), everything else passes through plain;
 * frames with our EtherTypes (spoofed tags) are dropped. Hairpinned Tx
 * frames (tx.c) come through agent_rx_esp() too.
 */
#include <string.h>
#include <arpa/inet.h>
#include "datapath.h"

/*
 * Position and length checks of the ESP packet at esp_off. Fills the
 * offsets and the low sequence number of m and *ct_len (ciphertext
 * length); false: m->result says why (counted).
 */
static bool rx_esp_bounds(struct agent *a, const uint8_t *f, const struct ipi *ip,
			  long esp_off, struct esptag_meta_view *m, size_t *ct_len)
{
	size_t esp_len;

	if (esp_off < 0) {
		m->result = ESPTAG_RES_UNSUPPORTED;
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		return false;
	}
	m->esp_off = esp_off;
	if ((size_t)esp_off + ESP_HL > ip->end) {
		m->result = ESPTAG_RES_MALFORMED;
		m->esp_off = 0;
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		return false;
	}
	m->payload_off = esp_off + ESP_HL;
	esp_len = ip->end - esp_off;
	m->seq = rd32(f + esp_off + 4);
	if (esp_len < ESP_HL + 4 + ESPTAG_ICV_LEN || (esp_len - ESP_HL - ESPTAG_ICV_LEN) % 4) {
		m->result = ESPTAG_RES_MALFORMED;
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		return false;
	}
	*ct_len = esp_len - ESP_HL - ESPTAG_ICV_LEN;
	return true;
}

/* The inbound SA of the packet: destination, SPI and domain d. */
static struct agent_sa *rx_sa_find(struct agent *a, const uint8_t *f, const struct l2 *l2,
				   const struct ipi *ip, long esp_off, const struct domain *d)
{
	struct agent_sa_key k;
	unsigned int i;

	memset(&k, 0, sizeof(k));
	memcpy(k.daddr, ip_daddr(f, l2, ip->family), ip->family == 4 ? 4 : 16);
	k.family = ip->family;
	k.proto = ESPTAG_IPPROTO_ESP;
	k.dir = ESPTAG_DIR_IN;
	k.nvlans = d->nvlans;
	memcpy(&k.spi, f + esp_off, 4);
	memcpy(k.mac, d->mac, 6);
	for (i = 0; i < d->nvlans; i++)
		k.vid[i] = d->vid[i];
	return agent_sad_find(a, &k);
}

/*
 * Decrypt into body (the untagged frame in the output slot) and verify the
 * ICV; m->seq holds the low sequence number on entry, the full one after.
 */
static void rx_decrypt(struct agent *a, struct agent_sa *sa, const uint8_t *f,
		       const struct ipi *ip, long esp_off, size_t ct_len, uint8_t *body,
		       struct esptag_meta_view *m)
{
	uint32_t seq_lo = (uint32_t)m->seq, seq_hi = 0;
	uint8_t pad = 0, nh = 0;
	int rc;

	if (sa->rec.sa_flags & ESPTAG_SA_F_ESN) {
		seq_hi = agent_esn_infer(__atomic_load_n(&sa->rx_top, __ATOMIC_RELAXED),
					 ntohs(sa->rec.replay_window), seq_lo);
		m->flags |= ESPTAG_META_F_ESN;
	}
	m->seq = (uint64_t)seq_hi << 32 | seq_lo;
	rc = agent_esp_open_ctx(agent_sa_cipher(a, sa), sa, f + esp_off, ip->end - esp_off, body + esp_off + ESP_HL, seq_hi,
			    &pad, &nh);
	if (rc) {
		/* Never hand decrypted bytes over unless the ICV verified. */
		memcpy(body + esp_off + ESP_HL, f + esp_off + ESP_HL, ct_len);
		if (rc == -1) {
			m->result = ESPTAG_RES_AUTH_FAIL;
			agent_sa_ctr(a, sa)->auth_fail++;
			a->ctr[ESPTAG_AC_RX_AUTH_FAIL]++;
		} else {
			m->result = ESPTAG_RES_MALFORMED;
			a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		}
		return;
	}
	m->result = ESPTAG_RES_OK;
	m->next_hdr = nh;
	m->trailer_len = pad + 2 + ESPTAG_ICV_LEN;
	agent_rx_top_raise(sa, m->seq);
	agent_sa_ctr(a, sa)->packets++;
	agent_sa_ctr(a, sa)->bytes += ct_len;
	a->ctr[ESPTAG_AC_RX_DECRYPTED]++;
}


/*
 * Rx coalescing (GRO-like, --rx-coalesce): within one host batch, a
 * decrypted TCP segment of a transport-mode SA is appended to the frame
 * before it when that frame is the previous segment of the same flow:
 * same SA and ESP sequence number + 1, same MACs/VLANs, IP header (no IPv4
 * options or fragments, no IPv6 extension headers; same TOS/TTL/flow label
 * and addresses), same ports, ACK number, window and options (timestamps
 * included), TCP sequence contiguous, only ACK set (PSH on the last), and
 * the result fits the host port's MTU with the tag. Each ESP packet is
 * decrypted, authenticated and counted as before; the frame's Rx tag
 * names the first one's sequence number and in mss how many follow it
 * (esptag_rx checks and records the whole range, docs/protocol.md 2.9).
 * The merged frame carries the first packet's ESP header, the payloads
 * in order, an empty pad and a zero ICV (the host does not check it);
 * the TCP checksum is verified per segment and written for the whole.
 */
#define GRO_TRAILER (2 + ESPTAG_ICV_LEN)
#define TCP_ACK_ 0x10

static uint64_t gro_pseudo(const uint8_t *body, const struct agent_gro *g, uint32_t tcp_len)
{
	uint64_t sum;

	if (g->family == 4)
		sum = csum_add(0, body + g->l3 + 12, 8);
	else
		sum = csum_add(0, body + g->l3 + 8, 32);
	return sum + 6 + (tcp_len >> 16) + (tcp_len & 0xffff);
}

/* Is the plaintext of this packet a TCP segment we may start or extend a
 * frame with? Fills g (offsets, flow state) from it; false if not. */
static bool gro_segment(const uint8_t *body, const struct l2 *l2, const struct ipi *ip,
			long esp_off, const struct esptag_meta_view *m, struct agent_gro *g)
{
	const uint8_t *ih = body + l2->l3, *th;
	uint32_t plen, end;

	if (m->result != ESPTAG_RES_OK || m->next_hdr != 6 || m->flags & ESPTAG_META_F_HAIRPIN)
		return false;
	if (ip->family == 4) {
		/* No options, not a fragment (MF or an offset). */
		if (ip->hl != 20 || (rd16(ih + 6) & 0x3fff))
			return false;
	} else if (esp_off != l2->l3 + 40) {
		return false;
	}
	g->family = ip->family;
	g->l3 = l2->l3;
	g->tcp = esp_off + ESP_HL;
	end = ip->end - m->trailer_len;
	if (end < g->tcp + 20u)
		return false;
	th = body + g->tcp;
	g->thl = (th[12] >> 4) * 4;
	if (g->thl < 20 || g->tcp + g->thl >= end || rd16(th + 18) ||
	    (th[13] & ~TCP_PSH) != TCP_ACK_)
		return false;
	plen = end - g->tcp - g->thl;
	/* The segment's own checksum must hold (the host would drop it); the
	 * payload is summed once (thl is even, so header + payload sums add). */
	g->psum = csum_add(0, th + g->thl, plen);
	if (csum_fold(gro_pseudo(body, g, end - g->tcp) + csum_add(0, th, g->thl) + g->psum))
		return false;
	g->end = end;
	g->next_tcp = rd32(th + 4) + plen;
	g->odd = plen & 1;
	g->segs = 1;
	g->sa_index = m->sa_index;
	g->next_seq = m->seq + 1;
	g->m = *m;
	return true;
}

/* Append the segment n (in body, parsed into n) to the open frame. */
static bool gro_append(struct agent *a, const uint8_t *f, const uint8_t *body,
		       const struct agent_gro *n)
{
	struct agent_gro *g = &a->gro;
	struct agent_q *q = &a->q[AGENT_HOST];
	struct agent_pkt *p;
	uint8_t *out, *pb;
	const uint8_t *th, *pth;
	uint32_t plen, ipl;

	if (!g->open || !q->n || g->odd || n->sa_index != g->sa_index ||
	    n->m.seq != g->next_seq || n->family != g->family || n->l3 != g->l3 ||
	    n->tcp != g->tcp || n->thl != g->thl || g->segs >= ESPTAG_RX_MAX_SEGS)
		return false;
	p = &q->pkt[q->n - 1];
	out = p->data;
	pb = out + TAG;
	th = body + n->tcp;
	pth = pb + g->tcp;
	plen = n->end - n->tcp - n->thl;
	if ((pth[13] & TCP_PSH) || rd32(th + 4) != g->next_tcp ||
	    g->end + plen + GRO_TRAILER - g->l3 + TAG > a->rx_coalesce ||
	    (size_t)TAG + g->end + plen + GRO_TRAILER > AGENT_SLOT)
		return false;
	/* MACs, VLAN tags, EtherType. */
	if (memcmp(out, f, 12) || memcmp(pb + 12, body + 12, g->l3 - 12))
		return false;
	if (g->family == 4) {
		/* TOS; flags/offset (DF alike); TTL, protocol, addresses. */
		if (pb[g->l3 + 1] != body[g->l3 + 1] ||
		    memcmp(pb + g->l3 + 6, body + g->l3 + 6, 4) ||
		    memcmp(pb + g->l3 + 12, body + g->l3 + 12, 8))
			return false;
	} else if (memcmp(pb + g->l3, body + g->l3, 4) ||
		   memcmp(pb + g->l3 + 6, body + g->l3 + 6, 34)) {
		return false;
	}
	/* ESP header: SPI (the SA is the same, so this is belt and braces). */
	if (memcmp(pb + g->tcp - ESP_HL, body + n->tcp - ESP_HL, 4))
		return false;
	/* Ports, ACK number, data offset, window, urgent pointer, options. */
	if (memcmp(pth, th, 4) || memcmp(pth + 8, th + 8, 5) || memcmp(pth + 14, th + 14, 2) ||
	    memcmp(pth + 18, th + 18, n->thl - 18))
		return false;
	memcpy(pb + g->end, th + n->thl, plen);
	g->end += plen;
	g->psum += n->psum;
	g->odd = plen & 1;
	g->next_tcp += plen;
	g->next_seq++;
	g->segs++;
	pb[g->tcp + 13] |= th[13] & TCP_PSH;
	/* Empty pad, next header, an ICV of zeros. */
	pb[g->end] = 0;
	pb[g->end + 1] = 6;
	memset(pb + g->end + 2, 0, ESPTAG_ICV_LEN);
	ipl = g->end + GRO_TRAILER - g->l3;
	if (g->family == 4) {
		wr16(pb + g->l3 + 2, ipl);
		ipv4_csum(pb + g->l3, 20);
	} else {
		wr16(pb + g->l3 + 4, ipl - 40);
	}
	g->m.trailer_len = GRO_TRAILER;
	g->m.mss = g->segs;
	esptag_meta_encode(out + 12, a->eth_meta, &g->m);
	p->len = TAG + g->end + GRO_TRAILER;
	a->ctr[ESPTAG_AC_RX_COALESCED]++;
	return true;
}

void agent_gro_close(struct agent *a)
{
	struct agent_gro *g = &a->gro;
	struct agent_q *q = &a->q[AGENT_HOST];
	uint8_t *pb, *th;
	uint32_t tl;

	if (!g->open)
		return;
	g->open = false;
	if (g->segs < 2 || !q->n)
		return;
	pb = q->pkt[q->n - 1].data + TAG;
	th = pb + g->tcp;
	tl = g->end - g->tcp;
	wr16(th + 16, 0);
	wr16(th + 16, csum_fold(gro_pseudo(pb, g, tl) + csum_add(0, th, g->thl) + g->psum));
}

void agent_rx_esp(struct agent *a, const uint8_t *f, size_t flen, const struct l2 *l2,
		  const struct ipi *ip, long esp_off, const struct domain *d, uint8_t hflags)
{
	struct esptag_meta_view m;
	struct agent_gro n;
	struct agent_sa *sa;
	struct agent_pkt *p;
	uint8_t *out, *body;
	size_t ct_len;

	if (flen + TAG > AGENT_SLOT) {
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		return;
	}
	a->gro_hold = true; /* the frame before may take this one */
	p = agent_slot(a, AGENT_HOST);
	a->gro_hold = false;
	out = p->data;
	body = out + TAG; /* body[k] is byte k of the untagged frame, k >= 12 */
	memcpy(out + TAG + 12, f + 12, flen - 12);

	memset(&m, 0, sizeof(m));
	m.kind = ESPTAG_META_RX;
	m.flags = hflags;
	m.inner_proto = rd16(f + 12);
	m.sa_index = ESPTAG_SA_INDEX_NONE;
	if (rx_esp_bounds(a, f, ip, esp_off, &m, &ct_len)) {
		sa = rx_sa_find(a, f, l2, ip, esp_off, d);
		if (!sa) {
			m.result = ESPTAG_RES_NO_SA;
			a->ctr[ESPTAG_AC_RX_NO_SA]++;
		} else {
			m.sa_index = sa - a->sa;
			rx_decrypt(a, sa, f, ip, esp_off, ct_len, body, &m);
		}
	}
	if (a->rx_coalesce && gro_segment(body, l2, ip, esp_off, &m, &n)) {
		if (gro_append(a, f, body, &n))
			return; /* the slot stays free */
		agent_gro_close(a);
		n.open = !(body[n.tcp + 13] & TCP_PSH);
		a->gro = n;
	} else {
		agent_gro_close(a);
	}
	memcpy(out, f, 12);
	esptag_meta_encode(out + 12, a->eth_meta, &m);
	agent_commit(a, AGENT_HOST, flen + TAG);
}

/* Our EtherTypes from the wire: nobody there may speak for the host or the agent. */
static bool rx_spoofed(struct agent *a, uint16_t et)
{
	return et == a->eth_meta || et == a->eth_cfg;
}

void agent_wire_frame(struct agent *a, const uint8_t *f, size_t len,
		      const struct virtio_net_hdr *vh)
{
	struct domain d;
	struct agent_pkt *p;
	struct ipi ip;
	struct l2 l2;
	long esp;

	if (len < ESPTAG_ETH_HLEN || len > AGENT_MAX_FRAME) {
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		return;
	}
	if (agent_parse_l2(f, len, &l2) == 0) {
		if (rx_spoofed(a, l2.proto)) {
			a->ctr[ESPTAG_AC_RX_DROP_TAGGED]++;
			return;
		}
		if (agent_parse_ip(f, len, &l2, &ip) == 0) {
			esp = agent_find_esp(f, &l2, &ip);
			if (esp) {
				d.mac = f;
				d.nvlans = l2.nvlans;
				d.vid[0] = l2.vid[0];
				d.vid[1] = l2.vid[1];
				agent_rx_esp(a, f, len, &l2, &ip, esp, &d, 0);
				return;
			}
		}
	} else if (rx_spoofed(a, rd16(f + 12))) {
		a->ctr[ESPTAG_AC_RX_DROP_TAGGED]++;
		return;
	}
	p = agent_slot(a, AGENT_HOST);
	memcpy(p->data, f, len);
	if (vh)
		p->vh = *vh;
	agent_commit(a, AGENT_HOST, len);
	a->ctr[ESPTAG_AC_RX_PLAIN]++;
}
