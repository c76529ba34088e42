#!/usr/bin/env bash
# Repeatable jobs from the outside: `zerog schedule` prints an id that `zerog schedules` lists
# (with its rule, zone and next run) and `zerog unschedule` removes; a bad rule or zone is bad
# input (2), an unknown type not found (3); a type's REPEAT is listed as type:<jobType>; ticks
# missed while no worker ran make exactly one job when a worker starts (catch-up once); and the
# HTTP routes POST /schedule/<type>, GET /schedules, DELETE /schedule/<id>.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
. spec/cli/serve.sh
cat >"$JOBS/beat.lua" <<'LUA'
return { JOB_TYPE = "beat", QUEUE_NAME = "beat_q", SCHEMA = { n = { type = "integer" } },
  run = function(self) return 200 end }
LUA
cat >"$JOBS/nightly.lua" <<'LUA'
return { JOB_TYPE = "nightly", QUEUE_NAME = "nightly_q",
  REPEAT = { cron = "30 2 * * *", tz = "Europe/Paris" },
  run = function(self) return 200 end }
LUA

server_ms() { rcli TIME | { read -r s; read -r us; echo $((s * 1000 + us / 1000)); }; }
# jobs_of TYPE: how many jobs of TYPE the index lists
jobs_of() { "$ZEROG" list --type "$1" --limit 1000 --json | grep -c '"uuid"'; }

commands() {
  flush
  expect_status 0 "$ZEROG" schedule beat "*/5 * * * *" '{"n": 3}' --tz Europe/Paris || return 1
  local id; id=$(cat "$WORK/out")
  expect_status 0 "$ZEROG" schedules || return 1
  grep -q "\"id\":\"$id\",\"jobType\":\"beat\",\"queue\":\"beat_q\",\"rule\":\"\*/5 \* \* \* \*\",\"tz\":\"Europe/Paris\",\"params\":{\"n\":3},\"catchUp\":\"once\",\"nextRun\":\"20[0-9-]*T[0-9:]*[05]:00.000Z\",\"lastRun\":null" "$WORK/out" || { cat "$WORK/out"; return 1; }
  grep -q '"id":"type:nightly","jobType":"nightly","queue":"nightly_q","rule":"30 2 \* \* \*","tz":"Europe/Paris"' "$WORK/out" || { cat "$WORK/out"; return 1; }
  expect_status 0 "$ZEROG" unschedule "$id" || return 1
  ! "$ZEROG" schedules | grep -q "$id" &&
  expect_status 3 "$ZEROG" unschedule "$id"
}
ok "schedule prints an id that schedules lists (a REPEAT as type:<jobType>) and unschedule removes" commands

refusals() {
  flush
  expect_status 2 "$ZEROG" schedule beat "*/5 * * *" || return 1
  grep -q "4 fields" "$WORK/err" || return 1
  expect_status 2 "$ZEROG" schedule beat "@hourly" --tz Nowhere/Town || return 1
  grep -q "unknown time zone Nowhere/Town" "$WORK/err" || return 1
  expect_status 2 "$ZEROG" schedule beat "@every:5" '{"n": "x"}' || return 1
  expect_status 3 "$ZEROG" schedule nosuchtype "@daily"
}
ok "a bad rule, zone or params is bad input (2), an unknown type not found (3)" refusals

catch_up() {
  flush
  expect_status 0 "$ZEROG" schedule beat "@every:1" || return 1
  local id due; id=$(cat "$WORK/out")
  due=$(rcli ZSCORE "{zq:beat_q}:schedules" "$id")
  three_missed() { [ "$(server_ms)" -ge $((due + 2000)) ]; }
  wait_for 5 three_missed || return 1
  timeout 20 "$ZEROG" worker --until-idle >/dev/null 2>&1
  local n; n=$(jobs_of beat)
  [ "$n" = 1 ] || { echo "$n jobs, expected 1"; return 1; }
  [ "$(rcli HGET "{zq:beat_q}:schedule:$id" last)" = "$due" ] &&
  [ "$(rcli HGET "{zq:beat_q}:schedule:$id" next)" -gt $((due + 2000)) ]
}
ok "ticks missed while no worker ran make one job (for the first) when a worker starts" catch_up

# a host whose clock runs two hours behind places the first tick by the store's clock: @every:3600
# ticks on whole hours, so by its own clock the next one is an hour or more in the store's past
skewed_host() {
  flush
  cat >"$JOBS/hourly.lua" <<'LUA'
return { JOB_TYPE = "hourly", QUEUE_NAME = "beat_q", REPEAT = { every = 3600 },
  run = function(self) return 200 end }
LUA
  expect_status 0 skewed -2h "$ZEROG" schedule beat "@every:3600" || return 1
  local id now; id=$(cat "$WORK/out")
  skewed -2h timeout 20 "$ZEROG" worker --until-idle >/dev/null 2>&1
  now=$(server_ms)
  rm -f "$JOBS/hourly.lua"
  [ "$(rcli ZSCORE "{zq:beat_q}:schedules" "$id")" -gt "$now" ] &&
  [ "$(rcli ZSCORE "{zq:beat_q}:schedules" type:hourly)" -gt "$now" ] &&
  [ "$(jobs_of beat)" = 0 ] && [ "$(jobs_of hourly)" = 0 ]
}
ok "a host whose clock is off places a schedule's first tick (zerog schedule, a REPEAT) by the store's clock" skewed_host

http_routes() {
  flush
  SERVE_WORKERS=1 start_serve || return 1
  http POST /schedule/beat '{"every": 1, "params": {"n": 5}, "catch_up": "skip"}' && status_is 201 || return 1
  local id; id=$(body_get d.id)
  http GET /schedules && status_is 200 || return 1
  [ "$(body_get "string.format('%s %s %d %s', d[1].id, d[1].rule, d[1].params.n, d[1].catchUp)")" = "$id @every:1 5 skip" ] || { cat "$WORK/body"; return 1; }
  ran() { [ "$(jobs_of beat)" -ge 1 ]; }
  wait_for 10 ran || { echo "no job made"; return 1; }
  http DELETE "/schedule/$id" && status_is 200 || return 1
  http DELETE "/schedule/$id" && status_is 404 || return 1
  http POST /schedule/beat '{"cron": "* * *"}' && status_is 400 || return 1
  http POST /schedule/beat '{"cron": "@daily", "every": 5}' && status_is 400 || return 1
  http POST /schedule/nosuchtype '{"cron": "@daily"}' && status_is 404 || return 1
  stop_serve
}
ok "POST /schedule/<type> answers 201 {id}, GET /schedules lists it, its jobs run, DELETE removes it" http_routes

busy_workers() {
  flush
  cat >"$JOBS/hold.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "hold", QUEUE_NAME = "beat_q",
  run = function(self) for _ = 1, 80 do zerog.sleep(0.1) end return 200 end }
LUA
  SERVE_WORKERS=1 start_serve || return 1
  "$ZEROG" submit hold >/dev/null || return 1
  holding() { [ "$(jobs_running)" = 1 ]; }
  wait_for 5 holding || { echo "hold never ran"; return 1; }
  expect_status 0 "$ZEROG" schedule beat "@every:1" || return 1
  two() { [ "$(jobs_of beat)" -ge 2 ]; }
  wait_for 5 two || { echo "$(jobs_of beat) jobs while the only worker was busy"; return 1; }
  holding || { echo "the hold job ended first: nothing shown"; return 1; }
  stop_serve
  rm -f "$JOBS/hold.lua"
}
jobs_running() { "$ZEROG" list --state running --type hold --json | grep -c '"uuid"'; }
ok "serve makes each tick's job on time while its only worker is busy with a long job" busy_workers

tap_done
