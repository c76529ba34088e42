-- Engine rules that a single in-process host cannot reach through the public API (a job whose
-- lease lapsed several times), checked on zerog.engine itself with a stand-in for the C core.
describe("engine rules for a claimed job that cannot be loaded", function()
  local engine

  setup(function()
    package.path = "lua/?.lua;" .. package.path
    package.preload["zerog.core"] = function()
      return { now = function() return "t" end, log = function() end,
               lost = function() return false end, interrupted = function() return false end,
               settling = function() end,
               -- run_protected(memory, timeout, handler, f, ...) -> stopped, ok, results...
               run_protected = function(_, _, handler, f, ...)
                 return nil, xpcall(f, handler, ...)
               end,
               run_engine = function(_, _, handler, f, ...)
                 return nil, xpcall(f, handler, ...)
               end }
    end
    package.loaded["zerog.registry"] = {
      get = function() return { JOB_TYPE = "t" } end,
      instantiate = function(spec) return spec end,
      fill_job = function() error("corrupt document") end,
    }
    engine = require "zerog.engine"
  end)

  local function decide(reserves, timeouts)
    return engine.process({ uuid = "u", queue = "q", jobType = "t", reserves = reserves,
                            timeouts = timeouts, releases = 0, prior = 0, doc = '{"jobType":"t"}' }, {})
  end

  it("releases it with RETRY_DELAY while reserved at most 3 times and timed out at most 2", function()
    local d = decide(3, 2)
    assert.are.equal("release", d.action)
    assert.are.equal(30, d.delay)
  end)

  it("buries it, with the reason, once reserved more than 3 times", function()
    local d = decide(4, 0)
    assert.are.equal("bury", d.action)
    assert.matches("corrupt document", d.reason)
    assert.matches("corrupt document", d.error)
  end)

  it("buries it once its lease lapsed more than 2 times", function()
    assert.are.equal("bury", decide(1, 3).action)
  end)
end)

-- A run that recorded its result (record_result, raise_*_finish) and whose host died before it
-- settled: no job can record another job's result, so the state cannot be made through the API.
describe("engine rules for a claimed job whose result is recorded but not settled", function()
  it("settles it with that result without running it again", function()
    package.path = "lua/?.lua;" .. package.path
    package.loaded["zerog.engine"] = nil
    package.loaded["zerog.registry"] = {
      get = function() return { JOB_TYPE = "t" } end,
      instantiate = function(spec) return spec end,
      fill_job = function(job)
        job.resultCode = 410
        job.run = function() error("ran again") end
        return job
      end,
    }
    local engine = require "zerog.engine"
    local d = engine.process({ uuid = "u", queue = "q", jobType = "t", reserves = 1, timeouts = 0,
                               releases = 0, prior = 0, doc = '{"jobType":"t"}' }, {})
    assert.are.equal("finish", d.action)
    assert.are.equal(410, d.code)
  end)
end)
