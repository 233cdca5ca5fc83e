#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Helpers for tests/integration/test_iproute2.sh, written independently of
the C code: map entries as hex for `bpftool map update`, raw frames through
packet sockets, counter sums.

  iproute2_frames.py sa SPI DIR FAMILY MODE FLAGS MAC SADDR DADDR IFINDEX
        hex of a struct esptag_sa (no key material: there is none to give)
  iproute2_frames.py spd DIR DST PLEN NODE     "KEYHEX|VALUEHEX" of an esptag_spd entry
  iproute2_frames.py spdsrc NODE SRC PLEN ACTION SA   same for esptag_spd_src
  iproute2_frames.py cfg FLAGS                 hex of a struct esptag_cfg
  iproute2_frames.py port FLAGS MAC VF         hex of a struct esptag_port
  iproute2_frames.py u32 N                     N as 4 little-endian bytes (map keys)
  iproute2_frames.py counter NAME              index of counter NAME (build/esptag_counters.json)
  iproute2_frames.py sum                       sum of the per-CPU values of a bpftool -j lookup (stdin)
  iproute2_frames.py send IFACE DST SRC ETHERTYPE TEXT
        one raw Ethernet frame: MACs, EtherType (hex), TEXT as payload
  iproute2_frames.py sendgso IFACE DST SRC SADDR DADDR MSS LEN
        one TCP/IPv4 GSO super-packet (LEN payload bytes) through a packet
        socket with PACKET_VNET_HDR: the skb has gso_size MSS, gso_segs 0
  iproute2_frames.py cap IFACE SECONDS
        print every frame seen on IFACE for SECONDS as hex, one per line;
        "ready" goes to stderr once the socket is bound
"""
import json
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import counters  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__)) + "/../.."
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import etlib  # noqa: E402

ETH_P_ALL = etlib.ETH_P_ALL


mac, hexs = etlib.mac_bytes, etlib.hexs


def sa(spi, d, fam, mode, flags, m, saddr, daddr, ifindex):
    # struct esptag_sa: 288 bytes (80 of description, zeroed state), host order except spi.
    return etlib.map_sa(int(spi, 0), int(d), int(mode), int(flags, 0), m, saddr, daddr,
                        int(ifindex), family=int(fam))


def spd(d, dst, plen, node):
    return etlib.map_spd(int(d), dst, int(plen), int(node))


def spdsrc(node, src, plen, action, sa_index):
    return etlib.map_spd_src(int(node), src, int(plen), int(action), int(sa_index))


def sendgso(iface, dst, src, saddr, daddr, mss, n):
    sa, da = socket.inet_aton(saddr), socket.inet_aton(daddr)
    payload = bytes((i * 7) & 0xff for i in range(int(n)))
    tcp_len = 20 + len(payload)
    # NEEDS_CSUM: the TCP checksum field holds the pseudo-header sum.
    pseudo = etlib.csum_fold(sa + da + struct.pack("!HH", 6, tcp_len))
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 0, 5 << 4, 0x18, 65535, pseudo, 0)
    ip = etlib.ipv4(saddr, daddr, 6, tcp + payload, ident=0x4321, flags_frag=0x4000)
    frame = mac(dst) + mac(src) + struct.pack("!H", 0x0800) + ip
    # struct virtio_net_hdr: flags NEEDS_CSUM, gso TCPV4, hdr_len, gso_size,
    # csum_start, csum_offset (native byte order).
    vnet = struct.pack("=BBHHHH", 1, 1, 54, int(mss), 34, 16)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.setsockopt(263, 15, 1)  # SOL_PACKET, PACKET_VNET_HDR
    s.bind((iface, 0))
    s.send(vnet + frame)


def counter(name):
    return counters.index(name.lower())


def main(a):
    cmd = a[0]
    if cmd == "sa":
        print(hexs(sa(*a[1:10])))
    elif cmd in ("spd", "spdsrc"):
        k, v = spd(*a[1:5]) if cmd == "spd" else spdsrc(*a[1:6])
        print(hexs(k) + "|" + hexs(v))
    elif cmd == "cfg":
        print(hexs(etlib.map_cfg(int(a[1], 0))))
    elif cmd == "port":
        print(hexs(etlib.map_port(int(a[1], 0), a[2], int(a[3]))))
    elif cmd == "u32":
        print(hexs(etlib.map_u32(int(a[1], 0))))
    elif cmd == "counter":
        print(" ".join(str(x) for x in etlib.map_u32(counter(a[1]))))
    elif cmd == "sum":
        j = json.load(sys.stdin)
        total = 0
        for v in j.get("values", []):
            val = v["value"]
            if isinstance(val, list):
                val = int.from_bytes(bytes(int(x, 16) for x in val), "little")
            total += int(val)
        print(total)
    elif cmd == "send":
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind((a[1], 0))
        f = mac(a[2]) + mac(a[3]) + struct.pack(">H", int(a[4], 16)) + a[5].encode()
        s.send(f + bytes(max(0, 60 - len(f))))
    elif cmd == "sendgso":
        sendgso(*a[1:8])
    elif cmd == "cap":
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((a[1], 0))
        print("ready", file=sys.stderr, flush=True)
        end = time.time() + float(a[2])
        while True:
            left = end - time.time()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            data, info = s.recvfrom(65535)
            if info[2] == socket.PACKET_OUTGOING:
                continue
            print(data.hex(), flush=True)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
