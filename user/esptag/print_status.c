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

/* The names of the agent's algorithms and features, in names[]; how many. */
static size_t agent_algs(const struct esptag_ctl_agent *a, const char **names)
{
	size_t n = 0;

	for (int alg = 1; alg <= 2; alg++)
		if (a->alg_mask & (1u << alg))
			names[n++] = esptag_alg_str(alg);
	return n;
}

static size_t agent_feats(const struct esptag_ctl_agent *a, const char **names)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(feats) / sizeof(feats[0]); i++)
		if (a->features & feats[i].bit)
			names[n++] = feats[i].name;
	return n;
}

#define AGENT_NAMES_MAX (sizeof(feats) / sizeof(feats[0]) + 2)

/* The n names: JSON, the member key with an array; text, " name" each. */
static void json_names(struct json_w *w, const char *key, const char **names, size_t n)
{
	json_key(w, key);
	json_arr(w);
	for (size_t i = 0; i < n; i++)
		json_str(w, names[i]);
	json_end(w);
}

static void text_names(const char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf(" %s", names[i]);
}

static void print_agent_json(const struct esptag_ctl_agent *a, const char *mac, const char *amac)
{
	struct json_w *w = &cli_jw;
	const char *names[AGENT_NAMES_MAX];

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
	json_names(w, "algorithms", names, agent_algs(a, names));
	json_names(w, "features", names, agent_feats(a, names));
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
	const char *names[AGENT_NAMES_MAX];
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
	text_names(names, agent_algs(&a, names));
	printf("\n\tfeatures");
	text_names(names, agent_feats(&a, names));
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

/* The name of a data path or agent counter. */
static const char *stat_name(const struct esptag_ctl_stat *s)
{
	return s->kind == ESPTAG_STAT_DP ? esptag_counter_str(s->id)
					 : esptag_agent_counter_str(s->id);
}

/* One entry: a counter "name value", or an SA's counters (JSON: keys as
 * the stats reply's fields). */
static void print_stat(const struct esptag_ctl_stat *s)
{
	if (s->kind != ESPTAG_STAT_SA) {
		if (cli_json)
			json_ku64(&cli_jw, stat_name(s), s->value);
		else
			printf("\t%-28s %" PRIu64 "\n", stat_name(s), s->value);
		return;
	}
	cli_obj_begin(NULL, "\t");
	cli_field_u64("sa_index", "sa-index", CLI_DEC, s->sa_index);
	cli_field_u64("spi", "spi", CLI_HEX32, s->spi);
	cli_field_str("dir", "dir", cli_dir_s(s->dir));
	cli_sa_counters(s, true, "\t\tagent");
	cli_obj_end("");
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
		print_stat(&s);
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
	char d[64], s[64] = "", ts[32], tb[48];
	bool expire = e->type == ESPTAG_EV_SA_EXPIRED || e->type == ESPTAG_EV_SA_SOFT_EXPIRED;
	time_t t = e->time_ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(tb, sizeof(tb), "%s.%03uZ", ts, (unsigned)(e->time_ms % 1000));
	if (e->family)
		esptag_addr_str(e->family, e->daddr, d, sizeof(d));
	if (e->family && sa_event(e->type))
		esptag_addr_str(e->family, e->saddr, s, sizeof(s));
	cli_obj_begin(NULL, "");
	if (cli_json)
		json_kstr(&cli_jw, "time", tb);
	else
		printf("[%s]", tb);
	cli_field_str("event", "", esptag_ctl_event_str(e->type));
	if (e->type == ESPTAG_EV_DROP) {
		cli_field_str("counter", "", esptag_counter_str(e->id));
		cli_field_u64("value", "", CLI_DEC, e->value);
		cli_field_u64("delta", "", CLI_DELTA, e->delta);
	} else if (e->type == ESPTAG_EV_AGENT_RESTARTED) {
		cli_field_u64("epoch", "epoch", CLI_HEX64, e->delta);
		cli_field_u64("reinstalled", "reinstalled", CLI_DEC, e->value);
	} else if (e->type == ESPTAG_EV_ACQUIRE) {
		char sb[64];

		cli_field_u64("reqid", "reqid", CLI_DEC, e->reqid);
		cli_field_u64("policy_id", "policy", CLI_DEC, e->policy_id);
		cli_field_u64("proto", "proto", CLI_DEC, e->id);
		cli_field_str("src", "src", esptag_addr_str(e->family, e->saddr, sb, sizeof(sb)));
	} else if (e->spi || e->sa_index) {
		cli_field_u64("sa_index", "sa-index", CLI_DEC, e->sa_index);
		cli_field_u64("spi", "spi", CLI_HEX32, e->spi);
		cli_field_str("dir", "dir", cli_dir_s(e->dir));
	}
	if (e->family)
		cli_field_str("dst", "dst", d);
	if (*s)
		cli_field_str("src", "src", s);
	if (sa_event(e->type)) {
		cli_field_str("proto", NULL, "esp");
		cli_field_u64("reqid", "reqid", CLI_DEC, e->reqid);
	}
	if (expire) {
		cli_field_str("limit", "limit", limit_str(e->id));
		cli_field_u64("value", NULL, CLI_DEC, e->value);
	}
	cli_obj_end("\n");
	if (cli_json)
		json_done(&cli_jw);
	fflush(stdout);
}
