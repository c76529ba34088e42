-- expect: TIMEOUT of 0%.3 s
-- code: 500
-- timeout-ms: 5000
-- Loops in coroutines that never yield: one created when the script loaded and resumed again
-- and again, one made by coroutine.wrap, each caught by pcall.
local made_at_load = coroutine.create(function() while true do end end)
return { JOB_TYPE = "limits_coroutine_never_yields", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function()
    while true do
      pcall(coroutine.resume, made_at_load)
      pcall(coroutine.wrap(function() while true do end end))
      local co = coroutine.create(function() while true do pcall(function() while true do end end) end end)
      while true do pcall(coroutine.resume, co) end
    end
  end }
