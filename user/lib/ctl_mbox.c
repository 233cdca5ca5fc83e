// SPDX-License-Identifier: GPL-2.0-only
/* The VF <-> PF mailbox codec (ctl_mbox.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "ctl.h"
#include "ctl_mbox.h"
#include "util.h"


int esptag_mbox_decode(const void *buf, size_t len, struct esptag_mbox_view *v, char *err,
		       size_t errlen)
{
	const struct esptag_mbox_hdr *h = &v->hdr;
	bool reply;

	memset(v, 0, sizeof(*v));
	if (len < sizeof(*h))
		return esptag_fail(err, errlen, "message shorter than its header (%zu bytes)", len);
	memcpy(&v->hdr, buf, sizeof(*h));
	v->payload = (const uint8_t *)buf + sizeof(*h);
	if (h->magic != ESPTAG_MBOX_MAGIC)
		return esptag_fail(err, errlen, "bad magic 0x%08x", h->magic);
	if (h->version != ESPTAG_MBOX_VERSION)
		return esptag_fail(err, errlen, "unsupported mailbox version %u", h->version);
	if (h->type < 1 || h->type > ESPTAG_MBOX_TYPE_MAX)
		return esptag_fail(err, errlen, "unknown message type %u", h->type);
	if (h->flags & ~ESPTAG_MBOX_F_REPLY)
		return esptag_fail(err, errlen, "unknown flags 0x%x", h->flags);
	if (h->reserved || h->reserved2)
		return esptag_fail(err, errlen, "reserved fields set");
	if (h->len != len - sizeof(*h))
		return esptag_fail(err, errlen, "length %u does not match the message (%zu)", h->len,
			    len - sizeof(*h));
	reply = h->flags & ESPTAG_MBOX_F_REPLY;
	if (!reply && h->status)
		return esptag_fail(err, errlen, "request with a status");
	if (reply && (h->status < 0 || h->status > ESPTAG_CTL_E_MAX))
		return esptag_fail(err, errlen, "unknown status %d", h->status);
	if (reply && h->status && h->len)
		return esptag_fail(err, errlen, "error reply with a payload");
	switch (h->type) {
	case ESPTAG_MBOX_CFG:
		if (reply && h->status)
			return esptag_fail(err, errlen, "a config reply carries no status of its own");
		if (h->len < sizeof(struct esptag_cfg_hdr) || h->len > ESPTAG_CFG_MAX_PAYLOAD)
			return esptag_fail(err, errlen, "config payload of %u bytes (%zu..%u)", h->len,
				    sizeof(struct esptag_cfg_hdr), ESPTAG_CFG_MAX_PAYLOAD);
		break;
	case ESPTAG_MBOX_RESET:
		if (!reply && h->len)
			return esptag_fail(err, errlen, "reset request with a payload");
		if (reply && !h->status) {
			struct esptag_mbox_reset r;

			if (h->len != sizeof(r))
				return esptag_fail(err, errlen, "reset reply of %u bytes (expected %zu)",
					    h->len, sizeof(r));
			memcpy(&r, v->payload, sizeof(r));
			if (r.nvlans > 2 || r.trusted > 1 || r.reserved ||
			    r.port != r.vf + 1 || r.vf > ESPTAG_CTL_VF_MAX)
				return esptag_fail(err, errlen, "reset reply with bad field values");
		}
		break;
	}
	return 0;
}

size_t esptag_mbox_build(void *out, size_t cap, int type, bool reply, uint32_t seq,
			 int32_t status, const void *payload, uint32_t plen)
{
	struct esptag_mbox_hdr h = {
		.magic = ESPTAG_MBOX_MAGIC,
		.version = ESPTAG_MBOX_VERSION,
		.type = type,
		.flags = reply ? ESPTAG_MBOX_F_REPLY : 0,
		.len = plen,
		.seq = seq,
		.status = status,
	};

	if (sizeof(h) + plen > cap)
		return 0;
	memcpy(out, &h, sizeof(h));
	if (plen)
		memcpy((uint8_t *)out + sizeof(h), payload, plen);
	return sizeof(h) + plen;
}
