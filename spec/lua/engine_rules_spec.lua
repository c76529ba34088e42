-- Engine rules that a single in-process host cannot reach through the public API (a message
-- that timed out several times), checked on zerog.engine itself with a stand-in for the C core.
describe("engine rules for an unloadable message", function()
  local engine

  setup(function()
    package.path = "lua/?.lua;" .. package.path
    package.preload["zerog.core"] = function()
      return { load = function() return nil end, now = function() return "t" end }
    end
    engine = require "zerog.engine"
  end)

  local function decide(reserves, timeouts)
    return table.pack(engine.process { id = 1, body = "gone", reserves = reserves, timeouts = timeouts, releases = 0 })
  end

  it("releases it with RETRY_DELAY while reserved at most 3 times and timed out at most 2", function()
    local d = decide(3, 2)
    assert.are.equal("release", d[1])
    assert.are.equal(30, d[2])
  end)

  it("deletes it once reserved more than 3 times", function()
    assert.are.equal("delete", decide(4, 0)[1])
  end)

  it("deletes it once timed out more than 2 times", function()
    assert.are.equal("delete", decide(1, 3)[1])
  end)
end)
