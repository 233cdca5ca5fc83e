# SPDX-License-Identifier: GPL-2.0-only
"""esptag_spd_host against the two-level LPM, from the pins of a data path.

    spd_host.py check PIN_DIR     "consistent N" when every host policy of the
                                  LPM (source and destination /32 or /128) has
                                  its esptag_spd_host entry with the same value
                                  and the hash holds nothing else (N entries);
                                  otherwise what differs, one item a line
    spd_host.py get PIN_DIR ID    the esptag_spd_host value of policy ID as
                                  "action sa_index flags", "absent" if none
    spd_host.py set PIN_DIR DIR SRC DST ACTION SA ID
                                  write an entry by hand (DIR in|out, ACTION
                                  bypass|protect|discard, SA a number or none)
    spd_host.py del PIN_DIR DIR SRC DST   remove an entry by hand
"""
import ipaddress
import json
import struct
import subprocess
import sys


def dump(pins, name):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", "%s/%s" % (pins, name)],
                         check=True, capture_output=True, text=True).stdout
    return [(e["formatted"]["key"], e["formatted"]["value"]) for e in json.loads(out)]


def addr(family, a):
    return bytes(a[:4] if family == 4 else a).hex()


def val(v):
    return (v["action"], v["flags"], v["spi"], v["sa_index"], v["id"])


def lpm_hosts(pins):
    nodes = {v["id"]: k for k, v in dump(pins, "esptag_spd")}
    want = {}
    for k, v in dump(pins, "esptag_spd_src"):
        n = nodes.get(k["node"])
        if n is None:
            continue
        full = 32 if n["family"] == 4 else 128
        if k["prefixlen"] - 32 != full or n["prefixlen"] - 32 != full:
            continue
        want[(n["dir"], n["family"], addr(n["family"], k["saddr"]),
              addr(n["family"], n["daddr"]))] = val(v)
    return want


def hosts(pins):
    return {(k["dir"], k["family"], addr(k["family"], k["saddr"]), addr(k["family"], k["daddr"])):
            val(v) for k, v in dump(pins, "esptag_spd_host")}


def key_hex(d, src, dst):
    s, t = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    fam = 4 if s.version == 4 else 6
    k = struct.pack("<BBxx", {"in": 1, "out": 2}[d], fam)
    k += s.packed.ljust(16, b"\0") + t.packed.ljust(16, b"\0")
    return k.hex(" ").split()


def by_hand(pins, argv):
    cmd = ["bpftool", "map", argv[0] == "set" and "update" or "delete", "pinned",
           "%s/esptag_spd_host" % pins, "key", "hex"] + key_hex(*argv[1:4])
    if argv[0] == "set":
        act = {"bypass": 1, "protect": 2, "discard": 3}[argv[4]]
        sa = 0xffffffff if argv[5] == "none" else int(argv[5])
        cmd += ["value", "hex"] + struct.pack("<BBxxIII", act, 0, 0, sa, int(argv[6])).hex(" ").split()
    subprocess.run(cmd, check=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        want, have = lpm_hosts(sys.argv[2]), hosts(sys.argv[2])
        bad = []
        for k, v in sorted(want.items()):
            if k not in have:
                bad.append("missing %s: %s" % (k, v))
            elif have[k] != v:
                bad.append("differs %s: lpm %s hash %s" % (k, v, have[k]))
        bad += ["extra %s: %s" % (k, v) for k, v in sorted(have.items()) if k not in want]
        print("\n".join(bad) if bad else "consistent %d" % len(have))
    elif len(sys.argv) == 4 and sys.argv[1] == "get":
        m = [v for v in hosts(sys.argv[2]).values() if v[4] == int(sys.argv[3])]
        print("%d %s %d" % (m[0][0], "none" if m[0][3] == 0xffffffff else m[0][3], m[0][1])
              if len(m) == 1 else "absent")
    elif len(sys.argv) == 9 and sys.argv[1] == "set" or len(sys.argv) == 6 and sys.argv[1] == "del":
        by_hand(sys.argv[2], [sys.argv[1]] + sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
