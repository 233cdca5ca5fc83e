#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""
Helpers of test_agent_restart_iv.sh (run inside a namespace).

  ivdb_wire.py capture IFACE FILE   record every IPv4 frame received on IFACE:
                                    "esp SPI SEQ IV" or "ip PROTO" per line;
                                    "ready" on stderr once bound
  ivdb_wire.py send DST PRIO TEXT   one UDP datagram to DST:9 with SO_PRIORITY
                                    PRIO (0x10002: HTB class 1:2)
  ivdb_wire.py drain IFACE PRIO     one 1400-byte non-IP frame (EtherType
                                    0x88B7) with SO_PRIORITY PRIO: puts a
                                    slow HTB class in debt, so that its next
                                    frame waits
  ivdb_wire.py check FILE [SKIP]    after SKIP ESP lines: print a JSON summary
                                    (esp, plain, ivs, spi_iv, dups, seq_mismatch)
"""
import json
import socket
import struct
import sys


def capture(iface, path):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    # Room for bursts (a multi-core agent sends thousands at once): 32 MB.
    s.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # SO_RCVBUFFORCE
    s.bind((iface, 0))
    print("ready", file=sys.stderr, flush=True)
    with open(path, "w", buffering=1) as out:
        while True:
            f, addr = s.recvfrom(70000)
            if addr[2] == socket.PACKET_OUTGOING or len(f) < 34:
                continue
            if f[12:14] != b"\x08\x00":
                continue
            ip = f[14:]
            ihl = (ip[0] & 15) * 4
            if ip[9] == 50 and len(ip) >= ihl + 16:
                spi, seq, ivh, ivl = struct.unpack("!IIII", ip[ihl:ihl + 16])
                out.write("esp %d %d %d\n" % (spi, seq, ivh << 32 | ivl))
            else:
                out.write("ip %d\n" % ip[9])


def send(dst, prio, text):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, int(prio, 0))
    s.sendto(text.encode().ljust(32, b"."), (dst, 9))


def drain(iface, prio):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, int(prio, 0))
    s.bind((iface, 0))
    s.send(bytes.fromhex("020000000099") + bytes.fromhex("020000000098") + b"\x88\xb7" +
           bytes(1386))


def check(path, skip=0):
    esp, plain, seen, dups, bad = [], 0, set(), [], []
    for line in open(path):
        w = line.split()
        if w[0] == "esp":
            esp.append((int(w[1]), int(w[2]), int(w[3])))
        elif w[1] != "50":
            plain += 1
    for spi, seq, iv in esp[skip:]:
        if (spi, iv) in seen:
            dups.append([spi, iv])
        seen.add((spi, iv))
        if seq != iv & 0xffffffff:
            bad.append([spi, seq, iv])
    print(json.dumps({"esp": len(esp) - skip, "plain": plain,
                      "ivs": [iv for _, _, iv in esp[skip:]],
                      "spi_iv": [[spi, iv] for spi, _, iv in esp[skip:]], "dups": dups,
                      "seq_mismatch": bad}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "capture":
        capture(sys.argv[2], sys.argv[3])
    elif cmd == "send":
        send(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "drain":
        drain(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        check(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    else:
        sys.exit("unknown command " + cmd)
