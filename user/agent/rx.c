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

void agent_rx_esp(struct agent *a, const uint8_t *f, size_t flen, const struct l2 *l2,
		  const struct ipi *ip, long esp_off, const struct domain *d, uint8_t hflags)
{
	struct esptag_meta_view m;
	struct agent_sa *sa;
	struct agent_pkt *p;
	uint8_t *out, *body;
	size_t ct_len;

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
