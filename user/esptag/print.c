// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag output of the listings: SAs (state list, agent sa), policies and
 * VFs, as text (ip xfrm style) or JSON (-j, -p; written by user/lib/json.h). Keys are never printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <esptag/maps.h>
#include "cli.h"
#include "esptag_proto.h"

static const char *vf_mode_s(int m)
{
	return m == ESPTAG_CTL_SW_VEPA ? "vepa" : "veb";
}

/* The stats reply's entry of one SA (by sa_index, and spi unless 0); false if none. */
static bool sa_stat(const struct esptag_ctl_view *stats, uint32_t sa_index, uint32_t spi,
		    struct esptag_ctl_stat *s)
{
	for (uint32_t i = 0; stats && i < stats->hdr.count; i++) {
		esptag_ctl_item(stats, i, s);
		if (s->kind == ESPTAG_STAT_SA && s->sa_index == sa_index && (!spi || s->spi == spi))
			return true;
	}
	return false;
}

/* state list -s: one SA's counters (JSON: a "stats" member of the SA). */
static void print_sa_stats(const struct esptag_ctl_stat *s)
{
	cli_obj_begin("stats", "\tstats");
	cli_sa_counters(s, false, "\tagent");
	cli_obj_end("");
}

/* "(INF)" for no limit, else the number (ip -s xfrm state). */
static const char *lim_s(uint64_t v, char *b, size_t n)
{
	if (!v)
		return "(INF)";
	snprintf(b, n, "%" PRIu64, v);
	return b;
}

static const char *time_s(uint64_t t, char *b, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!t || !localtime_r(&tt, &tm) || !strftime(b, n, "%Y-%m-%d %H:%M:%S", &tm))
		return "-";
	return b;
}

/* The members that name an SA: dev, src, dst, proto, spi, reqid. */
static void json_sa_id(const char *dev, const char *s, const char *d, uint32_t spi,
		       uint32_t reqid)
{
	struct json_w *w = &cli_jw;

	json_kstr(w, "dev", dev);
	json_kstr(w, "src", s);
	json_kstr(w, "dst", d);
	json_kstr(w, "proto", "esp");
	json_ku64(w, "spi", spi);
	json_ku64(w, "reqid", reqid);
}

/* Lifetime config and current use, as ip -s xfrm state shows them. */
static void print_sa_life(const struct esptag_ctl_sa *sa)
{
	struct json_w *w = &cli_jw;
	char a[32], b[32];

	if (cli_json) {
		json_key(w, "limits");
		json_obj(w);
		json_ku64(w, "time_soft", sa->soft_time);
		json_ku64(w, "time_hard", sa->lifetime);
		json_ku64(w, "byte_soft", sa->soft_bytes);
		json_ku64(w, "byte_hard", sa->hard_bytes);
		json_ku64(w, "packet_soft", sa->soft_packets);
		json_ku64(w, "packet_hard", sa->hard_packets);
		json_end(w);
		json_key(w, "current");
		json_obj(w);
		json_ku64(w, "bytes", sa->cur_bytes);
		json_ku64(w, "packets", sa->cur_packets);
		json_ku64(w, "add_time", sa->add_time);
		json_ku64(w, "use_time", sa->use_time);
		json_end(w);
		return;
	}
	printf("\tlifetime config:\n");
	printf("\t  limit: soft %s(bytes), hard %s(bytes)\n", lim_s(sa->soft_bytes, a, sizeof(a)),
	       lim_s(sa->hard_bytes, b, sizeof(b)));
	printf("\t  limit: soft %s(packets), hard %s(packets)\n",
	       lim_s(sa->soft_packets, a, sizeof(a)), lim_s(sa->hard_packets, b, sizeof(b)));
	printf("\t  expire add: soft %u(sec), hard %u(sec)\n", sa->soft_time, sa->lifetime);
	printf("\tlifetime current:\n");
	printf("\t  %" PRIu64 "(bytes), %" PRIu64 "(packets)\n", sa->cur_bytes, sa->cur_packets);
	printf("\t  add %s use %s\n", time_s(sa->add_time, a, sizeof(a)),
	       time_s(sa->use_time, b, sizeof(b)));
}

static void print_sa(const struct esptag_ctl_sa *sa, const struct esptag_ctl_view *stats,
		     bool life)
{
	struct esptag_ctl_stat st;
	bool has_st = sa_stat(stats, sa->sa_index, sa->spi, &st);

	char s[64], d[64];

	esptag_addr_str(sa->family, sa->saddr, s, sizeof(s));
	esptag_addr_str(sa->family, sa->daddr, d, sizeof(d));
	if (cli_json) {
		struct json_w *w = &cli_jw;

		json_obj(w);
		json_sa_id(sa->dev, s, d, sa->spi, sa->reqid);
		json_kstr(w, "mode", cli_mode_s(sa->mode));
		json_kstr(w, "dir", cli_dir_s(sa->dir));
		json_kstr(w, "aead", "rfc4106(gcm(aes))");
		json_ku64(w, "key_bits", sa->key_len * 8);
		json_ku64(w, "icv_bits", sa->icv_len * 8);
		json_ku64(w, "replay_window", sa->replay_window);
		json_kbool(w, "esn", sa->sa_flags & ESPTAG_SA_F_ESN);
		cli_json_vlans(sa->vid, sa->nvlans);
		json_ku64(w, "sa_index", sa->sa_index);
		json_ku64(w, "seq", sa->seq);
		json_kbool(w, "alive", sa->state & ESPTAG_CTL_SAS_ALIVE);
		json_kbool(w, "nokey", sa->state & ESPTAG_CTL_SAS_NOKEY);
		json_ku64(w, "lifetime", sa->lifetime);
		print_sa_life(sa);
		if (has_st)
			print_sa_stats(&st);
		json_end(w);
		return;
	}
	printf("src %s dst %s\n", s, d);
	printf("\tdev %s proto esp spi 0x%08x reqid %u mode %s dir %s\n",
	       *sa->dev ? sa->dev : "-", sa->spi, sa->reqid, cli_mode_s(sa->mode), cli_dir_s(sa->dir));
	printf("\taead rfc4106(gcm(aes)) key-len %u icv-len %u", sa->key_len * 8,
	       sa->icv_len * 8);
	if (sa->dir == ESPTAG_DIR_IN)
		printf(" replay-window %u", sa->replay_window);
	if (sa->sa_flags & ESPTAG_SA_F_ESN)
		printf(" esn");
	for (int i = 0; i < sa->nvlans; i++)
		printf(" vlan %u", sa->vid[i]);
	printf("\n\tsa-index %u seq %" PRIu64, sa->sa_index, sa->seq);
	if (sa->lifetime)
		printf(" limit time-hard %u", sa->lifetime);
	if (sa->state & ESPTAG_CTL_SAS_ALIVE)
		printf(" alive");
	if (sa->state & ESPTAG_CTL_SAS_NOKEY)
		printf(" nokey");
	printf("\n");
	if (life)
		print_sa_life(sa);
	if (has_st)
		print_sa_stats(&st);
}

void cli_print_sas(const struct esptag_ctl_view *v, const struct esptag_ctl_view *stats)
{
	struct esptag_ctl_sa sa;

	cli_list_begin();
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &sa);
		print_sa(&sa, stats, stats != NULL);
	}
	cli_list_end();
}

static void print_vf_json(const struct esptag_ctl_vf *f, const char *mac, const char *a)
{
	struct json_w *w = &cli_jw;

	json_obj(w);
	json_ku64(w, "vf", f->vf);
	json_ku64(w, "port", f->port);
	json_kstr(w, "dev", f->ifname);
	json_ku64(w, "ifindex", f->ifindex);
	json_kstr(w, "mac", mac);
	if (f->family)
		json_kstr(w, "addr", a);
	else
		json_knull(w, "addr");
	json_kbool(w, "trusted", f->flags & ESPTAG_CTL_VF_TRUSTED);
	json_kbool(w, "connected", f->flags & ESPTAG_CTL_VF_CONNECTED);
	json_kbool(w, "local", f->flags & ESPTAG_CTL_VF_LOCAL);
	json_ku64(w, "sas", f->sa_count);
	json_ku64(w, "limit", f->limit);
	json_kstr(w, "mode", vf_mode_s(f->mode));
	cli_json_vlans(f->vid, f->nvlans);
	json_end(w);
}

void cli_print_vfs(const struct esptag_ctl_view *v, bool list)
{
	struct esptag_ctl_vf f;
	char mac[20], a[64];
	bool veb = false;

	cli_list_begin();
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &f);
		cli_mac_s(f.mac, mac);
		esptag_addr_str(f.family, f.addr, a, sizeof(a));
		veb |= f.mode == ESPTAG_CTL_SW_VEB;
		if (cli_json) {
			print_vf_json(&f, mac, a);
			continue;
		}
		printf("vf %u port %u dev %s mac %s", f.vf, f.port, f.ifname, mac);
		if (f.family)
			printf(" addr %s", a);
		for (int k = 0; k < f.nvlans; k++)
			printf(" vlan %u", f.vid[k]);
		printf("\n\ttrust %s sas %u limit %u mode %s%s%s\n",
		       f.flags & ESPTAG_CTL_VF_TRUSTED ? "on" : "off", f.sa_count, f.limit,
		       vf_mode_s(f.mode),
		       f.flags & ESPTAG_CTL_VF_CONNECTED ? " connected" : "",
		       f.flags & ESPTAG_CTL_VF_LOCAL ? " local-registered" : "");
	}
	cli_list_end();
	if (!cli_json && list && veb)
		printf("note: switch mode VEB: traffic between local VFs (and the PF) is switched by the NIC\n"
		       "      and bypasses the agent: it is never ESP-protected; protect policies toward\n"
		       "      local addresses fail closed (dropped at the VF port). Use VEPA for encrypted\n"
		       "      east-west traffic.\n");
}

static void print_policy_json(const struct esptag_ctl_policy *p, const char *s, const char *d,
			      const char *ts, const char *td, const struct esptag_ctl_stat *st)
{
	struct json_w *w = &cli_jw;
	char b[80];

	json_obj(w);
	json_ku64(w, "id", p->id);
	json_kstr(w, "dev", p->dev);
	snprintf(b, sizeof(b), "%s/%u", s, p->src_plen);
	json_kstr(w, "src", b);
	snprintf(b, sizeof(b), "%s/%u", d, p->dst_plen);
	json_kstr(w, "dst", b);
	json_kstr(w, "dir", cli_dir_s(p->dir));
	json_kstr(w, "action", esptag_action_str(p->action));
	if (p->action == ESPTAG_ACT_PROTECT) {
		json_ku64(w, "spi", p->spi);
		if (p->tmpl_flags & ESPTAG_CTL_TMPL_REQID)
			json_ku64(w, "reqid", p->reqid);
		if (*ts)
			json_kstr(w, "tmpl_src", ts);
		if (*td)
			json_kstr(w, "tmpl_dst", td);
		if (p->tmpl_mode)
			json_kstr(w, "tmpl_mode", cli_mode_s(p->tmpl_mode));
		if (p->sa_index != ESPTAG_SA_INDEX_NONE)
			json_ku64(w, "sa_index", p->sa_index);
		else
			json_knull(w, "sa_index");
	}
	if (p->use_time)
		json_ku64(w, "use_time", p->use_time);
	else
		json_knull(w, "use_time");
	if (st)
		print_sa_stats(st);
	json_end(w);
}

static void print_policy(const struct esptag_ctl_policy *p, const struct esptag_ctl_view *stats)
{
	char s[64], d[64], ts[64] = "", td[64] = "";
	struct esptag_ctl_stat stb, *st = NULL;

	if (p->action == ESPTAG_ACT_PROTECT && p->sa_index != ESPTAG_SA_INDEX_NONE &&
	    sa_stat(stats, p->sa_index, 0, &stb))
		st = &stb;

	esptag_addr_str(p->family, p->src, s, sizeof(s));
	esptag_addr_str(p->family, p->dst, d, sizeof(d));
	if (p->tmpl_flags & ESPTAG_CTL_TMPL_SRC)
		esptag_addr_str(p->tmpl_family, p->tmpl_src, ts, sizeof(ts));
	if (p->tmpl_flags & ESPTAG_CTL_TMPL_DST)
		esptag_addr_str(p->tmpl_family, p->tmpl_dst, td, sizeof(td));
	if (cli_json) {
		print_policy_json(p, s, d, ts, td, st);
		return;
	}
	printf("src %s/%u dst %s/%u dev %s dir %s action %s", s, p->src_plen, d, p->dst_plen,
	       *p->dev ? p->dev : "-", cli_dir_s(p->dir), esptag_action_str(p->action));
	if (p->action == ESPTAG_ACT_PROTECT) {
		if (p->spi)
			printf(" spi 0x%08x", p->spi);
		if (p->tmpl_flags & ESPTAG_CTL_TMPL_REQID)
			printf(" reqid %u", p->reqid);
		if (*ts || *td || p->tmpl_mode) {
			printf(" tmpl");
			if (*ts)
				printf(" src %s", ts);
			if (*td)
				printf(" dst %s", td);
			if (p->tmpl_mode)
				printf(" mode %s", cli_mode_s(p->tmpl_mode));
		}
		if (p->dir == ESPTAG_DIR_OUT) {
			if (p->sa_index != ESPTAG_SA_INDEX_NONE)
				printf(" sa-index %u", p->sa_index);
			else
				printf(" sa-index none (fails closed)");
		}
	}
	if (p->use_time) {
		char tb[32];

		printf(" use %s", time_s(p->use_time, tb, sizeof(tb)));
	}
	printf(" id %u\n", p->id);
	if (st)
		print_sa_stats(st);
}

void cli_print_policies(const struct esptag_ctl_view *v, const struct esptag_ctl_view *stats)
{
	struct esptag_ctl_policy p;

	cli_list_begin();
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &p);
		print_policy(&p, stats);
	}
	cli_list_end();
}

void cli_print_vf_reset(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_vf f;

	if (!v->hdr.count)
		return;
	esptag_ctl_item(v, 0, &f);
	if (cli_json) {
		json_obj(&cli_jw);
		json_ku64(&cli_jw, "vf", f.vf);
		json_ku64(&cli_jw, "removed", f.sa_count);
		json_end(&cli_jw);
		json_done(&cli_jw);
	} else {
		printf("vf %u reset: %u SAs removed from the agent\n", f.vf, f.sa_count);
	}
}

int cli_print_sa_get(const struct esptag_ctl_sa *sas, uint32_t n, const struct esptag_ctl_sa_id *id)
{
	if (!n) {
		fprintf(stderr, "esptag: no such SA (dst, spi%s)\n", id && id->dir ? ", dir" : "");
		return ESPTAG_EXIT_REFUSED;
	}
	cli_list_begin();
	for (uint32_t i = 0; i < n; i++)
		print_sa(&sas[i], NULL, true);
	cli_list_end();
	return ESPTAG_EXIT_OK;
}

void cli_print_allocspi(const struct esptag_ctl_spi *q)
{
	char s[64], d[64];

	esptag_addr_str(q->family, q->saddr, s, sizeof(s));
	esptag_addr_str(q->family, q->daddr, d, sizeof(d));
	if (cli_json) {
		struct json_w *w = &cli_jw;

		json_obj(w);
		json_sa_id(q->dev, s, d, q->spi, q->reqid);
		json_end(w);
		json_done(w);
		return;
	}
	printf("src %s dst %s\n", s, d);
	printf("\tproto esp spi 0x%08x reqid %u mode transport\n", q->spi, q->reqid);
}

int cli_print_sa_count(const struct esptag_ctl_view *v)
{
	if (cli_json) {
		json_obj(&cli_jw);
		json_ku64(&cli_jw, "count", v->hdr.count);
		json_end(&cli_jw);
		json_done(&cli_jw);
	} else {
		printf("SAD count %u\n", v->hdr.count);
	}
	return ESPTAG_EXIT_OK;
}
