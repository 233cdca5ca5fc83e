// SPDX-License-Identifier: GPL-2.0-only
/* Names of esptag enums for logs, the CLI, JSON and metrics. */
#include <string.h>
#include <esptag/maps.h>
#include "esptag_proto.h"

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

static const char *const status_names[] = {
	[ESPTAG_ST_OK] = "ok",
	[ESPTAG_ST_BAD_VERSION] = "bad_version",
	[ESPTAG_ST_BAD_OPCODE] = "bad_opcode",
	[ESPTAG_ST_MALFORMED] = "malformed",
	[ESPTAG_ST_BAD_RECORD] = "bad_record",
	[ESPTAG_ST_NO_SPACE] = "no_space",
	[ESPTAG_ST_PORT_LIMIT] = "port_limit",
	[ESPTAG_ST_DUPLICATE] = "duplicate",
	[ESPTAG_ST_UNKNOWN_SA] = "unknown_sa",
	[ESPTAG_ST_BAD_ALG] = "bad_alg",
	[ESPTAG_ST_NOT_PERMITTED] = "not_permitted",
	[ESPTAG_ST_UNKNOWN_LOCAL] = "unknown_local",
	[ESPTAG_ST_BUSY] = "busy",
};
_Static_assert(N(status_names) == ESPTAG_ST_MAX + 1, "status names");

static const char *const opcode_names[] = {
	[ESPTAG_OP_HELLO] = "hello",
	[ESPTAG_OP_ADD_SA] = "add_sa",
	[ESPTAG_OP_DEL_SA] = "del_sa",
	[ESPTAG_OP_FLUSH_PORT] = "flush_port",
	[ESPTAG_OP_ADD_LOCAL] = "add_local",
	[ESPTAG_OP_DEL_LOCAL] = "del_local",
	[ESPTAG_OP_DUMP_SA] = "dump_sa",
	[ESPTAG_OP_GET_STATS] = "get_stats",
};
_Static_assert(N(opcode_names) == ESPTAG_OP_MAX + 1, "opcode names");

static const char *const result_names[] = {
	[ESPTAG_RES_OK] = "ok",
	[ESPTAG_RES_AUTH_FAIL] = "auth_fail",
	[ESPTAG_RES_NO_SA] = "no_sa",
	[ESPTAG_RES_MALFORMED] = "malformed",
	[ESPTAG_RES_UNSUPPORTED] = "unsupported",
};
_Static_assert(N(result_names) == ESPTAG_RES_MAX + 1, "result names");

static const char *const rec_type_names[] = {
	[ESPTAG_REC_SA] = "sa",
	[ESPTAG_REC_SA_REF] = "sa_ref",
	[ESPTAG_REC_LOCAL] = "local",
	[ESPTAG_REC_CAPS] = "caps",
	[ESPTAG_REC_SA_STATS] = "sa_stats",
	[ESPTAG_REC_COUNTER] = "counter",
	[ESPTAG_REC_CURSOR] = "cursor",
	[ESPTAG_REC_SA_WRAP] = "sa_wrap",
	[ESPTAG_REC_WRAP_KEY] = "wrap_key",
};
_Static_assert(N(rec_type_names) == ESPTAG_REC_MAX + 1, "record type names");

/* The data-path counters, from the one table in include/esptag/maps.h. */
const struct esptag_counter_info esptag_counters[] = {
#define CNT_INFO(id, nm, drop) [ESPTAG_CNT_##id] = { #nm, drop },
	ESPTAG_COUNTERS(CNT_INFO)
#undef CNT_INFO
};
_Static_assert(N(esptag_counters) == ESPTAG_CNT_MAX, "counter table");

const char *const esptag_counter_names[] = {
#define CNT_NAME(id, nm, drop) [ESPTAG_CNT_##id] = #nm,
	ESPTAG_COUNTERS(CNT_NAME)
#undef CNT_NAME
};
_Static_assert(N(esptag_counter_names) == ESPTAG_CNT_MAX, "counter names");

const char *const esptag_agent_counter_names[] = {
	[ESPTAG_AC_TX_ENCRYPTED] = "tx_encrypted",
	[ESPTAG_AC_TX_SEGMENTS] = "tx_segments",
	[ESPTAG_AC_TX_BYPASS] = "tx_bypass",
	[ESPTAG_AC_TX_UNTAGGED] = "tx_untagged",
	[ESPTAG_AC_TX_HAIRPIN] = "tx_hairpin",
	[ESPTAG_AC_TX_DROP_NO_SA] = "tx_drop_no_sa",
	[ESPTAG_AC_TX_DROP_DOMAIN] = "tx_drop_domain",
	[ESPTAG_AC_TX_DROP_MALFORMED] = "tx_drop_malformed",
	[ESPTAG_AC_RX_DECRYPTED] = "rx_decrypted",
	[ESPTAG_AC_RX_AUTH_FAIL] = "rx_auth_fail",
	[ESPTAG_AC_RX_NO_SA] = "rx_no_sa",
	[ESPTAG_AC_RX_MALFORMED] = "rx_malformed",
	[ESPTAG_AC_RX_PLAIN] = "rx_plain",
	[ESPTAG_AC_RX_DROP_TAGGED] = "rx_drop_tagged",
	[ESPTAG_AC_CFG_RX] = "cfg_rx",
	[ESPTAG_AC_CFG_DUP] = "cfg_dup",
	[ESPTAG_AC_CFG_ERR] = "cfg_err",
	[ESPTAG_AC_CFG_DROPPED] = "cfg_dropped",
	[ESPTAG_AC_TX_DROP_VLAN_HIDDEN] = "tx_drop_vlan_hidden",
	[ESPTAG_AC_TX_DROP_GSO_LIMIT] = "tx_drop_gso_limit",
	[ESPTAG_AC_RX_COALESCED] = "rx_coalesced",
};
_Static_assert(N(esptag_agent_counter_names) == ESPTAG_AC_MAX, "agent counter names");

static const char *name(const char *const *tab, int n, int i)
{
	return i >= 0 && i < n && tab[i] ? tab[i] : "?";
}

const char *esptag_status_str(int status)
{
	return name(status_names, N(status_names), status < 0 ? -status : status);
}

const char *esptag_opcode_str(int opcode)
{
	return name(opcode_names, N(opcode_names), opcode);
}

const char *esptag_result_str(int result)
{
	return name(result_names, N(result_names), result);
}

const char *esptag_rec_type_str(int type)
{
	return name(rec_type_names, N(rec_type_names), type);
}

const char *esptag_counter_str(int counter)
{
	return name(esptag_counter_names, N(esptag_counter_names), counter);
}

bool esptag_counter_is_drop(int counter)
{
	return counter >= 0 && counter < ESPTAG_CNT_MAX && esptag_counters[counter].drop;
}

int esptag_counter_index(const char *name)
{
	for (int i = 0; i < ESPTAG_CNT_MAX; i++)
		if (!strcmp(esptag_counters[i].name, name))
			return i;
	return -1;
}

const char *esptag_agent_counter_str(int counter)
{
	return name(esptag_agent_counter_names, N(esptag_agent_counter_names), counter);
}

void esptag_hexdump(FILE *f, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i += 16) {
		fprintf(f, "%04zx:", i);
		for (size_t j = i; j < i + 16 && j < len; j++)
			fprintf(f, "%s%02x", (j - i) == 8 ? "  " : " ", p[j]);
		fputc('\n', f);
	}
}
