#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""A hostile or confused VF driver on a PF mailbox (test_vf_vepa.sh).
  mbox_client.py identity PATH CLAIM_MAC
      RESET, then three ADD_SA, each claiming hdr.port 0, the key wrapped
      for the agent's key (config protocol version 2): one naming local_mac
      CLAIM_MAC (not the VF's), one wrapped for port 0 in the VF's domain, one
      wrapped for the VF's port and domain (what RESET said). Prints "status
      status status port mac": the first two refused (BAD_RECORD, 4: the PF
      cannot rewrite a wrapped record, the agent binds the port), the last
      taken on the VF's port and MAC; then DEL_SA of it.
  mbox_client.py garbage PATH COUNT SEED
      COUNT malformed / hostile messages, then a HELLO: prints "alive" when
      the PF still answers it.
One request each, msg_id chosen by the caller (replays, test_vf_replay.sh):
  mbox_client.py add PATH MSGID SPI DADDR KEYHEX   -> "status index"
      ADD_SA, out, transport, AES-GCM-128, version 2: the key wrapped for the
      agent's key (a HELLO through the PF first), for the VF's port and its
      MAC (environment VF_MAC); the ephemeral key derived from the arguments
      (KEYHEX: 20 bytes key+salt), so that the same arguments are the same
      request bytes, as a replay is
  mbox_client.py del PATH MSGID INDEX              -> "status index"
  mbox_client.py hello PATH MSGID   -> "status sad_used port_used port_limit"
  mbox_client.py stats PATH MSGID [INDEX...]       -> "status records"
"""
import os
import random
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import etlib  # noqa: E402

CFG, RESET = etlib.MBOX_CFG, etlib.MBOX_RESET
OP_HELLO, OP_ADD_SA, OP_DEL_SA, OP_ADD_LOCAL, OP_DUMP_SA, OP_GET_STATS = (
    etlib.OP[n] for n in ("HELLO", "ADD_SA", "DEL_SA", "ADD_LOCAL", "DUMP_SA", "GET_STATS"))
mhdr = etlib.mbox_hdr


def cfg(op, msg_id, port, recs=b"", count=0, flags=0):
    """Version 2 but HELLO (esptag-agent speaks version 1 only when allowed)."""
    return etlib.cfg_payload(op, msg_id, port, [recs], flags=flags, count=count,
                             version=1 if op == OP_HELLO else 2)


def agent_key(s):
    """The agent's key and the VF's port, from a HELLO through the PF."""
    p = etlib.cfg_payload(OP_HELLO, 0x7fff0001, 0, [etlib.rec_caps(2, 2)])
    _, rep = xchg(s, mhdr(CFG, 0, len(p), 0x7fff0001) + p, CFG, 0x7fff0001)
    assert rep[3] == 0 and len(rep) >= 16 + 72, "HELLO: status %d" % rep[3]
    return rep[16 + 40:16 + 72], struct.unpack("!H", rep[8:10])[0]


def wrap(rec, key, port, msg_id, seed=None):
    """The records of a version 2 ADD_SA of rec: its SA_WRAP and the frame's
    WRAP_KEY (2 records); seed: the ephemeral key derived from it (replays)."""
    import hashlib
    eph = hashlib.sha256(b"mbox_client" + seed).digest() if seed else None
    return b"".join(etlib.wrap_sas([rec], key, port, msg_id, eph))


def sa_rec(spi, mac):
    """ADD_SA record, out, claiming local_mac mac; random key and salt."""
    return etlib.rec_sa(etlib.DIR_OUT, "192.0.2.99", spi, os.urandom(16), os.urandom(4), mac,
                        saddr="192.0.2.12", window=0)


def sa_rec_fixed(spi, daddr, keysalt, mac):
    return etlib.rec_sa(etlib.DIR_OUT, daddr, spi, keysalt[:16], keysalt[16:20],
                        mac, saddr="192.0.2.11", window=64)


def one(s, op, msg_id, recs=b"", count=0):
    p = cfg(op, msg_id, 0, recs, count)
    _, rep = xchg(s, mhdr(CFG, 0, len(p), msg_id & 0xffffffff) + p, CFG, msg_id & 0xffffffff)
    return rep


def xchg(s, msg, want_type, seq, timeout=5.0):
    s.send(msg)
    s.settimeout(timeout)
    while True:
        m = s.recv(4096)
        magic, ver, t, flags, _, ln, rseq, status, _ = struct.unpack("<IBBBBIIiI", m[:24])
        if t == want_type and rseq == seq and flags & 1:
            return status, m[24:]


def main():
    mode, path = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    if mode in ("add", "del", "hello", "stats"):
        mid = int(sys.argv[3], 0)
        if mode == "add":
            key, vport = agent_key(s)
            ks = bytes.fromhex(sys.argv[6])
            rec = sa_rec_fixed(int(sys.argv[4], 0), sys.argv[5], ks, os.environ["VF_MAC"])
            rep = one(s, OP_ADD_SA, mid, wrap(rec, key, vport, mid,
                                              ks + struct.pack("!II", mid, int(sys.argv[4], 0))), 2)
            idx = struct.unpack("!I", rep[16 + 68: 16 + 72])[0] if rep[3] == 0 and len(rep) >= 88 else -1
            print(rep[3], idx)
        elif mode == "del":
            rep = one(s, OP_DEL_SA, mid, etlib.rec_ref(int(sys.argv[4])), 1)
            idx = struct.unpack("!I", rep[20:24])[0] if rep[3] == 0 and len(rep) >= 24 else -1
            print(rep[3], idx)
        elif mode == "hello":
            rep = one(s, OP_HELLO, mid, etlib.rec_caps(2, 2), 1)
            if rep[3] == 0 and len(rep) >= 56:
                c = rep[16:56]
                used, plimit, pused = struct.unpack("!III", c[20:32])
                print(rep[3], used, pused, plimit)
            else:
                print(rep[3], "-", "-", "-")
        else:
            refs = b"".join(etlib.rec_ref(int(i)) for i in sys.argv[4:])
            rep = one(s, OP_GET_STATS, mid, refs, len(sys.argv) - 4)
            print(rep[3], struct.unpack("!H", rep[10:12])[0])
    elif mode == "identity":
        claim = bytes.fromhex(sys.argv[3].replace(":", ""))
        st, r = xchg(s, mhdr(RESET, 0, 0, 11), RESET, 11)
        assert st == 0, st
        vport, vmac = struct.unpack("<H", r[2:4])[0], r[4:10]
        key, _ = agent_key(s)
        sts = []
        for mid, mac, wport in ((0x5002, claim, vport), (0x5003, vmac, 0), (0x5000, vmac, vport)):
            p = cfg(OP_ADD_SA, mid, 0, wrap(sa_rec(0x7777, mac), key, wport, mid), 2)
            _, rep = xchg(s, mhdr(CFG, 0, len(p), mid) + p, CFG, mid)
            sts.append(rep[3])
        status, port = rep[3], struct.unpack("!H", rep[8:10])[0]
        rmac = rep[16 + 4 + 40: 16 + 4 + 46].hex(":") if status == 0 else "-"
        idx = struct.unpack("!I", rep[16 + 68: 16 + 72])[0] if status == 0 else 0
        print(sts[0], sts[1], status, port, rmac)
        if status == 0:
            p = cfg(OP_DEL_SA, 0x5001, 0, etlib.rec_ref(idx), 1)
            xchg(s, mhdr(CFG, 0, len(p), 0x5001) + p, CFG, 0x5001)
    else:
        rnd = random.Random(int(sys.argv[4]))
        for i in range(int(sys.argv[3])):
            v = i % 6
            if v == 0:
                m = rnd.randbytes(rnd.randrange(0, 200))
            elif v == 1:   # a header that lies about its length
                m = mhdr(CFG, 0, 500, i) + rnd.randbytes(20)
            elif v == 2:   # a "reply" sent to the PF
                p = cfg(OP_HELLO, i + 1, 0, flags=0x80)
                m = mhdr(CFG, 1, len(p), i) + p
            elif v == 3:   # a config payload with random records
                p = cfg(rnd.choice([1, 3, 4, 5, 6, 7, 8, 9, 200]), i + 1, rnd.randrange(65536),
                        rnd.randbytes(rnd.randrange(0, 120)), rnd.randrange(4))
                m = mhdr(CFG, 0, len(p), i) + p
            elif v == 4:   # reserved bits, bad version
                m = mhdr(rnd.choice([0, 3, 255]), 0, 0, i, reserved=rnd.randrange(256))
            else:          # ADD_LOCAL: only the PF manages LOCAL records
                p = cfg(OP_ADD_LOCAL, i + 1, 0, etlib.rec_local("192.0.2.200", b"\2" * 6), 1)
                m = mhdr(CFG, 0, len(p), i) + p
            s.send(m)
        p = cfg(OP_DUMP_SA, 0x6000, 0)
        try:
            st, rep = xchg(s, mhdr(CFG, 0, len(p), 0x6000) + p, CFG, 0x6000)
            print("alive" if rep[3] == 0 else "status %d" % rep[3])
        except socket.timeout:
            print("no answer")


if __name__ == "__main__":
    main()
