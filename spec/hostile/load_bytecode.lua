-- expect: attempt to load a binary chunk
-- Binary chunks crash the VM when crafted: string.dump is gone (also as a string method) and load
-- takes text only, whatever mode it is given.
HOSTILE = true
return { JOB_TYPE = "load_bytecode", MAX_ERRORS = 1, run = function()
  if string.dump or ("").dump then return 200 end
  -- a crafted chunk: the Lua 5.4 header, then garbage
  local crafted = "\27Lua\84\0\25\147\13\10\26\10\4\8\8\120\86\0\0\0\0\0\0\0\0\0\0\0\40\119\64\1"
    .. string.rep("\255", 64)
  for _, mode in ipairs { "b", "bt", "t" } do
    local f, why = load(crafted, "=crafted", mode)
    if f then return 200 end
    if mode == "t" then error(why, 0) end
  end
end }
