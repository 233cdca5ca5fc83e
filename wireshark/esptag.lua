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
local rectypes = { [1] = "SA", [2] = "SA_REF", [3] = "LOCAL", [4] = "CAPS",
	[5] = "SA_STATS", [6] = "COUNTER", [7] = "CURSOR", [8] = "SA_WRAP" }
local recsizes = { [1] = 108, [2] = 8, [3] = 36, [4] = 40, [5] = 40, [6] = 16, [7] = 8,
	[8] = 196 }
local dirs = { [1] = "in", [2] = "out" }
local modes = { [1] = "transport", [2] = "tunnel" }
local algs = { [1] = "AES-GCM-128", [2] = "AES-GCM-256" }
local families = { [4] = "IPv4", [6] = "IPv6" }
local counters = { [0] = "tx_encrypted", "tx_segments", "tx_bypass", "tx_untagged",
	"tx_hairpin", "tx_drop_no_sa", "tx_drop_domain", "tx_drop_malformed", "rx_decrypted",
	"rx_auth_fail", "rx_no_sa", "rx_malformed", "rx_plain", "rx_drop_tagged", "cfg_rx",
	"cfg_dup", "cfg_err", "cfg_dropped", "tx_drop_vlan_hidden", "tx_drop_gso_limit" }
local kinds = { [1] = "TX", [2] = "RX" }
local results = { [0] = "OK", [1] = "AUTH_FAIL", [2] = "NO_SA", [3] = "MALFORMED",
	[4] = "UNSUPPORTED" }

---------------------------------------------------------------------------
-- Configuration packet
---------------------------------------------------------------------------
local cfg = Proto("esptag", "esptag configuration packet")
local F = {
	version = ProtoField.uint8("esptag.version", "Version"),
	opcode = ProtoField.uint8("esptag.opcode", "Opcode", base.DEC, opcodes),
	flags = ProtoField.uint8("esptag.flags", "Flags", base.HEX),
	f_reply = ProtoField.bool("esptag.flags.reply", "REPLY", 8, nil, 0x01),
	f_more = ProtoField.bool("esptag.flags.more", "MORE", 8, nil, 0x02),
	f_retry = ProtoField.bool("esptag.flags.retry", "RETRY", 8, nil, 0x04),
	status = ProtoField.uint8("esptag.status", "Status", base.DEC, statuses),
	msg_id = ProtoField.uint32("esptag.msg_id", "Message ID", base.HEX),
	port = ProtoField.uint16("esptag.port", "Port"),
	count = ProtoField.uint16("esptag.count", "Record count"),
	length = ProtoField.uint16("esptag.length", "Records length"),
	err_index = ProtoField.uint16("esptag.err_index", "Error index", base.HEX),
	rec = ProtoField.none("esptag.record", "Record"),
	rec_type = ProtoField.uint8("esptag.rec.type", "Record type", base.DEC, rectypes),
	rec_flags = ProtoField.uint8("esptag.rec.flags", "Record flags", base.HEX),
	rec_len = ProtoField.uint16("esptag.rec.len", "Record length"),
	-- SA
	sa_dir = ProtoField.uint8("esptag.sa.dir", "Direction", base.DEC, dirs),
	sa_family = ProtoField.uint8("esptag.sa.family", "Family", base.DEC, families),
	sa_proto = ProtoField.uint8("esptag.sa.proto", "Protocol"),
	sa_mode = ProtoField.uint8("esptag.sa.mode", "Mode", base.DEC, modes),
	sa_spi = ProtoField.uint32("esptag.sa.spi", "SPI", base.HEX),
	sa_daddr4 = ProtoField.ipv4("esptag.sa.daddr", "Destination"),
	sa_saddr4 = ProtoField.ipv4("esptag.sa.saddr", "Source"),
	sa_daddr6 = ProtoField.ipv6("esptag.sa.daddr6", "Destination"),
	sa_saddr6 = ProtoField.ipv6("esptag.sa.saddr6", "Source"),
	sa_local_mac = ProtoField.ether("esptag.sa.local_mac", "Local MAC"),
	sa_nvlans = ProtoField.uint8("esptag.sa.nvlans", "VLANs"),
	sa_alg = ProtoField.uint8("esptag.sa.alg", "Algorithm", base.DEC, algs),
	vlan_tpid = ProtoField.uint16("esptag.vlan.tpid", "VLAN TPID", base.HEX),
	vlan_vid = ProtoField.uint16("esptag.vlan.vid", "VLAN ID", base.DEC, nil, 0x0fff),
	sa_key_len = ProtoField.uint8("esptag.sa.key_len", "Key length"),
	sa_icv_len = ProtoField.uint8("esptag.sa.icv_len", "ICV length"),
	sa_flags = ProtoField.uint8("esptag.sa.flags", "SA flags", base.HEX),
	sa_esn = ProtoField.bool("esptag.sa.flags.esn", "ESN", 8, nil, 0x01),
	sa_replay = ProtoField.uint16("esptag.sa.replay_window", "Replay window"),
	sa_index = ProtoField.uint32("esptag.sa_index", "SA index"),
	sa_key = ProtoField.bytes("esptag.sa.key", "Key (key material)"),
	sa_salt = ProtoField.bytes("esptag.sa.salt", "Salt (key material)"),
	-- SA_WRAP (version 2)
	wrap_msg_id = ProtoField.uint32("esptag.wrap.msg_id", "Requester's msg_id", base.HEX),
	wrap_eph = ProtoField.bytes("esptag.wrap.eph_key", "Ephemeral X25519 key"),
	wrap_ct = ProtoField.bytes("esptag.wrap.wrapped", "Wrapped key and salt"),
	wrap_tag = ProtoField.bytes("esptag.wrap.tag", "Wrap tag"),
	caps_agent_key = ProtoField.bytes("esptag.caps.agent_key", "Agent key (X25519)"),
	-- LOCAL
	loc_family = ProtoField.uint8("esptag.local.family", "Family", base.DEC, families),
	loc_nvlans = ProtoField.uint8("esptag.local.nvlans", "VLANs"),
	loc_mac = ProtoField.ether("esptag.local.mac", "MAC"),
	loc_addr4 = ProtoField.ipv4("esptag.local.addr", "Address"),
	loc_addr6 = ProtoField.ipv6("esptag.local.addr6", "Address"),
	-- CAPS
	caps_vmin = ProtoField.uint8("esptag.caps.version_min", "Version min"),
	caps_vmax = ProtoField.uint8("esptag.caps.version_max", "Version max"),
	caps_algs = ProtoField.uint16("esptag.caps.alg_mask", "Algorithm mask", base.HEX),
	caps_epoch = ProtoField.uint64("esptag.caps.epoch", "Epoch", base.HEX),
	caps_cap = ProtoField.uint32("esptag.caps.sad_capacity", "SAD capacity"),
	caps_used = ProtoField.uint32("esptag.caps.sad_used", "SAD used"),
	caps_plimit = ProtoField.uint32("esptag.caps.port_limit", "Port limit"),
	caps_pused = ProtoField.uint32("esptag.caps.port_used", "Port used"),
	caps_maxrec = ProtoField.uint16("esptag.caps.max_records", "Max records"),
	caps_maxpay = ProtoField.uint16("esptag.caps.max_payload", "Max payload"),
	caps_local = ProtoField.uint16("esptag.caps.local_capacity", "Local capacity"),
	caps_feat = ProtoField.uint16("esptag.caps.features", "Features", base.HEX),
	feat_tso = ProtoField.bool("esptag.caps.features.tso", "TSO", 16, nil, 0x01),
	feat_hairpin = ProtoField.bool("esptag.caps.features.hairpin", "HAIRPIN", 16, nil, 0x02),
	feat_esn = ProtoField.bool("esptag.caps.features.esn", "ESN", 16, nil, 0x04),
	feat_tunnel = ProtoField.bool("esptag.caps.features.tunnel", "TUNNEL", 16, nil, 0x08),
	feat_ipv6 = ProtoField.bool("esptag.caps.features.ipv6", "IPV6", 16, nil, 0x10),
	-- SA_STATS
	st_packets = ProtoField.uint64("esptag.stats.packets", "Packets"),
	st_bytes = ProtoField.uint64("esptag.stats.bytes", "Bytes"),
	st_auth = ProtoField.uint32("esptag.stats.auth_fail", "Auth failures"),
	st_domain = ProtoField.uint32("esptag.stats.domain_reject", "Domain rejects"),
	st_seq = ProtoField.uint64("esptag.stats.seq", "Sequence"),
	-- COUNTER
	ctr_id = ProtoField.uint16("esptag.counter.id", "Counter", base.DEC, counters),
	ctr_value = ProtoField.uint64("esptag.counter.value", "Value"),
	-- CURSOR
	cur_next = ProtoField.uint32("esptag.cursor.next", "Next SA index"),
}
local F_list = {}
for _, f in pairs(F) do F_list[#F_list + 1] = f end
cfg.fields = F_list

local ef_key = ProtoExpert.new("esptag.key_material", "ADD_SA carries key material in clear",
	expert.group.SECURITY, expert.severity.WARN)
local ef_malformed = ProtoExpert.new("esptag.malformed", "Malformed esptag packet",
	expert.group.MALFORMED, expert.severity.ERROR)
cfg.experts = { ef_key, ef_malformed }

cfg.prefs.ethertype = Pref.uint("EtherType", CFG_ETYPE, "EtherType of the config packet")

local function u64(r) return UInt64.new(r(4, 4):uint(), r(0, 4):uint()) end

local function add_addr(t, fam, r, f4, f6)
	if fam == 6 then t:add(f6, r) else t:add(f4, r(0, 4)) end
end

local function add_vlans(t, r)
	for i = 0, 1 do
		local v = r(i * 4, 4)
		local vt = t:add(cfg, v, "VLAN " .. i)
		vt:add(F.vlan_tpid, v(0, 2))
		vt:add(F.vlan_vid, v(2, 2))
	end
end

local function rec_sa(t, r, opcode)
	local fam = r(5, 1):uint()
	t:add(F.sa_dir, r(4, 1)); t:add(F.sa_family, r(5, 1)); t:add(F.sa_proto, r(6, 1))
	t:add(F.sa_mode, r(7, 1)); t:add(F.sa_spi, r(8, 4))
	add_addr(t, fam, r(12, 16), F.sa_daddr4, F.sa_daddr6)
	add_addr(t, fam, r(28, 16), F.sa_saddr4, F.sa_saddr6)
	t:add(F.sa_local_mac, r(44, 6)); t:add(F.sa_nvlans, r(50, 1)); t:add(F.sa_alg, r(51, 1))
	add_vlans(t, r(52, 8))
	t:add(F.sa_key_len, r(60, 1)); t:add(F.sa_icv_len, r(61, 1))
	local ft = t:add(F.sa_flags, r(62, 1)); ft:add(F.sa_esn, r(62, 1))
	t:add(F.sa_replay, r(64, 2)); t:add(F.sa_index, r(68, 4))
	local kt = t:add(F.sa_key, r(72, 32))
	local st = t:add(F.sa_salt, r(104, 4))
	local zero = true
	for i = 72, 107 do if r(i, 1):uint() ~= 0 then zero = false break end end
	if not zero then
		kt:add_proto_expert_info(ef_key, "key material: AES key in clear")
		st:add_proto_expert_info(ef_key, "key material: salt in clear")
	end
	t:append_text(string.format(": %s spi 0x%08x index %u",
		dirs[r(4, 1):uint()] or "?", r(8, 4):uint(), r(68, 4):uint()))
end

local rec_fn = {
	[1] = rec_sa,
	[2] = function(t, r) t:add(F.sa_index, r(4, 4)); t:append_text(": index " .. r(4, 4):uint()) end,
	[3] = function(t, r)
		t:add(F.loc_family, r(4, 1)); t:add(F.loc_nvlans, r(5, 1)); t:add(F.loc_mac, r(6, 6))
		add_addr(t, r(4, 1):uint(), r(12, 16), F.loc_addr4, F.loc_addr6)
		add_vlans(t, r(28, 8))
	end,
	[4] = function(t, r)
		t:add(F.caps_vmin, r(4, 1)); t:add(F.caps_vmax, r(5, 1)); t:add(F.caps_algs, r(6, 2))
		t:add(F.caps_epoch, r(8, 8), u64(r(8, 8)))
		t:add(F.caps_cap, r(16, 4)); t:add(F.caps_used, r(20, 4))
		t:add(F.caps_plimit, r(24, 4)); t:add(F.caps_pused, r(28, 4))
		t:add(F.caps_maxrec, r(32, 2)); t:add(F.caps_maxpay, r(34, 2)); t:add(F.caps_local, r(36, 2))
		local ft = t:add(F.caps_feat, r(38, 2))
		for _, f in ipairs({ F.feat_tso, F.feat_hairpin, F.feat_esn, F.feat_tunnel, F.feat_ipv6 }) do
			ft:add(f, r(38, 2))
		end
	end,
	[5] = function(t, r)
		t:add(F.sa_index, r(4, 4))
		t:add(F.st_packets, r(8, 8), u64(r(8, 8))); t:add(F.st_bytes, r(16, 8), u64(r(16, 8)))
		t:add(F.st_auth, r(24, 4)); t:add(F.st_domain, r(28, 4))
		t:add(F.st_seq, r(32, 8), u64(r(32, 8)))
	end,
	[6] = function(t, r)
		t:add(F.ctr_id, r(4, 2)); t:add(F.ctr_value, r(8, 8), u64(r(8, 8)))
		t:append_text(": " .. (counters[r(4, 2):uint()] or tostring(r(4, 2):uint())))
	end,
	[7] = function(t, r) t:add(F.cur_next, r(4, 4)) end,
	[8] = function(t, r, op)
		rec_sa(t, r(0, 108), op)
		t:add(F.wrap_msg_id, r(108, 4)); t:add(F.wrap_eph, r(112, 32))
		t:add(F.wrap_ct, r(144, 36)); t:add(F.wrap_tag, r(180, 16))
	end,
}

function cfg.dissector(tvb, pinfo, tree)
	if tvb:len() < 16 then return 0 end
	pinfo.cols.protocol = "ESPTAG"
	local t = tree:add(cfg, tvb(0, math.min(tvb:len(), 16 + tvb(12, 2):uint())))
	local op, st, fl = tvb(1, 1):uint(), tvb(3, 1):uint(), tvb(2, 1):uint()
	t:add(F.version, tvb(0, 1)); t:add(F.opcode, tvb(1, 1))
	local ft = t:add(F.flags, tvb(2, 1))
	ft:add(F.f_reply, tvb(2, 1)); ft:add(F.f_more, tvb(2, 1)); ft:add(F.f_retry, tvb(2, 1))
	t:add(F.status, tvb(3, 1)); t:add(F.msg_id, tvb(4, 4)); t:add(F.port, tvb(8, 2))
	t:add(F.count, tvb(10, 2)); t:add(F.length, tvb(12, 2)); t:add(F.err_index, tvb(14, 2))
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
		rt:add(F.rec_type, r(0, 1)); rt:add(F.rec_flags, r(1, 1)); rt:add(F.rec_len, r(2, 2))
		if ty == 4 and len == 72 then -- CAPS with the agent's key (version 2)
			rec_fn[4](rt, r(0, 40), op)
			rt:add(F.caps_agent_key, r(40, 32))
		elseif recsizes[ty] == len and rec_fn[ty] then
			rec_fn[ty](rt, r, op)
		else
			rt:add_proto_expert_info(ef_malformed, "unknown record type or wrong length")
		end
		off, n = off + len, n + 1
	end
	return tvb:len()
end

---------------------------------------------------------------------------
-- Metadata tag
---------------------------------------------------------------------------
local meta = Proto("esptag_meta", "esptag metadata tag")
local M = {
	version = ProtoField.uint8("esptag_meta.version", "Version"),
	kind = ProtoField.uint8("esptag_meta.kind", "Kind", base.DEC, kinds),
	flags = ProtoField.uint8("esptag_meta.flags", "Flags", base.HEX),
	f_offload = ProtoField.bool("esptag_meta.flags.offload", "OFFLOAD", 8, nil, 0x01),
	f_gso = ProtoField.bool("esptag_meta.flags.gso", "GSO", 8, nil, 0x02),
	f_esn = ProtoField.bool("esptag_meta.flags.esn", "ESN", 8, nil, 0x04),
	f_hairpin = ProtoField.bool("esptag_meta.flags.hairpin", "HAIRPIN", 8, nil, 0x08),
	next_hdr = ProtoField.uint8("esptag_meta.next_hdr", "Next header"),
	result = ProtoField.uint8("esptag_meta.result", "Result", base.DEC, results),
	reserved = ProtoField.uint8("esptag_meta.reserved", "Reserved"),
	esp_off = ProtoField.uint16("esptag_meta.esp_off", "ESP offset"),
	payload_off = ProtoField.uint16("esptag_meta.payload_off", "Payload offset"),
	trailer_len = ProtoField.uint16("esptag_meta.trailer_len", "Trailer length"),
	mss = ProtoField.uint16("esptag_meta.mss", "MSS (Tx GSO) / ESP packets (Rx, coalesced)"),
	sa_index = ProtoField.uint32("esptag_meta.sa_index", "SA index"),
	seq_hi = ProtoField.uint32("esptag_meta.seq_hi", "Sequence (high)"),
	seq_lo = ProtoField.uint32("esptag_meta.seq_lo", "Sequence (low)"),
	reserved2 = ProtoField.uint16("esptag_meta.reserved2", "Reserved"),
	inner_proto = ProtoField.uint16("esptag_meta.inner_proto", "Inner EtherType", base.HEX),
}
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
	t:add(M.version, tvb(0, 1)); t:add(M.kind, tvb(1, 1))
	local ft = t:add(M.flags, tvb(2, 1))
	for _, f in ipairs({ M.f_offload, M.f_gso, M.f_esn, M.f_hairpin }) do ft:add(f, tvb(2, 1)) end
	t:add(M.next_hdr, tvb(3, 1)); t:add(M.result, tvb(4, 1)); t:add(M.reserved, tvb(5, 1))
	t:add(M.esp_off, tvb(6, 2)); t:add(M.payload_off, tvb(8, 2))
	t:add(M.trailer_len, tvb(10, 2)); t:add(M.mss, tvb(12, 2))
	t:add(M.sa_index, tvb(14, 4)); t:add(M.seq_hi, tvb(18, 4)); t:add(M.seq_lo, tvb(22, 4))
	t:add(M.reserved2, tvb(26, 2)); t:add(M.inner_proto, tvb(28, 2))
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
