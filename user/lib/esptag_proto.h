/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Encoder/decoder for esptag config packets and metadata tags
 * (include/esptag/wire.h, docs/protocol.md). Used by esptagd, the CLI
 * (indirectly), esptag-agent, tests and fuzzers.
 *
 * All decoders validate every length and count strictly and never read
 * beyond the buffer they are given. Return values: >= 0 on success,
 * -ESPTAG_E* (negative enum esptag_status-like codes) on failure, so callers
 * can turn a decode error into the status of a reply directly.
 */
#ifndef ESPTAG_PROTO_H
#define ESPTAG_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <esptag/wire.h>

/* Decoding errors map 1:1 to reply status codes. */
#define ESPTAG_EVERSION		(-ESPTAG_ST_BAD_VERSION)
#define ESPTAG_EOPCODE		(-ESPTAG_ST_BAD_OPCODE)
#define ESPTAG_EMALFORMED	(-ESPTAG_ST_MALFORMED)
#define ESPTAG_EBADREC		(-ESPTAG_ST_BAD_RECORD)
#define ESPTAG_EALG		(-ESPTAG_ST_BAD_ALG)

/* Max records of one type that fit one frame (payload 1500). */
#define ESPTAG_CFG_MAX_RECORDS	\
	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_ref))

/* Max SA_REF records in a GET_STATS request: the SA_STATS reply must fit. */
#define ESPTAG_CFG_MAX_STATS	\
	((ESPTAG_CFG_MAX_PAYLOAD - sizeof(struct esptag_cfg_hdr)) / sizeof(struct esptag_rec_sa_stats))

/* A decoded record: type + pointer into the packet (records are aligned
 * only to 2 bytes in a frame, so callers copy before using wide fields). */
struct esptag_rec_view {
	uint8_t type;
	uint16_t len;
	const uint8_t *data;	/* whole record, header included */
};

/* A decoded config packet (payload after the Ethernet header). */
struct esptag_cfg_view {
	struct esptag_cfg_hdr hdr;	/* copied, still network byte order */
	uint8_t opcode;
	uint8_t flags;
	uint8_t status;
	uint32_t msg_id;		/* host order */
	uint16_t port;			/* host order */
	uint16_t count;			/* host order */
	uint16_t err_index;		/* host order */
	const uint8_t *records;		/* first record */
	size_t records_len;
	uint8_t version;		/* hdr.version */
	uint16_t length;		/* host order */
	/* Set by esptag_cfg_decode() on failure: the index of the offending
	 * record (err_index of the reply), ESPTAG_ERR_INDEX_NONE if none. */
	uint16_t bad_index;
};

/*
 * Decode and validate a config payload (starting at the cfg header):
 * version, opcode, flags, length == remaining bytes (trailing Ethernet
 * padding up to 60-byte frames is allowed and ignored), count records each
 * with a known type and exact length, record types allowed for the opcode
 * and direction (request/reply), then the contents of every record
 * (esptag_rec_*_check). Returns 0 or a negative ESPTAG_E* code; on failure
 * v->bad_index names the offending record (0xffff if none) and, when len >=
 * 16, the header fields of v are filled so that a reply can be built.
 * len < 16 returns ESPTAG_EMALFORMED: such a frame is dropped, not answered.
 * Which check wins when several fail: docs/protocol.md "Validation order".
 */
int esptag_cfg_decode(const void *buf, size_t len, struct esptag_cfg_view *v);
/* Iterate records of a decoded packet: *off starts at 0. Returns 1 and fills
 * rec, 0 at the end. Only valid after esptag_cfg_decode() succeeded. */
int esptag_cfg_next(const struct esptag_cfg_view *v, size_t *off, struct esptag_rec_view *rec);

/* Validate the contents of one SA record (dir, family, proto, mode, spi,
 * nvlans, vlan tpids, alg/key_len/icv_len, flags, reserved = 0, window).
 * is_request: key must be present (request) or all zero (reply).
 * Returns 0, ESPTAG_EBADREC or ESPTAG_EALG. */
int esptag_rec_sa_check(const struct esptag_rec_sa *sa, bool is_request);
/* The SA part of a version 2 SA_WRAP request record (key and salt zero);
 * the wrap itself is esptag_wrap_open's. */
int esptag_rec_sa_wrap_check(const struct esptag_rec_sa_wrap *w);
/* A version 2 ADD_SA's WRAP_KEY record: msg_id non-zero, an ephemeral key
 * present. */
int esptag_rec_wrap_key_check(const struct esptag_rec_wrap_key *k);
/* The key of an unwrapped SA: key_len bytes, not all zero, the rest zero. */
int esptag_sa_plain_key_check(const struct esptag_rec_sa *sa);
int esptag_rec_local_check(const struct esptag_rec_local *l);
/* is_request: only version_min/max may be non-zero. */
int esptag_rec_caps_check(const struct esptag_rec_caps *c, bool is_request);
/* Size of a record type, 0 if the type is unknown (CAPS: 40; the 72-byte
 * esptag_rec_caps2 is allowed in OK HELLO replies). */
size_t esptag_rec_size(uint8_t type);

/* Builder for a config packet into a caller buffer (payload only, no
 * Ethernet header). */
struct esptag_cfg_builder {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint16_t count;
	bool overflow;
};
void esptag_cfg_begin(struct esptag_cfg_builder *b, void *buf, size_t cap, uint8_t opcode,
		      uint8_t flags, uint8_t status, uint32_t msg_id, uint16_t port);
/* Append a record (rec points at a full record whose hdr.len is filled or
 * will be filled from len). Returns 0, or -1 if it does not fit (b->overflow). */
int esptag_cfg_add(struct esptag_cfg_builder *b, uint8_t type, const void *rec, size_t len);
/* Fix count/length/err_index and return the payload length. */
size_t esptag_cfg_end(struct esptag_cfg_builder *b, uint16_t err_index);
/* Number of records of rec_len bytes that still fit (the builder never
 * exceeds min(cap, ESPTAG_CFG_MAX_PAYLOAD)). esptag_cfg_end() returns 0
 * if an add overflowed. */
size_t esptag_cfg_room(const struct esptag_cfg_builder *b, size_t rec_len);
/* Override hdr.version (BAD_VERSION replies carry the agent's highest). */
void esptag_cfg_set_version(struct esptag_cfg_builder *b, uint8_t version);

/* Fill a record header. */
void esptag_rec_init(void *rec, uint8_t type, uint16_t len);

/* Metadata tag: decode/validate the tag at p (starting at its TPID, i.e.
 * frame + 12); len = bytes from p to the end of the frame (offsets are
 * checked against the frame length). Returns 0 or ESPTAG_EMALFORMED (the
 * view is filled as far as read either way). encode writes 32 bytes:
 * version 1, reserved fields 0, seq split into seq_hi/seq_lo. */
struct esptag_meta_view {
	uint8_t kind, flags, next_hdr, result;
	uint16_t esp_off, payload_off, trailer_len, mss, inner_proto;
	uint32_t sa_index;
	uint64_t seq;		/* seq_hi << 32 | seq_lo */
};
int esptag_meta_decode(const void *p, size_t len, uint16_t eth_p_meta, struct esptag_meta_view *m);
void esptag_meta_encode(void *p, uint16_t eth_p_meta, const struct esptag_meta_view *m);

/* Names for logs, the CLI and JSON. Never NULL ("?" when unknown). */
const char *esptag_status_str(int status);
const char *esptag_opcode_str(int opcode);
const char *esptag_result_str(int result);
const char *esptag_counter_str(int counter);		/* enum esptag_counter, e.g. "tx_protect" */
const char *esptag_agent_counter_str(int counter);	/* enum esptag_agent_counter */
const char *esptag_rec_type_str(int type);
/* Name tables indexed by enum esptag_counter / esptag_agent_counter. */
extern const char *const esptag_counter_names[];	/* [ESPTAG_CNT_MAX] */

/* One data-path counter (enum esptag_counter), from ESPTAG_COUNTERS. */
struct esptag_counter_info {
	const char *name;	/* e.g. "rx_drop_replay" */
	bool drop;		/* counts frames the data path refused */
};
extern const struct esptag_counter_info esptag_counters[];	/* [ESPTAG_CNT_MAX] */
bool esptag_counter_is_drop(int counter);	/* false for an unknown index */
int esptag_counter_index(const char *name);	/* -1 when unknown */
extern const char *const esptag_agent_counter_names[];

/*
 * Rx mark settings (docs/rx.md, mark.c): 0 when every SA index below slots
 * (the size of esptag_sad) gets a mark of its own under mask/trusted/shift;
 * else -1 and a message naming the option at fault in why.
 */
int esptag_mark_check(uint32_t mask, uint32_t trusted, uint32_t shift, uint32_t slots,
		      char *why, size_t n);

/* Hex dump helper for logs (never used on key material). */
void esptag_hexdump(FILE *f, const void *buf, size_t len);

#endif
