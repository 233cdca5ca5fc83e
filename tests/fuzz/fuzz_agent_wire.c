// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz esptag-agent's wire -> host frame handler (agent_wire_frame): ESP
 * lookup and decryption, Rx tag, ESN inference, spoofed tags, VLANs, IPv6
 * extension headers. In memory, no sockets. Input: the frame. The fixture
 * (fuzz_agent_fixture.h) holds inbound SAs for MAC 02:00:00:00:00:01.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "fuzz_agent_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent *a = fixture_agent();

	if (size > AGENT_MAX_FRAME)
		return 0;
	agent_wire_frame(a, data, size, NULL);
	fixture_check_outputs(a);
	agent_flush_all(a);
	return 0;
}
