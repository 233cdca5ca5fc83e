// SPDX-License-Identifier: GPL-2.0-only
/*
 * The agent's transmit direction, host -> wire: config frames go to the
 * config handler (ctl.c), a Tx tag asks for ESP (here) or for segmentation
 * and ESP (tso.c), a bypass tag (offload=0) is stripped, untagged frames
 * pass; our EtherTypes behind VLAN tags are dropped. An encrypted frame to
 * a LOCAL address comes back to the host as an Rx frame (hairpin).
 */
#include <string.h>
#include <arpa/inet.h>
#include "datapath.h"

void agent_tx_malformed(struct agent *a, const char *why)
{
	agent_log(7, "tx: dropped as malformed: %s", why);
	a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
}

struct agent_sa *agent_tx_sa(struct agent *a, uint32_t idx, const uint8_t *f,
			     const struct l2 *l2)
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
	agent_sa_ctr(a, sa)->domain_reject++;
	a->ctr[ESPTAG_AC_TX_DROP_DOMAIN]++;
	return NULL;
}

/*
 * The talk's IVDB rule: wire sequence numbers are unique and increasing.
 * The IVDB never wraps: the last number of the SA's space (0xffffffff
 * without ESN, 2^64 - 1 with ESN) is used once, then the SA is spent and
 * sends nothing more. Returns false (drop the frame) for a spent SA and for
 * a number beyond the space; the IVDB does not move then.
 *
 * Workers of a multi-core agent share the SA. The IVDB moves by
 * compare-and-swap, with no lock: a lock holder preempted on a CPU it
 * shares with something busy (the sender, softirq work) would leave the
 * other workers spinning for the rest of a time slice. No two workers ever
 * get the same number (only the CAS that moves the IVDB past v hands out
 * v), and each number is above every number handed out before it (the
 * IVDB only grows, and a number is always at least the IVDB it moved).
 */
bool agent_ivdb_next(struct agent_sa *sa, uint64_t seq, uint64_t *out)
{
	uint64_t last = (sa->rec.sa_flags & ESPTAG_SA_F_ESN) ? UINT64_MAX : 0xffffffffull;
	uint64_t cur = __atomic_load_n(&sa->ivdb, __ATOMIC_RELAXED), v;

	for (;;) {
		if (__atomic_load_n(&sa->tx_spent, __ATOMIC_RELAXED))
			return false;
		v = cur <= seq ? seq : cur;
		if (v > last)
			return false;
		if (v == last)
			break;
		/* Whoever moves the IVDB from cur owns v; the others see the
		 * new value in cur and try again above it. */
		if (__atomic_compare_exchange_n(&sa->ivdb, &cur, v + 1, true, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED)) {
			*out = v;
			return true;
		}
	}
	/* The last number: ivdb + 1 would wrap. Bring the IVDB up to it (no
	 * one can take a number below it any more), then one worker wins it
	 * by setting tx_spent first. */
	while (cur < last && !__atomic_compare_exchange_n(&sa->ivdb, &cur, last, true,
							  __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (__atomic_exchange_n(&sa->tx_spent, true, __ATOMIC_RELAXED))
		return false;
	*out = last;
	return true;
}

void agent_rx_top_raise(struct agent_sa *sa, uint64_t seq)
{
	uint64_t top = __atomic_load_n(&sa->rx_top, __ATOMIC_RELAXED);

	while (seq > top && !__atomic_compare_exchange_n(&sa->rx_top, &top, seq, true,
							 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void agent_esp_hdr_write(uint8_t *esp, const struct agent_sa *sa, uint64_t seq)
{
	memcpy(esp, &sa->rec.spi, 4);
	wr32(esp + 4, (uint32_t)seq);
	wr32(esp + 8, seq >> 32);
	wr32(esp + 12, (uint32_t)seq);
}

void agent_tx_out(struct agent *a, uint8_t *o, size_t len, const struct l2 *l2, uint8_t family)
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
	if (agent_parse_ip(o, len, l2, &ip) || (esp = agent_find_esp(o, l2, &ip)) == 0) {
		a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
		return;
	}
	agent_rx_esp(a, o, len, l2, &ip, esp, &d, ESPTAG_META_F_HAIRPIN);
}

static void complete_csum(uint8_t *o, size_t start, size_t off, size_t end)
{
	uint16_t c = csum_fold(csum_add(0, o + start, end - start));

	if (!c && off == 6) /* UDP: 0 means "no checksum" */
		c = 0xffff;
	wr16(o + start + off, c);
}

/* Where the tag says the ESP header and payload are, in the untagged copy o:
 * NULL if it matches the packet and the SA, else why not. */
static const char *tx_esp_check(const uint8_t *o, const struct l2 *l2, const struct ipi *ip,
				const struct esptag_meta_view *m, const struct agent_sa *sa)
{
	if (ip->family == 4) {
		if (m->esp_off != l2->l3 + ip->hl || o[l2->l3 + 9] != ESPTAG_IPPROTO_ESP)
			return "ESP offset is not after the IPv4 header, or protocol is not 50";
	} else {
		if (m->esp_off < l2->l3 + 40u ||
		    (m->esp_off == l2->l3 + 40u && o[l2->l3 + 6] != ESPTAG_IPPROTO_ESP))
			return "IPv6 next header is not 50";
	}
	if (m->payload_off != m->esp_off + ESP_HL || m->payload_off > ip->end)
		return "payload offset is not ESP offset + 16";
	if (memcmp(o + m->esp_off, &sa->rec.spi, 4))
		return "ESP SPI is not the SA's";
	return NULL;
}

/*
 * Finish the L4 checksum the stack left partial: the cipher would hide it
 * from anyone else. Offsets count the tag. NULL, or why the offsets are bad.
 */
static const char *tx_esp_csum(uint8_t *o, const struct ipi *ip,
			       const struct esptag_meta_view *m, const struct virtio_net_hdr *vh)
{
	size_t cs, co;

	if (!vh || !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		return NULL;
	cs = vh->csum_start;
	co = vh->csum_offset;
	if (cs < (size_t)TAG + m->payload_off)
		return "partial checksum starts before the payload";
	cs -= TAG;
	if (cs + co + 2 > ip->end)
		return "partial checksum beyond the IP packet";
	complete_csum(o, cs, co, ip->end);
	return NULL;
}

/* One packet with a Tx tag: encrypt its ESP payload in the wire slot. */
static void tx_esp(struct agent *a, const uint8_t *f, size_t len, const struct esptag_meta_view *m,
		   const struct virtio_net_hdr *vh)
{
	const char *why = "frame too large";
	size_t flen = len - TAG, plen, esplen;
	struct agent_sa *sa;
	struct ipi ip;
	struct l2 l2;
	uint64_t seq;
	uint8_t *o;

	if (flen + TRAILER_ROOM > AGENT_SLOT)
		goto malformed;
	o = agent_slot(a, AGENT_WIRE)->data;
	memcpy(o, f, 12);
	memcpy(o + 12, f + 12 + TAG, len - 12 - TAG);
	why = "bad VLAN tags";
	if (agent_parse_l2(o, flen, &l2))
		goto malformed;
	sa = agent_tx_sa(a, m->sa_index, o, &l2);
	if (!sa)
		return;
	why = "no IP header of the SA's family";
	if (agent_parse_ip(o, flen, &l2, &ip) || ip.family != sa->rec.family)
		goto malformed;
	why = tx_esp_check(o, &l2, &ip, m, sa);
	if (!why)
		why = tx_esp_csum(o, &ip, m, vh);
	if (why)
		goto malformed;
	why = "sequence number space exhausted (rekey)";
	if (!agent_ivdb_next(sa, m->seq, &seq))
		goto malformed;
	agent_esp_hdr_write(o + m->esp_off, sa, seq);
	plen = ip.end - m->payload_off;
	esplen = agent_esp_seal_ctx(agent_sa_cipher(a, sa), sa, o + m->esp_off, plen, m->next_hdr, seq >> 32);
	why = "cipher error";
	if (!esplen)
		goto malformed;
	agent_ip_grow(o, &l2, ip.family, (int)(m->esp_off + esplen - ip.end));
	agent_sa_ctr(a, sa)->packets++;
	agent_sa_ctr(a, sa)->bytes += plen;
	agent_tx_out(a, o, m->esp_off + esplen, &l2, ip.family);
	return;
malformed:
	agent_tx_malformed(a, why);
}

/*
 * Our EtherTypes behind VLAN tags (a port VLAN or tc vlan push between
 * host and agent): a config request or a tag that is not where it must
 * be. Never forwarded to the wire.
 */
static bool tx_vlan_hidden(struct agent *a, const uint8_t *f, size_t len)
{
	uint16_t et = rd16(f + 12);
	size_t off = 12;

	if (!esptag_eth_p_is_vlan(et))
		return false;
	while (off + 6 <= len && esptag_eth_p_is_vlan(et)) {
		off += 4;
		et = rd16(f + off);
	}
	return et == a->eth_cfg || et == a->eth_meta;
}

/* A frame without our tag goes out as it is. */
static void tx_untagged(struct agent *a, const uint8_t *f, size_t len,
			const struct virtio_net_hdr *vh)
{
	struct agent_pkt *p = agent_slot(a, AGENT_WIRE);

	memcpy(p->data, f, len);
	if (vh)
		p->vh = *vh;
	agent_commit(a, AGENT_WIRE, len);
	a->ctr[ESPTAG_AC_TX_UNTAGGED]++;
}

/*
 * offload=0 (e.g. the port tag of an untrusted VF): strip the tag and
 * forward whatever the inner frame claims to be. NULL, or why it is
 * malformed.
 */
static const char *tx_bypass(struct agent *a, const uint8_t *f, size_t len,
			     const struct virtio_net_hdr *vh)
{
	struct agent_pkt *p = agent_slot(a, AGENT_WIRE);

	memcpy(p->data, f, 12);
	memcpy(p->data + 12, f + 12 + TAG, len - 12 - TAG);
	if (vh) {
		p->vh = *vh;
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			if (vh->csum_start < TAG + ESPTAG_ETH_HLEN)
				return "bad partial checksum offset";
			p->vh.csum_start -= TAG;
		}
		if (p->vh.hdr_len >= TAG + ESPTAG_ETH_HLEN)
			p->vh.hdr_len -= TAG;
	}
	agent_commit(a, AGENT_WIRE, len - TAG);
	a->ctr[ESPTAG_AC_TX_BYPASS]++;
	return NULL;
}

void agent_host_frame(struct agent *a, uint8_t *f, size_t len, const struct virtio_net_hdr *vh)
{
	struct esptag_meta_view m;
	const char *why;

	if (len < ESPTAG_ETH_HLEN || len > AGENT_MAX_FRAME) {
		a->ctr[ESPTAG_AC_TX_DROP_MALFORMED]++;
		return;
	}
	if (rd16(f + 12) == a->eth_cfg) {
		if (a->ctl)
			agent_cfg_from_worker(a, f, len);
		else
			agent_cfg_frame(a, f, len);
		return;
	}
	if (tx_vlan_hidden(a, f, len)) {
		a->ctr[ESPTAG_AC_TX_DROP_VLAN_HIDDEN]++;
		return;
	}
	if (rd16(f + 12) != a->eth_meta) {
		tx_untagged(a, f, len, vh);
		return;
	}
	why = "truncated metadata tag";
	if (len < ESPTAG_ETH_HLEN + TAG)
		goto malformed;
	if (f[14] == ESPTAG_META_VERSION && f[15] == ESPTAG_META_TX &&
	    !(f[16] & ESPTAG_META_F_OFFLOAD)) {
		why = tx_bypass(a, f, len, vh);
		if (why)
			goto malformed;
		return;
	}
	why = "invalid Tx metadata tag";
	if (esptag_meta_decode(f + 12, len - 12, a->eth_meta, &m) || m.kind != ESPTAG_META_TX)
		goto malformed;
	if (m.flags & ESPTAG_META_F_GSO)
		agent_tx_tso(a, f, len, &m);
	else
		tx_esp(a, f, len, &m, vh);
	return;
malformed:
	agent_tx_malformed(a, why);
}
