# SPDX-License-Identifier: GPL-2.0-only
"""
The one Python library of the esptag wire, for every test helper, the
conformance suite and the bench. Written from docs/protocol.md,
include/esptag/wire.h and include/esptag/maps.h independently of the C
codec:
  - config packets (EtherType 0x88B5): cfg_payload, rec_* / parse_*, Reply,
    CfgClient;
  - metadata tags (0x88B6): meta, parse_meta, tag, untag, tx_esp_frame;
  - the VF mailbox message header: mbox_hdr;
  - BPF map keys and values as the daemon writes them: map_sa, map_spd,
    map_spd_src, map_cfg, map_port, map_u32;
  - plain frames: eth, ipv4, udp, csum (one's complement checksum);
  - raw AF_PACKET sockets in network namespaces: Port, in_netns.
tests/lib/esptag_scapy.py has the same formats as scapy layers. Import with
  sys.path.insert(0, "<repo>/tests/lib"); import etlib
tests/unit/test_pywire.py checks the packers against the worked examples of
docs/protocol.md. Scapy is only needed by esptag_scapy.py
(/usr/bin/python3 has it).
"""
import ctypes
import os
import random
import select
import socket
import struct
import time

ETH_P_CFG = 0x88B5
ETH_P_META = 0x88B6
ETH_P_ALL = 0x0003
AGENT_MAC = bytes([0x02, 0x45, 0x53, 0x50, 0x54, 0x00])

OP = dict(HELLO=1, ADD_SA=2, DEL_SA=3, FLUSH_PORT=4, ADD_LOCAL=5, DEL_LOCAL=6, DUMP_SA=7,
          GET_STATS=8)
F_REPLY, F_MORE, F_RETRY = 0x01, 0x02, 0x04
ST = dict(OK=0, BAD_VERSION=1, BAD_OPCODE=2, MALFORMED=3, BAD_RECORD=4, NO_SPACE=5,
          PORT_LIMIT=6, DUPLICATE=7, UNKNOWN_SA=8, BAD_ALG=9, NOT_PERMITTED=10,
          UNKNOWN_LOCAL=11, BUSY=12)
ST_NAME = {v: k for k, v in ST.items()}
REC_SA, REC_SA_REF, REC_LOCAL, REC_CAPS, REC_SA_STATS, REC_COUNTER, REC_CURSOR, REC_SA_WRAP, \
    REC_WRAP_KEY = range(1, 10)
REC_SIZE = {1: 108, 2: 8, 3: 36, 4: 40, 5: 40, 6: 16, 7: 8, 8: 160, 9: 40}
SA_WRAP_LEN, WRAP_KEY_LEN = 160, 40
MAX_WRAP = 9            # SA_WRAP records in one version 2 ADD_SA
CAPS2_LEN = 72          # CAPS with the agent's X25519 key (version 2 HELLO replies)
WRAP_LABEL = b"esptag v2 key wrap"
DIR_IN, DIR_OUT = 1, 2
MODE_TRANSPORT, MODE_TUNNEL = 1, 2
ALG_GCM128, ALG_GCM256 = 1, 2
SA_F_ESN = 1
META_TX, META_RX = 1, 2
MF_OFFLOAD, MF_GSO, MF_ESN, MF_HAIRPIN = 1, 2, 4, 8
RES = dict(OK=0, AUTH_FAIL=1, NO_SA=2, MALFORMED=3, UNSUPPORTED=4)
RES_NAME = {v: k for k, v in RES.items()}
SA_NONE = 0xffffffff
ERR_NONE = 0xffff
AC = ["tx_encrypted", "tx_segments", "tx_bypass", "tx_untagged", "tx_hairpin",
      "tx_drop_no_sa", "tx_drop_domain", "tx_drop_malformed", "rx_decrypted",
      "rx_auth_fail", "rx_no_sa", "rx_malformed", "rx_plain", "rx_drop_tagged", "cfg_rx",
      "cfg_dup", "cfg_err", "cfg_dropped", "tx_drop_vlan_hidden", "tx_drop_gso_limit",
      "rx_coalesced"]

# ---------------------------------------------------------------- namespaces

SOL_PACKET, PACKET_AUXDATA = 263, 8
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


def in_netns(ns, fn, *args):
    """Run fn(*args) with the calling thread in netns ns (None: stay)."""
    if not ns:
        return fn(*args)
    old = os.open("/proc/self/ns/net", os.O_RDONLY)
    new = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if _libc.setns(new, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
        return fn(*args)
    finally:
        _libc.setns(old, CLONE_NEWNET)
        os.close(old)
        os.close(new)


class Port:
    """A raw AF_PACKET socket on one interface (in a namespace)."""

    def __init__(self, ifname, ns=None, proto=ETH_P_ALL):
        self.ifname = ifname
        self.ns = ns

        def mk():
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(proto))
            s.bind((ifname, proto))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            return s
        self.sock = in_netns(ns, mk)
        self.mac = self.sock.getsockname()[4]

    def send(self, frame):
        self.sock.send(frame)

    def drain(self):
        while select.select([self.sock], [], [], 0)[0]:
            self.sock.recv(70000)

    def recv(self, timeout=1.0, pred=None, count=None):
        """Frames received (not our own outgoing ones) within timeout that
        satisfy pred; stops early once count frames are collected."""
        out = []
        end = time.time() + timeout
        while True:
            left = end - time.time()
            if left <= 0 or (count is not None and len(out) >= count):
                return out
            if not select.select([self.sock], [], [], left)[0]:
                continue
            data, anc, _, addr = self.sock.recvmsg(70000, 256)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            data = self._revlan(data, anc)
            if pred is None or pred(data):
                out.append(data)

    @staticmethod
    def _revlan(data, anc):
        # The kernel strips a received VLAN tag into the aux data: put it back
        # so the frame reads as it was on the link.
        for level, typ, cd in anc:
            if level == SOL_PACKET and typ == PACKET_AUXDATA and len(cd) >= 20:
                status, _, _, _, _, tci, tpid = struct.unpack("=IIIHHHH", cd[:20])
                if status & TP_STATUS_VLAN_VALID:
                    if not status & TP_STATUS_VLAN_TPID_VALID:
                        tpid = 0x8100
                    return data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
        return data

    def close(self):
        self.sock.close()


def ethertype(frame):
    return struct.unpack("!H", frame[12:14])[0]

# ---------------------------------------------------------------- records


def ip_bytes(addr, family=None):
    if family is None:
        family = 6 if ":" in addr else 4
    if family == 4:
        return socket.inet_pton(socket.AF_INET, addr) + bytes(12)
    return socket.inet_pton(socket.AF_INET6, addr)


def mac_bytes(mac):
    if isinstance(mac, bytes):
        return mac
    return bytes(int(x, 16) for x in mac.split(":"))


def vlans_bytes(vlans):
    b = b""
    for tpid, vid in list(vlans)[:2]:
        b += struct.pack("!HH", tpid, vid)
    return b + bytes(8 - len(b))


def rec_sa(dir, daddr, spi, key, salt, local_mac, saddr=None, mode=MODE_TRANSPORT,
           vlans=(), esn=False, window=64, sa_index=SA_NONE, alg=None, key_len=None,
           icv_len=16, proto=50, family=None, reserved=0):
    family = family or (6 if ":" in daddr else 4)
    if alg is None:
        alg = ALG_GCM128 if len(key) == 16 else ALG_GCM256
    key_len = len(key) if key_len is None else key_len
    saddr_b = ip_bytes(saddr, family) if saddr else bytes(16)
    return struct.pack("!BBHBBBBI16s16s6sBB8sBBBBHHI32s4s", REC_SA, 0, 108, dir, family, proto,
                       mode, spi, ip_bytes(daddr, family), saddr_b, mac_bytes(local_mac),
                       len(vlans), alg, vlans_bytes(vlans), key_len, icv_len,
                       SA_F_ESN if esn else 0, reserved, window, 0, sa_index,
                       key + bytes(32 - len(key)), salt)


def parse_sa(r):
    f = struct.unpack("!BBHBBBBI16s16s6sBB8sBBBBHHI32s4s", r)
    return dict(dir=f[3], family=f[4], proto=f[5], mode=f[6], spi=f[7], daddr=f[8],
                saddr=f[9], local_mac=f[10], nvlans=f[11], alg=f[12], key_len=f[14],
                sa_flags=f[16], window=f[18], sa_index=f[20], key=f[21], salt=f[22])


def rec_ref(idx):
    return struct.pack("!BBHI", REC_SA_REF, 0, 8, idx)


def rec_local(addr, mac, vlans=()):
    family = 6 if ":" in addr else 4
    return struct.pack("!BBHBB6s16s8s", REC_LOCAL, 0, 36, family, len(vlans), mac_bytes(mac),
                       ip_bytes(addr, family), vlans_bytes(vlans))


def rec_caps(vmin=1, vmax=1):
    return struct.pack("!BBHBB", REC_CAPS, 0, 40, vmin, vmax) + bytes(34)


def parse_caps(r):
    f = struct.unpack("!BBHBBHIIIIIIHHHH", r[:40])
    return dict(version_min=f[3], version_max=f[4], alg_mask=f[5], epoch=(f[6] << 32) | f[7],
                sad_capacity=f[8], sad_used=f[9], port_limit=f[10], port_used=f[11],
                max_records=f[12], max_payload=f[13], local_capacity=f[14], features=f[15],
                agent_key=r[40:72] if len(r) >= CAPS2_LEN else None)


# ---------------------------------------------------------------- version 2: wrapped keys
# docs/protocol.md 1.10, with the Python "cryptography" package (imported
# only when used).

def fingerprint(pub):
    """sha256:HEX of an agent's 32-byte X25519 public key."""
    import hashlib
    return "sha256:" + hashlib.sha256(pub).hexdigest()


def x25519_pub(priv):
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives import serialization
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def wrap_info(sa108, port, msg_id, count, index):
    """The HKDF info of SA_WRAP record index of count in a frame."""
    return (WRAP_LABEL + struct.pack("!H", port) + sa108[44:50] + sa108[50:51] +
            sa108[52:60] + struct.pack("!IHH", msg_id, count, index) + sa108[4:5] +
            sa108[8:12])


def wrap_kek(shared, eph_pub, agent_pub, sa108, port, msg_id, count, index):
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives import hashes
    return HKDF(hashes.SHA256(), 32, eph_pub + agent_pub,
                wrap_info(sa108, port, msg_id, count, index)).derive(shared)


def rec_wrap_key(msg_id, eph_pub):
    return struct.pack("!BBHI", REC_WRAP_KEY, 0, WRAP_KEY_LEN, msg_id) + eph_pub


def wrap_sas(sas, agent_pub, port, msg_id, eph_priv=None, index=None, count=None):
    """The records of a version 2 ADD_SA for SA request records with their
    keys (rec_sa): one SA_WRAP (160 bytes) per SA, then the frame's WRAP_KEY
    (40 bytes), all under one ephemeral key, for agent_pub, port and msg_id.
    index/count: wrap as if the records were at other positions (tests)."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                                  X25519PublicKey)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives import serialization
    eph = (X25519PrivateKey.from_private_bytes(eph_priv) if eph_priv
           else X25519PrivateKey.generate())
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    shared = eph.exchange(X25519PublicKey.from_public_bytes(agent_pub))
    n = len(sas) if count is None else count
    out = []
    for i, sa108 in enumerate(sas):
        head = struct.pack("!BBH", REC_SA_WRAP, 0, SA_WRAP_LEN) + sa108[4:72] + bytes(36)
        kek = wrap_kek(shared, eph_pub, agent_pub, head, port, msg_id, n,
                       i if index is None else index[i])
        out.append(head + AESGCM(kek).encrypt(bytes(12), sa108[72:108], head))
    return out + [rec_wrap_key(msg_id, eph_pub)]


def unwrap_sa(priv, rec, wrap_key, port, count, index):
    """Key and salt (36 bytes) of SA_WRAP record rec (record index of count
    in a frame whose WRAP_KEY record is wrap_key) for the agent's private
    key priv; None when it does not open."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import (X25519PrivateKey,
                                                                  X25519PublicKey)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.exceptions import InvalidTag
    msg_id, eph = struct.unpack("!I", wrap_key[4:8])[0], wrap_key[8:40]
    k = X25519PrivateKey.from_private_bytes(priv)
    kek = wrap_kek(k.exchange(X25519PublicKey.from_public_bytes(eph)), eph, x25519_pub(priv),
                   rec[:108], port, msg_id, count, index)
    try:
        return AESGCM(kek).decrypt(bytes(12), rec[108:160], rec[:108])
    except InvalidTag:
        return None


def rec_stats(sa_index, packets=0, nbytes=0, auth_fail=0, domain_reject=0, seq=0):
    return struct.pack("!BBHIIIIIIIII", REC_SA_STATS, 0, 40, sa_index, packets >> 32,
                       packets & 0xffffffff, nbytes >> 32, nbytes & 0xffffffff, auth_fail,
                       domain_reject, seq >> 32, seq & 0xffffffff)


def rec_counter(cid, value):
    return struct.pack("!BBHHHII", REC_COUNTER, 0, 16, cid, 0, value >> 32, value & 0xffffffff)


def rec_caps_agent(alg_mask, epoch, sad_capacity, sad_used, port_limit, port_used, max_records,
                   max_payload, local_capacity, features, vmin=1, vmax=1):
    return struct.pack("!BBHBBHIIIIIIHHHH", REC_CAPS, 0, 40, vmin, vmax, alg_mask, epoch >> 32,
                       epoch & 0xffffffff, sad_capacity, sad_used, port_limit, port_used,
                       max_records, max_payload, local_capacity, features)


def rec_cursor(nxt):
    return struct.pack("!BBHI", REC_CURSOR, 0, 8, nxt)


def parse_stats(r):
    f = struct.unpack("!BBHIIIIIIIII", r)
    return dict(sa_index=f[3], packets=(f[4] << 32) | f[5], bytes=(f[6] << 32) | f[7],
                auth_fail=f[8], domain_reject=f[9], seq=(f[10] << 32) | f[11])


def cfg_payload(op, msg_id, port, recs=(), version=1, flags=0, status=0, err_index=ERR_NONE,
                count=None, length=None):
    body = b"".join(recs)
    return struct.pack("!BBBBIHHHH", version, op, flags, status, msg_id, port,
                       len(recs) if count is None else count,
                       len(body) if length is None else length, err_index) + body


def eth(dst, src, etype, payload):
    f = mac_bytes(dst) + mac_bytes(src) + struct.pack("!H", etype) + payload
    return f + bytes(max(0, 60 - len(f)))


class Reply:
    def __init__(self, frame):
        self.frame = frame
        p = frame[14:]
        (self.version, self.opcode, self.flags, self.status, self.msg_id, self.port, self.count,
         self.length, self.err_index) = struct.unpack("!BBBBIHHHH", p[:16])
        self.records = []
        off = 16
        body = p[16:16 + self.length]
        while off - 16 + 4 <= len(body):
            t, _, ln = struct.unpack("!BBH", body[off - 16:off - 12])
            if ln < 4:
                break
            self.records.append((t, body[off - 16:off - 16 + ln]))
            off += ln

    def recs(self, t):
        return [r for (rt, r) in self.records if rt == t]

    def __repr__(self):
        return "<Reply op %d status %s err %d count %d>" % (
            self.opcode, ST_NAME.get(self.status, self.status), self.err_index, self.count)


class CfgClient:
    """Talks to the agent through the host-side interface."""

    def __init__(self, ifname, ns=None, mac=None, version=None):
        self.port = Port(ifname, ns, ETH_P_CFG)
        self.mac = mac_bytes(mac) if mac else self.port.mac
        self.msg_id = random.randint(1, 1 << 30)
        # The config version of requests but HELLO: None until hello()
        # negotiated it (add_sa says hello first), or forced.
        self.version = version
        self.agent_key = None

    def next_id(self):
        self.msg_id += 1
        return self.msg_id

    def raw(self, payload, dst=AGENT_MAC, src=None):
        self.port.send(eth(dst, src or self.mac, ETH_P_CFG, payload))

    def wait(self, msg_id, timeout=1.0, src=None):
        mine = mac_bytes(src) if src else self.mac

        def ok(f):
            return (len(f) >= 30 and ethertype(f) == ETH_P_CFG and f[0:6] == mine and
                    struct.unpack("!I", f[18:22])[0] == msg_id and f[16] & F_REPLY)
        got = self.port.recv(timeout, ok, count=1)
        return Reply(got[0]) if got else None

    def request(self, op, recs=(), port=0, msg_id=None, tries=5, timeout=0.1, **kw):
        """Send with retransmission of the identical request (F_RETRY set
        on retries, ignored for matching), like esptagd."""
        msg_id = msg_id or self.next_id()
        if op != OP["HELLO"] and "version" not in kw and self.version:
            kw["version"] = self.version
        for i in range(tries):
            self.raw(cfg_payload(op, msg_id, port, recs, flags=F_RETRY if i else 0, **kw))
            r = self.wait(msg_id, timeout)
            if r:
                return r
            timeout *= 2
        return None

    def hello(self, port=0, vmin=1, vmax=2):
        """HELLO with versions vmin..vmax; negotiates self.version (and keeps
        the agent's key) unless the version was forced."""
        r = self.request(OP["HELLO"], [rec_caps(vmin, vmax)], port)
        if r and r.status == 0 and r.recs(REC_CAPS):
            c = parse_caps(r.recs(REC_CAPS)[0])
            self.agent_key = c["agent_key"] or self.agent_key
            v = min(vmax, c["version_max"])
            if self.version is None and v >= max(vmin, c["version_min"]):
                self.version = v
        return r

    def add_sa(self, recs, port=0, msg_id=None):
        """ADD_SA of SA request records (rec_sa, keys in them): wrapped for
        the agent's key in version 2."""
        if self.version is None:
            self.hello(port)
        msg_id = msg_id or self.next_id()
        if (self.version or 1) >= 2:
            recs = wrap_sas(recs, self.agent_key, port, msg_id)
        return self.request(OP["ADD_SA"], recs, port, msg_id=msg_id)

    def counters(self, port=0):
        r = self.request(OP["GET_STATS"], [], port)
        out = {}
        for c in r.recs(REC_COUNTER):
            _, _, _, cid, _, hi, lo = struct.unpack("!BBHHHII", c)
            out[AC[cid] if cid < len(AC) else cid] = (hi << 32) | lo
        return out

    def sa_stats(self, idx, port=0):
        r = self.request(OP["GET_STATS"], [rec_ref(idx)], port)
        if not r or r.status:
            return None
        return parse_stats(r.recs(REC_SA_STATS)[0])

    def dump(self, port=0):
        sas, cur = [], 0
        while True:
            r = self.request(OP["DUMP_SA"], [rec_cursor(cur)], port)
            sas += [parse_sa(x) for x in r.recs(REC_SA)]
            if not r.flags & F_MORE:
                return sas
            cur = struct.unpack("!I", r.recs(REC_CURSOR)[0][4:8])[0]

# ---------------------------------------------------------------- metadata


def meta(kind=META_TX, flags=MF_OFFLOAD, next_hdr=0, result=0, esp_off=0, payload_off=0,
         trailer_len=0, mss=0, sa_index=SA_NONE, seq=0, inner_proto=0x0800, version=1):
    return struct.pack("!HBBBBBBHHHHIIIHH", ETH_P_META, version, kind, flags, next_hdr, result, 0,
                       esp_off, payload_off, trailer_len, mss, sa_index, seq >> 32,
                       seq & 0xffffffff, 0, inner_proto)


def parse_meta(frame):
    f = struct.unpack("!HBBBBBBHHHHIIIHH", frame[12:44])
    return dict(tpid=f[0], version=f[1], kind=f[2], flags=f[3], next_hdr=f[4], result=f[5],
                esp_off=f[7], payload_off=f[8], trailer_len=f[9], mss=f[10], sa_index=f[11],
                seq=(f[12] << 32) | f[13], inner_proto=f[15])


def tag(frame, m):
    """Insert the 30 tag bytes after the MACs (m ends with the inner EtherType)."""
    return frame[:12] + m + frame[14:]


def untag(frame):
    return frame[:12] + frame[42:]


def l3_offset(frame):
    off = 12
    while struct.unpack("!H", frame[off:off + 2])[0] in (0x8100, 0x88A8):
        off += 4
    return off + 2


def tx_esp_frame(plain, spi, seq, sa_index, mode=MODE_TRANSPORT, outer=None, esn=False,
                 next_hdr=None):
    """Turn a plain Ethernet frame into what the host data path hands the
    agent: ESP header + IV (= 64-bit seq) inserted, IP protocol 50, lengths
    grown by 16 (tunnel: outer header (saddr, daddr) inserted), Tx tag."""
    l3 = l3_offset(plain)
    et = struct.unpack("!H", plain[l3 - 2:l3])[0]
    esph = struct.pack("!IIQ", spi, seq & 0xffffffff, seq)
    ip = bytearray(plain[l3:])
    if mode == MODE_TRANSPORT:
        if et == 0x0800:
            ihl = (ip[0] & 15) * 4
            tot = struct.unpack("!H", ip[2:4])[0]
            ip = ip[:tot]
            nh = ip[9]
            ip[9] = 50
            struct.pack_into("!H", ip, 2, tot + 16)
            struct.pack_into("!H", ip, 10, 0)
            struct.pack_into("!H", ip, 10, csum(bytes(ip[:ihl])))
            hl = ihl
        else:
            plen = struct.unpack("!H", ip[4:6])[0]
            ip = ip[:40 + plen]
            nh = ip[6]
            ip[6] = 50
            struct.pack_into("!H", ip, 4, plen + 16)
            hl = 40
        frame = plain[:l3] + bytes(ip[:hl]) + esph + bytes(ip[hl:])
        esp_off = l3 + hl
    else:
        saddr, daddr = outer
        if et == 0x0800:
            tot = struct.unpack("!H", ip[2:4])[0]
            inner = bytes(ip[:tot])
            nh = 4
        else:
            inner = bytes(ip[:40 + struct.unpack("!H", ip[4:6])[0]])
            nh = 41
        if ":" in daddr:
            oh = struct.pack("!IHBB16s16s", 0x60000000, 16 + len(inner), 50, 64,
                             ip_bytes(saddr), ip_bytes(daddr))
            oet = 0x86DD
        else:
            oh = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 16 + len(inner), 1, 0, 64,
                                       50, 0, socket.inet_aton(saddr), socket.inet_aton(daddr)))
            struct.pack_into("!H", oh, 10, csum(bytes(oh)))
            oh = bytes(oh)
            oet = 0x0800
        frame = plain[:l3 - 2] + struct.pack("!H", oet) + oh + esph + inner
        esp_off = l3 + len(oh)
    if next_hdr is not None:
        nh = next_hdr
    m = meta(META_TX, MF_OFFLOAD | (MF_ESN if esn else 0), nh, 0, esp_off, esp_off + 16, 0, 0,
             sa_index, seq if esn else seq & 0xffffffff, struct.unpack("!H", frame[12:14])[0])
    return tag(frame, m)


def csum_fold(b):
    """One's complement sum of b in 16-bit words, folded, not inverted (a
    pseudo-header sum for CHECKSUM_PARTIAL)."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def csum(b):
    """The Internet checksum of b (RFC 1071)."""
    return ~csum_fold(b) & 0xffff

# ---------------------------------------------------------------- plain frames


def ipv4(src, dst, proto, payload, ident=1, flags_frag=0, ttl=64, tos=0):
    """An IPv4 header (no options, checksum filled in) + payload."""
    h = struct.pack("!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), ident, flags_frag, ttl, proto,
                    0, socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(sport, dport, payload, check=0):
    """A UDP header (checksum as given, 0: none) + payload."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), check) + payload


def addr16(addr):
    """(16 bytes: the address, IPv4 zero-padded; family 4 or 6)."""
    family = 6 if ":" in addr else 4
    return ip_bytes(addr, family), family


def hexs(b):
    """Bytes as bpftool's "hex" argument: space-separated pairs."""
    return " ".join("%02x" % x for x in b)

# ---------------------------------------------------------------- BPF maps
# Keys and values of the pinned maps (include/esptag/maps.h), host byte order
# (little endian here) except where the struct says network order.

ACTION = dict(bypass=1, protect=2, discard=3)
SAF_ALIVE = 0x01


def map_sa(spi, dir, mode, flags, local_mac, saddr, daddr, ifindex, window=0, icv_len=16,
           nvlans=0, vlans=bytes(8), family=None):
    """struct esptag_sa, the value of esptag_sad (288 bytes): the description
    (80 bytes; spi in network order, the rest host order), then the SA's state
    (Tx sequence, lifetime, Rx replay window), zero: a fresh SA."""
    s16, _ = addr16(saddr) if saddr else (bytes(16), 0)
    d16, fam = addr16(daddr)
    family = fam if family is None else family
    v = struct.pack(">I", spi)
    v += struct.pack("<BBBBI", dir, family, mode, flags, ifindex)
    v += mac_bytes(local_mac) + struct.pack("<BB", nvlans, icv_len) + vlans
    v += s16 + d16 + struct.pack("<HHI4xQ", window, 0, 0, 0)
    assert len(v) == 80
    return v + bytes(208)


def map_spd(dir, dst, plen, node):
    """(key, value) of esptag_spd: LPM on the destination; value: node id."""
    a, family = addr16(dst)
    return (struct.pack("<IBBH", 32 + plen, dir, family, 0) + a,
            struct.pack("<IIII", node, 0, 0, 0))


def map_spd_src(node, src, plen, action, sa_index):
    """(key, value) of esptag_spd_src: LPM on (node, source)."""
    a, _ = addr16(src)
    return (struct.pack("<II", 32 + plen, node) + a,
            struct.pack("<BxxxIII", action, 0, sa_index, 1))


def map_cfg(flags=0, mark_mask=0, mark_trusted=0, mark_shift=0, eth_p_cfg=0, eth_p_meta=0):
    """struct esptag_cfg (24 bytes)."""
    return struct.pack("<IIIIHHI", flags, mark_mask, mark_trusted, mark_shift, eth_p_cfg,
                       eth_p_meta, 0)


def map_port(flags, mac, vf):
    """struct esptag_port (16 bytes)."""
    return struct.pack("<I", flags) + mac_bytes(mac) + struct.pack("<HI", vf, 0)


def map_u32(v):
    return struct.pack("<I", v)

# ---------------------------------------------------------------- VF mailbox

MBOX_MAGIC = 0x424d5445  # "ETMB" as little-endian bytes
MBOX_CFG, MBOX_RESET = 1, 2
MBOX_F_REPLY = 0x01


def mbox_hdr(type, flags, length, seq, status=0, reserved=0, magic=MBOX_MAGIC, version=1):
    """The mailbox message header (24 bytes, host order; user/lib/ctl_mbox.h)."""
    return struct.pack("<IBBBBIIiI", magic, version, type, flags, reserved, length, seq, status, 0)

# ---------------------------------------------------------------- control socket

CTL_MAGIC, CTL_VERSION = 0x4c435445, 1
CTL_OP = dict(POLICY_GET=23, BYPASS_SOCKET=24)
CTL_F_REPLY = 0x01
SO_COOKIE = 57


def ctl_request(path, op, payload=b"", count=0):
    """One request on esptagd's control socket (user/lib/ctl.h): returns
    (status, reply payload); the payload is the error message when status
    is not 0."""
    hdr = struct.pack("=IBBBBIIiI", CTL_MAGIC, CTL_VERSION, op, 0, 0, len(payload), count, 0, 0)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        s.sendall(hdr + payload)
        buf = b""
        while len(buf) < 24:
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("control socket closed the connection")
            buf += chunk
        magic, _, rop, flags, _, ln, _, status, _ = struct.unpack("=IBBBBIIiI", buf[:24])
        if magic != CTL_MAGIC or rop != op or not flags & CTL_F_REPLY:
            raise OSError("not a reply to op %d" % op)
        while len(buf) < 24 + ln:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return status, buf[24:24 + ln]
    finally:
        s.close()


def socket_cookie(sock):
    """The kernel's cookie of a socket (SO_COOKIE)."""
    return struct.unpack("=Q", sock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]


def ctl_bypass_socket(path, sock):
    """Register a UDP socket as a bypass socket (BYPASS_SOCKET, struct
    esptag_ctl_bypass). Returns (status, message)."""
    fam = 6 if sock.family == socket.AF_INET6 else 4
    item = struct.pack("=QBBHI", socket_cookie(sock), fam, 17, sock.getsockname()[1], 0)
    st, rep = ctl_request(path, CTL_OP["BYPASS_SOCKET"], item, 1)
    return st, rep.decode("ascii", "replace")
