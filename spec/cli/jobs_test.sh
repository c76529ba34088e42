#!/usr/bin/env bash
# The job commands against Redis: submit (and --batch), progress/info/data/dump, kill, watch,
# stats and worker, with their outputs and exit codes.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
cat >"$JOBS/slow.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "slow", QUEUE_NAME = "slow_q", SCHEMA = { seconds = { type = "number", default = 5 } },
  run = function(self)
    for i = 1, 50 do
      zerog.sleep(self.seconds / 50); self:set_completeness(i / 50)
      if i % 10 == 0 then self:record_event("tick " .. i) end
    end
    return 200
  end }
LUA
cat >"$JOBS/broken.lua" <<'LUA'
return { JOB_TYPE = "broken", run = function( end }
LUA

submit_prints_uuid() {
  flush
  expect_status 0 "$ZEROG" submit echo '{"n": 7}' || return 1
  local uuid; uuid=$(cat "$WORK/out")
  [[ $uuid =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] &&
  [ "$(hget "$uuid" n)" = 7 ] && [ "$(hget "$uuid" queueJobId)" = 1 ] &&
  grep -q "broken.lua:1:" "$WORK/err" # the broken script is reported, the others still work
}
ok "submit prints the new uuid and stores the job" submit_prints_uuid

submit_options() {
  flush
  expect_status 0 "$ZEROG" submit echo '{"n": 1}' --ttr 9 --delay 30 --priority 5 || return 1
  local uuid; uuid=$(cat "$WORK/out")
  [ "$(hget "$uuid" queueKwargs)" = '{"delay":30,"priority":5,"ttr":9}' ] &&
  "$ZEROG" stats >"$WORK/stats" && grep -q '"zerog_jobs":{"ready":0,"delayed":1,"reserved":0,' "$WORK/stats"
}
ok "submit --ttr --delay --priority are stored and honoured" submit_options

nothing_stored() { [ "$(rcli DBSIZE)" = 0 ]; }
submit_unknown() { flush; expect_status 3 "$ZEROG" submit nope '{}' && grep -q "unknown job type nope" "$WORK/err" && nothing_stored; }
ok "submit of an unknown type exits 3 (type not found) and stores nothing" submit_unknown
submit_bad_json() { flush; expect_status 2 "$ZEROG" submit echo '{"n":' && grep -q "not valid JSON" "$WORK/err" && nothing_stored; }
ok "submit of invalid JSON exits 2 and stores nothing" submit_bad_json
submit_bad_params() { flush; expect_status 2 "$ZEROG" submit echo '{"n": "x"}' && grep -q "field n must be an integer" "$WORK/err" && nothing_stored; }
ok "submit of invalid params exits 2 naming the field and stores nothing" submit_bad_params

batch_file() {
  flush
  for i in $(seq 250); do echo "{\"n\": $i}"; done >"$WORK/batch"
  expect_status 0 "$ZEROG" submit echo --batch "$WORK/batch" || return 1
  [ "$(wc -l <"$WORK/out")" = 250 ] && [ "$(sort -u "$WORK/out" | wc -l)" = 250 ] &&
  [ "$(hget "$(sed -n 100p "$WORK/out")" n)" = 100 ] &&
  [ "$(hget "$(sed -n 250p "$WORK/out")" queueJobId)" = 250 ] &&
  "$ZEROG" stats | grep -q '"ready":250'
}
ok "submit --batch FILE prints one uuid per line, in order, all queued" batch_file

batch_stdin() {
  flush
  printf '{"n": 1}\n\n{"n": 2}\n' | "$ZEROG" submit echo --batch - >"$WORK/out" 2>"$WORK/err" &&
  [ "$(wc -l <"$WORK/out")" = 2 ]
}
ok "submit --batch - reads stdin and skips blank lines" batch_stdin

batch_bad_line() {
  flush
  printf '{"n": 1}\n{"n": 2}\n{"n": "three"}\n' >"$WORK/batch"
  expect_status 2 "$ZEROG" submit echo --batch "$WORK/batch" && grep -q "line 3: field n must be an integer" "$WORK/err" &&
  nothing_stored && [ ! -s "$WORK/out" ]
}
ok "submit --batch with a bad line exits 2 naming it, and stores nothing" batch_bad_line

reads() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 5}' 2>/dev/null)
  "$ZEROG" worker --until-idle 2>/dev/null || return 1
  expect_status 0 "$ZEROG" progress "$uuid" && [ "$(cat "$WORK/out")" = '{"completeness":1,"result":200}' ] &&
  expect_status 0 "$ZEROG" data "$uuid" && [ "$(cat "$WORK/out")" = '{"n":5}' ] &&
  expect_status 0 "$ZEROG" info "$uuid" && [ "$(json_get 'd.events[1].msg' "$WORK/out")" = "echo 5" ] &&
  [ "$(json_get 'd.result' "$WORK/out")" = 200 ] &&
  expect_status 0 "$ZEROG" dump "$uuid" && [ "$(json_get 'd.uuid' "$WORK/out")" = "$uuid" ] &&
  [ "$(json_get 'd.n' "$WORK/out")" = 5 ] && [ "$(json_get '#d.events' "$WORK/out")" = 1 ]
}
ok "progress, info, data and dump print the job as JSON" reads

ok "progress of an unknown uuid exits 3" expect_status 3 "$ZEROG" progress 00000000-0000-4000-8000-000000000000
ok "dump of an unknown uuid exits 3" expect_status 3 "$ZEROG" dump 00000000-0000-4000-8000-000000000000
ok "data of an unknown uuid exits 3" expect_status 3 "$ZEROG" data nope
ok "info of an unknown uuid exits 3" expect_status 3 "$ZEROG" info nope

dump_without_script() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 5}' 2>/dev/null)
  mkdir -p "$WORK/empty"
  expect_status 0 "$ZEROG" --jobs "$WORK/empty" dump "$uuid" && [ "$(json_get 'd.n' "$WORK/out")" = 5 ]
}
ok "dump reads a job whose type this host has not loaded" dump_without_script

worker_until_idle() {
  flush
  for i in 1 2 3; do "$ZEROG" submit echo "{\"n\": $i}" >/dev/null 2>&1; done
  "$ZEROG" submit echo '{"n": 9}' --delay 60 >/dev/null 2>&1
  expect_status 0 timeout 20 "$ZEROG" worker --until-idle || return 1
  [ "$(grep -c "finished with 200" "$WORK/err")" = 3 ] && "$ZEROG" stats | grep -q '"ready":0,"delayed":1'
}
ok "worker --until-idle runs what is ready and exits 0, leaving delayed jobs" worker_until_idle

worker_max_jobs() {
  flush
  for i in 1 2 3 4 5; do "$ZEROG" submit echo "{\"n\": $i}" >/dev/null 2>&1; done
  expect_status 0 timeout 20 "$ZEROG" worker --max-jobs 2 || return 1
  [ "$(grep -c "finished with 200" "$WORK/err")" = 2 ] && "$ZEROG" stats | grep -q '"ready":3'
}
ok "worker --max-jobs N stops after N runs" worker_max_jobs

worker_queue() {
  flush
  "$ZEROG" submit echo '{"n": 1}' >/dev/null 2>&1
  local slow; slow=$("$ZEROG" submit slow '{"seconds": 0.1}' 2>/dev/null)
  expect_status 0 timeout 20 "$ZEROG" worker --queue slow_q --until-idle || return 1
  [ "$(hget "$slow" resultCode)" = 200 ] && "$ZEROG" stats | grep -q '"zerog_jobs":{"ready":1'
}
ok "worker --queue NAME serves only that queue" worker_queue

stats_json() {
  flush
  "$ZEROG" submit echo '{"n": 1}' >/dev/null 2>&1
  expect_status 0 "$ZEROG" stats || return 1
  [ "$(json_get 'd.zerog_jobs.ready' "$WORK/out")" = 1 ] && [ "$(json_get 'd.slow_q.reserved' "$WORK/out")" = 0 ] &&
  expect_status 0 "$ZEROG" stats --queue other && [ "$(cat "$WORK/out")" = '{"other":{"ready":0,"delayed":0,"reserved":0,"buried":0,"unclaimed":0}}' ]
}
ok "stats prints ready, delayed and reserved per queue as JSON" stats_json

kill_queued() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 1}' 2>/dev/null)
  expect_status 0 "$ZEROG" kill "$uuid" || return 1
  [ "$(hget "$uuid" resultCode)" = 410 ] && [ "$(hget "$uuid" errorCount)" = 1 ] &&
  rcli LRANGE "$(jkey "$uuid"):errors" 0 -1 | grep -q '"errorCode":410,"msg":"Killed by user"' &&
  "$ZEROG" stats | grep -q '"zerog_jobs":{"ready":0,"delayed":0,"reserved":0,'
}
ok "kill records error and result 410 and deletes the queue message" kill_queued

ok "kill of an unknown uuid exits 3" expect_status 3 "$ZEROG" kill 00000000-0000-4000-8000-000000000000
kill_finished() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 1}' 2>/dev/null)
  "$ZEROG" worker --until-idle 2>/dev/null
  expect_status 2 "$ZEROG" kill "$uuid" && grep -q "already finished with 200" "$WORK/err"
}
ok "kill of a finished job exits 2 and changes nothing" kill_finished

kill_running() {
  flush
  local uuid; uuid=$("$ZEROG" submit slow '{"seconds": 30}' 2>/dev/null)
  "$ZEROG" worker --queue slow_q >"$WORK/worker.log" 2>&1 &
  local pid=$!
  has_event() { rcli LRANGE "$(jkey "$uuid"):events" 0 -1 | grep -q "$1"; }
  wait_for 20 has_event "tick 10" || { kill -9 $pid; return 1; }
  "$ZEROG" kill "$uuid" || { kill -9 $pid; return 1; }
  local events; events=$(rcli LLEN "$(jkey "$uuid"):events")
  stopped() { grep -q "job $uuid: lease lost" "$WORK/worker.log"; } # its next write is refused
  wait_for 5 stopped || { kill -9 $pid; return 1; }
  kill -TERM $pid; wait $pid
  [ "$(hget "$uuid" resultCode)" = 410 ] && [ "$(hget "$uuid" running)" = false ] &&
  [ "$(rcli LLEN "$(jkey "$uuid"):events")" = "$events" ] # nothing more was written
}
ok "kill stops a running job at its next binding call; its host cannot settle it" kill_running

watch_follows() {
  flush
  local uuid; uuid=$("$ZEROG" submit slow '{"seconds": 1}' 2>/dev/null)
  "$ZEROG" worker --queue slow_q --until-idle >/dev/null 2>&1 &
  expect_status 0 timeout 20 "$ZEROG" watch "$uuid" || return 1
  wait
  [ "$(json_get 'd.result' "$WORK/out")" = 200 ] && grep -q "tick 50" "$WORK/err"
}
ok "watch follows a job until its result and prints it as run does" watch_follows

watch_failed() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 1}' 2>/dev/null)
  "$ZEROG" kill "$uuid"
  expect_status 1 timeout 10 "$ZEROG" watch "$uuid" && [ "$(json_get 'd.result' "$WORK/out")" = 410 ]
}
ok "watch exits 1 for a job that ended without a 2xx result" watch_failed
ok "watch of an unknown uuid exits 3" expect_status 3 timeout 10 "$ZEROG" watch nope

cat >"$JOBS/grumpy.lua" <<'LUA'
return { JOB_TYPE = "grumpy", QUEUE_NAME = "grumpy_q", MAX_ERRORS = 1, RETRY_DELAY = 0,
  run = function(self)
    self:record_event('fetching http://example.com/x said "hi"')
    self:job_log_warning("slow disk")
    local t = nil
    return t.x
  end }
LUA
watch_errors() {
  flush
  local uuid; uuid=$("$ZEROG" submit grumpy '{}' 2>/dev/null)
  "$ZEROG" worker --queue grumpy_q --until-idle >/dev/null 2>&1 &
  expect_status 1 timeout 20 "$ZEROG" watch "$uuid" || return 1
  wait
  grep -q "^error 500: .*grumpy.lua:6: attempt to index a nil value" "$WORK/err" &&
  grep -q "^warning: slow disk$" "$WORK/err" && ! grep -q "stack traceback" "$WORK/err" &&
  grep -qF 'fetching http://example.com/x said "hi"' "$WORK/err"
}
ok "watch shows the job's error (code, file:line), warnings, and event text unescaped" watch_errors

watch_summary() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 3}' 2>/dev/null)
  "$ZEROG" worker --until-idle 2>/dev/null
  script -qec "$ZEROG watch $uuid" /dev/null </dev/null >"$WORK/tty" 2>&1 || return 1
  grep -q "echo $uuid: result 200 in" "$WORK/tty" && grep -q '^data: {"n":3}' "$WORK/tty" &&
  script -qec "$ZEROG watch --json $uuid" /dev/null </dev/null >"$WORK/tty" 2>&1 &&
  grep -q "{\"uuid\":\"$uuid\",\"result\":200,\"job\":{" "$WORK/tty"
}
ok "watch ends with the summary on a terminal, and the JSON with --json" watch_summary

cat >"$JOBS/noisy.lua" <<'LUA'
return { JOB_TYPE = "noisy", QUEUE_NAME = "noisy_q",
  run = function(self)
    for i = 1, 22 do self:add_to_completeness(0.01) end
    return -1, 3600
  end }
LUA
completeness_rounded() {
  flush
  local uuid; uuid=$("$ZEROG" submit noisy '{}' 2>/dev/null)
  "$ZEROG" worker --queue noisy_q --max-jobs 1 2>/dev/null || return 1
  expect_status 0 "$ZEROG" progress "$uuid" && [ "$(cat "$WORK/out")" = '{"completeness":0.22,"result":-1}' ] &&
  expect_status 0 "$ZEROG" dump "$uuid" && grep -qF '"completeness":0.22,' "$WORK/out"
}
ok "completeness is shown without float noise (0.22 after 22 steps of 0.01)" completeness_rounded

events_style() {
  "$ZEROG" events >"$WORK/events" 2>&1 &
  local pid=$!
  subscribed() { [ "$(rcli PUBSUB NUMSUB zerog:events | tail -1)" = 1 ]; }
  wait_for 10 subscribed || { kill $pid; return 1; }
  rcli PUBLISH zerog:events '{"event": "end", "queue": "a\/b", "seconds": 0.5}' >/dev/null
  has_end() { grep -q '"event":"end"' "$WORK/events"; }
  wait_for 10 has_end; kill -TERM $pid; wait $pid
  [ "$(cat "$WORK/events")" = '{"event":"end","queue":"a/b","seconds":0.5}' ]
}
ok "events prints one compact JSON object per line" events_style

worker_reloads() {
  flush
  printf 'return { JOB_TYPE = "wv", QUEUE_NAME = "wv_q", run = function() return 201 end }\n' >"$JOBS/wv.lua"
  "$ZEROG" worker --queue wv_q >"$WORK/wv.log" 2>&1 &
  local pid=$!
  local a; a=$("$ZEROG" submit wv '{}' 2>/dev/null)
  done_a() { [ "$(hget "$a" resultCode)" = 201 ]; }
  wait_for 10 done_a || { kill $pid; return 1; }
  printf 'return { JOB_TYPE = "wv", QUEUE_NAME = "wv_q", run = function() return 202 end }\n' >"$JOBS/wv.lua.tmp"
  mv "$JOBS/wv.lua.tmp" "$JOBS/wv.lua"
  sleep 1
  local b; b=$("$ZEROG" submit wv '{}' 2>/dev/null)
  done_b() { [ "$(hget "$b" resultCode)" != -1 ]; }
  wait_for 10 done_b; kill -TERM $pid; wait $pid
  rm -f "$JOBS/wv.lua"
  [ "$(hget "$b" resultCode)" = 202 ] && grep -q "job scripts reloaded" "$WORK/wv.log"
}
ok "zerog worker reloads a changed script within 1 s, without a restart" worker_reloads

redis_down() {
  local start end
  start=$(date +%s)
  expect_status 1 timeout 20 "$ZEROG" --store redis://127.0.0.1:1 submit echo '{"n": 1}' || return 1
  end=$(date +%s)
  [ "$(wc -l <"$WORK/err")" = 1 ] && grep -q "cannot connect to redis at 127.0.0.1:1" "$WORK/err" && [ $((end - start)) -lt 10 ]
}
ok "a Redis that cannot be reached at start is one error line and exit 1" redis_down
ok "worker with Redis down at start exits 1" expect_status 1 timeout 20 "$ZEROG" --store redis://127.0.0.1:1 worker --concurrency 3
worker_down_one_line() {
  expect_status 1 timeout 20 "$ZEROG" --store redis://127.0.0.1:1 worker --concurrency 3 && [ "$(wc -l <"$WORK/err")" = 1 ]
}
ok "worker with Redis down says so once" worker_down_one_line
bad_url() { expect_status 2 "$ZEROG" --store foo://x stats && grep -q "bad store URL foo://x" "$WORK/err"; }
ok "a bad store URL exits 2 (bad input) naming it" bad_url

tap_done
