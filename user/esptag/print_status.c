// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag output of the agent status, the statistics and the monitor events,
 * as text or JSON (-j, -p; written by json.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <esptag/maps.h>
#include "cli.h"
#include "esptag_proto.h"

static const char *xdp_s(int m)
{
	switch (m) {
	case ESPTAG_XDP_DISPATCHER:
		return "dispatcher";
	case ESPTAG_XDP_SINGLE:
		return "single";
	case ESPTAG_XDP_ADOPTED:
		return "adopted";
	default:
		return "none";
	}
}

static const struct {
	uint16_t bit;
	const char *name;
} feats[] = { { ESPTAG_FEAT_TSO, "tso" }, { ESPTAG_FEAT_HAIRPIN, "hairpin" },
	      { ESPTAG_FEAT_ESN, "esn" }, { ESPTAG_FEAT_TUNNEL, "tunnel" },
	      { ESPTAG_FEAT_IPV6, "ipv6" } };

static void print_agent_json(const struct esptag_ctl_agent *a, const char *mac, const char *amac)
{
	struct json_w *w = &cli_jw;

	json_obj(w);
	json_kstr(w, "dev", a->dev);
	json_ku64(w, "ifindex", a->ifindex);
	json_kstr(w, "mac", mac);
	json_ku64(w, "port", a->port);
	json_kstr(w, "agent_mac", amac);
	json_kbool(w, "reachable", a->reachable);
	json_kbool(w, "port_up", a->port_up);
	json_ku64(w, "epoch", a->epoch);
	json_ku64(w, "version", a->version);
	json_ku64(w, "sad_capacity", a->sad_capacity);
	json_ku64(w, "sad_used", a->sad_used);
	json_ku64(w, "port_limit", a->port_limit);
	json_ku64(w, "port_used", a->port_used);
	json_ku64(w, "local_capacity", a->local_capacity);
	json_ku64(w, "max_records", a->max_records);
	json_ku64(w, "max_payload", a->max_payload);
	json_key(w, "algorithms");
	json_arr(w);
	for (int alg = 1; alg <= 2; alg++)
		if (a->alg_mask & (1u << alg))
			json_str(w, esptag_alg_str(alg));
	json_end(w);
	json_key(w, "features");
	json_arr(w);
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		if (a->features & feats[i].bit)
			json_str(w, feats[i].name);
	json_end(w);
	json_kstr(w, "xdp", xdp_s(a->xdp_mode));
	json_ku64(w, "hello_ok", a->hello_ok);
	json_ku64(w, "hello_fail", a->hello_fail);
	if (a->last_reply_ms == UINT32_MAX)
		json_knull(w, "last_reply_ms");
	else
		json_ku64(w, "last_reply_ms", a->last_reply_ms);
	json_ku64(w, "reinstalls", a->reinstalls);
	json_ku64(w, "daemon_sas", a->daemon_sas);
	json_ku64(w, "nokey_sas", a->nokey_sas);
	json_kstr(w, "daemon_version", *a->daemon_version ? a->daemon_version : "unknown");
	json_end(w);
	json_done(w);
}

void cli_print_agent(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_agent a = {};
	char mac[32], amac[32];

	esptag_ctl_item(v, 0, &a);
	cli_mac_s(a.mac, mac);
	cli_mac_s(a.agent_mac, amac);
	if (cli_json) {
		print_agent_json(&a, mac, amac);
		return;
	}
	printf("dev %s ifindex %u mac %s port %u xdp %s\n", a.dev, a.ifindex, mac, a.port,
	       xdp_s(a.xdp_mode));
	printf("daemon esptagd %s\n", *a.daemon_version ? a.daemon_version : "unknown");
	printf("agent %s reachable %s data-path %s\n", amac, a.reachable ? "yes" : "no",
	       a.port_up ? "up" : "down (protect traffic dropped)");
	printf("\tepoch 0x%016" PRIx64 " version %u\n", a.epoch, a.version);
	printf("\tsad %u/%u port %u/%u locals %u max-records %u max-payload %u\n", a.sad_used,
	       a.sad_capacity, a.port_used, a.port_limit, a.local_capacity, a.max_records,
	       a.max_payload);
	printf("\talgorithms");
	for (int alg = 1; alg <= 2; alg++)
		if (a.alg_mask & (1u << alg))
			printf(" %s", esptag_alg_str(alg));
	printf("\n\tfeatures");
	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		if (a.features & feats[i].bit)
			printf(" %s", feats[i].name);
	printf("\n\thello ok %u fail %u last-reply ", a.hello_ok, a.hello_fail);
	if (a.last_reply_ms == UINT32_MAX)
		printf("never");
	else
		printf("%ums ago", a.last_reply_ms);
	printf(" reinstalls %u\n\tdaemon sas %u (without key %u)\n", a.reinstalls, a.daemon_sas,
	       a.nokey_sas);
}

static const char *stat_section(int kind, bool json)
{
	return kind == ESPTAG_STAT_DP ? (json ? "datapath" : "data path") :
	       kind == ESPTAG_STAT_AGENT ? "agent" : "sa";
}

/* One SA's counters in JSON (keys as the stats reply's fields). */
static void print_stat_sa_json(const struct esptag_ctl_stat *s)
{
	struct json_w *w = &cli_jw;

	json_obj(w);
	json_ku64(w, "sa_index", s->sa_index);
	json_ku64(w, "spi", s->spi);
	json_kstr(w, "dir", cli_dir_s(s->dir));
	json_ku64(w, "packets", s->packets);
	json_ku64(w, "bytes", s->bytes);
	json_ku64(w, "drops", s->drops);
	if (s->agent_ok) {
		json_key(w, "agent");
		json_obj(w);
		json_ku64(w, "packets", s->agent_packets);
		json_ku64(w, "bytes", s->agent_bytes);
		json_ku64(w, "auth_fail", s->auth_fail);
		json_ku64(w, "domain_reject", s->domain_reject);
		json_ku64(w, "seq", s->agent_seq);
		json_end(w);
	}
	json_end(w);
}

static void print_stat_text(const struct esptag_ctl_stat *s)
{
	if (s->kind == ESPTAG_STAT_DP || s->kind == ESPTAG_STAT_AGENT) {
		printf("\t%-28s %" PRIu64 "\n",
		       s->kind == ESPTAG_STAT_DP ? esptag_counter_str(s->id)
						 : esptag_agent_counter_str(s->id),
		       s->value);
		return;
	}
	printf("\tsa-index %u spi 0x%08x dir %s packets %" PRIu64 " bytes %" PRIu64
	       " drops %" PRIu64 "\n",
	       s->sa_index, s->spi, cli_dir_s(s->dir), s->packets, s->bytes, s->drops);
	if (s->agent_ok)
		printf("\t\tagent packets %" PRIu64 " bytes %" PRIu64 " auth-fail %" PRIu64
		       " domain-reject %" PRIu64 " seq %" PRIu64 "\n",
		       s->agent_packets, s->agent_bytes, s->auth_fail, s->domain_reject,
		       s->agent_seq);
}

/* The statistics: sections datapath and agent (name: value) and sa (a list). */
void cli_print_stats(const struct esptag_ctl_view *v)
{
	struct json_w *w = &cli_jw;
	struct esptag_ctl_stat s;
	int section = 0;

	if (cli_json)
		json_obj(w);
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &s);
		if (s.kind != section) {
			if (cli_json) {
				if (section)
					json_end(w);
				json_key(w, stat_section(s.kind, true));
				if (s.kind == ESPTAG_STAT_SA)
					json_arr(w);
				else
					json_obj(w);
			} else {
				printf("%s:\n", stat_section(s.kind, false));
			}
			section = s.kind;
		}
		if (!cli_json)
			print_stat_text(&s);
		else if (s.kind == ESPTAG_STAT_SA)
			print_stat_sa_json(&s);
		else
			json_ku64(w, s.kind == ESPTAG_STAT_DP ? esptag_counter_str(s.id)
							      : esptag_agent_counter_str(s.id),
				  s.value);
	}
	if (cli_json) {
		if (section)
			json_end(w);
		json_end(w);
		json_done(w);
	}
}

static bool sa_event(int type)
{
	return type == ESPTAG_EV_SA_ADDED || type == ESPTAG_EV_SA_REMOVED ||
	       type == ESPTAG_EV_SA_EXPIRED || type == ESPTAG_EV_SA_SOFT_EXPIRED;
}

/* enum esptag_ctl_limit of an (soft) expire event */
static const char *limit_str(int id)
{
	static const char *const n[] = {
		[ESPTAG_LIMIT_NONE] = "none",	  [ESPTAG_LIMIT_TIME] = "time",
		[ESPTAG_LIMIT_BYTES] = "bytes",	  [ESPTAG_LIMIT_PACKETS] = "packets",
		[ESPTAG_LIMIT_SEQ] = "seq",
	};
	return id >= 0 && id <= ESPTAG_LIMIT_SEQ ? n[id] : "?";
}

void cli_print_event(const struct esptag_ctl_event *e)
{
	char d[64], s[64] = "", ts[32];
	bool expire = e->type == ESPTAG_EV_SA_EXPIRED || e->type == ESPTAG_EV_SA_SOFT_EXPIRED;
	time_t t = e->time_ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (e->family)
		esptag_addr_str(e->family, e->daddr, d, sizeof(d));
	if (e->family && sa_event(e->type))
		esptag_addr_str(e->family, e->saddr, s, sizeof(s));
	if (cli_json) {
		struct json_w *w = &cli_jw;
		char tb[48];

		snprintf(tb, sizeof(tb), "%s.%03uZ", ts, (unsigned)(e->time_ms % 1000));
		json_obj(w);
		json_kstr(w, "time", tb);
		json_kstr(w, "event", esptag_ctl_event_str(e->type));
		if (e->type == ESPTAG_EV_DROP) {
			json_kstr(w, "counter", esptag_counter_str(e->id));
			json_ku64(w, "value", e->value);
			json_ku64(w, "delta", e->delta);
		} else if (e->type == ESPTAG_EV_AGENT_RESTARTED) {
			json_ku64(w, "epoch", e->delta);
			json_ku64(w, "reinstalled", e->value);
		} else if (e->type == ESPTAG_EV_ACQUIRE) {
			char sb[64];

			json_ku64(w, "reqid", e->reqid);
			json_ku64(w, "policy_id", e->policy_id);
			json_ku64(w, "proto", e->id);
			json_kstr(w, "src", esptag_addr_str(e->family, e->saddr, sb, sizeof(sb)));
		} else if (e->spi || e->sa_index) {
			json_ku64(w, "sa_index", e->sa_index);
			json_ku64(w, "spi", e->spi);
			json_kstr(w, "dir", cli_dir_s(e->dir));
		}
		if (e->family)
			json_kstr(w, "dst", d);
		if (*s)
			json_kstr(w, "src", s);
		if (sa_event(e->type)) {
			json_kstr(w, "proto", "esp");
			json_ku64(w, "reqid", e->reqid);
		}
		if (expire) {
			json_kstr(w, "limit", limit_str(e->id));
			json_ku64(w, "value", e->value);
		}
		json_end(w);
		json_done(w);
	} else {
		printf("[%s.%03uZ] %s", ts, (unsigned)(e->time_ms % 1000),
		       esptag_ctl_event_str(e->type));
		if (e->type == ESPTAG_EV_DROP)
			printf(" %s %" PRIu64 " (+%" PRIu64 ")", esptag_counter_str(e->id), e->value,
			       e->delta);
		else if (e->type == ESPTAG_EV_AGENT_RESTARTED)
			printf(" epoch 0x%016" PRIx64 " reinstalled %" PRIu64, e->delta, e->value);
		else if (e->type == ESPTAG_EV_ACQUIRE) {
			char sb[64];

			printf(" reqid %u policy %u proto %u src %s", e->reqid, e->policy_id, e->id,
			       esptag_addr_str(e->family, e->saddr, sb, sizeof(sb)));
		} else if (e->spi || e->sa_index)
			printf(" sa-index %u spi 0x%08x dir %s", e->sa_index, e->spi, cli_dir_s(e->dir));
		if (e->family)
			printf(" dst %s", d);
		if (*s)
			printf(" src %s", s);
		if (sa_event(e->type))
			printf(" reqid %u", e->reqid);
		if (expire)
			printf(" limit %s", limit_str(e->id));
		printf("\n");
	}
	fflush(stdout);
}
