-- Loading job-type scripts: what a valid script defines, and every load error with file and line.
local H = require "helper"

local function load_error(source, path)
  local h = H.host()
  local t, kind, msg = h:load_string(path or "bad.lua", source)
  h:close()
  assert.is_nil(t)
  assert.are.equal("script", kind)
  return msg
end

describe("loading job scripts", function()
  it("reports a syntax error with file and line", function()
    local msg = load_error("return {\n  JOB_TYPE = 'x',\n  run = function( end\n}", "jobs/syntax.lua")
    assert.matches("^jobs/syntax.lua:3:", msg)
  end)

  it("reports a missing JOB_TYPE with file and line", function()
    local msg = load_error("local t = 1\n\nreturn { run = function() end }", "jobs/nojt.lua")
    assert.matches("^jobs/nojt.lua:3: JOB_TYPE must be set", msg)
  end)

  it("reports a missing run with file and line", function()
    local msg = load_error("return {\n JOB_TYPE = 'x' }", "jobs/norun.lua")
    assert.matches("^jobs/norun.lua:%d+: the job type has no run function", msg)
  end)

  it("reports an error raised while the script loads, with file and line", function()
    local msg = load_error("local x = nil\nx.y = 1\nreturn {}", "jobs/raise.lua")
    assert.matches("jobs/raise.lua:2: attempt to index a nil value", msg)
  end)

  it("fails the load of a script whose top-level code never ends, naming the file", function()
    -- found by fuzzing (spec/fuzz/scripts/found_top_level_loop.lua): the load hung for ever
    local started = os.time()
    local msg = load_error("local n = 0\nwhile true do n = n + 1 end\nreturn {}", "jobs/loop.lua")
    assert.matches("jobs/loop.lua: its top level did not load within 2 s", msg)
    assert.is_true(os.time() - started <= 4)
  end)

  it("reports a script that does not return a table", function()
    assert.matches("must return a table", load_error("return 42"))
  end)

  it("reports a missing file", function()
    local h = H.host()
    local t, kind, msg = h:load_file("/nonexistent/job.lua")
    assert.is_nil(t)
    assert.are.equal("script", kind)
    assert.matches("/nonexistent/job.lua", msg)
  end)

  local bad_definitions = {
    { "an unknown SCHEMA type", "SCHEMA = { f = { type = 'int' } }", "SCHEMA field f: unknown type int" },
    { "a default of the wrong type", "SCHEMA = { f = { type = 'integer', default = 'x' } }", "SCHEMA field f: default must be an integer" },
    { "a SCHEMA field named like a base field", "SCHEMA = { uuid = { type = 'string' } }", "SCHEMA field uuid: the base job document already has it" },
    { "a SCHEMA field named like a method", "SCHEMA = { tick = {} }", "SCHEMA field tick: clashes with the job method" },
    { "a SCHEMA field named like the store's own (a leading _)", "SCHEMA = { _m = {} }", "SCHEMA field _m: a field name must be an identifier starting with a letter" },
    { "an unknown SCHEMA option", "SCHEMA = { f = { type = 'string', requird = true } }", "unknown option requird" },
    { "a MAX_ERRORS that is not an integer", "MAX_ERRORS = 'three'", "MAX_ERRORS must be an integer" },
    { "a negative RETRY_DELAY", "RETRY_DELAY = -1", "RETRY_DELAY must be a number of seconds" },
    { "a get_data that is not a function", "get_data = 3", "get_data must be a function" },
    { "a bad QUEUE_NAME", "QUEUE_NAME = 'a b'", "QUEUE_NAME must be" },
  }
  for _, c in ipairs(bad_definitions) do
    it("refuses " .. c[1] .. " with file and line", function()
      local msg = load_error("return { JOB_TYPE = 'x', run = function() end,\n" .. c[2] .. " }", "jobs/def.lua")
      assert.matches("^jobs/def.lua:%d+: ", msg)
      assert.matches(c[3], msg, 1, true)
    end)
  end

  it("refuses a JOB_TYPE already defined by another file", function()
    local h = H.host()
    H.define(h, "return { JOB_TYPE = 'dup', run = function() end }", "jobs/a.lua")
    local t, kind, msg = h:load_string("jobs/b.lua", "return { JOB_TYPE = 'dup', run = function() end }")
    assert.is_nil(t)
    assert.are.equal("script", kind)
    assert.matches("JOB_TYPE dup is already defined by jobs/a.lua", msg, 1, true)
  end)

  it("replaces a type when its file is loaded again", function()
    local h = H.host()
    H.define(h, "return { JOB_TYPE = 'v', run = function() return 201 end }", "jobs/v.lua")
    H.define(h, "return { JOB_TYPE = 'v', run = function() return 202 end }", "jobs/v.lua")
    local uuid = H.submit(h, "v")
    assert.are.equal(202, H.run(h, uuid)[1].result)
  end)

  it("gives the type's settings to its jobs: QUEUE_NAME, TTR, PRIORITY", function()
    local h = H.host()
    H.define(h, "return { JOB_TYPE = 'q', QUEUE_NAME = 'mine', TTR = 9, PRIORITY = 5, run = function() end }")
    local d = H.doc(h, H.submit(h, "q"))
    assert.are.equal("mine", d.queueName)
    assert.are.same({ delay = 0, ttr = 9, priority = 5 }, d.queueKwargs)
    assert.are.equal('["mine"]', h:queues())
  end)

  it("check_file validates a script without registering it", function()
    local h = H.host()
    assert.are.equal("waste_time", h:check_file("jobs/waste_time.lua"))
    assert.are.equal("[]", h:queues())
    local uuid, kind = h:submit("waste_time", "{}")
    assert.is_nil(uuid)
    assert.are.equal("not_found", kind)
  end)

  it("loads every example in jobs/", function()
    local h = H.host()
    for _, f in ipairs { "jobs/waste_time.lua", "jobs/fibonacci.lua", "jobs/flaky.lua" } do
      local t, kind, msg = h:load_file(f)
      assert.is_truthy(t, f .. ": " .. tostring(kind) .. " " .. tostring(msg))
    end
  end)
end)
