/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The VF <-> PF mailbox (esptagd --vf <-> esptagd --pf).
 *
 * One Unix SOCK_SEQPACKET socket per VF, created by the PF at a path that
 * names the VF (<mbox-dir>/vf<N>.mbox, mode 0600). The PF knows which VF
 * speaks from the socket a message arrives on, never from its contents: no
 * message carries a VF number, port or MAC that the PF would believe.
 *
 * A message is one datagram: a 24-byte header (host byte order, the socket
 * never leaves the machine) and len payload bytes.
 *
 *   CFG    VF -> PF: payload = a config-packet payload (docs/protocol.md,
 *          from the 16-byte cfg header on; no Ethernet header). The PF
 *          checks it, rewrites the domain (hdr.port = VF + 1, every
 *          version 1 SA record's local_mac/VLANs = the VF's; a version 2
 *          wrapped record must name the VF's domain itself and goes on
 *          untouched), forwards it to the agent and answers only with the
 *          agent's reply.
 *          PF -> VF (F_REPLY): payload = the config reply payload. A request
 *          the PF refuses itself (untrusted VF, SA limit, opcode a VF may
 *          not use) is answered with a config reply of status
 *          NOT_PERMITTED / PORT_LIMIT. When the agent did not answer, the PF
 *          sends nothing and the VF times out.
 *   RESET  VF -> PF: no payload: the re-initialisation request of a VF
 *          that (re)starts. The PF removes every SA of the VF's domain from
 *          the agent, waits for the agent's confirmation, cleans its
 *          database and maps, and only then answers.
 *          PF -> VF (F_REPLY): struct esptag_mbox_reset (status 0), or no
 *          payload and status != 0 (enum esptag_ctl_status) when the
 *          cleanup could not be confirmed.
 */
#ifndef ESPTAG_CTL_MBOX_H
#define ESPTAG_CTL_MBOX_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <esptag/wire.h>

#define ESPTAG_MBOX_MAGIC	0x424d5445u	/* "ETMB" as little-endian bytes */
#define ESPTAG_MBOX_VERSION	1
#define ESPTAG_MBOX_MAX		(24 + ESPTAG_CFG_MAX_PAYLOAD)

enum esptag_mbox_type {
	ESPTAG_MBOX_CFG = 1,
	ESPTAG_MBOX_RESET = 2,
	ESPTAG_MBOX_TYPE_MAX = ESPTAG_MBOX_RESET,
};

#define ESPTAG_MBOX_F_REPLY	0x01

struct esptag_mbox_hdr {
	uint32_t magic;		/* ESPTAG_MBOX_MAGIC */
	uint8_t version;	/* ESPTAG_MBOX_VERSION */
	uint8_t type;		/* enum esptag_mbox_type */
	uint8_t flags;		/* ESPTAG_MBOX_F_* */
	uint8_t reserved;
	uint32_t len;		/* payload bytes after the header */
	uint32_t seq;		/* request: any; reply: the request's */
	int32_t status;		/* reply: enum esptag_ctl_status; request: 0 */
	uint32_t reserved2;
};
_Static_assert(sizeof(struct esptag_mbox_hdr) == 24, "mbox hdr");

/* RESET reply: what the PF has assigned to this VF. */
struct esptag_mbox_reset {
	uint16_t vf;
	uint16_t port;		/* agent port of the VF's SAD domain */
	uint8_t mac[6];		/* the VF's MAC (domain) */
	uint8_t nvlans;
	uint8_t trusted;	/* 0/1 */
	uint16_t vid[2];
	uint32_t limit;		/* SA limit */
	uint32_t removed;	/* SAs the agent confirmed removed */
	uint32_t reserved;
};
_Static_assert(sizeof(struct esptag_mbox_reset) == 28, "mbox reset");

struct esptag_mbox_view {
	struct esptag_mbox_hdr hdr;
	const uint8_t *payload;
};

/* Validate one received message of len bytes (exact length, magic, version,
 * type, flags, reserved zero, payload size for type and direction; a CFG
 * payload must at least hold a cfg header and at most ESPTAG_CFG_MAX_PAYLOAD
 * bytes, its contents are the PF's job with esptag_cfg_decode). Returns 0,
 * or -1 with a reason in err. */
int esptag_mbox_decode(const void *buf, size_t len, struct esptag_mbox_view *v, char *err,
		       size_t errlen);
/* Build a message into out (cap bytes); returns its length or 0. */
size_t esptag_mbox_build(void *out, size_t cap, int type, bool reply, uint32_t seq,
			 int32_t status, const void *payload, uint32_t plen);

#endif
