#!/usr/bin/env bash
# Many hosts against one Redis: exactly-once runs, concurrent appends, reconnects, dead and
# stalled hosts (TTR expiry, the kill record, fencing), busy jobs, retention.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
cat >"$JOBS/once.lua" <<'LUA'
-- counts its runs: exactly-once means runs == 1 for every job
return { JOB_TYPE = "once", SCHEMA = { runs = { type = "integer", default = 0 } },
  run = function(self) self:update_attrs { runs = self.runs + 1 }; return 200 end }
LUA
cat >"$JOBS/appender.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "appender", QUEUE_NAME = "appenders", SCHEMA = { target = { type = "string" }, count = { type = "integer" } },
  run = function(self)
    local target = zerog.get_job(self.target)
    for i = 1, self.count do target:record_event(self.uuid .. " " .. i) end
    return 200
  end }
LUA
cat >"$JOBS/busy.lua" <<'LUA'
-- computes without calling the host for `seconds`, counting its runs first
return { JOB_TYPE = "busy", QUEUE_NAME = "busy_q", TTR = 1,
  SCHEMA = { seconds = { type = "number", default = 5 }, runs = { type = "integer", default = 0 } },
  run = function(self)
    self:update_attrs { runs = self.runs + 1 }
    local stop = os.time() + self.seconds
    while os.time() < stop do end
    self:record_event("done by run " .. self.runs)
    return 200
  end }
LUA
cat >"$JOBS/steady.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "steady", QUEUE_NAME = "steady_q", SCHEMA = { steps = { type = "integer", default = 30 } },
  run = function(self)
    for i = 1, self.steps do zerog.sleep(0.1); self:record_event("step " .. i); self:set_completeness(i / self.steps) end
    return 200
  end }
LUA
cat >"$JOBS/short_lived.lua" <<'LUA'
return { JOB_TYPE = "short_lived", QUEUE_NAME = "short_q", RETENTION = 1, run = function() return 200 end }
LUA

# count_jobs LUA_CONDITION: how many job documents satisfy a condition on their hash h
count_jobs() {
  reval "local n = 0
    for _, k in ipairs(redis.call('KEYS', '{zq:*}:job:*')) do
      if redis.call('TYPE', k).ok == 'hash' then
        local h = {}
        local f = redis.call('HGETALL', k)
        for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
        if $1 then n = n + 1 end
      end
    end
    return n"
}

exactly_once() {
  flush
  for i in $(seq 1000); do echo '{}'; done | "$ZEROG" submit once --batch - >/dev/null 2>&1 || return 1
  local pids=()
  for _ in 1 2 3 4; do "$ZEROG" worker --until-idle 2>/dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || return 1; done
  local done_once; done_once=$(count_jobs "h.runs == '1' and h.resultCode == '200' and h.running == 'false'")
  echo "jobs run once and finished: $done_once"
  [ "$done_once" = 1000 ] && "$ZEROG" stats | grep -q '"zerog_jobs":{"ready":0,"delayed":0,"reserved":0,"buried":0'
}
ok "1,000 jobs with 4 concurrent workers run exactly once each" exactly_once

concurrent_appends() {
  flush
  local target; target=$("$ZEROG" submit once '{}' 2>/dev/null)
  for _ in $(seq 8); do echo "{\"target\": \"$target\", \"count\": 500}"; done >"$WORK/batch"
  "$ZEROG" submit appender --batch "$WORK/batch" >/dev/null 2>&1 || return 1
  local pids=()
  for _ in $(seq 8); do "$ZEROG" worker --queue appenders --max-jobs 1 2>/dev/null & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || return 1; done
  local n; n=$(rcli LLEN "$(jkey "$target"):events")
  echo "events: $n, cas: $(hget "$target" cas)"
  [ "$n" = 4000 ] && [ "$("$ZEROG" dump "$target" 2>/dev/null | lua5.4 spec/cli/json_get.lua '#d.events')" = 4000 ]
}
ok "8 processes appending 500 events each to one job leave exactly 4,000" concurrent_appends

client_kill() {
  flush
  local uuid; uuid=$("$ZEROG" submit steady '{"steps": 30}' 2>/dev/null)
  "$ZEROG" worker --queue steady_q --until-idle >"$WORK/worker.log" 2>&1 &
  local pid=$!
  sleep 1
  rcli CLIENT KILL TYPE normal >/dev/null
  sleep 0.7
  rcli CLIENT KILL TYPE normal >/dev/null
  wait $pid || return 1
  local events; events=$(rcli LRANGE "$(jkey "$uuid"):events" 0 -1)
  echo "result $(hget "$uuid" resultCode), events $(echo "$events" | wc -l), unique $(echo "$events" | sort -u | wc -l)"
  [ "$(hget "$uuid" resultCode)" = 200 ] && [ "$(echo "$events" | grep -c '"step ')" = 30 ] &&
  [ "$(echo "$events" | sort -u | wc -l)" = 30 ] && [ "$(hget "$uuid" errorCount)" = 0 ] &&
  [ "$(hget "$uuid" completeness)" = 1 ]
}
ok "a host survives CLIENT KILL of its connections mid-run and loses or repeats nothing" client_kill

dead_host() {
  flush
  local uuid; uuid=$("$ZEROG" submit busy '{"seconds": 30}' 2>/dev/null)
  "$ZEROG" worker --queue busy_q >/dev/null 2>&1 &
  local pid=$!
  has_run() { [ "$(hget "$uuid" runs)" = 1 ]; }
  wait_for 10 has_run || { kill -9 $pid; return 1; }
  kill -9 $pid; wait $pid 2>/dev/null
  rcli HSET "$(jkey "$uuid")" seconds 0 >/dev/null # the next run is quick
  ready_again() { "$ZEROG" stats --queue busy_q | grep -q '"ready":1'; } # the lease (TTR 1 s) lapses
  wait_for 5 ready_again || { echo "not ready again"; return 1; }
  expect_status 0 timeout 20 "$ZEROG" worker --queue busy_q --until-idle || return 1
  local info; info=$("$ZEROG" info "$uuid" 2>/dev/null)
  echo "$info" | grep -q '"errorCode":500,"msg":"lease expired' &&
  echo "$info" | grep -q '"msg":"Killed - Restarting"' && echo "$info" | grep -q '"result":200' &&
  [ "$(hget "$uuid" runs)" = 2 ] && [ "$(hget "$uuid" _state)" = finished ]
}
ok "a host killed mid-run: its lease lapses, the next run records 'lease expired' and restarts" dead_host

busy_job_kept() {
  flush
  local uuid; uuid=$("$ZEROG" submit busy '{"seconds": 5}' 2>/dev/null)
  "$ZEROG" worker --queue busy_q --until-idle >/dev/null 2>&1 &
  local first=$!
  sleep 0.5
  # a second host keeps trying to take work for the whole 5 s
  timeout 6 "$ZEROG" worker --queue busy_q >"$WORK/second.log" 2>&1
  wait $first || return 1
  [ "$(hget "$uuid" resultCode)" = 200 ] && [ "$(hget "$uuid" runs)" = 1 ] && [ "$(hget "$uuid" errorCount)" = 0 ] &&
  ! grep -q "$uuid" "$WORK/second.log"
}
ok "a job busy for 5 s with TTR 1 s is not taken from its live host" busy_job_kept

late_settle() {
  flush
  local uuid; uuid=$("$ZEROG" submit busy '{"seconds": 3}' 2>/dev/null)
  "$ZEROG" worker --queue busy_q --until-idle >"$WORK/stalled.log" 2>&1 &
  local stalled=$!
  has_run() { [ "$(hget "$uuid" runs)" = 1 ]; }
  wait_for 10 has_run || { kill -9 $stalled; return 1; }
  kill -STOP $stalled # a host that stalls (swapping, a debugger, a VM pause) past its TTR
  lapsed() { "$ZEROG" stats --queue busy_q | grep -q '"ready":1'; }
  wait_for 5 lapsed || { kill -9 $stalled; echo "the lease did not lapse"; return 1; }
  rcli HSET "$(jkey "$uuid")" seconds 0 >/dev/null
  "$ZEROG" worker --queue busy_q --until-idle >"$WORK/second.log" 2>&1 || { kill -9 $stalled; return 1; }
  kill -CONT $stalled
  wait $stalled
  local info; info=$("$ZEROG" info "$uuid" 2>/dev/null)
  echo "$info" | grep -q '"result":200' && [ "$(hget "$uuid" runs)" = 2 ] &&
  echo "$info" | grep -q '"msg":"done by run 2"' && ! echo "$info" | grep -q '"msg":"done by run 1"' &&
  grep -q "job $uuid: lease lost" "$WORK/stalled.log" &&
  [ "$(echo "$info" | grep -o 'Killed - Restarting' | wc -l)" = 1 ]
}
ok "fencing: a stalled host whose reservation was taken cannot settle the job afterwards" late_settle

retention() {
  flush
  local uuid kept; uuid=$("$ZEROG" submit short_lived '{}' 2>/dev/null)
  kept=$("$ZEROG" submit short_lived '{}' 2>/dev/null)
  "$ZEROG" worker --queue short_q --until-idle 2>/dev/null || return 1
  local key; key=$(jkey "$uuid") # (its pointer by uuid expires with it)
  [ "$(rcli EXISTS "$key")" = 1 ] || return 1
  "$ZEROG" list --queue short_q --state succeeded --json | grep -q "$uuid" || return 1
  # once its retention (1 s) has passed, the next step of the queue deletes it with its lists and
  # its index entry (here a count; a claim or a listing would do the same), and so does a read
  swept() { "$ZEROG" stats --queue short_q >/dev/null && [ "$(rcli EXISTS "$key" "$key:events")" = 0 ]; }
  wait_for 5 swept || return 1
  ! "$ZEROG" list --queue short_q --json | grep -q "$uuid" &&
  expect_status 3 "$ZEROG" progress "$uuid" && expect_status 3 "$ZEROG" progress "$kept"
}
ok "a finished job is deleted with its index entry once its RETENTION has passed" retention

default_retention() {
  flush
  local uuid; uuid=$("$ZEROG" submit once '{}' 2>/dev/null)
  "$ZEROG" worker --until-idle 2>/dev/null || return 1
  local now ends ttl
  now=$(rcli TIME | head -1)
  ends=$(rcli ZSCORE "{zq:zerog_jobs}:expiry" "$uuid")
  ttl=$(( ${ends%.*} / 1000 - now ))
  [ "$ttl" -gt $((7 * 86400 - 60)) ] && [ "$ttl" -le $((7 * 86400)) ] &&
  [ "$(rcli TTL "zerog:job:$uuid")" -gt $((7 * 86400 - 60)) ]
}
ok "the default retention is 7 days" default_retention

# A finished job's pointer by uuid gets its expiry whatever node it lives on: on a cluster most
# pointers are on masters that hold no queue, where no function library was ever loaded (the
# expiry is an EVAL that needs none).
pointers_expire_everywhere() {
  flush
  rcli_all FUNCTION FLUSH >/dev/null
  local uuids u tries
  uuids=$(for i in $(seq 24); do "$ZEROG" submit once '{}' 2>/dev/null; done)
  [ "$(echo "$uuids" | wc -w)" = 24 ] && "$ZEROG" worker --until-idle 2>/dev/null || return 1
  for u in $uuids; do
    for tries in $(seq 500); do # (the worker's last expiries may still be on their way)
      [ "$(rcli TTL "zerog:job:$u")" -gt $((7 * 86400 - 60)) ] && break
      sleep 0.01
    done
    [ "$(rcli TTL "zerog:job:$u")" -gt $((7 * 86400 - 60)) ] || { echo "pointer of $u: TTL $(rcli TTL "zerog:job:$u")"; return 1; }
  done
}
ok "every finished job's pointer by uuid gets its expiry, on nodes without the function library too" pointers_expire_everywhere

unfinished_kept() {
  flush
  local uuid; uuid=$("$ZEROG" submit once '{}' 2>/dev/null)
  [ "$(rcli TTL "$(jkey "$uuid")")" = -1 ]
}
ok "an unfinished job does not expire" unfinished_kept

tap_done
