-- check.lua: the chaos soak's invariants over every job's document (`zerog dump`, one per line)
-- and the log of the faults injected (`<ms> <kind> ...` per line).
--   lua5.4 check.lua FAULTS DUMPS MODE
-- Each job: finished with 200 and not running; errorCount equals its errors; every rerun (a
-- "run start" event after the first) explained by an error or a graceful release before it;
-- every "killed" or "lease expired" error explained by a fault of the kind that causes it while
-- that run could have been going; no other error but the type's own 512.
local cjson = require "cjson"
local faults_path, dumps_path, mode = arg[1], arg[2], arg[3]

local function days_from_civil(y, m, d) -- Howard Hinnant's algorithm
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end
local function iso_ms(s)
  local y, mo, d, h, mi, sec, ms = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$")
  if not y then return nil end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + h * 3600 + mi * 60 + sec
  return t * 1000 + (tonumber((ms .. "000"):sub(1, 3)) or 0)
end

local faults = {}
for line in io.lines(faults_path) do
  local ms, kind, rest = line:match("^(%d+) (%S+)%s*(.*)$")
  if ms then faults[#faults + 1] = { at = tonumber(ms), kind = kind, rest = rest } end
end
-- the moments a fault of one of the kinds was under way: [from, to] (a stop lasts until its
-- continue; a kill is a moment)
local function spans(kinds_start, kind_end)
  local out = {}
  for i, f in ipairs(faults) do
    if kinds_start[f.kind] then
      local to = f.at
      if kind_end then
        for j = i + 1, #faults do
          if faults[j].kind == kind_end then to = faults[j].at; break end
        end
      end
      out[#out + 1] = { from = f.at, to = to, kind = f.kind }
    end
  end
  return out
end
local kills = spans({ kill9_worker = true, kill9_host = true, kill9_unsupervised = true })
local stops = spans({ sigstop_worker = true }, "sigcont_worker")
local terms = spans({ sigterm_host = true }, "host_ended")
-- a store that refused or stalled a run's writes: the run is released, nothing recorded (by design:
-- "the store failed during the run" in the host's log)
local store_faults = {}
for _, s in ipairs(spans({ oom_on = true }, "oom_off")) do store_faults[#store_faults + 1] = s end
for _, s in ipairs(spans({ sigstop_redis = true }, "sigcont_redis")) do store_faults[#store_faults + 1] = s end
local function any_in(list, from, to)
  for _, s in ipairs(list) do if s.to >= from and s.from <= to then return s end end
end

local problems, counts = {}, { jobs = 0, runs = 0, e512 = 0, killed = 0, lapsed = 0, released = 0, reruns = 0, store_reruns = 0 }
local function problem(uuid, msg)
  problems[#problems + 1] = "PROBLEM: job " .. uuid .. ": " .. msg
end

for line in io.lines(dumps_path) do
  if line ~= "" then
    local ok, doc = pcall(cjson.decode, line)
    if not ok then
      problems[#problems + 1] = "PROBLEM: a dump is not JSON: " .. line:sub(1, 200)
    elseif doc._missing then
      problem(doc.uuid, "zerog dump failed (no such job?)")
    else
      counts.jobs = counts.jobs + 1
      local u = doc.uuid
      if doc.resultCode ~= 200 then problem(u, "result " .. tostring(doc.resultCode)) end
      if doc.running ~= false then problem(u, "still running") end
      local errs, evs = doc.errors or {}, doc.events or {}
      if doc.errorCount ~= #errs then
        problem(u, ("errorCount %s but %d errors"):format(tostring(doc.errorCount), #errs))
      end
      -- one timeline: run starts, releases and errors, by time
      local tl = {}
      for _, e in ipairs(evs) do
        if e.msg == "run start" or e.msg:match("^Released") then
          local what = e.msg == "run start" and "start"
            or e.msg:match("^Released %- the store failed") and "store_released" or "released"
          tl[#tl + 1] = { at = iso_ms(e.timeStamp), what = what, msg = e.msg }
        end
      end
      for _, e in ipairs(errs) do
        local what = "other"
        if e.errorCode == 512 and e.msg == "flaky failure" then what = "e512"
        elseif e.msg:match("killed while running") then what = "killed"
        elseif e.msg:match("^lease expired") then what = "lapsed" end
        tl[#tl + 1] = { at = iso_ms(e.timeStamp), what = what, msg = e.msg, code = e.errorCode, err = true }
      end
      -- at the same ms, the record of how the run before ended (a kill or a lapse, written by the
      -- claim) comes before a start, and what a run raised or its release after it
      local rank = { killed = 0, lapsed = 0, start = 1 }
      table.sort(tl, function(a, b)
        if a.at ~= b.at then return a.at < b.at end
        return (rank[a.what] or 2) < (rank[b.what] or 2)
      end)
      local starts, explained, last_start = 0, 0, iso_ms(doc.createdAt)
      for _, t in ipairs(tl) do
        if t.what == "start" then
          starts = starts + 1
          if starts > 1 then
            counts.reruns = counts.reruns + 1
            if explained == 0 and any_in(store_faults, last_start, t.at) then
              counts.store_reruns = counts.store_reruns + 1
            elseif explained == 0 then
              problem(u, ("run %d started at %s with nothing since the run before (no error, no release)")
                :format(starts, t.at))
            end
          end
          explained, last_start = 0, t.at
        else
          explained = explained + 1
          counts[t.what == "other" and "e512" or t.what] = (counts[t.what] or 0) + (t.what == "other" and 0 or 1)
          if t.what == "other" then
            problem(u, ("an unexpected error %s: %s"):format(tostring(t.code), t.msg))
          elseif t.what == "killed" then
            if not any_in(kills, last_start - 2000, t.at) then
              problem(u, ("'%s' at %d with no kill -9 since its run began at %d"):format(t.msg, t.at, last_start))
            end
          elseif t.what == "lapsed" then
            local ok_cause = any_in(stops, last_start - 2000, t.at)
              or any_in(kills, last_start - 2000, t.at)
            if not ok_cause then
              local near = {}
              for _, f in ipairs(faults) do
                if f.at >= last_start - 2000 and f.at <= t.at then near[#near + 1] = f.kind .. "@" .. f.at end
              end
              problem(u, ("'%s' at %d with no kill or stopped worker since its run began at %d (faults then: %s)")
                :format(t.msg, t.at, last_start, table.concat(near, " ")))
            end
          elseif t.what == "store_released" then
            counts.store_reruns = counts.store_reruns + 1
            if not any_in(store_faults, last_start - 2000, t.at + 2000) then
              problem(u, ("'%s' at %d with no store fault since its run began"):format(t.msg, t.at))
            end
          elseif t.what == "released" then
            if not any_in(terms, last_start - 2000, t.at + 2000) then
              problem(u, ("'%s' at %d with no SIGTERM of the host since its run began"):format(t.msg, t.at))
            end
          end
        end
      end
      counts.runs = counts.runs + starts
      if starts == 0 then problem(u, "no run started") end
      if explained > 0 and doc.resultCode == 200 then
        -- the last thing after the last start is an error or a release, yet the job succeeded
        problem(u, "finished 200, but its last run start is followed by an error or release")
      end
    end
  end
end
print(("jobs %d, runs %d, reruns %d (%d after a store failure), errors: 512 %d, killed %d, lease expired %d, released %d")
  :format(counts.jobs, counts.runs, counts.reruns, counts.store_reruns, counts.e512, counts.killed, counts.lapsed, counts.released))
local shown = 0
for _, p in ipairs(problems) do
  shown = shown + 1
  if shown <= 40 then print(p) end
end
if #problems > 40 then print(("PROBLEM: ... and %d more"):format(#problems - 40)) end
local _ = mode
