// SPDX-License-Identifier: GPL-2.0-only
/*
 * The esptag metadata tag (docs/protocol.md): a Tx tag from the host asks
 * for ESP (or GSO + ESP, or bypass), an Rx tag from the agent says what
 * happened to a received ESP packet. Every field the kind does not use is
 * zero; every offset lies within the frame.
 */
#include <string.h>
#include "proto_int.h"

static bool ip_ethertype(uint16_t t)
{
	return t == ETH_P_IP_ || t == ETH_P_IPV6_ || esptag_eth_p_is_vlan(t);
}

/* Smallest ESP offset: Ethernet header + minimal IPv4 header. */
#define MIN_ESP_OFF	(ESPTAG_ETH_HLEN + 20)
#define ESP_HLEN	((uint16_t)sizeof(struct esptag_esp_hdr))
#define TRAILER_MIN	(2 + ESPTAG_ICV_LEN)
#define TRAILER_MAX	(255 + 2 + ESPTAG_ICV_LEN)

/* Read the tag t into m; the checks common to both kinds. */
static int meta_read(const uint8_t *t, uint16_t eth_p_meta, struct esptag_meta_view *m)
{
	uint8_t version, reserved;
	uint16_t reserved2;
	uint32_t seq_hi, seq_lo;

	if (rd16(t) != eth_p_meta)
		return ESPTAG_EMALFORMED;
	version = t[2];
	m->kind = t[3];
	m->flags = t[4];
	m->next_hdr = t[5];
	m->result = t[6];
	reserved = t[7];
	m->esp_off = rd16(t + 8);
	m->payload_off = rd16(t + 10);
	m->trailer_len = rd16(t + 12);
	m->mss = rd16(t + 14);
	m->sa_index = rd32(t + 16);
	seq_hi = rd32(t + 20);
	seq_lo = rd32(t + 24);
	reserved2 = rd16(t + 28);
	m->inner_proto = rd16(t + 30);
	m->seq = (uint64_t)seq_hi << 32 | seq_lo;

	if (version != ESPTAG_META_VERSION || reserved || reserved2)
		return ESPTAG_EMALFORMED;
	if (m->flags & ~ESPTAG_META_F_KNOWN)
		return ESPTAG_EMALFORMED;
	if (m->inner_proto < 0x0600)
		return ESPTAG_EMALFORMED;
	if (!(m->flags & ESPTAG_META_F_ESN) && seq_hi)
		return ESPTAG_EMALFORMED;
	return 0;
}

/* A Tx tag in a frame of flen bytes (without the tag). */
static int meta_tx_check(const struct esptag_meta_view *m, size_t flen, uint16_t eth_p_meta)
{
	if (m->flags & ESPTAG_META_F_HAIRPIN)
		return ESPTAG_EMALFORMED;
	if (m->result || m->trailer_len)
		return ESPTAG_EMALFORMED;
	if (!(m->flags & ESPTAG_META_F_OFFLOAD)) {
		/* Bypass: nothing but the wrapped EtherType. */
		if (m->flags || m->next_hdr || m->esp_off || m->payload_off || m->mss ||
		    m->seq || m->sa_index != ESPTAG_SA_INDEX_NONE)
			return ESPTAG_EMALFORMED;
		/* Port tagging wraps whatever an untrusted VF sent,
		 * its own forged tags included: opaque payload. */
		return 0;
	}
	if (m->inner_proto == eth_p_meta)
		return ESPTAG_EMALFORMED;
	if (!ip_ethertype(m->inner_proto))
		return ESPTAG_EMALFORMED;
	if (m->sa_index == ESPTAG_SA_INDEX_NONE || !m->seq)
		return ESPTAG_EMALFORMED;
	/* GSO tunnel mode: esp_off is the inner IP header, right
	 * after the Ethernet header (and VLAN tags). */
	if (m->esp_off < ((m->flags & ESPTAG_META_F_GSO) ? ESPTAG_ETH_HLEN : MIN_ESP_OFF))
		return ESPTAG_EMALFORMED;
	if (m->flags & ESPTAG_META_F_GSO) {
		/* No ESP header yet; esp_off is where it goes and the
		 * first byte to encrypt. TCP only. */
		if (!m->mss || m->payload_off != m->esp_off || m->esp_off >= flen)
			return ESPTAG_EMALFORMED;
		if (m->next_hdr != 6 && m->next_hdr != 4 && m->next_hdr != 41)
			return ESPTAG_EMALFORMED;
		return 0;
	}
	if (m->mss || m->payload_off != m->esp_off + ESP_HLEN || m->payload_off > flen)
		return ESPTAG_EMALFORMED;
	return 0;
}

/* An Rx tag in a frame of flen bytes (without the tag). */
static int meta_rx_check(const struct esptag_meta_view *m, size_t flen)
{
	if (m->flags & (ESPTAG_META_F_OFFLOAD | ESPTAG_META_F_GSO))
		return ESPTAG_EMALFORMED;
	/* mss: ESP packets coalesced into the frame (0 or 1: one). */
	if (m->result > ESPTAG_RES_MAX || m->mss > ESPTAG_RX_MAX_SEGS ||
	    (m->mss > 1 && m->result != ESPTAG_RES_OK))
		return ESPTAG_EMALFORMED;
	if (!ip_ethertype(m->inner_proto))
		return ESPTAG_EMALFORMED;
	switch (m->result) {
	case ESPTAG_RES_OK:
		if (m->sa_index == ESPTAG_SA_INDEX_NONE)
			return ESPTAG_EMALFORMED;
		if (m->esp_off < MIN_ESP_OFF || m->payload_off != m->esp_off + ESP_HLEN)
			return ESPTAG_EMALFORMED;
		if (m->trailer_len < TRAILER_MIN || m->trailer_len > TRAILER_MAX ||
		    (size_t)m->payload_off + m->trailer_len > flen)
			return ESPTAG_EMALFORMED;
		return 0;
	case ESPTAG_RES_AUTH_FAIL:
	case ESPTAG_RES_NO_SA:
		if ((m->sa_index == ESPTAG_SA_INDEX_NONE) != (m->result == ESPTAG_RES_NO_SA))
			return ESPTAG_EMALFORMED;
		if (m->next_hdr || m->trailer_len)
			return ESPTAG_EMALFORMED;
		if (m->esp_off < MIN_ESP_OFF || m->payload_off != m->esp_off + ESP_HLEN ||
		    m->payload_off > flen)
			return ESPTAG_EMALFORMED;
		if (m->result == ESPTAG_RES_NO_SA && (m->flags & ESPTAG_META_F_ESN))
			return ESPTAG_EMALFORMED;
		return 0;
	default: /* MALFORMED, UNSUPPORTED: offsets 0 when not known */
		if (m->next_hdr || m->trailer_len)
			return ESPTAG_EMALFORMED;
		if (m->esp_off > flen || m->payload_off > flen)
			return ESPTAG_EMALFORMED;
		return 0;
	}
}

int esptag_meta_decode(const void *p, size_t len, uint16_t eth_p_meta, struct esptag_meta_view *m)
{
	size_t flen;	/* the frame without the tag */
	int err;

	memset(m, 0, sizeof(*m));
	if (len < sizeof(struct esptag_meta))
		return ESPTAG_EMALFORMED;
	/* p is frame + 12: the untagged frame is 12 + (len - 32) + 2 bytes. */
	flen = len - ESPTAG_META_LEN + 12;
	err = meta_read(p, eth_p_meta, m);
	if (err)
		return err;
	if (m->kind == ESPTAG_META_TX)
		return meta_tx_check(m, flen, eth_p_meta);
	if (m->kind != ESPTAG_META_RX)
		return ESPTAG_EMALFORMED;
	return meta_rx_check(m, flen);
}

void esptag_meta_encode(void *p, uint16_t eth_p_meta, const struct esptag_meta_view *m)
{
	uint8_t *t = p;

	memset(t, 0, sizeof(struct esptag_meta));
	wr16(t, eth_p_meta);
	t[2] = ESPTAG_META_VERSION;
	t[3] = m->kind;
	t[4] = m->flags;
	t[5] = m->next_hdr;
	t[6] = m->result;
	wr16(t + 8, m->esp_off);
	wr16(t + 10, m->payload_off);
	wr16(t + 12, m->trailer_len);
	wr16(t + 14, m->mss);
	wr32(t + 16, m->sa_index);
	wr32(t + 20, (uint32_t)(m->seq >> 32));
	wr32(t + 24, (uint32_t)m->seq);
	wr16(t + 30, m->inner_proto);
}
