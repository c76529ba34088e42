-- cluster_report: the Redis Cluster bench's figures (spec/bench/cluster_run).
--   lua5.4 cluster_report.lua phase NAME ROUND SHARDS N [PORT CPU_BEFORE CPU_AFTER COMMANDSTATS]...
--       one JSON line {"kind": "phase", ...}: per master, from its INFO cpu before and after the
--       phase and its INFO commandstats after it (reset at the phase's start): calls, usec of the
--       scripts (EVAL*, FCALL*), usec of all commands, CPU µs (used_cpu_user + used_cpu_sys)
--   lua5.4 cluster_report.lua report RAW BENCH_JSON
--       prints the table and adds the summary to BENCH_JSON under "cluster" (the file's other
--       keys are kept as they are; a file that does not exist yet is created)
-- Per-job figures are medians over the rounds. Redis 7 counts a command a script runs under its
-- own name too, and a script's usec includes those commands' time: "all commands" counts that
-- time twice, "scripts" leaves out the commands clients send themselves; the real figure lies
-- between the two. INFO cpu is the process's CPU time, every overhead included.
local cjson = require "cjson"
local figures = dofile((arg[0]:match("^(.*/)") or "./") .. "figures.lua")
local select, pluck, median, num = figures.select, figures.pluck, figures.median, figures.num

local HARNESS = { info = true, config = true }

local function read(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  return text
end

local function cpu_seconds(text)
  return (tonumber(text:match("used_cpu_user:([%d%.]+)")) or 0) + (tonumber(text:match("used_cpu_sys:([%d%.]+)")) or 0)
end

local function node_phase(port, cpu0, cpu1, cs)
  local calls, usec_all, usec_scripts = 0, 0, 0
  for name, c, us in read(cs):gmatch("cmdstat_([^:]+):calls=(%d+),usec=(%d+)") do
    name = name:lower()
    if not HARNESS[name:match("^[^|]+")] then
      calls, usec_all = calls + tonumber(c), usec_all + tonumber(us)
      if name:match("^eval") or name:match("^fcall") then usec_scripts = usec_scripts + tonumber(us) end
    end
  end
  return { port = tonumber(port), calls = calls, usec_all = usec_all, usec_scripts = usec_scripts,
           cpu_us = math.floor((cpu_seconds(read(cpu1)) - cpu_seconds(read(cpu0))) * 1e6 + 0.5) }
end

--- The per-job figures of one master in one phase, medians over the rounds.
local function node_figures(phases, port)
  local per = { cpu_us = {}, usec_scripts = {}, usec_all = {}, calls = {} }
  for _, ph in ipairs(phases) do
    for _, nd in ipairs(ph.nodes) do
      if nd.port == port then
        for k in pairs(per) do table.insert(per[k], nd[k] / ph.N) end
      end
    end
  end
  return { cpu_us_per_job = median(per.cpu_us), script_us_per_job = median(per.usec_scripts),
           command_us_per_job = median(per.usec_all), commands_per_job = median(per.calls) }
end

local function summary(rows)
  local meta = select(rows, { kind = "meta" })[1]
  local meta_end = select(rows, { kind = "meta_end" })[1] or {}
  meta.kind, meta.loadavg_end = nil, meta_end.loadavg_end
  local out = { meta = meta, shards = {} }
  for _, shards in ipairs { 1, 3 } do
    local rounds = select(rows, { kind = "round", shards = shards })
    if #rounds == 0 then
      out.shards[tostring(shards)] = { available = false, why = meta.shards3_why }
    else
      local s = { available = true, rounds = pluck(rounds, "jobs_per_s"),
                  jobs_per_s = median(pluck(rounds, "jobs_per_s")),
                  submit_per_s = median(pluck(rounds, "submit_per_s")),
                  documents = rounds[1].documents, nodes = {} }
      local total_calls = 0
      for i, port in ipairs(meta.masters) do
        local nd = { port = port, slots = meta.slots[i], documents = rounds[1].documents[i] }
        for _, phase in ipairs { "submit", "run" } do
          nd[phase] = node_figures(select(rows, { kind = "phase", shards = shards, phase = phase }), port)
        end
        nd.total = {}
        for k, v in pairs(nd.run) do nd.total[k] = v + nd.submit[k] end
        total_calls = total_calls + nd.total.commands_per_job
        s.nodes[i] = nd
      end
      local busiest
      for _, nd in ipairs(s.nodes) do
        nd.share_of_commands = total_calls > 0 and nd.total.commands_per_job / total_calls or 0
        if not busiest or nd.total.cpu_us_per_job > busiest.total.cpu_us_per_job then busiest = nd end
      end
      -- one node's single thread: at most 1e6 / (its µs per job) jobs/s, submit and run together
      s.busiest = { port = busiest.port, cpu_us_per_job = busiest.total.cpu_us_per_job,
                    max_jobs_per_s = 1e6 / busiest.total.cpu_us_per_job,
                    max_jobs_per_s_commandstats = 1e6 / busiest.total.command_us_per_job,
                    busy_at_measured = busiest.run.cpu_us_per_job * s.jobs_per_s / 1e6 }
      out.shards[tostring(shards)] = s
    end
  end
  local verified = select(rows, { kind = "verify" })
  local jobs, ok = 0, #verified > 0
  for _, v in ipairs(verified) do jobs, ok = jobs + v.jobs, ok and v.ok end
  out.verified = { runs = #verified, jobs = jobs, ok = ok }
  return out
end

local function table_text(s)
  local m, lines = s.meta, {}
  local function add(...) lines[#lines + 1] = string.format(...) end
  add("Redis Cluster, one hot queue (%s): N = %s, %d rounds, workers %d × `--concurrency %d`, 3 masters "
      .. "(no replicas) and the workers on %d cores, redis %s, load %s -> %s, %s",
      m.commit, num(m.N), m.runs, m.procs, m.concurrency, m.cores, m.redis, m.loadavg_start,
      m.loadavg_end or "?", m.date)
  add("")
  add("| SHARDS | jobs/s (run) | bulk submit jobs/s | master (slots) | Redis CPU µs/job, INFO cpu: "
      .. "submit + run | commandstats µs/job: scripts / all commands | commands/job | share of commands |")
  add("| --- | --- | --- | --- | --- | --- | --- | --- |")
  for _, shards in ipairs { "1", "3" } do
    local sh = s.shards[shards]
    if not sh.available then
      add("| %s | not available | | %s | | | | |", shards, (sh.why or ""):gsub("|", "/"))
    else
      for i, nd in ipairs(sh.nodes) do
        local first = i == 1
        add("| %s | %s | %s | %d (%s)%s | %s + %s | %s / %s | %s | %s%% |", first and shards or "",
            first and num(sh.jobs_per_s) or "", first and num(sh.submit_per_s) or "", nd.port, nd.slots,
            nd.port == sh.busiest.port and " busiest" or "", num(nd.submit.cpu_us_per_job, 1),
            num(nd.run.cpu_us_per_job, 1), num(nd.total.script_us_per_job, 1),
            num(nd.total.command_us_per_job, 1), num(nd.total.commands_per_job, 1),
            num(100 * nd.share_of_commands))
      end
    end
  end
  add("")
  for _, shards in ipairs { "1", "3" } do
    local sh = s.shards[shards]
    if sh.available then
      local b, rounds = sh.busiest, {}
      for i, r in ipairs(sh.rounds) do rounds[i] = num(r) end
      add("SHARDS = %s: rounds %s jobs/s; the busiest master spends %s µs of CPU per job (submit + run): "
          .. "its one thread allows at most %s jobs/s (%s by commandstats' all commands); at the %s jobs/s "
          .. "run here its run phase kept it %s%% busy", shards, table.concat(rounds, ", "),
          num(b.cpu_us_per_job, 1), num(b.max_jobs_per_s), num(b.max_jobs_per_s_commandstats),
          num(sh.jobs_per_s), num(100 * b.busy_at_measured))
    else
      add("SHARDS = %s: not available (%s)", shards, sh.why or "?")
    end
  end
  add("exactly once: %d runs, %s jobs, each with result 200, no error and one run: %s",
      s.verified.runs, num(s.verified.jobs), s.verified.ok and "ok" or "FAILED")
  return table.concat(lines, "\n")
end

--- Adds "cluster" to the JSON object in path, leaving the rest of its text as it is.
local function add_to(path, value)
  local f = io.open(path)
  local text = f and f:read("a") or ""
  if f then f:close() end
  local ok, doc = pcall(cjson.decode, text)
  local encoded = cjson.encode(value)
  if not ok or type(doc) ~= "table" then
    text = '{"cluster":' .. encoded .. "}\n"
  elseif doc.cluster == nil then
    text = text:gsub("}%s*$", "") .. ((next(doc) and ",") or "") .. '"cluster":' .. encoded .. "}\n"
  else -- a run of cluster_run alone after another: the file goes through cjson
    doc.cluster = value
    text = cjson.encode(doc) .. "\n"
  end
  f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local mode = arg[1]
if mode == "phase" then
  local nodes = {}
  for i = 6, #arg, 4 do nodes[#nodes + 1] = node_phase(arg[i], arg[i + 1], arg[i + 2], arg[i + 3]) end
  print(cjson.encode { kind = "phase", phase = arg[2], round = tonumber(arg[3]), shards = tonumber(arg[4]),
                       N = tonumber(arg[5]), nodes = nodes })
elseif mode == "report" then
  local rows = {}
  for line in io.lines(arg[2]) do
    if line:match("^%s*{") then rows[#rows + 1] = cjson.decode(line) end
  end
  local s = summary(rows)
  add_to(arg[3], s)
  print(table_text(s))
  print("(added to " .. arg[3] .. " under \"cluster\")")
  if not s.verified.ok then os.exit(1) end
else
  io.stderr:write("usage: cluster_report.lua phase NAME ROUND SHARDS N [PORT CPU0 CPU1 CS]... | report RAW OUT_JSON\n")
  os.exit(2)
end
