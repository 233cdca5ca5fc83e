// SPDX-License-Identifier: GPL-2.0-only
/*
 * Config packet and metadata tag codec tests: round trips of every opcode
 * and record type, every malformed input class, and the agreement of
 * docs/protocol.md (field tables and worked hex examples) with wire.h.
 *
 *   build/tests/test_protocol             run the tests
 *   build/tests/test_protocol --examples  print the worked examples in the
 *                                         format of docs/protocol.md
 */
#include <errno.h>
#include <stddef.h>
#include <libgen.h>
#include <unistd.h>
#include "../lib/test.h"
#include <esptag/maps.h>
#include "esptag_proto.h"
#include "protocol_examples.h"

static const char *doc_path;

#define NM(a) (sizeof(a) / sizeof((a)[0]))

/* Every field of every wire struct: checked against the tables of
 * docs/protocol.md and used to annotate the printed examples. */
struct field {
	const char *st, *name;
	size_t off, size;
};
#define F(s, m) { #s, #m, offsetof(struct s, m), sizeof(((struct s *)0)->m) }
static const struct field fields[] = {
	F(esptag_cfg_hdr, version), F(esptag_cfg_hdr, opcode), F(esptag_cfg_hdr, flags),
	F(esptag_cfg_hdr, status), F(esptag_cfg_hdr, msg_id), F(esptag_cfg_hdr, port),
	F(esptag_cfg_hdr, count), F(esptag_cfg_hdr, length), F(esptag_cfg_hdr, err_index),
	F(esptag_rec_hdr, type), F(esptag_rec_hdr, flags), F(esptag_rec_hdr, len),
	F(esptag_vlan, tpid), F(esptag_vlan, tci),
	F(esptag_rec_sa, hdr), F(esptag_rec_sa, dir), F(esptag_rec_sa, family),
	F(esptag_rec_sa, proto), F(esptag_rec_sa, mode), F(esptag_rec_sa, spi),
	F(esptag_rec_sa, daddr), F(esptag_rec_sa, saddr), F(esptag_rec_sa, local_mac),
	F(esptag_rec_sa, nvlans), F(esptag_rec_sa, alg), F(esptag_rec_sa, vlan),
	F(esptag_rec_sa, key_len), F(esptag_rec_sa, icv_len), F(esptag_rec_sa, sa_flags),
	F(esptag_rec_sa, reserved), F(esptag_rec_sa, replay_window),
	F(esptag_rec_sa, reserved2), F(esptag_rec_sa, sa_index), F(esptag_rec_sa, key),
	F(esptag_rec_sa, salt),
	F(esptag_rec_sa_ref, hdr), F(esptag_rec_sa_ref, sa_index),
	F(esptag_rec_local, hdr), F(esptag_rec_local, family), F(esptag_rec_local, nvlans),
	F(esptag_rec_local, mac), F(esptag_rec_local, addr), F(esptag_rec_local, vlan),
	F(esptag_rec_caps, hdr), F(esptag_rec_caps, version_min),
	F(esptag_rec_caps, version_max), F(esptag_rec_caps, alg_mask),
	F(esptag_rec_caps, epoch_hi), F(esptag_rec_caps, epoch_lo),
	F(esptag_rec_caps, sad_capacity), F(esptag_rec_caps, sad_used),
	F(esptag_rec_caps, port_limit), F(esptag_rec_caps, port_used),
	F(esptag_rec_caps, max_records), F(esptag_rec_caps, max_payload),
	F(esptag_rec_caps, local_capacity), F(esptag_rec_caps, features),
	F(esptag_rec_sa_stats, hdr), F(esptag_rec_sa_stats, sa_index),
	F(esptag_rec_sa_stats, packets_hi), F(esptag_rec_sa_stats, packets_lo),
	F(esptag_rec_sa_stats, bytes_hi), F(esptag_rec_sa_stats, bytes_lo),
	F(esptag_rec_sa_stats, auth_fail), F(esptag_rec_sa_stats, domain_reject),
	F(esptag_rec_sa_stats, seq_hi), F(esptag_rec_sa_stats, seq_lo),
	F(esptag_rec_counter, hdr), F(esptag_rec_counter, id), F(esptag_rec_counter, reserved),
	F(esptag_rec_counter, value_hi), F(esptag_rec_counter, value_lo),
	F(esptag_rec_cursor, hdr), F(esptag_rec_cursor, next),
	F(esptag_rec_caps2, caps), F(esptag_rec_caps2, agent_key),
	F(esptag_rec_sa_wrap, sa), F(esptag_rec_sa_wrap, wrapped), F(esptag_rec_sa_wrap, tag),
	F(esptag_rec_wrap_key, hdr), F(esptag_rec_wrap_key, msg_id),
	F(esptag_rec_wrap_key, eph_key),
	F(esptag_meta, tpid), F(esptag_meta, version), F(esptag_meta, kind),
	F(esptag_meta, flags), F(esptag_meta, next_hdr), F(esptag_meta, result),
	F(esptag_meta, reserved), F(esptag_meta, esp_off), F(esptag_meta, payload_off),
	F(esptag_meta, trailer_len), F(esptag_meta, mss), F(esptag_meta, sa_index),
	F(esptag_meta, seq_hi), F(esptag_meta, seq_lo), F(esptag_meta, reserved2),
	F(esptag_meta, inner_proto),
	F(esptag_esp_hdr, spi), F(esptag_esp_hdr, seq), F(esptag_esp_hdr, iv),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const struct {
	const char *st;
	size_t size;
} structs[] = {
	{ "esptag_cfg_hdr", sizeof(struct esptag_cfg_hdr) },
	{ "esptag_rec_hdr", sizeof(struct esptag_rec_hdr) },
	{ "esptag_vlan", sizeof(struct esptag_vlan) },
	{ "esptag_rec_sa", sizeof(struct esptag_rec_sa) },
	{ "esptag_rec_sa_ref", sizeof(struct esptag_rec_sa_ref) },
	{ "esptag_rec_local", sizeof(struct esptag_rec_local) },
	{ "esptag_rec_caps", sizeof(struct esptag_rec_caps) },
	{ "esptag_rec_sa_stats", sizeof(struct esptag_rec_sa_stats) },
	{ "esptag_rec_counter", sizeof(struct esptag_rec_counter) },
	{ "esptag_rec_cursor", sizeof(struct esptag_rec_cursor) },
	{ "esptag_rec_caps2", sizeof(struct esptag_rec_caps2) },
	{ "esptag_rec_sa_wrap", sizeof(struct esptag_rec_sa_wrap) },
	{ "esptag_rec_wrap_key", sizeof(struct esptag_rec_wrap_key) },
	{ "esptag_meta", sizeof(struct esptag_meta) },
	{ "esptag_esp_hdr", sizeof(struct esptag_esp_hdr) },
};
#define NSTRUCTS (sizeof(structs) / sizeof(structs[0]))

static const char *rec_struct(uint8_t type)
{
	static const char *const n[] = {
		[ESPTAG_REC_SA] = "esptag_rec_sa", [ESPTAG_REC_SA_REF] = "esptag_rec_sa_ref",
		[ESPTAG_REC_LOCAL] = "esptag_rec_local", [ESPTAG_REC_CAPS] = "esptag_rec_caps",
		[ESPTAG_REC_SA_STATS] = "esptag_rec_sa_stats",
		[ESPTAG_REC_COUNTER] = "esptag_rec_counter",
		[ESPTAG_REC_CURSOR] = "esptag_rec_cursor",
		[ESPTAG_REC_SA_WRAP] = "esptag_rec_sa",
		[ESPTAG_REC_WRAP_KEY] = "esptag_rec_wrap_key",
	};
	return type <= ESPTAG_REC_MAX ? n[type] : NULL;
}

/* ------------------------------------------------------------------------ */
/* Example printing                                                          */
/* ------------------------------------------------------------------------ */

static void print_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		for (size_t j = i; j < i + 16 && j < n; j++)
			printf("%s%02x", j == i ? "" : (j - i) == 8 ? "  " : " ", p[j]);
		printf("\n");
	}
}

/* One line per field of struct st from offset from on: "hex  # name". */
static void print_fields_from(const char *st, const uint8_t *p, size_t from)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		size_t col = 0;

		if (strcmp(fields[i].st, st) || fields[i].off < from)
			continue;
		for (size_t j = 0; j < fields[i].size; j++) {
			if (j && j % 16 == 0) {
				printf("\n");
				col = 0;
			}
			col += printf("%s%02x", j % 16 ? " " : "", p[fields[i].off + j]);
		}
		printf("%*s# %s\n", (int)(col < 48 ? 50 - col : 2), "", fields[i].name);
	}
}

static void print_fields(const char *st, const uint8_t *p)
{
	print_fields_from(st, p, 0);
}

static void print_cfg(const uint8_t *p, size_t n)
{
	struct esptag_cfg_view v;
	struct esptag_rec_view r;
	size_t off = 0;
	int i = 0, rc;

	rc = esptag_cfg_decode(p, n, &v);
	printf("# header: version %u, %s, flags 0x%02x, status %s, msg_id 0x%08x, port %u,"
	       " count %u, length %u, err_index 0x%04x%s\n",
	       v.version, esptag_opcode_str(v.opcode), v.flags, esptag_status_str(v.status),
	       v.msg_id, v.port, v.count, v.length, v.err_index, rc ? " (DOES NOT DECODE)" : "");
	print_bytes(p, 16);
	while (esptag_cfg_next(&v, &off, &r)) {
		printf("# record %d: %s, len %u\n", i++, esptag_rec_type_str(r.type), r.len);
		if (v.count > 4)
			print_bytes(r.data, r.len);
		else
			print_fields(rec_struct(r.type), r.data);
		/* The version 2 records: the fields after the SA / CAPS part. */
		if (v.count <= 4 && r.type == ESPTAG_REC_SA_WRAP)
			print_fields_from("esptag_rec_sa_wrap", r.data, sizeof(struct esptag_rec_sa));
		if (v.count <= 4 && r.type == ESPTAG_REC_CAPS && r.len == sizeof(struct esptag_rec_caps2))
			print_fields_from("esptag_rec_caps2", r.data, sizeof(struct esptag_rec_caps));
	}
	if (16 + v.records_len < n) {
		printf("# Ethernet padding\n");
		print_bytes(p + 16 + v.records_len, n - 16 - v.records_len);
	}
}

static void print_example(const struct ex_example *e)
{
	uint8_t buf[2048];
	size_t n = e->build(buf, sizeof(buf));

	printf("```hex example=%s\n", e->name);
	if (e->kind == EX_RAW) {
		print_bytes(buf, n);
	} else if (e->kind == EX_CFG) {
		print_cfg(buf, n);
	} else if (e->kind == EX_CFG_FRAME) {
		printf("# Ethernet: dst (agent), src (host port), EtherType\n");
		print_bytes(buf, 14);
		print_cfg(buf + 14, n - 14);
	} else {
		printf("# dst MAC, src MAC\n");
		print_bytes(buf, 12);
		printf("# metadata tag\n");
		print_fields("esptag_meta", buf + 12);
		printf("# IPv4 header\n");
		print_bytes(buf + 44, 20);
		if (n > 64) {
			printf("# ESP header + IV\n");
			print_fields("esptag_esp_hdr", buf + 64);
			printf("# UDP header + payload (to be encrypted)\n");
			print_bytes(buf + 80, n - 80);
		}
	}
	printf("```\n\n");
}


/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static const struct ex_example *ex_find(const char *name)
{
	for (size_t i = 0; i < EX_COUNT; i++)
		if (!strcmp(ex_examples[i].name, name))
			return &ex_examples[i];
	return NULL;
}

/* Build example NAME into buf (4096 bytes, zeroed first). */
static size_t ex_build(const char *name, uint8_t *buf)
{
	const struct ex_example *e = ex_find(name);

	memset(buf, 0, 4096);
	return e ? e->build(buf, 4096) : 0;
}

/* Big endian for len <= 4, else every byte = v. */
static void put_be(uint8_t *p, size_t len, uint32_t v)
{
	if (len > 4) {
		memset(p, (int)(v & 0xff), len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * (len - 1 - i)));
}

static char *read_doc(size_t *len)
{
	FILE *f = fopen(doc_path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, n + 1);
	if (s && fread(s, 1, n, f) != (size_t)n) {
		free(s);
		s = NULL;
	}
	fclose(f);
	*len = n;
	return s;
}

/* ------------------------------------------------------------------------ */
/* docs/protocol.md agrees with wire.h                                       */
/* ------------------------------------------------------------------------ */

/*
 * Tables are introduced by "<!-- struct NAME SIZE -->" and have rows
 * "| offset | size | `field` | ...". Every field of the struct must be
 * listed once with its offsetof and sizeof, and nothing else.
 */
static void test_doc_tables(void)
{
	size_t dlen;
	char *doc = read_doc(&dlen);

	T_ASSERT(doc);
	for (size_t si = 0; si < NSTRUCTS; si++) {
		char marker[128], *p, *line;
		size_t want = 0, seen = 0;
		unsigned long size;

		snprintf(marker, sizeof(marker), "<!-- struct %s ", structs[si].st);
		p = strstr(doc, marker);
		if (!p) {
			t_fail(__FILE__, __LINE__, "no table for struct %s", structs[si].st);
			break;
		}
		size = strtoul(p + strlen(marker), NULL, 10);
		if (size != structs[si].size) {
			t_fail(__FILE__, __LINE__, "doc: struct %s is %lu bytes, wire.h %zu",
			       structs[si].st, size, structs[si].size);
			break;
		}
		for (size_t i = 0; i < NFIELDS; i++)
			want += !strcmp(fields[i].st, structs[si].st);
		line = strchr(p, '\n');
		while (line && line[1] == '|') {
			char name[64];
			unsigned long off, sz;
			bool found = false;

			line++;
			if (sscanf(line, "| %lu | %lu | `%63[^`]`", &off, &sz, name) == 3) {
				for (size_t i = 0; i < NFIELDS; i++) {
					if (strcmp(fields[i].st, structs[si].st) ||
					    strcmp(fields[i].name, name))
						continue;
					found = true;
					if (fields[i].off != off || fields[i].size != sz) {
						t_fail(__FILE__, __LINE__,
						       "doc: %s.%s at %lu size %lu, wire.h %zu/%zu",
						       structs[si].st, name, off, sz, fields[i].off,
						       fields[i].size);
						goto out;
					}
				}
				if (!found) {
					t_fail(__FILE__, __LINE__, "doc: %s has no field %s",
					       structs[si].st, name);
					goto out;
				}
				seen++;
			}
			line = strchr(line, '\n');
		}
		if (seen != want) {
			t_fail(__FILE__, __LINE__, "doc: table of %s lists %zu fields, wire.h has %zu",
			       structs[si].st, seen, want);
			break;
		}
	}
out:
	free(doc);
}

/* The value tables of the document (opcodes, statuses, record types with
 * their sizes, header flags) name the values of wire.h. */
static void test_doc_values(void)
{
	char row[128];
	size_t dlen;
	char *doc = read_doc(&dlen);
	static const struct {
		const char *name;
		int val;
	} ops[] = {
		{ "HELLO", ESPTAG_OP_HELLO }, { "ADD_SA", ESPTAG_OP_ADD_SA },
		{ "DEL_SA", ESPTAG_OP_DEL_SA }, { "FLUSH_PORT", ESPTAG_OP_FLUSH_PORT },
		{ "ADD_LOCAL", ESPTAG_OP_ADD_LOCAL }, { "DEL_LOCAL", ESPTAG_OP_DEL_LOCAL },
		{ "DUMP_SA", ESPTAG_OP_DUMP_SA }, { "GET_STATS", ESPTAG_OP_GET_STATS },
	}, sts[] = {
		{ "OK", ESPTAG_ST_OK }, { "BAD_VERSION", ESPTAG_ST_BAD_VERSION },
		{ "BAD_OPCODE", ESPTAG_ST_BAD_OPCODE }, { "MALFORMED", ESPTAG_ST_MALFORMED },
		{ "BAD_RECORD", ESPTAG_ST_BAD_RECORD }, { "NO_SPACE", ESPTAG_ST_NO_SPACE },
		{ "PORT_LIMIT", ESPTAG_ST_PORT_LIMIT }, { "DUPLICATE", ESPTAG_ST_DUPLICATE },
		{ "UNKNOWN_SA", ESPTAG_ST_UNKNOWN_SA }, { "BAD_ALG", ESPTAG_ST_BAD_ALG },
		{ "NOT_PERMITTED", ESPTAG_ST_NOT_PERMITTED },
		{ "UNKNOWN_LOCAL", ESPTAG_ST_UNKNOWN_LOCAL }, { "BUSY", ESPTAG_ST_BUSY },
	}, recs[] = {
		{ "SA", ESPTAG_REC_SA }, { "SA_REF", ESPTAG_REC_SA_REF },
		{ "LOCAL", ESPTAG_REC_LOCAL }, { "CAPS", ESPTAG_REC_CAPS },
		{ "SA_STATS", ESPTAG_REC_SA_STATS }, { "COUNTER", ESPTAG_REC_COUNTER },
		{ "CURSOR", ESPTAG_REC_CURSOR }, { "SA_WRAP", ESPTAG_REC_SA_WRAP },
		{ "WRAP_KEY", ESPTAG_REC_WRAP_KEY },
	}, flags[] = {
		{ "ESPTAG_CFG_F_REPLY", ESPTAG_CFG_F_REPLY },
		{ "ESPTAG_CFG_F_MORE", ESPTAG_CFG_F_MORE },
		{ "ESPTAG_CFG_F_RETRY", ESPTAG_CFG_F_RETRY },
	};

	T_ASSERT(doc);
	T_EQ(NM(ops), ESPTAG_OP_MAX);
	T_EQ(NM(sts), ESPTAG_ST_MAX + 1);
	T_EQ(NM(recs), ESPTAG_REC_MAX);
	for (size_t i = 0; i < NM(ops) && !t_cur_failed; i++) {
		snprintf(row, sizeof(row), "| `%s` | %d |", ops[i].name, ops[i].val);
		if (!strstr(doc, row))
			t_fail(__FILE__, __LINE__, "doc: no row '%s'", row);
	}
	for (size_t i = 0; i < NM(sts) && !t_cur_failed; i++) {
		snprintf(row, sizeof(row), "| `%s` | %d |", sts[i].name, sts[i].val);
		if (!strstr(doc, row))
			t_fail(__FILE__, __LINE__, "doc: no row '%s'", row);
	}
	for (size_t i = 0; i < NM(recs) && !t_cur_failed; i++) {
		snprintf(row, sizeof(row), "| `%s` | %d | %zu |", recs[i].name, recs[i].val,
			 esptag_rec_size(recs[i].val));
		if (!strstr(doc, row))
			t_fail(__FILE__, __LINE__, "doc: no row '%s'", row);
	}
	for (size_t i = 0; i < NM(flags) && !t_cur_failed; i++) {
		snprintf(row, sizeof(row), "| `%s` | 0x%02x |", flags[i].name, flags[i].val);
		if (!strstr(doc, row))
			t_fail(__FILE__, __LINE__, "doc: no row '%s'", row);
	}
	free(doc);
}

/* Every worked example of the document equals the codec's bytes. */
static void test_doc_examples(void)
{
	static uint8_t want[4096], got[4096];
	size_t dlen, nfound = 0;
	bool seen[EX_COUNT] = { 0 };
	char *doc = read_doc(&dlen), *p;

	T_ASSERT(doc);
	/* Blocks start at the beginning of a line. */
	for (p = doc; (p = strstr(p, "\n```hex example=")); ) {
		char name[64], *end, *body, *line;
		const struct ex_example *e;
		size_t wlen = 0, glen;

		p++;
		if (sscanf(p, "```hex example=%63s", name) != 1)
			break;
		e = ex_find(name);
		if (!e) {
			t_fail(__FILE__, __LINE__, "doc example %s is not built by the test", name);
			break;
		}
		if (seen[e - ex_examples]) {
			t_fail(__FILE__, __LINE__, "doc example %s appears twice", name);
			break;
		}
		seen[e - ex_examples] = true;
		body = strchr(p, '\n');
		end = body ? strstr(body, "\n```") : NULL;
		if (!end) {
			t_fail(__FILE__, __LINE__, "example %s not terminated", name);
			break;
		}
		/* Parse line by line, dropping "# comments". */
		for (line = body + 1; line < end; ) {
			char tmp[512], *nl = memchr(line, '\n', end - line), *hash;
			size_t l = (nl ? nl : end) - line;
			int n;

			if (l >= sizeof(tmp))
				l = sizeof(tmp) - 1;
			memcpy(tmp, line, l);
			tmp[l] = 0;
			hash = strchr(tmp, '#');
			if (hash)
				*hash = 0;
			n = t_unhex(tmp, want + wlen, sizeof(want) - wlen);
			if (n < 0) {
				t_fail(__FILE__, __LINE__, "example %s: bad hex line '%s'", name, tmp);
				goto out;
			}
			wlen += n;
			line = nl ? nl + 1 : end;
		}
		glen = ex_build(name, got);
		if (glen != wlen || memcmp(got, want, glen)) {
			t_hexdiff(got, glen, want, wlen);
			t_fail(__FILE__, __LINE__, "example %s: doc bytes differ from the codec's",
			       name);
			break;
		}
		nfound++;
		p = end;
	}
	for (size_t i = 0; i < EX_COUNT && !t_cur_failed; i++)
		if (!seen[i])
			t_fail(__FILE__, __LINE__, "example %s missing from the doc", ex_examples[i].name);
	T_EQ(nfound, EX_COUNT);
out:
	free(doc);
}

/* The examples themselves are valid: config ones decode, tags decode. */
static void test_examples_decode(void)
{
	static uint8_t buf[4096];

	for (size_t i = 0; i < EX_COUNT; i++) {
		const struct ex_example *e = &ex_examples[i];
		size_t n = ex_build(e->name, buf);
		struct esptag_cfg_view v;
		struct esptag_meta_view m;
		int rc;

		T_ASSERT(n > 0);
		if (e->kind == EX_RAW)
			continue;
		if (e->kind == EX_META)
			rc = esptag_meta_decode(buf + 12, e->frame_len - 12, ESPTAG_ETH_P_META, &m);
		else if (e->kind == EX_CFG_FRAME)
			rc = esptag_cfg_decode(buf + 14, n - 14, &v);
		else
			rc = esptag_cfg_decode(buf, n, &v);
		if (rc) {
			t_fail(__FILE__, __LINE__, "example %s does not decode: %d", e->name, rc);
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                               */
/* ------------------------------------------------------------------------ */

/* decode -> iterate -> rebuild gives the same bytes, for every config
 * example (all opcodes, all record types, both directions). */
static void test_cfg_round_trip(void)
{
	static uint8_t buf[4096], out[4096];

	for (size_t i = 0; i < EX_COUNT; i++) {
		const struct ex_example *e = &ex_examples[i];
		struct esptag_cfg_view v;
		struct esptag_cfg_builder b;
		struct esptag_rec_view r;
		size_t n, off = 0, m;
		uint8_t *p = buf;
		int nrec = 0;

		if (e->kind == EX_META || e->kind == EX_RAW)
			continue;
		n = ex_build(e->name, buf);
		if (e->kind == EX_CFG_FRAME) {
			p += 14;
			n = 16;	/* without the padding */
		}
		T_EQ(esptag_cfg_decode(p, n, &v), 0);
		esptag_cfg_begin(&b, out, sizeof(out), v.opcode, v.flags, v.status, v.msg_id,
				 v.port);
		esptag_cfg_set_version(&b, v.version);
		while (esptag_cfg_next(&v, &off, &r)) {
			T_ASSERT(r.len == esptag_rec_size(r.type) ||
				 (r.type == ESPTAG_REC_CAPS && r.len == sizeof(struct esptag_rec_caps2)));
			T_EQ(esptag_cfg_add(&b, r.type, r.data, r.len), 0);
			nrec++;
		}
		T_EQ(nrec, v.count);
		T_EQ(off, v.records_len);
		m = esptag_cfg_end(&b, v.err_index);
		T_MEMEQ(out, m, p, n);
	}
}

static void test_cfg_fields(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	struct esptag_rec_view r;
	struct esptag_rec_sa sa;
	size_t n = ex_build("add_sa_batch_request", buf), off = 0;

	T_EQ(esptag_cfg_decode(buf, n, &v), 0);
	T_EQ(v.version, 1);
	T_EQ(v.opcode, ESPTAG_OP_ADD_SA);
	T_EQ(v.flags, 0);
	T_EQ(v.msg_id, EX_MSG_ID + 3);
	T_EQ(v.port, 2);
	T_EQ(v.count, 2);
	T_EQ(v.length, 216);
	T_EQ(v.records_len, 216);
	T_EQ(v.err_index, 0xffff);
	T_EQ(v.bad_index, 0xffff);
	T_ASSERT(esptag_cfg_next(&v, &off, &r));
	T_ASSERT(esptag_cfg_next(&v, &off, &r));
	T_EQ(r.type, ESPTAG_REC_SA);
	memcpy(&sa, r.data, sizeof(sa));
	T_EQ(ntohl(sa.spi), 0x2002);
	T_EQ(sa.dir, ESPTAG_DIR_IN);
	T_EQ(sa.alg, ESPTAG_ALG_AES_GCM_256);
	T_EQ(ntohs(sa.vlan[1].tci), 200);
	T_EQ(ntohs(sa.replay_window), 128);
	T_EQ(sa.key[31], 0x5f);
	T_ASSERT(!esptag_cfg_next(&v, &off, &r));

	n = ex_build("add_sa_duplicate_reply", buf);
	T_EQ(esptag_cfg_decode(buf, n, &v), 0);
	T_EQ(v.status, ESPTAG_ST_DUPLICATE);
	T_EQ(v.err_index, 1);
	T_EQ(v.count, 0);
}

static void test_meta_round_trip(void)
{
	static uint8_t buf[4096];
	uint8_t out[32];

	for (size_t i = 0; i < EX_COUNT; i++) {
		const struct ex_example *e = &ex_examples[i];
		struct esptag_meta_view m;

		if (e->kind != EX_META)
			continue;
		ex_build(e->name, buf);
		T_EQ(esptag_meta_decode(buf + 12, e->frame_len - 12, ESPTAG_ETH_P_META, &m), 0);
		esptag_meta_encode(out, ESPTAG_ETH_P_META, &m);
		T_MEMEQ(out, 32, buf + 12, 32);
	}
	/* Fields of the Tx example. */
	{
		struct esptag_meta_view m;
		const struct ex_example *e = ex_find("tx_meta");

		ex_build("tx_meta", buf);
		T_EQ(esptag_meta_decode(buf + 12, e->frame_len - 12, ESPTAG_ETH_P_META, &m), 0);
		T_EQ(m.kind, ESPTAG_META_TX);
		T_EQ(m.flags, ESPTAG_META_F_OFFLOAD);
		T_EQ(m.next_hdr, 17);
		T_EQ(m.esp_off, 34);
		T_EQ(m.payload_off, 50);
		T_EQ(m.sa_index, 0);
		T_EQ(m.seq, 1);
		T_EQ(m.inner_proto, 0x0800);
		/* ESN: 64-bit sequence split over seq_hi/seq_lo. */
		m.flags |= ESPTAG_META_F_ESN;
		m.seq = 0x0000000500000007ull;
		esptag_meta_encode(buf + 12, 0x88b6, &m);
		T_EQ(buf[12 + 23], 5);
		T_EQ(buf[12 + 27], 7);
		T_EQ(esptag_meta_decode(buf + 12, e->frame_len - 12, ESPTAG_ETH_P_META, &m), 0);
		T_EQ(m.seq, 0x0000000500000007ull);
		/* Another EtherType configured. */
		esptag_meta_encode(buf + 12, 0x9999, &m);
		T_EQ(esptag_meta_decode(buf + 12, e->frame_len - 12, 0x9999, &m), 0);
		T_EQ(esptag_meta_decode(buf + 12, e->frame_len - 12, 0x88b6, &m), ESPTAG_EMALFORMED);
	}
}

/* ------------------------------------------------------------------------ */
/* Malformed config packets                                                  */
/* ------------------------------------------------------------------------ */

/* Every example cut at every length fails with MALFORMED. */
static void test_cfg_truncated(void)
{
	static uint8_t buf[4096];
	unsigned int cases = 0;

	for (size_t i = 0; i < EX_COUNT; i++) {
		const struct ex_example *e = &ex_examples[i];
		size_t n;

		if (e->kind != EX_CFG)
			continue;
		n = ex_build(e->name, buf);
		for (size_t l = 0; l < n; l++) {
			struct esptag_cfg_view v;
			uint8_t *copy = malloc(l ? l : 1);

			/* Exact-size copy: a read past l would be a heap overflow
			 * (caught by ASan in the fuzz build of the same code). */
			memcpy(copy, buf, l);
			int rc = esptag_cfg_decode(copy, l, &v);

			free(copy);
			if (rc != ESPTAG_EMALFORMED) {
				t_fail(__FILE__, __LINE__, "%s cut at %zu: rc %d", e->name, l, rc);
				return;
			}
			cases++;
		}
	}
	T_ASSERT(cases > 1000);
}

static int dec(const uint8_t *p, size_t n, struct esptag_cfg_view *v)
{
	return esptag_cfg_decode(p, n, v);
}

static void test_cfg_version(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	size_t n = ex_build("add_sa_request", buf);
	const uint8_t bad[] = { 0, 3, 255 };

	for (size_t i = 0; i < sizeof(bad); i++) {
		buf[0] = bad[i];
		T_EQ(dec(buf, n, &v), ESPTAG_EVERSION);
		/* The header is still read so that the reply can be built. */
		T_EQ(v.version, bad[i]);
		T_EQ(v.msg_id, EX_MSG_ID + 2);
		T_EQ(v.opcode, ESPTAG_OP_ADD_SA);
		T_EQ(v.bad_index, 0xffff);
	}
	/* Version 2 carries wrapped keys: an SA record in its ADD_SA is
	 * MALFORMED (record 0), as an SA_WRAP record in version 1. */
	n = ex_build("add_sa_request", buf);
	buf[0] = 2;
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 0);
	n = ex_build("add_sa_v2_request", buf);
	T_EQ(dec(buf, n, &v), 0);
	buf[0] = 1;
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 0);
	{
		/* Version 2 ADD_SA framing: SA_WRAP records, then one WRAP_KEY. */
		const size_t W = sizeof(struct esptag_rec_sa_wrap);
		const size_t K = sizeof(struct esptag_rec_wrap_key);
		static uint8_t alt[4096];

		n = ex_build("add_sa_v2_request", buf);
		T_EQ(dec(buf, n, &v), 0);
		T_EQ(v.count, 2);
		/* Without its WRAP_KEY: MALFORMED (0xffff). */
		memcpy(alt, buf, 16 + W);
		alt[11] = 1, alt[12] = (uint8_t)(W >> 8), alt[13] = (uint8_t)W;
		T_EQ(dec(alt, 16 + W, &v), ESPTAG_EMALFORMED);
		T_EQ(v.bad_index, 0xffff);
		/* WRAP_KEY first: the record after it is MALFORMED. */
		memcpy(alt, buf, 16);
		memcpy(alt + 16, buf + 16 + W, K);
		memcpy(alt + 16 + K, buf + 16, W);
		T_EQ(dec(alt, n, &v), ESPTAG_EMALFORMED);
		T_EQ(v.bad_index, 1);
		/* Two WRAP_KEYs. */
		memcpy(alt, buf, n);
		memcpy(alt + n, buf + 16 + W, K);
		alt[11] = 3, alt[12] = (uint8_t)((W + 2 * K) >> 8), alt[13] = (uint8_t)(W + 2 * K);
		T_EQ(dec(alt, n + K, &v), ESPTAG_EMALFORMED);
		T_EQ(v.bad_index, 2);
		/* A WRAP_KEY alone: no SA. */
		memcpy(alt, buf, 16);
		memcpy(alt + 16, buf + 16 + W, K);
		alt[11] = 1, alt[12] = 0, alt[13] = (uint8_t)K;
		T_EQ(dec(alt, 16 + K, &v), ESPTAG_EMALFORMED);
		/* An all-zero ephemeral key, a zero msg_id: BAD_RECORD (record 1). */
		memcpy(alt, buf, n);
		memset(alt + 16 + W + 8, 0, 32);
		T_EQ(dec(alt, n, &v), ESPTAG_EBADREC);
		T_EQ(v.bad_index, 1);
		memcpy(alt, buf, n);
		memset(alt + 16 + W + 4, 0, 4);
		T_EQ(dec(alt, n, &v), ESPTAG_EBADREC);
		T_EQ(v.bad_index, 1);
		/* In a reply: MALFORMED. */
		memcpy(alt, buf, n);
		alt[2] = ESPTAG_CFG_F_REPLY;
		T_EQ(dec(alt, n, &v), ESPTAG_EMALFORMED);
	}
	/* HELLO with version 2 too. */
	n = ex_build("hello_request", buf);
	buf[0] = 2;
	T_EQ(dec(buf, n, &v), ESPTAG_EVERSION);
	/* A BAD_VERSION reply from an agent speaking versions 3..4 decodes. */
	n = ex_build("bad_version_reply", buf);
	buf[0] = 4;
	buf[16 + 4] = 3;
	buf[16 + 5] = 4;
	T_EQ(dec(buf, n, &v), 0);
	T_EQ(v.version, 4);
	/* ... but an OK reply with version 4 does not. */
	buf[3] = ESPTAG_ST_OK;
	T_EQ(dec(buf, n, &v), ESPTAG_EVERSION);
	/* A BAD_VERSION reply must carry exactly one CAPS. */
	n = ex_build("bad_version_reply", buf);
	buf[11] = 0, buf[13] = 0;
	T_EQ(dec(buf, 16, &v), ESPTAG_EMALFORMED);
}

static void test_cfg_opcode(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	const uint8_t bad[] = { 0, ESPTAG_OP_MAX + 1, 0x2a, 255 };
	size_t n = ex_build("get_stats_counters_request", buf);
	for (size_t i = 0; i < sizeof(bad); i++) {
		buf[1] = bad[i];
		T_EQ(dec(buf, n, &v), ESPTAG_EOPCODE);
		T_EQ(v.opcode, bad[i]);
		T_EQ(v.msg_id, EX_MSG_ID + 11);
	}
	/* The BAD_OPCODE reply (unknown opcode echoed) decodes, others not. */
	n = ex_build("bad_opcode_reply", buf);
	T_EQ(dec(buf, n, &v), 0);
	T_EQ(v.opcode, 0x2a);
	buf[3] = ESPTAG_ST_MALFORMED;
	T_EQ(dec(buf, n, &v), ESPTAG_EOPCODE);
}

static void test_cfg_header_fields(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	size_t n;

	n = ex_build("del_sa_request", buf);
	T_EQ(dec(buf, n, &v), 0);
	buf[2] = 0x08;					/* unknown flag */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	buf[2] = ESPTAG_CFG_F_RETRY;			/* retry: fine */
	T_EQ(dec(buf, n, &v), 0);
	buf[2] = ESPTAG_CFG_F_MORE;			/* MORE in a request */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	buf[2] = 0;
	put_be(buf + 4, 4, 0);				/* msg_id 0 */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	put_be(buf + 4, 4, 7);
	buf[3] = ESPTAG_ST_DUPLICATE;			/* status in a request */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	buf[3] = 0;
	put_be(buf + 14, 2, 0);				/* err_index in a request */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);

	n = ex_build("del_sa_reply", buf);
	T_EQ(dec(buf, n, &v), 0);
	put_be(buf + 14, 2, 0);				/* OK with an err_index */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	put_be(buf + 14, 2, 0xffff);
	buf[2] |= ESPTAG_CFG_F_RETRY;			/* RETRY in a reply */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	buf[2] = ESPTAG_CFG_F_REPLY | ESPTAG_CFG_F_MORE;	/* MORE outside DUMP_SA */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	buf[2] = ESPTAG_CFG_F_REPLY;
	buf[3] = ESPTAG_ST_MAX + 1;			/* unknown status */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	buf[3] = ESPTAG_ST_UNKNOWN_SA;			/* error reply with records */
	put_be(buf + 14, 2, 0);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 0);
	/* the same error reply without records is right */
	put_be(buf + 10, 2, 0);
	put_be(buf + 12, 2, 0);
	T_EQ(dec(buf, 16, &v), 0);
	T_EQ(v.status, ESPTAG_ST_UNKNOWN_SA);
	T_EQ(v.err_index, 0);
}

static void test_cfg_lengths(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	size_t n;

	n = ex_build("add_sa_batch_request", buf);		/* 2 x 108 */
	T_EQ(dec(buf, n, &v), 0);
	/* count larger than the records present */
	put_be(buf + 10, 2, 3);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 2);
	/* count smaller: length has bytes left over */
	put_be(buf + 10, 2, 1);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 0xffff);
	/* oversized counts */
	put_be(buf + 10, 2, ESPTAG_CFG_MAX_RECORDS + 1);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	put_be(buf + 10, 2, 0xffff);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	put_be(buf + 10, 2, 2);
	/* length beyond the buffer, short of it, beyond the max payload */
	put_be(buf + 12, 2, 217);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	put_be(buf + 12, 2, 215);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	put_be(buf + 12, 2, 216);
	T_EQ(dec(buf, n + 1, &v), ESPTAG_EMALFORMED);	/* trailing byte, big frame */
	put_be(buf + 12, 2, 0xffff);
	T_EQ(dec(buf, 4096, &v), ESPTAG_EMALFORMED);
	put_be(buf + 12, 2, 216);
	T_EQ(dec(buf, n, &v), 0);

	/* Ethernet padding: a 16-byte request in a 60-byte frame is fine,
	 * one byte more than a minimum frame's padding is not. */
	memset(buf, 0, 4096);
	n = ex_flush_port_request(buf, 4096);
	memset(buf + n, 0xee, 64);
	T_EQ(dec(buf, 46, &v), 0);
	T_EQ(v.records_len, 0);
	T_EQ(dec(buf, 47, &v), ESPTAG_EMALFORMED);
	n = ex_build("flush_port_request_frame", buf);
	T_EQ(dec(buf + 14, n - 14, &v), 0);
	/* a record count with no bytes */
	memset(buf, 0, 4096);
	n = ex_flush_port_request(buf, 4096);
	put_be(buf + 10, 2, 1);
	T_EQ(dec(buf, 46, &v), ESPTAG_EMALFORMED);
}

static void test_cfg_record_len(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	const uint16_t bad[] = { 0, 1, 3, 4, 8, 107, 109, 216, 0xffff };
	size_t n = ex_build("add_sa_batch_request", buf);

	for (int rec = 0; rec < 2; rec++) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			n = ex_build("add_sa_batch_request", buf);
			put_be(buf + 16 + rec * 108 + 2, 2, bad[i]);
			T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
			T_EQ(v.bad_index, rec);
		}
	}
	/* record flags must be 0 */
	n = ex_build("add_sa_batch_request", buf);
	buf[16 + 108 + 1] = 1;
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 1);
}

static void test_cfg_record_type(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	const uint8_t bad[] = { 0, ESPTAG_REC_MAX + 1, 0x80, 255 };
	size_t n;

	for (size_t i = 0; i < sizeof(bad); i++) {
		n = ex_build("add_sa_batch_request", buf);
		buf[16 + 108] = bad[i];
		T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
		T_EQ(v.bad_index, 1);
	}
}

/* A valid record of each type, for requests or replies. */
static size_t valid_rec(uint8_t type, bool reply, uint8_t *out)
{
	switch (type) {
	case ESPTAG_REC_SA:
		ex_sa_v4((struct esptag_rec_sa *)out, !reply);
		break;
	case ESPTAG_REC_SA_REF:
		ex_sa_ref((struct esptag_rec_sa_ref *)out, 5);
		break;
	case ESPTAG_REC_LOCAL:
		ex_local((struct esptag_rec_local *)out);
		break;
	case ESPTAG_REC_CAPS:
		if (reply)
			ex_caps_agent((struct esptag_rec_caps *)out, 1);
		else
			ex_caps_host((struct esptag_rec_caps *)out);
		break;
	case ESPTAG_REC_SA_STATS:
		memset(out, 0, 40);
		esptag_rec_init(out, type, 40);
		break;
	case ESPTAG_REC_COUNTER:
		memset(out, 0, 16);
		esptag_rec_init(out, type, 16);
		break;
	case ESPTAG_REC_CURSOR:
		ex_cursor((struct esptag_rec_cursor *)out, 7);
		break;
	}
	return esptag_rec_size(type);
}

/* Record types allowed per opcode and direction (docs/protocol.md table). */
static void test_cfg_type_matrix(void)
{
	/* allowed[op][type] bit 0: request, bit 1: reply */
	static const uint8_t allowed[ESPTAG_OP_MAX + 1][ESPTAG_REC_MAX + 1] = {
		[ESPTAG_OP_HELLO] = { [ESPTAG_REC_CAPS] = 3 },
		[ESPTAG_OP_ADD_SA] = { [ESPTAG_REC_SA] = 3 },
		[ESPTAG_OP_DEL_SA] = { [ESPTAG_REC_SA_REF] = 3 },
		[ESPTAG_OP_FLUSH_PORT] = { 0 },
		[ESPTAG_OP_ADD_LOCAL] = { [ESPTAG_REC_LOCAL] = 3 },
		[ESPTAG_OP_DEL_LOCAL] = { [ESPTAG_REC_LOCAL] = 3 },
		[ESPTAG_OP_DUMP_SA] = { [ESPTAG_REC_CURSOR] = 3, [ESPTAG_REC_SA] = 2 },
		[ESPTAG_OP_GET_STATS] = { [ESPTAG_REC_SA_REF] = 1, [ESPTAG_REC_SA_STATS] = 2,
					  [ESPTAG_REC_COUNTER] = 2 },
	};
	uint8_t buf[512], rec[128];
	unsigned int ok = 0, bad = 0;

	for (int op = 1; op <= ESPTAG_OP_MAX; op++) {
		for (int type = 1; type <= ESPTAG_REC_MAX; type++) {
			for (int reply = 0; reply < 2; reply++) {
				struct esptag_cfg_builder b;
				struct esptag_cfg_view v;
				uint8_t fl = reply ? ESPTAG_CFG_F_REPLY : 0;
				size_t n, rl = valid_rec(type, reply, rec);
				bool want = allowed[op][type] & (1 << reply);
				int rc;

				if (reply && op == ESPTAG_OP_DUMP_SA && type == ESPTAG_REC_CURSOR)
					fl |= ESPTAG_CFG_F_MORE;
				esptag_cfg_begin(&b, buf, sizeof(buf), op, fl, 0, 9, 1);
				T_EQ(esptag_cfg_add(&b, type, rec, rl), 0);
				n = esptag_cfg_end(&b, 0xffff);
				rc = dec(buf, n, &v);
				if (want ? rc != 0 : rc != ESPTAG_EMALFORMED || v.bad_index != 0) {
					t_fail(__FILE__, __LINE__, "%s %s with a %s record: rc %d",
					       esptag_opcode_str(op), reply ? "reply" : "request",
					       esptag_rec_type_str(type), rc);
					return;
				}
				want ? ok++ : bad++;
			}
		}
	}
	T_EQ(ok, 16);
	T_EQ(bad, ESPTAG_OP_MAX * ESPTAG_REC_MAX * 2 - 16);
}

static size_t build_n(uint8_t *buf, size_t cap, uint8_t op, uint8_t fl, const uint8_t *types,
		      int n, bool reply)
{
	struct esptag_cfg_builder b;
	uint8_t rec[128];

	esptag_cfg_begin(&b, buf, cap, op, fl | (reply ? ESPTAG_CFG_F_REPLY : 0), 0, 9, 1);
	for (int i = 0; i < n; i++)
		esptag_cfg_add(&b, types[i], rec, valid_rec(types[i], reply, rec));
	return esptag_cfg_end(&b, 0xffff);
}

/* Record counts and orders per opcode. */
static void test_cfg_counts(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	const uint8_t caps2[] = { ESPTAG_REC_CAPS, ESPTAG_REC_CAPS };
	const uint8_t cur2[] = { ESPTAG_REC_CURSOR, ESPTAG_REC_CURSOR };
	const uint8_t dump_ok[] = { ESPTAG_REC_SA, ESPTAG_REC_SA, ESPTAG_REC_CURSOR };
	const uint8_t dump_bad[] = { ESPTAG_REC_CURSOR, ESPTAG_REC_SA };
	const uint8_t mixed[] = { ESPTAG_REC_SA_STATS, ESPTAG_REC_COUNTER };
	const uint8_t sas[14] = { [0 ... 13] = ESPTAG_REC_SA };
	const uint8_t refs[ESPTAG_CFG_MAX_RECORDS] = { [0 ... ESPTAG_CFG_MAX_RECORDS - 1] =
							       ESPTAG_REC_SA_REF };
	size_t n;

	n = build_n(buf, 4096, ESPTAG_OP_HELLO, 0, caps2, 0, false);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* HELLO without CAPS */
	n = build_n(buf, 4096, ESPTAG_OP_HELLO, 0, caps2, 2, false);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* two CAPS */
	n = build_n(buf, 4096, ESPTAG_OP_HELLO, 0, caps2, 0, true);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* OK reply without CAPS */
	for (uint8_t op = ESPTAG_OP_ADD_SA; op <= ESPTAG_OP_DEL_LOCAL; op++) {
		if (op == ESPTAG_OP_FLUSH_PORT)
			continue;
		n = build_n(buf, 4096, op, 0, NULL, 0, false);
		T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);	/* 1..n records */
		n = build_n(buf, 4096, op, 0, NULL, 0, true);
		T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	}
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, 0, cur2, 0, false);
	T_EQ(dec(buf, n, &v), 0);				/* no cursor: from 0 */
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, 0, cur2, 2, false);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 1);
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, ESPTAG_CFG_F_MORE, dump_ok, 3, true);
	T_EQ(dec(buf, n, &v), 0);
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, 0, dump_ok, 3, true);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* CURSOR without MORE */
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, ESPTAG_CFG_F_MORE, dump_ok, 2, true);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* MORE without CURSOR */
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, 0, dump_ok, 0, true);
	T_EQ(dec(buf, n, &v), 0);				/* empty dump */
	n = build_n(buf, 4096, ESPTAG_OP_DUMP_SA, ESPTAG_CFG_F_MORE, dump_bad, 2, true);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* CURSOR not last */
	T_EQ(v.bad_index, 1);
	n = build_n(buf, 4096, ESPTAG_OP_GET_STATS, 0, mixed, 2, true);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 1);
	n = build_n(buf, 4096, ESPTAG_OP_GET_STATS, 0, mixed, 0, true);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);		/* OK reply without records */
	/* The payload limit: 13 SAs fit, the 14th does not. */
	n = build_n(buf, 4096, ESPTAG_OP_ADD_SA, 0, sas, 14, false);
	T_EQ(n, 0);
	n = build_n(buf, 4096, ESPTAG_OP_ADD_SA, 0, sas, 13, false);
	T_EQ(n, 16 + 13 * 108);
	T_EQ(dec(buf, n, &v), 0);
	T_EQ(v.count, 13);
	/* GET_STATS: at most ESPTAG_CFG_MAX_STATS (37) SA_REFs, so that the
	 * SA_STATS reply fits one frame. */
	T_EQ(ESPTAG_CFG_MAX_STATS, 37);
	n = build_n(buf, 4096, ESPTAG_OP_GET_STATS, 0, refs, 37, false);
	T_EQ(dec(buf, n, &v), 0);
	n = build_n(buf, 4096, ESPTAG_OP_GET_STATS, 0, refs, 38, false);
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 37);
	/* DEL_SA names each SA once; GET_STATS may repeat one. */
	{
		struct esptag_cfg_builder b;
		struct esptag_rec_sa_ref r;

		for (int op = ESPTAG_OP_DEL_SA; op <= ESPTAG_OP_GET_STATS;
		     op += ESPTAG_OP_GET_STATS - ESPTAG_OP_DEL_SA) {
			esptag_cfg_begin(&b, buf, 4096, op, 0, 0, 9, 1);
			for (uint32_t idx = 0; idx < 4; idx++) {
				ex_sa_ref(&r, idx == 3 ? 1 : idx);	/* 0 1 2 1 */
				esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &r, sizeof(r));
			}
			n = esptag_cfg_end(&b, 0xffff);
			if (op == ESPTAG_OP_DEL_SA) {
				T_EQ(dec(buf, n, &v), ESPTAG_EBADREC);
				T_EQ(v.bad_index, 3);
			} else {
				T_EQ(dec(buf, n, &v), 0);
			}
		}
	}
	/* ESPTAG_CFG_MAX_RECORDS SA_REFs fit exactly and decode. */
	{
		struct esptag_cfg_builder b;
		struct esptag_rec_sa_ref r;

		esptag_cfg_begin(&b, buf, 4096, ESPTAG_OP_DEL_SA, 0, 0, 9, 1);
		for (uint32_t idx = 0; idx < ESPTAG_CFG_MAX_RECORDS; idx++) {
			ex_sa_ref(&r, idx);
			T_EQ(esptag_cfg_add(&b, ESPTAG_REC_SA_REF, &r, sizeof(r)), 0);
		}
		T_EQ(esptag_cfg_room(&b, sizeof(r)), 0);
		n = esptag_cfg_end(&b, 0xffff);
		T_ASSERT(n > 0 && n <= ESPTAG_CFG_MAX_PAYLOAD);
		T_EQ(dec(buf, n, &v), 0);
		T_EQ(v.count, ESPTAG_CFG_MAX_RECORDS);
	}
}

/* One mutation of a record field: write `val` (big endian, `len` bytes) at
 * `off` of the record and expect `err`. */
struct mut {
	const char *what;
	size_t off, len;
	uint32_t val;
	int err;
};

/* Each mutation is a test case of its own ("PASS <example>: <what>"). */
static struct {
	const char *example;
	size_t rec_off;
	int rec_idx;
	const struct mut *m;
} g_mut;

static void mut_case(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	const struct mut *m = g_mut.m;
	size_t n = ex_build(g_mut.example, buf);
	int rc;

	T_ASSERT(n > 0);
	put_be(buf + g_mut.rec_off + m->off, m->len, m->val);
	rc = dec(buf, n, &v);
	T_EQ(rc, m->err);
	if (rc)
		T_EQ(v.bad_index, g_mut.rec_idx);
}

static void run_muts(const char *example, size_t rec_off, int rec_idx, const struct mut *m,
		     size_t nm)
{
	for (size_t i = 0; i < nm; i++) {
		static char names[512][96];
		static unsigned int nnames;
		char *name = names[nnames++ % 512];

		snprintf(name, 96, "%s: %s", example, m[i].what);
		g_mut.example = example;
		g_mut.rec_off = rec_off;
		g_mut.rec_idx = rec_idx;
		g_mut.m = &m[i];
		t_run(name, mut_case);
	}
}

#define SAO(f) offsetof(struct esptag_rec_sa, f)

static void test_sa_fields(void)
{
	/* On record 1 (inbound IPv6 tunnel GCM-256 ESN, 2 VLANs) of the batch. */
	static const struct mut m6[] = {
		{ "dir 0", SAO(dir), 1, 0, ESPTAG_EBADREC },
		{ "dir 3", SAO(dir), 1, 3, ESPTAG_EBADREC },
		{ "family 0", SAO(family), 1, 0, ESPTAG_EBADREC },
		{ "family 4 with IPv6 addresses", SAO(family), 1, 4, ESPTAG_EBADREC },
		{ "family 5", SAO(family), 1, 5, ESPTAG_EBADREC },
		{ "proto 51 (AH)", SAO(proto), 1, 51, ESPTAG_EBADREC },
		{ "mode 0", SAO(mode), 1, 0, ESPTAG_EBADREC },
		{ "mode 3", SAO(mode), 1, 3, ESPTAG_EBADREC },
		{ "spi 0", SAO(spi), 4, 0, ESPTAG_EBADREC },
		{ "daddr ::", SAO(daddr), 16, 0, ESPTAG_EBADREC },
		{ "tunnel saddr ::", SAO(saddr), 16, 0, ESPTAG_EBADREC },
		{ "transport mode (IPv6 saddr optional)", SAO(mode), 1, 1, 0 },
		{ "local_mac multicast", SAO(local_mac), 1, 0x01, ESPTAG_EBADREC },
		{ "local_mac zero", SAO(local_mac), 6, 0, ESPTAG_EBADREC },
		{ "nvlans 3", SAO(nvlans), 1, 3, ESPTAG_EBADREC },
		{ "nvlans 255", SAO(nvlans), 1, 255, ESPTAG_EBADREC },
		{ "nvlans 1 with a 2nd tag", SAO(nvlans), 1, 1, ESPTAG_EBADREC },
		{ "outer TPID 0x0800", SAO(vlan[0].tpid), 2, 0x0800, ESPTAG_EBADREC },
		{ "outer TPID 0x8100", SAO(vlan[0].tpid), 2, 0x8100, 0 },
		{ "inner TPID 0x88a8", SAO(vlan[1].tpid), 2, 0x88a8, ESPTAG_EBADREC },
		{ "VID 0", SAO(vlan[1].tci), 2, 0x0000, ESPTAG_EBADREC },
		{ "VID 4095", SAO(vlan[0].tci), 2, 0x0fff, ESPTAG_EBADREC },
		{ "PCP 7 ignored", SAO(vlan[0].tci), 2, 0xe064, 0 },
		{ "alg 0", SAO(alg), 1, 0, ESPTAG_EALG },
		{ "alg 3", SAO(alg), 1, 3, ESPTAG_EALG },
		{ "alg 128 with key_len 32", SAO(alg), 1, 1, ESPTAG_EALG },
		{ "key_len 16 with alg 256", SAO(key_len), 1, 16, ESPTAG_EALG },
		{ "key_len 24", SAO(key_len), 1, 24, ESPTAG_EALG },
		{ "icv_len 12", SAO(icv_len), 1, 12, ESPTAG_EALG },
		{ "icv_len 0", SAO(icv_len), 1, 0, ESPTAG_EALG },
		{ "unknown sa_flags", SAO(sa_flags), 1, 0x03, ESPTAG_EBADREC },
		{ "ESN off", SAO(sa_flags), 1, 0, 0 },
		{ "reserved", SAO(reserved), 1, 1, ESPTAG_EBADREC },
		{ "reserved2", SAO(reserved2), 2, 0x100, ESPTAG_EBADREC },
		{ "replay window 0", SAO(replay_window), 2, 0, 0 },
		{ "replay window 1024", SAO(replay_window), 2, 1024, 0 },
		{ "replay window 1025", SAO(replay_window), 2, 1025, ESPTAG_EBADREC },
		{ "replay window 65535", SAO(replay_window), 2, 65535, ESPTAG_EBADREC },
		{ "sa_index in a request", SAO(sa_index), 4, 0, ESPTAG_EBADREC },
		{ "all-zero key", SAO(key), 32, 0, ESPTAG_EBADREC },
		{ "salt zero is allowed", SAO(salt), 4, 0, 0 },
		{ "record type/len intact", 0, 1, ESPTAG_REC_SA, 0 },
	};
	/* On the single IPv4 transport GCM-128 SA. */
	static const struct mut m4[] = {
		{ "IPv4 daddr with bytes 4..15", SAO(daddr) + 4, 1, 1, ESPTAG_EBADREC },
		{ "IPv4 saddr with bytes 4..15", SAO(saddr) + 15, 1, 1, ESPTAG_EBADREC },
		{ "IPv4 daddr 0.0.0.0", SAO(daddr), 4, 0, ESPTAG_EBADREC },
		{ "transport saddr 0.0.0.0 allowed", SAO(saddr), 4, 0, 0 },
		{ "key byte beyond key_len", SAO(key) + 16, 1, 1, ESPTAG_EBADREC },
		{ "key_len 32 with alg 128", SAO(key_len), 1, 32, ESPTAG_EALG },
		{ "nvlans 1 without a tag", SAO(nvlans), 1, 1, ESPTAG_EBADREC },
		{ "tag beyond nvlans", SAO(vlan[1].tci), 2, 5, ESPTAG_EBADREC },
		{ "spi 1", SAO(spi), 4, 1, 0 },
	};
	/* Replies never carry keys, and carry an index. */
	static const struct mut mr[] = {
		{ "key in a reply", SAO(key), 1, 0x01, ESPTAG_EBADREC },
		{ "last key byte in a reply", SAO(key) + 31, 1, 0x01, ESPTAG_EBADREC },
		{ "salt in a reply", SAO(salt) + 3, 1, 0x01, ESPTAG_EBADREC },
		{ "sa_index none in a reply", SAO(sa_index), 4, 0xffffffff, ESPTAG_EBADREC },
		{ "sa_index 7", SAO(sa_index), 4, 7, 0 },
	};

	run_muts("add_sa_batch_request", 16 + 108, 1, m6, NM(m6));
	run_muts("add_sa_request", 16, 0, m4, NM(m4));
	run_muts("add_sa_reply", 16, 0, mr, NM(mr));
	run_muts("add_sa_batch_reply", 16 + 108, 1, mr, NM(mr));
	run_muts("dump_sa_reply", 16, 0, mr, NM(mr));
}

static void test_sa_check_direct(void)
{
	struct esptag_rec_sa sa;

	ex_sa_v4(&sa, true);
	T_EQ(esptag_rec_sa_check(&sa, true), 0);
	T_EQ(esptag_rec_sa_check(&sa, false), ESPTAG_EBADREC);	/* key in a reply */
	ex_sa_v4(&sa, false);
	T_EQ(esptag_rec_sa_check(&sa, false), 0);
	T_EQ(esptag_rec_sa_check(&sa, true), ESPTAG_EBADREC);	/* no key */
	sa.hdr.len = htons(100);
	T_EQ(esptag_rec_sa_check(&sa, false), ESPTAG_EBADREC);
}

#define LO(f) offsetof(struct esptag_rec_local, f)
#define CO(f) offsetof(struct esptag_rec_caps, f)

static void test_other_records(void)
{
	static const struct mut ml[] = {
		{ "family 0", LO(family), 1, 0, ESPTAG_EBADREC },
		{ "family 6 ok", LO(family), 1, 6, 0 },
		{ "family 7", LO(family), 1, 7, ESPTAG_EBADREC },
		{ "nvlans 3", LO(nvlans), 1, 3, ESPTAG_EBADREC },
		{ "nvlans 1 without a tag", LO(nvlans), 1, 1, ESPTAG_EBADREC },
		{ "mac zero", LO(mac), 6, 0, ESPTAG_EBADREC },
		{ "mac broadcast", LO(mac), 6, 0xff, ESPTAG_EBADREC },
		{ "addr zero", LO(addr), 4, 0, ESPTAG_EBADREC },
		{ "IPv4 addr bytes 4..15", LO(addr) + 9, 1, 9, ESPTAG_EBADREC },
		{ "tag without nvlans", LO(vlan), 4, 0x81000064, ESPTAG_EBADREC },
	};
	static const struct mut mch[] = {	/* CAPS in a HELLO request */
		{ "version_min 0", CO(version_min), 1, 0, ESPTAG_EBADREC },
		{ "min > max", CO(version_min), 1, 2, ESPTAG_EBADREC },
		{ "max 3", CO(version_max), 1, 3, 0 },
		{ "agent fields from the host", CO(sad_capacity), 4, 1, ESPTAG_EBADREC },
		{ "features from the host", CO(features), 2, 1, ESPTAG_EBADREC },
	};
	static const struct mut mca[] = {	/* CAPS in a HELLO reply */
		{ "used > capacity", CO(sad_used), 4, 65537, ESPTAG_EBADREC },
		{ "port used > limit", CO(port_used), 4, 4097, ESPTAG_EBADREC },
		{ "port limit > capacity", CO(port_limit), 4, 70000, ESPTAG_EBADREC },
		{ "max_records 0", CO(max_records), 2, 0, ESPTAG_EBADREC },
		{ "max_payload 15", CO(max_payload), 2, 15, ESPTAG_EBADREC },
		{ "unknown algorithm bits ignored", CO(alg_mask), 2, 0xfff6, 0 },
		{ "unknown features ignored", CO(features), 2, 0xffff, 0 },
	};
	static const struct mut mref[] = {
		{ "sa_index none", 4, 4, 0xffffffff, ESPTAG_EBADREC },
		{ "sa_index 0x12345", 4, 4, 0x12345, 0 },
	};
	static const struct mut mcur[] = {
		{ "next none", 4, 4, 0xffffffff, ESPTAG_EBADREC },
		{ "next 0", 4, 4, 0, 0 },
	};
	static const struct mut mst[] = {
		{ "sa_index none", 4, 4, 0xffffffff, ESPTAG_EBADREC },
	};
	static const struct mut mcnt[] = {
		{ "reserved", 6, 2, 1, ESPTAG_EBADREC },
		{ "unknown counter id (newer agent)", 4, 2, 999, 0 },
	};

	run_muts("add_local_request", 16, 0, ml, NM(ml));
	run_muts("del_local_request", 16, 0, ml, NM(ml));
	run_muts("add_local_reply", 16, 0, ml, NM(ml));
	run_muts("hello_request", 16, 0, mch, NM(mch));
	run_muts("hello_reply", 16, 0, mca, NM(mca));
	run_muts("bad_version_reply", 16, 0, mca, NM(mca));
	run_muts("del_sa_request", 16, 0, mref, NM(mref));
	run_muts("del_sa_reply", 16, 0, mref, NM(mref));
	run_muts("get_stats_sa_request", 16, 0, mref, NM(mref));
	run_muts("dump_sa_request", 16, 0, mcur, NM(mcur));
	run_muts("dump_sa_reply", 16 + 108, 1, mcur, NM(mcur));
	run_muts("get_stats_sa_reply", 16, 0, mst, NM(mst));
	run_muts("get_stats_counters_reply", 16 + 5 * 16, 5, mcnt, NM(mcnt));
}

/* Structural errors win over content errors, whatever their position. */
static void test_validation_order(void)
{
	static uint8_t buf[4096];
	struct esptag_cfg_view v;
	size_t n = ex_build("add_sa_batch_request", buf);

	buf[16 + SAO(dir)] = 9;				/* record 0: bad field */
	T_EQ(dec(buf, n, &v), ESPTAG_EBADREC);
	T_EQ(v.bad_index, 0);
	buf[16 + 108] = 99;				/* record 1: unknown type */
	T_EQ(dec(buf, n, &v), ESPTAG_EMALFORMED);
	T_EQ(v.bad_index, 1);
	buf[0] = 3;					/* version first of all */
	T_EQ(dec(buf, n, &v), ESPTAG_EVERSION);
	/* two content errors: the first record wins */
	n = ex_build("add_sa_batch_request", buf);
	buf[16 + 108 + SAO(alg)] = 7;
	buf[16 + SAO(alg)] = 7;
	T_EQ(dec(buf, n, &v), ESPTAG_EALG);
	T_EQ(v.bad_index, 0);
}

/* ------------------------------------------------------------------------ */
/* Builder                                                                   */
/* ------------------------------------------------------------------------ */

static void test_builder(void)
{
	uint8_t buf[64], rec[128];
	struct esptag_cfg_builder b;
	struct esptag_cfg_view v;
	size_t n;

	esptag_cfg_begin(&b, buf, 15, ESPTAG_OP_FLUSH_PORT, 0, 0, 1, 0);
	T_ASSERT(b.overflow);
	T_EQ(esptag_cfg_end(&b, 0xffff), 0);

	esptag_cfg_begin(&b, buf, sizeof(buf), ESPTAG_OP_DEL_SA, 0, 0, 1, 3);
	T_EQ(esptag_cfg_room(&b, 8), 6);
	ex_sa_ref((struct esptag_rec_sa_ref *)rec, 1);
	for (int i = 0; i < 6; i++)
		T_EQ(esptag_cfg_add(&b, ESPTAG_REC_SA_REF, rec, 8), 0);
	T_EQ(esptag_cfg_room(&b, 8), 0);
	T_EQ(esptag_cfg_add(&b, ESPTAG_REC_SA_REF, rec, 8), -1);
	T_ASSERT(b.overflow);
	T_EQ(esptag_cfg_end(&b, 0xffff), 0);		/* never a truncated packet */

	/* The builder fills type and len whatever the caller left there. */
	esptag_cfg_begin(&b, buf, sizeof(buf), ESPTAG_OP_DEL_SA, 0, 0, 1, 3);
	memset(rec, 0xaa, 8);
	T_EQ(esptag_cfg_add(&b, ESPTAG_REC_SA_REF, rec, 8), 0);
	n = esptag_cfg_end(&b, 0xffff);
	T_EQ(n, 24);
	T_EQ(buf[16], ESPTAG_REC_SA_REF);
	T_EQ(buf[17], 0);
	T_EQ(buf[19], 8);
	T_EQ(dec(buf, n, &v), 0);

	/* Record shorter than a header is refused. */
	esptag_cfg_begin(&b, buf, sizeof(buf), ESPTAG_OP_DEL_SA, 0, 0, 1, 3);
	T_EQ(esptag_cfg_add(&b, ESPTAG_REC_SA_REF, rec, 3), -1);

	/* BAD_VERSION reply of a future agent. */
	esptag_cfg_begin(&b, buf, sizeof(buf), ESPTAG_OP_HELLO, ESPTAG_CFG_F_REPLY,
			 ESPTAG_ST_BAD_VERSION, 1, 0);
	esptag_cfg_set_version(&b, 3);
	ex_caps_agent((struct esptag_rec_caps *)rec, 0);
	((struct esptag_rec_caps *)rec)->version_min = 2;
	((struct esptag_rec_caps *)rec)->version_max = 3;
	T_EQ(esptag_cfg_add(&b, ESPTAG_REC_CAPS, rec, 40), 0);
	n = esptag_cfg_end(&b, 0xffff);
	T_EQ(buf[0], 3);
	T_EQ(dec(buf, n, &v), 0);
	T_EQ(v.version, 3);
}

/* ------------------------------------------------------------------------ */
/* Metadata tag                                                              */
/* ------------------------------------------------------------------------ */

static void test_meta_truncated(void)
{
	static uint8_t buf[4096];

	for (size_t i = 0; i < EX_COUNT; i++) {
		const struct ex_example *e = &ex_examples[i];
		struct esptag_meta_view m;

		if (e->kind != EX_META)
			continue;
		ex_build(e->name, buf);
		for (size_t l = 0; l < 32; l++) {
			uint8_t *copy = malloc(l ? l : 1);

			memcpy(copy, buf + 12, l);
			int rc = esptag_meta_decode(copy, l, ESPTAG_ETH_P_META, &m);

			free(copy);
			if (rc != ESPTAG_EMALFORMED) {
				t_fail(__FILE__, __LINE__, "%s tag cut at %zu: rc %d", e->name, l, rc);
				return;
			}
		}
	}
}

/* Mutate byte(s) of a tag example and expect an outcome. len: the frame
 * length after the tag start (0: the example's). */
struct mmut {
	const char *example, *what;
	size_t off, len;
	uint32_t val;
	int err;
	size_t flen;
};

#define MO(f) offsetof(struct esptag_meta, f)

static const struct mmut *g_mmut;

static void mmut_case(void)
{
	static uint8_t buf[4096];
	const struct ex_example *e = ex_find(g_mmut->example);
	struct esptag_meta_view m;
	size_t flen;

	T_ASSERT(e);
	flen = g_mmut->flen ? g_mmut->flen : e->frame_len - 12;
	ex_build(e->name, buf);
	put_be(buf + 12 + g_mmut->off, g_mmut->len, g_mmut->val);
	T_EQ(esptag_meta_decode(buf + 12, flen, ESPTAG_ETH_P_META, &m), g_mmut->err);
}

static void test_meta_fields(void)
{
	static const struct mmut mm[] = {
		{ "tx_meta", "TPID 0x88b5", MO(tpid), 2, 0x88b5, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "version 0", MO(version), 1, 0, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "version 2", MO(version), 1, 2, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "kind 0", MO(kind), 1, 0, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "kind 3", MO(kind), 1, 3, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "unknown flag", MO(flags), 1, 0x11, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "HAIRPIN on Tx", MO(flags), 1, 0x09, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "result on Tx", MO(result), 1, 1, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "reserved", MO(reserved), 1, 1, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "reserved2", MO(reserved2), 2, 1, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "trailer_len on Tx", MO(trailer_len), 2, 20, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "mss without GSO", MO(mss), 2, 1448, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "no SA", MO(sa_index), 4, 0xffffffff, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "seq 0", MO(seq_lo), 4, 0, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "seq_hi without ESN", MO(seq_hi), 4, 1, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "seq_hi with ESN", MO(flags), 1, 0x05, 0, 0 },
		{ "tx_meta", "esp_off 33", MO(esp_off), 2, 33, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "esp_off 0", MO(esp_off), 2, 0, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "payload_off != esp_off + 16", MO(payload_off), 2, 49,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "payload_off beyond the frame", MO(esp_off), 4, 0x00300040,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "esp_off in range", MO(esp_off), 4, 0x002e003e, 0, 0 },
		{ "tx_meta", "frame ends before the payload", MO(tpid), 2, 0x88b6,
		  ESPTAG_EMALFORMED, 50 + 18 - 1 },
		{ "tx_meta", "frame ends at the payload", MO(tpid), 2, 0x88b6, 0, 50 + 18 },
		{ "tx_meta", "inner EtherType 0x05dc (a length)", MO(inner_proto), 2, 0x05dc,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "inner EtherType 0x88b6 (nested)", MO(inner_proto), 2, 0x88b6,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "inner ARP on offload", MO(inner_proto), 2, 0x0806, ESPTAG_EMALFORMED, 0 },
		{ "tx_meta", "inner IPv6", MO(inner_proto), 2, 0x86dd, 0, 0 },
		{ "tx_meta", "inner 802.1Q", MO(inner_proto), 2, 0x8100, 0, 0 },
		{ "tx_gso_meta", "mss 0", MO(mss), 2, 0, ESPTAG_EMALFORMED, 0 },
		{ "tx_gso_meta", "payload_off = esp_off + 16", MO(payload_off), 2, 50,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_gso_meta", "UDP", MO(next_hdr), 1, 17, ESPTAG_EMALFORMED, 0 },
		{ "tx_gso_meta", "tunnel IPv4", MO(next_hdr), 1, 4, 0, 0 },
		{ "tx_gso_meta", "tunnel IPv6", MO(next_hdr), 1, 41, 0, 0 },
		{ "tx_gso_meta", "tunnel: esp_off 14 (inner IP header)", MO(esp_off), 4,
		  0x000e000e, 0, 0 },
		{ "tx_gso_meta", "esp_off 13", MO(esp_off), 4, 0x000d000d, ESPTAG_EMALFORMED, 0 },
		{ "tx_gso_meta", "GSO without OFFLOAD", MO(flags), 1, 0x02, ESPTAG_EMALFORMED, 0 },
		{ "tx_gso_meta", "esp_off at the end", MO(esp_off), 4, 0x0b920b92,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_bypass_meta", "OFFLOAD clear with next_hdr", MO(next_hdr), 1, 6,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_bypass_meta", "OFFLOAD clear with sa_index 0", MO(sa_index), 4, 0,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_bypass_meta", "OFFLOAD clear with seq", MO(seq_lo), 4, 1, ESPTAG_EMALFORMED, 0 },
		{ "tx_bypass_meta", "OFFLOAD clear with esp_off", MO(esp_off), 2, 34,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_bypass_meta", "OFFLOAD clear with ESN", MO(flags), 1, 0x04,
		  ESPTAG_EMALFORMED, 0 },
		{ "tx_bypass_meta", "bypass of ARP", MO(inner_proto), 2, 0x0806, 0, 0 },
		{ "tx_bypass_meta", "bypass of a config frame", MO(inner_proto), 2, 0x88b5, 0, 0 },
		{ "tx_bypass_meta", "bypass of a forged metadata tag", MO(inner_proto), 2, 0x88b6,
		  0, 0 },
		{ "rx_ok_meta", "inner EtherType 0x88b6 (nested)", MO(inner_proto), 2, 0x88b6,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "OFFLOAD on Rx", MO(flags), 1, 0x01, ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "GSO on Rx", MO(flags), 1, 0x02, ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "HAIRPIN", MO(flags), 1, 0x08, 0, 0 },
		{ "rx_ok_meta", "result 5", MO(result), 1, 5, ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "mss on Rx above ESPTAG_RX_MAX_SEGS", MO(mss), 2, ESPTAG_RX_MAX_SEGS + 1,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "mss on Rx: ESP packets coalesced", MO(mss), 2, ESPTAG_RX_MAX_SEGS, 0, 0 },
		{ "rx_ok_meta", "OK without SA", MO(sa_index), 4, 0xffffffff, ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "trailer 17", MO(trailer_len), 2, 17, ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "trailer 18", MO(trailer_len), 2, 18, 0, 0 },
		{ "rx_ok_meta", "trailer 274", MO(trailer_len), 2, 274, ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "trailer beyond the frame", MO(trailer_len), 2, 33,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "payload_off != esp_off + 16", MO(payload_off), 2, 34,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_ok_meta", "seq 0 is reported as is", MO(seq_lo), 4, 0, 0, 0 },
		{ "rx_auth_fail_meta", "trailer on AUTH_FAIL", MO(trailer_len), 2, 20,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_auth_fail_meta", "next_hdr on AUTH_FAIL", MO(next_hdr), 1, 17,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_auth_fail_meta", "AUTH_FAIL without SA", MO(sa_index), 4, 0xffffffff,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_auth_fail_meta", "NO_SA with an SA", MO(result), 1, ESPTAG_RES_NO_SA,
		  ESPTAG_EMALFORMED, 0 },
		{ "rx_auth_fail_meta", "MALFORMED with an SA", MO(result), 1, ESPTAG_RES_MALFORMED,
		  0, 0 },
		{ "rx_auth_fail_meta", "UNSUPPORTED", MO(result), 1, ESPTAG_RES_UNSUPPORTED, 0, 0 },
	};
	for (size_t i = 0; i < NM(mm); i++) {
		static char names[128][96];

		snprintf(names[i % 128], 96, "meta %s: %s", mm[i].example, mm[i].what);
		g_mmut = &mm[i];
		t_run(names[i % 128], mmut_case);
	}
}

static void test_meta_no_sa(void)
{
	static uint8_t buf[4096];

	/* NO_SA: sa_index none, no ESN. */
	{
		struct esptag_meta_view m = {
			.kind = ESPTAG_META_RX, .result = ESPTAG_RES_NO_SA, .esp_off = 54,
			.payload_off = 70, .sa_index = ESPTAG_SA_INDEX_NONE, .seq = 9,
			.inner_proto = 0x86dd,
		};

		esptag_meta_encode(buf + 12, ESPTAG_ETH_P_META, &m);
		T_EQ(esptag_meta_decode(buf + 12, 200, ESPTAG_ETH_P_META, &m), 0);
		buf[12 + MO(flags)] = ESPTAG_META_F_ESN;
		T_EQ(esptag_meta_decode(buf + 12, 200, ESPTAG_ETH_P_META, &m), ESPTAG_EMALFORMED);
	}
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static void test_names(void)
{
	T_ASSERT(!strcmp(esptag_status_str(ESPTAG_ST_DUPLICATE), "duplicate"));
	T_ASSERT(!strcmp(esptag_status_str(ESPTAG_EALG), "bad_alg"));	/* negative codes too */
	T_ASSERT(!strcmp(esptag_opcode_str(ESPTAG_OP_FLUSH_PORT), "flush_port"));
	T_ASSERT(!strcmp(esptag_result_str(ESPTAG_RES_AUTH_FAIL), "auth_fail"));
	T_ASSERT(!strcmp(esptag_counter_str(0), "tx_protect"));
	T_ASSERT(!strcmp(esptag_agent_counter_str(ESPTAG_AC_CFG_DUP), "cfg_dup"));
	T_ASSERT(!strcmp(esptag_status_str(ESPTAG_ST_MAX + 1), "?"));
	T_ASSERT(!strcmp(esptag_opcode_str(0), "?"));
	T_ASSERT(!strcmp(esptag_opcode_str(-1), "?"));
	T_ASSERT(!strcmp(esptag_result_str(ESPTAG_RES_MAX + 1), "?"));
	T_ASSERT(!strcmp(esptag_counter_str(ESPTAG_CNT_MAX), "?"));
	T_ASSERT(!strcmp(esptag_agent_counter_str(ESPTAG_AC_MAX), "?"));
	T_ASSERT(!strcmp(esptag_rec_type_str(ESPTAG_REC_CURSOR), "cursor"));
	/* Every counter has a distinct name. */
	for (int i = 0; i < ESPTAG_CNT_MAX; i++)
		for (int j = i + 1; j < ESPTAG_CNT_MAX; j++)
			T_ASSERT(strcmp(esptag_counter_str(i), esptag_counter_str(j)));
	for (int i = 0; i < ESPTAG_AC_MAX; i++) {
		T_ASSERT(strcmp(esptag_agent_counter_str(i), "?"));
		for (int j = i + 1; j < ESPTAG_AC_MAX; j++)
			T_ASSERT(strcmp(esptag_agent_counter_str(i), esptag_agent_counter_str(j)));
	}
}

/* The one data-path counter table: names, indexes and the drop attribute. */
static void test_counter_table(void)
{
	static const struct { int id; const char *name; bool drop; } known[] = {
		{ ESPTAG_CNT_TX_PROTECT, "tx_protect", false },
		{ ESPTAG_CNT_RX_OK, "rx_ok", false },
		{ ESPTAG_CNT_RX_DROP_REPLAY, "rx_drop_replay", true },
		{ ESPTAG_CNT_RX_DROP_MALFORMED, "rx_drop_malformed", true },
		{ ESPTAG_CNT_RX_DROP_MARK, "rx_drop_mark", true },
		{ ESPTAG_CNT_RX_DROP_TAG, "rx_drop_tag", true },
		{ ESPTAG_CNT_RX_DROP_OUTER, "rx_drop_outer", true },
		{ ESPTAG_CNT_RX_DROP_SPI_SEQ, "rx_drop_spi_seq", true },
		{ ESPTAG_CNT_RX_DROP_TRAILER, "rx_drop_trailer", true },
		{ ESPTAG_CNT_RX_DROP_INNER, "rx_drop_inner", true },
		{ ESPTAG_CNT_RX_DUMMY, "rx_dummy", false },
		{ ESPTAG_CNT_TX_DROP_GSO_PROTO, "tx_drop_gso_proto", true },
		{ ESPTAG_CNT_PORT_DROP_NO_PORT, "port_drop_no_port", true },
		{ ESPTAG_CNT_TX_DROP_TRAP, "tx_drop_trap", true },
		{ ESPTAG_CNT_TX_BYPASS_SOCKET, "tx_bypass_socket", false },
		{ ESPTAG_CNT_RX_BYPASS_SOCKET, "rx_bypass_socket", false },
		{ ESPTAG_CNT_RX_DROP_TMPL, "rx_drop_tmpl", true },
		{ ESPTAG_CNT_TX_DROP_LIMIT, "tx_drop_limit", true },
		{ ESPTAG_CNT_RX_DROP_LIMIT, "rx_drop_limit", true },
		{ ESPTAG_CNT_RX_DROP_REPLAY_BUSY, "rx_drop_replay_busy", true },
	};

	/* Indexes are map keys: existing ones never move. */
	T_EQ(ESPTAG_CNT_RX_DROP_MARK, 38);
	T_EQ(ESPTAG_CNT_RX_DROP_TAG, 39);
	T_EQ(ESPTAG_CNT_PORT_DROP_NO_PORT, 46);
	T_EQ(ESPTAG_CNT_RX_BYPASS_SOCKET, 49);
	T_EQ(ESPTAG_CNT_RX_DROP_TMPL, 50);
	T_EQ(ESPTAG_CNT_RX_DROP_LIMIT, 52);
	T_EQ(ESPTAG_CNT_RX_DROP_REPLAY_BUSY, ESPTAG_CNT_MAX - 1);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		T_ASSERT(!strcmp(esptag_counters[known[i].id].name, known[i].name));
		T_EQ(esptag_counter_is_drop(known[i].id), known[i].drop);
		T_EQ(esptag_counter_index(known[i].name), known[i].id);
	}
	for (int i = 0; i < ESPTAG_CNT_MAX; i++) {
		/* The names array (esptagd) and the table agree; every drop
		 * counter is named *_drop_* and no other. */
		T_ASSERT(!strcmp(esptag_counter_names[i], esptag_counters[i].name));
		T_EQ(esptag_counter_is_drop(i), strstr(esptag_counters[i].name, "_drop_") != NULL);
	}
	T_ASSERT(!esptag_counter_is_drop(-1));
	T_ASSERT(!esptag_counter_is_drop(ESPTAG_CNT_MAX));
	T_EQ(esptag_counter_index("no_such_counter"), -1);
}

int main(int argc, char **argv)
{
	static char path[4096];

	if (argc > 1 && !strcmp(argv[1], "--examples")) {
		for (size_t i = 0; i < EX_COUNT; i++)
			print_example(&ex_examples[i]);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/../../docs/protocol.md", dirname(strdup(argv[0])));
	doc_path = getenv("ESPTAG_PROTOCOL_MD") ?: access(path, R_OK) ? "docs/protocol.md" : path;
	T_RUN(test_doc_tables);
	T_RUN(test_doc_values);
	T_RUN(test_doc_examples);
	T_RUN(test_examples_decode);
	T_RUN(test_cfg_round_trip);
	T_RUN(test_cfg_fields);
	T_RUN(test_meta_round_trip);
	T_RUN(test_cfg_truncated);
	T_RUN(test_cfg_version);
	T_RUN(test_cfg_opcode);
	T_RUN(test_cfg_header_fields);
	T_RUN(test_cfg_lengths);
	T_RUN(test_cfg_record_len);
	T_RUN(test_cfg_record_type);
	T_RUN(test_cfg_type_matrix);
	T_RUN(test_cfg_counts);
	test_sa_fields();		/* one case per mutation */
	T_RUN(test_sa_check_direct);
	test_other_records();
	T_RUN(test_validation_order);
	T_RUN(test_builder);
	T_RUN(test_meta_truncated);
	test_meta_fields();
	T_RUN(test_meta_no_sa);
	T_RUN(test_names);
	T_RUN(test_counter_table);
	return t_done();
}
