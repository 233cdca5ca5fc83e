# SPDX-License-Identifier: GPL-2.0-only
"""
Scapy layers of the esptag wire (docs/protocol.md), the same formats as the
packers of tests/lib/etlib.py, for dissecting captures and building frames
field by field:

  ESPTagCfg     config packet header (EtherType 0x88B5) + its records:
  ESPTagSA, ESPTagSARef, ESPTagLocal, ESPTagCaps, ESPTagSAStats,
  ESPTagCounter, ESPTagCursor, ESPTagSAWrap, ESPTagWrapKey and ESPTagCaps2
  (version 2),
  ESPTagRecord (any other type)
  ESPTagMeta    metadata tag (EtherType 0x88B6), followed by the inner L3
  ESPTagMapSA, ESPTagMapCfg   BPF map values (host byte order, little endian)

  Ether(raw) on a config or tagged frame dissects it; bytes(layer) builds it.
Needs /usr/bin/python3 (scapy). tests/unit/test_pywire.py checks these
layers and etlib against the worked examples of docs/protocol.md.
"""
from scapy.fields import (ByteEnumField, ByteField, FieldLenField, IntField, LEIntField,
                          LELongField, LEShortField, MACField, PacketListField, ShortField,
                          StrFixedLenField, StrLenField, XByteField, XIntField, XShortField)
from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Packet, bind_layers, Raw

ETH_P_CFG, ETH_P_META = 0x88B5, 0x88B6
OPCODES = {1: "HELLO", 2: "ADD_SA", 3: "DEL_SA", 4: "FLUSH_PORT", 5: "ADD_LOCAL",
           6: "DEL_LOCAL", 7: "DUMP_SA", 8: "GET_STATS"}
STATUS = {0: "OK", 1: "BAD_VERSION", 2: "BAD_OPCODE", 3: "MALFORMED", 4: "BAD_RECORD",
          5: "NO_SPACE", 6: "PORT_LIMIT", 7: "DUPLICATE", 8: "UNKNOWN_SA", 9: "BAD_ALG",
          10: "NOT_PERMITTED", 11: "UNKNOWN_LOCAL", 12: "BUSY"}
REC_TYPES = {1: "SA", 2: "SA_REF", 3: "LOCAL", 4: "CAPS", 5: "SA_STATS", 6: "COUNTER",
             7: "CURSOR", 8: "SA_WRAP", 9: "WRAP_KEY"}
META_KINDS = {1: "TX", 2: "RX"}


class _Rec(Packet):
    """Records carry no payload: the next bytes are the next record."""

    def extract_padding(self, s):
        return b"", s


def _hdr(rtype, length):
    return [ByteEnumField("type", rtype, REC_TYPES), ByteField("rec_reserved", 0),
            ShortField("len", length)]


class _Addr16(StrFixedLenField):
    """16 address bytes; IPv4 zero-padded (the family field says which)."""

    def __init__(self, name, default=bytes(16)):
        StrFixedLenField.__init__(self, name, default, 16)


def _sa_fields(rtype, length):
    return _hdr(rtype, length) + [
        ByteEnumField("dir", 2, {1: "in", 2: "out"}), ByteField("family", 4),
        ByteField("proto", 50), ByteEnumField("mode", 1, {1: "transport", 2: "tunnel"}),
        XIntField("spi", 0), _Addr16("daddr"), _Addr16("saddr"),
        MACField("local_mac", "00:00:00:00:00:00"), ByteField("nvlans", 0),
        ByteEnumField("alg", 1, {1: "aes-gcm-128", 2: "aes-gcm-256"}),
        XShortField("vlan0_tpid", 0), ShortField("vlan0_tci", 0),
        XShortField("vlan1_tpid", 0), ShortField("vlan1_tci", 0),
        ByteField("key_len", 16), ByteField("icv_len", 16), XByteField("sa_flags", 0),
        ByteField("reserved", 0), ShortField("replay_window", 0), ShortField("reserved2", 0),
        XIntField("sa_index", 0xffffffff), StrFixedLenField("key", bytes(32), 32),
        StrFixedLenField("salt", bytes(4), 4)]


class ESPTagSA(_Rec):
    name = "esptag SA record"
    fields_desc = _sa_fields(1, 108)


class ESPTagSAWrap(_Rec):
    """Version 2: an SA whose key and salt are wrapped (key, salt zero)."""
    name = "esptag SA_WRAP record"
    fields_desc = _sa_fields(8, 160) + [
        StrFixedLenField("wrapped", bytes(36), 36), StrFixedLenField("tag", bytes(16), 16)]


class ESPTagWrapKey(_Rec):
    """Version 2: the last record of an ADD_SA, the frame's ephemeral key."""
    name = "esptag WRAP_KEY record"
    fields_desc = _hdr(9, 40) + [
        XIntField("wrap_msg_id", 0), StrFixedLenField("eph_key", bytes(32), 32)]


class ESPTagSARef(_Rec):
    name = "esptag SA_REF record"
    fields_desc = _hdr(2, 8) + [IntField("sa_index", 0)]


class ESPTagLocal(_Rec):
    name = "esptag LOCAL record"
    fields_desc = _hdr(3, 36) + [
        ByteField("family", 4), ByteField("nvlans", 0), MACField("mac", "00:00:00:00:00:00"),
        _Addr16("addr"), StrFixedLenField("vlans", bytes(8), 8)]


class ESPTagCaps(_Rec):
    name = "esptag CAPS record"
    fields_desc = _hdr(4, 40) + [
        ByteField("version_min", 1), ByteField("version_max", 1), XShortField("alg_mask", 0),
        XIntField("epoch_hi", 0), XIntField("epoch_lo", 0), IntField("sad_capacity", 0),
        IntField("sad_used", 0), IntField("port_limit", 0), IntField("port_used", 0),
        ShortField("max_records", 0), ShortField("max_payload", 0),
        ShortField("local_capacity", 0), XShortField("features", 0)]


class ESPTagCaps2(_Rec):
    """Version 2 HELLO reply: CAPS with the agent's X25519 key (72 bytes)."""
    name = "esptag CAPS record (with the agent key)"
    fields_desc = ESPTagCaps.fields_desc[:3] + ESPTagCaps.fields_desc[3:] + [
        StrFixedLenField("agent_key", bytes(32), 32)]


class ESPTagSAStats(_Rec):
    name = "esptag SA_STATS record"
    fields_desc = _hdr(5, 40) + [
        IntField("sa_index", 0), IntField("packets_hi", 0), IntField("packets_lo", 0),
        IntField("bytes_hi", 0), IntField("bytes_lo", 0), IntField("auth_fail", 0),
        IntField("domain_reject", 0), IntField("seq_hi", 0), IntField("seq_lo", 0)]


class ESPTagCounter(_Rec):
    name = "esptag COUNTER record"
    fields_desc = _hdr(6, 16) + [
        ShortField("id", 0), ShortField("reserved", 0), IntField("value_hi", 0),
        IntField("value_lo", 0)]


class ESPTagCursor(_Rec):
    name = "esptag CURSOR record"
    fields_desc = _hdr(7, 8) + [IntField("next", 0)]


class ESPTagRecord(_Rec):
    name = "esptag record"
    fields_desc = _hdr(0, 4) + [StrLenField("body", b"", length_from=lambda p: max(0, p.len - 4))]


_REC_CLS = {1: ESPTagSA, 2: ESPTagSARef, 3: ESPTagLocal, 4: ESPTagCaps, 5: ESPTagSAStats,
            6: ESPTagCounter, 7: ESPTagCursor, 8: ESPTagSAWrap, 9: ESPTagWrapKey}


def _rec_cls(raw, *args):
    """The record class by its type byte (unknown types: ESPTagRecord)."""
    if len(raw) >= 4 and raw[0] == 4 and raw[2:4] == b"\x00\x48":
        return ESPTagCaps2(raw)
    return _REC_CLS.get(raw[0] if raw else 0, ESPTagRecord)(raw)


class ESPTagCfg(Packet):
    name = "esptag config"
    fields_desc = [
        ByteField("version", 1), ByteEnumField("opcode", 1, OPCODES), XByteField("flags", 0),
        ByteEnumField("status", 0, STATUS), XIntField("msg_id", 0), ShortField("port", 0),
        FieldLenField("count", None, count_of="records"),
        FieldLenField("length", None, length_of="records"), XShortField("err_index", 0xffff),
        PacketListField("records", [], _rec_cls, length_from=lambda p: p.length)]

    def extract_padding(self, s):
        return b"", s   # Ethernet padding after the records


class ESPTagMeta(Packet):
    """The tag after the MAC addresses; Ether.type is the tag's TPID
    (0x88B6), inner_proto the EtherType of what follows."""
    name = "esptag metadata tag"
    fields_desc = [
        ByteField("version", 1), ByteEnumField("kind", 1, META_KINDS), XByteField("flags", 0),
        ByteField("next_hdr", 0), ByteField("result", 0), ByteField("reserved", 0),
        ShortField("esp_off", 0), ShortField("payload_off", 0), ShortField("trailer_len", 0),
        ShortField("mss", 0), XIntField("sa_index", 0xffffffff), IntField("seq_hi", 0),
        IntField("seq_lo", 0), ShortField("reserved2", 0), XShortField("inner_proto", 0x0800)]

    def guess_payload_class(self, payload):
        return {0x0800: IP, 0x86DD: IPv6}.get(self.inner_proto, Raw)


class ESPTagMapSA(Packet):
    """struct esptag_sa, the value of esptag_sad: spi in network order."""
    name = "esptag_sa (map value)"
    fields_desc = [
        XIntField("spi", 0), ByteField("dir", 1), ByteField("family", 4), ByteField("mode", 1),
        XByteField("flags", 0), LEIntField("ifindex", 0), MACField("local_mac", "00:00:00:00:00:00"),
        ByteField("nvlans", 0), ByteField("icv_len", 16), StrFixedLenField("vlans", bytes(8), 8),
        _Addr16("saddr"), _Addr16("daddr"), LEShortField("window", 0),
        LEShortField("reserved", 0), LEIntField("reqid", 0), LEIntField("pad", 0),
        LELongField("expires", 0)]


class ESPTagMapCfg(Packet):
    """struct esptag_cfg, the value of esptag_cfg."""
    name = "esptag_cfg (map value)"
    fields_desc = [
        LEIntField("flags", 0), LEIntField("mark_mask", 0), LEIntField("mark_trusted", 0),
        LEIntField("mark_shift", 0), LEShortField("eth_p_cfg", 0), LEShortField("eth_p_meta", 0),
        LEIntField("reserved", 0)]


bind_layers(Ether, ESPTagCfg, type=ETH_P_CFG)
bind_layers(Ether, ESPTagMeta, type=ETH_P_META)

__all__ = ["ESPTagCfg", "ESPTagSA", "ESPTagSARef", "ESPTagLocal", "ESPTagCaps",
           "ESPTagSAStats", "ESPTagCounter", "ESPTagCursor", "ESPTagRecord", "ESPTagMeta",
           "ESPTagSAWrap", "ESPTagWrapKey", "ESPTagCaps2",
           "ESPTagMapSA", "ESPTagMapCfg", "ETH_P_CFG", "ETH_P_META"]
