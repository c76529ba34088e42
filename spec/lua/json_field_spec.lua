-- A document field's JSON text: the C fast path (host/json_encode.c, core.json_field) writes
-- exactly what zerog.codec's own Lua encoder writes, and leaves to the codec what it does not
-- write (text beyond ASCII, number keys, more than 64 keys, nesting past 16). A job saves each
-- value below; its stored text (read from Redis as it is) is compared with the text the codec
-- gives for the same value with no C core at all (loaded here, outside any host).
local H = require "helper"

-- the values, as Lua source both the job and this spec evaluate
local VALUES = [[
  0, -1, 42, 9007199254740992, -9007199254740992,
  0.1, 1/3, -0.0, 1e300, 5e-324, 2^53, 1.5, 1e21, 123456.789, -2.5e-8, 0.1 + 0.2, 100.0,
  "", "plain", "quote \" backslash \\ slash /", "\b\t\n\f\r", "\0\1\31\127 ~",
  "\u{e9}t\u{e9}",
  true, false,
  {}, { 1, 2, 3 }, { b = 1, a = 2, B = 3, _ = 4, aa = 5, ["a b"] = 6, [""] = 7 },
  { a = { b = { 1, "two", { c = false, d = 0.5 } } }, e = {} },
  { 1, 2, [4] = 4 },
  { [1.5] = "x" },
  { s = "\u{e9}" },
  (function() local t = {} for i = 1, 70 do t["k" .. i] = i end return t end)(),
  (function() local t = {} for i = 1, 64 do t["k" .. i] = { i } end return t end)(),
  (function() local t = {} for _ = 1, 20 do t = { t } end return t end)(),
  (function() local t = "x" for _ = 1, 14 do t = { t } end return t end)(),
  { big = 2^60 // 1 - (2^60 // 1) + 5, nested = { { { "\31" } } } },
]]

local store
for _, s in ipairs(H.stores) do
  if s:match("^unix://") then store = s end
end

describe("a field's JSON text", function()
  if not store then
    pending("needs the Redis store (ZEROG_SPEC_REDIS): the stored text is read from it")
    return
  end
  local codec
  setup(function()
    package.path = "lua/?.lua;" .. package.path
    codec = require "zerog.codec"
  end)

  it("is what zerog.codec's Lua encoder writes for every kind of value, fast path or not", function()
    local values = load("return { " .. VALUES .. " }")()
    local schema = {}
    for i = 1, #values do schema[#schema + 1] = "v" .. i .. " = { type = 'any' }" end
    local source = "local values = { " .. VALUES .. " }\n"
      .. "return { JOB_TYPE = 'fieldtext', SCHEMA = { " .. table.concat(schema, ", ") .. " },\n"
      .. "  run = function(self) for i = 1, #values do self['v' .. i] = values[i] end\n"
      .. "    self:save() return 200 end }"
    H.reset(store)
    local h = H.host(store)
    local uuid, doc = H.run_job(h, source)
    h:close()
    assert.are.equal(200, doc.resultCode)
    local socket = store:match("^unix://(.+)$")
    for i, v in ipairs(values) do
      local cmd = string.format("redis-cli -s '%s' --raw HGET '{zq:zerog_jobs}:job:%s' v%d", socket, uuid, i)
      local p = assert(io.popen(cmd))
      local stored = p:read("a"):gsub("\n$", "")
      p:close()
      assert.are.equal(codec.encode_field(v), stored, "value " .. i)
    end
  end)
end)
