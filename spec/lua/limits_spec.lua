-- RATE, CONCURRENCY and GROUP as the registry takes them: checked at load (a bad value is a load
-- error naming the field). (What they do is pinned in spec/c/test_claim_limits.c and
-- spec/cli/claim_limits_test.sh.)
local H = require "helper"

local function load_error(decl)
  local h = H.host()
  local t, kind, msg = h:load_string("lim.lua", "return { JOB_TYPE = 'lim', " .. decl
    .. ", SCHEMA = { c = { type = 'string' } }, run = function() return 200 end }")
  h:close()
  assert.is_nil(t, decl)
  assert.are.equal("script", kind)
  return msg
end

describe("RATE, CONCURRENCY and GROUP", function()
  it("refuses bad values at load with a message naming the field", function()
    for decl, field in pairs {
      ["CONCURRENCY = 0"] = "CONCURRENCY", ["CONCURRENCY = 1.5"] = "CONCURRENCY",
      ["CONCURRENCY = 100001"] = "CONCURRENCY", ["CONCURRENCY = { limit = 2, scope = 'all' }"] = "CONCURRENCY",
      ["RATE = 10"] = "RATE", ["RATE = { limit = 0 }"] = "RATE", ["RATE = { limit = 5, per = -1 }"] = "RATE",
      ["RATE = { limit = 5, per = 0.0001 }"] = "RATE", ["RATE = { per = 1 }"] = "RATE",
      ["GROUP = 3"] = "GROUP", ["GROUP = ''"] = "GROUP", ["GROUP = 'nope'"] = "GROUP",
    } do
      assert.matches(field, load_error(decl), 1, true)
    end
  end)

  it("loads good declarations, per type or queue-wide, with a GROUP of the SCHEMA", function()
    local h = H.host()
    local t, kind, msg = h:load_string("ok.lua", "return { JOB_TYPE = 'ok_limits', CONCURRENCY = "
      .. "{ limit = 2, scope = 'queue' }, RATE = { limit = 10, per = 0.5 }, GROUP = 'c', SCHEMA = "
      .. "{ c = { type = 'string' } }, run = function() return 200 end }")
    h:close()
    assert.is_not_nil(t, tostring(kind) .. " " .. tostring(msg))
  end)
end)
