# SPDX-License-Identifier: GPL-2.0-only
"""
esptag agent conformance suite.

Drives any agent reachable through an interface pair -- the test side's end
of the agent's host-side link and of its wire-side link -- with config
packets and test frames, and prints one PASS/FAIL/SKIP line per protocol
requirement of docs/protocol.md. The crypto oracle is scapy's ESP
implementation, independent of the agent.

  /usr/bin/python3 conformance.py --host-if IF [--host-ns NS] --wire-if IF [--wire-ns NS]
                                  [--version 1|2]
  (or: make conformance AGENT_IF=... AGENT_WIRE_IF=... [AGENT_HOST_NS=... AGENT_WIRE_NS=...])

The suite uses SAD ports 0x0e00..0x0e03 and flushes them before and after.
It needs quota checks to be feasible: with a port_limit above 64 (HELLO) the
quota requirement is skipped. Exit status 1 if any requirement failed.

Every requirement runs in one config protocol version: --version, else the
highest both the agent and the suite speak. In version 2 every ADD_SA
carries wrapped keys (docs/protocol.md 1.10), and the cfg.v2.* requirements
check the wrap itself; run the suite once per version the agent speaks
(esptag-agent speaks version 1 only with --allow-v1).
"""
import argparse
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from etlib import *  # noqa: E402,F403

from scapy.all import Ether, IP, IPv6, UDP, Dot1Q, Raw  # noqa: E402
from scapy.layers.ipsec import SecurityAssociation, ESP  # noqa: E402

P0, P1, P2, P3 = 0x0e00, 0x0e01, 0x0e02, 0x0e03
SUITE_V = [1]   # the version of this run (requests but HELLO)
_cfg_payload = cfg_payload


def cfg_payload(op, msg_id, port, recs=(), **kw):   # noqa: F811
    """etlib's, in the version of this run (HELLO: always 1)."""
    if op != OP["HELLO"]:
        kw.setdefault("version", SUITE_V[0])
    return _cfg_payload(op, msg_id, port, recs, **kw)
PEER_MAC = "02:00:5e:00:53:99"
results = {"PASS": 0, "FAIL": 0, "SKIP": 0}


def report(kind, name, why=""):
    results[kind] += 1
    print("%s %s%s" % (kind, name, (": " + why) if why and kind != "PASS" else ""), flush=True)


class Skip(Exception):
    pass


def req(name):
    """Decorator: one protocol requirement; assertion failures become FAIL."""
    def wrap(fn):
        def run(self):
            try:
                fn(self)
                report("PASS", name)
            except Skip as e:
                report("SKIP", name, str(e))
            except AssertionError as e:
                report("FAIL", name, str(e) or "assertion failed")
            except Exception as e:  # a crash of the suite is a failure too
                report("FAIL", name, "%s: %s" % (type(e).__name__, e))
        run.req_name = name
        return run
    return wrap


def rk(n):
    return bytes(random.getrandbits(8) for _ in range(n))


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Suite:
    def __init__(self, a):
        self.c = CfgClient(a.host_if, a.host_ns)
        self.host = Port(a.host_if, a.host_ns)
        self.wire = Port(a.wire_if, a.wire_ns)
        self.wire_cfg = CfgClient(a.wire_if, a.wire_ns)
        self.mac = self.c.mac
        self.spi = random.randint(0x10000, 0x7fffffff)
        self.caps = None
        r = self.c.hello(P0, 1, 2)
        c = parse_caps(r.recs(REC_CAPS)[0]) if r and r.status == 0 else None
        self.agent_caps = c
        self.v = a.version or (min(2, c["version_max"]) if c else 1)
        self.c.version = self.v
        SUITE_V[0] = self.v
        print("INFO config protocol version %d (agent speaks %s)" % (
            self.v, "%d..%d" % (c["version_min"], c["version_max"]) if c else "?"), flush=True)

    # ------------------------------------------------------------ helpers
    def nspi(self):
        self.spi += 1
        return self.spi

    def ok(self, r, what):
        expect(r is not None, "%s: no reply" % what)
        expect(r.status == 0, "%s: status %s (err_index %d)" % (what, ST_NAME.get(r.status),
                                                                  r.err_index))
        return r

    def wrapped(self, recs, port, msg_id):
        """ADD_SA records of this run's version: version 2 wraps the keys."""
        if self.v < 2:
            return recs
        return wrap_sas(recs, self.c.agent_key, port, msg_id)

    def addreq(self, recs, port=P0, msg_id=None, **kw):
        """An ADD_SA request of SA request records (rec_sa, keys in them)."""
        mid = msg_id or self.c.next_id()
        return self.c.request(OP["ADD_SA"], self.wrapped(recs, port, mid), port, msg_id=mid, **kw)

    def add(self, recs, port=P0):
        r = self.ok(self.addreq(recs, port), "ADD_SA")
        return [parse_sa(x)["sa_index"] for x in r.recs(REC_SA)]

    def out_sa(self, daddr="192.0.2.20", saddr="192.0.2.10", mac=None, port=P0, **kw):
        key, salt, spi = rk(16), rk(4), self.nspi()
        idx = self.add([rec_sa(DIR_OUT, daddr, spi, key, salt, mac or self.mac, saddr=saddr,
                               **kw)], port)[0]
        return dict(idx=idx, spi=spi, key=key, salt=salt)

    def in_sa(self, daddr="192.0.2.10", mac=None, port=P0, spi=None, key=None, **kw):
        key, salt, spi = key or rk(16), rk(4), spi or self.nspi()
        idx = self.add([rec_sa(DIR_IN, daddr, spi, key, salt, mac or self.mac, **kw)], port)[0]
        return dict(idx=idx, spi=spi, key=key, salt=salt)

    def dump_count(self, port):
        return len(self.c.dump(port))

    def plain(self, src="192.0.2.10", dst="192.0.2.20", payload=b"conformance", vlan=None,
              smac=None, dmac="02:00:5e:00:53:01"):
        e = Ether(src=smac or self.mac, dst=dmac)
        if vlan is not None:
            e = e / Dot1Q(vlan=vlan)
        ip = IPv6(src=src, dst=dst) if ":" in dst else IP(src=src, dst=dst, id=1)
        return bytes(e / ip / UDP(sport=1234, dport=4321) / Raw(payload))

    def wire_frames(self, pred, timeout=1.0, count=None):
        return self.wire.recv(timeout, pred, count)

    def host_frames(self, pred, timeout=1.0, count=None):
        return self.host.recv(timeout, pred, count)

    def esp_on_wire(self, spi, timeout=1.0, count=1):
        def p(f):
            try:
                e = Ether(f)
                return ESP in e and e[ESP].spi == spi
            except Exception:
                return False
        return self.wire_frames(p, timeout, count)

    def send_tx(self, plain, sa, seq, **kw):
        self.wire.drain()
        self.host.send(tx_esp_frame(plain, sa["spi"], seq, sa["idx"], **kw))

    def scapy_sa(self, sa, tunnel=None, esn=False, hi=0, seq=1):
        return SecurityAssociation(ESP, spi=sa["spi"], crypt_algo="AES-GCM",
                                   crypt_key=sa["key"] + sa["salt"], tunnel_header=tunnel,
                                   esn_en=esn, esn=hi, seq_num=seq)

    def rx_tagged(self, timeout=1.0):
        return self.host_frames(lambda f: ethertype(f) == ETH_P_META, timeout, 1)

    def wire_esp(self, sa, dst_mac, src="192.0.2.20", dst="192.0.2.10", seq=1, esn=False,
                 hi=0, payload=b"from the wire", vlan=None, key=None):
        s = dict(sa)
        if key:
            s["key"] = key
        ip = IP(src=src, dst=dst, id=9) / UDP(sport=4321, dport=1234) / Raw(payload)
        enc = self.scapy_sa(s, esn=esn, hi=hi, seq=seq).encrypt(ip)
        e = Ether(src=PEER_MAC, dst=dst_mac)
        if vlan is not None:
            e = e / Dot1Q(vlan=vlan)
        return bytes(e / enc), bytes(ip[UDP])

    # ------------------------------------------------------------ config
    @req("cfg.hello.caps")
    def t_hello(self):
        r = self.ok(self.c.hello(P0), "HELLO")
        caps = r.recs(REC_CAPS)
        expect(len(caps) == 1, "HELLO reply has %d CAPS records" % len(caps))
        c = parse_caps(caps[0])
        expect(c["version_min"] <= self.v <= c["version_max"], "versions %s" % c)
        expect(c["alg_mask"] & (1 << ALG_GCM128) and c["alg_mask"] & (1 << ALG_GCM256),
               "alg_mask %#x lacks AES-GCM-128/256" % c["alg_mask"])
        expect(c["epoch"] != 0, "epoch 0")
        expect(c["sad_capacity"] > 0 and c["port_limit"] > 0, "no capacity")
        expect(c["max_payload"] >= 1500, "max_payload %d" % c["max_payload"])
        self.caps = c

    @req("cfg.reply.addressing")
    def t_addressing(self):
        mid = self.c.next_id()
        self.c.raw(cfg_payload(OP["HELLO"], mid, P1, [rec_caps()]))
        r = self.c.wait(mid)
        expect(r is not None, "no reply")
        f = r.frame
        expect(f[0:6] == self.mac, "reply dst %s is not the request src" % f[0:6].hex())
        expect(f[6:12] == AGENT_MAC, "reply src %s is not the agent MAC" % f[6:12].hex())
        expect(r.flags & F_REPLY, "F_REPLY not set")
        expect((r.opcode, r.port, r.msg_id) == (OP["HELLO"], P1, mid), "opcode/port/msg_id")
        expect(r.err_index == ERR_NONE, "err_index %#x on success" % r.err_index)

    @req("cfg.request.any_dst_mac")
    def t_any_dst(self):
        mid = self.c.next_id()
        self.c.raw(cfg_payload(OP["HELLO"], mid, P0, [rec_caps()]), dst="ff:ff:ff:ff:ff:ff")
        expect(self.c.wait(mid) is not None, "no reply to a broadcast request")
        mid = self.c.next_id()
        self.c.raw(cfg_payload(OP["HELLO"], mid, P0, [rec_caps()]), dst="02:00:5e:00:53:42")
        expect(self.c.wait(mid) is not None, "no reply to a request for another MAC")

    @req("cfg.version.bad_version")
    def t_bad_version(self):
        mid = self.c.next_id()
        self.c.raw(cfg_payload(OP["HELLO"], mid, P0, [rec_caps(3, 3)], version=3))
        r = self.c.wait(mid)
        expect(r is not None, "no reply")
        expect(r.status == ST["BAD_VERSION"], "status %s" % ST_NAME.get(r.status))
        top = self.agent_caps["version_max"] if self.agent_caps else 1
        expect(r.version == top, "reply version %d, want the agent's highest (%d)" % (
            r.version, top))
        expect(len(r.recs(REC_CAPS)) == 1 and r.count == 1, "no CAPS record")
        expect(len(r.recs(REC_CAPS)[0]) == 40, "a BAD_VERSION reply's CAPS is 40 bytes")

    @req("cfg.opcode.unknown")
    def t_bad_opcode(self):
        mid = self.c.next_id()
        self.c.raw(cfg_payload(0x7f, mid, P0, []))
        r = self.c.wait(mid)
        expect(r is not None, "no reply")
        expect(r.status == ST["BAD_OPCODE"] and r.opcode == 0x7f, "status/opcode %r" % r)
        expect(r.count == 0 and r.length == 0, "records in a BAD_OPCODE reply")

    @req("cfg.short.silent")
    def t_short(self):
        mid = self.c.next_id()
        short = mac_bytes(AGENT_MAC) + self.mac + struct.pack("!H", ETH_P_CFG)
        # Unpadded: veth carries frames below 60 bytes.
        self.c.port.send(short + cfg_payload(OP["HELLO"], mid, P0, [])[:12])
        expect(self.c.wait(mid, 0.5) is None, "a payload shorter than the header was answered")

    @req("cfg.malformed.length")
    def t_malformed_len(self):
        mid = self.c.next_id()
        self.c.raw(cfg_payload(OP["DEL_SA"], mid, P0, [rec_ref(1)], length=12))
        r = self.c.wait(mid)
        expect(r is not None and r.status == ST["MALFORMED"], "reply %r" % r)
        expect(r.count == 0, "records in an error reply")

    @req("cfg.malformed.err_index")
    def t_malformed_idx(self):
        mid = self.c.next_id()
        bad = struct.pack("!BBHI", 0x66, 0, 8, 0)  # unknown record type
        self.c.raw(cfg_payload(OP["DEL_SA"], mid, P0, [rec_ref(1), rec_ref(2), bad]))
        r = self.c.wait(mid)
        expect(r is not None and r.status == ST["MALFORMED"], "reply %r" % r)
        expect(r.err_index == 2, "err_index %d, want 2" % r.err_index)

    @req("cfg.add_sa.bad_record")
    def t_bad_record(self):
        n = self.dump_count(P0)
        good = rec_sa(DIR_OUT, "192.0.2.21", self.nspi(), rk(16), rk(4), self.mac)
        bad = bytearray(rec_sa(DIR_OUT, "192.0.2.21", self.nspi(), rk(16), rk(4), self.mac))
        bad[4] = 9  # dir
        r = self.addreq([good, bytes(bad)], P0)
        expect(r is not None and r.status == ST["BAD_RECORD"], "reply %r" % r)
        expect(r.err_index == 1, "err_index %d, want 1" % r.err_index)
        expect(self.dump_count(P0) == n, "a failed batch changed the SAD")

    @req("cfg.add_sa.bad_alg")
    def t_bad_alg(self):
        rec = rec_sa(DIR_OUT, "192.0.2.21", self.nspi(), rk(16), rk(4), self.mac,
                     alg=ALG_GCM256)  # 16-byte key with AES-256
        r = self.addreq([rec], P0)
        expect(r is not None and r.status == ST["BAD_ALG"] and r.err_index == 0, "reply %r" % r)

    @req("cfg.add_sa.batch_echo")
    def t_batch(self):
        recs = [rec_sa(DIR_OUT, "192.0.2.%d" % (30 + i), self.nspi(), rk(16 if i % 2 else 32),
                       rk(4), self.mac, saddr="192.0.2.10") for i in range(3)]
        r = self.ok(self.addreq(recs, P0), "ADD_SA")
        sas = [parse_sa(x) for x in r.recs(REC_SA)]
        expect(len(sas) == 3, "%d records echoed" % len(sas))
        for req_rec, got in zip(recs, sas):
            want = parse_sa(req_rec)
            expect(got["spi"] == want["spi"] and got["daddr"] == want["daddr"], "order/content")
            expect(got["key"] == bytes(32) and got["salt"] == bytes(4), "key bytes echoed")
            expect(got["sa_index"] != SA_NONE, "sa_index not filled")
            if self.caps:
                expect(got["sa_index"] < self.caps["sad_capacity"], "index beyond capacity")
        expect(len({s["sa_index"] for s in sas}) == 3, "indices not distinct")

    @req("cfg.add_sa.all_or_nothing_duplicate")
    def t_dup_existing(self):
        spi = self.nspi()
        self.add([rec_sa(DIR_OUT, "192.0.2.40", spi, rk(16), rk(4), self.mac)])
        n = self.dump_count(P0)
        recs = [rec_sa(DIR_OUT, "192.0.2.41", self.nspi(), rk(16), rk(4), self.mac),
                rec_sa(DIR_OUT, "192.0.2.42", self.nspi(), rk(16), rk(4), self.mac),
                rec_sa(DIR_OUT, "192.0.2.40", spi, rk(16), rk(4), self.mac)]
        r = self.addreq(recs, P0)
        expect(r is not None and r.status == ST["DUPLICATE"], "reply %r" % r)
        expect(r.err_index == 2 and r.count == 0, "err_index %d count %d" % (r.err_index, r.count))
        expect(self.dump_count(P0) == n, "part of a failed batch was applied")

    @req("cfg.add_sa.duplicate_in_batch")
    def t_dup_batch(self):
        spi = self.nspi()
        a = rec_sa(DIR_IN, "192.0.2.10", spi, rk(16), rk(4), self.mac)
        b = rec_sa(DIR_IN, "192.0.2.10", spi, rk(16), rk(4), self.mac)
        r = self.addreq([a, b], P0)
        expect(r is not None and r.status == ST["DUPLICATE"] and r.err_index == 1, "reply %r" % r)

    @req("cfg.add_sa.extended_key_domains")
    def t_ext_key(self):
        spi = self.nspi()
        a = rec_sa(DIR_IN, "192.0.2.10", spi, rk(16), rk(4), "02:00:5e:00:53:a1")
        b = rec_sa(DIR_IN, "192.0.2.10", spi, rk(16), rk(4), "02:00:5e:00:53:a2")
        c = rec_sa(DIR_IN, "192.0.2.10", spi, rk(16), rk(4), "02:00:5e:00:53:a1",
                   vlans=[(0x8100, 100)])
        d = rec_sa(DIR_OUT, "192.0.2.10", spi, rk(16), rk(4), "02:00:5e:00:53:a1")
        self.ok(self.addreq([a, b, c, d], P0),
                "same (dst, spi) in other MAC/VLAN domains and directions")

    @req("cfg.add_sa.port_limit")
    def t_port_limit(self):
        if not self.caps or self.caps["port_limit"] > 64:
            raise Skip("port_limit %s too large to exhaust" % (self.caps or {}).get("port_limit"))
        self.ok(self.c.request(OP["FLUSH_PORT"], [], P3), "FLUSH_PORT")
        lim = self.caps["port_limit"]
        recs = [rec_sa(DIR_IN, "192.0.2.10", self.nspi(), rk(16), rk(4), self.mac)
                for _ in range(lim - 1)]
        for i in range(0, len(recs), 7):
            self.ok(self.addreq(recs[i:i + 7], P3), "fill")
        two = [rec_sa(DIR_IN, "192.0.2.10", self.nspi(), rk(16), rk(4), self.mac)
               for _ in range(2)]
        r = self.addreq(two, P3)
        expect(r is not None and r.status == ST["PORT_LIMIT"], "reply %r" % r)
        expect(r.err_index == 1, "err_index %d, want 1 (the first record over)" % r.err_index)
        expect(self.dump_count(P3) == lim - 1, "a refused batch was applied")
        self.ok(self.addreq(two[:1], P3), "the last slot")
        r = self.c.request(OP["HELLO"], [rec_caps()], P3)
        expect(parse_caps(r.recs(REC_CAPS)[0])["port_used"] == lim, "port_used")
        # Another port is not limited by this one.
        self.ok(self.addreq([rec_sa(DIR_IN, "192.0.2.10", self.nspi(), rk(16),
                                                     rk(4), self.mac)], P2), "other port")
        self.ok(self.c.request(OP["FLUSH_PORT"], [], P3), "FLUSH_PORT")

    @req("cfg.add_sa.no_space")
    def t_no_space(self):
        r = self.ok(self.c.hello(P0), "HELLO")
        c = parse_caps(r.recs(REC_CAPS)[0])
        free = c["sad_capacity"] - c["sad_used"]
        if free > 64 or free > 3 * c["port_limit"]:
            raise Skip("%d free SAD entries: too many to exhaust" % free)
        for p in (P0, P1, P2):
            n = min(free, c["port_limit"])
            recs = [rec_sa(DIR_IN, "192.0.2.10", self.nspi(), rk(16), rk(4), self.mac)
                    for _ in range(n)]
            for i in range(0, n, 7):
                self.ok(self.addreq(recs[i:i + 7], p), "fill")
            free -= n
        expect(free == 0, "could not fill the SAD")
        rec = rec_sa(DIR_IN, "192.0.2.10", self.nspi(), rk(16), rk(4), self.mac)
        r = self.addreq([rec], P3)
        expect(r is not None and r.status == ST["NO_SPACE"] and r.err_index == 0,
               "reply %r" % r)
        r = self.ok(self.c.hello(P3), "HELLO")
        c2 = parse_caps(r.recs(REC_CAPS)[0])
        expect(c2["sad_used"] == c2["sad_capacity"], "sad_used %d" % c2["sad_used"])
        self.ok(self.c.request(OP["FLUSH_PORT"], [], P1), "FLUSH_PORT")
        self.ok(self.addreq([rec], P3), "ADD_SA after room was made")

    @req("cfg.del_sa.ownership_all_or_nothing")
    def t_del(self):
        a = self.out_sa(port=P1)
        b = self.out_sa(port=P1)
        other = self.out_sa(port=P2)
        r = self.c.request(OP["DEL_SA"], [rec_ref(a["idx"]), rec_ref(other["idx"])], P1)
        expect(r is not None and r.status == ST["UNKNOWN_SA"] and r.err_index == 1,
               "another port's SA: reply %r" % r)
        r = self.c.request(OP["DEL_SA"], [rec_ref(a["idx"]), rec_ref(0xfffffff0)], P1)
        expect(r is not None and r.status == ST["UNKNOWN_SA"] and r.err_index == 1,
               "unknown index: reply %r" % r)
        idx = {s["sa_index"] for s in self.c.dump(P1)}
        expect(a["idx"] in idx and b["idx"] in idx, "a refused DEL_SA deleted something")
        r = self.ok(self.c.request(OP["DEL_SA"], [rec_ref(a["idx"]), rec_ref(b["idx"])], P1),
                    "DEL_SA")
        expect(r.recs(REC_SA_REF) == [rec_ref(a["idx"]), rec_ref(b["idx"])], "echo")
        idx = {s["sa_index"] for s in self.c.dump(P1)}
        expect(a["idx"] not in idx and b["idx"] not in idx, "not deleted")
        expect(other["idx"] in {s["sa_index"] for s in self.c.dump(P2)}, "other port touched")

    @req("cfg.reply_cache.duplicate_not_reexecuted")
    def t_cache(self):
        n = self.dump_count(P0)
        mid = self.c.next_id()
        pl = cfg_payload(OP["ADD_SA"], mid, P0, self.wrapped([rec_sa(
            DIR_OUT, "192.0.2.60", self.nspi(), rk(16), rk(4), self.mac)], P0, mid))
        self.c.raw(pl)
        r1 = self.c.wait(mid)
        expect(r1 is not None and r1.status == 0, "first: %r" % r1)
        retry = bytearray(pl)
        retry[2] |= F_RETRY
        self.c.raw(bytes(retry))
        r2 = self.c.wait(mid)
        expect(r2 is not None, "no reply to the retransmission")
        expect(r2.frame == r1.frame, "the retransmission got a different reply")
        expect(self.dump_count(P0) == n + 1, "executed twice")

    @req("cfg.reply_cache.same_id_other_request_executed")
    def t_cache_other_request(self):
        n = self.dump_count(P0)
        mid = self.c.next_id()
        s1, s2 = self.nspi(), self.nspi()
        self.c.raw(cfg_payload(OP["ADD_SA"], mid, P0, self.wrapped([rec_sa(
            DIR_OUT, "192.0.2.61", s1, rk(16), rk(4), self.mac)], P0, mid)))
        r1 = self.c.wait(mid)
        expect(r1 is not None and r1.status == 0, "first: %r" % r1)
        # The same msg_id, port and opcode with another SA: a new request.
        self.c.raw(cfg_payload(OP["ADD_SA"], mid, P0, self.wrapped([rec_sa(
            DIR_OUT, "192.0.2.61", s2, rk(16), rk(4), self.mac)], P0, mid)))
        r2 = self.c.wait(mid)
        expect(r2 is not None and r2.status == 0, "second: %r" % r2)
        sas = [parse_sa(r) for r in r2.recs(REC_SA)]
        expect(len(sas) == 1 and sas[0]["spi"] == s2,
               "answered with the reply to the other request: %r" % sas)
        expect(self.dump_count(P0) == n + 2, "the second request was not executed")
        for r in (r1, r2):
            for sa in [parse_sa(x) for x in r.recs(REC_SA)]:
                self.c.request(OP["DEL_SA"], [rec_ref(sa["sa_index"])], P0)

    @req("cfg.reply.not_answered")
    def t_reply_flag(self):
        mid = self.c.next_id()
        self.c.raw(cfg_payload(OP["HELLO"], mid, P0, [rec_caps()], flags=F_REPLY))
        expect(self.c.wait(mid, 0.5) is None, "a frame with F_REPLY was answered")

    @req("cfg.flush_port.exact")
    def t_flush(self):
        self.out_sa(port=P1)
        self.out_sa(port=P1)
        keep = self.out_sa(port=P2)
        r = self.ok(self.c.request(OP["FLUSH_PORT"], [], P1), "FLUSH_PORT")
        expect(r.count == 0, "records in a FLUSH_PORT reply")
        expect(self.dump_count(P1) == 0, "SAs left on the flushed port")
        expect(keep["idx"] in {s["sa_index"] for s in self.c.dump(P2)}, "other port flushed")
        self.ok(self.c.request(OP["FLUSH_PORT"], [], P1), "FLUSH_PORT of an empty port")

    @req("cfg.dump_sa.paging")
    def t_dump(self):
        self.ok(self.c.request(OP["FLUSH_PORT"], [], P1), "FLUSH_PORT")
        want = set()
        for _ in range(3):
            recs = [rec_sa(DIR_OUT, "192.0.2.70", self.nspi(), rk(16), rk(4), self.mac)
                    for _ in range(5)]
            r = self.ok(self.addreq(recs, P1), "ADD_SA")
            want |= {parse_sa(x)["sa_index"] for x in r.recs(REC_SA)}
        seen, cur, pages = [], 0, 0
        while True:
            r = self.ok(self.c.request(OP["DUMP_SA"], [rec_cursor(cur)], P1), "DUMP_SA")
            expect(len(r.frame) - 14 <= 1500, "reply payload over 1500 bytes")
            pages += 1
            for x in r.recs(REC_SA):
                s = parse_sa(x)
                expect(s["key"] == bytes(32) and s["salt"] == bytes(4), "key bytes in DUMP_SA")
                seen.append(s["sa_index"])
            if not r.flags & F_MORE:
                expect(not r.recs(REC_CURSOR), "CURSOR without F_MORE")
                break
            curs = r.recs(REC_CURSOR)
            expect(len(curs) == 1 and r.records[-1][0] == REC_CURSOR, "F_MORE without CURSOR")
            cur = struct.unpack("!I", curs[0][4:8])[0]
            expect(pages < 100, "endless paging")
        expect(pages >= 2, "15 SAs of 108 bytes in one page of 1500")
        expect(seen == sorted(seen) and set(seen) == want and len(seen) == len(want),
               "dump %s != added %s" % (sorted(seen), sorted(want)))
        self.ok(self.c.request(OP["FLUSH_PORT"], [], P1), "FLUSH_PORT")

    @req("cfg.get_stats")
    def t_stats(self):
        a = self.out_sa(port=P1)
        other = self.out_sa(port=P2)
        r = self.ok(self.c.request(OP["GET_STATS"], [rec_ref(a["idx"])], P1), "GET_STATS")
        st = r.recs(REC_SA_STATS)
        expect(len(st) == 1 and parse_stats(st[0])["sa_index"] == a["idx"], "SA_STATS")
        r = self.c.request(OP["GET_STATS"], [rec_ref(a["idx"]), rec_ref(other["idx"])], P1)
        expect(r is not None and r.status == ST["UNKNOWN_SA"] and r.err_index == 1,
               "another port's SA: %r" % r)
        r = self.ok(self.c.request(OP["GET_STATS"], [], P1), "GET_STATS counters")
        ids = sorted(struct.unpack("!H", c[4:6])[0] for c in r.recs(REC_COUNTER))
        expect(ids == list(range(len(AC))), "counter ids %s" % ids)

    @req("cfg.local.add_del")
    def t_local(self):
        rec = rec_local("192.0.2.80", "02:00:5e:00:53:80")
        self.ok(self.c.request(OP["ADD_LOCAL"], [rec], P1), "ADD_LOCAL")
        r = self.c.request(OP["ADD_LOCAL"], [rec], P1)
        expect(r is not None and r.status == ST["DUPLICATE"] and r.err_index == 0, "dup %r" % r)
        r = self.c.request(OP["DEL_LOCAL"], [rec, rec_local("192.0.2.81", "02:00:5e:00:53:80")],
                           P1)
        expect(r is not None and r.status == ST["UNKNOWN_LOCAL"] and r.err_index == 1,
               "unknown %r" % r)
        r = self.c.request(OP["DEL_LOCAL"], [rec], P2)
        expect(r is not None and r.status == ST["UNKNOWN_LOCAL"], "another port's %r" % r)
        self.ok(self.c.request(OP["DEL_LOCAL"], [rec], P1), "DEL_LOCAL")

    @req("cfg.wire_side.never_obeyed")
    def t_wire_cfg(self):
        n = self.dump_count(P0)
        self.host.drain()
        mid = self.c.next_id()
        pl = cfg_payload(OP["ADD_SA"], mid, P0, self.wrapped([rec_sa(
            DIR_OUT, "192.0.2.90", self.nspi(), rk(16), rk(4), self.mac)], P0, mid))
        self.wire_cfg.raw(pl)
        expect(self.wire_cfg.wait(mid, 0.5) is None, "answered on the wire side")
        expect(not self.host_frames(lambda f: ethertype(f) == ETH_P_CFG, 0.3),
               "wire config reached the host side")
        expect(self.dump_count(P0) == n, "wire-side config changed the SAD")

    @req("cfg.sa_index.reused")
    def t_reuse(self):
        a = self.out_sa(port=P1)
        self.ok(self.c.request(OP["DEL_SA"], [rec_ref(a["idx"])], P1), "DEL_SA")
        b = self.out_sa(port=P1)
        expect(self.caps is None or b["idx"] < self.caps["sad_capacity"], "index too large")
        self.ok(self.c.request(OP["DEL_SA"], [rec_ref(b["idx"])], P1), "DEL_SA")

    # ------------------------------------------------------------ Tx
    def tx_check(self, sa, plain, seq, tunnel=None, mode=MODE_TRANSPORT, outer=None):
        self.send_tx(plain, sa, seq, mode=mode, outer=outer)
        got = self.esp_on_wire(sa["spi"])
        expect(len(got) == 1, "%d ESP frames on the wire" % len(got))
        e = Ether(got[0])
        expect(ethertype(got[0]) in (0x0800, 0x86DD), "tag not stripped")
        iv = struct.unpack("!Q", bytes(e[ESP])[8:16])[0]
        expect(iv == seq and e[ESP].seq == seq & 0xffffffff, "IV %d / seq %d for %d" %
               (iv, e[ESP].seq, seq))
        ip = e[IP] if IP in e else e[IPv6]
        d = self.scapy_sa(sa, tunnel).decrypt(ip)
        want = Ether(plain)
        want = want[IP] if IP in want else want[IPv6]
        expect(bytes(d) == bytes(want), "decrypted packet differs")
        return e

    @req("tx.esp.transport_ipv4")
    def t_tx4(self):
        sa = self.out_sa()
        self.tx_check(sa, self.plain(payload=b"x" * 37), 1)

    @req("tx.esp.transport_ipv6_gcm256")
    def t_tx6(self):
        key, salt, spi = rk(32), rk(4), self.nspi()
        idx = self.add([rec_sa(DIR_OUT, "2001:db8::20", spi, key, salt, self.mac,
                               saddr="2001:db8::10")])[0]
        sa = dict(idx=idx, spi=spi, key=key, salt=salt)
        self.tx_check(sa, self.plain("2001:db8::10", "2001:db8::20"), 3)

    @req("tx.esp.tunnel_ipv6")
    def t_tx_tun(self):
        sa = self.out_sa("2001:db8:1::2", "2001:db8:1::1", mode=MODE_TUNNEL)
        self.tx_check(sa, self.plain("2001:db8::10", "2001:db8:2::5"), 2,
                      tunnel=IPv6(src="2001:db8:1::1", dst="2001:db8:1::2"), mode=MODE_TUNNEL,
                      outer=("2001:db8:1::1", "2001:db8:1::2"))

    @req("tx.ivdb.rewrites_stale_seq")
    def t_ivdb(self):
        sa = self.out_sa()
        self.tx_check(sa, self.plain(), 5)
        self.send_tx(self.plain(payload=b"again"), sa, 3)
        got = self.esp_on_wire(sa["spi"])
        expect(len(got) == 1, "frame with a stale sequence number not sent")
        e = Ether(got[0])
        iv = struct.unpack("!Q", bytes(e[ESP])[8:16])[0]
        expect(e[ESP].seq == 6 and iv == 6, "seq %d IV %d, want 6 (IVDB)" % (e[ESP].seq, iv))
        self.scapy_sa(sa).decrypt(e[IP])

    @req("tx.domain.foreign_index_refused")
    def t_tx_domain(self):
        mine = self.out_sa()
        theirs = self.out_sa(mac="02:00:5e:00:53:b2", port=P1)
        before = self.c.sa_stats(theirs["idx"], P1)["domain_reject"]
        self.send_tx(self.plain(), theirs, 1)
        expect(not self.esp_on_wire(theirs["spi"], 0.5), "sent with another domain's SA")
        after = self.c.sa_stats(theirs["idx"], P1)["domain_reject"]
        expect(after == before + 1, "domain_reject %d -> %d" % (before, after))
        self.tx_check(mine, self.plain(), 1)

    @req("tx.domains.same_spi_two_domains")
    def t_tx_two_domains(self):
        spi = self.nspi()
        m1, m2 = "02:00:5e:00:53:c1", "02:00:5e:00:53:c2"
        k1, k2, s1, s2 = rk(16), rk(16), rk(4), rk(4)
        i1 = self.add([rec_sa(DIR_OUT, "192.0.2.20", spi, k1, s1, m1)])[0]
        i2 = self.add([rec_sa(DIR_OUT, "192.0.2.20", spi, k2, s2, m2)], P1)[0]
        sa1 = dict(idx=i1, spi=spi, key=k1, salt=s1)
        sa2 = dict(idx=i2, spi=spi, key=k2, salt=s2)
        for sa, own, other, mac in ((sa1, sa1, sa2, m1), (sa2, sa2, sa1, m2)):
            self.send_tx(self.plain(smac=mac), sa, 1)
            got = self.esp_on_wire(spi)
            expect(len(got) == 1, "nothing on the wire")
            ip = Ether(got[0])[IP]
            self.scapy_sa(own).decrypt(ip)
            try:
                self.scapy_sa(other).decrypt(ip)
                raise AssertionError("decrypts with the other domain's SA")
            except AssertionError:
                raise
            except Exception:
                pass

    @req("tx.unknown_index_dropped")
    def t_tx_nosa(self):
        sa = dict(idx=0x00fffffe, spi=self.nspi(), key=rk(16), salt=rk(4))
        self.send_tx(self.plain(), sa, 1)
        expect(not self.esp_on_wire(sa["spi"], 0.5), "frame with an unknown index sent")

    def bypass(self, inner):
        m = meta(META_TX, 0, 0, 0, 0, 0, 0, 0, SA_NONE, 0, ethertype(inner))
        self.wire.drain()
        self.host.send(tag(inner, m))
        return self.wire_frames(lambda f: f[:len(inner)] == inner or f == inner, 1.0, 1)

    @req("tx.bypass.forged_config_forwarded")
    def t_bypass_cfg(self):
        n = self.dump_count(P0)
        mid = self.c.next_id()
        inner = eth(AGENT_MAC, self.mac, ETH_P_CFG, cfg_payload(
            OP["ADD_SA"], mid, P0, [rec_sa(DIR_OUT, "192.0.2.99", self.nspi(), rk(16), rk(4),
                                           self.mac)]))
        got = self.bypass(inner)
        expect(len(got) == 1 and got[0] == inner, "not forwarded unmodified")
        expect(self.c.wait(mid, 0.3) is None, "the forged request was answered")
        expect(self.dump_count(P0) == n, "the forged ADD_SA changed the SAD")

    @req("tx.bypass.forged_tag_forwarded")
    def t_bypass_tag(self):
        sa = self.out_sa()
        forged = tx_esp_frame(self.plain(payload=b"forged"), sa["spi"], 1, sa["idx"])
        got = self.bypass(forged)
        expect(len(got) == 1 and got[0] == forged, "forged tag not forwarded unmodified")
        st = self.c.sa_stats(sa["idx"], P0)
        expect(st["packets"] == 0, "the forged tag was used to encrypt")

    @req("tx.untagged.forwarded")
    def t_untagged(self):
        f = self.plain(payload=b"untagged")
        self.wire.drain()
        self.host.send(f)
        got = self.wire_frames(lambda g: g == f, 1.0, 1)
        expect(len(got) == 1, "untagged frame not forwarded unmodified")

    @req("tx.domain.vlan")
    def t_tx_vlan(self):
        sa = self.out_sa(vlans=[(0x8100, 100)])
        self.send_tx(self.plain(vlan=100), sa, 1)
        got = self.esp_on_wire(sa["spi"])
        expect(len(got) == 1, "VLAN 100 frame with the VLAN 100 SA not sent")
        expect(Dot1Q in Ether(got[0]) and Ether(got[0])[Dot1Q].vlan == 100, "VLAN tag lost")
        self.scapy_sa(sa).decrypt(Ether(got[0])[IP])
        self.send_tx(self.plain(vlan=200), sa, 2)
        expect(not self.esp_on_wire(sa["spi"], 0.5), "VLAN 200 frame used the VLAN 100 SA")

    # ------------------------------------------------------------ Rx
    def rx_one(self, frame):
        self.host.drain()
        self.wire.send(frame)
        got = self.rx_tagged()
        expect(len(got) == 1, "no tagged frame on the host side")
        return got[0], parse_meta(got[0])

    @req("rx.decrypt.ok_tag")
    def t_rx_ok(self):
        sa = self.in_sa()
        frame, l4 = self.wire_esp(sa, self.mac, seq=7)
        f, m = self.rx_one(frame)
        expect(m["kind"] == META_RX and m["result"] == RES["OK"], "result %s" %
               RES_NAME.get(m["result"]))
        expect(m["sa_index"] == sa["idx"], "sa_index %d want %d" % (m["sa_index"], sa["idx"]))
        u = untag(f)
        expect(u[:34] == frame[:34], "Ethernet/IP header changed")
        expect(m["esp_off"] == 34 and m["payload_off"] == 50, "offsets %s" % m)
        expect(u[50:50 + len(l4)] == l4, "plaintext at payload_off differs")
        ip_end = 14 + struct.unpack("!H", u[16:18])[0]
        expect(m["trailer_len"] == ip_end - 50 - len(l4), "trailer_len %d" % m["trailer_len"])
        expect(m["next_hdr"] == 17 and m["seq"] == 7, "next_hdr %d seq %d" % (m["next_hdr"],
                                                                          m["seq"]))

    @req("rx.decrypt.ipv6_tunnel")
    def t_rx_v6_tunnel(self):
        key, salt, spi = rk(32), rk(4), self.nspi()
        idx = self.add([rec_sa(DIR_IN, "2001:db8:1::1", spi, key, salt, self.mac,
                               saddr="2001:db8:1::2", mode=MODE_TUNNEL)])[0]
        sa = dict(idx=idx, spi=spi, key=key, salt=salt)
        inner = IP(src="203.0.113.9", dst="192.0.2.10", id=3) / UDP(sport=9, dport=7) / \
            Raw(b"tunnelled over IPv6")
        enc = self.scapy_sa(sa, tunnel=IPv6(src="2001:db8:1::2", dst="2001:db8:1::1"),
                            seq=11).encrypt(inner)
        frame = bytes(Ether(src=PEER_MAC, dst=self.mac) / enc)
        f, m = self.rx_one(frame)
        expect(m["result"] == RES["OK"] and m["sa_index"] == idx, "meta %s" % m)
        expect(m["esp_off"] == 54 and m["payload_off"] == 70 and m["next_hdr"] == 4,
               "offsets/next header %s" % m)
        u = untag(f)
        expect(u[:54] == frame[:54], "outer headers changed")
        expect(u[70:70 + len(bytes(inner))] == bytes(inner), "inner packet differs")
        ip_end = 14 + 40 + struct.unpack("!H", u[18:20])[0]
        expect(m["trailer_len"] == ip_end - 70 - len(bytes(inner)), "trailer_len")

    @req("rx.auth_fail.unchanged")
    def t_rx_auth(self):
        sa = self.in_sa()
        frame, _ = self.wire_esp(sa, self.mac, key=rk(16))
        f, m = self.rx_one(frame)
        expect(m["result"] == RES["AUTH_FAIL"] and m["sa_index"] == sa["idx"], "meta %s" % m)
        expect(untag(f) == frame, "an AUTH_FAIL frame was changed")
        expect(self.c.sa_stats(sa["idx"], P0)["auth_fail"] == 1, "auth_fail not counted")

    @req("rx.no_sa.unchanged")
    def t_rx_nosa(self):
        sa = dict(spi=self.nspi(), key=rk(16), salt=rk(4))
        frame, _ = self.wire_esp(sa, self.mac)
        f, m = self.rx_one(frame)
        expect(m["result"] == RES["NO_SA"] and m["sa_index"] == SA_NONE, "meta %s" % m)
        expect(untag(f) == frame, "a NO_SA frame was changed")

    @req("rx.domains.same_spi_two_domains")
    def t_rx_domains(self):
        spi = self.nspi()
        m1, m2 = "02:00:5e:00:53:d1", "02:00:5e:00:53:d2"
        a = self.in_sa(mac=m1, spi=spi)
        b = self.in_sa(mac=m2, spi=spi, port=P1)
        f, m = self.rx_one(self.wire_esp(a, m1)[0])
        expect(m["result"] == RES["OK"] and m["sa_index"] == a["idx"], "domain 1: %s" % m)
        f, m = self.rx_one(self.wire_esp(b, m2)[0])
        expect(m["result"] == RES["OK"] and m["sa_index"] == b["idx"], "domain 2: %s" % m)
        # Domain 1's traffic delivered to domain 2's MAC never decrypts as OK.
        f, m = self.rx_one(self.wire_esp(a, m2)[0])
        expect(m["result"] == RES["AUTH_FAIL"] and m["sa_index"] == b["idx"],
               "cross-domain: %s" % m)

    @req("rx.domain.vlan")
    def t_rx_vlan(self):
        sa = self.in_sa(vlans=[(0x8100, 300)])
        f, m = self.rx_one(self.wire_esp(sa, self.mac, vlan=300)[0])
        expect(m["result"] == RES["OK"] and m["sa_index"] == sa["idx"], "VLAN 300: %s" % m)
        f, m = self.rx_one(self.wire_esp(sa, self.mac)[0])
        expect(m["result"] == RES["NO_SA"], "untagged frame matched a VLAN SA: %s" % m)

    @req("rx.esn.inferred")
    def t_rx_esn(self):
        sa = self.in_sa(esn=True, window=64)
        f, m = self.rx_one(self.wire_esp(sa, self.mac, seq=3, esn=True, hi=0)[0])
        expect(m["result"] == RES["OK"] and m["flags"] & MF_ESN and m["seq"] == 3, "%s" % m)

    @req("rx.plain.untagged")
    def t_rx_plain(self):
        f = self.plain(payload=b"plain from the wire", smac=PEER_MAC, dmac=self.mac)
        self.host.drain()
        self.wire.send(f)
        got = self.host_frames(lambda g: g == f, 1.0, 1)
        expect(len(got) == 1, "plain frame not passed unmodified")

    @req("rx.spoofed_tags.dropped")
    def t_rx_spoof(self):
        sa = self.in_sa()
        before = self.c.counters(P0).get("rx_drop_tagged")
        inner, _ = self.wire_esp(sa, self.mac)
        spoof_meta = tag(inner, meta(META_RX, 0, 17, 0, 34, 50, 18, 0, sa["idx"], 1, 0x0800))
        spoof_cfg = eth(self.mac, AGENT_MAC, ETH_P_CFG, cfg_payload(OP["HELLO"], 77, P0,
                                                                    [rec_caps()], flags=F_REPLY))
        self.host.drain()
        self.wire.send(spoof_meta)
        self.wire.send(spoof_cfg)
        got = self.host_frames(lambda g: ethertype(g) in (ETH_P_META, ETH_P_CFG), 0.5)
        expect(not got, "a tagged wire frame reached the host side")
        after = self.c.counters(P0).get("rx_drop_tagged")
        if before is not None:
            expect(after == before + 2, "rx_drop_tagged %s -> %s" % (before, after))

    @req("hairpin.local_turned_around")
    def t_hairpin(self):
        lmac = "02:00:5e:00:53:e1"
        out = self.out_sa(daddr="192.0.2.150")
        # The local peer's inbound SA: the same key and salt, its own domain.
        inb = dict(out, idx=self.add([rec_sa(DIR_IN, "192.0.2.150", out["spi"], out["key"],
                                             out["salt"], lmac)])[0])
        self.ok(self.c.request(OP["ADD_LOCAL"], [rec_local("192.0.2.150", lmac)], P0), "LOCAL")
        plain = self.plain(dst="192.0.2.150", dmac=lmac, payload=b"east-west")
        self.host.drain()
        self.send_tx(plain, out, 1)
        got = self.rx_tagged()
        expect(not self.esp_on_wire(out["spi"], 0.3), "hairpinned frame went to the wire")
        expect(len(got) == 1, "nothing came back to the host side")
        m = parse_meta(got[0])
        expect(m["kind"] == META_RX and m["flags"] & MF_HAIRPIN, "not an Rx hairpin tag: %s" % m)
        expect(m["result"] == RES["OK"] and m["sa_index"] == inb["idx"], "meta %s" % m)
        u = untag(got[0])
        l4 = bytes(Ether(plain)[UDP])
        expect(u[m["payload_off"]:m["payload_off"] + len(l4)] == l4, "plaintext differs")
        self.ok(self.c.request(OP["DEL_LOCAL"], [rec_local("192.0.2.150", lmac)], P0), "DEL")

    # ------------------------------------------------------------ version 2
    def need_v2(self):
        if self.v < 2:
            raise Skip("this run is version %d" % self.v)

    def one_wrapped(self, port=P0, mac=None):
        """A fresh SA request record and its msg_id."""
        return rec_sa(DIR_OUT, "192.0.2.70", self.nspi(), rk(16), rk(4), mac or self.mac,
                      saddr="192.0.2.10"), self.c.next_id()

    def refused_nothing_added(self, recs, port, mid, what, err, want=("BAD_RECORD",)):
        """recs (a version 2 frame: SA_WRAP records, then WRAP_KEY) refused
        with a status in want at record err, the SAD unchanged."""
        n = self.dump_count(port)
        r = self.c.request(OP["ADD_SA"], recs, port, msg_id=mid)
        expect(r is not None, "%s: no reply" % what)
        expect(ST_NAME.get(r.status) in want and r.err_index == err,
               "%s: %r, want %s at record %d" % (what, r, "/".join(want), err))
        expect(self.dump_count(port) == n, "%s: the SAD changed" % what)

    @req("cfg.v2.hello.agent_key")
    def t_v2_hello(self):
        self.need_v2()
        r = self.ok(self.c.request(OP["HELLO"], [rec_caps(1, 2)], P0), "HELLO 1..2")
        c = r.recs(REC_CAPS)
        expect(len(c) == 1 and len(c[0]) == 72, "CAPS to a version 2 host: %d bytes, want 72"
               % (len(c[0]) if c else 0))
        expect(any(c[0][40:72]), "all-zero agent key")
        expect(c[0][40:72] == self.c.agent_key, "the agent key changed between HELLOs")
        print("INFO agent key %s" % fingerprint(c[0][40:72]), flush=True)
        r = self.ok(self.c.request(OP["HELLO"], [rec_caps(1, 1)], P0), "HELLO 1..1")
        expect(len(r.recs(REC_CAPS)[0]) == 40, "CAPS to a version 1 host must be 40 bytes")

    @req("cfg.v2.wrap.installs_key")
    def t_v2_installs(self):
        self.need_v2()
        rec, mid = self.one_wrapped()
        w = wrap_sas([rec], self.c.agent_key, P0, mid)
        expect(len(w) == 2 and len(w[0]) == SA_WRAP_LEN and w[1][0] == REC_WRAP_KEY,
               "a frame of one SA_WRAP and its WRAP_KEY")
        expect(all(rec[72:72 + 16] not in x and rec[104:108] not in x for x in w),
               "the key is in the request")
        r = self.ok(self.c.request(OP["ADD_SA"], w, P0, msg_id=mid), "ADD_SA")
        expect(r.version == 2, "reply version %d" % r.version)
        sa = parse_sa(r.recs(REC_SA)[0])
        expect(not any(sa["key"]) and not any(sa["salt"]), "key material in the reply")

    @req("cfg.v2.wrap.full_frame")
    def t_v2_full_frame(self):
        self.need_v2()
        recs = [rec_sa(DIR_OUT, "192.0.2.71", self.nspi(), rk(16 if i % 2 else 32), rk(4),
                       self.mac) for i in range(MAX_WRAP)]
        mid = self.c.next_id()
        w = wrap_sas(recs, self.c.agent_key, P0, mid)
        expect(len(cfg_payload(OP["ADD_SA"], mid, P0, w)) <= 1500, "the frame is too long")
        r = self.ok(self.c.request(OP["ADD_SA"], w, P0, msg_id=mid),
                    "ADD_SA of %d SAs under one ephemeral key" % MAX_WRAP)
        sas = [parse_sa(x) for x in r.recs(REC_SA)]
        expect([s["spi"] for s in sas] == [parse_sa(x)["spi"] for x in recs], "echo %r" % sas)
        expect(self.dump_count(P0) == MAX_WRAP, "not all installed")

    @req("cfg.v2.wrap.other_port")
    def t_v2_port(self):
        self.need_v2()
        rec, mid = self.one_wrapped()
        self.refused_nothing_added(wrap_sas([rec], self.c.agent_key, P1, mid), P0, mid,
                                   "wrapped for another port", 0)

    @req("cfg.v2.wrap.other_domain")
    def t_v2_domain(self):
        self.need_v2()
        rec, mid = self.one_wrapped()
        w = wrap_sas([rec], self.c.agent_key, P0, mid)
        w[0] = bytearray(w[0])
        w[0][49] ^= 0x02   # local_mac, still unicast
        self.refused_nothing_added([bytes(w[0]), w[1]], P0, mid, "moved to another MAC", 0)
        rec, mid = self.one_wrapped()
        w = wrap_sas([rec], self.c.agent_key, P0, mid)
        w[0] = bytearray(w[0])
        w[0][50] = 1       # behind VLAN 7 now
        w[0][52:56] = struct.pack("!HH", 0x8100, 7)
        self.refused_nothing_added([bytes(w[0]), w[1]], P0, mid, "moved behind a VLAN", 0)

    @req("cfg.v2.wrap.tampered")
    def t_v2_tampered(self):
        self.need_v2()
        # (record, offset, what, the record refused): a byte of the second
        # SA_WRAP, or of the WRAP_KEY (every record's key changes: the
        # first SA_WRAP does not open).
        for rec_i, off, what, err in ((1, 11, "spi", 1), (1, 15, "daddr", 1),
                                      (1, 65, "replay_window", 1), (1, 120, "wrapped key", 1),
                                      (1, 141, "wrapped salt", 1), (1, 159, "tag", 1),
                                      (2, 7, "msg_id", 0), (2, 20, "eph_key", 0)):
            good, _ = self.one_wrapped()
            rec, mid = self.one_wrapped()
            w = wrap_sas([good, rec], self.c.agent_key, P0, mid)
            b = bytearray(w[rec_i])
            b[off] ^= 0x01
            w[rec_i] = bytes(b)
            # The bad record is named, the good one not installed.
            self.refused_nothing_added(w, P0, mid, "%s changed" % what, err)
        other = X25519PrivateKey_pub()
        rec, mid = self.one_wrapped()
        self.refused_nothing_added(wrap_sas([rec], other, P0, mid), P0, mid,
                                   "wrapped for another agent key", 0)

    @req("cfg.v2.wrap.position_in_frame")
    def t_v2_position(self):
        self.need_v2()
        recs = [self.one_wrapped()[0] for _ in range(3)]
        mid = self.c.next_id()
        w = wrap_sas(recs, self.c.agent_key, P0, mid)
        self.refused_nothing_added([w[1], w[0], w[2], w[3]], P0, mid, "records swapped", 0)
        self.refused_nothing_added([w[0], w[0], w[2], w[3]], P0, mid,
                                   "a record twice (in its own and another position)", 1)
        self.refused_nothing_added([w[0], w[1], w[3]], P0, mid, "the last record dropped", 0)
        # Record 2 of another frame (same port, msg_id and position).
        x = wrap_sas(recs, self.c.agent_key, P0, mid)
        self.refused_nothing_added([w[0], w[1], x[2], w[3]], P0, mid,
                                   "a record of another frame", 2)
        # A record wrapped for position 1 sent in position 0 of a frame of 1.
        y = wrap_sas(recs[:1], self.c.agent_key, P0, mid, index=[1], count=2)
        self.refused_nothing_added(y, P0, mid, "wrapped for another position", 0)
        self.ok(self.c.request(OP["ADD_SA"], w, P0, msg_id=mid), "the frame as it was made")
        expect(self.dump_count(P0) == 3, "the frame as it was made: not all installed")

    @req("cfg.v2.wrap.replay_never_a_second_sa")
    def t_v2_replay(self):
        self.need_v2()
        rec, mid = self.one_wrapped()
        w = wrap_sas([rec], self.c.agent_key, P0, mid)
        r1 = self.ok(self.c.request(OP["ADD_SA"], w, P0, msg_id=mid), "ADD_SA")
        idx = parse_sa(r1.recs(REC_SA)[0])["sa_index"]
        # The identical request again: the cached answer, same index.
        r2 = self.c.request(OP["ADD_SA"], w, P0, msg_id=mid)
        expect(r2 is not None and r2.status == 0 and
               parse_sa(r2.recs(REC_SA)[0])["sa_index"] == idx, "retransmission: %r" % r2)
        expect(self.dump_count(P0) == 1, "two SAs after a retransmission")
        # The frame in another request (a relay's msg_id): refused.
        r3 = self.c.request(OP["ADD_SA"], w, P0)
        expect(r3 is not None and ST_NAME.get(r3.status) in ("BAD_RECORD", "DUPLICATE"),
               "replayed under another msg_id: %r" % r3)
        expect(self.dump_count(P0) == 1, "a replay made a second SA")
        # Deleted, then replayed: still refused, no SA comes back.
        self.ok(self.c.request(OP["DEL_SA"], [rec_ref(idx)], P0), "DEL_SA")
        r4 = self.c.request(OP["ADD_SA"], w, P0)
        expect(r4 is not None and r4.status != 0, "a replay after DEL_SA was installed: %r" % r4)
        expect(self.dump_count(P0) == 0, "a replay after DEL_SA installed an SA")
        # Part of an executed frame, alone: its ephemeral key is spent.
        recs = [self.one_wrapped()[0] for _ in range(2)]
        mid = self.c.next_id()
        w = wrap_sas(recs, self.c.agent_key, P0, mid)
        self.ok(self.c.request(OP["ADD_SA"], w, P0, msg_id=mid), "ADD_SA of 2")
        self.ok(self.c.request(OP["DEL_SA"], [rec_ref(s["sa_index"]) for s in self.c.dump(P0)],
                               P0), "DEL_SA")
        r5 = self.c.request(OP["ADD_SA"], [w[0], w[2]], P0)
        expect(r5 is not None and r5.status != 0, "part of a replayed frame installed: %r" % r5)
        expect(self.dump_count(P0) == 0, "part of a replayed frame installed an SA")

    @req("cfg.v2.version1_refused")
    def t_v2_v1_refused(self):
        self.need_v2()
        if self.agent_caps and self.agent_caps["version_min"] < 2:
            raise Skip("the agent accepts version 1 (keys in clear): its operator allowed it")
        r = self.ok(self.c.request(OP["HELLO"], [rec_caps(1, 1)], P0), "HELLO 1..1")
        c = parse_caps(r.recs(REC_CAPS)[0])
        expect(c["version_min"] == 2, "a version 1 host is offered %s" % c)
        rec, mid = self.one_wrapped()
        r = self.c.request(OP["ADD_SA"], [rec], P0, msg_id=mid, version=1)
        expect(r is not None and r.status == ST["BAD_VERSION"], "a version 1 ADD_SA: %r" % r)
        expect(r.version == 2 and len(r.recs(REC_CAPS)) == 1, "BAD_VERSION reply %r" % r)
        expect(self.dump_count(P0) == 0, "a version 1 ADD_SA changed the SAD")

    # ------------------------------------------------------------ run
    def run(self):
        for p in (P0, P1, P2, P3):
            self.c.request(OP["FLUSH_PORT"], [], p)
        for name, fn in Suite.__dict__.items():
            if name.startswith("t_"):
                # Every requirement starts from empty test ports.
                for p in (P0, P1, P2, P3):
                    self.c.request(OP["FLUSH_PORT"], [], p)
                fn(self)
        for p in (P0, P1, P2, P3):
            self.c.request(OP["FLUSH_PORT"], [], p)


def X25519PrivateKey_pub():
    """The public key of a fresh X25519 key: not the agent's."""
    return x25519_pub(os.urandom(32))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host-if", required=True, help="our end of the agent's host-side link")
    ap.add_argument("--host-ns")
    ap.add_argument("--wire-if", required=True, help="our end of the agent's wire-side link")
    ap.add_argument("--wire-ns")
    ap.add_argument("--version", type=int, choices=(1, 2),
                    help="config protocol version of the run (default: the highest in common)")
    a = ap.parse_args()
    Suite(a).run()
    print("conformance: %(PASS)d passed, %(FAIL)d failed, %(SKIP)d skipped" % results)
    sys.exit(1 if results["FAIL"] else 0)


if __name__ == "__main__":
    main()
