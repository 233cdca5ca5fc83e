// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptag output of the listings: SAs (state list, agent sa), policies and
 * VFs, as text (ip xfrm style) or JSON (-j). Keys are never printed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <esptag/maps.h>
#include "cli.h"
#include "esptag_proto.h"

const char *cli_dir_s(int d)
{
	return d == ESPTAG_DIR_IN ? "in" : d == ESPTAG_DIR_OUT ? "out" : "any";
}

static const char *mode_s(int m)
{
	return m == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport";
}

void cli_mac_s(const uint8_t *m, char *b)
{
	sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void print_sa(const struct esptag_ctl_sa *sa, bool first)
{
	char s[64], d[64];

	esptag_addr_str(sa->family, sa->saddr, s, sizeof(s));
	esptag_addr_str(sa->family, sa->daddr, d, sizeof(d));
	if (cli_json) {
		printf("%s{\"dev\":\"%s\",\"src\":\"%s\",\"dst\":\"%s\",\"proto\":\"esp\","
		       "\"spi\":%u,\"reqid\":%u,\"mode\":\"%s\",\"dir\":\"%s\","
		       "\"aead\":\"rfc4106(gcm(aes))\",\"key_bits\":%u,\"icv_bits\":%u,"
		       "\"replay_window\":%u,\"esn\":%s,\"vlans\":[",
		       first ? "" : ",", sa->dev, s, d, sa->spi, sa->reqid, mode_s(sa->mode),
		       cli_dir_s(sa->dir), sa->key_len * 8, sa->icv_len * 8, sa->replay_window,
		       sa->sa_flags & ESPTAG_SA_F_ESN ? "true" : "false");
		for (int i = 0; i < sa->nvlans; i++)
			printf("%s%u", i ? "," : "", sa->vid[i]);
		printf("],\"sa_index\":%u,\"seq\":%" PRIu64 ",\"alive\":%s,\"nokey\":%s,"
		       "\"lifetime\":%u}",
		       sa->sa_index, sa->seq, sa->state & ESPTAG_CTL_SAS_ALIVE ? "true" : "false",
		       sa->state & ESPTAG_CTL_SAS_NOKEY ? "true" : "false", sa->lifetime);
		return;
	}
	printf("src %s dst %s\n", s, d);
	printf("\tdev %s proto esp spi 0x%08x reqid %u mode %s dir %s\n",
	       *sa->dev ? sa->dev : "-", sa->spi, sa->reqid, mode_s(sa->mode), cli_dir_s(sa->dir));
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
}

void cli_print_sas(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_sa sa;

	if (cli_json)
		printf("[");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &sa);
		print_sa(&sa, i == 0);
	}
	if (cli_json)
		printf("]\n");
}

void cli_print_vfs(const struct esptag_ctl_view *v, bool list)
{
	struct esptag_ctl_vf f;
	char mac[20], a[64];
	bool veb = false;

	if (cli_json)
		printf("[");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &f);
		cli_mac_s(f.mac, mac);
		esptag_addr_str(f.family, f.addr, a, sizeof(a));
		veb |= f.mode == ESPTAG_CTL_SW_VEB;
		if (cli_json) {
			printf("%s{\"vf\":%u,\"port\":%u,\"dev\":\"%s\",\"ifindex\":%u,"
			       "\"mac\":\"%s\",\"addr\":%s%s%s,\"trusted\":%s,\"connected\":%s,"
			       "\"local\":%s,\"sas\":%u,\"limit\":%u,\"mode\":\"%s\",\"vlans\":[",
			       i ? "," : "", f.vf, f.port, f.ifname, f.ifindex, mac,
			       f.family ? "\"" : "", f.family ? a : "null", f.family ? "\"" : "",
			       f.flags & ESPTAG_CTL_VF_TRUSTED ? "true" : "false",
			       f.flags & ESPTAG_CTL_VF_CONNECTED ? "true" : "false",
			       f.flags & ESPTAG_CTL_VF_LOCAL ? "true" : "false", f.sa_count, f.limit,
			       f.mode == ESPTAG_CTL_SW_VEPA ? "vepa" : "veb");
			for (int k = 0; k < f.nvlans; k++)
				printf("%s%u", k ? "," : "", f.vid[k]);
			printf("]}");
			continue;
		}
		printf("vf %u port %u dev %s mac %s", f.vf, f.port, f.ifname, mac);
		if (f.family)
			printf(" addr %s", a);
		for (int k = 0; k < f.nvlans; k++)
			printf(" vlan %u", f.vid[k]);
		printf("\n\ttrust %s sas %u limit %u mode %s%s%s\n",
		       f.flags & ESPTAG_CTL_VF_TRUSTED ? "on" : "off", f.sa_count, f.limit,
		       f.mode == ESPTAG_CTL_SW_VEPA ? "vepa" : "veb",
		       f.flags & ESPTAG_CTL_VF_CONNECTED ? " connected" : "",
		       f.flags & ESPTAG_CTL_VF_LOCAL ? " local-registered" : "");
	}
	if (cli_json) {
		printf("]\n");
		return;
	}
	if (list && veb)
		printf("note: switch mode VEB: traffic between local VFs (and the PF) is switched by the NIC\n"
		       "      and bypasses the agent: it is never ESP-protected; protect policies toward\n"
		       "      local addresses fail closed (dropped at the VF port). Use VEPA for encrypted\n"
		       "      east-west traffic.\n");
}

static void print_policy(const struct esptag_ctl_policy *p, bool first)
{
	char s[64], d[64], ts[64] = "", td[64] = "";

	esptag_addr_str(p->family, p->src, s, sizeof(s));
	esptag_addr_str(p->family, p->dst, d, sizeof(d));
	if (p->tmpl_flags & ESPTAG_CTL_TMPL_SRC)
		esptag_addr_str(p->tmpl_family, p->tmpl_src, ts, sizeof(ts));
	if (p->tmpl_flags & ESPTAG_CTL_TMPL_DST)
		esptag_addr_str(p->tmpl_family, p->tmpl_dst, td, sizeof(td));
	if (cli_json) {
		printf("%s{\"id\":%u,\"dev\":\"%s\",\"src\":\"%s/%u\",\"dst\":\"%s/%u\","
		       "\"dir\":\"%s\",\"action\":\"%s\"",
		       first ? "" : ",", p->id, p->dev, s, p->src_plen, d, p->dst_plen,
		       cli_dir_s(p->dir), esptag_action_str(p->action));
		if (p->action == ESPTAG_ACT_PROTECT) {
			printf(",\"spi\":%u", p->spi);
			if (p->tmpl_flags & ESPTAG_CTL_TMPL_REQID)
				printf(",\"reqid\":%u", p->reqid);
			if (*ts)
				printf(",\"tmpl_src\":\"%s\"", ts);
			if (*td)
				printf(",\"tmpl_dst\":\"%s\"", td);
			if (p->tmpl_mode)
				printf(",\"tmpl_mode\":\"%s\"",
				       p->tmpl_mode == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport");
			if (p->sa_index != ESPTAG_SA_INDEX_NONE)
				printf(",\"sa_index\":%u", p->sa_index);
			else
				printf(",\"sa_index\":null");
		}
		printf("}");
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
				printf(" mode %s",
				       p->tmpl_mode == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport");
		}
		if (p->dir == ESPTAG_DIR_OUT) {
			if (p->sa_index != ESPTAG_SA_INDEX_NONE)
				printf(" sa-index %u", p->sa_index);
			else
				printf(" sa-index none (fails closed)");
		}
	}
	printf(" id %u\n", p->id);
}

void cli_print_policies(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_policy p;

	if (cli_json)
		printf("[");
	for (uint32_t i = 0; i < v->hdr.count; i++) {
		esptag_ctl_item(v, i, &p);
		print_policy(&p, i == 0);
	}
	if (cli_json)
		printf("]\n");
}

void cli_print_vf_reset(const struct esptag_ctl_view *v)
{
	struct esptag_ctl_vf f;

	if (!v->hdr.count)
		return;
	esptag_ctl_item(v, 0, &f);
	if (cli_json)
		printf("{\"vf\":%u,\"removed\":%u}\n", f.vf, f.sa_count);
	else
		printf("vf %u reset: %u SAs removed from the agent\n", f.vf, f.sa_count);
}
