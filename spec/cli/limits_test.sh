#!/usr/bin/env bash
# Limits no job can escape, on a real worker: each hostile script of spec/hostile/limits_*.lua
# runs on one worker, then a canary job on the same worker must finish 200 (each script's
# header says the error its run records: `-- expect: <Lua pattern>`, `-- code: <result>`,
# `-- timeout-ms: <wait>`). Then what the count hook cannot stop: `zerog kill` of a loop without
# TIMEOUT; a pathological pattern past its TIMEOUT, whose worker the watchdog ends (exit 4) and
# the supervisor replaces, the job recorded as timed out (not killed).
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
cp spec/hostile/limits_*.lua "$JOBS/"
cat >"$JOBS/canary.lua" <<'LUA'
return { JOB_TYPE = "canary", run = function() return 200 end }
LUA
cat >"$JOBS/spin.lua" <<'LUA'
return { JOB_TYPE = "spin", QUEUE_NAME = "spin_q", run = function()
  while true do pcall(function() local co = coroutine.wrap(function() while true do end end); co() end) end
end }
LUA
cat >"$JOBS/backtrack.lua" <<'LUA'
return { JOB_TYPE = "backtrack", QUEUE_NAME = "backtrack_q", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function() string.find(string.rep("a", 40), string.rep("a*", 40) .. "b") return 200 end }
LUA
cat >"$JOBS/canary2.lua" <<'LUA'
return { JOB_TYPE = "canary2", QUEUE_NAME = "backtrack_q", run = function() return 200 end }
LUA
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
submit() { "$ZEROG" submit "$@" 2>/dev/null; }
result() { hget "$1" resultCode; }
first_error() { hget "$1" errorCount >/dev/null; rcli LINDEX "$(jkey "$1"):errors" 0; }
flush

"$ZEROG" worker --queue zerog_jobs >"$WORK/worker.log" 2>&1 & PIDS+=($!)
WORKER=$!

# hostile FILE: its job records the expected error and result; the canary after it finishes 200
hostile() {
  local file=$1 type pattern code ms
  type=$(basename "$file" .lua)
  pattern=$(sed -n 's/^-- expect: //p' "$file")
  code=$(sed -n 's/^-- code: //p' "$file")
  ms=$(sed -n 's/^-- timeout-ms: //p' "$file")
  local uuid canary
  uuid=$(submit "$type" '{}') && canary=$(submit canary '{}') || return 1
  settled() { [ "$(result "$canary")" = 200 ] && [ "$(result "$uuid")" != -1 ]; }
  wait_for $(( ${ms:-5000} / 1000 + 5 )) settled || { echo "result $(result "$uuid"), canary $(result "$canary")"; tail -5 "$WORK/worker.log"; return 1; }
  [ -z "$code" ] || [ "$(result "$uuid")" = "$code" ] || { echo "result $(result "$uuid"), expected $code"; return 1; }
  first_error "$uuid" >"$WORK/err.json"
  lua5.4 -e 'local cjson = require "cjson"
    local e = cjson.decode(io.read("a"))
    local pattern = os.getenv("PATTERN")
    if not tostring(e.msg):find(pattern) then print("error " .. tostring(e.msg) .. " does not match " .. pattern) os.exit(1) end' \
    <"$WORK/err.json" || return 1
  kill -0 "$WORKER" # the same worker lives on
}
for f in spec/hostile/limits_*.lua; do
  PATTERN=$(sed -n 's/^-- expect: //p' "$f") ok "hostile $(basename "$f" .lua): a recorded error, and the canary after it finishes 200 on the same worker" hostile "$f"
done

kill_a_loop_without_timeout() {
  "$ZEROG" worker --queue spin_q >"$WORK/spin.log" 2>&1 & PIDS+=($!)
  local uuid; uuid=$(submit spin '{}')
  running() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 running || return 1
  sleep 0.3 # inside its loop of pcall'd coroutines
  "$ZEROG" kill "$uuid" >/dev/null || return 1
  # the spin worker drops the run within a second or two; its queue is free again
  stopped() { grep -q "job $uuid: lease lost" "$WORK/spin.log"; }
  wait_for 5 stopped || { cat "$WORK/spin.log"; return 1; }
  [ "$(result "$uuid")" = 410 ]
}
ok "zerog kill stops a loop of pcall'd coroutines that has no TIMEOUT, within seconds" kill_a_loop_without_timeout

pattern_past_its_timeout() {
  "$ZEROG" worker --concurrency 2 --queue backtrack_q >"$WORK/sup.log" 2>&1 & PIDS+=($!)
  local uuid; uuid=$(submit backtrack '{}')
  finished() { [ "$(result "$uuid")" = 500 ]; }
  wait_for 20 finished || { echo "result $(result "$uuid")"; cat "$WORK/sup.log"; return 1; }
  # (the supervisor says it once it has reaped the worker, which may come after the result)
  said() { grep -q "was ended by its watchdog (exit 4) running job $uuid" "$WORK/sup.log"; }
  wait_for 10 said || { cat "$WORK/sup.log"; return 1; }
  first_error "$uuid" | grep -q "TIMEOUT of 0.3 s and did not stop" || { first_error "$uuid"; return 1; }
  ! "$ZEROG" info "$uuid" 2>/dev/null | grep -q "Killed" || { echo "recorded as a kill"; return 1; }
  # the replacement worker takes the next job
  local canary; canary=$(submit canary2 '{}')
  done_() { [ "$(result "$canary")" = 200 ]; }
  wait_for 10 done_ && [ "$(pgrep -P "${PIDS[-1]}" | wc -l)" = 2 ]
}
ok "a pattern match past TIMEOUT: the watchdog ends the worker, it is replaced, the job records a timeout" pattern_past_its_timeout

run_exits_4_past_its_timeout() {
  local t0=$SECONDS
  expect_status 4 "$ZEROG" run --no-wait "$JOBS/backtrack.lua" || return 1
  grep -q "overran its TIMEOUT" "$WORK/err" && [ $((SECONDS - t0)) -le 8 ]
}
ok "zerog run of a pattern match past its TIMEOUT ends with exit 4 (2 s past it), naming the job" run_exits_4_past_its_timeout

# Job code a submit or a read runs outside any run (the script's top level, init(), get_data(),
# the instance's methods) is under its type's limits too: TIMEOUT, else TTR, and MEMORY_LIMIT.
cat >"$JOBS/init_spins.lua" <<'LUA'
return { JOB_TYPE = "init_spins", QUEUE_NAME = "idle_q", TIMEOUT = 0.3,
  init = function() while true do pcall(function() while true do end end) end end,
  run = function() return 200 end }
LUA
cat >"$JOBS/init_hoards.lua" <<'LUA'
return { JOB_TYPE = "init_hoards", QUEUE_NAME = "idle_q", MEMORY_LIMIT = 8000000,
  init = function() local t = {} while true do t[#t + 1] = {} end end,
  run = function() return 200 end }
LUA
cat >"$JOBS/data_spins.lua" <<'LUA'
return { JOB_TYPE = "data_spins", QUEUE_NAME = "idle_q", TTR = 1,
  get_data = function() while true do end end,
  run = function() return 200 end }
LUA
submit_init_spins() {
  local t0=$SECONDS
  ! "$ZEROG" submit init_spins '{}' >/dev/null 2>"$WORK/err" || return 1
  grep -q "TIMEOUT of 0.3 s" "$WORK/err" && [ $((SECONDS - t0)) -le 3 ] || { cat "$WORK/err"; return 1; }
}
ok "submit of a type whose init() loops (pcall'd): refused past its TIMEOUT, not a hung submit" submit_init_spins
submit_init_hoards() {
  ! "$ZEROG" submit init_hoards '{}' >/dev/null 2>"$WORK/err" || return 1
  grep -q "MEMORY_LIMIT of 8000000 bytes" "$WORK/err" || { cat "$WORK/err"; return 1; }
}
ok "submit of a type whose init() allocates without end: refused at its MEMORY_LIMIT" submit_init_hoards
data_spins() {
  local uuid t0=$SECONDS
  uuid=$(submit data_spins '{}') || return 1
  ! "$ZEROG" data "$uuid" >/dev/null 2>"$WORK/err" || return 1
  grep -q "data of job $uuid failed: .*TIMEOUT of 1 s" "$WORK/err" && [ $((SECONDS - t0)) -le 4 ] ||
    { cat "$WORK/err"; return 1; }
}
ok "data of a job whose get_data() loops (no TIMEOUT): fails after its TTR, not a hung read" data_spins

# A script's top level loads under fixed limits (its own are not known before it has run).
mkdir -p "$WORK/toplevel"
echo 'while true do pcall(function() while true do end end) end' >"$WORK/toplevel/spins.lua"
echo 'local t = {} while true do t[#t + 1] = string.rep("x", 1 << 20) end' >"$WORK/toplevel/hoards.lua"
check_top_level() {
  local t0=$SECONDS
  ! "$ZEROG" check "$WORK/toplevel/$1.lua" >/dev/null 2>"$WORK/err" || return 1
  grep -q "its top level did not load within 2 s .*$2" "$WORK/err" && [ $((SECONDS - t0)) -le 8 ] ||
    { cat "$WORK/err"; return 1; }
}
ok "check of a script whose top level loops: fails after 2 s, not a hung check (or worker start, or reload)" check_top_level spins TIMEOUT
# (256 MiB takes about 1 s to fill here, more under ASan on a loaded machine, where the 2 s limit
# may come first: either of the load's two limits ends it, and the check does not hang)
ok "check of a script whose top level allocates without end: fails at 256 MiB (or at 2 s if slower)" \
  check_top_level hoards "MEMORY_LIMIT\|TIMEOUT"


# A worker whose whole process was stopped (SIGSTOP past the TTR, a suspended machine) is not a
# stuck VM: resumed, it lives on (no watchdog exit 4), and the job still ends with one result.
cat >"$JOBS/naps.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "naps", QUEUE_NAME = "naps_q", TTR = 1,
  run = function() for _ = 1, 40 do zerog.sleep(0.05) end return 200 end }
LUA
stopped_worker_lives_on() {
  "$ZEROG" worker --queue naps_q >"$WORK/naps.log" 2>&1 & PIDS+=($!)
  local pid=$! uuid
  uuid=$(submit naps '{}') || return 1
  running() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 running || return 1
  kill -STOP "$pid"
  sleep 4 # the scenario itself: stopped for longer than TTR (1 s) + the watchdog's margin (2 s)
  kill -CONT "$pid"
  finished() { [ "$(result "$uuid")" = 200 ]; }
  wait_for 15 finished || { echo "result $(result "$uuid")"; tail -5 "$WORK/naps.log"; return 1; }
  kill -0 "$pid" || { echo "the worker ended:"; tail -5 "$WORK/naps.log"; return 1; }
  ! grep -q "watchdog" "$WORK/naps.log" || { tail -5 "$WORK/naps.log"; return 1; }
}
ok "a worker stopped (SIGSTOP) past its job's TTR and the watchdog's margin, then continued, lives on and the job finishes 200" stopped_worker_lives_on

tap_done
