-- expect: attempt to index a string value
-- The string metatable is shared by every string of the VM: getmetatable("") does not give it out.
HOSTILE = true
return { JOB_TYPE = "string_metatable", MAX_ERRORS = 1, run = function()
  local mt = getmetatable("")
  if type(mt) == "table" then
    mt.__index = function() return "forged" end
    return 200
  end
  mt.__index = function() return "forged" end
end }
