// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the printers of print.c and print_status.c share: one field written
 * either as text (" word value", ip xfrm style) or as a JSON member
 * (-j, -p; through user/lib/json.h), the JSON list around a listing, and the
 * counters of one SA (a table: the same fields in both forms, in one order).
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <esptag/maps.h>
#include "cli.h"

const char *cli_dir_s(int d)
{
	return d == ESPTAG_DIR_IN ? "in" : d == ESPTAG_DIR_OUT ? "out" : "any";
}

const char *cli_mode_s(int m)
{
	return m == ESPTAG_MODE_TUNNEL ? "tunnel" : "transport";
}

void cli_mac_s(const uint8_t *m, char *b)
{
	sprintf(b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Text written by cli_obj_begin ended in a tab: the next field needs no space. */
static bool after_tab;

/* The text of a field: " word value", " value" for word "", nothing for NULL. */
static bool text_word(const char *word)
{
	if (cli_json || !word)
		return false;
	if (!after_tab)
		putchar(' ');
	after_tab = false;
	if (*word)
		printf("%s ", word);
	return true;
}

void cli_field_u64(const char *key, const char *word, enum cli_fmt fmt, uint64_t v)
{
	if (cli_json) {
		json_ku64(&cli_jw, key, v);
		return;
	}
	if (!text_word(word))
		return;
	switch (fmt) {
	case CLI_HEX32:
		printf("0x%08" PRIx64, v);
		break;
	case CLI_HEX64:
		printf("0x%016" PRIx64, v);
		break;
	case CLI_DELTA:
		printf("(+%" PRIu64 ")", v);
		break;
	default:
		printf("%" PRIu64, v);
		break;
	}
}

void cli_field_str(const char *key, const char *word, const char *s)
{
	if (cli_json)
		json_kstr(&cli_jw, key, s);
	else if (text_word(word))
		fputs(s, stdout);
}

void cli_text(const char *s)
{
	if (!cli_json)
		fputs(s, stdout);
}

void cli_obj_begin(const char *key, const char *text)
{
	if (!cli_json) {
		size_t n = strlen(text);

		fputs(text, stdout);
		after_tab = n && text[n - 1] == '\t';
		return;
	}
	if (key)
		json_key(&cli_jw, key);
	json_obj(&cli_jw);
}

void cli_obj_end(const char *text)
{
	if (cli_json)
		json_end(&cli_jw);
	else
		fputs(text, stdout);
}

void cli_list_begin(void)
{
	if (cli_json)
		json_arr(&cli_jw);
}

void cli_list_end(void)
{
	if (cli_json) {
		json_end(&cli_jw);
		json_done(&cli_jw);
	}
}

void cli_json_vlans(const uint16_t *vid, int n)
{
	json_key(&cli_jw, "vlans");
	json_arr(&cli_jw);
	for (int i = 0; i < n; i++)
		json_u64(&cli_jw, vid[i]);
	json_end(&cli_jw);
}

struct stat_field {
	const char *key, *word;
	size_t off;
};
#define STAT_FIELD(k, w, m) { k, w, offsetof(struct esptag_ctl_stat, m) }

static const struct stat_field dp_fields[] = {
	STAT_FIELD("packets", "packets", packets),
	STAT_FIELD("bytes", "bytes", bytes),
	STAT_FIELD("drops", "drops", drops),
};

/* The first AGENT_BRIEF of them in the listings' stats (-s), all in stats. */
#define AGENT_BRIEF 3
static const struct stat_field agent_fields[] = {
	STAT_FIELD("packets", "packets", agent_packets),
	STAT_FIELD("bytes", "bytes", agent_bytes),
	STAT_FIELD("auth_fail", "auth-fail", auth_fail),
	STAT_FIELD("domain_reject", "domain-reject", domain_reject),
	STAT_FIELD("seq", "seq", agent_seq),
};

static void stat_fields(const struct esptag_ctl_stat *s, const struct stat_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cli_field_u64(f[i].key, f[i].word, CLI_DEC,
			      *(const uint64_t *)((const uint8_t *)s + f[i].off));
}

void cli_sa_counters(const struct esptag_ctl_stat *s, bool all, const char *agent_text)
{
	stat_fields(s, dp_fields, sizeof(dp_fields) / sizeof(dp_fields[0]));
	cli_text("\n");
	if (!s->agent_ok)
		return;
	cli_obj_begin("agent", agent_text);
	stat_fields(s, agent_fields, all ? sizeof(agent_fields) / sizeof(agent_fields[0]) : AGENT_BRIEF);
	cli_obj_end("\n");
}
