/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals of the config packet / metadata tag codec (esptag_proto.h),
 * shared by
 *   esptag_proto.c  config packets: decode (framing, counts), records, build
 *   proto_rec.c     the contents of each record type
 *   proto_meta.c    the metadata tag
 * Bytes in network order, read and written one at a time (records are only
 * 2-byte aligned in a frame).
 */
#ifndef ESPTAG_PROTO_INT_H
#define ESPTAG_PROTO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "esptag_proto.h"

#define ETH_P_IP_	0x0800
#define ETH_P_IPV6_	0x86DD
#define ETH_ZLEN_	60

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

static inline bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* proto_rec.c: content check of one record at p of len bytes (framing
 * already verified):
 * 0 or ESPTAG_EBADREC, ESPTAG_EALG, ESPTAG_EMALFORMED. */
int esptag_rec_check(const uint8_t *p, uint8_t type, uint16_t len, bool request);

#endif
