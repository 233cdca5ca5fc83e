// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd control socket codec (ctl.h): strict validation of every message
 * the daemon or the CLI reads, so that a fuzzer can hammer it. This file
 * has the messages (header, item types and counts per operation); the
 * contents of the items are checked in ctl_check.c.
 */
#include <string.h>
#include <esptag/maps.h>
#include "ctl_int.h"

size_t esptag_ctl_item_size(int op, bool reply)
{
	switch (op) {
	case ESPTAG_CTL_VF_ADD:
	case ESPTAG_CTL_VF_RESET:
		return sizeof(struct esptag_ctl_vf);
	case ESPTAG_CTL_VF_DEL:
	case ESPTAG_CTL_VF_TRUST:
		return reply ? 0 : sizeof(struct esptag_ctl_vf);
	case ESPTAG_CTL_VF_LIST:
		return reply ? sizeof(struct esptag_ctl_vf) : 0;
	case ESPTAG_CTL_STATE_ADD:
		return sizeof(struct esptag_ctl_sa);
	case ESPTAG_CTL_STATE_DEL:
		return reply ? 0 : sizeof(struct esptag_ctl_sa_id);
	case ESPTAG_CTL_STATE_LIST:
	case ESPTAG_CTL_AGENT_SA:
		return reply ? sizeof(struct esptag_ctl_sa) : 0;
	case ESPTAG_CTL_POLICY_ADD:
	case ESPTAG_CTL_POLICY_UPDATE:
		return sizeof(struct esptag_ctl_policy);
	case ESPTAG_CTL_POLICY_DEL:
		return reply ? 0 : sizeof(struct esptag_ctl_policy);
	case ESPTAG_CTL_POLICY_LIST:
		return reply ? sizeof(struct esptag_ctl_policy) : 0;
	case ESPTAG_CTL_AGENT_STATUS:
		return reply ? sizeof(struct esptag_ctl_agent) : 0;
	case ESPTAG_CTL_STATS:
		return reply ? sizeof(struct esptag_ctl_stat) : 0;
	case ESPTAG_CTL_EVENT:
		return reply ? sizeof(struct esptag_ctl_event) : 0;
	case ESPTAG_CTL_STATE_ALLOCSPI:
		return sizeof(struct esptag_ctl_spi);
	case ESPTAG_CTL_STATE_UPDATE:
		return sizeof(struct esptag_ctl_sa);
	case ESPTAG_CTL_STATE_GET:
		return reply ? sizeof(struct esptag_ctl_sa) : sizeof(struct esptag_ctl_sa_id);
	case ESPTAG_CTL_POLICY_GET:
		return sizeof(struct esptag_ctl_policy);
	case ESPTAG_CTL_BYPASS_SOCKET:
		return reply ? 0 : sizeof(struct esptag_ctl_bypass);
	default:
		return 0;
	}
}

void esptag_ctl_item(const struct esptag_ctl_view *v, size_t i, void *out)
{
	memcpy(out, v->payload + i * v->item_size, v->item_size);
}

/* The header of a message of len bytes (copied into v). */
static int hdr_check(const uint8_t *b, size_t len, struct esptag_ctl_view *v, char *err,
		     size_t errlen)
{
	const struct esptag_ctl_hdr *h = &v->hdr;
	bool reply;

	if (len < sizeof(v->hdr))
		return fail(err, errlen, "message shorter than its header (%zu bytes)", len);
	memcpy(&v->hdr, b, sizeof(v->hdr));
	if (h->magic != ESPTAG_CTL_MAGIC)
		return fail(err, errlen, "bad magic 0x%08x", h->magic);
	if (h->version != ESPTAG_CTL_VERSION)
		return fail(err, errlen, "unsupported control protocol version %u", h->version);
	if (h->op < 1 || h->op > ESPTAG_CTL_OP_MAX)
		return fail(err, errlen, "unknown operation %u", h->op);
	if (h->flags & ~ESPTAG_CTL_F_REPLY)
		return fail(err, errlen, "unknown flags 0x%x", h->flags);
	if (h->len > ESPTAG_CTL_MAX_LEN || h->len != len - sizeof(v->hdr))
		return fail(err, errlen, "length %u does not match the message (%zu)", h->len,
			    len - sizeof(v->hdr));
	if (h->count > ESPTAG_CTL_MAX_ITEMS)
		return fail(err, errlen, "too many items (%u)", h->count);
	reply = h->flags & ESPTAG_CTL_F_REPLY;
	if (!reply && (h->op == ESPTAG_CTL_EVENT))
		return fail(err, errlen, "event is not a request");
	if (!reply && (h->status || h->agent_status || h->err_index))
		return fail(err, errlen, "request with reply fields set");
	return 0;
}

/* An error reply: known status, a printable message, no items. */
static int error_reply_check(const struct esptag_ctl_view *v, char *err, size_t errlen)
{
	const struct esptag_ctl_hdr *h = &v->hdr;

	if (h->status < 0 || h->status > ESPTAG_CTL_E_MAX)
		return fail(err, errlen, "unknown status %d", h->status);
	if (h->agent_status > ESPTAG_ST_MAX ||
	    (h->agent_status && h->status != ESPTAG_CTL_E_AGENT))
		return fail(err, errlen, "bad agent status %u", h->agent_status);
	if (h->count || h->len > ESPTAG_CTL_MSG_MAX)
		return fail(err, errlen, "error reply with items or a long message");
	for (uint32_t i = 0; i < h->len; i++)
		if (v->payload[i] < ' ' || v->payload[i] > '~')
			return fail(err, errlen, "error message not printable");
	return 0;
}

/* Operations that take exactly one item. */
static bool single_item(int op)
{
	return op == ESPTAG_CTL_POLICY_ADD || op == ESPTAG_CTL_POLICY_DEL ||
	       op == ESPTAG_CTL_POLICY_UPDATE || op == ESPTAG_CTL_AGENT_STATUS ||
	       op == ESPTAG_CTL_EVENT || op == ESPTAG_CTL_VF_ADD || op == ESPTAG_CTL_VF_DEL ||
	       op == ESPTAG_CTL_VF_TRUST || op == ESPTAG_CTL_VF_RESET ||
	       op == ESPTAG_CTL_STATE_ALLOCSPI || op == ESPTAG_CTL_STATE_UPDATE ||
	       op == ESPTAG_CTL_STATE_GET || op == ESPTAG_CTL_POLICY_GET ||
	       op == ESPTAG_CTL_BYPASS_SOCKET;
}

/* The items of a request or a successful reply: count, size, contents. */
static int items_check(struct esptag_ctl_view *v, bool reply, char *err, size_t errlen)
{
	const struct esptag_ctl_hdr *h = &v->hdr;
	char ierr[160];
	size_t isz;

	isz = esptag_ctl_item_size(h->op, reply);
	/* An agent status reply without daemon_version (older esptagd). */
	if (reply && h->op == ESPTAG_CTL_AGENT_STATUS && h->len == ESPTAG_CTL_AGENT_V1_SIZE)
		isz = ESPTAG_CTL_AGENT_V1_SIZE;
	v->item_size = isz;
	if (!isz) {
		if (h->count || h->len)
			return fail(err, errlen, "%s %s takes no items", esptag_ctl_op_str(h->op),
				    reply ? "reply" : "request");
		return 0;
	}
	if ((uint64_t)h->count * isz != h->len)
		return fail(err, errlen, "%u items of %zu bytes do not make %u bytes", h->count,
			    isz, h->len);
	if (!reply && !h->count)
		return fail(err, errlen, "%s needs at least one item", esptag_ctl_op_str(h->op));
	if (single_item(h->op) && h->count != 1)
		return fail(err, errlen, "%s takes exactly one item", esptag_ctl_op_str(h->op));
	for (uint32_t i = 0; i < h->count; i++) {
		if (esptag_ctl_item_check(h->op, reply, v->payload + (size_t)i * isz, isz, ierr,
					  sizeof(ierr)))
			return fail(err, errlen, "item %u: %s", i, ierr);
	}
	return 0;
}

int esptag_ctl_decode(const void *buf, size_t len, struct esptag_ctl_view *v,
		      char *err, size_t errlen)
{
	const uint8_t *b = buf;
	const struct esptag_ctl_hdr *h = &v->hdr;
	bool reply;

	memset(v, 0, sizeof(*v));
	if (hdr_check(b, len, v, err, errlen))
		return -1;
	reply = h->flags & ESPTAG_CTL_F_REPLY;
	v->payload = b + sizeof(v->hdr);
	if (reply && h->status)
		return error_reply_check(v, err, errlen);
	if (reply && (h->agent_status || h->err_index != 0xffffffffu))
		return fail(err, errlen, "successful reply with error fields set");
	return items_check(v, reply, err, errlen);
}

void esptag_ctl_hdr_init(struct esptag_ctl_hdr *h, int op, bool reply, int status,
			 uint32_t count, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = ESPTAG_CTL_MAGIC;
	h->version = ESPTAG_CTL_VERSION;
	h->op = op;
	h->flags = reply ? ESPTAG_CTL_F_REPLY : 0;
	h->status = status;
	h->count = count;
	h->len = len;
	h->err_index = reply ? 0xffffffffu : 0;
}
