-- redis_counts: turns what Redis reports into Redis commands and round trips per job.
--   lua5.4 redis_counts.lua commandstats SYSTEM PHASE N C <INFO-commandstats-text
--   lua5.4 redis_counts.lua commandstats <json-lines          (bullmq_probe.js count's output)
--     -> {"kind": "commands", system, phase, N, C, "calls": every call, script-internal ones
--         included (Redis 7 counts those in commandstats), "by_command": {...}}
--   lua5.4 redis_counts.lua monitor FILE SYSTEM N C             (a redis-cli MONITOR capture)
--     -> per phase between the ECHO markers "zb:<phase>:begin" / "zb:<phase>:end":
--        {"kind": "round_trips", system, phase, N, C, "top_level": commands sent by clients
--         (MONITOR's source is a client address; each command of a pipeline or MULTI counts),
--         "in_scripts": commands run by scripts (source "lua"), "by_command": top-level ones}
-- The harness's own commands (ECHO markers, CONFIG RESETSTAT, INFO, MONITOR) are left out.
local cjson = require "cjson"

local HARNESS = { echo = true, info = true, config = true, monitor = true }

local function harness_command(name)
  return HARNESS[name:match("^[^|]+")] == true
end

local function commandstats(text, system, phase, n, c)
  local calls, by = 0, {}
  for name, count in text:gmatch("cmdstat_([^:]+):calls=(%d+)") do
    name = name:lower()
    if not harness_command(name) then
      calls = calls + tonumber(count)
      by[name] = (by[name] or 0) + tonumber(count)
    end
  end
  return cjson.encode { kind = "commands", system = system, phase = phase, N = n, C = c,
                        calls = calls, by_command = by }
end

local function monitor(path, system, n, c)
  local phase, out = nil, {}
  local counts
  for line in io.lines(path) do
    local source, command = line:match('^%d+%.%d+ %[%d+ ([^%]]*)%] "([^"]*)"')
    if command then
      command = command:lower()
      local name, edge
      if command == "echo" then name, edge = line:match('"zb:([%w_]+):(%a+)"%s*$') end
      if name then
        if edge == "begin" then
          phase, counts = name, { top_level = 0, in_scripts = 0, by_command = {} }
        elseif phase == name then
          out[#out + 1] = cjson.encode { kind = "round_trips", system = system, phase = phase,
            N = n, C = c, top_level = counts.top_level, in_scripts = counts.in_scripts,
            by_command = counts.by_command }
          phase = nil
        end
      elseif phase and not harness_command(command) then
        if source == "lua" then
          counts.in_scripts = counts.in_scripts + 1
        else
          counts.top_level = counts.top_level + 1
          counts.by_command[command] = (counts.by_command[command] or 0) + 1
        end
      end
    end
  end
  return table.concat(out, "\n")
end

local mode = arg[1]
if mode == "commandstats" and arg[2] then
  print(commandstats(io.read("a"), arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])))
elseif mode == "commandstats" then
  for line in io.lines() do
    local d = cjson.decode(line)
    print(commandstats(d.text, d.system, d.phase, d.N, d.C))
  end
elseif mode == "monitor" then
  print(monitor(arg[2], arg[3], tonumber(arg[4]), tonumber(arg[5])))
else
  io.stderr:write("usage: redis_counts.lua commandstats|monitor ...\n")
  os.exit(2)
end
