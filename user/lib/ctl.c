// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd control socket codec (ctl.h): strict validation of every message
 * the daemon or the CLI reads, so that a fuzzer can hammer it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <esptag/maps.h>
#include "ctl.h"
#include "util.h"

/* The shared error-buffer helper (util.h), under its short local name. */
#define fail esptag_fail

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* dev: NUL within the field, printable, non-empty unless allow_empty. */
static int dev_check(const char *dev, bool allow_empty, char *err, size_t errlen)
{
	size_t n = strnlen(dev, ESPTAG_CTL_DEV_LEN);

	if (n == ESPTAG_CTL_DEV_LEN)
		return fail(err, errlen, "device name not terminated");
	if (!n && !allow_empty)
		return fail(err, errlen, "device name missing");
	for (size_t i = 0; i < n; i++)
		if (dev[i] <= ' ' || dev[i] > '~' || strchr("/:\\\"'", dev[i]))
			return fail(err, errlen, "bad character in device name");
	if (!all_zero(dev + n, ESPTAG_CTL_DEV_LEN - n))
		return fail(err, errlen, "garbage after device name");
	return 0;
}

static int addr_check(uint8_t family, const uint8_t a[16], const char *what, char *err,
		      size_t errlen)
{
	if (family == 4 && !all_zero(a + 4, 12))
		return fail(err, errlen, "%s: IPv4 address with bytes beyond 4", what);
	return 0;
}

static int plen_check(uint8_t family, const uint8_t a[16], uint8_t plen, const char *what,
		      char *err, size_t errlen)
{
	unsigned int max = family == 4 ? 32 : 128;

	if (plen > max)
		return fail(err, errlen, "%s: prefix length %u > %u", what, plen, max);
	for (unsigned int bit = plen; bit < 128; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return fail(err, errlen, "%s: bits set beyond the prefix length", what);
	return 0;
}

int esptag_ctl_sa_check(const struct esptag_ctl_sa *sa, bool is_request, char *err,
			size_t errlen)
{
	if (dev_check(sa->dev, !is_request, err, errlen))
		return -1;
	if (sa->dir != ESPTAG_DIR_IN && sa->dir != ESPTAG_DIR_OUT)
		return fail(err, errlen, "dir must be in or out");
	if (sa->family != 4 && sa->family != 6)
		return fail(err, errlen, "family must be 4 or 6");
	if (sa->mode != ESPTAG_MODE_TRANSPORT && sa->mode != ESPTAG_MODE_TUNNEL)
		return fail(err, errlen, "mode must be transport or tunnel");
	if (sa->alg == ESPTAG_ALG_AES_GCM_128) {
		if (sa->key_len != 16)
			return fail(err, errlen, "AES-128-GCM needs a 16-byte key, got %u",
				    sa->key_len);
	} else if (sa->alg == ESPTAG_ALG_AES_GCM_256) {
		if (sa->key_len != 32)
			return fail(err, errlen, "AES-256-GCM needs a 32-byte key, got %u",
				    sa->key_len);
	} else {
		return fail(err, errlen, "unknown algorithm %u", sa->alg);
	}
	if (sa->icv_len != ESPTAG_ICV_LEN)
		return fail(err, errlen, "ICV length must be 16 bytes (128 bits)");
	if (sa->sa_flags & ~ESPTAG_SA_F_KNOWN)
		return fail(err, errlen, "unknown SA flags 0x%x", sa->sa_flags);
	if (sa->nvlans > 2)
		return fail(err, errlen, "at most 2 VLAN tags");
	for (int i = 0; i < 2; i++) {
		if (i < sa->nvlans && (sa->vid[i] < 1 || sa->vid[i] > 4094))
			return fail(err, errlen, "VLAN id %u out of range 1-4094", sa->vid[i]);
		if (i >= sa->nvlans && sa->vid[i])
			return fail(err, errlen, "unused VLAN slot not zero");
	}
	if (sa->spi < 256)
		return fail(err, errlen, "SPI 0x%x is reserved (0-255, RFC 4303)", sa->spi);
	if (sa->replay_window > ESPTAG_REPLAY_MAX)
		return fail(err, errlen, "replay window %u > %u", sa->replay_window,
			    ESPTAG_REPLAY_MAX);
	if (addr_check(sa->family, sa->saddr, "src", err, errlen) ||
	    addr_check(sa->family, sa->daddr, "dst", err, errlen))
		return -1;
	if (all_zero(sa->daddr, 16))
		return fail(err, errlen, "dst address missing");
	if (!all_zero(sa->key + sa->key_len, ESPTAG_KEY_MAX - sa->key_len))
		return fail(err, errlen, "bytes beyond the key length");
	if (is_request) {
		if (all_zero(sa->key, sa->key_len))
			return fail(err, errlen, "key missing (all zero)");
		if (sa->sa_index != ESPTAG_SA_INDEX_NONE || sa->state || sa->seq)
			return fail(err, errlen, "request with reply-only fields set");
	} else {
		if (!all_zero(sa->key, sizeof(sa->key)) || !all_zero(sa->salt, sizeof(sa->salt)))
			return fail(err, errlen, "key material in a reply");
		if (sa->state & ~ESPTAG_CTL_SAS_KNOWN)
			return fail(err, errlen, "unknown SA state bits");
	}
	return 0;
}

int esptag_ctl_sa_id_check(const struct esptag_ctl_sa_id *id, char *err, size_t errlen)
{
	if (dev_check(id->dev, false, err, errlen))
		return -1;
	if (id->dir > ESPTAG_DIR_OUT)
		return fail(err, errlen, "dir must be in, out or unset");
	if (id->family != 4 && id->family != 6)
		return fail(err, errlen, "family must be 4 or 6");
	if (id->proto != ESPTAG_IPPROTO_ESP)
		return fail(err, errlen, "proto must be esp");
	if (id->reserved)
		return fail(err, errlen, "reserved field not zero");
	if (id->spi < 256)
		return fail(err, errlen, "SPI 0x%x is reserved (0-255, RFC 4303)", id->spi);
	if (addr_check(id->family, id->daddr, "dst", err, errlen))
		return -1;
	return 0;
}

int esptag_ctl_policy_check(const struct esptag_ctl_policy *p, bool is_request, char *err,
			    size_t errlen)
{
	if (dev_check(p->dev, !is_request, err, errlen))
		return -1;
	if (p->dir != ESPTAG_DIR_IN && p->dir != ESPTAG_DIR_OUT)
		return fail(err, errlen, "dir must be in or out");
	if (p->family != 4 && p->family != 6)
		return fail(err, errlen, "family must be 4 or 6");
	if (p->action < ESPTAG_ACT_BYPASS || p->action > ESPTAG_ACT_DISCARD)
		return fail(err, errlen, "action must be protect, bypass or discard");
	if (plen_check(p->family, p->src, p->src_plen, "src", err, errlen) ||
	    plen_check(p->family, p->dst, p->dst_plen, "dst", err, errlen))
		return -1;
	if (p->action != ESPTAG_ACT_PROTECT && p->spi)
		return fail(err, errlen, "spi only goes with action protect");
	if (p->action == ESPTAG_ACT_PROTECT && p->spi && p->spi < 256)
		return fail(err, errlen, "SPI 0x%x is reserved (0-255, RFC 4303)", p->spi);
	if (p->tmpl_flags & ~ESPTAG_CTL_TMPL_FLAGS)
		return fail(err, errlen, "unknown template flags 0x%x", p->tmpl_flags);
	if ((p->tmpl_flags || p->tmpl_mode) &&
	    (p->action != ESPTAG_ACT_PROTECT || p->dir != ESPTAG_DIR_OUT))
		return fail(err, errlen,
			    "a template (tmpl src, dst, reqid, mode) names the SA of a dir out protect policy only");
	if (!(p->tmpl_flags & ESPTAG_CTL_TMPL_REQID) && p->reqid)
		return fail(err, errlen, "reqid set without its template flag");
	if (p->tmpl_mode && p->tmpl_mode != ESPTAG_MODE_TRANSPORT &&
	    p->tmpl_mode != ESPTAG_MODE_TUNNEL)
		return fail(err, errlen, "template mode must be transport or tunnel");
	if (p->tmpl_flags & (ESPTAG_CTL_TMPL_SRC | ESPTAG_CTL_TMPL_DST)) {
		if (p->tmpl_family != 4 && p->tmpl_family != 6)
			return fail(err, errlen, "template address family must be 4 or 6");
		if ((p->tmpl_flags & ESPTAG_CTL_TMPL_SRC) &&
		    addr_check(p->tmpl_family, p->tmpl_src, "tmpl src", err, errlen))
			return -1;
		if ((p->tmpl_flags & ESPTAG_CTL_TMPL_DST) &&
		    addr_check(p->tmpl_family, p->tmpl_dst, "tmpl dst", err, errlen))
			return -1;
	} else if (p->tmpl_family) {
		return fail(err, errlen, "template family set without a template address");
	}
	if (!(p->tmpl_flags & ESPTAG_CTL_TMPL_SRC) && !all_zero(p->tmpl_src, 16))
		return fail(err, errlen, "tmpl src set without its template flag");
	if (!(p->tmpl_flags & ESPTAG_CTL_TMPL_DST) && !all_zero(p->tmpl_dst, 16))
		return fail(err, errlen, "tmpl dst set without its template flag");
	if (is_request && p->action == ESPTAG_ACT_PROTECT && p->dir == ESPTAG_DIR_OUT &&
	    !p->spi && !(p->tmpl_flags & ESPTAG_CTL_TMPL_REQID))
		return fail(err, errlen, "an outbound protect policy needs spi SPI (or reqid N)");
	return 0;
}

static int agent_check(const struct esptag_ctl_agent *a, char *err, size_t errlen)
{
	if (dev_check(a->dev, false, err, errlen))
		return -1;
	if (a->reachable > 1 || a->port_up > 1 || a->xdp_mode > ESPTAG_XDP_ADOPTED)
		return fail(err, errlen, "agent status: bad flag value");
	if (a->reserved || a->reserved0)
		return fail(err, errlen, "agent status: reserved field not zero");
	for (size_t i = 0; i < sizeof(a->daemon_version) && a->daemon_version[i]; i++)
		if (a->daemon_version[i] < ' ' || a->daemon_version[i] > '~')
			return fail(err, errlen, "agent status: daemon version not printable");
	if (a->daemon_version[sizeof(a->daemon_version) - 1])
		return fail(err, errlen, "agent status: daemon version not terminated");
	return 0;
}

static int stat_check(const struct esptag_ctl_stat *s, char *err, size_t errlen)
{
	if (s->kind == ESPTAG_STAT_DP && s->id >= ESPTAG_CNT_MAX)
		return fail(err, errlen, "stat: data-path counter %u unknown", s->id);
	if (s->kind == ESPTAG_STAT_AGENT && s->id >= ESPTAG_AC_MAX)
		return fail(err, errlen, "stat: agent counter %u unknown", s->id);
	if (s->kind < ESPTAG_STAT_DP || s->kind > ESPTAG_STAT_SA)
		return fail(err, errlen, "stat: kind %u unknown", s->kind);
	if (s->dir > ESPTAG_DIR_OUT || s->agent_ok > 1)
		return fail(err, errlen, "stat: bad field value");
	return 0;
}

static int event_check(const struct esptag_ctl_event *e, char *err, size_t errlen)
{
	if (e->type < 1 || e->type > ESPTAG_EV_MAX)
		return fail(err, errlen, "event: type %u unknown", e->type);
	if (e->type == ESPTAG_EV_DROP && e->id >= ESPTAG_CNT_MAX)
		return fail(err, errlen, "event: counter %u unknown", e->id);
	if (e->dir > ESPTAG_DIR_OUT || (e->family && e->family != 4 && e->family != 6))
		return fail(err, errlen, "event: bad field value");
	return 0;
}

int esptag_ctl_vf_check(const struct esptag_ctl_vf *vf, int op, bool is_request, char *err,
			size_t errlen)
{
	size_t n = strnlen(vf->ifname, sizeof(vf->ifname));

	if (vf->vf > ESPTAG_CTL_VF_MAX)
		return fail(err, errlen, "vf: number %u out of range (0..%u)", vf->vf,
			    ESPTAG_CTL_VF_MAX);
	if (n == sizeof(vf->ifname))
		return fail(err, errlen, "vf: device name not terminated");
	for (size_t i = n; i < sizeof(vf->ifname); i++)
		if (vf->ifname[i])
			return fail(err, errlen, "vf: bytes after the device name");
	for (size_t i = 0; i < n; i++)
		if (vf->ifname[i] <= ' ' || vf->ifname[i] > '~' || vf->ifname[i] == '"' ||
		    vf->ifname[i] == '\\' || vf->ifname[i] == '/' || vf->ifname[i] == ':')
			return fail(err, errlen, "vf: bad character in the device name");
	if (vf->flags & ~ESPTAG_CTL_VF_FLAGS)
		return fail(err, errlen, "vf: unknown flags 0x%x", vf->flags);
	if (vf->nvlans > 2)
		return fail(err, errlen, "vf: at most two VLANs");
	for (int i = 0; i < 2; i++)
		if (i < vf->nvlans ? vf->vid[i] < 1 || vf->vid[i] > 4094 : vf->vid[i] != 0)
			return fail(err, errlen, "vf: VLAN IDs are 1..4094");
	if (vf->family != 0 && vf->family != 4 && vf->family != 6)
		return fail(err, errlen, "vf: address family %u", vf->family);
	if (vf->reserved[0] || vf->reserved[1] || vf->reserved[2] || vf->reserved2)
		return fail(err, errlen, "vf: reserved bytes set");
	if (vf->mode > ESPTAG_CTL_SW_VEPA)
		return fail(err, errlen, "vf: switch mode %u", vf->mode);
	if (is_request && op == ESPTAG_CTL_VF_ADD) {
		if (!n)
			return fail(err, errlen, "vf add: needs 'dev IFNAME' (the VF's switch port)");
		if ((vf->mac[0] & 1) || !(vf->mac[0] | vf->mac[1] | vf->mac[2] | vf->mac[3] |
					   vf->mac[4] | vf->mac[5]))
			return fail(err, errlen, "vf add: needs a unicast 'mac MAC'");
		if (vf->flags & ~ESPTAG_CTL_VF_TRUSTED)
			return fail(err, errlen, "vf add: only the trusted flag can be set");
	}
	if (is_request && (vf->port || vf->sa_count || vf->ifindex || vf->mode))
		return fail(err, errlen, "vf: reply fields set in a request");
	return 0;
}

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
	default:
		return 0;
	}
}

void esptag_ctl_item(const struct esptag_ctl_view *v, size_t i, void *out)
{
	memcpy(out, v->payload + i * v->item_size, v->item_size);
}

static int item_check(int op, bool reply, const void *p, size_t isz, char *err, size_t errlen)
{
	union {
		struct esptag_ctl_sa sa;
		struct esptag_ctl_sa_id id;
		struct esptag_ctl_policy pol;
		struct esptag_ctl_agent agent;
		struct esptag_ctl_stat stat;
		struct esptag_ctl_event ev;
		struct esptag_ctl_vf vf;
	} u;
	int rc = 0;

	memset(&u, 0, sizeof(u));
	memcpy(&u, p, isz);
	switch (op) {
	case ESPTAG_CTL_STATE_ADD:
	case ESPTAG_CTL_STATE_LIST:
	case ESPTAG_CTL_AGENT_SA:
		rc = esptag_ctl_sa_check(&u.sa, !reply, err, errlen);
		break;
	case ESPTAG_CTL_STATE_DEL:
		rc = esptag_ctl_sa_id_check(&u.id, err, errlen);
		break;
	case ESPTAG_CTL_POLICY_ADD:
	case ESPTAG_CTL_POLICY_UPDATE:
	case ESPTAG_CTL_POLICY_DEL:
	case ESPTAG_CTL_POLICY_LIST:
		rc = esptag_ctl_policy_check(&u.pol, !reply, err, errlen);
		break;
	case ESPTAG_CTL_AGENT_STATUS:
		rc = agent_check(&u.agent, err, errlen);
		break;
	case ESPTAG_CTL_STATS:
		rc = stat_check(&u.stat, err, errlen);
		break;
	case ESPTAG_CTL_EVENT:
		rc = event_check(&u.ev, err, errlen);
		break;
	case ESPTAG_CTL_VF_ADD:
	case ESPTAG_CTL_VF_DEL:
	case ESPTAG_CTL_VF_LIST:
	case ESPTAG_CTL_VF_TRUST:
	case ESPTAG_CTL_VF_RESET:
		rc = esptag_ctl_vf_check(&u.vf, op, !reply, err, errlen);
		break;
	}
	/* The union may hold key bytes copied from a request. */
	explicit_bzero(&u, sizeof(u));
	return rc;
}

int esptag_ctl_decode(const void *buf, size_t len, struct esptag_ctl_view *v,
		      char *err, size_t errlen)
{
	const uint8_t *b = buf;
	const struct esptag_ctl_hdr *h = &v->hdr;
	bool reply;
	size_t isz;
	char ierr[160];

	memset(v, 0, sizeof(*v));
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
	v->payload = b + sizeof(v->hdr);

	if (reply && h->status) {
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
	if (reply && (h->agent_status || h->err_index != 0xffffffffu))
		return fail(err, errlen, "successful reply with error fields set");

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
	if ((h->op == ESPTAG_CTL_POLICY_ADD || h->op == ESPTAG_CTL_POLICY_DEL ||
	     h->op == ESPTAG_CTL_POLICY_UPDATE ||
	     h->op == ESPTAG_CTL_AGENT_STATUS || h->op == ESPTAG_CTL_EVENT ||
	     h->op == ESPTAG_CTL_VF_ADD || h->op == ESPTAG_CTL_VF_DEL ||
	     h->op == ESPTAG_CTL_VF_TRUST || h->op == ESPTAG_CTL_VF_RESET) &&
	    h->count != 1)
		return fail(err, errlen, "%s takes exactly one item", esptag_ctl_op_str(h->op));
	for (uint32_t i = 0; i < h->count; i++) {
		if (item_check(h->op, reply, v->payload + (size_t)i * isz, isz, ierr, sizeof(ierr)))
			return fail(err, errlen, "item %u: %s", i, ierr);
	}
	return 0;
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

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return got ? (errno = EPROTO, -1) : 0;
		got += n;
	}
	return 1;
}

ssize_t esptag_ctl_read(int fd, uint8_t **bufp)
{
	struct esptag_ctl_hdr h;
	uint8_t *buf;
	int rc;

	*bufp = NULL;
	rc = read_full(fd, &h, sizeof(h));
	if (rc <= 0)
		return rc;
	if (h.magic != ESPTAG_CTL_MAGIC || h.len > ESPTAG_CTL_MAX_LEN) {
		errno = EPROTO;
		return -1;
	}
	buf = malloc(sizeof(h) + h.len);
	if (!buf)
		return -1;
	memcpy(buf, &h, sizeof(h));
	rc = read_full(fd, buf + sizeof(h), h.len);
	if (rc <= 0 && h.len) {
		int e = rc == 0 ? EPROTO : errno;

		/* Part of a request that may carry keys was read. */
		esptag_ctl_free(buf);
		errno = e;
		return -1;
	}
	*bufp = buf;
	return sizeof(h) + h.len;
}

void esptag_ctl_free(uint8_t *buf)
{
	struct esptag_ctl_hdr h;

	if (!buf)
		return;
	memcpy(&h, buf, sizeof(h));
	explicit_bzero(buf, sizeof(h) + h.len);
	free(buf);
}

static int write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int esptag_ctl_write(int fd, const struct esptag_ctl_hdr *h, const void *payload)
{
	if (write_full(fd, h, sizeof(*h)))
		return -1;
	if (h->len && write_full(fd, payload, h->len))
		return -1;
	return 0;
}

const char *esptag_ctl_op_str(int op)
{
	static const char *const n[] = {
		[ESPTAG_CTL_STATE_ADD] = "state add",	  [ESPTAG_CTL_STATE_DEL] = "state del",
		[ESPTAG_CTL_STATE_LIST] = "state list",	  [ESPTAG_CTL_STATE_FLUSH] = "state flush",
		[ESPTAG_CTL_POLICY_ADD] = "policy add",	  [ESPTAG_CTL_POLICY_DEL] = "policy del",
		[ESPTAG_CTL_POLICY_LIST] = "policy list", [ESPTAG_CTL_POLICY_FLUSH] = "policy flush",
		[ESPTAG_CTL_AGENT_STATUS] = "agent status", [ESPTAG_CTL_AGENT_SA] = "agent sa",
		[ESPTAG_CTL_STATS] = "stats",		  [ESPTAG_CTL_MONITOR] = "monitor",
		[ESPTAG_CTL_EVENT] = "event",
		[ESPTAG_CTL_VF_ADD] = "vf add",		  [ESPTAG_CTL_VF_DEL] = "vf del",
		[ESPTAG_CTL_VF_LIST] = "vf list",	  [ESPTAG_CTL_VF_TRUST] = "vf trust",
		[ESPTAG_CTL_VF_RESET] = "vf reset",
		[ESPTAG_CTL_POLICY_UPDATE] = "policy update",
	};
	return op > 0 && op <= ESPTAG_CTL_OP_MAX ? n[op] : "?";
}

const char *esptag_ctl_status_str(int s)
{
	static const char *const n[] = {
		[ESPTAG_CTL_OK] = "ok",
		[ESPTAG_CTL_E_INVAL] = "invalid request",
		[ESPTAG_CTL_E_DEV] = "wrong device",
		[ESPTAG_CTL_E_EXIST] = "already exists",
		[ESPTAG_CTL_E_NOENT] = "not found",
		[ESPTAG_CTL_E_AGENT] = "refused by the agent",
		[ESPTAG_CTL_E_TIMEOUT] = "agent did not answer",
		[ESPTAG_CTL_E_NOSPC] = "no space",
		[ESPTAG_CTL_E_BPF] = "BPF map operation failed",
		[ESPTAG_CTL_E_PERM] = "not permitted",
		[ESPTAG_CTL_E_INTERNAL] = "internal error",
	};
	return s >= 0 && s <= ESPTAG_CTL_E_MAX ? n[s] : "?";
}

const char *esptag_ctl_event_str(int t)
{
	static const char *const n[] = {
		[ESPTAG_EV_SA_ADDED] = "sa-added",
		[ESPTAG_EV_SA_REMOVED] = "sa-removed",
		[ESPTAG_EV_SA_EXPIRED] = "sa-expired",
		[ESPTAG_EV_AGENT_RESTARTED] = "agent-restarted",
		[ESPTAG_EV_AGENT_DOWN] = "agent-down",
		[ESPTAG_EV_AGENT_UP] = "agent-up",
		[ESPTAG_EV_DROP] = "drop",
		[ESPTAG_EV_POLICY_ADDED] = "policy-added",
		[ESPTAG_EV_POLICY_REMOVED] = "policy-removed",
		[ESPTAG_EV_POLICY_UPDATED] = "policy-updated",
	};
	return t > 0 && t <= ESPTAG_EV_MAX ? n[t] : "?";
}

const char *esptag_alg_str(int alg)
{
	switch (alg) {
	case ESPTAG_ALG_AES_GCM_128:
		return "rfc4106(gcm(aes))-128";
	case ESPTAG_ALG_AES_GCM_256:
		return "rfc4106(gcm(aes))-256";
	default:
		return "?";
	}
}

const char *esptag_action_str(int a)
{
	switch (a) {
	case ESPTAG_ACT_BYPASS:
		return "bypass";
	case ESPTAG_ACT_PROTECT:
		return "protect";
	case ESPTAG_ACT_DISCARD:
		return "discard";
	default:
		return "?";
	}
}

int esptag_ctl_sock_path(char *out, size_t outlen, const char *dev)
{
	int n = snprintf(out, outlen, "%s/%s.sock", ESPTAG_CTL_SOCK_DIR, dev);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int esptag_addr_parse(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = 6;
		return 0;
	}
	return -1;
}

int esptag_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen,
			char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long l;
	char *end;

	if (alen >= sizeof(buf))
		return fail(err, errlen, "'%s' is not an address or prefix", s);
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (esptag_addr_parse(buf, family, addr))
		return fail(err, errlen, "'%s' is not an IPv4 or IPv6 address", buf);
	if (!slash) {
		*plen = *family == 4 ? 32 : 128;
		return 0;
	}
	errno = 0;
	if (!slash[1] || slash[1] == '-' || slash[1] == '+')
		return fail(err, errlen, "'%s': prefix length missing", s);
	l = strtoul(slash + 1, &end, 10);
	if (*end || errno || l > (*family == 4 ? 32u : 128u))
		return fail(err, errlen, "'%s': prefix length must be 0-%u", s,
			    *family == 4 ? 32 : 128);
	*plen = l;
	for (unsigned int bit = l; bit < 128; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return fail(err, errlen,
				    "'%s' has host bits set beyond /%lu; use the network address",
				    s, l);
	return 0;
}

const char *esptag_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}
