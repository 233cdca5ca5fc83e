#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""
Check a wire capture against the ESP SAs that should protect it, with
tshark as the independent decoder (ICV check on).

  espcheck.py PCAP --sas FILE [--marker HEX] [--hosts A,B ...] [--seq-only]
  espcheck.py PCAP --esp-sa FILE ...

FILE holds one SA per line: "SPI FAMILY KEYSALT_HEX" (mode 0600; keys are
never printed); with --esp-sa, FILE is a Wireshark esp_sa table as is (an
esptagd --keylog file). Prints one JSON object:
  frames        frames in the capture
  esp           ESP frames
  esp_known     ESP frames whose SPI is in FILE
  icv_good      ESP frames tshark decrypted with a good ICV
  plain_ip      IP frames between --hosts addresses that are not ESP
  marker_hits   frames whose raw bytes contain the marker (clear text leak)
  seq           {spi: {"n":..., "unique":bool, "increasing":bool}}
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def tshark_fields(pcap, fields, env=None, opts=()):
    cmd = ["tshark", "-n", "-r", pcap]
    for o in opts:
        cmd += ["-o", o]
    cmd += ["-T", "fields", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit("tshark failed on %s" % pcap)
    return [line.split("\t") for line in out.stdout.splitlines()]


def as_int(s):
    s = s.split(",")[0]
    if not s:
        return None
    return int(s, 16) if s.startswith("0x") else int(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--sas")
    ap.add_argument("--esp-sa", dest="esp_sa")
    ap.add_argument("--marker", default="")
    ap.add_argument("--hosts", default="")
    ap.add_argument("--seq-only", action="store_true",
                    help="headers only (snaplen capture): no decryption")
    a = ap.parse_args()

    sas, table = [], None
    if a.esp_sa:
        with open(a.esp_sa) as f:
            table = f.read()
        known = {int(line.split(",")[3].strip('"'), 16)
                 for line in table.splitlines() if line.count(",") >= 7}
    else:
        if not a.sas:
            ap.error("--sas or --esp-sa")
        with open(a.sas) as f:
            for line in f:
                p = line.split()
                if len(p) == 3:
                    sas.append((int(p[0], 0), int(p[1]), p[2].lower().removeprefix("0x")))
        known = {spi for spi, _, _ in sas}

    res = {"frames": 0, "esp": 0, "esp_known": 0, "icv_good": 0, "plain_ip": 0,
           "marker_hits": 0, "seq": {}}
    with tempfile.TemporaryDirectory(prefix="et-espcheck-") as tmp:
        cfg = os.path.join(tmp, "wireshark")
        os.makedirs(cfg)
        with open(os.path.join(cfg, "esp_sa"), "w") as f:
            if table is not None:
                f.write(table)
            for spi, fam, ks in sas:
                f.write('"%s","*","*","0x%08x","AES-GCM with 16 octet ICV [RFC4106]",'
                        '"0x%s","NULL",""\n' % ("IPv6" if fam == 6 else "IPv4", spi, ks))
        env = dict(os.environ, XDG_CONFIG_HOME=tmp, HOME=tmp)
        opts = [] if a.seq_only else ["esp.enable_encryption_decode:TRUE",
                                      "esp.enable_authentication_check:TRUE"]
        rows = tshark_fields(a.pcap, ["frame.number", "esp.spi", "esp.sequence",
                                      "esp.icv_good", "ip.src", "ip.dst", "ipv6.src",
                                      "ipv6.dst", "ip.proto", "ipv6.nxt"], env, opts)
    hosts = set(h for h in a.hosts.split(",") if h)
    for r in rows:
        r += [""] * (10 - len(r))
        res["frames"] += 1
        spi = as_int(r[1])
        if spi is not None:
            res["esp"] += 1
            if spi in known:
                res["esp_known"] += 1
            if r[3].split(",")[0] in ("1", "True"):
                res["icv_good"] += 1
            seq = as_int(r[2])
            s = res["seq"].setdefault("0x%08x" % spi, {"n": 0, "unique": True,
                                                       "increasing": True, "_last": -1,
                                                       "_seen": set()})
            s["n"] += 1
            if seq in s["_seen"]:
                s["unique"] = False
            if seq is not None and seq <= s["_last"]:
                s["increasing"] = False
            s["_seen"].add(seq)
            s["_last"] = seq if seq is not None else s["_last"]
            continue
        src = (r[4] or r[6]).split(",")[0]
        dst = (r[5] or r[7]).split(",")[0]
        if src and (not hosts or (src in hosts and dst in hosts)):
            res["plain_ip"] += 1
    for s in res["seq"].values():
        del s["_last"], s["_seen"]

    if a.marker:
        marker = bytes.fromhex(a.marker)
        from scapy.utils import RawPcapReader
        for data, _ in RawPcapReader(a.pcap):
            if marker in data:
                res["marker_hits"] += 1
    print(json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
