-- expect: decode_max_depth: .* at most 1000 .*encode_max_depth: .* at most 1000
-- zerog.json is a lua-cjson instance of the job's own, but its nesting limits must not be raised:
-- cjson encodes and decodes by recursion in C, so a decode of "[[[..." three million deep (or
-- an encode of a table nested as deep) overflowed the C stack and ended the worker with SIGSEGV.
HOSTILE = true
local zerog = require "zerog"
return { JOB_TYPE = "json_depth_bomb", MAX_ERRORS = 1, run = function(self)
  local json = zerog.json
  local raised_decode, why_decode = pcall(json.decode_max_depth, 10000000)
  if raised_decode then pcall(json.decode, string.rep("[", 3000000)) end
  local raised_encode, why_encode = pcall(json.encode_max_depth, 10000000)
  if raised_encode then
    local t = {}
    local cur = t
    for _ = 1, 3000000 do cur[1] = {}; cur = cur[1] end
    pcall(json.encode, t)
  end
  if raised_decode or raised_encode then return 200 end
  error(tostring(why_decode) .. " / " .. tostring(why_encode), 0)
end }
