-- Prints a Lua expression over the JSON document read from stdin: lua5.4 json_get.lua 'd.job.uuid'
-- (cjson decodes numbers as floats; integral ones are printed as integers).
local cjson = require "cjson"
local d = cjson.decode(io.read("a"))
local v = assert(load("local d = ...; return " .. arg[1]))(d)
if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
print(v)
