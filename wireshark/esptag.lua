-- SPDX-License-Identifier: GPL-2.0-only
-- Wireshark dissector for esptag's two L2 EtherTypes (docs/protocol.md):
--   0x88B5  the configuration packet (host <-> agent), section 1
--   0x88B6  the metadata tag (32 bytes, chains to inner_proto), section 2
-- Load: tshark -X lua_script:esptag.lua ..., or copy to
-- ~/.local/lib/wireshark/plugins/. Both EtherTypes are preferences
-- (Protocols > ESPTAG-CFG / ESPTAG-META).
-- Value names follow include/esptag/wire.h.

local CFG_ETYPE, META_ETYPE = 0x88B5, 0x88B6

local opcodes = { [1] = "HELLO", [2] = "ADD_SA", [3] = "DEL_SA", [4] = "FLUSH_PORT",
	[5] = "ADD_LOCAL", [6] = "DEL_LOCAL", [7] = "DUMP_SA", [8] = "GET_STATS" }
local statuses = { [0] = "OK", [1] = "BAD_VERSION", [2] = "BAD_OPCODE", [3] = "MALFORMED",
	[4] = "BAD_RECORD", [5] = "NO_SPACE", [6] = "PORT_LIMIT", [7] = "DUPLICATE",
	[8] = "UNKNOWN_SA", [9] = "BAD_ALG", [10] = "NOT_PERMITTED", [11] = "UNKNOWN_LOCAL",
	[12] = "BUSY" }
local dirs = { [1] = "in", [2] = "out" }
local modes = { [1] = "transport", [2] = "tunnel" }
local algs = { [1] = "AES-GCM-128", [2] = "AES-GCM-256" }
local families = { [4] = "IPv4", [6] = "IPv6" }
local counters = { [0] = "tx_encrypted", "tx_segments", "tx_bypass", "tx_untagged",
	"tx_hairpin", "tx_drop_no_sa", "tx_drop_domain", "tx_drop_malformed", "rx_decrypted",
	"rx_auth_fail", "rx_no_sa", "rx_malformed", "rx_plain", "rx_drop_tagged", "cfg_rx",
	"cfg_dup", "cfg_err", "cfg_dropped", "tx_drop_vlan_hidden", "tx_drop_gso_limit", "rx_coalesced" }
local kinds = { [1] = "TX", [2] = "RX" }
local results = { [0] = "OK", [1] = "AUTH_FAIL", [2] = "NO_SA", [3] = "MALFORMED",
	[4] = "UNSUPPORTED" }

---------------------------------------------------------------------------
-- Layouts: one table a header or record, which declares its fields
-- (ProtoField) and drives their dissection. An entry:
--   { key, offset, type, filter, label, base = , values = , mask = , bits = }
-- type u8/u16/u32/u64/ipv4/ipv6/ether/bytes (bytes: len = N); "addr": an
-- address of the record's family (fam = offset of its family byte),
-- declared as FILTER (IPv4) and FILTER6 (IPv6); "vlans": the two VLAN tags
-- (layout VLAN). bits: flags of the field, { key, filter, label, mask }.
-- An entry without a filter is a field another layout declares.
---------------------------------------------------------------------------
local PF = { u8 = ProtoField.uint8, u16 = ProtoField.uint16, u32 = ProtoField.uint32,
	u64 = ProtoField.uint64, ipv4 = ProtoField.ipv4, ipv6 = ProtoField.ipv6,
	ether = ProtoField.ether, bytes = ProtoField.bytes }
local SIZE = { u8 = 1, u16 = 2, u32 = 4, u64 = 8, ipv4 = 4, ipv6 = 16, ether = 6 }

-- Declare the fields of layout in F, their filter names under prefix.
local function declare(F, prefix, layout)
	for _, e in ipairs(layout) do
		local key, ty, filter, label = e[1], e[3], e[4], e[5]
		if ty == "addr" then
			F[key .. "4"] = ProtoField.ipv4(prefix .. filter, label)
			F[key .. "6"] = ProtoField.ipv6(prefix .. filter .. "6", label)
		elseif filter then
			F[key] = PF[ty](prefix .. filter, label, e.base, e.values, e.mask)
		end
		for _, b in ipairs(e.bits or {}) do
			F[b[1]] = ProtoField.bool(prefix .. b[2], b[3], SIZE[ty] * 8, nil, b[4])
		end
	end
end

local function u64(r) return UInt64.new(r(4, 4):uint(), r(0, 4):uint()) end

local cfg = Proto("esptag", "esptag configuration packet")
local F = {}
local VLAN = {
	{ "vlan_tpid", 0, "u16", "vlan.tpid", "VLAN TPID", base = base.HEX },
	{ "vlan_vid", 2, "u16", "vlan.vid", "VLAN ID", base = base.DEC, mask = 0x0fff },
}

-- Add the fields (in F) of layout at r to tree t; the items by key.
local function dissect(F, t, r, layout)
	local items = {}
	for _, e in ipairs(layout) do
		local key, off, ty = e[1], e[2], e[3]
		if ty == "addr" then
			if r(e.fam, 1):uint() == 6 then t:add(F[key .. "6"], r(off, 16))
			else t:add(F[key .. "4"], r(off, 4)) end
		elseif ty == "vlans" then
			for i = 0, 1 do
				local v = r(off + i * 4, 4)
				dissect(F, t:add(cfg, v, "VLAN " .. i), v, VLAN)
			end
		else
			local v = r(off, e.len or SIZE[ty])
			local it = ty == "u64" and t:add(F[key], v, u64(v)) or t:add(F[key], v)
			for _, b in ipairs(e.bits or {}) do it:add(F[b[1]], v) end
			items[key] = it
		end
	end
	return items
end

---------------------------------------------------------------------------
-- Configuration packet
---------------------------------------------------------------------------
local HEADER = {
	{ "version", 0, "u8", "version", "Version" },
	{ "opcode", 1, "u8", "opcode", "Opcode", base = base.DEC, values = opcodes },
	{ "flags", 2, "u8", "flags", "Flags", base = base.HEX, bits = {
		{ "f_reply", "flags.reply", "REPLY", 0x01 }, { "f_more", "flags.more", "MORE", 0x02 },
		{ "f_retry", "flags.retry", "RETRY", 0x04 } } },
	{ "status", 3, "u8", "status", "Status", base = base.DEC, values = statuses },
	{ "msg_id", 4, "u32", "msg_id", "Message ID", base = base.HEX },
	{ "port", 8, "u16", "port", "Port" },
	{ "count", 10, "u16", "count", "Record count" },
	{ "length", 12, "u16", "length", "Records length" },
	{ "err_index", 14, "u16", "err_index", "Error index", base = base.HEX },
}
local SA = {
	{ "sa_dir", 4, "u8", "sa.dir", "Direction", base = base.DEC, values = dirs },
	{ "sa_family", 5, "u8", "sa.family", "Family", base = base.DEC, values = families },
	{ "sa_proto", 6, "u8", "sa.proto", "Protocol" },
	{ "sa_mode", 7, "u8", "sa.mode", "Mode", base = base.DEC, values = modes },
	{ "sa_spi", 8, "u32", "sa.spi", "SPI", base = base.HEX },
	{ "sa_daddr", 12, "addr", "sa.daddr", "Destination", fam = 5 },
	{ "sa_saddr", 28, "addr", "sa.saddr", "Source", fam = 5 },
	{ "sa_local_mac", 44, "ether", "sa.local_mac", "Local MAC" },
	{ "sa_nvlans", 50, "u8", "sa.nvlans", "VLANs" },
	{ "sa_alg", 51, "u8", "sa.alg", "Algorithm", base = base.DEC, values = algs },
	{ "vlans", 52, "vlans" },
	{ "sa_key_len", 60, "u8", "sa.key_len", "Key length" },
	{ "sa_icv_len", 61, "u8", "sa.icv_len", "ICV length" },
	{ "sa_flags", 62, "u8", "sa.flags", "SA flags", base = base.HEX, bits = {
		{ "sa_esn", "sa.flags.esn", "ESN", 0x01 } } },
	{ "sa_replay", 64, "u16", "sa.replay_window", "Replay window" },
	{ "sa_index", 68, "u32", "sa_index", "SA index" },
	{ "sa_key", 72, "bytes", "sa.key", "Key (key material)", len = 32 },
	{ "sa_salt", 104, "bytes", "sa.salt", "Salt (key material)", len = 4 },
}
local function concat(a, b)
	local c = {}
	for _, e in ipairs(a) do c[#c + 1] = e end
	for _, e in ipairs(b) do c[#c + 1] = e end
	return c
end
local SA_WRAP = concat(SA, { -- an SA record, then (version 2):
	{ "wrap_ct", 108, "bytes", "wrap.wrapped", "Wrapped key and salt", len = 36 },
	{ "wrap_tag", 144, "bytes", "wrap.tag", "Wrap tag", len = 16 },
})
local WRAP_KEY = { -- the last record of a version 2 ADD_SA
	{ "wrap_msg_id", 4, "u32", "wrap.msg_id", "Requester's msg_id", base = base.HEX },
	{ "wrap_eph", 8, "bytes", "wrap.eph_key", "Ephemeral X25519 key", len = 32 },
}
local LOCAL = {
	{ "loc_family", 4, "u8", "local.family", "Family", base = base.DEC, values = families },
	{ "loc_nvlans", 5, "u8", "local.nvlans", "VLANs" },
	{ "loc_mac", 6, "ether", "local.mac", "MAC" },
	{ "loc_addr", 12, "addr", "local.addr", "Address", fam = 4 },
	{ "vlans", 28, "vlans" },
}
local CAPS = {
	{ "caps_vmin", 4, "u8", "caps.version_min", "Version min" },
	{ "caps_vmax", 5, "u8", "caps.version_max", "Version max" },
	{ "caps_algs", 6, "u16", "caps.alg_mask", "Algorithm mask", base = base.HEX },
	{ "caps_epoch", 8, "u64", "caps.epoch", "Epoch", base = base.HEX },
	{ "caps_cap", 16, "u32", "caps.sad_capacity", "SAD capacity" },
	{ "caps_used", 20, "u32", "caps.sad_used", "SAD used" },
	{ "caps_plimit", 24, "u32", "caps.port_limit", "Port limit" },
	{ "caps_pused", 28, "u32", "caps.port_used", "Port used" },
	{ "caps_maxrec", 32, "u16", "caps.max_records", "Max records" },
	{ "caps_maxpay", 34, "u16", "caps.max_payload", "Max payload" },
	{ "caps_local", 36, "u16", "caps.local_capacity", "Local capacity" },
	{ "caps_feat", 38, "u16", "caps.features", "Features", base = base.HEX, bits = {
		{ "feat_tso", "caps.features.tso", "TSO", 0x01 },
		{ "feat_hairpin", "caps.features.hairpin", "HAIRPIN", 0x02 },
		{ "feat_esn", "caps.features.esn", "ESN", 0x04 },
		{ "feat_tunnel", "caps.features.tunnel", "TUNNEL", 0x08 },
		{ "feat_ipv6", "caps.features.ipv6", "IPV6", 0x10 } } },
}
local CAPS_KEY = { -- after CAPS, version 2
	{ "caps_agent_key", 40, "bytes", "caps.agent_key", "Agent key (X25519)", len = 32 },
}
local SA_STATS = {
	{ "sa_index", 4, "u32" },
	{ "st_packets", 8, "u64", "stats.packets", "Packets" },
	{ "st_bytes", 16, "u64", "stats.bytes", "Bytes" },
	{ "st_auth", 24, "u32", "stats.auth_fail", "Auth failures" },
	{ "st_domain", 28, "u32", "stats.domain_reject", "Domain rejects" },
	{ "st_seq", 32, "u64", "stats.seq", "Sequence" },
}
local COUNTER = {
	{ "ctr_id", 4, "u16", "counter.id", "Counter", base = base.DEC, values = counters },
	{ "ctr_value", 8, "u64", "counter.value", "Value" },
}
local RECORD = { -- the head of every record
	{ "rec_type", 0, "u8", "rec.type", "Record type", base = base.DEC },
	{ "rec_flags", 1, "u8", "rec.flags", "Record flags", base = base.HEX },
	{ "rec_len", 2, "u16", "rec.len", "Record length" },
}

local ef_key = ProtoExpert.new("esptag.key_material", "ADD_SA carries key material in clear",
	expert.group.SECURITY, expert.severity.WARN)
local ef_malformed = ProtoExpert.new("esptag.malformed", "Malformed esptag packet",
	expert.group.MALFORMED, expert.severity.ERROR)
cfg.experts = { ef_key, ef_malformed }

cfg.prefs.ethertype = Pref.uint("EtherType", CFG_ETYPE, "EtherType of the config packet")

local function sa_tail(t, r, it)
	local zero = true
	for i = 72, 107 do if r(i, 1):uint() ~= 0 then zero = false break end end
	if not zero then
		it.sa_key:add_proto_expert_info(ef_key, "key material: AES key in clear")
		it.sa_salt:add_proto_expert_info(ef_key, "key material: salt in clear")
	end
	t:append_text(string.format(": %s spi 0x%08x index %u",
		dirs[r(4, 1):uint()] or "?", r(8, 4):uint(), r(68, 4):uint()))
end

-- The records by type: name, size, layout, what follows the fields (tail),
-- and a longer form of version 2 (v2: its size and its further fields).
local records = {
	[1] = { name = "SA", size = 108, layout = SA, tail = sa_tail },
	[2] = { name = "SA_REF", size = 8, layout = { { "sa_index", 4, "u32" } },
		tail = function(t, r) t:append_text(": index " .. r(4, 4):uint()) end },
	[3] = { name = "LOCAL", size = 36, layout = LOCAL },
	[4] = { name = "CAPS", size = 40, layout = CAPS, v2 = { size = 72, layout = CAPS_KEY } },
	[5] = { name = "SA_STATS", size = 40, layout = SA_STATS },
	[6] = { name = "COUNTER", size = 16, layout = COUNTER,
		tail = function(t, r)
			t:append_text(": " .. (counters[r(4, 2):uint()] or tostring(r(4, 2):uint())))
		end },
	[7] = { name = "CURSOR", size = 8,
		layout = { { "cur_next", 4, "u32", "cursor.next", "Next SA index" } } },
	[8] = { name = "SA_WRAP", size = 160, layout = SA_WRAP, tail = sa_tail },
	[9] = { name = "WRAP_KEY", size = 40, layout = WRAP_KEY },
}
local rectypes = {}
for ty, rec in pairs(records) do rectypes[ty] = rec.name end
RECORD[1].values = rectypes

declare(F, "esptag.", HEADER)
declare(F, "esptag.", RECORD)
F.rec = ProtoField.none("esptag.record", "Record")
declare(F, "esptag.", VLAN)
for _, rec in pairs(records) do
	declare(F, "esptag.", rec.layout)
	if rec.v2 then declare(F, "esptag.", rec.v2.layout) end
end
local F_list = {}
for _, f in pairs(F) do F_list[#F_list + 1] = f end
cfg.fields = F_list

local function dissect_record(t, r, ty, len)
	local rec = records[ty]
	local v2 = rec and rec.v2 and rec.v2.size == len
	if not rec or (len ~= rec.size and not v2) then
		t:add_proto_expert_info(ef_malformed, "unknown record type or wrong length")
		return
	end
	local items = dissect(F, t, r, rec.layout)
	if rec.tail then rec.tail(t, r, items) end
	if v2 then dissect(F, t, r, rec.v2.layout) end
end

function cfg.dissector(tvb, pinfo, tree)
	if tvb:len() < 16 then return 0 end
	pinfo.cols.protocol = "ESPTAG"
	local t = tree:add(cfg, tvb(0, math.min(tvb:len(), 16 + tvb(12, 2):uint())))
	local op, st, fl = tvb(1, 1):uint(), tvb(3, 1):uint(), tvb(2, 1):uint()
	dissect(F, t, tvb, HEADER)
	local isreply = bit.band(fl, 1) ~= 0
	pinfo.cols.info = string.format("%s %s id 0x%08x port %u%s",
		opcodes[op] or ("opcode " .. op), isreply and "reply" or "request",
		tvb(4, 4):uint(), tvb(8, 2):uint(),
		isreply and (" status " .. (statuses[st] or tostring(st))) or "")
	local off, stop = 16, math.min(tvb:len(), 16 + tvb(12, 2):uint())
	local n = 0
	while off + 4 <= stop and n < tvb(10, 2):uint() do
		local ty, len = tvb(off, 1):uint(), tvb(off + 2, 2):uint()
		if len < 4 or off + len > stop then
			t:add_proto_expert_info(ef_malformed, "record length out of range")
			break
		end
		local r = tvb(off, len)
		local rt = t:add(F.rec, r)
		rt:set_text("Record " .. n .. ": " .. (rectypes[ty] or ("type " .. ty)))
		dissect(F, rt, r, RECORD)
		dissect_record(rt, r, ty, len)
		off, n = off + len, n + 1
	end
	return tvb:len()
end

---------------------------------------------------------------------------
-- Metadata tag
---------------------------------------------------------------------------
local meta = Proto("esptag_meta", "esptag metadata tag")
local META = {
	{ "version", 0, "u8", "version", "Version" },
	{ "kind", 1, "u8", "kind", "Kind", base = base.DEC, values = kinds },
	{ "flags", 2, "u8", "flags", "Flags", base = base.HEX, bits = {
		{ "f_offload", "flags.offload", "OFFLOAD", 0x01 }, { "f_gso", "flags.gso", "GSO", 0x02 },
		{ "f_esn", "flags.esn", "ESN", 0x04 }, { "f_hairpin", "flags.hairpin", "HAIRPIN", 0x08 } } },
	{ "next_hdr", 3, "u8", "next_hdr", "Next header" },
	{ "result", 4, "u8", "result", "Result", base = base.DEC, values = results },
	{ "reserved", 5, "u8", "reserved", "Reserved" },
	{ "esp_off", 6, "u16", "esp_off", "ESP offset" },
	{ "payload_off", 8, "u16", "payload_off", "Payload offset" },
	{ "trailer_len", 10, "u16", "trailer_len", "Trailer length" },
	{ "mss", 12, "u16", "mss", "MSS (Tx GSO) / ESP packets (Rx, coalesced)" },
	{ "sa_index", 14, "u32", "sa_index", "SA index" },
	{ "seq_hi", 18, "u32", "seq_hi", "Sequence (high)" },
	{ "seq_lo", 22, "u32", "seq_lo", "Sequence (low)" },
	{ "reserved2", 26, "u16", "reserved2", "Reserved" },
	{ "inner_proto", 28, "u16", "inner_proto", "Inner EtherType", base = base.HEX },
}
local M = {}
declare(M, "esptag_meta.", META)
local M_list = {}
for _, f in pairs(M) do M_list[#M_list + 1] = f end
meta.fields = M_list
meta.prefs.ethertype = Pref.uint("EtherType", META_ETYPE, "EtherType of the metadata tag")

local ethertype_table = DissectorTable.get("ethertype")
local data_dis = Dissector.get("data")

-- The tag is registered on its EtherType: the tvb starts after it, at version.
function meta.dissector(tvb, pinfo, tree)
	if tvb:len() < 30 then return 0 end
	local t = tree:add(meta, tvb(0, 30))
	dissect(M, t, tvb, META)
	local kind = tvb(1, 1):uint()
	t:append_text(string.format(", %s, SA index %u, seq %u", kinds[kind] or "?",
		tvb(14, 4):uint(), tvb(22, 4):uint()))
	local inner = tvb(28, 2):uint()
	local rest = tvb(30):tvb()
	if not ethertype_table:try(inner, rest, pinfo, tree) then
		data_dis:call(rest, pinfo, tree)
	end
	return tvb:len()
end

local cur_cfg, cur_meta
local function register()
	if cur_cfg then ethertype_table:remove(cur_cfg, cfg) end
	if cur_meta then ethertype_table:remove(cur_meta, meta) end
	cur_cfg, cur_meta = cfg.prefs.ethertype, meta.prefs.ethertype
	ethertype_table:add(cur_cfg, cfg)
	ethertype_table:add(cur_meta, meta)
end
cfg.prefs_changed = register
meta.prefs_changed = register
register()
