// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd control socket codec: the contents of every item type (SA, SA
 * selector, policy, agent status, statistic, event, VF). Strict: a field
 * out of range, a reserved byte set, key bytes in a reply are refused.
 */
#include <string.h>
#include <esptag/maps.h>
#include "ctl_int.h"

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

/* What an SA or a policy is under: its device, direction and family. */
static int dev_dir_family_check(const char *dev, bool allow_empty, uint8_t dir, uint8_t family,
				char *err, size_t errlen)
{
	if (dev_check(dev, allow_empty, err, errlen))
		return -1;
	if (dir != ESPTAG_DIR_IN && dir != ESPTAG_DIR_OUT)
		return fail(err, errlen, "dir must be in or out");
	if (family != 4 && family != 6)
		return fail(err, errlen, "family must be 4 or 6");
	return 0;
}

int esptag_ctl_sa_check(const struct esptag_ctl_sa *sa, bool is_request, char *err,
			size_t errlen)
{
	if (dev_dir_family_check(sa->dev, !is_request, sa->dir, sa->family, err, errlen))
		return -1;
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
		return fail(err, errlen,
			    "unknown algorithm %u: esptag SAs are AES-GCM (RFC 4106) with a 16-byte ICV and a 128- or 256-bit key",
			    sa->alg);
	}
	if (sa->icv_len != ESPTAG_ICV_LEN)
		return fail(err, errlen,
			    "ICV length must be 16 bytes (128 bits): esptag SAs are AES-GCM with a 16-byte ICV");
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
	if (sa->reserved1 || sa->reserved2)
		return fail(err, errlen, "reserved field not zero");
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
		if (sa->sa_index != ESPTAG_SA_INDEX_NONE || sa->state || sa->seq ||
		    sa->cur_bytes || sa->cur_packets || sa->add_time || sa->use_time)
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
	if (dev_dir_family_check(p->dev, !is_request, p->dir, p->family, err, errlen))
		return -1;
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
	if ((p->tmpl_flags || p->tmpl_mode) && p->action != ESPTAG_ACT_PROTECT)
		return fail(err, errlen,
			    "a template (tmpl src, dst, reqid, mode) names the SA of a protect policy only");
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

/* STATE_UPDATE request: an SA named by dev, dir, family, spi, daddr; no key. */
static int sa_update_check(const struct esptag_ctl_sa *sa, char *err, size_t errlen)
{
	if (dev_dir_family_check(sa->dev, true, sa->dir, sa->family, err, errlen))
		return -1;
	if (sa->spi < 256)
		return fail(err, errlen, "SPI 0x%x is reserved (0-255, RFC 4303)", sa->spi);
	if (all_zero(sa->daddr, 16))
		return fail(err, errlen, "dst address missing");
	if (addr_check(sa->family, sa->daddr, "dst", err, errlen))
		return -1;
	if (!all_zero(sa->key, sizeof(sa->key)) || !all_zero(sa->salt, sizeof(sa->salt)))
		return fail(err, errlen, "state update does not change keys");
	if (sa->cur_bytes || sa->cur_packets || sa->add_time || sa->use_time || sa->seq ||
	    sa->reserved1 || sa->reserved2)
		return fail(err, errlen, "request with reply-only fields set");
	if (sa->replay_window > ESPTAG_REPLAY_MAX)
		return fail(err, errlen, "replay window %u > %u", sa->replay_window,
			    ESPTAG_REPLAY_MAX);
	return 0;
}

static int spi_check(const struct esptag_ctl_spi *s, bool reply, char *err, size_t errlen)
{
	if (dev_check(s->dev, reply, err, errlen))
		return -1;
	if (s->family != 4 && s->family != 6)
		return fail(err, errlen, "family must be 4 or 6");
	if (s->proto != 50)
		return fail(err, errlen, "proto must be esp");
	if ((s->min || s->max) && (s->min < 256 || s->max < s->min))
		return fail(err, errlen, "SPI range 0x%x-0x%x invalid (min >= 0x100, min <= max)",
			    s->min, s->max);
	if (reply ? s->spi < 256 : s->spi != 0)
		return fail(err, errlen, reply ? "no SPI in the reply" : "spi set in a request");
	if (addr_check(s->family, s->saddr, "src", err, errlen) ||
	    addr_check(s->family, s->daddr, "dst", err, errlen))
		return -1;
	if (all_zero(s->daddr, 16))
		return fail(err, errlen, "dst address missing");
	return 0;
}

static int bypass_check(const struct esptag_ctl_bypass *b, char *err, size_t errlen)
{
	if (!b->cookie)
		return fail(err, errlen, "socket cookie missing");
	if (b->family != 4 && b->family != 6)
		return fail(err, errlen, "family must be 4 or 6");
	if (b->proto != 17)
		return fail(err, errlen, "only UDP sockets can bypass");
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

int esptag_ctl_item_check(int op, bool reply, const void *p, size_t isz, char *err,
			  size_t errlen)
{
	union {
		struct esptag_ctl_sa sa;
		struct esptag_ctl_sa_id id;
		struct esptag_ctl_policy pol;
		struct esptag_ctl_agent agent;
		struct esptag_ctl_stat stat;
		struct esptag_ctl_event ev;
		struct esptag_ctl_vf vf;
		struct esptag_ctl_spi spi;
		struct esptag_ctl_bypass bypass;
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
	case ESPTAG_CTL_STATE_GET:
		rc = reply ? esptag_ctl_sa_check(&u.sa, false, err, errlen)
			   : esptag_ctl_sa_id_check(&u.id, err, errlen);
		break;
	case ESPTAG_CTL_STATE_UPDATE:
		rc = reply ? esptag_ctl_sa_check(&u.sa, false, err, errlen)
			   : sa_update_check(&u.sa, err, errlen);
		break;
	case ESPTAG_CTL_STATE_ALLOCSPI:
		rc = spi_check(&u.spi, reply, err, errlen);
		break;
	case ESPTAG_CTL_BYPASS_SOCKET:
		rc = bypass_check(&u.bypass, err, errlen);
		break;
	case ESPTAG_CTL_POLICY_GET:
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
