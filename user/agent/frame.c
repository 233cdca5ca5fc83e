// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's data path on frames in memory:
 *   host -> wire: config, metadata tag (bypass, ESP, TSO), untagged (our
 *                 EtherTypes behind VLAN tags dropped);
 *   wire -> host: ESP decryption with the Rx tag, plain pass-through,
 *                 spoofed tags dropped;
 *   hairpin:      Tx frames to a LOCAL address come back as Rx frames.
 * Every offset read from a frame or a tag is bounds-checked here; the
 * fuzzers (tests/fuzz/fuzz_agent_*.c) call these two entry points.
 */
#include <string.h>
#include <arpa/inet.h>
#include "agent.h"
#include "esptag_proto.h"

#define ETH_P_IP_ 0x0800
#define ETH_P_IPV6_ 0x86DD
#define ESP_HL ((size_t)sizeof(struct esptag_esp_hdr))
#define TAG ESPTAG_META_LEN
#define TRAILER_ROOM (3 + 2 + ESPTAG_ICV_LEN)
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

struct l2 {
	uint16_t l3;	/* offset of the IP header */
	uint16_t proto; /* EtherType after the VLAN tags */
	uint8_t nvlans;
	uint16_t vid[2];
};

struct ipi {
	uint8_t family;
	uint16_t hl; /* IPv4 header length; IPv6: 40 */
	size_t end;  /* end of the IP packet in the frame */
};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)p[0] << 8 | p[1];
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += rd16(p + i);
	if (n & 1)
		sum += (uint16_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void ipv4_csum(uint8_t *ip, unsigned int hl)
{
	wr16(ip + 10, 0);
	wr16(ip + 10, csum_fold(csum_add(0, ip, hl)));
}

static int parse_l2(const uint8_t *f, size_t len, struct l2 *l)
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

static int parse_ip(const uint8_t *f, size_t len, const struct l2 *l2, struct ipi *ip)
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

static void ip_grow(uint8_t *f, const struct l2 *l2, uint8_t family, int grow)
{
	uint8_t *h = f + l2->l3;

	if (family == 4) {
		wr16(h + 2, rd16(h + 2) + grow);
		ipv4_csum(h, (h[0] & 15) * 4);
	} else {
		wr16(h + 4, rd16(h + 4) + grow);
	}
}

static const uint8_t *ip_daddr(const uint8_t *f, const struct l2 *l2, uint8_t family)
{
	return f + l2->l3 + (family == 4 ? 16 : 24);
}

/* ---- Rx: wire -> host (and hairpin) ---- */

struct domain {
	const uint8_t *mac;
	uint8_t nvlans;
	uint16_t vid[2];
};

/*
 * Find the ESP header of an IP packet: IPv4 protocol 50 (not a fragment) or
 * IPv6 next header 50 after the usual extension headers. Returns the offset,
 * 0 when the packet is not ESP, -1 for an ESP fragment (unsupported).
 */
static long find_esp(const uint8_t *f, const struct l2 *l2, const struct ipi *ip)
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

static void rx_esp(struct agent *a, const uint8_t *f, size_t flen, const struct l2 *l2,
		   const struct ipi *ip, long esp_off, const struct domain *d, uint8_t hflags)
{
	struct esptag_meta_view m;
	struct agent_sa_key k;
	struct agent_sa *sa;
	struct agent_pkt *p;
	uint8_t *out, *body, pad = 0, nh = 0;
	size_t esp_len, ct_len;
	uint32_t seq_lo, seq_hi = 0;
	unsigned int i;
	int rc;

	if (flen + TAG > AGENT_SLOT) {
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		return;
	}
	p = agent_slot(a, AGENT_HOST);
	out = p->data;
	body = out + TAG; /* body[k] is byte k of the untagged frame, k >= 12 */
	memcpy(out + TAG + 12, f + 12, flen - 12);

	memset(&m, 0, sizeof(m));
	m.kind = ESPTAG_META_RX;
	m.flags = hflags;
	m.inner_proto = rd16(f + 12);
	m.sa_index = ESPTAG_SA_INDEX_NONE;
	if (esp_off < 0) {
		m.result = ESPTAG_RES_UNSUPPORTED;
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		goto out;
	}
	m.esp_off = esp_off;
	if ((size_t)esp_off + ESP_HL > ip->end) {
		m.result = ESPTAG_RES_MALFORMED;
		m.esp_off = 0;
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		goto out;
	}
	m.payload_off = esp_off + ESP_HL;
	esp_len = ip->end - esp_off;
	seq_lo = rd32(f + esp_off + 4);
	m.seq = seq_lo;
	if (esp_len < ESP_HL + 4 + ESPTAG_ICV_LEN || (esp_len - ESP_HL - ESPTAG_ICV_LEN) % 4) {
		m.result = ESPTAG_RES_MALFORMED;
		a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		goto out;
	}
	ct_len = esp_len - ESP_HL - ESPTAG_ICV_LEN;

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
	sa = agent_sad_find(a, &k);
	if (!sa) {
		m.result = ESPTAG_RES_NO_SA;
		a->ctr[ESPTAG_AC_RX_NO_SA]++;
		goto out;
	}
	m.sa_index = sa - a->sa;
	if (sa->rec.sa_flags & ESPTAG_SA_F_ESN) {
		seq_hi = agent_esn_infer(sa->rx_top, ntohs(sa->rec.replay_window), seq_lo);
		m.flags |= ESPTAG_META_F_ESN;
	}
	m.seq = (uint64_t)seq_hi << 32 | seq_lo;
	rc = agent_esp_open(sa, f + esp_off, esp_len, body + esp_off + ESP_HL, seq_hi, &pad, &nh);
	if (rc) {
		/* Never hand decrypted bytes over unless the ICV verified. */
		memcpy(body + esp_off + ESP_HL, f + esp_off + ESP_HL, ct_len);
		if (rc == -1) {
			m.result = ESPTAG_RES_AUTH_FAIL;
			sa->auth_fail++;
			a->ctr[ESPTAG_AC_RX_AUTH_FAIL]++;
		} else {
			m.result = ESPTAG_RES_MALFORMED;
			a->ctr[ESPTAG_AC_RX_MALFORMED]++;
		}
		goto out;
	}
	m.result = ESPTAG_RES_OK;
	m.next_hdr = nh;
	m.trailer_len = pad + 2 + ESPTAG_ICV_LEN;
	if (m.seq > sa->rx_top)
		sa->rx_top = m.seq;
	sa->packets++;
	sa->bytes += ct_len;
	a->ctr[ESPTAG_AC_RX_DECRYPTED]++;
out:
	memcpy(out, f, 12);
	esptag_meta_encode(out + 12, a->eth_meta, &m);
	agent_commit(a, AGENT_HOST, flen + TAG);
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
	if (parse_l2(f, len, &l2) == 0) {
		if (l2.proto == a->eth_meta || l2.proto == a->eth_cfg) {
			/* Nobody on the wire may speak for the host or the agent. */
			a->ctr[ESPTAG_AC_RX_DROP_TAGGED]++;
			return;
		}
		if (parse_ip(f, len, &l2, &ip) == 0) {
			esp = find_esp(f, &l2, &ip);
			if (esp) {
				d.mac = f;
				d.nvlans = l2.nvlans;
				d.vid[0] = l2.vid[0];
				d.vid[1] = l2.vid[1];
				rx_esp(a, f, len, &l2, &ip, esp, &d, 0);
				return;
			}
		}
	} else if (rd16(f + 12) == a->eth_meta || rd16(f + 12) == a->eth_cfg) {
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

/* ---- Tx: host -> wire ---- */

static struct agent_sa *tx_sa(struct agent *a, uint32_t idx, const uint8_t *f, const struct l2 *l2)
{
	struct agent_sa *sa = agent_sad_get(a, idx);
	unsigned int i;

	if (!sa || sa->rec.dir != ESPTAG_DIR_OUT) {
		a->ctr[ESPTAG_AC_TX_DROP_NO_SA]++;
		return NULL;
	}
	/* The SA must belong to the sender's domain: source MAC and VLANs. */
	if (memcmp(sa->rec.local_mac, f + 6, 6) || sa->rec.nvlans != l2->nvlans)
		goto reject;
	for (i = 0; i < l2->nvlans; i++)
		if ((ntohs(sa->rec.vlan[i].tci) & 0x0fff) != l2->vid[i])
			goto reject;
	return sa;
reject:
	sa->domain_reject++;
	a->ctr[ESPTAG_AC_TX_DROP_DOMAIN]++;
	return NULL;
}

/*
 * The talk's IVDB rule: wire sequence numbers are unique and increasing.
 * The IVDB never wraps: the last number of the SA's space (0xffffffff
 * without ESN, 2^64 - 1 with ESN) is used once, then the SA is spent and
 * sends nothing more. Returns false (drop the frame) for a spent SA and for
 * a number beyond the space; the IVDB does not move then.
 */
static bool ivdb_next(struct agent_sa *sa, uint64_t seq, uint64_t *out)
{
	uint64_t last = (sa->rec.sa_flags & ESPTAG_SA_F_ESN) ? UINT64_MAX : 0xffffffffull;
	uint64_t v;

	if (sa->tx_spent)
		return false;
	v = sa->ivdb <= seq ? seq : sa->ivdb;
	if (v > last)
		return false;
	if (v == last)
		sa->tx_spent = true;	/* ivdb + 1 would wrap: saturate */
	else
		sa->ivdb = v + 1;
	*out = v;
	return true;
}

static void esp_hdr_write(uint8_t *esp, const struct agent_sa *sa, uint64_t seq)
{
	memcpy(esp, &sa->rec.spi, 4);
	wr32(esp + 4, (uint32_t)seq);
	wr32(esp + 8, seq >> 32);
	wr32(esp + 12, (uint32_t)seq);
}

/* Send an encrypted frame (in the current wire slot) out, or hairpin it. */
static void tx_out(struct agent *a, uint8_t *o, size_t len, const struct l2 *l2, uint8_t family)
{
	struct agent_local *lo;
	struct domain d;
	struct ipi ip;
	long esp;
	unsigned int i;

	lo = agent_local_find_addr(a, family, ip_daddr(o, l2, family), o);
	if (!lo) {
		agent_commit(a, AGENT_WIRE, len);
		a->ctr[ESPTAG_AC_TX_ENCRYPTED]++;
		return;
	}
	/* Local destination: process as received, in the LOCAL's domain,
	 * and turn it around to the host; the wire slot is not committed. */
	a->ctr[ESPTAG_AC_TX_HAIRPIN]++;
	d.mac = lo->rec.mac;
	d.nvlans = lo->rec.nvlans;
	for (i = 0; i < 2; i++)
		d.vid[i] = i < lo->rec.nvlans ? ntohs(lo->rec.vlan[i].tci) & 0x0fff : 0;
	if (parse_ip(o, len, l2, &ip) || (esp = find_esp(o, l2, &ip)) == 0) {
		a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
		return;
	}
	rx_esp(a, o, len, l2, &ip, esp, &d, ESPTAG_META_F_HAIRPIN);
}

static void complete_csum(uint8_t *o, size_t start, size_t off, size_t end)
{
	uint16_t c = csum_fold(csum_add(0, o + start, end - start));

	if (!c && off == 6) /* UDP: 0 means "no checksum" */
		c = 0xffff;
	wr16(o + start + off, c);
}

static void tx_esp(struct agent *a, const uint8_t *f, size_t len, const struct esptag_meta_view *m,
		   const struct virtio_net_hdr *vh)
{
	const char *why = "";
	size_t flen = len - TAG, plen, esplen;
	struct agent_sa *sa;
	struct agent_pkt *p;
	struct ipi ip;
	struct l2 l2;
	uint64_t seq;
	uint8_t *o;

	if (flen + TRAILER_ROOM > AGENT_SLOT) {
		why = "frame too large";
		goto malformed;
	}
	p = agent_slot(a, AGENT_WIRE);
	o = p->data;
	memcpy(o, f, 12);
	memcpy(o + 12, f + 12 + TAG, len - 12 - TAG);
	if (parse_l2(o, flen, &l2)) {
		why = "bad VLAN tags";
		goto malformed;
	}
	sa = tx_sa(a, m->sa_index, o, &l2);
	if (!sa)
		return;
	if (parse_ip(o, flen, &l2, &ip) || ip.family != sa->rec.family) {
		why = "no IP header of the SA's family";
		goto malformed;
	}
	if (ip.family == 4) {
		if (m->esp_off != l2.l3 + ip.hl || o[l2.l3 + 9] != ESPTAG_IPPROTO_ESP) {
			why = "ESP offset is not after the IPv4 header, or protocol is not 50";
			goto malformed;
		}
	} else {
		if (m->esp_off < l2.l3 + 40u ||
		    (m->esp_off == l2.l3 + 40u && o[l2.l3 + 6] != ESPTAG_IPPROTO_ESP)) {
			why = "IPv6 next header is not 50";
			goto malformed;
		}
	}
	if (m->payload_off != m->esp_off + ESP_HL || m->payload_off > ip.end) {
		why = "payload offset is not ESP offset + 16";
		goto malformed;
	}
	if (memcmp(o + m->esp_off, &sa->rec.spi, 4)) {
		why = "ESP SPI is not the SA's";
		goto malformed;
	}
	if (vh && (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		/* Finish the L4 checksum the stack left partial: the cipher
		 * would hide it from anyone else. Offsets count the tag. */
		size_t cs = vh->csum_start, co = vh->csum_offset;

		if (cs < (size_t)TAG + m->payload_off) {
			why = "partial checksum starts before the payload";
			goto malformed;
		}
		cs -= TAG;
		if (cs + co + 2 > ip.end) {
			why = "partial checksum beyond the IP packet";
			goto malformed;
		}
		complete_csum(o, cs, co, ip.end);
	}
	if (!ivdb_next(sa, m->seq, &seq)) {
		why = "sequence number space exhausted (rekey)";
		goto malformed;
	}
	esp_hdr_write(o + m->esp_off, sa, seq);
	plen = ip.end - m->payload_off;
	esplen = agent_esp_seal(sa, o + m->esp_off, plen, m->next_hdr, seq >> 32);
	if (!esplen) {
		why = "cipher error";
		goto malformed;
	}
	ip_grow(o, &l2, ip.family, (int)(m->esp_off + esplen - ip.end));
	sa->packets++;
	sa->bytes += plen;
	tx_out(a, o, m->esp_off + esplen, &l2, ip.family);
	return;
malformed:
	agent_log(7, "tx: dropped as malformed: %s", why);
	a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
}

static void tx_tso(struct agent *a, const uint8_t *f, size_t len, const struct esptag_meta_view *m)
{
	const char *why = "";
	size_t flen = len - TAG, tcp, thl, payload, nseg, i, ohl, esp, pt, ipoff, tcpoff;
	uint8_t *s = a->scratch, *o, outer;
	uint32_t tcp_seq;
	uint16_t ip_id = 0;
	struct agent_sa *sa;
	struct ipi ip;
	struct l2 l2;
	bool tunnel;

	if (flen > AGENT_SLOT) {
		why = "frame too large";
		goto malformed;
	}
	memcpy(s, f, 12);
	memcpy(s + 12, f + 12 + TAG, len - 12 - TAG);
	if (parse_l2(s, flen, &l2)) {
		why = "bad VLAN tags";
		goto malformed;
	}
	sa = tx_sa(a, m->sa_index, s, &l2);
	if (!sa)
		return;
	if (parse_ip(s, flen, &l2, &ip)) {
		why = "no IP header";
		goto malformed;
	}
	tunnel = sa->rec.mode == ESPTAG_MODE_TUNNEL;
	if (tunnel) {
		if (m->esp_off != l2.l3 || m->next_hdr != (ip.family == 4 ? 4 : 41)) {
			why = "tunnel GSO: ESP offset is not the inner IP header, or next header "
			      "mismatch";
			goto malformed;
		}
		outer = sa->rec.family;
		ohl = outer == 4 ? 20 : 40;
	} else {
		if (m->esp_off != l2.l3 + ip.hl || m->next_hdr != 6 ||
		    ip.family != sa->rec.family) {
			why = "transport GSO: ESP offset is not after the IP header, or not TCP";
			goto malformed;
		}
		outer = ip.family;
		ohl = 0;
	}
	if (s[l2.l3 + (ip.family == 4 ? 9 : 6)] != 6) /* TCP only */
	{
		why = "GSO of a non-TCP packet";
		goto malformed;
	}
	tcp = l2.l3 + ip.hl;
	if (tcp + 20 > ip.end) {
		why = "truncated TCP header";
		goto malformed;
	}
	thl = (s[tcp + 12] >> 4) * 4;
	if (thl < 20 || tcp + thl > ip.end) {
		why = "bad TCP header length";
		goto malformed;
	}
	payload = ip.end - tcp - thl;
	if (!m->mss || l2.l3 + ohl + ESP_HL + ip.hl + thl + m->mss + TRAILER_ROOM > AGENT_SLOT) {
		why = "MSS zero or too large";
		goto malformed;
	}
	nseg = payload ? (payload + m->mss - 1) / m->mss : 1;
	if (m->mss < ESPTAG_GSO_MIN_MSS || nseg > ESPTAG_GSO_MAX_SEGS) {
		/* One frame must not turn into thousands (docs/protocol.md 2.3). */
		agent_log(7, "tx: GSO dropped: mss %u, %zu segments", m->mss, nseg);
		a->ctr[ESPTAG_AC_TX_DROP_GSO_LIMIT]++;
		return;
	}
	tcp_seq = rd32(s + tcp + 4);
	if (ip.family == 4)
		ip_id = rd16(s + l2.l3 + 4);

	for (i = 0; i < nseg; i++) {
		size_t dlen = payload - i * m->mss < m->mss ? payload - i * m->mss : m->mss;
		size_t tcp_len = thl + dlen, plen, esplen;
		uint8_t fl = s[tcp + 13], *h;
		uint64_t sum, seq;
		struct agent_pkt *p = agent_slot(a, AGENT_WIRE);

		o = p->data;
		memcpy(o, s, l2.l3);
		esp = l2.l3 + (tunnel ? ohl : ip.hl);
		pt = esp + ESP_HL;
		if (tunnel) {
			ipoff = pt;
			tcpoff = pt + ip.hl;
			memcpy(o + ipoff, s + l2.l3, ip.hl + thl);
		} else {
			ipoff = l2.l3;
			tcpoff = pt;
			memcpy(o + ipoff, s + l2.l3, ip.hl);
			memcpy(o + tcpoff, s + tcp, thl);
		}
		memcpy(o + tcpoff + thl, s + tcp + thl + i * m->mss, dlen);

		/* TCP: sequence, flags, full checksum over the pseudo-header. */
		wr32(o + tcpoff + 4, tcp_seq + (uint32_t)(i * m->mss));
		if (i != nseg - 1)
			fl &= ~(TCP_FIN | TCP_PSH);
		if (i)
			fl &= ~TCP_CWR;
		o[tcpoff + 13] = fl;
		wr16(o + tcpoff + 16, 0);
		h = o + ipoff;
		if (ip.family == 4)
			sum = csum_add(0, h + 12, 8);
		else
			sum = csum_add(0, h + 8, 32);
		sum += 6 + tcp_len;
		wr16(o + tcpoff + 16, csum_fold(csum_add(sum, o + tcpoff, tcp_len)));

		/* The IP header of the segment. */
		if (ip.family == 4) {
			wr16(h + 2, ip.hl + tcp_len + (tunnel ? 0 : ESP_HL));
			wr16(h + 4, ip_id + i);
			if (!tunnel)
				h[9] = ESPTAG_IPPROTO_ESP;
			ipv4_csum(h, ip.hl);
		} else {
			wr16(h + 4, tcp_len + (tunnel ? 0 : ESP_HL));
			if (!tunnel)
				h[6] = ESPTAG_IPPROTO_ESP;
		}
		plen = tunnel ? ip.hl + tcp_len : tcp_len;
		if (tunnel) {
			/* Outer header from the SA's tunnel endpoints. */
			h = o + l2.l3;
			wr16(o + l2.l3 - 2, outer == 4 ? ETH_P_IP_ : ETH_P_IPV6_);
			if (outer == 4) {
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
		if (!ivdb_next(sa, m->seq + i, &seq)) {
			why = "sequence number space exhausted (rekey)";
			goto malformed;
		}
		esp_hdr_write(o + esp, sa, seq);
		esplen = agent_esp_seal(sa, o + esp, plen, m->next_hdr, seq >> 32);
		if (!esplen) {
			why = "cipher error";
			goto malformed;
		}
		ip_grow(o, &l2, outer, (int)(esplen - ESP_HL - plen));
		sa->packets++;
		sa->bytes += plen;
		a->ctr[ESPTAG_AC_TX_SEGMENTS]++;
		{
			struct l2 ol2 = l2;

			ol2.proto = outer == 4 ? ETH_P_IP_ : ETH_P_IPV6_;
			tx_out(a, o, esp + esplen, &ol2, outer);
		}
	}
	return;
malformed:
	agent_log(7, "tx: dropped as malformed: %s", why);
	a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
}

void agent_host_frame(struct agent *a, uint8_t *f, size_t len, const struct virtio_net_hdr *vh)
{
	const char *why = "";
	struct esptag_meta_view m;
	struct agent_pkt *p;
	uint16_t et;

	if (len < ESPTAG_ETH_HLEN || len > AGENT_MAX_FRAME) {
		a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
		return;
	}
	et = rd16(f + 12);
	if (et == a->eth_cfg) {
		agent_cfg_frame(a, f, len);
		return;
	}
	if (esptag_eth_p_is_vlan(et)) {
		/* Our EtherTypes behind VLAN tags (a port VLAN or tc vlan push
		 * between host and agent): a config request or a tag that is
		 * not where it must be. Never forwarded to the wire. */
		size_t off = 12;

		while (off + 6 <= len && esptag_eth_p_is_vlan(et)) {
			off += 4;
			et = rd16(f + off);
		}
		if (et == a->eth_cfg || et == a->eth_meta) {
			a->ctr[ESPTAG_AC_TX_DROP_VLAN_HIDDEN]++;
			return;
		}
	}
	if (rd16(f + 12) != a->eth_meta) {
		p = agent_slot(a, AGENT_WIRE);
		memcpy(p->data, f, len);
		if (vh)
			p->vh = *vh;
		agent_commit(a, AGENT_WIRE, len);
		a->ctr[ESPTAG_AC_TX_UNTAGGED]++;
		return;
	}
	if (len < ESPTAG_ETH_HLEN + TAG) {
		why = "truncated metadata tag";
		goto malformed;
	}
	if (f[14] == ESPTAG_META_VERSION && f[15] == ESPTAG_META_TX &&
	    !(f[16] & ESPTAG_META_F_OFFLOAD)) {
		/* offload=0 (e.g. the port tag of an untrusted VF): strip and
		 * forward whatever the inner frame claims to be. */
		p = agent_slot(a, AGENT_WIRE);
		memcpy(p->data, f, 12);
		memcpy(p->data + 12, f + 12 + TAG, len - 12 - TAG);
		if (vh) {
			p->vh = *vh;
			if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
				if (vh->csum_start < TAG + ESPTAG_ETH_HLEN) {
					why = "bad partial checksum offset";
					goto malformed;
				}
				p->vh.csum_start -= TAG;
			}
			if (p->vh.hdr_len >= TAG + ESPTAG_ETH_HLEN)
				p->vh.hdr_len -= TAG;
		}
		agent_commit(a, AGENT_WIRE, len - TAG);
		a->ctr[ESPTAG_AC_TX_BYPASS]++;
		return;
	}
	if (esptag_meta_decode(f + 12, len - 12, a->eth_meta, &m) || m.kind != ESPTAG_META_TX) {
		why = "invalid Tx metadata tag";
		goto malformed;
	}
	if (m.flags & ESPTAG_META_F_GSO)
		tx_tso(a, f, len, &m);
	else
		tx_esp(a, f, len, &m, vh);
	return;
malformed:
	agent_log(7, "tx: dropped as malformed: %s", why);
	a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
}
