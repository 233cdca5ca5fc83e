#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""An agent that speaks only config protocol version 1 (test_wrap_versions.sh).
  agent_v1.py IFACE LOG
On IFACE (the agent's host side): HELLO gets a 40-byte CAPS of versions
1..1; a request in another version BAD_VERSION; ADD_SA takes the SAs (their
keys in clear: logged "ADD_SA v1 KEYHEX" so the test sees what travelled)
and answers them with indices, key and salt zero; DEL_SA echoes; DUMP_SA
lists what it took; everything else is answered OK without records.
Prints "ready" on stderr once the socket is bound.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import etlib  # noqa: E402

O = etlib.OP


def main():
    port = etlib.Port(sys.argv[1], proto=etlib.ETH_P_CFG)
    log = open(sys.argv[2], "a")
    sas, nxt = {}, 0
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    while True:
        for f in port.recv(1.0, lambda f: etlib.ethertype(f) == etlib.ETH_P_CFG):
            q = f[14:]
            if len(q) < 16 or q[2] & etlib.F_REPLY:
                continue
            ver, op = q[0], q[1]
            msg_id = int.from_bytes(q[4:8], "big")
            p = int.from_bytes(q[8:10], "big")
            recs = etlib.Reply(bytes(14) + q).records
            caps = etlib.rec_caps_agent(6, 0x1111, 64, len(sas), 64, len(sas), 13, 1500, 16,
                                        0x1f)
            status, out = 0, []
            if ver != 1:
                status, out = etlib.ST["BAD_VERSION"], [caps]
            elif op == O["HELLO"]:
                out = [caps]
            elif op == O["ADD_SA"]:
                for t, r in recs:
                    log.write("ADD_SA v1 %s\n" % r[72:108].hex())
                    sa = bytearray(r)
                    sa[68:72] = nxt.to_bytes(4, "big")
                    sa[72:108] = bytes(36)
                    sas[nxt] = bytes(sa)
                    out.append(bytes(sa))
                    nxt += 1
                log.flush()
            elif op == O["DEL_SA"]:
                for t, r in recs:
                    sas.pop(int.from_bytes(r[4:8], "big"), None)
                    out.append(r)
            elif op == O["DUMP_SA"]:
                out = list(sas.values())
            ln = sum(len(r) for r in out)
            pl = etlib.cfg_payload(op, msg_id, p, out, version=1, flags=etlib.F_REPLY,
                                   status=status, err_index=etlib.ERR_NONE)
            assert len(pl) == 16 + ln
            port.send(etlib.eth(f[6:12], etlib.AGENT_MAC, etlib.ETH_P_CFG, pl))


if __name__ == "__main__":
    main()
