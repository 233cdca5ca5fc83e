#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helpers for tests/integration/test_rx_*.sh (independent of the C code).

  rx_frames.py sa INDEX SPI MAC DADDR [IFINDEX]   hex of a struct esptag_sa (inbound, alive, window 64)
  rx_frames.py spd DST PLEN NODE                  hex key + value of an esptag_spd entry (dir in)
  rx_frames.py spdsrc NODE SRC PLEN ACTION        hex key + value of an esptag_spd_src entry
  rx_frames.py cfg MASK TRUSTED SHIFT             hex of a struct esptag_cfg
  rx_frames.py counter NAME                       index of ESPTAG_CNT_NAME (build/esptag_counters.json)
  rx_frames.py send IFACE DSTMAC SRC DST PORT TEXT [SA SPI SEQ [RESULT]]
        (TEXT NAME:N sends N bytes "NAME|xxx...", received as NAME/N)
        send a UDP datagram on IFACE through a packet socket: plain, or as
        the agent delivers it (ESP header + IV, trailer, ICV, Rx tag)
  rx_frames.py recv ADDR PORT IDLE               print "TEXT 0xMARK" per datagram (SO_RCVMARK)
        until IDLE seconds pass without one; "ready" goes to stderr once bound
  rx_frames.py sum                               sum the per-CPU values of a bpftool -j lookup on stdin
"""
import json
import os
import socket
import struct
import sys

ROOT = os.path.dirname(os.path.abspath(__file__)) + "/../.."
sys.path.insert(0, ROOT + "/tests/lib")
import etlib  # noqa: E402
SO_RCVMARK = 75
SO_MARK = 36

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import counters  # noqa: E402


hexs, addr16, mac_bytes = etlib.hexs, etlib.addr16, etlib.mac_bytes


def sa_value(spi, local_mac, daddr, ifindex):
    """Inbound transport SA, alive, window 64 (struct esptag_sa)."""
    return etlib.map_sa(spi, etlib.DIR_IN, etlib.MODE_TRANSPORT, etlib.SAF_ALIVE, local_mac, None,
                        daddr, ifindex, window=64)


def ipv4(src, dst, proto, payload):
    return etlib.ipv4(src, dst, proto, payload, ident=0x1234, flags_frag=0x4000)


def frame(dstmac, srcmac, src, dst, port, text, sa=None, spi=0, seq=0, result=0):
    udp = etlib.udp(40000, port, text)
    if sa is None:
        return mac_bytes(dstmac) + srcmac + b"\x08\x00" + ipv4(src, dst, 17, udp)
    pad = (4 - (len(udp) + 2) % 4) % 4
    trailer = bytes(range(1, pad + 1)) + bytes([pad, 17]) + b"\xc5" * 16
    esp = struct.pack("!IIQ", spi, seq & 0xFFFFFFFF, seq)
    ip = ipv4(src, dst, 50, esp + udp + trailer)
    tag = etlib.meta(etlib.META_RX, 0, 17, result, 14 + 20, 14 + 20 + 16,
                     len(trailer) if result == 0 else 0, 0, sa, seq, 0x0800)
    return mac_bytes(dstmac) + srcmac + tag + ip


def main(a):
    cmd = a[0]
    if cmd == "sa":
        print(hexs(sa_value(int(a[2], 0), a[3], a[4], int(a[5]) if len(a) > 5 else 0)))
    elif cmd == "spd":
        key, val = etlib.map_spd(etlib.DIR_IN, a[1], int(a[2]), int(a[3]))
        print("key hex", hexs(key), "value hex", hexs(val))
    elif cmd == "spdsrc":
        key, val = etlib.map_spd_src(int(a[1]), a[2], int(a[3]), etlib.ACTION[a[4]], 0)
        print("key hex", hexs(key), "value hex", hexs(val))
    elif cmd == "cfg":
        print(hexs(etlib.map_cfg(0, int(a[1], 0), int(a[2], 0), int(a[3], 0))))
    elif cmd == "counter":
        print(counters.index(a[1].lower()))
    elif cmd == "send":
        iface, dstmac, src, dst, port, text = a[1:7]
        if ":" in text:  # NAME:N -> NAME|xxx... (N bytes in all)
            name, n = text.split(":")
            text = name + "|" + "x" * (int(n) - len(name) - 1)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((iface, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        srcmac = s.getsockname()[4]
        if len(a) > 7:
            f = frame(dstmac, srcmac, src, dst, int(port), text.encode(), int(a[7]),
                      int(a[8], 0), int(a[9], 0), int(a[10]) if len(a) > 10 else 0)
        else:
            f = frame(dstmac, srcmac, src, dst, int(port), text.encode())
        s.send(f)
    elif cmd == "recv":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, SO_RCVMARK, 1)
        s.bind((a[1], int(a[2])))
        s.settimeout(float(a[3]))
        sys.stderr.write("ready\n")
        sys.stderr.flush()
        while True:
            try:
                data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(4))
            except socket.timeout:
                break
            m = 0
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_MARK:
                    m = struct.unpack("=I", val[:4])[0]
            if b"|" in data:  # long datagram: name/length
                data = b"%s/%d" % (data.split(b"|")[0], len(data))
            print("%s 0x%x" % (data.decode(errors="replace"), m), flush=True)
    elif cmd == "sum":
        j = json.load(sys.stdin)
        vals = j.get("formatted", j).get("values", [])
        print(sum(v["value"] if isinstance(v["value"], int)
                  else int.from_bytes(bytes(int(x, 16) for x in v["value"]), "little")
                  for v in vals))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
