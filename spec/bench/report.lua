-- report: the bench's figures from the JSON lines spec/bench/run collected (raw.jsonl).
--   lua5.4 report.lua report RAW OUT_JSON    prints the table (markdown) and writes OUT_JSON
--   lua5.4 report.lua best-procs RAW C       the fastest ZeroG shape (worker processes) at C so far
--                                            (nothing when C was not measured)
-- Throughput, submit rate and memory are medians over the rounds; latencies are percentiles
-- (nearest rank) of all rounds' samples pooled; ratios are ZeroG / BullMQ of those medians.
local cjson = require "cjson"
local figures = dofile((arg[0]:match("^(.*/)") or "./") .. "figures.lua")
local select, pluck, median, percentile, num =
  figures.select, figures.pluck, figures.median, figures.percentile, figures.num

local function read_rows(path)
  local rows = {}
  for line in io.lines(path) do
    if line:match("^%s*{") then rows[#rows + 1] = cjson.decode(line) end
  end
  return rows
end

local function concurrencies(rows)
  local seen, out = {}, {}
  for _, r in ipairs(select(rows, { kind = "throughput" })) do
    if not seen[r.C] then seen[r.C], out[#out + 1] = true, r.C end
  end
  table.sort(out)
  return out
end

--- {procs -> median jobs/s} at concurrency c, and the fastest procs.
local function shapes_at(rows, c)
  local by = {}
  for _, r in ipairs(select(rows, { kind = "throughput", system = "zerog", C = c })) do
    by[r.procs] = by[r.procs] or {}
    table.insert(by[r.procs], r)
  end
  local shapes, best = {}, nil
  for procs, list in pairs(by) do
    local m = median(pluck(list, "jobs_per_s"))
    shapes[#shapes + 1] = { procs = procs, concurrency = c // procs, jobs_per_s = m,
                            rounds = pluck(list, "jobs_per_s"), rss_mb = median(pluck(list, "rss_mb")),
                            redis_us_submit = median(pluck(list, "redis_us_submit")),
                            redis_us_run = median(pluck(list, "redis_us_run")) }
    if not best or m > best.jobs_per_s then best = shapes[#shapes] end
  end
  table.sort(shapes, function(a, b) return a.procs < b.procs end)
  return shapes, best
end

local function ratio(a, b)
  if not a or not b or b == 0 then return nil end
  return a / b
end

local function summary(rows)
  local out = { throughput = {}, submit = {}, latency = {}, redis = {}, append = {} }
  local meta = select(rows, { kind = "meta" })[1] or {}
  local meta_end = select(rows, { kind = "meta_end" })[1] or {}
  meta.loadavg_end = meta_end.loadavg_end
  local anchor = select(rows, { kind = "throughput", system = "bullmq" })[1]
  meta.bullmq_version = anchor and anchor.version or nil
  out.meta = meta
  for _, c in ipairs(concurrencies(rows)) do
    local shapes, best = shapes_at(rows, c)
    local bull = select(rows, { kind = "throughput", system = "bullmq", C = c })
    local entry = {
      zerog = best and { best_procs = best.procs, best_concurrency = best.concurrency,
                         jobs_per_s = best.jobs_per_s, rss_mb = best.rss_mb, shapes = shapes,
                         redis_us_submit = best.redis_us_submit, redis_us_run = best.redis_us_run } or nil,
      bullmq = #bull > 0 and { jobs_per_s = median(pluck(bull, "jobs_per_s")),
                               rounds = pluck(bull, "jobs_per_s"),
                               rss_mb = median(pluck(bull, "rss_mb")),
                               redis_us_total = median(pluck(bull, "redis_us_total")) } or nil,
    }
    entry.ratio = ratio(entry.zerog and entry.zerog.jobs_per_s, entry.bullmq and entry.bullmq.jobs_per_s)
    out.throughput[tostring(c)] = entry
  end
  local zs = pluck(select(rows, { kind = "throughput", system = "zerog" }), "submit_per_s")
  local bs = pluck(select(rows, { kind = "throughput", system = "bullmq" }), "enqueue_per_s")
  out.submit = { zerog = { jobs_per_s = median(zs), samples = #zs },
                 bullmq = #bs > 0 and { jobs_per_s = median(bs), samples = #bs } or nil,
                 ratio = ratio(median(zs), median(bs)) }
  for _, system in ipairs { "zerog", "bullmq" } do
    local lat = {}
    for _, delay in ipairs { 0, 100 } do
      local samples = {}
      for _, r in ipairs(select(rows, { kind = "latency", system = system, delay_ms = delay })) do
        for _, us in ipairs(r.samples_us) do samples[#samples + 1] = us / 1000 end
      end
      if #samples > 0 then
        lat[delay == 0 and "immediate" or "delayed_100ms"] = {
          p50_ms = percentile(samples, 50), p99_ms = percentile(samples, 99),
          max_ms = percentile(samples, 100), samples = #samples }
      end
    end
    if next(lat) then out.latency[system] = lat end
    local counts = {}
    for _, phase in ipairs { "submit", "run" } do
      local cs = select(rows, { kind = "commands", system = system, phase = phase })[1]
      local rt = select(rows, { kind = "round_trips", system = system, phase = phase })[1]
      if cs and rt then
        counts.N, counts.C = cs.N, cs.C
        counts[phase] = { commands_per_job = cs.calls / cs.N, round_trips_per_job = rt.top_level / rt.N,
                          commands = cs.by_command, round_trips = rt.by_command }
      end
    end
    if counts.submit and counts.run then
      counts.total = {
        commands_per_job = counts.submit.commands_per_job + counts.run.commands_per_job,
        round_trips_per_job = counts.submit.round_trips_per_job + counts.run.round_trips_per_job }
      out.redis[system] = counts
    end
  end
  for _, r in ipairs(select(rows, { kind = "append" })) do out.append[#out.append + 1] = r end
  local verified = select(rows, { kind = "verify" })
  local jobs, ok = 0, #verified > 0
  for _, v in ipairs(verified) do
    jobs, ok = jobs + v.jobs, ok and v.ok
  end
  out.verified = { runs = #verified, jobs = jobs, ok = ok }
  return out
end

-- ---- the table ----------------------------------------------------------------------------------

local function ms(x)
  if x == nil then return "-" end
  local a = math.abs(x)
  return string.format(a >= 100 and "%.0f" or a >= 10 and "%.1f" or "%.2f", x)
end

local function table_text(s)
  local m = s.meta
  local lines = {}
  local function add(...) lines[#lines + 1] = string.format(...) end
  add("ZeroG (%s) vs BullMQ %s: N = %s, %s rounds, %s cores, redis %s, load %s -> %s, %s",
      m.commit or "?", m.bullmq_version or "(not run)", num(m.N), num(m.runs), num(m.cores), m.redis or "?",
      m.loadavg_start or "?", m.loadavg_end or "?", m.date or "")
  add("")
  add("| measure | ZeroG | BullMQ | ZeroG / BullMQ |")
  add("| --- | --- | --- | --- |")
  local cs = {}
  for k in pairs(s.throughput) do cs[#cs + 1] = tonumber(k) end
  table.sort(cs)
  for _, c in ipairs(cs) do
    local t = s.throughput[tostring(c)]
    local z, b = t.zerog, t.bullmq
    local shape = z and string.format(" (%d × `--threads %d`)", z.best_procs, z.best_concurrency) or ""
    add("| jobs/s at C = %d | %s%s | %s | %s |", c, num(z and z.jobs_per_s), shape,
        num(b and b.jobs_per_s), num(t.ratio, 2))
  end
  add("| bulk submit, jobs/s | %s | %s | %s |", num(s.submit.zerog.jobs_per_s),
      num(s.submit.bullmq and s.submit.bullmq.jobs_per_s), num(s.submit.ratio, 2))
  local zl, bl = s.latency.zerog or {}, s.latency.bullmq or {}
  local function pair(l, a, b) return l and (ms(l[a]) .. " / " .. ms(l[b])) or "-" end
  add("| submit-to-start on an idle worker, p50 / p99 ms | %s | %s | |",
      pair(zl.immediate, "p50_ms", "p99_ms"), pair(bl.immediate, "p50_ms", "p99_ms"))
  add("| a job delayed 100 ms starts late by, p50 / p99 ms | %s | %s | |",
      pair(zl.delayed_100ms, "p50_ms", "p99_ms"), pair(bl.delayed_100ms, "p50_ms", "p99_ms"))
  local zr, br = s.redis.zerog, s.redis.bullmq
  local function per(r, what)
    if not r then return "-" end
    return string.format("%.1f (%.1f + %.1f)", r.total[what], r.submit[what], r.run[what])
  end
  local function rr(what)
    if not zr or not br then return "" end
    return num(zr.total[what] / br.total[what], 2)
  end
  local at = zr or br
  local cond = at and string.format(" (N = %s, C = %d)", num(at.N), at.C) or ""
  add("| Redis commands per job: submit + run%s | %s | %s | %s |", cond, per(zr, "commands_per_job"),
      per(br, "commands_per_job"), rr("commands_per_job"))
  add("| Redis round trips per job: submit + run%s | %s | %s | %s |", cond,
      per(zr, "round_trips_per_job"), per(br, "round_trips_per_job"), rr("round_trips_per_job"))
  for _, c in ipairs(cs) do
    local t = s.throughput[tostring(c)]
    local z, b = t.zerog, t.bullmq
    local zt = z and z.redis_us_submit and z.redis_us_run and z.redis_us_submit + z.redis_us_run
    add("| Redis CPU per job at C = %d, µs: submit + run | %s | %s | %s |", c,
        zt and string.format("%.0f (%.0f + %.0f)", zt, z.redis_us_submit, z.redis_us_run) or "-",
        b and b.redis_us_total and string.format("%.0f", b.redis_us_total) or "-",
        num(ratio(zt, b and b.redis_us_total), 2))
  end
  for _, c in ipairs(cs) do
    local t = s.throughput[tostring(c)]
    local z, b = t.zerog, t.bullmq
    add("| worker memory (max RSS) at C = %d, MB | %s | %s | %s |", c, num(z and z.rss_mb, 1),
        num(b and b.rss_mb, 0), num(ratio(z and z.rss_mb, b and b.rss_mb), 2))
  end
  add("")
  for _, c in ipairs(cs) do
    local z = s.throughput[tostring(c)].zerog
    if z and #z.shapes > 1 then
      local parts = {}
      for _, sh in ipairs(z.shapes) do
        parts[#parts + 1] = string.format("%d × %d: %s", sh.procs, sh.concurrency, num(sh.jobs_per_s))
      end
      add("ZeroG shapes at C = %d (processes × --threads: jobs/s): %s", c, table.concat(parts, ", "))
    end
  end
  for _, a in ipairs(s.append) do
    add("append an event (%s store): %.3f µs at 10 entries, %.3f µs at 100,000 (ratio %.2f)", a.store,
        a.us_per_append_at_10, a.us_per_append_at_100000, a.ratio)
  end
  add("exactly once: %d ZeroG runs, %s jobs, each with result 200, no error and one run: %s",
      s.verified.runs, num(s.verified.jobs), s.verified.ok and "ok" or "FAILED")
  return table.concat(lines, "\n")
end

local mode = arg[1]
if mode == "best-procs" then
  local _, best = shapes_at(read_rows(arg[2]), tonumber(arg[3]))
  if best then print(best.procs) end
elseif mode == "report" then
  local s = summary(read_rows(arg[2]))
  local f = assert(io.open(arg[3], "w"))
  f:write(cjson.encode(s), "\n")
  f:close()
  print(table_text(s))
  print("(written to " .. arg[3] .. ")")
  if not s.verified.ok then os.exit(1) end
else
  io.stderr:write("usage: report.lua report RAW OUT_JSON | best-procs RAW C\n")
  os.exit(2)
end
