// SPDX-License-Identifier: GPL-2.0-only
/*
 * esptagd control socket: names of operations, statuses, events, algorithms
 * and actions; IPv4/IPv6 addresses and prefixes from and to text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <esptag/maps.h>
#include "ctl_int.h"

const char *esptag_ctl_op_str(int op)
{
	static const char *const n[] = {
		[ESPTAG_CTL_STATE_ADD] = "state add",	  [ESPTAG_CTL_STATE_DEL] = "state del",
		[ESPTAG_CTL_STATE_LIST] = "state list",	  [ESPTAG_CTL_STATE_FLUSH] = "state flush",
		[ESPTAG_CTL_POLICY_ADD] = "policy add",	  [ESPTAG_CTL_POLICY_DEL] = "policy del",
		[ESPTAG_CTL_POLICY_LIST] = "policy list", [ESPTAG_CTL_POLICY_FLUSH] = "policy flush",
		[ESPTAG_CTL_AGENT_STATUS] = "agent status", [ESPTAG_CTL_AGENT_SA] = "agent sa",
		[ESPTAG_CTL_STATS] = "stats",		  [ESPTAG_CTL_MONITOR] = "monitor",
		[ESPTAG_CTL_EVENT] = "event",
		[ESPTAG_CTL_VF_ADD] = "vf add",		  [ESPTAG_CTL_VF_DEL] = "vf del",
		[ESPTAG_CTL_VF_LIST] = "vf list",	  [ESPTAG_CTL_VF_TRUST] = "vf trust",
		[ESPTAG_CTL_VF_RESET] = "vf reset",
		[ESPTAG_CTL_POLICY_UPDATE] = "policy update",
		[ESPTAG_CTL_STATE_ALLOCSPI] = "state allocspi",
		[ESPTAG_CTL_STATE_UPDATE] = "state update",
		[ESPTAG_CTL_STATE_GET] = "state get",
		[ESPTAG_CTL_POLICY_GET] = "policy get",
		[ESPTAG_CTL_BYPASS_SOCKET] = "bypass socket",
	};
	return op > 0 && op <= ESPTAG_CTL_OP_MAX ? n[op] : "?";
}

const char *esptag_ctl_status_str(int s)
{
	static const char *const n[] = {
		[ESPTAG_CTL_OK] = "ok",
		[ESPTAG_CTL_E_INVAL] = "invalid request",
		[ESPTAG_CTL_E_DEV] = "wrong device",
		[ESPTAG_CTL_E_EXIST] = "already exists",
		[ESPTAG_CTL_E_NOENT] = "not found",
		[ESPTAG_CTL_E_AGENT] = "refused by the agent",
		[ESPTAG_CTL_E_TIMEOUT] = "agent did not answer",
		[ESPTAG_CTL_E_NOSPC] = "no space",
		[ESPTAG_CTL_E_BPF] = "BPF map operation failed",
		[ESPTAG_CTL_E_PERM] = "not permitted",
		[ESPTAG_CTL_E_INTERNAL] = "internal error",
	};
	return s >= 0 && s <= ESPTAG_CTL_E_MAX ? n[s] : "?";
}

const char *esptag_ctl_event_str(int t)
{
	static const char *const n[] = {
		[ESPTAG_EV_SA_ADDED] = "sa-added",
		[ESPTAG_EV_SA_REMOVED] = "sa-removed",
		[ESPTAG_EV_SA_EXPIRED] = "sa-expired",
		[ESPTAG_EV_AGENT_RESTARTED] = "agent-restarted",
		[ESPTAG_EV_AGENT_DOWN] = "agent-down",
		[ESPTAG_EV_AGENT_UP] = "agent-up",
		[ESPTAG_EV_DROP] = "drop",
		[ESPTAG_EV_POLICY_ADDED] = "policy-added",
		[ESPTAG_EV_POLICY_REMOVED] = "policy-removed",
		[ESPTAG_EV_POLICY_UPDATED] = "policy-updated",
		[ESPTAG_EV_SA_SOFT_EXPIRED] = "sa-soft-expired",
		[ESPTAG_EV_ACQUIRE] = "acquire",
	};
	return t > 0 && t <= ESPTAG_EV_MAX ? n[t] : "?";
}

const char *esptag_alg_str(int alg)
{
	switch (alg) {
	case ESPTAG_ALG_AES_GCM_128:
		return "rfc4106(gcm(aes))-128";
	case ESPTAG_ALG_AES_GCM_256:
		return "rfc4106(gcm(aes))-256";
	default:
		return "?";
	}
}

const char *esptag_action_str(int a)
{
	switch (a) {
	case ESPTAG_ACT_BYPASS:
		return "bypass";
	case ESPTAG_ACT_PROTECT:
		return "protect";
	case ESPTAG_ACT_DISCARD:
		return "discard";
	default:
		return "?";
	}
}

int esptag_addr_parse(const char *s, uint8_t *family, uint8_t addr[16])
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = 6;
		return 0;
	}
	return -1;
}

int esptag_prefix_parse(const char *s, uint8_t *family, uint8_t addr[16], uint8_t *plen,
			char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long l;
	char *end;

	if (alen >= sizeof(buf))
		return fail(err, errlen, "'%s' is not an address or prefix", s);
	memcpy(buf, s, alen);
	buf[alen] = 0;
	if (esptag_addr_parse(buf, family, addr))
		return fail(err, errlen, "'%s' is not an IPv4 or IPv6 address", buf);
	if (!slash) {
		*plen = *family == 4 ? 32 : 128;
		return 0;
	}
	errno = 0;
	if (!slash[1] || slash[1] == '-' || slash[1] == '+')
		return fail(err, errlen, "'%s': prefix length missing", s);
	l = strtoul(slash + 1, &end, 10);
	if (*end || errno || l > (*family == 4 ? 32u : 128u))
		return fail(err, errlen, "'%s': prefix length must be 0-%u", s,
			    *family == 4 ? 32 : 128);
	*plen = l;
	for (unsigned int bit = l; bit < 128; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return fail(err, errlen,
				    "'%s' has host bits set beyond /%lu; use the network address",
				    s, l);
	return 0;
}

const char *esptag_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, len))
		snprintf(buf, len, "?");
	return buf;
}
