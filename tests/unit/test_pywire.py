#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""The Python wire library (tests/lib/etlib.py, tests/lib/esptag_scapy.py)
against the worked examples of docs/protocol.md, byte for byte, as
tests/unit/test_protocol.c does for the C codec: every config example is
built with etlib's packers, every tag example's tag with etlib.meta, and
every example is dissected by the scapy layers and rebuilt unchanged.
Prints PASS/FAIL lines (tests/run). Run with /usr/bin/python3 (scapy).
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import etlib as E  # noqa: E402

failed = 0


def check(name, got, want):
    global failed
    if got == want:
        print("PASS %s" % name)
    else:
        failed = 1
        print("FAIL %s: got %s, want %s" % (name, got.hex() if isinstance(got, bytes) else got,
                                            want.hex() if isinstance(want, bytes) else want))


def doc_examples():
    """{name: bytes} of every ```hex example=NAME block of docs/protocol.md."""
    text = open(os.path.join(ROOT, "docs", "protocol.md")).read()
    out = {}
    for m in re.finditer(r"\n```hex example=(\S+)\n(.*?)\n```", text, re.S):
        hexs = "".join(line.split("#")[0] for line in m.group(2).splitlines())
        out[m.group(1)] = bytes.fromhex(hexs.replace(" ", ""))
    return out


# The examples' inputs (tests/unit/protocol_examples.h).
PF, VF, PEER = "00:00:5e:00:53:01", "00:00:5e:00:53:02", "00:00:5e:00:53:0b"
MSG = 0x1a2b3c01
REPLY = E.F_REPLY
FEATURES = 0x1f              # TSO | HAIRPIN | ESN | TUNNEL | IPV6
ALG_MASK = (1 << E.ALG_GCM128) | (1 << E.ALG_GCM256)


def fill(n, first):
    return bytes((first + i) & 0xff for i in range(n))


def sa_v4(request):
    return E.rec_sa(E.DIR_OUT, "198.51.100.2", 0x1001, fill(16, 0) if request else bytes(16),
                    fill(4, 0xa0) if request else bytes(4), PF, saddr="192.0.2.1", window=0,
                    sa_index=E.SA_NONE if request else 0)


def sa_v6(out, request):
    return E.rec_sa(E.DIR_OUT if out else E.DIR_IN, "2001:db8:b::1" if out else "2001:db8:a::1",
                    0x2001 if out else 0x2002,
                    fill(32, 0 if out else 0x40) if request else bytes(32),
                    fill(4, 0xb0 if out else 0xc0) if request else bytes(4), VF,
                    saddr="2001:db8:a::1" if out else "2001:db8:b::1", mode=E.MODE_TUNNEL,
                    vlans=((0x88a8, 100), (0x8100, 200)), esn=True, window=0 if out else 128,
                    sa_index=E.SA_NONE if request else (1 if out else 2), alg=E.ALG_GCM256,
                    key_len=32)


def caps_agent(used):
    return E.rec_caps_agent(ALG_MASK, 0x0123456789abcdef, 65536, used, 4096, used, 185, 1500,
                            256, FEATURES)


def cfg(op, flags, status, msg_id, port, recs=(), err=E.ERR_NONE):
    return E.cfg_payload(op, msg_id, port, recs, flags=flags, status=status, err_index=err)


def counters():
    vals = {"tx_encrypted": 1000, "tx_drop_domain": 3, "cfg_rx": 12, "cfg_dup": 1}
    return [E.rec_counter(i, vals.get(n, 0)) for i, n in enumerate(E.AC)]


O = E.OP
LOCAL = E.rec_local("192.0.2.20", VF)
CONFIG = {
    "hello_request": cfg(O["HELLO"], 0, 0, MSG, 0, [E.rec_caps()]),
    "hello_reply": cfg(O["HELLO"], REPLY, 0, MSG, 0, [caps_agent(0)]),
    "bad_version_reply": cfg(O["HELLO"], REPLY, E.ST["BAD_VERSION"], MSG, 0, [caps_agent(0)]),
    "bad_opcode_reply": cfg(0x2a, REPLY, E.ST["BAD_OPCODE"], MSG + 1, 0),
    "add_sa_request": cfg(O["ADD_SA"], 0, 0, MSG + 2, 0, [sa_v4(True)]),
    "add_sa_reply": cfg(O["ADD_SA"], REPLY, 0, MSG + 2, 0, [sa_v4(False)]),
    "add_sa_batch_request": cfg(O["ADD_SA"], 0, 0, MSG + 3, 2, [sa_v6(True, True),
                                                                  sa_v6(False, True)]),
    "add_sa_batch_reply": cfg(O["ADD_SA"], REPLY, 0, MSG + 3, 2, [sa_v6(True, False),
                                                                    sa_v6(False, False)]),
    "add_sa_duplicate_reply": cfg(O["ADD_SA"], REPLY, E.ST["DUPLICATE"], MSG + 4, 2, err=1),
    "del_sa_request": cfg(O["DEL_SA"], 0, 0, MSG + 5, 0, [E.rec_ref(0)]),
    "del_sa_reply": cfg(O["DEL_SA"], REPLY, 0, MSG + 5, 0, [E.rec_ref(0)]),
    "flush_port_request_frame": E.eth(E.AGENT_MAC, PF, E.ETH_P_CFG,
                                      cfg(O["FLUSH_PORT"], 0, 0, MSG + 6, 2)),
    "flush_port_reply": cfg(O["FLUSH_PORT"], REPLY, 0, MSG + 6, 2),
    "add_local_request": cfg(O["ADD_LOCAL"], 0, 0, MSG + 7, 2, [LOCAL]),
    "add_local_reply": cfg(O["ADD_LOCAL"], REPLY, 0, MSG + 7, 2, [LOCAL]),
    "del_local_request": cfg(O["DEL_LOCAL"], 0, 0, MSG + 8, 2, [LOCAL]),
    "del_local_unknown_reply": cfg(O["DEL_LOCAL"], REPLY, E.ST["UNKNOWN_LOCAL"], MSG + 8, 2,
                                   err=0),
    "dump_sa_request": cfg(O["DUMP_SA"], 0, 0, MSG + 9, 2, [E.rec_cursor(1)]),
    "dump_sa_reply": cfg(O["DUMP_SA"], REPLY | E.F_MORE, 0, MSG + 9, 2,
                         [sa_v6(True, False), E.rec_cursor(2)]),
    "get_stats_sa_request": cfg(O["GET_STATS"], 0, 0, MSG + 10, 0, [E.rec_ref(0)]),
    "get_stats_sa_reply": cfg(O["GET_STATS"], REPLY, 0, MSG + 10, 0,
                              [E.rec_stats(0, 1000, 1234567, 0, 3, 1001)]),
    "get_stats_counters_request": cfg(O["GET_STATS"], 0, 0, MSG + 11, 0),
    "get_stats_counters_reply": cfg(O["GET_STATS"], REPLY, 0, MSG + 11, 0, counters()),
}

# Version 2 (docs/protocol.md 1.10, 3.9): the RFC 7748 keys, agent = Bob,
# ephemeral = Alice.
AGENT_PRIV = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
EPH_PRIV = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
MSG2 = MSG + 0x0f
try:
    AGENT_PUB = E.x25519_pub(AGENT_PRIV)
    EPH_PUB = E.x25519_pub(EPH_PRIV)

    def caps_agent_v2(key=True):
        c = E.rec_caps_agent(ALG_MASK, 0x0123456789abcdef, 65536, 0, 4096, 0, 185, 1500, 256,
                             FEATURES, vmin=2, vmax=2)
        return c[:2] + bytes([0, 72]) + c[4:] + AGENT_PUB if key else c

    def v2(p):
        return bytes([2]) + p[1:]

    CONFIG.update({
        "hello_v2_request": cfg(O["HELLO"], 0, 0, MSG + 0x0e, 0, [E.rec_caps(2, 2)]),
        "hello_v2_reply": cfg(O["HELLO"], REPLY, 0, MSG + 0x0e, 0, [caps_agent_v2()]),
        "add_sa_v2_request": v2(cfg(O["ADD_SA"], 0, 0, MSG2, 0,
                                    E.wrap_sas([sa_v4(True)], AGENT_PUB, 0, MSG2, EPH_PRIV))),
        "add_sa_v2_reply": v2(cfg(O["ADD_SA"], REPLY, 0, MSG2, 0, [sa_v4(False)])),
        "bad_version_v1_reply": v2(cfg(O["ADD_SA"], REPLY, E.ST["BAD_VERSION"], MSG + 2, 0,
                                       [caps_agent_v2(False)])),
    })
    from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                                  X25519PublicKey)
    SHARED = X25519PrivateKey.from_private_bytes(EPH_PRIV).exchange(
        X25519PublicKey.from_public_bytes(AGENT_PUB))
    RAW = {
        "agent_key_fingerprint": bytes.fromhex(E.fingerprint(AGENT_PUB)[7:]),
        "wrap_shared_secret": SHARED,
        # port 0, the PF's MAC, no VLAN, msg_id, n = 1, i = 0, dir out, spi.
        "wrap_hkdf_info": E.WRAP_LABEL + bytes(2) + E.mac_bytes(PF) + bytes(9) +
        MSG2.to_bytes(4, "big") + bytes([0, 1, 0, 0, E.DIR_OUT]) + (0x1001).to_bytes(4, "big"),
        "wrap_kek": E.wrap_kek(SHARED, EPH_PUB, AGENT_PUB, sa_v4(True), 0, MSG2, 1, 0),
    }
except ImportError as e:     # no "cryptography": the version 2 examples are not checked
    print("SKIP version_2_examples: %s" % e)
    RAW = None


def ip4(tot, ident, proto, to_peer, dst=None):
    """The examples' IPv4 header: 192.0.2.1 <-> 198.51.100.2, DF, TTL 64."""
    s, d = ("192.0.2.1", "198.51.100.2") if to_peer else ("198.51.100.2", "192.0.2.1")
    return E.ipv4(s, dst or d, proto, bytes(tot - 20), ident=ident, flags_frag=0x4000)[:20]


def macs(dst, src):
    return E.mac_bytes(dst) + E.mac_bytes(src)


def tx_meta_frame():
    esp = E.struct.pack("!IIQ", 0x1001, 1, 1)
    payload = esp + E.udp(4000, 5000, b"ping")
    ip = E.ipv4("192.0.2.1", "198.51.100.2", 50, payload, ident=0x1234, flags_frag=0x4000)
    return macs(PEER, PF) + E.meta(E.META_TX, E.MF_OFFLOAD, 17, 0, 34, 50, 0, 0, 0, 1) + ip


TAGS = {
    "tx_meta": tx_meta_frame(),
    "tx_gso_meta": macs(PEER, PF) + E.meta(E.META_TX, E.MF_OFFLOAD | E.MF_GSO, 6, 0, 34, 34, 0,
                                           1448, 0, 2) + ip4(20 + 32 + 2 * 1448, 0x1235, 6, True),
    "tx_bypass_meta": macs(PEER, VF) + E.meta(E.META_TX, 0, 0, 0, 0, 0, 0, 0, E.SA_NONE, 0) +
    ip4(20 + 8 + 4, 1, 17, True),
    "rx_ok_meta": macs(PF, PEER) + E.meta(E.META_RX, 0, 17, E.RES["OK"], 34, 50, 20, 0, 3, 1) +
    ip4(20 + 16 + 12 + 2 + 2 + 16, 0x5678, 50, False),
    "rx_auth_fail_meta": macs(PF, PEER) + E.meta(E.META_RX, 0, 0, E.RES["AUTH_FAIL"], 34, 50, 0,
                                                 0, 3, 2) +
    ip4(20 + 16 + 12 + 2 + 2 + 16, 0x5679, 50, False),
    "rx_hairpin_meta": macs(VF, PF) + E.meta(E.META_RX, E.MF_HAIRPIN, 17, E.RES["OK"], 34, 50,
                                             20, 0, 4, 7) +
    ip4(20 + 16 + 12 + 2 + 2 + 16, 0x1240, 50, True, dst="192.0.2.20"),
}


def main():
    doc = doc_examples()
    check("doc_has_examples", len(doc) >= len(CONFIG) + len(TAGS), True)
    raw = RAW or {}
    for name in sorted(set(doc) - set(CONFIG) - set(TAGS) - set(raw)):
        if RAW is None and ("v2" in name or name.startswith("wrap_") or "agent_key" in name):
            continue
        check("example_%s_built_here" % name, False, True)
    for name, built in sorted(raw.items()):
        check("wrap/%s" % name, built, doc.get(name))
    for name, built in sorted(CONFIG.items()) + sorted(TAGS.items()):
        if name in doc:
            check("etlib/%s" % name, built, doc[name])
        else:
            check("doc_has_%s" % name, False, True)
    # Every tag example: parse_meta then meta() gives the tag back.
    for name in sorted(TAGS):
        if name in doc:
            f = doc[name]
            m = E.parse_meta(f)
            del m["tpid"]
            check("etlib_meta_roundtrip/%s" % name, E.meta(**m), f[12:44])
    # The SA records parse back to what was packed.
    p = E.parse_sa(sa_v6(False, True))
    check("etlib_parse_sa", (p["spi"], p["window"], p["key_len"], p["sa_flags"], p["nvlans"]),
          (0x2002, 128, 32, E.SA_F_ESN, 2))
    scapy_checks(doc)
    return failed


def scapy_checks(doc):
    try:
        from scapy.layers.l2 import Ether
        import esptag_scapy as S
    except ImportError as e:
        print("SKIP scapy_layers: %s" % e)
        return
    for name in sorted(CONFIG):
        if name not in doc:
            continue
        raw = doc[name]
        if name.endswith("_frame"):
            pkt = Ether(raw)
            check("scapy_dissect/%s" % name, S.ESPTagCfg in pkt and pkt[S.ESPTagCfg].count, 0)
            check("scapy_rebuild/%s" % name, bytes(pkt), raw)
            continue
        pkt = S.ESPTagCfg(raw)
        check("scapy_dissect/%s" % name, (pkt.count, len(pkt.records), pkt.length),
              (int.from_bytes(raw[10:12], "big"), int.from_bytes(raw[10:12], "big"),
               len(raw) - 16))
        check("scapy_rebuild/%s" % name, bytes(pkt), raw)
    for name in sorted(TAGS):
        if name not in doc:
            continue
        raw = doc[name]
        pkt = Ether(raw)
        check("scapy_dissect/%s" % name, (S.ESPTagMeta in pkt, pkt[S.ESPTagMeta].sa_index),
              (True, E.parse_meta(raw)["sa_index"]))
        check("scapy_rebuild/%s" % name, bytes(pkt), raw)
    # Built from fields, lengths and counts filled in by the layer.
    sa = S.ESPTagSA(dir=2, family=4, spi=0x1001, daddr=E.ip_bytes("198.51.100.2"),
                    saddr=E.ip_bytes("192.0.2.1"), local_mac=PF, alg=1, key_len=16,
                    sa_index=E.SA_NONE, key=fill(16, 0) + bytes(16), salt=fill(4, 0xa0))
    built = S.ESPTagCfg(opcode=2, msg_id=MSG + 2, records=[sa])
    check("scapy_build/add_sa_request", bytes(built), doc.get("add_sa_request"))
    tag = S.ESPTagMeta(kind=1, flags=1, next_hdr=17, esp_off=34, payload_off=50, sa_index=0,
                       seq_lo=1)
    check("scapy_build/tx_meta_tag", bytes(tag), doc.get("tx_meta", b"")[14:44])
    # BPF map values: the layers and etlib agree.
    v = E.map_sa(0x4242, 2, 1, 1, "02:00:5e:00:53:a1", "192.0.2.1", "192.0.2.2", 7, window=64)
    check("scapy_map_sa", bytes(S.ESPTagMapSA(v)), v)
    check("scapy_map_sa_fields", (S.ESPTagMapSA(v).spi, S.ESPTagMapSA(v).ifindex,
                                  S.ESPTagMapSA(v).window), (0x4242, 7, 64))
    check("scapy_map_cfg", bytes(S.ESPTagMapCfg(flags=1, mark_shift=8)), E.map_cfg(1, 0, 0, 8))


if __name__ == "__main__":
    sys.exit(main())
