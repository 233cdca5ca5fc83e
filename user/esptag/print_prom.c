// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag -o prometheus stats: the statistics in the Prometheus text
 * exposition format (version 0.0.4), for node_exporter's textfile collector
 * or any scraper. Series (docs/operations.md, "Prometheus"):
 *   esptag_drops_total{dev,reason}          data-path drop counters
 *   esptag_<counter>_total{dev}             the other data-path counters
 *   esptag_agent_<counter>_total{dev}       the agent's port counters
 *   esptag_sa_<counter>_total{dev,spi,dir}  per SA (spi in hex)
 *   esptag_agent_up{dev}, esptag_reinstalls_total{dev}, esptag_sas{dev}
 * An SA is labelled by SPI and direction only: never by its SA index (the
 * agent reuses indices) and nothing key-related. Outbound SAs toward
 * different peers may share an SPI: their counters are summed into one
 * series (a label set appears once, as the format requires).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <esptag/maps.h>
#include "cli.h"
#include "esptag_proto.h"

static void family(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The DP or AGENT items of the stats reply; drops: only drop counters
 * (as esptag_drops_total), else only the others. */
static void print_dev_counters(const struct esptag_ctl_view *v, const char *dev, int kind,
			       int drops)
{
	struct esptag_ctl_stat s;
	char name[128];

	if (drops)
		family("esptag_drops_total", "counter",
		       "Packets dropped by the esptag data path, by reason.");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &s);
		if (s.kind != kind)
			continue;
		if (kind == ESPTAG_STAT_DP && esptag_counter_is_drop(s.id) != !!drops)
			continue;
		if (drops) {
			printf("esptag_drops_total{dev=\"%s\",reason=\"%s\"} %" PRIu64 "\n", dev,
			       esptag_counter_str(s.id), s.value);
			continue;
		}
		if (kind == ESPTAG_STAT_DP)
			snprintf(name, sizeof(name), "esptag_%s_total", esptag_counter_str(s.id));
		else
			snprintf(name, sizeof(name), "esptag_agent_%s_total",
				 esptag_agent_counter_str(s.id));
		family(name, "counter", kind == ESPTAG_STAT_DP ? "esptag data-path counter."
							     : "esptag agent port counter.");
		printf("%s{dev=\"%s\"} %" PRIu64 "\n", name, dev, s.value);
	}
}

enum sa_field { F_PACKETS, F_BYTES, F_DROPS, F_AG_PACKETS, F_AG_BYTES, F_AUTH_FAIL,
		F_DOMAIN_REJECT, F_NR };

static uint64_t sa_value(const struct esptag_ctl_stat *s, int f)
{
	const uint64_t v[F_NR] = { s->packets, s->bytes, s->drops, s->agent_packets,
				   s->agent_bytes, s->auth_fail, s->domain_reject };
	return v[f];
}

static int by_spi_dir(const void *a, const void *b)
{
	const struct esptag_ctl_stat *x = a, *y = b;

	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return x->spi < y->spi ? -1 : x->spi > y->spi;
}

/* The SA items, one per (spi, dir): counters of SAs sharing both summed. */
static size_t sa_merge(const struct esptag_ctl_view *v, struct esptag_ctl_stat *out)
{
	size_t n = 0, m = 0;

	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &out[n]);
		if (out[n].kind == ESPTAG_STAT_SA)
			n++;
	}
	qsort(out, n, sizeof(*out), by_spi_dir);
	for (size_t i = 0; i < n; i++) {
		struct esptag_ctl_stat *s = &out[i], *t = &out[m ? m - 1 : 0];

		if (m && !by_spi_dir(s, t)) {
			t->packets += s->packets;
			t->bytes += s->bytes;
			t->drops += s->drops;
			t->agent_packets += s->agent_packets;
			t->agent_bytes += s->agent_bytes;
			t->auth_fail += s->auth_fail;
			t->domain_reject += s->domain_reject;
			t->agent_ok |= s->agent_ok;
			continue;
		}
		out[m++] = *s;
	}
	return m;
}

static int print_sa_counters(const struct esptag_ctl_view *v, const char *dev)
{
	static const char *const names[F_NR][2] = {
		{ "esptag_sa_packets_total", "Packets of the SA seen by the data path." },
		{ "esptag_sa_bytes_total", "Bytes of the SA seen by the data path." },
		{ "esptag_sa_drops_total", "Packets of the SA dropped by the data path." },
		{ "esptag_sa_agent_packets_total", "Packets of the SA processed by the agent." },
		{ "esptag_sa_agent_bytes_total", "Bytes of the SA processed by the agent." },
		{ "esptag_sa_auth_fail_total", "Packets of the SA failing the ICV check at the agent." },
		{ "esptag_sa_domain_reject_total", "Packets of the SA refused by the agent's port domain check." },
	};
	struct esptag_ctl_stat *sa = calloc(v->hdr.count ? v->hdr.count : 1, sizeof(*sa));
	size_t n;

	if (!sa)
		return -1;
	n = sa_merge(v, sa);
	for (int f = 0; f < F_NR; f++) {
		family(names[f][0], "counter", names[f][1]);
		for (size_t i = 0; i < n; i++) {
			if (f >= F_AG_PACKETS && !sa[i].agent_ok)
				continue;
			printf("%s{dev=\"%s\",spi=\"0x%08x\",dir=\"%s\"} %" PRIu64 "\n",
			       names[f][0], dev, sa[i].spi, cli_dir_s(sa[i].dir), sa_value(&sa[i], f));
		}
	}
	free(sa);
	return 0;
}

int cli_print_prom(const struct esptag_ctl_view *stats, const struct esptag_ctl_view *agent)
{
	struct esptag_ctl_agent a = {};
	const char *dev;

	esptag_ctl_item(agent, 0, &a);
	dev = a.dev;
	family("esptag_agent_up", "gauge",
	       "1 when the agent answers and the data path is up, else 0.");
	printf("esptag_agent_up{dev=\"%s\"} %d\n", dev, a.reachable && a.port_up);
	family("esptag_reinstalls_total", "counter",
	       "Agent restarts after which esptagd re-installed the SAs.");
	printf("esptag_reinstalls_total{dev=\"%s\"} %u\n", dev, a.reinstalls);
	family("esptag_sas", "gauge", "SAs in esptagd's database.");
	printf("esptag_sas{dev=\"%s\"} %u\n", dev, a.daemon_sas);
	print_dev_counters(stats, dev, ESPTAG_STAT_DP, 1);
	print_dev_counters(stats, dev, ESPTAG_STAT_DP, 0);
	print_dev_counters(stats, dev, ESPTAG_STAT_AGENT, 0);
	return print_sa_counters(stats, dev);
}
