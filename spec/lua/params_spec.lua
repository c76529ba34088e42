-- Params validation against a job type's SCHEMA, and how values cross JSON (the codec's edges).
local H = require "helper"

local TYPES = [[return { JOB_TYPE = "typed", run = function() return 200 end, SCHEMA = {
  s = { type = "string" }, i = { type = "integer" }, n = { type = "number" },
  b = { type = "boolean" }, o = { type = "object" }, a = { type = "array" }, x = { type = "any" },
  req = { type = "string", required = true },
  def = { type = "integer", default = 30 },
  deft = { type = "array", default = { 1, 2 } } } }]]

for _, store in ipairs(H.stores) do
  describe("params on " .. store, function()
    local h
    before_each(function()
      H.reset(store)
      h = H.host(store)
      H.define(h, TYPES)
    end)
    after_each(function() h:close() end)

    local function refused(params_json, pattern)
      local uuid, kind, msg = h:submit("typed", params_json)
      assert.is_nil(uuid)
      assert.are.equal("invalid", kind)
      assert.matches(pattern, msg)
      assert.are.same({ ready = 0, delayed = 0, reserved = 0, buried = 0 }, h:counts("zerog_jobs"))
    end

    local bad = {
      { "a string for an integer", '{"req":"r","i":"abc"}', "field i must be an integer, got the string \"abc\"" },
      { "a fraction for an integer", '{"req":"r","i":1.5}', "field i must be an integer, got the number 1.5" },
      { "an integer beyond 2^53", '{"req":"r","i":18014398509481984}', "params hold the integer 18014398509481984, beyond %+%-2%^53" },
      { "an integer written as a float beyond 2^53", '{"req":"r","i":1.8e16}', "field i must be an integer between %-2%^53 and 2%^53" },
      { "a string for a boolean", '{"req":"r","b":"yes"}', "field b must be a boolean" },
      { "a number for a string", '{"req":"r","s":5}', "field s must be a string" },
      { "a string for a number", '{"req":"r","n":"5"}', "field n must be a number" },
      { "a list for an object", '{"req":"r","o":[1,2]}', "field o must be an object" },
      { "an object for an array", '{"req":"r","a":{"k":1}}', "field a must be an array" },
      { "a missing required field", '{}', "field req is required" },
      { "an unknown field", '{"req":"r","zzz":1}', "unknown field zzz" },
      { "params that are not an object", '[1,2]', "params must be a JSON object" },
      { "params that are not JSON", '{"req":', "params are not valid JSON" },
    }
    for _, c in ipairs(bad) do
      it("refuses " .. c[1] .. ", naming the field, and stores nothing", function()
        refused(c[2], c[3])
      end)
    end

    it("refuses an unknown job type as not_found", function()
      local uuid, kind, msg = h:submit("no_such_type", "{}")
      assert.is_nil(uuid)
      assert.are.equal("not_found", kind)
      assert.matches("no_such_type", msg)
    end)

    it("accepts every type and fills in defaults", function()
      local uuid = H.submit(h, "typed", { req = "r", s = "str", i = 3, n = 2.5, b = false,
        o = { k = "v" }, a = { 1, "two" }, x = { any = { 1 } } })
      local d = H.doc(h, uuid)
      assert.are.equal("str", d.s)
      assert.are.equal(3, d.i)
      assert.are.equal(2.5, d.n)
      assert.is_false(d.b)
      assert.are.same({ k = "v" }, d.o)
      assert.are.same({ 1, "two" }, d.a)
      assert.are.same({ any = { 1 } }, d.x)
      assert.are.equal(30, d.def)
      assert.are.same({ 1, 2 }, d.deft)
    end)

    it("accepts an integral float for an integer and stores an integer", function()
      local d = H.doc(h, H.submit(h, "typed", { req = "r", i = 4.0 }))
      assert.are.equal(4, d.i)
      assert.matches('"i":4,', h:read("dump", d.uuid))
    end)

    it("treats null as absent", function()
      local d = H.doc(h, H.submit(h, "typed", { req = "r", def = H.json.null }))
      assert.are.equal(30, d.def)
    end)
  end)

  describe("values crossing JSON on " .. store, function()
    local h
    before_each(function()
      H.reset(store)
      h = H.host(store)
    end)
    after_each(function() h:close() end)

    it("keeps floats exact, integers up to 2^53, empty arrays and unicode", function()
      local _, d = H.run_job(h, [[return { JOB_TYPE = "edges", SCHEMA = {
          f = { type = "number" }, big = { type = "integer" }, list = { type = "array" }, text = { type = "string" },
          seen = {} },
        run = function(self)
          self:update_attrs { f = 0.1 + 0.2, big = 9007199254740992, list = {}, text = "héllo \"q\" \n ✓" }
          self:reload()
          self:update_attrs { seen = { f_exact = self.f == 0.1 + 0.2, big = math.type(self.big),
            list_len = #self.list } }
        end }]])
      assert.is_true(d.seen.f_exact)
      assert.are.equal("integer", d.seen.big)
      assert.are.equal(0, d.seen.list_len)
      assert.are.equal(9007199254740992, d.big)
      assert.are.equal("héllo \"q\" \n ✓", d.text)
      assert.matches('"list":%[%]', h:read("dump", d.uuid))
      assert.matches('"f":0.30000000000000004', h:read("dump", d.uuid))
    end)

    it("keeps a default table apart between jobs (defaults are copied)", function()
      local t = H.define(h, [[return { JOB_TYPE = "copies", SCHEMA = { a = { type = "array", default = {} } },
        run = function(self) table.insert(self.a, 1); self:update_attrs { a = self.a } end }]])
      local u1, u2 = H.submit(h, t), H.submit(h, t)
      H.run(h, u1)
      H.run(h, u2)
      assert.are.same({ 1 }, H.doc(h, u1).a)
      assert.are.same({ 1 }, H.doc(h, u2).a)
    end)
  end)
end
