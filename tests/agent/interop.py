# SPDX-License-Identifier: GPL-2.0-only
"""
Integration driver for esptag-agent (run by tests/integration/test_agent_*.sh
with /usr/bin/python3). The test plays the host: config packets on the
host-side veth, tagged frames as the data path builds them; it captures on
the wire side and checks the agent's ESP with two independent
implementations given the keys: scapy's ESP SecurityAssociation and
tshark's ESP dissector with ICV check.

  interop.py PHASE --host-ns NS --host-if IF --wire-ns NS --wire-if IF --tmp DIR
  PHASE: interop | tso | loss
"""
import argparse
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from etlib import *  # noqa: E402,F403

from scapy.all import Ether, IP, IPv6, UDP, TCP, Raw, wrpcap  # noqa: E402
from scapy.layers.ipsec import SecurityAssociation, ESP  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
failed = False


def check(name, ok, why=""):
    global failed
    if ok:
        print("PASS " + name, flush=True)
    else:
        failed = True
        print("FAIL %s: %s" % (name, why), flush=True)
    return ok


def is_esp(f, spi=None):
    try:
        e = Ether(f)
    except Exception:
        return False
    if ESP not in e:
        return False
    return spi is None or e[ESP].spi == spi


def l3(e):
    return e[IP] if IP in e else e[IPv6]


def scapy_sa(spi, key, salt, tunnel=None, esn=False, seq_hi=0):
    th = None
    if tunnel:
        s, d = tunnel
        th = IPv6(src=s, dst=d) if ":" in d else IP(src=s, dst=d)
    return SecurityAssociation(ESP, spi=spi, crypt_algo="AES-GCM", crypt_key=key + salt,
                               tunnel_header=th, esn_en=esn, esn=seq_hi)


def tshark(pcap, sas, tmp):
    """Decode pcap with tshark given the ESP SAs; returns rows of
    (spi, seq, icv_good, next_header)."""
    cfg = os.path.join(tmp, "wireshark")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(cfg, "esp_sa"), "w") as f:
        for family, spi, key, salt in sas:
            f.write('"%s","*","*","0x%08x","AES-GCM with 16 octet ICV [RFC4106]","0x%s","NULL",""\n'
                    % ("IPv6" if family == 6 else "IPv4", spi, (key + salt).hex()))
    env = dict(os.environ, XDG_CONFIG_HOME=tmp, HOME=tmp)
    out = subprocess.run(["tshark", "-n", "-r", pcap, "-o", "esp.enable_encryption_decode:TRUE",
                          "-o", "esp.enable_authentication_check:TRUE", "-T", "fields",
                          "-e", "esp.spi", "-e", "esp.sequence", "-e", "esp.icv_good",
                          "-e", "esp.protocol"], env=env, capture_output=True, text=True)
    rows = []
    for line in out.stdout.splitlines():
        p = line.split("\t")
        if len(p) >= 4 and p[0]:
            rows.append((int(p[0], 16) if p[0].startswith("0x") else int(p[0]),
                         int(p[1], 0) if p[1] else -1, p[2] in ("1", "True"),
                         int(p[3], 0) if p[3] else -1))
    return rows, out.stderr


KEYS = []


def rand_key(n):
    k = bytes(random.getrandbits(8) for _ in range(n))
    KEYS.append(k)
    return k


def setup(a):
    c = CfgClient(a.host_if, a.host_ns)
    host = Port(a.host_if, a.host_ns)
    wire = Port(a.wire_if, a.wire_ns)
    return c, host, wire

# ------------------------------------------------------------------ interop


CASES = [
    # name, mode, key length, esn, (src, dst), tunnel (outer src, dst), seq base
    ("transport-ipv4-gcm128", MODE_TRANSPORT, 16, False, ("192.0.2.10", "192.0.2.20"), None, 1),
    ("transport-ipv6-gcm256", MODE_TRANSPORT, 32, False, ("2001:db8::10", "2001:db8::20"), None,
     7),
    ("tunnel-ipv4-gcm128", MODE_TUNNEL, 16, False, ("192.0.2.10", "203.0.113.5"),
     ("198.51.100.1", "198.51.100.2"), 100),
    ("tunnel-ipv6-gcm256", MODE_TUNNEL, 32, False, ("2001:db8::10", "2001:db8:2::5"),
     ("2001:db8:1::1", "2001:db8:1::2"), 1000),
    ("tunnel-ipv4-in-ipv6-gcm128", MODE_TUNNEL, 16, False, ("192.0.2.10", "203.0.113.6"),
     ("2001:db8:1::1", "2001:db8:1::3"), 5),
    ("transport-ipv4-esn-gcm256", MODE_TRANSPORT, 32, True, ("192.0.2.10", "192.0.2.30"), None,
     (3 << 32) | 0xfffffffe),
]


def plain_frames(src_mac, src, dst):
    ipl = (lambda: IPv6(src=src, dst=dst)) if ":" in dst else (lambda: IP(src=src, dst=dst, id=7))
    pkts = [ipl() / UDP(sport=4000, dport=5000) / Raw(b""),
            ipl() / UDP(sport=4000, dport=5000) / Raw(b"esptag agent 13"[:13]),
            ipl() / UDP(sport=4000, dport=5001) / Raw(bytes(range(256)) + b"x" * 44),
            ipl() / TCP(sport=4000, dport=80, seq=1, flags="PA") / Raw(b"t" * 50)]
    return [bytes(Ether(src=src_mac, dst="02:00:5e:00:53:01") / p) for p in pkts]


def phase_interop(a):
    c, host, wire = setup(a)
    r = c.hello()
    check("hello", r is not None and r.status == 0, "no HELLO reply")
    pcap_frames, uat, want_rows = [], [], []
    for name, mode, klen, esn, (src, dst), tun, base in CASES:
        key, salt = rand_key(klen), rand_key(4)
        spi = random.randint(0x100, 0xfffffff)
        daddr, saddr = (tun[1], tun[0]) if tun else (dst, src)
        r = c.add_sa([rec_sa(DIR_OUT, daddr, spi, key, salt, c.mac, saddr=saddr, mode=mode,
                             esn=esn)])
        if not check(name + "/add_sa", r is not None and r.status == 0, repr(r)):
            continue
        idx = parse_sa(r.recs(REC_SA)[0])["sa_index"]
        plains = plain_frames(c.mac, src, dst)
        wire.drain()
        for i, p in enumerate(plains):
            host.send(tx_esp_frame(p, spi, base + i, idx, mode=mode, outer=tun, esn=esn))
        got = wire.recv(2.0, lambda f, spi=spi: is_esp(f, spi), count=len(plains))
        if not check(name + "/on_wire", len(got) == len(plains),
                     "%d of %d ESP frames on the wire" % (len(got), len(plains))):
            continue
        ok, why, seqs = True, "", []
        for i, (g, p) in enumerate(zip(got, plains)):
            e = Ether(g)
            want = bytes(l3(Ether(p)))
            esp = e[ESP]
            seq64 = struct.unpack("!Q", bytes(esp)[8:16])[0]
            seqs.append(seq64)
            if esp.seq != seq64 & 0xffffffff:
                ok, why = False, "frame %d: ESP seq %d != IV %d" % (i, esp.seq, seq64)
                break
            # Outer header consistency: lengths and IPv4 checksum.
            outer = l3(e)
            if IP in e:
                o = IP(bytes(e[IP]))
                ref = o.chksum
                del o.chksum
                if IP(bytes(o)).chksum != ref or o.len != len(g) - 14:
                    ok, why = False, "frame %d: bad outer IPv4 header" % i
                    break
            elif outer.plen != len(g) - 14 - 40:
                ok, why = False, "frame %d: bad IPv6 payload length" % i
                break
            sa = scapy_sa(spi, key, salt, tun, esn, seq64 >> 32)
            try:
                d = sa.decrypt(l3(e))
            except Exception as ex:  # ICV failure raises
                ok, why = False, "frame %d: scapy decrypt: %s" % (i, ex)
                break
            if bytes(d) != want:
                ok, why = False, "frame %d: decrypted packet differs from the plaintext" % i
                break
        check(name + "/scapy_decrypts", ok, why)
        check(name + "/seq_iv", seqs == [base + i for i in range(len(plains))],
              "sequence numbers %s" % seqs)
        if not esn:
            pcap_frames += got
            uat.append((6 if ":" in daddr else 4, spi, key, salt))
            for i in range(len(plains)):
                if mode == MODE_TUNNEL:
                    nh = 41 if ":" in dst else 4
                else:
                    nh = 17 if i < 3 else 6
                want_rows.append((spi, base + i, nh))
        # A wrong key must not decrypt it (the check can fail).
        bad = scapy_sa(spi, rand_key(klen), salt, tun, esn, (base >> 32))
        try:
            bad.decrypt(l3(Ether(got[0])))
            check(name + "/wrong_key_refused", False, "decrypted with a random key")
        except Exception:
            check(name + "/wrong_key_refused", True)
    pcap = os.path.join(a.tmp, "interop.pcap")
    wrpcap(pcap, [Ether(f) for f in pcap_frames])
    rows, err = tshark(pcap, uat, a.tmp)
    want = sorted(want_rows)
    gotr = sorted((s, q, nh) for (s, q, good, nh) in rows)
    check("tshark/all_frames_dissected", len(rows) == len(want),
          "%d rows for %d frames: %s" % (len(rows), len(want), err.strip()[:200]))
    check("tshark/icv_good", rows and all(r[2] for r in rows),
          "ICV not good in %s" % [r for r in rows if not r[2]])
    check("tshark/next_header_and_seq", gotr == want, "got %s want %s" % (gotr, want))

# ---------------------------------------------------------------------- tso


def tso_one(a, c, wire, name, family, mode, mss, seq, again=False, sa=None):
    if family == 4:
        src, dst = "192.0.2.10", "192.0.2.40"
        ipl = IP(src=src, dst=dst, id=100, flags="DF")
    else:
        src, dst = "2001:db8::10", "2001:db8::40"
        ipl = IPv6(src=src, dst=dst)
    tun = ("198.51.100.1", "198.51.100.9") if mode == MODE_TUNNEL else None
    if sa is None:
        key, salt, spi = rand_key(16), rand_key(4), random.randint(0x100, 0xfffffff)
        daddr, saddr = (tun[1], tun[0]) if tun else (dst, src)
        r = c.add_sa([rec_sa(DIR_OUT, daddr, spi, key, salt, c.mac, saddr=saddr, mode=mode)])
        if not check(name + "/add_sa", r is not None and r.status == 0, repr(r)):
            return None
        idx = parse_sa(r.recs(REC_SA)[0])["sa_index"]
        sa = (key, salt, spi, idx)
    key, salt, spi, idx = sa
    data = bytes((i * 7) & 0xff for i in range(65000))
    tcp = TCP(sport=40000, dport=5201, seq=0x10000000, ack=1, flags="FPAC", window=512)
    p = Ether(src=c.mac, dst="02:00:5e:00:53:01") / ipl / tcp / Raw(data)
    raw = bytearray(bytes(p))
    l3o = 14
    tcpo = l3o + (20 if family == 4 else 40)
    # CHECKSUM_PARTIAL: the stack leaves the pseudo-header sum in the field.
    if family == 4:
        ph = raw[l3o + 12:l3o + 20] + struct.pack("!HH", 6, len(raw) - tcpo)
    else:
        ph = raw[l3o + 8:l3o + 40] + struct.pack("!IxxxB", len(raw) - tcpo, 6)
    struct.pack_into("!H", raw, tcpo + 16, csum_fold(bytes(ph)))
    esp_off = l3o if mode == MODE_TUNNEL else tcpo
    nh = (4 if family == 4 else 41) if mode == MODE_TUNNEL else 6
    wire.drain()
    r = subprocess.run(["nsenter", "--net=/run/netns/" + a.host_ns,
                        os.path.join(BUILD, "tests", "agent", "tso_inject"), a.host_if,
                        str(idx), str(seq), str(esp_off), str(nh), str(mss)],
                       input=bytes(raw), capture_output=True)
    if not check(name + "/inject", r.returncode == 0, r.stderr.decode().strip()):
        return None
    nseg = (len(data) + mss - 1) // mss
    got = wire.recv(3.0, lambda f: is_esp(f, spi), count=nseg)
    if not check(name + "/segments", len(got) == nseg, "%d segments, want %d" % (len(got), nseg)):
        return None
    ok, why, seqs, payload = True, "", [], b""
    for i, g in enumerate(got):
        e = Ether(g)
        seq64 = struct.unpack("!Q", bytes(e[ESP])[8:16])[0]
        seqs.append(seq64)
        try:
            d = scapy_sa(spi, key, salt, tun).decrypt(l3(e))
        except Exception as ex:
            ok, why = False, "segment %d: %s" % (i, ex)
            break
        inner = d
        t = inner[TCP]
        if t.seq != (0x10000000 + i * mss) & 0xffffffff:
            ok, why = False, "segment %d: TCP seq %d" % (i, t.seq)
            break
        last = i == nseg - 1
        want_flags = (0x01 | 0x08 if last else 0) | 0x10 | (0x80 if i == 0 else 0)
        if int(t.flags) != want_flags:
            ok, why = False, "segment %d: TCP flags %#x want %#x" % (i, int(t.flags), want_flags)
            break
        ref = t.chksum
        t2 = inner.copy()
        del t2[TCP].chksum
        if (IP if family == 4 else IPv6)(bytes(t2))[TCP].chksum != ref:
            ok, why = False, "segment %d: bad TCP checksum" % i
            break
        if family == 4 and inner[IP].id != 100 + i:
            ok, why = False, "segment %d: IPv4 id %d" % (i, inner[IP].id)
            break
        seg = bytes(t.payload)
        if len(seg) != (mss if not last else len(data) - i * mss):
            ok, why = False, "segment %d: %d payload bytes" % (i, len(seg))
            break
        payload += seg
    check(name + "/scapy_segments_correct", ok, why)
    check(name + "/payload_reassembles", ok and payload == data, "payload differs")
    check(name + "/seq_unique_increasing",
          len(set(seqs)) == len(seqs) and seqs == sorted(seqs), "seqs %s" % seqs[:5])
    pcap = os.path.join(a.tmp, name.replace("/", "_") + ".pcap")
    wrpcap(pcap, [Ether(f) for f in got])
    rows, err = tshark(pcap, [(6 if tun and ":" in tun[1] else (6 if not tun and family == 6
                                                                else 4), spi, key, salt)], a.tmp)
    check(name + "/tshark_icv_good", len(rows) == nseg and all(r[2] for r in rows),
          "%d rows, bad %s %s" % (len(rows), [r for r in rows if not r[2]][:3], err[:200]))
    return sa, seqs


def phase_tso(a):
    c, host, wire = setup(a)
    r = tso_one(a, c, wire, "tso-ipv4-transport", 4, MODE_TRANSPORT, 1400, 10)
    if r:
        sa, seqs = r
        check("tso-ipv4-transport/first_seq", seqs[0] == 10, "first %d" % seqs[0])
        # The host re-uses numbers (e.g. a stale sequence): IVDB moves it on.
        r2 = tso_one(a, c, wire, "tso-ivdb-reuse", 4, MODE_TRANSPORT, 1400, 10, sa=sa)
        if r2:
            check("tso-ivdb-reuse/continues_after_ivdb", r2[1][0] == seqs[-1] + 1,
                  "first %d after %d" % (r2[1][0], seqs[-1]))
    tso_one(a, c, wire, "tso-ipv6-transport", 6, MODE_TRANSPORT, 1300, 1)
    tso_one(a, c, wire, "tso-ipv4-tunnel", 4, MODE_TUNNEL, 1400, 1)
    cnt = c.counters()
    check("tso/counter_segments", cnt.get("tx_segments", 0) >= 47 * 3, "counters %s" % cnt)

# --------------------------------------------------------------------- loss


def phase_loss(a):
    """Agent started with --test-drop-config: it drops a share of requests;
    the client also loses a share of replies. Identical retransmissions must
    leave exactly one SA per request."""
    c, host, wire = setup(a)
    rnd = random.Random(4106)
    n, spis, idx_seen = 30, [], {}
    while c.version is None:    # the version (and the agent's key) first, lossless
        c.hello()
    orig_wait = c.wait

    def lossy_wait(msg_id, timeout=1.0, src=None):
        r = orig_wait(msg_id, timeout, src)
        if r is not None and rnd.random() < 0.3:
            return None  # reply "lost": the client retransmits
        return r
    c.wait = lossy_wait
    failed_req = 0
    for i in range(n):
        spi = 0x5000 + i
        recs = [rec_sa(DIR_OUT, "192.0.2.%d" % (50 + i), spi, rand_key(16), rand_key(4), c.mac,
                       saddr="192.0.2.10")]
        mid = c.next_id()
        if c.version >= 2:
            recs = wrap_sas(recs, c.agent_key, 0, mid)
        r = c.request(OP["ADD_SA"], recs, 0, msg_id=mid, tries=10, timeout=0.05)
        if r is None or r.status != 0:
            failed_req += 1
            continue
        spis.append(spi)
        idx_seen[spi] = parse_sa(r.recs(REC_SA)[0])["sa_index"]
    c.wait = orig_wait
    check("loss/all_requests_answered", failed_req == 0, "%d requests failed" % failed_req)
    sas = c.dump(0)
    got = sorted(s["spi"] for s in sas)
    check("loss/exactly_one_sa_each", got == sorted(spis),
          "%d SAs in the SAD for %d requests" % (len(got), len(spis)))
    check("loss/indices_match_replies",
          all(idx_seen.get(s["spi"]) == s["sa_index"] for s in sas), "index mismatch")
    cnt = c.counters()
    check("loss/requests_were_dropped", cnt.get("cfg_dropped", 0) > 0, "counters %s" % cnt)
    check("loss/duplicates_from_cache", cnt.get("cfg_dup", 0) > 0, "counters %s" % cnt)
    check("loss/keys_never_echoed", all(s["key"] == bytes(32) and s["salt"] == bytes(4)
                                        for s in sas), "key bytes in DUMP_SA")


def phase_hello(a):
    c = CfgClient(a.host_if, a.host_ns)
    r = c.hello()
    if check("hello/reply", r is not None and r.status == 0, repr(r)):
        print("EPOCH %016x" % parse_caps(r.recs(REC_CAPS)[0])["epoch"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("phase", choices=["interop", "tso", "loss", "hello"])
    ap.add_argument("--host-ns")
    ap.add_argument("--host-if", required=True)
    ap.add_argument("--wire-ns")
    ap.add_argument("--wire-if", required=True)
    ap.add_argument("--tmp", required=True)
    a = ap.parse_args()
    random.seed()
    {"interop": phase_interop, "tso": phase_tso, "loss": phase_loss, "hello": phase_hello}[a.phase](a)
    # Key bytes handed to the agent, for the caller's "never logged" check.
    with open(os.path.join(a.tmp, "keys-%s.txt" % a.phase), "w") as f:
        for k in KEYS:
            f.write(k.hex() + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
