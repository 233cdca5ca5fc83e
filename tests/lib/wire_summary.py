#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summarise a wire capture: what left the box, in order.

  wire_summary.py PCAP [--from ADDR]

Prints one JSON object:
  plain_icmp   IPv4 frames carrying ICMP in clear (protocol 1)
  plain_ip     IPv4 frames that are not ESP
  (with --from, plain_* count only frames whose source is ADDR: what the
  protected host let out, not the peer's answers such as its ICMP errors
  about ESP it cannot read)
  esp          ESP frames (IPv4 protocol 50)
  by_spi       {"0xSPI": count}
  by_dst       {"outer destination": count} of the ESP frames
  by_spi_dst   {"0xSPI dst": count}
  spi_order    the SPIs of the ESP frames, runs collapsed: [["0x2001", n], ...]
"""
import argparse
import json
import struct

from scapy.all import IP, rdpcap

ap = argparse.ArgumentParser()
ap.add_argument("pcap")
ap.add_argument("--from", dest="src")
args = ap.parse_args()

out = {"plain_icmp": 0, "plain_ip": 0, "esp": 0, "by_spi": {}, "by_dst": {},
       "by_spi_dst": {}, "spi_order": []}
for pkt in rdpcap(args.pcap):
    if IP not in pkt:
        continue
    ip = pkt[IP]
    if ip.proto == 50:
        raw = bytes(ip.payload)
        if len(raw) < 8:
            continue
        spi = "0x%x" % struct.unpack("!I", raw[:4])[0]
        out["esp"] += 1
        out["by_spi"][spi] = out["by_spi"].get(spi, 0) + 1
        out["by_dst"][ip.dst] = out["by_dst"].get(ip.dst, 0) + 1
        k = "%s %s" % (spi, ip.dst)
        out["by_spi_dst"][k] = out["by_spi_dst"].get(k, 0) + 1
        if out["spi_order"] and out["spi_order"][-1][0] == spi:
            out["spi_order"][-1][1] += 1
        else:
            out["spi_order"].append([spi, 1])
        continue
    if args.src and ip.src != args.src:
        continue
    out["plain_ip"] += 1
    if ip.proto == 1:
        out["plain_icmp"] += 1
print(json.dumps(out, sort_keys=True))
