--- zerog.schema: the fields of a job document (ZeroG's BaseJobSchema) and a job type's SCHEMA:
-- checking a SCHEMA when a script loads, validating submitted params against it, and giving
-- decoded document fields back their Lua types (integers, marked arrays).
local codec = require "zerog.codec"

-- the originals, captured before any job code runs (getmetatable: the real one, protected or not)
local setmetatable, getmetatable = setmetatable, debug.getmetatable
local pcall, type, pairs, ipairs, next, tostring = pcall, type, pairs, ipairs, next, tostring
local mtype, floor, fmt, sort, concat, huge = math.type, math.floor, string.format, table.sort, table.concat, math.huge

local M = {}

M.TYPES = { string = true, integer = true, number = true, boolean = true,
            object = true, array = true, any = true }

--- BaseJobSchema, in the order a document is written. `list` fields are append-only.
M.BASE = {
  { name = "documentType", type = "string" },
  { name = "jobType", type = "string" },
  { name = "schemaVersion", type = "string" },
  { name = "createdAt", type = "string" },
  { name = "updatedAt", type = "string" },
  { name = "uuid", type = "string" },
  { name = "logId", type = "string" },
  { name = "queueName", type = "string" },
  { name = "queueKwargs", type = "object" },
  { name = "queueJobId", type = "integer" },
  { name = "running", type = "boolean" },
  { name = "errorCount", type = "integer" },
  { name = "completeness", type = "number" },
  { name = "tickcount", type = "number" },
  { name = "tickval", type = "number" },
  { name = "resultCode", type = "integer" },
  { name = "events", type = "array", list = true },
  { name = "warnings", type = "array", list = true },
  { name = "errors", type = "array", list = true },
}
M.BASE_BY_NAME = {}
for _, f in ipairs(M.BASE) do M.BASE_BY_NAME[f.name] = f end

--- The base fields only the engine and the store write: a job's update_attrs or save cannot
-- (its identity, its queue entry, and the run's state and error count).
M.ENGINE_OWNED = { documentType = true, jobType = true, uuid = true, logId = true,
                   createdAt = true, queueName = true, queueKwargs = true, queueJobId = true,
                   running = true, errorCount = true }
M.BASE_BY_NAME.cas = { name = "cas", type = "integer" }

--- The fields flows keep on a job (a child's parent, a parent's round): the engine's alone, not
-- a SCHEMA's to declare, else a submitter's params could name any job as a child's parent.
M.FLOW_OWNED = { parentUuid = true, parentQueue = true, flowRound = true, flowFailedSeen = true }

local function describe(v)
  if v == codec.null then return "null" end
  local t = mtype(v) or type(v)
  if t == "string" then
    local shown = #v > 40 and v:sub(1, 37) .. "..." or v
    return fmt("the string %q", codec.valid_utf8(shown))
  end
  if t == "float" and v ~= v then return "NaN" end
  if t == "float" and (v == huge or v == -huge) then
    return v > 0 and "Infinity" or "-Infinity"
  end
  if t == "table" then
    if next(v) == nil then
      local mt = getmetatable(v)
      return mt == codec.array_mt and "an empty list" or mt == codec.object_mt and "an empty object"
        or "an empty table"
    end
    return #v > 0 and "a list" or "an object"
  end
  return (t == "integer" or t == "float") and ("the number " .. codec.number_text(v)) or t
end
M.describe = describe

--- Checks v against a field type; returns the value in its canonical Lua form, or nil and why.
function M.coerce(ftype, v)
  if ftype == "any" then return v end
  if ftype == "string" then
    if type(v) == "string" then
      if not utf8.len(v) then return nil, "valid UTF-8 text, got bytes that are not" end
      if #v > codec.MAX_DOCUMENT_BYTES then
        return nil, "at most " .. codec.MAX_DOCUMENT_BYTES .. " bytes (16 MiB), got " .. #v
      end
      return v
    end
  elseif ftype == "integer" then
    local i = codec.to_integer(v)
    if i then return i end
    if type(v) == "number" and v == floor(v) then
      return nil, "an integer between -2^53 and 2^53, got " .. describe(v)
    end
  elseif ftype == "number" then
    if type(v) == "number" then
      if v ~= v or v == math.huge or v == -math.huge then
        return nil, "a finite number, got " .. describe(v)
      end
      return v + 0.0
    end
  elseif ftype == "boolean" then
    if type(v) == "boolean" then return v end
  elseif ftype == "array" then
    if type(v) == "table" and getmetatable(v) ~= codec.object_mt and (next(v) == nil or #v > 0) then
      local n = 0
      for _ in pairs(v) do n = n + 1 end
      if n == #v then return codec.array(v) end
    end
  elseif ftype == "object" then
    if type(v) == "table" and getmetatable(v) ~= codec.array_mt and (next(v) == nil or #v == 0) then
      return v
    end
  end
  local article = ftype:match("^[aeiou]") and "an " or "a "
  return nil, article .. ftype .. ", got " .. describe(v)
end

local function deep_copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  -- only the list mark travels: a job's own metatable could carry a finalizer
  return getmetatable(v) == codec.array_mt and setmetatable(t, codec.array_mt) or t
end
M.deep_copy = deep_copy

--- Checks a script's SCHEMA; returns the compiled field list (sorted by name) or nil and why.
-- `reserved` names what a field may not be called (the job methods).
function M.compile(schema, reserved)
  if schema == nil then return {} end
  if type(schema) ~= "table" then return nil, "SCHEMA must be a table of field definitions" end
  local fields = {}
  for name, def in pairs(schema) do
    local where = "SCHEMA field " .. tostring(name)
    if type(name) ~= "string" or not name:match("^[%a][%w_]*$") then
      return nil, where .. ": a field name must be an identifier starting with a letter"
    end
    if M.BASE_BY_NAME[name] then return nil, where .. ": the base job document already has it" end
    if M.FLOW_OWNED[name] then return nil, where .. ": flows keep that field on a job themselves" end
    if reserved[name] then return nil, where .. ": clashes with the job method of that name" end
    if type(def) ~= "table" then return nil, where .. ": its definition must be a table" end
    local ftype = def.type or "any"
    if not M.TYPES[ftype] then
      return nil, where .. ": unknown type " .. tostring(ftype)
        .. " (string, integer, number, boolean, object, array or any)"
    end
    for key in pairs(def) do
      if key ~= "type" and key ~= "required" and key ~= "default" then
        return nil, where .. ": unknown option " .. tostring(key) .. " (type, required, default)"
      end
    end
    local field = { name = name, type = ftype, required = def.required == true }
    if def.default ~= nil then
      local v, why = M.coerce(ftype, deep_copy(def.default))
      if v == nil then return nil, where .. ": default must be " .. why end
      local storable, whynot = pcall(codec.encode_field, v) -- what the store can hold exactly
      if not storable then return nil, where .. ": default cannot be stored: " .. whynot end
      field.default = v
    end
    fields[#fields + 1] = field
  end
  sort(fields, function(a, b) return a.name < b.name end)
  return fields
end

--- Validates params (a decoded JSON object) against compiled fields; returns the field values
-- (defaults filled in, copies of tables) or nil and a message naming the field.
function M.validate(fields, params)
  if type(params) ~= "table" or #params > 0 or getmetatable(params) == codec.array_mt then
    return nil, "params must be a JSON object"
  end
  local known = {}
  for _, f in ipairs(fields) do known[f.name] = true end
  local unknown = {}
  for name in pairs(params) do
    if not known[name] then unknown[#unknown + 1] = tostring(name) end
  end
  if #unknown > 0 then -- named by their first 64 bytes, at most 10 of them: a short message
    sort(unknown)
    local shown = {}
    for i = 1, math.min(#unknown, 10) do shown[i] = codec.shown(unknown[i]) end
    local more = #unknown > 10 and (" and " .. (#unknown - 10) .. " more") or ""
    return nil, "unknown field " .. concat(shown, ", ") .. more .. ": not in the job type's SCHEMA"
  end
  local values = {}
  for _, f in ipairs(fields) do
    local v = params[f.name]
    if v == codec.null then v = nil end
    if v == nil then
      if f.required then return nil, "field " .. f.name .. " is required" end
      v = deep_copy(f.default)
    else
      local why
      v, why = M.coerce(f.type, v)
      if v == nil then return nil, "field " .. f.name .. " must be " .. why end
    end
    values[f.name] = v
  end
  return values
end

--- Gives one decoded document field its Lua form (integers, arrays; null is nil); others pass through.
function M.restore(ftype, v)
  if v == nil or v == codec.null then return nil end
  if ftype == "integer" then return codec.to_integer(v) or v end
  if ftype == "array" and type(v) == "table" then return codec.array(v) end
  return v
end

return M
