/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals of the agent's data path on frames in memory, shared by
 *   parse.c  Ethernet/VLAN, IP and ESP header parsing (bounds-checked);
 *   rx.c     wire -> host: ESP decryption with the Rx tag (and hairpin);
 *   tx.c     host -> wire: config, bypass, untagged, ESP of one packet;
 *   tso.c    host -> wire: GSO super-packets cut into ESP segments.
 * Every offset read from a frame or a tag is bounds-checked; the fuzzers
 * (tests/fuzz/fuzz_agent_*.c) drive agent_host_frame() and
 * agent_wire_frame() (agent.h).
 */
#ifndef ESPTAG_AGENT_DATAPATH_H
#define ESPTAG_AGENT_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* The domain a received ESP packet is looked up in: MAC and VLAN IDs. */
struct domain {
	const uint8_t *mac;
	uint8_t nvlans;
	uint16_t vid[2];
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

static inline uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += rd16(p + i);
	if (n & 1)
		sum += (uint16_t)p[n - 1] << 8;
	return sum;
}

static inline uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static inline void ipv4_csum(uint8_t *ip, unsigned int hl)
{
	wr16(ip + 10, 0);
	wr16(ip + 10, csum_fold(csum_add(0, ip, hl)));
}

static inline const uint8_t *ip_daddr(const uint8_t *f, const struct l2 *l2, uint8_t family)
{
	return f + l2->l3 + (family == 4 ? 16 : 24);
}

/* parse.c */
int agent_parse_l2(const uint8_t *f, size_t len, struct l2 *l);
int agent_parse_ip(const uint8_t *f, size_t len, const struct l2 *l2, struct ipi *ip);
/* Add grow bytes to the IP length field (IPv4: and fix the checksum). */
void agent_ip_grow(uint8_t *f, const struct l2 *l2, uint8_t family, int grow);
/*
 * Find the ESP header of an IP packet: IPv4 protocol 50 (not a fragment) or
 * IPv6 next header 50 after the usual extension headers. Returns the offset,
 * 0 when the packet is not ESP, -1 for an ESP fragment (unsupported).
 */
long agent_find_esp(const uint8_t *f, const struct l2 *l2, const struct ipi *ip);

/* rx.c: decrypt the ESP packet of f in domain d and hand it to the host
 * with an Rx tag (hflags: extra tag flags, ESPTAG_META_F_HAIRPIN). */
void agent_rx_esp(struct agent *a, const uint8_t *f, size_t flen, const struct l2 *l2,
		  const struct ipi *ip, long esp_off, const struct domain *d, uint8_t hflags);

/* tx.c: shared by the ESP and the TSO paths. */
/* The Tx SA at idx if it belongs to the sender's domain (counted if not). */
struct agent_sa *agent_tx_sa(struct agent *a, uint32_t idx, const uint8_t *f,
			     const struct l2 *l2);
/* The next wire sequence number (IVDB rule); false: the SA is spent. */
bool agent_ivdb_next(struct agent_sa *sa, uint64_t seq, uint64_t *out);
/* Rx: raise the SA's highest authenticated sequence number to seq. */
void agent_rx_top_raise(struct agent_sa *sa, uint64_t seq);
void agent_esp_hdr_write(uint8_t *esp, const struct agent_sa *sa, uint64_t seq);
/* Send an encrypted frame (in the current wire slot) out, or hairpin it. */
void agent_tx_out(struct agent *a, uint8_t *o, size_t len, const struct l2 *l2,
		  uint8_t family);
/* Count a frame dropped as malformed (logged at debug level with why). */
void agent_tx_malformed(struct agent *a, const char *why);

/* tso.c: a GSO super-packet with a Tx tag (len counts the tag). */
void agent_tx_tso(struct agent *a, const uint8_t *f, size_t len,
		  const struct esptag_meta_view *m);

#endif
