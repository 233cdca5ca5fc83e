// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz esptag-agent's host -> wire frame handler (agent_host_frame): config
 * requests, metadata tags (bypass, ESP, TSO), untagged frames, hairpin into
 * the Rx path. In memory, no sockets. Input: a 10-byte virtio_net_hdr (as
 * PACKET_VNET_HDR delivers it) followed by the frame.
 * The agent holds fixture SAs: OUT transport IPv4 (index 0), OUT tunnel
 * IPv6 (1), OUT transport IPv4 ESN (2), IN for the hairpin address (3),
 * a LOCAL 192.0.2.99; all in the domain of MAC 02:00:00:00:00:01.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "agent.h"
#include "fuzz_agent_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[AGENT_MAX_FRAME];
	struct virtio_net_hdr vh;
	struct agent *a = fixture_agent();

	if (size < sizeof(vh) || size - sizeof(vh) > sizeof(buf))
		return 0;
	memcpy(&vh, data, sizeof(vh));
	memcpy(buf, data + sizeof(vh), size - sizeof(vh));
	agent_host_frame(a, buf, size - sizeof(vh), &vh);
	fixture_check_outputs(a);
	agent_flush_all(a);
	return 0;
}
