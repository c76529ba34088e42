-- The sandbox of job scripts: what a script can and cannot reach, what an operator can open, and
-- that every use of a job type (a run, a submit, a read) starts from a clean environment.
local H = require "helper"

--- A folder with job scripts and helper modules: files is {relative path = source}.
local function jobs_folder(files)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/lib/util'"))
  for path, source in pairs(files) do
    local f = assert(io.open(dir .. "/" .. path, "w"))
    f:write(source)
    f:close()
  end
  return dir
end

local function remove(dir) os.execute("rm -rf '" .. dir .. "'") end

-- Each expression is evaluated inside a run; `reachable` says whether it is truthy there.
local PROBES = {
  { "string.format", true }, { "table.insert", true }, { "math.floor", true }, { "utf8.char", true },
  { "coroutine.wrap", true }, { "os.time", true }, { "os.clock", true }, { "os.date", true },
  { "os.difftime", true }, { "pcall", true }, { "xpcall", true }, { "select", true }, { "rawlen", true },
  { "rawequal", true }, { "next", true }, { "print", true }, { "load", true }, { "require", true },
  { "_G == _ENV", true }, { "_VERSION", true }, { "collectgarbage('count') > 0", true },
  { "collectgarbage('isrunning')", true },
  { "debug", false }, { "io", false }, { "package", false }, { "dofile", false }, { "loadfile", false },
  { "string.dump", false }, { "('').dump", false }, { "warn", false },
  { "pcall(os.exit)", false }, { "pcall(os.execute, 'true')", false }, { "pcall(os.getenv, 'HOME')", false },
  { "pcall(os.remove, '/nonexistent')", false }, { "pcall(os.rename, '/a', '/b')", false },
  { "pcall(os.tmpname)", false }, { "pcall(os.setlocale)", false },
  { "pcall(collectgarbage, 'stop')", false }, { "pcall(collectgarbage, 'generational')", false },
  { "pcall(collectgarbage, 'incremental')", false }, { "pcall(collectgarbage, 'setpause', 100)", false },
  { "pcall(require, 'zerog.core')", false }, { "pcall(require, 'zerog.engine')", false },
  { "pcall(require, 'zerog.registry')", false }, { "pcall(require, 'cjson')", false },
  { "pcall(require, 'debug')", false }, { "type(getmetatable('')) == 'table'", false },
  { "pcall(setmetatable, {}, { __gc = print })", false },
  { "load(string.char(27) .. 'Lua')", false }, { "load(string.char(27) .. 'Lua', 'x', 'b')", false },
}

local function probe_job(name)
  local lines = { "local zerog = require 'zerog'", "return { JOB_TYPE = '" .. name .. "', SCHEMA = { seen = {} },",
                  "  run = function(self) local seen = {}" }
  for i, p in ipairs(PROBES) do
    lines[#lines + 1] = ("    do local ok, v = pcall(function() return %s end); seen[%d] = ok and (v and true or false) end")
      :format(p[1], i)
  end
  lines[#lines + 1] = "    self:update_attrs { seen = seen } end }"
  return table.concat(lines, "\n")
end

describe("the sandbox of job scripts", function()
  local h
  after_each(function() if h then h:close() end h = nil end)

  it("gives a run the safe standard library and the zerog module, and nothing else", function()
    h = H.host()
    local _, d = H.run_job(h, probe_job("probe"))
    assert.are.equal(200, d.resultCode)
    for i, p in ipairs(PROBES) do
      assert(d.seen[i] == p[2], p[1] .. " should " .. (p[2] and "" or "not ") .. "be reachable")
    end
  end)

  it("opens what the operator names in sandbox_open", function()
    h = assert(require("zerog_spec").new { store = "mem://", sandbox_open = "io,os,debug,package,bytecode,gc" })
    local _, d = H.run_job(h, probe_job("opened"))
    local open_now = { ["debug"] = true, ["io"] = true, ["package"] = true, ["dofile"] = true,
      ["loadfile"] = true, ["string.dump"] = true, ["pcall(os.getenv, 'HOME')"] = true,
      ["pcall(os.remove, '/nonexistent')"] = true, ["pcall(os.rename, '/a', '/b')"] = true, ["pcall(os.tmpname)"] = true,
      ["pcall(os.setlocale)"] = true, ["pcall(collectgarbage, 'generational')"] = true,
      ["pcall(collectgarbage, 'incremental')"] = true, ["pcall(collectgarbage, 'setpause', 100)"] = true,
      ["pcall(require, 'cjson')"] = true, ["pcall(require, 'debug')"] = true,
      -- package (like debug) hands out the whole VM, the runtime's modules included
      ["pcall(require, 'zerog.core')"] = true, ["pcall(require, 'zerog.engine')"] = true,
      ["pcall(require, 'zerog.registry')"] = true,
      ["pcall(os.execute, 'true')"] = true, ["pcall(collectgarbage, 'stop')"] = true }
    for i, p in ipairs(PROBES) do
      local want = p[2] or open_now[p[1]] or false
      assert(d.seen[i] == want, p[1] .. " should " .. (want and "" or "not ") .. "be reachable when opened")
    end
    -- os.exit stays closed
    local _, e = H.run_job(h, [[return { JOB_TYPE = "still_closed", SCHEMA = { seen = {} }, run = function(self)
      self:update_attrs { seen = { pcall(os.exit) } } end }]])
    assert.is_false(e.seen[1])
  end)

  it("refuses an unknown name in sandbox_open, naming it", function()
    local made, kind, msg = require("zerog_spec").new { store = "mem://", sandbox_open = "io, net" }
    assert.is_nil(made)
    assert.are.equal("invalid", kind)
    assert.matches('unknown library "net"', msg, 1, true)
  end)

  it("starts every run of a type with fresh globals, class, zerog module and helper modules", function()
    local dir = jobs_folder {
      ["lib/counter.lua"] = "local M = { n = 0 }\nfunction M.bump() M.n = M.n + 1 return M.n end\nreturn M\n",
      ["lib/util/text.lua"] = "return { shout = function(s) return s:upper() .. '!' end }\n",
      ["again.lua"] = [[local zerog = require "zerog"
        local counter = require "counter"
        local text = require "util.text"
        local loads = (LOADS or 0) + 1
        LOADS = loads
        return { JOB_TYPE = "again", SCHEMA = { seen = {} }, run = function(self)
          local seen = { global = MARK == nil, class = getmetatable(self).MARK == nil,
            helper = counter.bump() == 1, nested = text.shout("a") == "A!", loads = loads,
            format = string.format("%d", 1) == "1", sleep = type(zerog.sleep) == "function",
            tostring = tostring(2) == "2", same = require("counter") == counter }
          MARK, getmetatable(self).MARK, string.format, zerog.sleep = true, true, nil, nil
          tostring = function() return "x" end
          self:update_attrs { seen = seen }
        end }]],
    }
    h = H.host()
    assert(h:load_file(dir .. "/again.lua"))
    local noop = H.define(h, "return { JOB_TYPE = 'noop', run = function() end }")
    for _ = 1, 3 do
      H.run(h, H.submit(h, noop)) -- another type's run in between
      local uuid = H.submit(h, "again")
      H.run(h, uuid)
      assert.are.same({ global = true, class = true, helper = true, nested = true, loads = 1, format = true,
                        sleep = true, tostring = true, same = true }, H.doc(h, uuid).seen)
    end
    remove(dir)
  end)

  it("does not take the helper modules of jobs/lib for job types", function()
    local dir = jobs_folder {
      ["lib/helper.lua"] = "return { x = 1 }\n",
      ["uses.lua"] = "local helper = require 'helper'\nreturn { JOB_TYPE = 'uses', run = function() return 200 + helper.x end }\n",
    }
    h = assert(require("zerog_spec").new { store = "mem://", jobs_dir = dir })
    for _, entry in ipairs(h.logs) do assert.is_nil(entry[3]:find("lib", 1, true), entry[3]) end
    assert.are.equal('["zerog_jobs"]', h:queues())
    local uuid = H.submit(h, "uses")
    assert.are.equal(201, H.run(h, uuid)[1].result)
    remove(dir)
  end)

  it("names the helper folder when a module is not found", function()
    h = H.host()
    local _, d = H.run_job(h, [[return { JOB_TYPE = "missing", MAX_ERRORS = 1, run = function() require "nothere" end }]])
    assert.matches("module 'nothere' not found", d.errors[1].msg, 1, true)
    assert.matches("lib/nothere.lua", d.errors[1].msg, 1, true)
  end)

  it("runs get_data, init and migrate in the sandbox too, each use with its own globals", function()
    h = H.host()
    local t = H.define(h, [[return { JOB_TYPE = "views", SCHEMA = { seen = {} },
      init = function(self) INIT_SEEN = (INIT_SEEN or 0) + 1; self.init_debug = debug ~= nil end,
      run = function(self) LEFT_BEHIND = true; self:update_attrs { seen = { INIT_SEEN, self.init_debug } } end,
      get_data = function(self) return { left = LEFT_BEHIND == nil, init = INIT_SEEN, io = io == nil } end }]])
    local uuid = H.submit(h, t)
    H.run(h, uuid)
    assert.are.same({ 1, false }, H.doc(h, uuid).seen)
    assert.are.same({ left = true, init = 1, io = true }, H.view(h, "data", uuid))
  end)

  it("loads text chunks in the job's own environment, never binary ones", function()
    h = H.host()
    local _, d = H.run_job(h, [[return { JOB_TYPE = "loader", SCHEMA = { seen = {} }, run = function(self)
      SECRET = 7
      local f = load("return SECRET")
      local g = load("return SECRET", "g", "t", { SECRET = 8 })
      local b, why = load("\27Lua", "b", "b")
      self:update_attrs { seen = { f(), g(), b == nil, why } }
    end }]])
    assert.are.same({ 7, 8, true, "attempt to load a binary chunk (mode is 't')" }, d.seen)
  end)

  it("logs print() under the job's logId", function()
    h = H.host()
    local uuid = H.run_job(h, [[return { JOB_TYPE = "printer", run = function() print("hello", 1, nil) end }]])
    local found = false
    for _, entry in ipairs(h.logs) do
      found = found or (entry[2] == "printer_" .. uuid and entry[3] == "hello\t1\tnil")
    end
    assert.is_true(found)
  end)

  it("leaves the collector running and incremental after every run", function()
    h = assert(require("zerog_spec").new { store = "mem://", sandbox_open = "gc" })
    H.run_job(h, [[return { JOB_TYPE = "stopper", run = function() collectgarbage("stop") collectgarbage("generational") end }]])
    local _, d = H.run_job(h, [[return { JOB_TYPE = "looker", SCHEMA = { seen = {} }, run = function(self)
      self:update_attrs { seen = { collectgarbage("isrunning"), collectgarbage("incremental") } } end }]])
    assert.are.same({ true, "incremental" }, d.seen)
  end)

  it("refuses a job type whose table defines __gc", function()
    h = H.host()
    local t, kind, msg = h:load_string("gc.lua", "return { JOB_TYPE = 'gc', __gc = function() end, run = function() end }")
    assert.is_nil(t)
    assert.are.equal("script", kind)
    assert.matches("finalizers are not available", msg, 1, true)
  end)
end)
