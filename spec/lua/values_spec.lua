-- Hostile values (README, "Limits on values"): each is refused with a message naming what is wrong
-- and nothing is stored, or stored exactly; through the C API (zg_submit, zg_submit_batch: the
-- zerog_spec module is a client of zerog.h) and through the job API inside a run.
local H = require "helper"

local TYPES = [[return { JOB_TYPE = "v", run = function() return 200 end, SCHEMA = {
  s = { type = "string" }, i = { type = "integer" }, n = { type = "number" },
  o = { type = "object" }, a = { type = "array" }, x = { type = "any" } } }]]

local function nested(levels) -- JSON text of `levels` nested arrays
  return string.rep("[", levels) .. string.rep("]", levels)
end

local MAX_DELAY = 366 * 24 * 3600

for _, store in ipairs(H.stores) do
  describe("hostile params through the C API on " .. store, function()
    local h
    before_each(function()
      H.reset(store)
      h = H.host(store)
      H.define(h, TYPES)
    end)
    after_each(function() h:close() end)

    local function nothing_stored()
      assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 0 }, h:counts("zerog_jobs"))
    end

    local function refused(params_json, pattern, opts)
      local uuid, kind, msg = h:submit("v", params_json, opts)
      assert.is_nil(uuid)
      assert.are.equal("invalid", kind)
      assert.matches(pattern, msg)
      assert.is_nil(msg:find("stack traceback", 1, true))
      nothing_stored()
    end

    local bad = {
      { "NaN", '{"n": NaN}', "params are not valid JSON: .*no NaN, Infinity or hex" },
      { "Infinity", '{"n": Infinity}', "params are not valid JSON: .*no NaN, Infinity or hex" },
      { "-Infinity", '{"n": -Infinity}', "params are not valid JSON: .*no NaN, Infinity or hex" },
      { "a hex number", '{"i": 0x10}', "params are not valid JSON: .*no NaN, Infinity or hex" },
      { "a number that overflows a double", '{"n": 1e999}', "params hold a number too large for a double" },
      { "an integer literal beyond 2^53 in a number field", '{"n": 9007199254740993}',
        "params hold the integer 9007199254740993, beyond %+%-2%^53" },
      { "an integer literal beyond -2^53 nested in an any field", '{"x": {"k": [-9007199254740993]}}',
        "params hold the integer %-9007199254740993" },
      { "an integer literal beyond int64", '{"i": 123456789012345678901234567890}', "beyond %+%-2%^53" },
      { "1e300 for an integer field", '{"i": 1e300}', "field i must be an integer between %-2%^53 and 2%^53" },
      { "1.5 for an integer field", '{"i": 1.5}', "field i must be an integer, got the number 1.5" },
      { "a key given twice", '{"s": "a", "s": "b"}', 'params have the key "s" twice in one object' },
      { "a key given twice in a nested object", '{"o": {"k": 1, "j": {"z": 1}, "k": 2}}', 'the key "k" twice' },
      { "a key given twice, once escaped", '{"s": "a", "\\u0073": "b"}', 'the key "s" twice' },
      { "a string that is not UTF-8", '{"s": "a\255b"}', "params are not valid UTF%-8 %(byte 9%)" },
      { "an overlong UTF-8 form", '{"s": "\192\128"}', "params are not valid UTF%-8" },
      { "a key that is not UTF-8", '{"\237\160\128": 1}', "params are not valid UTF%-8" },
      { "a lone surrogate escape", '{"s": "\\ud800"}', "params are not valid JSON" },
      { "nesting deeper than 64 levels", '{"x": ' .. nested(64) .. '}', "params nest deeper than 64 levels" },
      { "a byte order mark before the params", '\239\187\191{}', "params are not valid JSON: they start with a byte order mark %(U%+FEFF%)" },
      { "text after the params", '{} x', "params are not valid JSON: Expected the end but found invalid token at character 4$" },
      { "a leading plus", '{"n": +1}', "no NaN, Infinity or hex" },
      { "a number ending in a point", '{"n": 5.}', "a number's point needs digits on both sides" },
      { "a number starting with -.", '{"n": -.5}', "a number's point needs digits on both sides" },
      { "a point before an exponent", '{"n": 1.e5}', "a number's point needs digits on both sides" },
      { "a raw tab inside a string", '{"s": "a\tb"}', "a string holds a control character" },
      { "a raw control character inside a string", '{"s": "a\1b"}', "a string holds a control character" },
      { "an empty array as the params", ' [ ] ', "params must be a JSON object" },
      { "an empty array for an object field", '{"o": []}', "field o must be an object, got an empty list" },
      { "an empty array for an object field, its key escaped", '{"\\u006f" : [ ]}', "field o must be an object, got an empty list" },
      { "an empty object for an array field", '{"s": "[]", "a": {}}', "field a must be an array, got an empty object" },
      { "a string for an integer field, showing the number as written", '{"s": 1}', "field s must be a string, got the number 1$" },
    }
    for _, c in ipairs(bad) do
      it("refuses " .. c[1] .. " with a message and stores nothing", function()
        refused(c[2], c[3])
      end)
    end

    it("refuses params over 16 MiB (before decoding them) and stores nothing", function()
      refused('{"s": "' .. string.rep("a", 16 * 1024 * 1024) .. '"}', "params are 16777225 bytes, over the limit of 16777216")
    end)

    it("refuses queue options beyond their ranges and stores nothing", function()
      refused("{}", "delay must be a number of seconds from 0 to " .. MAX_DELAY, { delay = MAX_DELAY + 1 })
      refused("{}", "ttr must be a number of seconds from 0.1 to " .. MAX_DELAY, { ttr = 0.05 })
      refused("{}", "ttr must be a number of seconds from 0.1", { ttr = 1e300 })
      refused("{}", "priority must be a whole number from 0 to 4294967295", { priority = -1 })
      refused("{}", "priority must be a whole number from 0 to 4294967295", { priority = 4294967296 })
    end)

    it("names an unknown job type by its first 64 bytes, as valid UTF-8", function()
      local uuid, kind, msg = h:submit("t\255" .. string.rep("y", 100), "{}")
      assert.is_nil(uuid)
      assert.are.equal("not_found", kind)
      assert.is_truthy(utf8.len(msg))
      assert.is_true(#msg < 100)
    end)

    it("answers a read or kill of an id that is not a uuid as not found, naming its first 64 bytes as valid UTF-8", function()
      local hostile = "\255" .. string.rep("z", 10000)
      local text, kind, msg = h:read("dump", hostile)
      assert.is_nil(text)
      assert.are.equal("not_found", kind)
      assert.is_truthy(utf8.len(msg))
      assert.is_true(#msg < 100)
      local killed, kkind, kmsg = h:kill(hostile)
      assert.is_nil(killed)
      assert.are.equal("not_found", kkind)
      assert.is_truthy(utf8.len(kmsg))
    end)

    it("stores a NUL inside a param string exactly (as \\u0000)", function()
      local uuid = assert(h:submit("v", '{"s": "a\\u0000b", "x": {"k\\u0000": "\\u0000"}}'))
      local d = H.doc(h, uuid)
      assert.are.equal("a\0b", d.s)
      assert.are.equal("\0", d.x["k\0"])
      assert.matches('"s":"a\\u0000b"', h:read("dump", uuid), 1, true)
    end)

    it("takes JSON's own number forms and whitespace around values (1.5e-3, -0.5, 1E+05, 0, tabs and newlines)", function()
      local uuid = assert(h:submit("v", '{\t"n":\n-0.5,\r\n "x": [1.5e-3, 1E+05, 0, -0, "a.b", "\\t"]}'))
      local d = H.doc(h, uuid)
      assert.are.equal(-0.5, d.n)
      assert.are.equal("\t", d.x[6])
    end)

    it("stores doubles and integers exactly: 0.1 + 0.2, 2^53 - 1, +-2^53", function()
      local uuid = assert(h:submit("v",
        '{"n": 0.30000000000000004, "i": 9007199254740991, "x": [9007199254740992, -9007199254740992, 9007199254740991.0]}'))
      local text = h:read("dump", uuid)
      assert.matches('"n":0.30000000000000004', text, 1, true)
      assert.matches('"i":9007199254740991', text, 1, true)
      assert.matches('"x":[9007199254740992,-9007199254740992,9007199254740991]', text, 1, true)
      local d = H.doc(h, uuid)
      assert.are.equal(0.1 + 0.2, d.n)
    end)

    it("stores an empty array for an array field and an empty object for an object field, and reads them back so", function()
      local uuid = assert(h:submit("v", '{"a": [], "o": {}}'))
      local text = h:read("dump", uuid)
      assert.matches('"a":[]', text, 1, true)
      assert.matches('"o":{}', text, 1, true)
    end)

    it("names a TTR just under 0.1 s by the digits that read back to it, not as 0.1", function()
      refused("{}", "got the number 0.09999999999999999", { ttr = 0.09999999999999999 })
    end)

    it("stores params nested exactly 64 levels (the limit) and reads them back", function()
      local uuid = assert(h:submit("v", '{"x": ' .. nested(63) .. '}'))
      local d = H.doc(h, uuid)
      local depth, v = 1, d.x
      while type(v) == "table" and v[1] do depth, v = depth + 1, v[1] end
      assert.are.equal(63, depth)
    end)
  end)

  describe("hostile values through the job API on " .. store, function()
    local h
    before_each(function()
      H.reset(store)
      h = H.host(store)
    end)
    after_each(function() h:close() end)

    -- Runs `body` as a job's run (MAX_ERRORS 1: its first error finishes it); returns the doc.
    local function run_body(body)
      local _, d = H.run_job(h, [[
        local zerog = require "zerog"
        return { JOB_TYPE = "jv", MAX_ERRORS = 1, SCHEMA = {
          s = { type = "string" }, i = { type = "integer" }, n = { type = "number" },
          x = { type = "any" }, seen = { type = "any" } },
          run = function(self) ]] .. body .. [[ end }]])
      return d
    end

    local deep = "local t = {}; local v = t; for _ = 1, 62 do v[1] = {}; v = v[1] end" -- 63 tables
    local refused = {
      { "a NaN assigned and saved", "self.n = 0/0; self:save()", "save: field n cannot be stored: NaN cannot be stored" },
      { "+inf assigned and saved", "self.x = { math.huge }; self:save()", "save: field x cannot be stored: Infinity" },
      { "NaN through update_attrs", "self:update_attrs { n = 0/0 }", "update_attrs: field n must be a finite number, got NaN" },
      { "-inf through update_attrs", "self:update_attrs { n = -math.huge }", "field n must be a finite number, got %-Infinity" },
      { "NaN nested in an any field", "self:update_attrs { x = { k = 0/0 } }", "update_attrs: field x cannot be stored: NaN" },
      { "an integer beyond 2^53", "self:update_attrs { i = (1 << 53) + 2 }", "field i must be an integer between %-2%^53 and 2%^53" },
      { "1e300 for an integer", "self:update_attrs { i = 1e300 }", "field i must be an integer between" },
      { "1.5 for an integer", "self:update_attrs { i = 1.5 }", "field i must be an integer, got the number 1.5" },
      { "a string that is not UTF-8", "self:update_attrs { s = 'a\\255' }", "field s must be valid UTF%-8 text" },
      { "a key that is not UTF-8", "self:update_attrs { x = { ['k\\255'] = 1 } }", "field x cannot be stored: a string is not valid UTF%-8" },
      { "a string that is not UTF-8, saved", "self.x = 'a\\192\\128'; self:save()", "save: field x cannot be stored: a string is not valid UTF%-8" },
      { "nesting deeper than 64 levels", deep .. "; v[1] = {}; self:update_attrs { x = t }", "field x cannot be stored: a value nested deeper than 64 levels" },
      { "a string over 16 MiB", "self:update_attrs { x = { string.rep('a', 16 * 1024 * 1024) } }", "field x cannot be stored: a value of 16777220 bytes as JSON is over the limit" },
      { "set_completeness(0/0)", "self:set_completeness(0/0)", "set_completeness: completeness must be a finite number, got NaN" },
      { "set_completeness(math.huge)", "self:set_completeness(math.huge)", "set_completeness: completeness must be a finite number, got Infinity" },
      { "add_to_completeness(0/0)", "self:add_to_completeness(0/0)", "add_to_completeness: delta must be a finite number, got NaN" },
      { "set_tick_value(-math.huge)", "self:set_tick_value(-math.huge)", "set_tick_value: tickval must be a finite number, got %-Infinity" },
      { "record_result(1e300)", "self:record_result(1e300)", "record_result: the result code must be an integer between %-2%^53 and 2%^53, got the number 1e%+300" },
      { "an integer beyond 2^53 in an any field (it would read back rounded)", "self:update_attrs { x = math.maxinteger }",
        "field x cannot be stored: the integer 9223372036854775807 is beyond %+%-2%^53" },
      { "an integer beyond -2^53 nested and saved", "self.x = { k = { -(1 << 53) - 1 } }; self:save()", "save: field x cannot be stored: the integer %-9007199254740993" },
      { "a table with both the key 1 and the key '1' (one would be lost)", "self:update_attrs { x = { [1] = 'a', ['1'] = 'b' } }",
        'field x cannot be stored: a table has both the key 1 and the key "1"' },
      { "a table with both the key 1.5 and the key '1.5'", "self:update_attrs { x = { [1.5] = 'a', ['1.5'] = 'b' } }", 'both the key 1.5 and the key "1.5"' },
      { "a field name that is not UTF-8, 10 KB long (named by its first 64 bytes, as UTF-8)", "self:update_attrs { ['\\255' .. string.rep('k', 10000)] = 1 }",
        "^update_attrs: \u{FFFD}" .. string.rep("k", 61) .. "… is not a field of job type jv" },
      { "NaN through get_job(uuid):update_attrs", "zerog.get_job(self.uuid):update_attrs { n = 0/0 }", "field n must be a finite number, got NaN" },
    }
    for _, c in ipairs(refused) do
      it("refuses " .. c[1] .. " with a recorded error, and the field keeps its stored value", function()
        local d = run_body(c[2] .. "; return 200")
        assert.are.equal(500, d.resultCode)
        assert.are.equal(1, #d.errors)
        assert.matches(c[3], d.errors[1].msg)
        assert.are.equal(H.json.null, d.n)
        assert.are.equal(H.json.null, d.x)
      end)
    end

    it("stores every ASCII character and UTF-8 text exactly in a string field, an object's key, an event, a warning and an error", function()
      -- (the runtime writes ASCII strings as JSON itself, escaping as lua-cjson does)
      local d = run_body([[
        local chars = {}
        for b = 0, 127 do chars[#chars + 1] = string.char(b) end
        local s = table.concat(chars) .. "/\\\"é€𝄞"
        self:update_attrs { s = s, x = { [s] = s, list = { s, "plain" } } }
        self:record_event(s)
        self:record_warning(s)
        self:record_error(7, s)
        return 200]])
      local chars = {}
      for b = 0, 127 do chars[#chars + 1] = string.char(b) end
      local s = table.concat(chars) .. "/\\\"é€𝄞"
      assert.are.equal(200, d.resultCode)
      assert.are.equal(s, d.s)
      assert.are.equal(s, d.x[s])
      assert.are.same({ s, "plain" }, d.x.list)
      assert.are.equal(s, d.events[#d.events].msg)
      assert.are.equal(s, d.warnings[1].msg)
      assert.are.equal(s, d.errors[1].msg)
      assert.are.equal(7, d.errors[1].errorCode)
    end)

    it("get_job of nil, a number or 10 KB that is not UTF-8 is nil (no job), not a runtime error", function()
      local d = run_body([[
        local seen = {}
        for i, id in ipairs { false, 42, string.rep("\255", 10000), "not-a-uuid" } do
          seen[i] = zerog.get_job(id or nil) == nil
        end
        self:update_attrs { seen = seen }
        return 200]])
      assert.are.equal(200, d.resultCode)
      assert.are.same({ true, true, true, true }, d.seen)
    end)

    it("accepts exactly 64 levels (a field sits one inside its document) and reads it back", function()
      local d = run_body(deep .. "; self:update_attrs { x = t }; self:reload(); return 200")
      assert.are.equal(200, d.resultCode)
      local depth, v = 1, d.x
      while type(v) == "table" and v[1] do depth, v = depth + 1, v[1] end
      assert.are.equal(63, depth)
    end)

    it("keeps 0.1 + 0.2 and 2^53 - 1 exact through save and reload", function()
      local d = run_body([[self.n = 0.1 + 0.2; self.i = (1 << 53) - 1; self.x = { 2.0 ^ 53 - 1, 1 / 3 }
        self:save(); self:reload()
        self:update_attrs { seen = { self.n == 0.1 + 0.2, self.i == (1 << 53) - 1, self.x[2] == 1 / 3 } }
        return 200]])
      assert.are.same({ true, true, true }, d.seen)
      assert.are.equal(9007199254740991, d.i)
    end)

    it("refuses hostile queue options of enqueue with a reason, storing no job", function()
      local d = run_body([[
        local why = {}
        for i, kw in ipairs { { delay = -1 }, { delay = 366 * 24 * 3600 + 1 }, { delay = 0/0 },
                              { ttr = 0 }, { ttr = math.huge }, { priority = -1 },
                              { priority = 2 ^ 32 }, { priority = 1.5 } } do
          local child = zerog.make_job("jv", {})
          local id, err = child:enqueue(kw)
          why[i] = (id == nil) and err or "enqueued"
        end
        local child = zerog.make_job("jv", { n = 1 })
        child.n = 0/0
        local id, err = child:enqueue {}
        why[#why + 1] = (id == nil) and err or "enqueued"
        self:update_attrs { seen = why }
        return 200]])
      assert.are.equal(200, d.resultCode)
      local want = { "delay must be a number of seconds from 0 to", "delay must be", "delay must be",
                     "ttr must be a number of seconds from 0.1", "ttr must be", "priority must be a whole number from 0 to 4294967295",
                     "priority must be a whole", "priority must be a whole",
                     "enqueue: field n cannot be stored: NaN" }
      for i, w in ipairs(want) do assert.matches(w, d.seen[i], 1, true) end
      assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 0 }, h:counts("zerog_jobs"))
    end)

    it("stores messages as valid UTF-8 (U+FFFD for other bytes) and a NUL exactly; the log line gets U+FFFD for the NUL", function()
      local d = run_body([[self:job_log_info("bad \255 byte"); self:job_log_warning("nul \0 here")
        self:record_error(1e300, "code beyond") return 200]])
      assert.are.equal("bad \u{FFFD} byte", d.events[1].msg)
      assert.are.equal("nul \0 here", d.warnings[1].msg)
      assert.are.equal(500, d.errors[1].errorCode)
      local logged = {}
      for _, l in ipairs(h.logs) do logged[#logged + 1] = l[3] end
      assert.is_true(H.contains(logged, "bad \u{FFFD} byte"))
      assert.is_true(H.contains(logged, "nul \u{FFFD} here"))
    end)

    it("cuts a message over 64 KiB after a whole character, with a marker, in the document and the log", function()
      -- 100 KiB of 2- and 3-byte characters, so the 64 KiB mark falls inside one
      local d = run_body([[self:job_log_info("x" .. string.rep("é€", 20480)) return 200]])
      local msg = d.events[1].msg
      assert.is_truthy(utf8.len(msg))
      local kept, cut = msg:match("^(.*)… %[(%d+) bytes cut%]$")
      assert.is_truthy(kept)
      assert.is_true(#kept <= 65536 and #kept > 65530)
      assert.are.equal(1 + 5 * 20480, #kept + tonumber(cut))
      local logged = h.logs[#h.logs][3]
      assert.are.equal(msg, logged)
    end)

    it("refuses at load a SCHEMA default that cannot be stored (NaN, bytes that are not UTF-8)", function()
      local t, kind, msg = h:load_string("nan_default.lua", [[return { JOB_TYPE = "nd",
        SCHEMA = { n = { type = "number", default = 0/0 } }, run = function() end }]])
      assert.is_nil(t)
      assert.are.equal("script", kind)
      assert.matches("SCHEMA field n: default must be a finite number, got NaN", msg)
      t, kind, msg = h:load_string("utf_default.lua", [[return { JOB_TYPE = "ud",
        SCHEMA = { x = { default = { "\255" } } }, run = function() end }]])
      assert.is_nil(t)
      assert.matches("SCHEMA field x: default cannot be stored: a string is not valid UTF%-8", msg)
    end)
  end)
end
