#!/usr/bin/env bash
# Every atomic operation (a script) touches the keys of one hash slot, so a Redis Cluster can
# serve ZeroG's data: checked on the commands scripts actually run during a mixed workload.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
cat >"$JOBS/mixed.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "mixed", SCHEMA = { n = { type = "integer" } }, RETRY_DELAY = 0,
  run = function(self)
    self:job_log_info("start"); self:record_warning("w"); self:tick(); self:set_completeness(0.5)
    local child = zerog.make_job("mixed", { n = 100 }); child:save(); child:enqueue { delay = 0 }
    if self.n == 1 then self:raise_error_continue(503, "retry me") end
    if self.n == 2 and self.errorCount == 0 then return -1, 0 end
    return 200
  end }
LUA

# [limits] a type with RATE, CONCURRENCY and GROUP: its groups' turns, sets and rate lists
cat >"$JOBS/limited.lua" <<'LUA'
return { JOB_TYPE = "limited", GROUP = "c", CONCURRENCY = 1, RATE = { limit = 50, per = 1 },
  SCHEMA = { c = { type = "string" } }, run = function(self) return 200 end }
LUA

one_slot() {
  flush
  redis-cli -s "$REDIS_SOCK" MONITOR >"$WORK/monitor" &
  local mon=$!
  sleep 0.3
  for n in 1 2 3; do "$ZEROG" submit mixed "{\"n\": $n}" >/dev/null 2>&1; done
  printf '{"n": 4}\n{"n": 5}\n' | "$ZEROG" submit mixed --batch - >/dev/null 2>&1
  for c in a b a; do "$ZEROG" submit limited "{\"c\": \"$c\"}" >/dev/null 2>&1; done # [limits]
  local victim; victim=$("$ZEROG" submit mixed '{"n": 6}' --delay 60 2>/dev/null)
  "$ZEROG" kill "$victim" 2>/dev/null
  timeout 30 "$ZEROG" worker --until-idle --max-jobs 15 >/dev/null 2>&1
  "$ZEROG" stats >/dev/null 2>&1
  "$ZEROG" dump "$victim" >/dev/null 2>&1
  "$ZEROG" buried >/dev/null 2>&1
  "$ZEROG" kick zerog_jobs >/dev/null 2>&1
  sleep 0.3
  kill $mon; wait $mon 2>/dev/null
  lua5.4 spec/cli/check_slots.lua <"$WORK/monitor"
}
ok "every script touches keys of one hash slot, all under its declared queue key" one_slot

tap_done
