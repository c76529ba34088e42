--- zerog.codec: the one place where values cross between Lua and JSON.
--
-- Decoding uses lua-cjson. Encoding is done here, because Debian's lua-cjson 2.1.0 writes numbers
-- with at most 14 significant digits (0.1 + 0.2 comes out as 0.3, 2^53 as 9.007199254741e+15) and
-- writes an empty table as {}. This encoder writes integers exactly, floats with the fewest digits
-- that read back to the same double, and a table as an array when it is marked with `array_mt`
-- (every list of a job document is) or is a non-empty sequence; an unmarked empty table is `{}`.
-- Object keys are written sorted, so the same value always gives the same text.
--
-- Known edges, also in the README: cjson decodes every number as a float, so the document layer
-- turns integer fields back into integers (and refuses integers beyond +-2^53, which a double cannot
-- hold); an empty array nested inside a free-form (`object` / `any`) field reads back as `{}`.
--
-- The limits on values (README, "Limits on values") are decided here, once for every entry point
-- (the C API, the command, HTTP, the job API):
-- * input JSON (`decode_input`: submitted params) must be UTF-8, at most MAX_DOCUMENT_BYTES, nest
--   at most MAX_DEPTH levels, have no key twice in one object, and hold only numbers a double
--   holds: no NaN, Infinity or hex, nothing that overflows a double, no integer literal beyond
--   +-2^53 (it would be rounded silently). Anything else is refused with a message.
-- * data a job writes (`encode_field`) is refused on the same terms: NaN, +-inf, a string that is
--   not UTF-8, nesting deeper than MAX_DEPTH (a field sits one level inside its document), a field
--   over MAX_DOCUMENT_BYTES as JSON.
-- * messages (events, warnings, errors, log lines: `message`) are never refused: bytes that are
--   not UTF-8 become U+FFFD and a message over MAX_MESSAGE_BYTES is cut after a whole character,
--   with a marker. A NUL byte is kept (JSON writes it as \u0000).
-- The host's own JSON (`encode`) never writes invalid JSON either: a string that is not UTF-8 gets
-- U+FFFD there, so one stray byte in an error message cannot break a settle.
local cjson = require "cjson"
-- the runtime's JSON string writer for ASCII text (lua-cjson's output, without its buffer set-up:
-- ~3k instructions a string); absent where the module is loaded without the runtime
local has_core, core = pcall(require, "zerog.core")
local json_text = has_core and type(core) == "table" and core.json_text or nil
-- and its writer of a field's plain values (ASCII strings, integers within +-2^53, finite floats,
-- booleans, null, and tables of them with string keys and no metatable but the two below), the
-- same text encode_field writes for them; nil for anything else (host/json_encode.c)
local json_field = has_core and type(core) == "table" and core.json_field or nil
-- and its decoder of plain JSON (lua-cjson's result, without growing each table key by key)
local json_decode = has_core and type(core) == "table" and core.json_decode or nil

-- the originals (zerog.api replaces some globals for job code), captured before any job code
-- runs; the raw metatable functions, since array_mt is protected
local pcall, pairs, ipairs, type, tostring, tonumber, error = pcall, pairs, ipairs, type, tostring, tonumber, error
local setmetatable, getmetatable = debug.setmetatable, debug.getmetatable

local M = {}

-- shared by every list of every document: protected, so no job can change how lists encode
M.array_mt = { __name = "zerog.array", __metatable = "zerog.array" }
-- An empty object of submitted params (decode_input marks the members of the params object that
-- are empty, so `[]` is not taken for an object field nor `{}` for an array field).
M.object_mt = { __name = "zerog.object", __metatable = "zerog.object" }
M.null = cjson.null
M.MAX_SAFE_INTEGER = 9007199254740992 -- 2^53
M.MAX_DEPTH = 64 -- nesting levels of a document (or params), itself included
M.MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 -- params as JSON text; a field's value as JSON
M.MAX_MESSAGE_BYTES = 64 * 1024 -- an event, warning or error message, a log line's message

-- Private instances: job scripts get the module (zerog.json) and may change its settings; these
-- are out of their reach. `strict` reads input, `stored` reads what the store hands back (written
-- by this encoder, so within MAX_DEPTH; its default depth also reads older documents).
local strict, stored = cjson.new(), cjson.new()
strict.decode_invalid_numbers(false) -- no NaN, Infinity or hex
strict.decode_max_depth(M.MAX_DEPTH)
stored.decode_invalid_numbers(false)

local encode_string = strict.encode
local concat, sort, fmt = table.concat, table.sort, string.format
local mtype, floor, tointeger, huge = math.type, math.floor, math.tointeger, math.huge
local utf8_len = utf8.len
local REPLACEMENT = "\u{FFFD}"

--- s with every byte that does not start a valid UTF-8 character replaced by U+FFFD.
local function valid_utf8(s)
  if utf8_len(s) then return s end
  local out, i = {}, 1
  while true do
    local n, bad = utf8_len(s, i)
    if n then
      out[#out + 1] = s:sub(i)
      break
    end
    out[#out + 1] = s:sub(i, bad - 1)
    out[#out + 1] = REPLACEMENT
    i = bad + 1
  end
  return concat(out)
end
M.valid_utf8 = valid_utf8

--- The length of the longest prefix of s (valid UTF-8) of at most max bytes that ends at a
-- character's end.
local function utf8_cut(s, max)
  if #s <= max then return #s end
  local cut = max
  while cut > 0 and (s:byte(cut + 1) & 0xC0) == 0x80 do cut = cut - 1 end
  return cut
end

--- A message as it is stored and logged: valid UTF-8 (U+FFFD for bytes that are not), at most
-- MAX_MESSAGE_BYTES of it, then "… [N bytes cut]" when it was longer.
function M.message(msg)
  local s = valid_utf8(tostring(msg))
  if #s <= M.MAX_MESSAGE_BYTES then return s end
  local cut = utf8_cut(s, M.MAX_MESSAGE_BYTES)
  return s:sub(1, cut) .. fmt("… [%d bytes cut]", #s - cut)
end

--- A message for the log callback, which takes a C string: NUL bytes become U+FFFD there.
function M.log_text(msg)
  local s = M.message(msg)
  if s:find("\0", 1, true) then s = s:gsub("\0", REPLACEMENT) end
  return s
end

--- Whether s has a uuid's form (36 hex digits and dashes): what a job is named by.
function M.is_uuid(s)
  return type(s) == "string" and #s == 36 and s:find("^[%x%-]+$") ~= nil
end

--- At most the first 64 bytes of a name or uuid for a message, as valid UTF-8.
function M.shown(s)
  s = valid_utf8(tostring(s))
  local cut = utf8_cut(s, 64)
  return cut < #s and s:sub(1, cut) .. "…" or s
end

--- Marks t as an array (so an empty one is written as []) and returns it.
function M.array(t)
  return setmetatable(t or {}, M.array_mt)
end

local function is_sequence(t)
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if mtype(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local function encode_float(v)
  if v ~= v or v == huge or v == -huge then
    error((v ~= v and "NaN" or v > 0 and "Infinity" or "-Infinity")
      .. " cannot be stored (JSON has no such number)", 0)
  end
  local s = fmt("%.15g", v) -- (the formats written out: building them cost a number's conversion)
  if tonumber(s) == v then return s end
  s = fmt("%.16g", v)
  if tonumber(s) == v then return s end
  return fmt("%.17g", v)
end

--- A number as a message shows it: the digits that read back to the same double (0.09999999999999999
-- stays that, not 0.1), an integral float without ".0" (JSON's 1 decodes as 1.0).
function M.number_text(v)
  if mtype(v) == "integer" then return fmt("%d", v) end
  if v ~= v or v == math.huge or v == -math.huge then return tostring(v) end
  if v == math.floor(v) and v >= -M.MAX_SAFE_INTEGER and v <= M.MAX_SAFE_INTEGER then
    return fmt("%d", math.tointeger(v))
  end
  return encode_float(v)
end

local encode_value

--- A string as JSON: one that is not UTF-8 is refused (strict: data) or gets U+FFFD (the host's
-- own text, messages).
local function encode_text(v, strict_text)
  local text = json_text and json_text(v) -- (nil when v has a byte beyond ASCII)
  if text then return text end
  if utf8_len(v) then return encode_string(v) end
  if strict_text then
    local _, at = utf8_len(v)
    error(fmt("a string is not valid UTF-8 (byte %d of %q)", at, M.shown(v)), 0)
  end
  return encode_string(valid_utf8(v))
end

-- depth: the nesting level of the table t (1 for a table at the top of the text)
local function encode_table(t, out, depth, strict_text)
  if depth > M.MAX_DEPTH then
    error(fmt("a value nested deeper than %d levels cannot be stored", M.MAX_DEPTH), 0)
  end
  if getmetatable(t) == M.array_mt or is_sequence(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, depth + 1, strict_text)
    end
    out[#out + 1] = "]"
    return
  end
  local keys, numeric = {}, nil
  for k in pairs(t) do
    local kt = type(k)
    if kt == "number" then
      local text = mtype(k) == "integer" and fmt("%d", k) or encode_float(k)
      numeric = numeric or {}
      numeric[text] = k
      k = text
    elseif kt ~= "string" then error("a " .. kt .. " key cannot be stored as JSON", 0) end
    keys[#keys + 1] = k
  end
  if numeric then -- JSON keys are strings: 1 and "1" would be one key, and a value lost
    for _, k in ipairs(keys) do
      if numeric[k] and rawget(t, k) ~= nil then
        error(fmt("a table has both the key %s and the key %q (JSON keys are strings)", k, k), 0)
      end
    end
  end
  sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_text(k, strict_text)
    out[#out + 1] = ":"
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    encode_value(v, out, depth + 1, strict_text)
  end
  out[#out + 1] = "}"
end

--- A number as JSON; strict (data): an integer beyond +-2^53 is refused, as a JSON reader's double
-- would round it (9223372036854775807 reads back as 9.223372036854776e+18).
local function encode_number(v, strict)
  if mtype(v) ~= "integer" then return encode_float(v) end
  if strict and (v > M.MAX_SAFE_INTEGER or v < -M.MAX_SAFE_INTEGER) then
    error(fmt("the integer %d is beyond +-2^53, which a JSON reader's double cannot hold exactly", v), 0)
  end
  return fmt("%d", v)
end

encode_value = function(v, out, depth, strict_text)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = encode_text(v, strict_text)
  elseif t == "number" then
    out[#out + 1] = encode_number(v, strict_text)
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or v == cjson.null then
    out[#out + 1] = "null"
  elseif t == "table" then
    encode_table(v, out, depth, strict_text)
  else
    error("a " .. t .. " cannot be stored as JSON", 0)
  end
end

local function encode(v, depth, strict_text)
  local t = type(v)
  if t == "string" then return encode_text(v, strict_text) end -- the common cases, without a buffer
  if t == "number" then return encode_number(v, strict_text) end
  if t == "boolean" then return v and "true" or "false" end
  local out = {}
  encode_value(v, out, depth, strict_text)
  return concat(out)
end

--- Encodes a Lua value as JSON text; raises a message on a value JSON cannot hold (NaN, +-inf,
-- a function, nesting over MAX_DEPTH). Strings that are not UTF-8 get U+FFFD: this is for the
-- host's own JSON and messages; data a job stores goes through encode_field.
function M.encode(v)
  return encode(v, 1, false)
end

--- The JSON text of a list entry {timeStamp = stamp, msg = msg} (and errorCode = code when
-- given: an integer), the same text encode() gives for that table, written without the table's
-- walk, key sort and buffer (~25k instructions an entry, one or more a run).
function M.encode_entry(stamp, msg, code)
  if code == nil then
    return '{"msg":' .. encode_text(msg, false) .. ',"timeStamp":' .. encode_text(stamp, false) .. "}"
  end
  return '{"errorCode":' .. encode_number(code, false) .. ',"msg":' .. encode_text(msg, false)
    .. ',"timeStamp":' .. encode_text(stamp, false) .. "}"
end

--- Encodes the value of a document field (one level inside its document) for the store; raises
-- a message on what cannot be stored exactly: what encode refuses, a string that is not UTF-8,
-- and a value over MAX_DOCUMENT_BYTES as JSON.
function M.encode_field(v)
  local text = json_field and json_field(v, M.array_mt, M.object_mt) or encode(v, 2, true)
  if #text > M.MAX_DOCUMENT_BYTES then
    error(fmt("a value of %d bytes as JSON is over the limit of %d bytes (16 MiB)", #text,
              M.MAX_DOCUMENT_BYTES), 0)
  end
  return text
end

--- Decodes JSON text the store handed back (or a C module returned); returns the value, or nil
-- and a message.
function M.decode(text)
  if json_decode and type(text) == "string" then -- the runtime's fast path for plain JSON
    local v = json_decode(text)
    if v ~= nil then return v end
  end
  local ok, v = pcall(stored.decode, text)
  if not ok then return nil, (tostring(v):gsub("^.-: ", "")) end
  return v
end

--- Where the JSON string that opens at `at` of valid JSON `text` ends (its closing quote).
local function string_end(text, at)
  local j = at + 1
  while true do
    local q = text:find('["\\]', j)
    if text:sub(q, q) == "\\" then j = q + 2 else return q end
  end
end

--- Where the first duplicate key of text (valid JSON) is: the key, decoded. Used only once a
-- duplicate is known to be there, so it may be slow.
local function duplicate_key(text)
  local stack, i = {}, 1 -- stack: per open container, its key set (objects) or false (arrays)
  local expect_key = false
  while true do
    local at, _, c = text:find('(["{}%[%],:])', i)
    if not at then return nil end
    if c == '"' then
      local j = string_end(text, at)
      local top = stack[#stack]
      if expect_key and top then
        local key = strict.decode(text:sub(at, j))
        if top[key] then return key end
        top[key] = true
      end
      expect_key = false
      i = j + 1
    else
      if c == "{" then stack[#stack + 1] = {}; expect_key = true
      elseif c == "[" then stack[#stack + 1] = false
      elseif c == "}" or c == "]" then stack[#stack] = nil
      elseif c == "," then expect_key = stack[#stack] ~= false end
      i = at + 1
    end
  end
end

--- Counts the members of the objects of a decoded value (cjson gives objects string keys and
-- arrays integer keys); returns the count, or nil and why when a number is not finite.
local function count_members(v)
  if type(v) == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      return nil, "hold a number too large for a double"
    end
    return 0
  end
  if type(v) ~= "table" then return 0 end
  local n = 0
  for k, x in pairs(v) do
    if type(k) == "string" then n = n + 1 end
    local m, why = count_members(x)
    if not m then return nil, why end
    n = n + m
  end
  return n
end

--- The keys of the members of text's top-level object (valid JSON) whose value is an empty array
-- (`[]`), as a set. Used only when the decoded object has an empty member, so it may be slow.
local function empty_arrays_at_top(text)
  local found, depth, i, key, expect_key = {}, 0, 1, nil, false
  while true do
    local at, _, c = text:find('(["{}%[%],])', i)
    if not at then return found end
    i = at + 1
    if c == '"' then
      local j = string_end(text, at)
      if depth == 1 and expect_key then key = strict.decode(text:sub(at, j)) end
      expect_key = false
      i = j + 1
    elseif c == "[" or c == "{" then
      if c == "[" and depth == 1 and text:find("^%s*%]", at + 1) then found[key] = true end
      depth = depth + 1
      expect_key = depth == 1
    elseif c == "]" or c == "}" then
      depth = depth - 1
    else -- ","
      expect_key = depth == 1
    end
  end
end

--- Marks what the text says but cjson does not keep: a top-level `[]` as an array, and each
-- empty member of the top-level object as an array (`[]`) or an object (`{}`).
function M.mark_empty(text, v)
  if type(v) ~= "table" then return end
  if text:find("^%s*%[") then
    if next(v) == nil then setmetatable(v, M.array_mt) end
    return
  end
  local empty = false
  for _, x in pairs(v) do
    if type(x) == "table" and next(x) == nil then empty = true; break end
  end
  if not empty then return end
  local arrays = empty_arrays_at_top(text)
  for k, x in pairs(v) do
    if type(x) == "table" and next(x) == nil then
      setmetatable(x, arrays[k] and M.array_mt or M.object_mt)
    end
  end
end

--- Decodes input JSON (submitted params) by the rules at the top of this file; returns the value,
-- or nil and what is wrong, as a phrase to follow the input's name ("params are not valid
-- UTF-8 (byte 7)").
function M.decode_input(text)
  if #text > M.MAX_DOCUMENT_BYTES then
    return nil, fmt("are %d bytes, over the limit of %d bytes (16 MiB)", #text, M.MAX_DOCUMENT_BYTES)
  end
  if not utf8_len(text) then
    local _, at = utf8_len(text)
    return nil, fmt("are not valid UTF-8 (byte %d)", at)
  end
  local ok, v = pcall(strict.decode, text)
  if not ok then
    local why = tostring(v):gsub("^.-: ", "")
    if why:find("too many nested", 1, true) then
      return nil, fmt("nest deeper than %d levels", M.MAX_DEPTH)
    end
    if text:find("^\239\187\191") then
      return nil, "are not valid JSON: they start with a byte order mark (U+FEFF), which JSON text must not"
    end
    -- the hint only where a number (or what would pass for one elsewhere) stands
    local at = tonumber(why:match("at character (%d+)"))
    if (why:find("invalid token", 1, true) or why:find("invalid number", 1, true))
       and at and text:find("^[%-%+%.%dNnIi]", at) then
      why = why .. " (JSON numbers are decimal: no NaN, Infinity or hex)"
    end
    return nil, "are not valid JSON: " .. why
  end
  -- the text without its strings: what is left are numbers, literals and punctuation
  local bare = text
  if bare:find("\\", 1, true) then bare = bare:gsub("\\.", "") end
  bare = bare:gsub('"[^"]*"', '""')
  -- what lua-cjson lets through but JSON has not: a point without digits on both sides (5.,
  -- -.5, 1.e5), and a control character inside a string (JSON writes \t, \n, \u0001, ...)
  local point = bare:find(".", 1, true)
  while point do
    local before, after = bare:byte(point - 1), bare:byte(point + 1)
    if not (before and after and before >= 48 and before <= 57 and after >= 48 and after <= 57) then
      return nil, "are not valid JSON: a number's point needs digits on both sides (5.0, -0.5)"
    end
    point = bare:find(".", point + 2, true)
  end
  if text:find("[\0-\31]") and (text:find("[\0-\8\11\12\14-\31]")
     or select(2, text:gsub("[\t\n\r]", "")) ~= select(2, bare:gsub("[\t\n\r]", ""))) then
    return nil, "are not valid JSON: a string holds a control character (write it as \\t, \\n, \\u0001, ...)"
  end
  -- integer literals of 16 digits or more (runs of digits that are no fraction or exponent)
  local at = 1
  while true do
    local first, last = bare:find("%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d+", at)
    if not first then break end
    local before, after = bare:sub(first - 1, first - 1), bare:sub(last + 1, last + 1)
    local sign = before == "-" and "-" or ""
    if sign == "-" then before = bare:sub(first - 2, first - 2) end
    local digits = bare:sub(first, last)
    local n = tonumber(digits)
    if not before:find("^[%.eE%+%-]$") and not after:find("^[%.eE]$") and n > M.MAX_SAFE_INTEGER then
      return nil, fmt("hold the integer %s%s, beyond +-2^53: a double cannot hold it exactly",
                      sign, #digits > 40 and digits:sub(1, 37) .. "..." or digits)
    end
    at = last + 1
  end
  local members, why = count_members(v)
  if not members then return nil, why end
  if members ~= select(2, bare:gsub(":", "")) then
    return nil, fmt("have the key %q twice in one object", M.shown(duplicate_key(text) or "?"))
  end
  if bare:find("[%[{]%s*[%]}]") then M.mark_empty(text, v) end -- an empty [] or {} somewhere
  return v
end

--- Gives a decoded value Lua's number types back: integral numbers within +-2^53 become integers,
-- recursively; JSON null becomes nil at the top (and stays cjson.null inside tables).
function M.integers(v)
  if v == cjson.null then return nil end
  if type(v) == "number" then return M.to_integer(v) or v end
  if type(v) == "table" then
    for k, x in pairs(v) do
      if type(x) == "number" or type(x) == "table" then v[k] = M.integers(x) end
    end
  end
  return v
end

--- Turns a decoded number into an integer when it is integral and within +-2^53.
-- Returns the integer, or nil when v is no such number.
function M.to_integer(v)
  if type(v) ~= "number" then return nil end
  if mtype(v) == "integer" then
    if v > M.MAX_SAFE_INTEGER or v < -M.MAX_SAFE_INTEGER then return nil end
    return v
  end
  if v ~= floor(v) or v > M.MAX_SAFE_INTEGER or v < -M.MAX_SAFE_INTEGER then return nil end
  return tointeger(v)
end

return M
