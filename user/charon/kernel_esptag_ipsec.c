// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel-esptag: charon's kernel_ipsec_t on esptagd (docs/strongswan.md).
 *
 * SAs: get_spi is esptagd's allocspi; add_sa takes AES-GCM-16 (RFC 4106,
 * 128- or 256-bit key + 4-byte salt) in transport or tunnel mode and
 * refuses everything else with a message in charon's log. The key is
 * wiped from this plugin's memory as soon as esptagd has answered.
 *
 * Policies: esptagd holds one policy per selector (dir, src, dst); charon
 * adds the same selectors again for every CHILD_SA that uses them (a rekey
 * adds before it deletes), so each selector keeps the list of charon's
 * users, the active one first (priority class, then the newest), and
 * esptagd is told only when the active one changes. Outbound protect
 * policies name their SA by reqid, SA addresses and mode: esptagd moves
 * them to the newest SA of that reqid on its own (make-before-break) and
 * treats them as trap policies (drop + acquire) while no SA exists.
 * Inbound protect policies carry the same template: only packets an SA of
 * theirs decrypted pass. Forward policies are not sent: esptagd's inbound
 * policies hold for forwarded packets too.
 *
 * Tunnel-mode outbound policies get the route kernel-netlink's IPsec half
 * would have installed (via the peer's next hop, source the local inner
 * address), through charon->kernel->add_route (kernel-netlink's net half).
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <library.h>
#include <daemon.h>
#include <collections/linked_list.h>
#include <threading/mutex.h>
#include <utils/debug.h>

#include "kernel_esptag_ipsec.h"
#include <esptag/maps.h>
#include "ctl_client.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

typedef struct private_kernel_esptag_ipsec_t private_kernel_esptag_ipsec_t;

struct private_kernel_esptag_ipsec_t {
	kernel_esptag_ipsec_t public;
	esptag_conn_t *conn;
	esptag_monitor_t *monitor;
	mutex_t *mutex;			/* the lists below */
	linked_list_t *sas;		/* sa_entry_t */
	linked_list_t *policies;	/* policy_entry_t */
	linked_list_t *bypass;		/* bypass_entry_t */
};

/* An SA this plugin added (or reserved): its direction for get/del. */
typedef struct {
	uint8_t family;
	uint8_t dir;
	uint32_t spi;			/* host order */
	uint8_t daddr[16];
} sa_entry_t;

/* One add_policy of charon on a selector. */
typedef struct {
	policy_type_t type;
	policy_priority_t prio;
	uint32_t reqid;
	ipsec_mode_t mode;
	host_t *src, *dst;		/* the SA's endpoints */
} policy_user_t;

typedef struct {
	chunk_t dst_net;
	uint8_t prefixlen;
	host_t *gateway, *src_ip;
	char *if_name;
} route_entry_t;

/* A selector in esptagd, with charon's users of it, the active first. */
typedef struct {
	uint8_t dir;			/* ESPTAG_DIR_* */
	uint8_t family;
	uint8_t src_plen, dst_plen;
	uint8_t src[16], dst[16];
	linked_list_t *users;		/* policy_user_t */
	bool installed;
	route_entry_t *route;
} policy_entry_t;

typedef struct {
	uint64_t cookie;
	uint8_t family;
	uint16_t port;
} bypass_entry_t;

/* ---- helpers ---------------------------------------------------------- */

static const char *dev_of(private_kernel_esptag_ipsec_t *this)
{
	return esptag_conn_dev(this->conn);
}

static bool set_dev(private_kernel_esptag_ipsec_t *this, char dev[ESPTAG_CTL_DEV_LEN])
{
	const char *d = dev_of(this);

	if (!d) {
		DBG1(DBG_KNL, "kernel-esptag: esptagd at %s does not answer",
		     esptag_conn_path(this->conn));
		return FALSE;
	}
	memset(dev, 0, ESPTAG_CTL_DEV_LEN);
	strncpy(dev, d, ESPTAG_CTL_DEV_LEN - 1);
	return TRUE;
}

CALLBACK(sa_match, bool, sa_entry_t *e, va_list args)
{
	sa_entry_t *key;

	VA_ARGS_VGET(args, key);
	return e->spi == key->spi && e->family == key->family &&
	       memeq(e->daddr, key->daddr, 16);
}

static bool sa_key(kernel_ipsec_sa_id_t *id, sa_entry_t *key)
{
	memset(key, 0, sizeof(*key));
	key->spi = ntohl(id->spi);
	return esptag_host_to(id->dst, &key->family, key->daddr);
}

/* Remember (or update) an SA's direction; this->mutex held. */
static void sa_remember(private_kernel_esptag_ipsec_t *this, sa_entry_t *key, uint8_t dir)
{
	sa_entry_t *e;

	if (this->sas->find_first(this->sas, sa_match, (void **)&e, key)) {
		e->dir = dir;
		return;
	}
	e = malloc_thing(sa_entry_t);
	*e = *key;
	e->dir = dir;
	this->sas->insert_last(this->sas, e);
}

/* The remembered direction of an SA (0 = unknown), forgotten if forget. */
static uint8_t sa_dir(private_kernel_esptag_ipsec_t *this, sa_entry_t *key, bool forget)
{
	sa_entry_t *e;
	uint8_t dir = 0;

	this->mutex->lock(this->mutex);
	if (this->sas->find_first(this->sas, sa_match, (void **)&e, key)) {
		dir = e->dir;
		if (forget) {
			this->sas->remove(this->sas, e, NULL);
			free(e);
		}
	}
	this->mutex->unlock(this->mutex);
	return dir;
}

/* CLOCK_REALTIME seconds of esptagd -> charon's monotonic time. */
static time_t mono_of(uint64_t realtime)
{
	time_t now_real = time(NULL), now_mono = time_monotonic(NULL);

	if (!realtime)
		return 0;
	if ((time_t)realtime > now_real)
		return now_mono;
	return now_mono - (now_real - (time_t)realtime);
}

/* ---- SAs -------------------------------------------------------------- */

METHOD(kernel_ipsec_t, get_features, kernel_feature_t,
	private_kernel_esptag_ipsec_t *this)
{
	return 0;
}

METHOD(kernel_ipsec_t, get_spi, status_t,
	private_kernel_esptag_ipsec_t *this, host_t *src, host_t *dst,
	uint8_t protocol, uint32_t *spi)
{
	struct esptag_ctl_spi req = {}, rep = {};
	sa_entry_t key = {};
	uint32_t min, max;
	char err[256];
	int rc;

	if (protocol != IPPROTO_ESP) {
		DBG1(DBG_KNL, "kernel-esptag: only ESP SAs (protocol %u refused)", protocol);
		return NOT_SUPPORTED;
	}
	min = lib->settings->get_int(lib->settings, "%s.spi_min", KERNEL_SPI_MIN, lib->ns);
	max = lib->settings->get_int(lib->settings, "%s.spi_max", KERNEL_SPI_MAX, lib->ns);
	if (!set_dev(this, req.dev) || !esptag_host_to(src, &req.family, req.saddr) ||
	    !esptag_host_to(dst, &key.family, req.daddr))
		return FAILED;
	req.proto = IPPROTO_ESP;
	req.min = min(min, max);
	req.max = max(min, max);
	if (req.min < 256)
		req.min = 256;
	rc = esptag_conn_call(this->conn, ESPTAG_CTL_STATE_ALLOCSPI, &req, sizeof(req), &rep,
			      sizeof(rep), err, sizeof(err));
	if (rc) {
		DBG1(DBG_KNL, "kernel-esptag: allocating an SPI for %H failed: %s", dst, err);
		return FAILED;
	}
	*spi = htonl(rep.spi);
	key.spi = rep.spi;
	memcpy(key.daddr, req.daddr, 16);
	this->mutex->lock(this->mutex);
	sa_remember(this, &key, ESPTAG_DIR_IN);
	this->mutex->unlock(this->mutex);
	DBG2(DBG_KNL, "kernel-esptag: got SPI %.8x", rep.spi);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, get_cpi, status_t,
	private_kernel_esptag_ipsec_t *this, host_t *src, host_t *dst,
	uint16_t *cpi)
{
	DBG1(DBG_KNL, "kernel-esptag: IPComp is not supported");
	return NOT_SUPPORTED;
}

static const char *name_of(enum_name_t *names, int v)
{
	const char *n = enum_to_name(names, v);

	return n ? n : "(unknown)";
}

/* What esptag cannot carry, as a message for charon's log, or NULL. */
static const char *sa_refusal(kernel_ipsec_sa_id_t *id, kernel_ipsec_add_sa_t *data,
			      char *buf, size_t len)
{
	if (id->proto != IPPROTO_ESP)
		return "only ESP (AH is refused)";
	if (data->ipcomp != IPCOMP_NONE)
		return "IPComp is not supported";
	if (data->encap)
		return "UDP encapsulation (NAT traversal) is not supported";
	if (data->mode != MODE_TRANSPORT && data->mode != MODE_TUNNEL) {
		snprintf(buf, len, "mode %s is not supported (transport and tunnel only)",
			 name_of(ipsec_mode_names, data->mode));
		return buf;
	}
	if (data->enc_alg != ENCR_AES_GCM_ICV16) {
		snprintf(buf, len, "encryption algorithm %s is not supported: "
			 "AES-GCM with a 16-byte ICV only (esp_proposals = aes128gcm16 or aes256gcm16)",
			 name_of(encryption_algorithm_names, data->enc_alg));
		return buf;
	}
	if (data->int_alg != AUTH_UNDEFINED) {
		snprintf(buf, len, "integrity algorithm %s is not supported: AES-GCM-16 only",
			 name_of(integrity_algorithm_names, data->int_alg));
		return buf;
	}
	if (data->enc_key.len != 16 + ESPTAG_SALT_LEN && data->enc_key.len != 32 + ESPTAG_SALT_LEN) {
		snprintf(buf, len, "AES-GCM key of %zu bits is not supported (128 or 256)",
			 (data->enc_key.len - ESPTAG_SALT_LEN) * 8);
		return buf;
	}
	if (data->replay_window > ESPTAG_REPLAY_MAX) {
		snprintf(buf, len, "replay window %u is larger than %u", data->replay_window,
			 ESPTAG_REPLAY_MAX);
		return buf;
	}
	if (id->mark.value || id->if_id || data->mark.value || data->label)
		return "marks, interface IDs and security labels are not supported";
	return NULL;
}

static uint32_t clamp32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

METHOD(kernel_ipsec_t, add_sa, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_add_sa_t *data)
{
	struct esptag_ctl_sa sa = {}, rep = {};
	sa_entry_t key;
	const char *why;
	char buf[200], err[256];
	size_t klen;
	int rc;

	why = sa_refusal(id, data, buf, sizeof(buf));
	if (why) {
		DBG1(DBG_KNL, "kernel-esptag: refusing SA %.8x: %s", ntohl(id->spi), why);
		return NOT_SUPPORTED;
	}
	if (!set_dev(this, sa.dev) || !esptag_host_to(id->src, &sa.family, sa.saddr) ||
	    !esptag_host_to(id->dst, &sa.family, sa.daddr) || !sa_key(id, &key))
		return FAILED;
	klen = data->enc_key.len - ESPTAG_SALT_LEN;
	sa.dir = data->inbound ? ESPTAG_DIR_IN : ESPTAG_DIR_OUT;
	sa.mode = data->mode == MODE_TUNNEL ? ESPTAG_MODE_TUNNEL : ESPTAG_MODE_TRANSPORT;
	sa.alg = klen == 16 ? ESPTAG_ALG_AES_GCM_128 : ESPTAG_ALG_AES_GCM_256;
	sa.key_len = klen;
	sa.icv_len = ESPTAG_ICV_LEN;
	sa.sa_flags = data->esn ? ESPTAG_SA_F_ESN : 0;
	sa.spi = ntohl(id->spi);
	sa.reqid = data->reqid;
	sa.replay_window = data->replay_window;
	sa.sa_index = ESPTAG_SA_INDEX_NONE;
	if (data->lifetime) {
		sa.lifetime = clamp32(data->lifetime->time.life);
		sa.soft_time = clamp32(data->lifetime->time.rekey);
		sa.soft_bytes = data->lifetime->bytes.rekey;
		sa.hard_bytes = data->lifetime->bytes.life;
		sa.soft_packets = data->lifetime->packets.rekey;
		sa.hard_packets = data->lifetime->packets.life;
	}
	memcpy(sa.key, data->enc_key.ptr, klen);
	memcpy(sa.salt, data->enc_key.ptr + klen, ESPTAG_SALT_LEN);
	rc = esptag_conn_call(this->conn, ESPTAG_CTL_STATE_ADD, &sa, sizeof(sa), &rep,
			      sizeof(rep), err, sizeof(err));
	memwipe(&sa, sizeof(sa));
	if (rc) {
		DBG1(DBG_KNL, "kernel-esptag: adding SA %.8x (%s) failed: %s", ntohl(id->spi),
		     data->inbound ? "in" : "out", err);
		return FAILED;
	}
	this->mutex->lock(this->mutex);
	sa_remember(this, &key, data->inbound ? ESPTAG_DIR_IN : ESPTAG_DIR_OUT);
	this->mutex->unlock(this->mutex);
	DBG2(DBG_KNL, "kernel-esptag: added SA %.8x %s, reqid %u, esptag index %u",
	     key.spi, data->inbound ? "in" : "out", data->reqid, rep.sa_index);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, update_sa, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_update_sa_t *data)
{
	/* esptagd keys SAs by (dst, SPI) and has no address change: charon
	 * rekeys the CHILD_SA instead (new SAs on the new addresses). */
	DBG1(DBG_KNL, "kernel-esptag: moving SA %.8x to new addresses (MOBIKE) is not "
	     "supported; the CHILD_SA has to be rekeyed", ntohl(id->spi));
	return NOT_SUPPORTED;
}

static int sa_get(private_kernel_esptag_ipsec_t *this, sa_entry_t *key, uint8_t dir,
		  struct esptag_ctl_sa *rep, char *err, size_t errlen)
{
	struct esptag_ctl_sa_id req = {};

	if (!set_dev(this, req.dev))
		return -1;
	req.dir = dir;
	req.family = key->family;
	req.proto = IPPROTO_ESP;
	req.spi = key->spi;
	memcpy(req.daddr, key->daddr, 16);
	return esptag_conn_call(this->conn, ESPTAG_CTL_STATE_GET, &req, sizeof(req), rep,
				sizeof(*rep), err, errlen);
}

METHOD(kernel_ipsec_t, query_sa, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_query_sa_t *data, uint64_t *bytes, uint64_t *packets,
	time_t *time)
{
	struct esptag_ctl_sa rep = {};
	sa_entry_t key;
	uint8_t dir;
	char err[256];
	int rc;

	if (!sa_key(id, &key))
		return FAILED;
	dir = sa_dir(this, &key, FALSE);
	if (dir) {
		rc = sa_get(this, &key, dir, &rep, err, sizeof(err));
	} else {
		rc = sa_get(this, &key, ESPTAG_DIR_IN, &rep, err, sizeof(err));
		if (rc == ESPTAG_CTL_E_NOENT)
			rc = sa_get(this, &key, ESPTAG_DIR_OUT, &rep, err, sizeof(err));
	}
	if (rc) {
		DBG1(DBG_KNL, "kernel-esptag: querying SA %.8x failed: %s", key.spi, err);
		return rc == ESPTAG_CTL_E_NOENT ? NOT_FOUND : FAILED;
	}
	if (bytes)
		*bytes = rep.cur_bytes;
	if (packets)
		*packets = rep.cur_packets;
	if (time)
		*time = mono_of(rep.use_time);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, del_sa, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_sa_id_t *id,
	kernel_ipsec_del_sa_t *data)
{
	struct esptag_ctl_sa_id req = {};
	sa_entry_t key;
	char err[256];
	int rc;

	if (!sa_key(id, &key) || !set_dev(this, req.dev))
		return FAILED;
	req.dir = sa_dir(this, &key, TRUE);	/* 0: whichever holds it */
	req.family = key.family;
	req.proto = IPPROTO_ESP;
	req.spi = key.spi;
	memcpy(req.daddr, key.daddr, 16);
	rc = esptag_conn_call(this->conn, ESPTAG_CTL_STATE_DEL, &req, sizeof(req), NULL, 0, err,
			      sizeof(err));
	if (rc == ESPTAG_CTL_E_NOENT) {
		DBG2(DBG_KNL, "kernel-esptag: SA %.8x already gone", key.spi);
		return NOT_FOUND;
	}
	if (rc) {
		DBG1(DBG_KNL, "kernel-esptag: deleting SA %.8x failed: %s", key.spi, err);
		return FAILED;
	}
	DBG2(DBG_KNL, "kernel-esptag: deleted SA %.8x", key.spi);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, flush_sas, status_t,
	private_kernel_esptag_ipsec_t *this)
{
	char err[256];
	sa_entry_t *e;

	if (esptag_conn_call(this->conn, ESPTAG_CTL_STATE_FLUSH, NULL, 0, NULL, 0, err,
			     sizeof(err))) {
		DBG1(DBG_KNL, "kernel-esptag: flushing SAs failed: %s", err);
		return FAILED;
	}
	this->mutex->lock(this->mutex);
	while (this->sas->remove_first(this->sas, (void **)&e) == SUCCESS)
		free(e);
	this->mutex->unlock(this->mutex);
	return SUCCESS;
}

/* ---- policies --------------------------------------------------------- */

static void user_destroy(policy_user_t *u)
{
	DESTROY_IF(u->src);
	DESTROY_IF(u->dst);
	free(u);
}

static void route_destroy(route_entry_t *r)
{
	chunk_free(&r->dst_net);
	DESTROY_IF(r->gateway);
	DESTROY_IF(r->src_ip);
	free(r->if_name);
	free(r);
}

static void route_del(policy_entry_t *pe)
{
	route_entry_t *r = pe->route;

	if (!r)
		return;
	if (charon->kernel->del_route(charon->kernel, r->dst_net, r->prefixlen, r->gateway,
				      r->src_ip, r->if_name, FALSE) != SUCCESS)
		DBG1(DBG_KNL, "kernel-esptag: removing the route to %#B/%u failed", &r->dst_net,
		     r->prefixlen);
	route_destroy(r);
	pe->route = NULL;
}

static void entry_destroy(policy_entry_t *pe)
{
	pe->users->destroy_function(pe->users, (void *)user_destroy);
	if (pe->route)
		route_destroy(pe->route);
	free(pe);
}

CALLBACK(entry_match, bool, policy_entry_t *a, va_list args)
{
	policy_entry_t *b;

	VA_ARGS_VGET(args, b);
	return a->dir == b->dir && a->family == b->family && a->src_plen == b->src_plen &&
	       a->dst_plen == b->dst_plen && memeq(a->src, b->src, 16) &&
	       memeq(a->dst, b->dst, 16);
}

/* A traffic selector as an esptag prefix: addresses only (no protocol or
 * port: esptag's policies do not have them). */
static bool ts_prefix(traffic_selector_t *ts, uint8_t *family, uint8_t addr[16],
		      uint8_t *plen)
{
	host_t *net = NULL;
	bool exact, ok;

	if (ts->get_protocol(ts) || ts->get_from_port(ts) != 0 ||
	    ts->get_to_port(ts) != 0xffff) {
		DBG1(DBG_KNL, "kernel-esptag: traffic selector %R names a protocol or ports; "
		     "esptag policies select addresses only", ts);
		return FALSE;
	}
	exact = ts->to_subnet(ts, &net, plen);
	ok = exact && net && esptag_host_to(net, family, addr);
	DESTROY_IF(net);
	if (!exact)
		DBG1(DBG_KNL, "kernel-esptag: traffic selector %R is not a subnet", ts);
	return ok;
}

static bool entry_key(kernel_ipsec_policy_id_t *id, policy_entry_t *key)
{
	uint8_t f2;

	memset(key, 0, sizeof(*key));
	key->dir = id->dir == POLICY_OUT ? ESPTAG_DIR_OUT : ESPTAG_DIR_IN;
	return ts_prefix(id->src_ts, &key->family, key->src, &key->src_plen) &&
	       ts_prefix(id->dst_ts, &f2, key->dst, &key->dst_plen) && f2 == key->family;
}

/* The esptagd policy of a selector as its active user wants it. */
static bool policy_fill(private_kernel_esptag_ipsec_t *this, policy_entry_t *pe,
			policy_user_t *u, struct esptag_ctl_policy *p)
{
	uint8_t fam;

	memset(p, 0, sizeof(*p));
	if (!set_dev(this, p->dev))
		return FALSE;
	p->dir = pe->dir;
	p->family = pe->family;
	p->src_plen = pe->src_plen;
	p->dst_plen = pe->dst_plen;
	memcpy(p->src, pe->src, 16);
	memcpy(p->dst, pe->dst, 16);
	switch (u->type) {
	case POLICY_PASS:
		p->action = ESPTAG_ACT_BYPASS;
		return TRUE;
	case POLICY_DROP:
		p->action = ESPTAG_ACT_DISCARD;
		return TRUE;
	default:
		p->action = ESPTAG_ACT_PROTECT;
		break;
	}
	/* The template, as XFRM's: outbound it names the SA to use (esptagd
	 * follows the newest of the reqid), inbound the SAs whose decrypted
	 * packets the policy accepts (src = the peer, dst = this host). */
	p->tmpl_flags = ESPTAG_CTL_TMPL_REQID;
	p->reqid = u->reqid;
	p->tmpl_mode = u->mode == MODE_TUNNEL ? ESPTAG_MODE_TUNNEL : ESPTAG_MODE_TRANSPORT;
	if (u->src && !u->src->is_anyaddr(u->src) && esptag_host_to(u->src, &fam, p->tmpl_src)) {
		p->tmpl_flags |= ESPTAG_CTL_TMPL_SRC;
		p->tmpl_family = fam;
	}
	if (u->dst && !u->dst->is_anyaddr(u->dst) && esptag_host_to(u->dst, &fam, p->tmpl_dst) &&
	    (!p->tmpl_family || p->tmpl_family == fam)) {
		p->tmpl_flags |= ESPTAG_CTL_TMPL_DST;
		p->tmpl_family = fam;
	}
	return TRUE;
}

/* Tell esptagd what the active user of pe wants (add, or update if
 * esptagd has the selector already). */
static bool policy_push(private_kernel_esptag_ipsec_t *this, policy_entry_t *pe)
{
	struct esptag_ctl_policy p, rep;
	policy_user_t *u;
	char err[256];
	int rc, op;

	if (pe->users->get_first(pe->users, (void **)&u) != SUCCESS || !policy_fill(this, pe, u, &p))
		return FALSE;
	op = pe->installed ? ESPTAG_CTL_POLICY_UPDATE : ESPTAG_CTL_POLICY_ADD;
	rc = esptag_conn_call(this->conn, op, &p, sizeof(p), &rep, sizeof(rep), err, sizeof(err));
	if (rc == ESPTAG_CTL_E_EXIST && op == ESPTAG_CTL_POLICY_ADD) {
		/* left by an earlier charon, or the same selector configured by hand */
		DBG1(DBG_KNL, "kernel-esptag: esptagd has this policy already, replacing it");
		op = ESPTAG_CTL_POLICY_UPDATE;
		rc = esptag_conn_call(this->conn, op, &p, sizeof(p), &rep, sizeof(rep), err,
				      sizeof(err));
	}
	if (rc) {
		DBG1(DBG_KNL, "kernel-esptag: %s failed: %s", esptag_ctl_op_str(op), err);
		return FALSE;
	}
	pe->installed = TRUE;
	DBG2(DBG_KNL, "kernel-esptag: policy %u (%s, reqid %u)", rep.id,
	     esptag_action_str(p.action), p.reqid);
	return TRUE;
}

static bool policy_remove(private_kernel_esptag_ipsec_t *this, policy_entry_t *pe)
{
	struct esptag_ctl_policy p;
	char err[256];
	int rc;

	if (!pe->installed)
		return TRUE;
	memset(&p, 0, sizeof(p));
	if (!set_dev(this, p.dev))
		return FALSE;
	p.dir = pe->dir;
	p.family = pe->family;
	p.action = ESPTAG_ACT_DISCARD;	/* any valid action: the selector names it */
	p.src_plen = pe->src_plen;
	p.dst_plen = pe->dst_plen;
	memcpy(p.src, pe->src, 16);
	memcpy(p.dst, pe->dst, 16);
	rc = esptag_conn_call(this->conn, ESPTAG_CTL_POLICY_DEL, &p, sizeof(p), NULL, 0, err,
			      sizeof(err));
	if (rc && rc != ESPTAG_CTL_E_NOENT) {
		DBG1(DBG_KNL, "kernel-esptag: removing a policy failed: %s", err);
		return FALSE;
	}
	pe->installed = FALSE;
	return TRUE;
}

/* The route kernel-netlink's IPsec half would add for a tunnel-mode
 * outbound policy. */
static void route_add(policy_entry_t *pe, traffic_selector_t *src_ts, host_t *src, host_t *dst)
{
	route_entry_t *r;
	status_t st;

	INIT(r, .prefixlen = pe->dst_plen);
	if (charon->kernel->get_address_by_ts(charon->kernel, src_ts, &r->src_ip, NULL) !=
	    SUCCESS) {
		free(r);
		return;
	}
	if (dst && !dst->is_anyaddr(dst))
		r->gateway = charon->kernel->get_nexthop(charon->kernel, dst, -1, src,
							 &r->if_name);
	if (!r->if_name && src)
		charon->kernel->get_interface(charon->kernel, src, &r->if_name);
	if (!r->if_name) {
		route_destroy(r);
		return;
	}
	r->dst_net = chunk_clone(chunk_create(pe->dst, pe->family == 4 ? 4 : 16));
	st = charon->kernel->add_route(charon->kernel, r->dst_net, r->prefixlen, r->gateway,
				       r->src_ip, r->if_name, FALSE);
	if (st == SUCCESS) {
		pe->route = r;
		return;
	}
	if (st != ALREADY_DONE)
		DBG1(DBG_KNL, "kernel-esptag: installing the route to %R failed", src_ts);
	route_destroy(r);
}

METHOD(kernel_ipsec_t, add_policy, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_policy_id_t *id,
	kernel_ipsec_manage_policy_t *data)
{
	policy_entry_t key, *pe;
	policy_user_t *u, *cur, *active = NULL;
	enumerator_t *en;
	bool created = FALSE;

	if (id->dir == POLICY_FWD)
		return SUCCESS;	/* esptagd's inbound policies cover forwarded packets */
	if (id->mark.value || id->if_id || id->label || (id->interface && *id->interface)) {
		DBG1(DBG_KNL, "kernel-esptag: policies with marks, interface IDs, interfaces "
		     "or security labels are not supported");
		return NOT_SUPPORTED;
	}
	if (data->type == POLICY_IPSEC && data->sa &&
	    (data->sa->ah.use || data->sa->ipcomp.transform != IPCOMP_NONE ||
	     (data->sa->mode != MODE_TRANSPORT && data->sa->mode != MODE_TUNNEL))) {
		DBG1(DBG_KNL, "kernel-esptag: policy refused: ESP in transport or tunnel mode only");
		return NOT_SUPPORTED;
	}
	if (!entry_key(id, &key))
		return NOT_SUPPORTED;
	INIT(u, .type = data->type, .prio = data->prio,
	     .reqid = data->sa ? data->sa->reqid : 0,
	     .mode = data->sa ? data->sa->mode : MODE_TRANSPORT,
	     .src = data->src ? data->src->clone(data->src) : NULL,
	     .dst = data->dst ? data->dst->clone(data->dst) : NULL);

	this->mutex->lock(this->mutex);
	if (!this->policies->find_first(this->policies, entry_match, (void **)&pe, &key)) {
		INIT(pe, .dir = key.dir, .family = key.family, .src_plen = key.src_plen,
		     .dst_plen = key.dst_plen, .users = linked_list_create());
		memcpy(pe->src, key.src, 16);
		memcpy(pe->dst, key.dst, 16);
		this->policies->insert_last(this->policies, pe);
		created = TRUE;
	}
	pe->users->get_first(pe->users, (void **)&active);
	/* before the first user of the same or a lower priority class: the
	 * newest of a class is active */
	en = pe->users->create_enumerator(pe->users);
	while (en->enumerate(en, &cur))
		if (cur->prio >= u->prio)
			break;
	pe->users->insert_before(pe->users, en, u);
	en->destroy(en);

	if (!active || (pe->users->get_first(pe->users, (void **)&cur) == SUCCESS && cur == u)) {
		if (!policy_push(this, pe)) {
			pe->users->remove(pe->users, u, NULL);
			user_destroy(u);
			if (created) {
				this->policies->remove(this->policies, pe, NULL);
				entry_destroy(pe);
			}
			this->mutex->unlock(this->mutex);
			return FAILED;
		}
	}
	if (pe->dir == ESPTAG_DIR_OUT && !pe->route && data->type == POLICY_IPSEC && data->sa &&
	    data->sa->mode == MODE_TUNNEL)
		route_add(pe, id->src_ts, data->src, data->dst);
	this->mutex->unlock(this->mutex);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, query_policy, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_policy_id_t *id,
	kernel_ipsec_query_policy_t *data, time_t *use_time)
{
	struct esptag_ctl_policy p, rep;
	policy_entry_t key;
	char err[256];
	int rc;

	if (id->dir == POLICY_FWD)
		return NOT_SUPPORTED;
	if (!entry_key(id, &key))
		return NOT_SUPPORTED;
	memset(&p, 0, sizeof(p));
	if (!set_dev(this, p.dev))
		return FAILED;
	p.dir = key.dir;
	p.family = key.family;
	p.action = ESPTAG_ACT_DISCARD;	/* the selector names it */
	p.src_plen = key.src_plen;
	p.dst_plen = key.dst_plen;
	memcpy(p.src, key.src, 16);
	memcpy(p.dst, key.dst, 16);
	rc = esptag_conn_call(this->conn, ESPTAG_CTL_POLICY_GET, &p, sizeof(p), &rep, sizeof(rep),
			      err, sizeof(err));
	if (rc) {
		DBG1(DBG_KNL, "kernel-esptag: querying policy %R === %R failed: %s", id->src_ts,
		     id->dst_ts, err);
		return rc == ESPTAG_CTL_E_NOENT ? NOT_FOUND : FAILED;
	}
	*use_time = mono_of(rep.use_time);
	return SUCCESS;
}

METHOD(kernel_ipsec_t, del_policy, status_t,
	private_kernel_esptag_ipsec_t *this, kernel_ipsec_policy_id_t *id,
	kernel_ipsec_manage_policy_t *data)
{
	policy_entry_t key, *pe;
	policy_user_t *cur, *found = NULL, *active = NULL;
	enumerator_t *en;
	uint32_t reqid = data->sa ? data->sa->reqid : 0;
	status_t st = SUCCESS;

	if (id->dir == POLICY_FWD)
		return SUCCESS;
	if (!entry_key(id, &key))
		return NOT_FOUND;
	this->mutex->lock(this->mutex);
	if (!this->policies->find_first(this->policies, entry_match, (void **)&pe, &key)) {
		this->mutex->unlock(this->mutex);
		return NOT_FOUND;
	}
	pe->users->get_first(pe->users, (void **)&active);
	en = pe->users->create_enumerator(pe->users);
	while (en->enumerate(en, &cur)) {
		if (cur->type == data->type && cur->prio == data->prio && cur->reqid == reqid) {
			found = cur;
			pe->users->remove_at(pe->users, en);
			break;
		}
	}
	en->destroy(en);
	if (!found) {
		this->mutex->unlock(this->mutex);
		return NOT_FOUND;
	}
	if (pe->users->get_count(pe->users) == 0) {
		route_del(pe);
		if (!policy_remove(this, pe))
			st = FAILED;
		this->policies->remove(this->policies, pe, NULL);
		entry_destroy(pe);
	} else if (found == active && !policy_push(this, pe)) {
		st = FAILED;
	}
	user_destroy(found);
	this->mutex->unlock(this->mutex);
	return st;
}

METHOD(kernel_ipsec_t, flush_policies, status_t,
	private_kernel_esptag_ipsec_t *this)
{
	policy_entry_t *pe;
	char err[256];
	status_t st = SUCCESS;

	if (esptag_conn_call(this->conn, ESPTAG_CTL_POLICY_FLUSH, NULL, 0, NULL, 0, err,
			     sizeof(err))) {
		DBG1(DBG_KNL, "kernel-esptag: flushing policies failed: %s", err);
		st = FAILED;
	}
	this->mutex->lock(this->mutex);
	while (this->policies->remove_first(this->policies, (void **)&pe) == SUCCESS) {
		route_del(pe);
		entry_destroy(pe);
	}
	this->mutex->unlock(this->mutex);
	return st;
}

/* ---- sockets ---------------------------------------------------------- */

static bool bypass_send(private_kernel_esptag_ipsec_t *this, bypass_entry_t *b)
{
	struct esptag_ctl_bypass req = {
		.cookie = b->cookie, .family = b->family, .proto = IPPROTO_UDP, .port = b->port,
	};
	char err[256];
	int rc;

	rc = esptag_conn_call(this->conn, ESPTAG_CTL_BYPASS_SOCKET, &req, sizeof(req), NULL, 0,
			      err, sizeof(err));
	if (rc && rc != ESPTAG_CTL_E_EXIST) {
		DBG1(DBG_KNL, "kernel-esptag: letting the IKE socket on port %u pass failed: %s",
		     b->port, err);
		return FALSE;
	}
	return TRUE;
}

METHOD(kernel_ipsec_t, bypass_socket, bool,
	private_kernel_esptag_ipsec_t *this, int fd, int family)
{
	union { struct sockaddr sa; struct sockaddr_in in; struct sockaddr_in6 in6; } sa;
	socklen_t len = sizeof(uint64_t), slen = sizeof(sa);
	bypass_entry_t *b;
	uint64_t cookie = 0;
	bool ok;

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) || !cookie) {
		DBG1(DBG_KNL, "kernel-esptag: no cookie of socket %d: %s", fd, strerror(errno));
		return FALSE;
	}
	INIT(b, .cookie = cookie, .family = family == AF_INET6 ? 6 : 4);
	if (!getsockname(fd, &sa.sa, &slen))
		b->port = ntohs(sa.sa.sa_family == AF_INET6 ? sa.in6.sin6_port : sa.in.sin_port);
	/* Kept even if esptagd does not answer now: registered again when
	 * the event connection (re)connects. */
	this->mutex->lock(this->mutex);
	this->bypass->insert_last(this->bypass, b);
	ok = bypass_send(this, b);
	this->mutex->unlock(this->mutex);
	if (ok)
		DBG2(DBG_KNL, "kernel-esptag: IKE socket on port %u passes in clear", b->port);
	return ok;
}

/* A new esptagd (restart) knows nothing of charon's sockets: tell again. */
static void on_connect(void *data)
{
	private_kernel_esptag_ipsec_t *this = data;
	enumerator_t *en;
	bypass_entry_t *b;

	this->mutex->lock(this->mutex);
	en = this->bypass->create_enumerator(this->bypass);
	while (en->enumerate(en, &b))
		bypass_send(this, b);
	en->destroy(en);
	this->mutex->unlock(this->mutex);
}

METHOD(kernel_ipsec_t, enable_udp_decap, bool,
	private_kernel_esptag_ipsec_t *this, int fd, int family, uint16_t port)
{
	DBG1(DBG_KNL, "kernel-esptag: ESP in UDP (NAT traversal) is not supported: "
	     "no decapsulation on port %u", port);
	return FALSE;
}

METHOD(kernel_ipsec_t, destroy, void,
	private_kernel_esptag_ipsec_t *this)
{
	esptag_monitor_destroy(this->monitor);
	this->policies->destroy_function(this->policies, (void *)entry_destroy);
	this->sas->destroy_function(this->sas, free);
	this->bypass->destroy_function(this->bypass, free);
	this->mutex->destroy(this->mutex);
	esptag_conn_destroy(this->conn);
	free(this);
}

kernel_esptag_ipsec_t *kernel_esptag_ipsec_create(void)
{
	private_kernel_esptag_ipsec_t *this;
	esptag_conn_t *conn;

	conn = esptag_conn_create();
	if (!conn)
		return NULL;
	INIT(this,
		.public = {
			.interface = {
				.get_features = _get_features,
				.get_spi = _get_spi,
				.get_cpi = _get_cpi,
				.add_sa = _add_sa,
				.update_sa = _update_sa,
				.query_sa = _query_sa,
				.del_sa = _del_sa,
				.flush_sas = _flush_sas,
				.add_policy = _add_policy,
				.query_policy = _query_policy,
				.del_policy = _del_policy,
				.flush_policies = _flush_policies,
				.bypass_socket = _bypass_socket,
				.enable_udp_decap = _enable_udp_decap,
				.destroy = _destroy,
			},
		},
		.conn = conn,
		.mutex = mutex_create(MUTEX_TYPE_RECURSIVE),
		.sas = linked_list_create(),
		.policies = linked_list_create(),
		.bypass = linked_list_create(),
	);
	if (dev_of(this))
		DBG1(DBG_KNL, "kernel-esptag: IPsec backend is esptagd at %s (%s)",
		     esptag_conn_path(conn), dev_of(this));
	this->monitor = esptag_monitor_create(conn, on_connect, this);
	return &this->public;
}
