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
# flows: a parent on one queue, its child on another (each script stays in its queue's slot:
# the child's end reaches the parent by a second script on the parent's slot; the children's queue
# is sharded: each shard is a queue of its own slot)
cat >"$JOBS/flowp.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "flowp", QUEUE_NAME = "slot_parents", PRIORITY = 0, run = function(self)
  if self.flowRound == 0 then self:spawn("slotkid", {}); return zerog.WAIT_CHILDREN end
  return #self:children() >= 1 and 200 or 500 end }
LUA
cat >"$JOBS/slotkid.lua" <<'LUA'
return { JOB_TYPE = "slotkid", QUEUE_NAME = "slot_kids", SHARDS = 3, PRIORITY = 0, run = function(self) return 200 end }
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
  "$ZEROG" submit flowp >/dev/null 2>&1
  printf '{}\n{}\n' | "$ZEROG" submit slotkid --batch - --then flowp >/dev/null 2>&1
  # repeatable jobs: a schedule written, listed, fired (due by the worker's start), removed
  local sched; sched=$("$ZEROG" schedule mixed "@every:1" '{"n": 7}' 2>/dev/null)
  "$ZEROG" schedules >/dev/null 2>&1
  local due; due=$(rcli ZSCORE "{zq:zerog_jobs}:schedules" "$sched")
  server_ms() { rcli TIME | { read -r s; read -r us; echo $((s * 1000 + us / 1000)); }; }
  is_due() { [ "$(server_ms)" -ge "${due:-0}" ]; }
  wait_for 3 is_due
  timeout 30 "$ZEROG" worker --until-idle --max-jobs 24 >/dev/null 2>&1
  "$ZEROG" unschedule "$sched" >/dev/null 2>&1
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
