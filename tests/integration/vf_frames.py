#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Raw frames a VM sends to attack or probe the NIC switch / agent (test_vf_lab.sh).
  vf_frames.py forge IFACE SRCMAC COUNT SEED  -> prints "CFG META HIDDEN" frames sent (HIDDEN: behind a VLAN tag)
  vf_frames.py tag IFACE SRCMAC DSTMAC SAIDX SRCIP DSTIP   one well-formed TX tag (offload=1)
  vf_frames.py spoof IFACE SRCMAC DSTMAC SRCIP DSTIP COUNT  UDP with a forged source MAC
"""
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import etlib  # noqa: E402

AGENT = etlib.AGENT_MAC
P_CFG, P_META = etlib.ETH_P_CFG, etlib.ETH_P_META
mac = etlib.mac_bytes


def ip4(src, dst, proto, payload):
    return etlib.ipv4(src, dst, proto, payload, ident=1)


def meta(kind, flags, sa_index, esp_off=0, payload_off=0, inner=0x0800, seq=1, nh=17):
    return etlib.meta(kind, flags, nh, 0, esp_off, payload_off, 0, 0, sa_index, seq, inner)


def cfg(opcode, port, msg_id, records=b"", count=0, flags=0):
    return etlib.cfg_payload(opcode, msg_id, port, [records], flags=flags, count=count)


def sa_record(rnd):
    # type 1 (SA), len 108; fields random but plausible: dir out, v4, ESP
    body = bytes([2, 4, 50, 1]) + rnd.randbytes(4) + rnd.randbytes(96)
    return struct.pack("!BBH", etlib.REC_SA, 0, etlib.REC_SIZE[etlib.REC_SA]) + body


def forge(sock, src, count, seed):
    rnd = random.Random(seed)
    ncfg = nmeta = nhidden = 0
    for i in range(count):
        v = i % 8
        dst = AGENT if v < 4 else rnd.choice([AGENT, b"\xff" * 6, rnd.randbytes(6)])
        if v == 0:    # ADD_SA for port 0..3
            p = cfg(3, rnd.randrange(4), rnd.randrange(1, 1 << 32), sa_record(rnd), 1)
            fr = dst + src + struct.pack("!H", P_CFG) + p
            ncfg += 1
        elif v == 1:  # FLUSH_PORT of any port
            fr = dst + src + struct.pack("!H", P_CFG) + cfg(5, rnd.randrange(256), rnd.randrange(1, 1 << 32))
            ncfg += 1
        elif v == 2:  # fuzzed config payload
            fr = dst + src + struct.pack("!H", P_CFG) + rnd.randbytes(rnd.randrange(0, 200))
            ncfg += 1
        elif v == 3:  # TX tag, offload=1, random SA index, inner IPv4/ESP
            inner = ip4("192.0.2.13", "192.0.2.2", 50, struct.pack("!II", 0x1000, 1) + rnd.randbytes(40))
            fr = dst + src + meta(1, 1, rnd.randrange(16), 14 + 20, 14 + 36) + inner
            nmeta += 1
        elif v == 4:  # RX tag claiming a decrypted frame
            inner = ip4("192.0.2.2", "192.0.2.12", 50, rnd.randbytes(60))
            fr = dst + src + meta(2, 0, rnd.randrange(16), 34, 50) + inner
            nmeta += 1
        elif v == 5:  # tag hidden behind a VLAN tag
            fr = dst + src + struct.pack("!HH", 0x8100, rnd.randrange(1, 4095)) + \
                meta(1, 1, rnd.randrange(16)) + ip4("192.0.2.13", "192.0.2.2", 17, rnd.randbytes(20))
            nhidden += 1
        elif v == 6:  # config behind a VLAN tag
            fr = dst + src + struct.pack("!HHH", 0x8100, 5, P_CFG) + cfg(5, 0, rnd.randrange(1, 1 << 32))
            nhidden += 1
        else:         # fuzzed tag bytes
            fr = dst + src + struct.pack("!H", P_META) + rnd.randbytes(rnd.randrange(0, 120))
            nmeta += 1
        if len(fr) < 60:
            fr += b"\0" * (60 - len(fr))
        sock.send(fr)
    print(ncfg, nmeta, nhidden)


def main():
    mode, iface = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    # A hostile VM owns its kernel: its own esptag_tx (which drops tagged
    # frames) is not in the way. PACKET_QDISC_BYPASS skips tc egress.
    s.setsockopt(263, 20, 1)  # SOL_PACKET, PACKET_QDISC_BYPASS
    s.bind((iface, 0))
    src = mac(sys.argv[3])
    if mode == "forge":
        forge(s, src, int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "tag":
        dst, idx, sip, dip = mac(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
        esp = struct.pack("!IIQ", 0x4242, 7, 7) + b"probe-payload-" * 3
        fr = dst + src + meta(1, 1, idx, 14 + 20, 14 + 20 + 16, seq=7) + ip4(sip, dip, 50, esp)
        s.send(fr)
    elif mode == "spoof":
        dst, sip, dip, n = mac(sys.argv[4]), sys.argv[5], sys.argv[6], int(sys.argv[7])
        u = etlib.udp(4000, 4001, b"spoofed-data")
        for _ in range(n):
            s.send(dst + src + struct.pack("!H", 0x0800) + ip4(sip, dip, 17, u))


if __name__ == "__main__":
    main()
