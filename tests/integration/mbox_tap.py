#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Between a VM's esptagd and its PF's mailbox (test_wrap_keys.sh).
  mbox_tap.py relay LISTEN TARGET LOG
      A capture of the mailbox: listens on LISTEN (a SOCK_SEQPACKET socket
      like the PF's), connects each VF that comes to TARGET (the PF's real
      mailbox) and passes every message both ways unchanged, appending it to
      LOG as "vf>pf HEX" / "pf>vf HEX".
  mbox_tap.py fake-pf LISTEN LOG VF_MAC PRIVHEX
      A PF built to substitute its own agent key: answers RESET (VF 1, agent
      port 2, VF_MAC), HELLO with an agent CAPS carrying the X25519 key of
      PRIVHEX (its own), every other request OK without records. Every
      message is logged as above; an ADD_SA it receives is logged as
      "ADD_SA" and, when its wrap opens with the PF's own key, as "LEAKED".
Prints "ready" on stderr once LISTEN exists.
"""
import os
import select
import socket
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import etlib  # noqa: E402


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.bind(path)
    os.chmod(path, 0o600)
    s.listen(4)
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    return s


def log(f, d, m):
    f.write("%s %s\n" % (d, m.hex()))
    f.flush()


def relay(lpath, target, logpath):
    ls = listen(lpath)
    with open(logpath, "a") as f:
        pairs = {}
        while True:
            socks = [ls] + list(pairs)
            r = select.select(socks, [], [], 1.0)[0]
            for s in r:
                if s is ls:
                    vf, _ = ls.accept()
                    pf = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                    pf.connect(target)
                    pairs[vf] = (pf, "vf>pf")
                    pairs[pf] = (vf, "pf>vf")
                    continue
                m = s.recv(65536)
                other, d = pairs[s]
                if not m:
                    for x in (s, other):
                        pairs.pop(x, None)
                        x.close()
                    continue
                log(f, d, m)
                other.send(m)


def unwrap_frame(priv, q, port):
    """The keys and salts of the SA_WRAP records of ADD_SA payload q that
    open with priv (its WRAP_KEY, the last record, names the ephemeral key)."""
    recs, off = [], 16
    while off + 4 <= len(q):
        ln = struct.unpack("!H", q[off + 2:off + 4])[0]
        if ln < 4:
            break
        recs.append(q[off:off + ln])
        off += ln
    wk = [r for r in recs if r[0] == etlib.REC_WRAP_KEY and len(r) == etlib.WRAP_KEY_LEN]
    ws = [r for r in recs if r[0] == etlib.REC_SA_WRAP and len(r) == etlib.SA_WRAP_LEN]
    out = []
    for i, r in enumerate(ws):
        try:
            k = etlib.unwrap_sa(priv, r, wk[-1], port, len(ws), i) if wk else None
        except ValueError:
            k = None
        if k:
            out.append(k)
    return out


def fake_pf(lpath, logpath, vf_mac, priv):
    ls = listen(lpath)
    pub = etlib.x25519_pub(priv)
    with open(logpath, "a") as f:
        conns = []
        while True:
            r = select.select([ls] + conns, [], [], 1.0)[0]
            for s in r:
                if s is ls:
                    conns.append(ls.accept()[0])
                    continue
                m = s.recv(65536)
                if not m:
                    conns.remove(s)
                    s.close()
                    continue
                log(f, "vf>pf", m)
                _, _, typ, _, _, ln, seq, _, _ = struct.unpack("<IBBBBIIiI", m[:24])
                if typ == etlib.MBOX_RESET:
                    p = struct.pack("<HH6sBBHHIII", 1, 2, etlib.mac_bytes(vf_mac), 0, 1, 0, 0,
                                    16, 0, 0)
                    rep = etlib.mbox_hdr(etlib.MBOX_RESET, etlib.MBOX_F_REPLY, len(p), seq) + p
                else:
                    q = m[24:24 + ln]
                    op, msg_id = q[1], struct.unpack("!I", q[4:8])[0]
                    recs = []
                    if op == etlib.OP["HELLO"]:
                        c = etlib.rec_caps_agent(6, 0x5eed, 64, 0, 16, 0, 7, 1500, 16, 0x1f,
                                                 vmin=1, vmax=2)
                        recs = [c[:2] + bytes([0, 72]) + c[4:] + pub]
                    elif op == etlib.OP["ADD_SA"]:
                        f.write("ADD_SA\n")
                        if unwrap_frame(priv, q, 2):
                            f.write("LEAKED\n")
                        f.flush()
                    p = etlib.cfg_payload(op, msg_id, 2, recs, version=q[0], flags=etlib.F_REPLY)
                    rep = etlib.mbox_hdr(etlib.MBOX_CFG, etlib.MBOX_F_REPLY, len(p), seq) + p
                log(f, "pf>vf", rep)
                s.send(rep)


def main():
    if sys.argv[1] == "relay":
        relay(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        fake_pf(sys.argv[2], sys.argv[3], sys.argv[4], bytes.fromhex(sys.argv[5]))


if __name__ == "__main__":
    main()
