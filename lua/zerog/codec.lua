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
local cjson = require "cjson"

-- the originals (zerog.api replaces some globals for job code), captured before any job code
-- runs; the raw metatable functions, since array_mt is protected
local pcall, pairs, ipairs, type, tostring, tonumber, error = pcall, pairs, ipairs, type, tostring, tonumber, error
local setmetatable, getmetatable = debug.setmetatable, debug.getmetatable

local M = {}

-- shared by every list of every document: protected, so no job can change how lists encode
M.array_mt = { __name = "zerog.array", __metatable = "zerog.array" }
M.null = cjson.null
M.MAX_SAFE_INTEGER = 9007199254740992 -- 2^53

local encode_string = cjson.encode
local concat, sort, fmt = table.concat, table.sort, string.format
local mtype, floor, tointeger, huge = math.type, math.floor, math.tointeger, math.huge

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
    error("cannot encode " .. tostring(v) .. " as JSON", 0)
  end
  for digits = 15, 17 do
    local s = fmt("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return fmt("%.17g", v)
end

local encode_value

local function encode_table(t, out, depth)
  if depth > 100 then error("cannot encode a table nested over 100 levels", 0) end
  if getmetatable(t) == M.array_mt or is_sequence(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      encode_value(t[i], out, depth + 1)
    end
    out[#out + 1] = "]"
    return
  end
  local keys = {}
  for k in pairs(t) do
    local kt = type(k)
    if kt == "number" then k = mtype(k) == "integer" and fmt("%d", k) or encode_float(k)
    elseif kt ~= "string" then error("cannot encode a " .. kt .. " key as JSON", 0) end
    keys[#keys + 1] = k
  end
  sort(keys)
  out[#out + 1] = "{"
  for i, k in ipairs(keys) do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = encode_string(k)
    out[#out + 1] = ":"
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    encode_value(v, out, depth + 1)
  end
  out[#out + 1] = "}"
end

encode_value = function(v, out, depth)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = encode_string(v)
  elseif t == "number" then
    out[#out + 1] = mtype(v) == "integer" and fmt("%d", v) or encode_float(v)
  elseif t == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or v == cjson.null then
    out[#out + 1] = "null"
  elseif t == "table" then
    encode_table(v, out, depth)
  else
    error("cannot encode a " .. t .. " as JSON", 0)
  end
end

--- Encodes a Lua value as JSON text; raises a message on a value JSON cannot hold.
function M.encode(v)
  local t = type(v)
  if t == "string" then return encode_string(v) end -- the common cases, without a buffer
  if t == "number" then return mtype(v) == "integer" and fmt("%d", v) or encode_float(v) end
  if t == "boolean" then return v and "true" or "false" end
  local out = {}
  encode_value(v, out, 0)
  return concat(out)
end

--- Decodes JSON text; returns the value, or nil and a message.
function M.decode(text)
  local ok, v = pcall(cjson.decode, text)
  if not ok then return nil, (tostring(v):gsub("^.-: ", "")) end
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
