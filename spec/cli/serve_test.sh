#!/usr/bin/env bash
# zerog serve: every HTTP route and status, CORS, auth, limits, supervised worker processes
# (kill -9 of a worker and of serve itself), the drain race, queue options on POST /job, hot
# reload under load, SIGTERM with a running job, events, JSON logs, --listen forms and errors.
# Outages are in serve_outage_test.sh, connection limits and load in serve_load_test.sh.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
cat >"$JOBS/slow.lua" <<'LUA'
local zerog = require "zerog"
return { JOB_TYPE = "slow", QUEUE_NAME = "slow_q", SCHEMA = { seconds = { type = "number", default = 3 } },
  run = function(self)
    self:record_event("started")
    for i = 1, 30 do zerog.sleep(self.seconds / 30); self:set_completeness(i / 30) end
    return 200
  end }
LUA
write_version() {
  cat >"$JOBS/ver.lua.tmp" <<LUA
return { JOB_TYPE = "ver", QUEUE_NAME = "ver_q", run = function() return $1 end }
LUA
  mv "$JOBS/ver.lua.tmp" "$JOBS/ver.lua"
}
write_version 201

. spec/cli/serve.sh
job_result() { hget "$1" resultCode; }

flush
start_serve || { echo "not ok 1 - serve starts"; cat "$WORK/serve.log"; exit 1; }

post_job() {
  http POST /job/echo '{"n": 7}' && status_is 201 || return 1
  local uuid; uuid=$(body_get d.uuid)
  finished() { [ "$(job_result "$uuid")" = 200 ]; }
  wait_for 10 finished
}
ok "POST /job/{jobType} answers 201 {uuid}, and a worker runs it" post_job

post_body_type() {
  http POST /job '{"jobType": "echo", "n": 8}' && status_is 201 && local uuid && uuid=$(body_get d.uuid) &&
  finished() { [ "$(job_result "$uuid")" = 200 ]; } && wait_for 10 finished # (the next test counts keys)
}
ok "POST /job takes the type from the body's jobType" post_body_type

bad_posts() {
  local before; before=$(rcli DBSIZE)
  http POST /job/nope '{}' && status_is 400 && body_get d.error | grep -q "unknown job type nope" &&
  http POST /job/echo '{"n": ' && status_is 400 && body_get d.error | grep -q "not valid JSON" &&
  http POST /job/echo '{"n": "x"}' && status_is 400 && body_get d.error | grep -q "field n must be an integer" &&
  [ "$(rcli DBSIZE)" = "$before" ]
}
ok "POST /job with an unknown type, bad JSON or bad params is 400 naming it; nothing stored" bad_posts

reads() {
  http POST /job/echo '{"n": 5}' && local uuid; uuid=$(body_get d.uuid)
  finished() { [ "$(job_result "$uuid")" = 200 ]; }
  wait_for 10 finished || return 1
  http GET "/progress/$uuid" && status_is 200 && [ "$(cat "$WORK/body")" = '{"completeness":1,"result":200}' ] &&
  http GET "/info/$uuid" && status_is 200 && [ "$(body_get 'd.events[1].msg')" = "echo 5" ] &&
  http GET "/data/$uuid" && status_is 200 && [ "$(cat "$WORK/body")" = '{"n":5}' ] &&
  http GET "/dump/$uuid" && status_is 200 && [ "$(body_get d.uuid)" = "$uuid" ] && [ "$(body_get d.events)" = nil ] &&
  http GET "/dump/$uuid?showLogs=true" && status_is 200 && [ "$(body_get '#d.events')" = 1 ] &&
  grep -qi '^Content-Type: application/json' "$WORK/headers"
}
ok "GET /progress /info /data /dump answer 200 JSON; dump adds the lists with ?showLogs=true" reads

unknown_uuid() {
  for route in progress info data dump; do
    http GET "/$route/00000000-0000-4000-8000-000000000000" && status_is 404 || return 1
  done
  http POST /kill/00000000-0000-4000-8000-000000000000 && status_is 404
}
ok "an unknown uuid is 404 on every route" unknown_uuid

kill_route() {
  http POST /job/slow '{"seconds": 20}' && local uuid; uuid=$(body_get d.uuid)
  started() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 started || return 1
  http POST "/kill/$uuid" && status_is 200 && [ "$(body_get d.result)" = 410 ] &&
  [ "$(job_result "$uuid")" = 410 ] && http POST "/kill/$uuid" && status_is 409
}
ok "POST /kill/{uuid} kills a running job (410); killing it again is 409" kill_route

workers_route() {
  http GET /workers && status_is 200 && [ "$(body_get '#d')" = 2 ] && [ "$(body_get 'd[1].pid > 0')" = true ] &&
  [ -n "$(body_get 'd[2].state')" ] || return 1
  # each worker's resident memory, as its process reports it (at most a second old)
  measured() { http GET /workers && [ "$(body_get 'd[1].rssBytes > 1e6 and d[2].rssBytes > 1e6')" = true ]; }
  wait_for 5 measured || { echo "$(cat "$WORK/body")"; return 1; }
}
ok "GET /workers lists each worker with its pid, state, job and resident memory" workers_route

drain() {
  http POST /drain && status_is 200 && [ "$(body_get d.draining)" = true ] || return 1
  sleep 0.5
  http POST /job/echo '{"n": 1}' && local uuid; uuid=$(body_get d.uuid)
  sleep 1.5
  [ "$(job_result "$uuid")" = -1 ] || { echo "ran while drained"; return 1; }
  http POST /undrain && status_is 200 && [ "$(body_get d.draining)" = false ] || return 1
  finished() { [ "$(job_result "$uuid")" = 200 ]; }
  wait_for 10 finished
}
ok "POST /drain stops taking jobs and POST /undrain resumes" drain

health() {
  http GET /health && status_is 200 && [ "$(body_get d.status)" = ok ] && [ "$(body_get d.store)" = ok ] &&
  body_get 'd.scripts.loaded[1].jobType' | grep -q echo
}
ok "GET /health reports the store and the scripts" health

metrics() {
  http GET /metrics && status_is 200 && grep -qi '^Content-Type: text/plain' "$WORK/headers" &&
  grep -q 'zerog_jobs_started_total{type="echo"} [1-9]' "$WORK/body" &&
  grep -q 'zerog_jobs_finished_total{type="echo",result="200"} [1-9]' "$WORK/body" &&
  grep -q 'zerog_job_run_seconds_bucket{type="echo",le="+Inf"} [1-9]' "$WORK/body" &&
  grep -q 'zerog_job_run_seconds_count{type="echo"}' "$WORK/body" &&
  grep -q 'zerog_queue_messages{queue="zerog_jobs",state="ready"} 0' "$WORK/body" &&
  grep -q 'zerog_job_errors_total{type="echo"} 0' "$WORK/body" && grep -q '^zerog_workers 2' "$WORK/body"
}
ok "GET /metrics is Prometheus text: runs by type and result, errors, retries, run time, queues" metrics

cors() {
  http OPTIONS /job/echo && status_is 204 &&
  http GET /health && grep -qi '^Access-Control-Allow-Origin: \*' "$WORK/headers" &&
  grep -qi '^Access-Control-Allow-Methods:' "$WORK/headers"
}
ok "CORS headers on every response; OPTIONS answers 204" cors

methods() {
  http GET /job/echo && status_is 405 && grep -qi '^Allow: POST' "$WORK/headers" &&
  http POST /progress/x && status_is 405 && http GET /nowhere && status_is 404
}
ok "a wrong method is 405 with Allow; an unknown route 404" methods

kill9() {
  http POST /job/slow '{"seconds": 3}' && local uuid; uuid=$(body_get d.uuid)
  started() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 started || return 1
  http GET /workers
  local victim; victim=$(lua5.4 -e "local d = require('cjson').decode(io.read('a'))
    for _, w in ipairs(d) do if w.job ~= require('cjson').null and w.job.uuid == '$uuid' then print(math.tointeger(w.pid)) end end" <"$WORK/body")
  [ -n "$victim" ] || { echo "no worker holds $uuid"; return 1; }
  kill -9 "$victim"
  finished() { [ "$(job_result "$uuid")" = 200 ]; }
  wait_for 15 finished || { echo "result $(job_result "$uuid")"; return 1; }
  http GET /workers
  grep -q "\"pid\":$victim," "$WORK/body" && { echo "dead worker still listed"; return 1; }
  [ "$(body_get '#d')" = 2 ] &&
  "$ZEROG" info "$uuid" 2>/dev/null | grep -q '"msg":"Killed - Restarting"' &&
  [ "$(rcli LLEN "$(jkey "$uuid"):errors")" = 1 ] && [ "$(hget "$uuid" errorCount)" = 1 ] &&
  "$ZEROG" info "$uuid" 2>/dev/null | grep -q '"msg":"job was killed while running (its host died)"' &&
  grep -q "(pid $victim) died (signal 9) running job $uuid: released" "$WORK/serve.log"
}
ok "kill -9 of a worker mid-job: replaced at once, the job finished once with the kill recorded (errorCount 1)" kill9

# The inode of the socket listening on port $1 (from /proc/net/tcp and tcp6).
listen_inode() {
  local hex; hex=$(printf '%04X' "$1")
  awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { print $10 }' /proc/net/tcp /proc/net/tcp6 | head -1
}
# holds_socket PID INODE: whether process PID has that socket open
holds_socket() { ls -l "/proc/$1/fd" 2>/dev/null | grep -q "socket:\[$2\]"; }
worker_pids() { http GET /workers && lua5.4 -e 'for _, w in ipairs(require("cjson").decode(io.read("a"))) do
  if w.pid > 0 then print(math.tointeger(w.pid)) end end' <"$WORK/body"; }

workers_hold_no_port() {
  local inode; inode=$(listen_inode "$PORT")
  [ -n "$inode" ] && holds_socket "$SERVE_PID" "$inode" || { echo "serve does not hold the port?"; return 1; }
  local pids; pids=$(worker_pids)
  [ "$(echo "$pids" | wc -w)" = 2 ] || { echo "workers: $pids"; return 1; }
  for p in $pids; do holds_socket "$p" "$inode" && { echo "worker $p holds the listening socket"; return 1; }; done
  local victim; victim=$(echo "$pids" | head -1)
  kill -9 "$victim"
  replaced() { local now; now=$(worker_pids); [ "$(echo "$now" | wc -w)" = 2 ] && ! echo "$now" | grep -qx "$victim"; }
  wait_for 5 replaced || { echo "not replaced: $(worker_pids)"; return 1; }
  for p in $(worker_pids); do
    holds_socket "$p" "$inode" && { echo "worker $p (a replacement) holds the listening socket"; return 1; }
    [ "$(ls "/proc/$p/fd" | sort -n | head -5 | tr '\n' ' ')" = "0 1 2 3 4 " ] || { echo "worker $p fds: $(ls -l /proc/$p/fd)"; return 1; }
  done
}
ok "workers (first ones and a replacement after kill -9) hold no listening socket of serve's" workers_hold_no_port

drain_race() {
  local i uuid
  for i in $(seq 20); do
    http POST /drain && status_is 200 && [ "$(body_get d.draining)" = true ] || return 1
    http POST /job/echo '{"n": 1}' && status_is 201 || return 1
    uuid=$(body_get d.uuid)
    sleep 0.15 # a window in which a worker that was waiting for a message would have run it
    [ "$(job_result "$uuid")" = -1 ] && [ "$(hget "$uuid" running)" != true ] || { echo "try $i: job ran while drained"; return 1; }
    http GET /workers && [ "$(body_get 'd[1].state')" = drained ] || { echo "try $i: $(cat "$WORK/body")"; return 1; }
    http POST /undrain && status_is 200 || return 1
    finished() { [ "$(job_result "$uuid")" = 200 ]; }
    wait_for 5 finished || { echo "try $i: did not run after undrain"; return 1; }
  done
}
ok "drain race: a job submitted right after POST /drain returns stays queued (20 tries)" drain_race

# kwargs UUID: the job's queueKwargs as "delay ttr priority"
kwargs() { hget "$1" queueKwargs | lua5.4 -e 'local k = require("cjson").decode(io.read("a"))
  print(string.format("%g %g %d", k.delay, k.ttr, k.priority))'; }
queue_options_query() {
  http POST '/job/echo?priority=7&delay=30&ttr=5' '{"n": 2}' && status_is 201 || return 1
  local uuid; uuid=$(body_get d.uuid)
  [ "$(kwargs "$uuid")" = "30 5 7" ] || { echo "kwargs $(kwargs "$uuid")"; return 1; }
  "$ZEROG" stats --queue zerog_jobs | tr -d ' \n' | grep -q '"delayed":1' || { "$ZEROG" stats --queue zerog_jobs; return 1; }
  "$ZEROG" kill "$uuid" >/dev/null 2>&1
}
ok "POST /job/{type}?priority=&delay=&ttr= queues the job with those options" queue_options_query

cat >"$JOBS/coll.lua" <<'LUA'
return { JOB_TYPE = "coll", QUEUE_NAME = "coll_q",
  SCHEMA = { options = { type = "object" }, priority = { type = "integer" }, params = { type = "any" } },
  run = function() return 200 end }
LUA
queue_options_envelope() {
  local uuid
  posted() { http POST /job/coll '{"options": {"delay": 40}, "priority": 3, "params": 1}' && status_is 201 >/dev/null; }
  wait_for 5 posted || { cat "$WORK/body"; return 1; } # the script is new: loaded on change
  uuid=$(body_get d.uuid)
  # without the envelope, fields named options, priority and params are the job's own
  [ "$(hget "$uuid" priority)" = 3 ] && [ "$(kwargs "$uuid")" != "40 60 3" ] || { echo "plain: $(kwargs "$uuid")"; return 1; }
  http POST '/job/coll?envelope=true' '{"params": {"options": {"a": 1}, "priority": 9}, "options": {"priority": 5, "delay": 20, "ttr": 9}}' &&
    status_is 201 || return 1
  uuid=$(body_get d.uuid)
  [ "$(kwargs "$uuid")" = "20 9 5" ] && [ "$(hget "$uuid" priority)" = 9 ] || { echo "envelope: $(kwargs "$uuid") $(hget "$uuid" priority)"; return 1; }
  "$ZEROG" kill "$uuid" >/dev/null 2>&1
  http POST '/job/coll?envelope=true' '{"params": {}}' && status_is 201
}
ok "POST /job?envelope=true takes {params, options}, which cannot collide with SCHEMA fields" queue_options_envelope

queue_options_refused() {
  local before; before=$(rcli DBSIZE)
  http POST '/job/echo?ttr=0' '{"n": 1}' && status_is 400 && body_get d.error | grep -q "ttr must be a number of seconds > 0" &&
  http POST '/job/echo?priority=-1' '{"n": 1}' && status_is 400 && body_get d.error | grep -q "priority must be a whole number" &&
  http POST '/job/echo?delay=soon' '{"n": 1}' && status_is 400 && body_get d.error | grep -q "delay must be" &&
  http POST '/job/echo?prio=1' '{"n": 1}' && status_is 400 && body_get d.error | grep -q "unknown query parameter prio" &&
  http POST '/job/echo?envelope=true' '{"params": {"n": 1}, "opts": {}}' && status_is 400 && body_get d.error | grep -q "unknown field opts" &&
  http POST '/job/echo?envelope=true' '{"params": {"n": 1}, "options": {"ttl": 1}}' && status_is 400 && body_get d.error | grep -q "unknown option ttl" &&
  http POST '/job/echo?envelope=true&ttr=5' '{"params": {"n": 1}, "options": {"ttr": 6}}' && status_is 400 && body_get d.error | grep -q "ttr is given twice" &&
  http POST '/job/echo?envelope=true' '{"params": {"n": 1}' && status_is 400 &&
  [ "$(rcli DBSIZE)" = "$before" ]
}
ok "POST /job refuses a bad or unknown queue option by name (400), storing nothing" queue_options_refused

newline_bodies() {
  local route
  for route in /health /workers /nowhere "/progress/00000000-0000-4000-8000-000000000000"; do
    http GET "$route" && [ "$(tail -c 1 "$WORK/body" | od -An -c | tr -d ' ')" = '\n' ] || { echo "$route: $(cat "$WORK/body")"; return 1; }
  done
  http POST /job/echo '{"n": 1}' && status_is 201 && [ "$(tail -c 1 "$WORK/body" | od -An -c | tr -d ' ')" = '\n' ]
}
ok "every JSON body ends with a newline" newline_bodies

reload_under_load() {
  local uuids=() bad=0
  for i in $(seq 10); do http POST /job/ver '{}'; uuids+=("$(body_get d.uuid)"); done
  write_version 202
  sleep 1
  local after=()
  for i in $(seq 10); do http POST /job/ver '{}'; after+=("$(body_get d.uuid)"); done
  done_all() { for u in "${uuids[@]}" "${after[@]}"; do [ "$(job_result "$u")" != -1 ] || return 1; done; }
  wait_for 15 done_all || { echo "not all ran"; for u in "${uuids[@]}" "${after[@]}"; do echo "$u $(job_result "$u") $(hget "$u" running)"; done; tail -30 "$WORK/serve.log"; return 1; }
  for u in "${uuids[@]}" "${after[@]}"; do case "$(job_result "$u")" in 201|202) ;; *) bad=$((bad + 1)) ;; esac; done
  for u in "${after[@]}"; do [ "$(job_result "$u")" = 202 ] || { echo "old definition after reload"; return 1; }; done
  [ "$bad" = 0 ]
}
ok "hot reload under load: jobs keep succeeding and the new definition is used within 1 s" reload_under_load

broken_reload() {
  echo 'return { JOB_TYPE = "ver", run = function( end }' >"$JOBS/ver.lua.tmp" && mv "$JOBS/ver.lua.tmp" "$JOBS/ver.lua"
  sleep 1
  http GET /health && [ "$(body_get d.status)" = degraded ] && body_get 'd.scripts.failed[1].error' | grep -q "ver.lua:1:" || return 1
  http POST /job/ver '{}' && local uuid; uuid=$(body_get d.uuid)
  finished() { [ "$(job_result "$uuid")" = 202 ]; }
  wait_for 10 finished
}
ok "a broken script is shown in /health and the previous version stays in use" broken_reload

added_removed() {
  cat >"$JOBS/fresh.lua" <<'LUA'
return { JOB_TYPE = "fresh", run = function() return 203 end }
LUA
  sleep 1
  http POST /job/fresh '{}' && status_is 201 || return 1
  local uuid; uuid=$(body_get d.uuid)
  finished() { [ "$(job_result "$uuid")" = 203 ]; }
  wait_for 10 finished || return 1
  rm "$JOBS/fresh.lua"
  sleep 1
  http POST /job/fresh '{}' && status_is 400
}
ok "an added script takes effect and a removed one goes, without a restart" added_removed

write_version 202
sighup() {
  local before; before=$(grep -c "job scripts reloaded" "$WORK/serve.log")
  kill -HUP "$SERVE_PID"
  reloaded() { [ "$(grep -c "job scripts reloaded" "$WORK/serve.log")" -gt "$before" ]; }
  wait_for 5 reloaded
}
ok "SIGHUP forces a full reload" sighup

no_worker_alive() {
  # workers that die as they start (each killed at once): a replacement of one that died young
  # comes ever later, so soon none is alive; nothing runs, and /health says so
  down() {
    local p; for p in $(pgrep -P "$SERVE_PID"); do kill -9 "$p" 2>/dev/null; done
    http GET /health && [ "$(cat "$WORK/status")" = 503 ] && [ "$(body_get d.status)" = unavailable ] &&
    [ "$(body_get d.workers.alive)" = 0 ] && [ "$(body_get d.store)" = ok ]
  }
  wait_for 20 down || { echo "health: $(cat "$WORK/status") $(cat "$WORK/body")"; return 1; }
  up() { http GET /health && status_is 200 && [ "$(body_get d.status)" = ok ] && [ "$(body_get d.workers.alive)" = 2 ]; }
  wait_for 30 up
}
ok "GET /health is 503 unavailable while no worker is alive (the store up), ok again once they are" no_worker_alive

one_worker_down() {
  # one worker of the two dies as it starts (each process of slot w1 killed at once): the other
  # runs on, so /health serves (200) but says it is degraded, with 1 of 2 alive
  half() {
    local p
    http GET /workers && p=$(body_get 'd[1].pid') && [ "${p:-0}" != 0 ] && kill -9 "$p" 2>/dev/null
    http GET /health && [ "$(cat "$WORK/status")" = 200 ] && [ "$(body_get d.status)" = degraded ] &&
    [ "$(body_get d.workers.alive)" = 1 ] && [ "$(body_get d.workers.wanted)" = 2 ]
  }
  wait_for 20 half || { echo "health: $(cat "$WORK/status") $(cat "$WORK/body")"; return 1; }
  up() { http GET /health && status_is 200 && [ "$(body_get d.status)" = ok ] && [ "$(body_get d.workers.alive)" = 2 ]; }
  wait_for 30 up
}
ok "GET /health is 200 degraded while fewer workers are alive than wanted, ok again once they are" one_worker_down

events() {
  "$ZEROG" events >"$WORK/events" 2>/dev/null &
  local follower=$!
  sleep 0.5
  http POST /job/echo '{"n": 3}' && local uuid; uuid=$(body_get d.uuid)
  finished() { grep -q "\"event\":\"end\".*\"uuid\":\"$uuid\"" "$WORK/events"; }
  wait_for 10 finished; local rc=$?
  kill -INT $follower; wait $follower
  [ $rc = 0 ] && grep -q "\"event\":\"start\".*\"uuid\":\"$uuid\"" "$WORK/events" &&
  grep "\"event\":\"end\".*\"uuid\":\"$uuid\"" "$WORK/events" | grep -q '"result":200'
}
ok "job starts and ends are published, and zerog events follows them" events

sigterm_running() {
  http POST /job/slow '{"seconds": 2}' && local uuid; uuid=$(body_get d.uuid)
  started() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 started || return 1
  stop_serve || { echo "exit status $?"; return 1; }
  [ "$(job_result "$uuid")" = 200 ] && grep -q "stopped" "$WORK/serve.log"
}
ok "SIGTERM lets a running job finish and exits 0" sigterm_running

grace_over() {
  start_serve --grace 1 || return 1
  http POST /job/slow '{"seconds": 20}' && local uuid; uuid=$(body_get d.uuid)
  started() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 started || return 1
  stop_serve || return 1
  [ "$(job_result "$uuid")" = -1 ] && "$ZEROG" stats --queue slow_q | grep -q '"ready":1' &&
  grep -q "grace over: job $uuid released" "$WORK/serve.log" &&
  # a graceful stop is not the job's failure: an event, no error counted, not running
  [ "$(hget "$uuid" errorCount)" = 0 ] && [ "$(hget "$uuid" running)" = false ] &&
  "$ZEROG" info "$uuid" 2>/dev/null | grep -q '"msg":"Released - host stopping"'
}
ok "past --grace, a running job is released for another host without an error counted, and it exits 0" grace_over

auth() {
  start_serve --auth-token s3cret || return 1
  http GET /workers && status_is 401 &&
  http GET /workers '' -H 'Authorization: Bearer wrong' && status_is 401 &&
  grep -qi '^WWW-Authenticate: Bearer' "$WORK/headers" &&
  http GET /workers '' -H 'Authorization: Bearer s3cret' && status_is 200 &&
  http GET /workers '' -H 'Authorization: bearer s3cret' && status_is 200 &&
  http GET /workers '' -H 'Authorization: BEARER s3cret' && status_is 200 &&
  http GET /workers '' -H 'Authorization: Bearer s3cre' && status_is 401 &&
  http GET /workers '' -H 'Authorization: Bearer s3cretX' && status_is 401 &&
  http GET /workers '' -H 'Authorization: Basic s3cret' && status_is 401 &&
  http POST /job/echo '{"n": 1}' && status_is 401 &&
  http GET /health && status_is 200
}
ok "with --auth-token every route but /health wants the bearer token (401 with WWW-Authenticate: Bearer; scheme in any case)" auth

# (the serve of the test above) A request without the token is refused at its headers: its body
# is never read, so a client without the token cannot make the daemon hold --max-body bytes on
# each of its connections (it read the whole body first, then answered 401).
refused_before_body() {
  exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
  printf 'POST /job/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n{"n": 1' >&3
  local status
  status=$(timeout 5 head -n 1 <&3)
  exec 3<&-
  echo "# answer before the body's end: ${status:-none in 5 s}"
  case "$status" in "HTTP/1.1 401"*) ;; *) return 1 ;; esac
  # with the token, a route that reads no body ignores one; the routes that read one get it
  http POST /drain "$(head -c 5000 /dev/zero | tr '\0' x)" -H 'Authorization: Bearer s3cret' &&
  status_is 200 && http POST /undrain '' -H 'Authorization: Bearer s3cret' && status_is 200 &&
  http POST /job/echo '{"n": 7}' -H 'Authorization: Bearer s3cret' && status_is 201 &&
  # a refused request without a body keeps its connection alive (an answer at the headers would
  # close it): the second request reuses it
  local connects; connects=$(curl -s -o /dev/null -o /dev/null -w '%{num_connects} ' "$URL/workers" "$URL/health")
  echo "# connections made for a refused GET and the next request: $connects"
  [ "$connects" = "1 0 " ]
}
ok "a request without the token is answered 401 at its headers, before its body is read" refused_before_body
stop_serve

body_limit() {
  start_serve --max-body 100 || return 1
  local big; big="{\"n\": 1, \"pad\": \"$(head -c 200 /dev/zero | tr '\0' x)\"}"
  http POST /job/echo "$big" && status_is 413 && http POST /job/echo '{"n": 1}' && status_is 201
}
ok "a body over the limit is 413" body_limit
stop_serve

json_logs() {
  start_serve --log-format json || return 1
  http POST /job/echo '{"n": 4}'
  local uuid; uuid=$(body_get d.uuid)
  finished() { [ "$(job_result "$uuid")" = 200 ]; }
  wait_for 10 finished || return 1
  stop_serve
  grep -a "echo_$uuid" "$WORK/serve.log" | head -1 | lua5.4 -e 'local d = require("cjson").decode(io.read("l"))
    assert(d.time and d.level == "info" and d.worker:match("^w%d") and d.logId:match("^echo_") and d.msg == "echo 4")' &&
  lua5.4 -e 'local cjson = require("cjson"); local n = 0
    for line in io.lines() do n = n + 1; assert(pcall(cjson.decode, line), "not JSON: " .. line) end
    assert(n > 3)' <"$WORK/serve.log"
}
ok "--log-format json writes one JSON object per log line: time, level, worker, logId, message" json_logs

retire() {
  start_serve || return 1
  http POST /retire && status_is 200 || return 1
  wait "$SERVE_PID"; local rc=$?
  SERVE_PID=
  [ $rc = 0 ] && grep -q "stopped" "$WORK/serve.log"
}
ok "POST /retire stops the daemon as SIGTERM does" retire

kill9_serve() {
  start_serve || return 1
  local pids; pids=$(worker_pids)
  [ "$(echo "$pids" | wc -w)" = 2 ] || return 1
  kill -9 "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=
  # a dead worker may stay a zombie until init reaps it: that is not running
  running() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
  gone() { for p in $pids; do running "$p" && return 1; done; return 0; }
  wait_for 2 gone || { echo "workers still running 2 s after kill -9 of serve: $pids"; return 1; }
  start_serve || { echo "a new serve did not start on the same port"; cat "$WORK/serve.log"; return 1; }
  ! grep -q "cannot listen" "$WORK/serve.log"
}
ok "kill -9 of serve: no worker left after 2 s, and a new serve starts on the same port at once" kill9_serve

port_in_use() {
  expect_status 1 timeout 10 "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 &&
  grep -q "cannot listen on 127.0.0.1:$PORT: Address already in use" "$WORK/err"
}
ok "a port in use: exit 1 saying why (Address already in use)" port_in_use
stop_serve

bad_listen() {
  expect_status 2 "$ZEROG" serve --listen 127.0.0.1:99999 && grep -q "port must be a number from 1 to 65535" "$WORK/err" &&
  expect_status 2 "$ZEROG" serve --listen nocolon && grep -q "HOST:PORT" "$WORK/err" &&
  expect_status 2 "$ZEROG" serve --listen ::1:8888 && grep -q "IPV6" "$WORK/err" &&
  expect_status 2 "$ZEROG" serve --workers 0 && grep -q "workers must be between 1 and 64" "$WORK/err" &&
  expect_status 2 "$ZEROG" serve --http-timeout 0
}
ok "bad --listen (port 99999, no port, bare IPv6) and --workers 0 are usage errors (exit 2)" bad_listen

listen_forms() {
  local other=$((PORT + 1))
  "$ZEROG" serve --listen "localhost:$other" --workers 1 >"$WORK/other.log" 2>&1 & local pid=$!
  up_local() { curl -s -o /dev/null "http://localhost:$other/health"; }
  wait_for 10 up_local; local rc=$?
  kill -TERM $pid; wait $pid
  [ $rc = 0 ] || { echo "localhost:$other: $(cat "$WORK/other.log")"; return 1; }
  grep -q '00000000000000000000000000000001' /proc/net/if_inet6 || { echo "# no IPv6 loopback: [::1] not tried"; return 0; }
  "$ZEROG" serve --listen "[::1]:$other" --workers 1 >"$WORK/other.log" 2>&1 & pid=$!
  up_v6() { curl -s -g -o /dev/null "http://[::1]:$other/health"; }
  wait_for 10 up_v6; rc=$?
  kill -TERM $pid; wait $pid
  [ $rc = 0 ] || { echo "[::1]:$other: $(cat "$WORK/other.log")"; return 1; }
}
ok "--listen takes a host name (localhost:PORT) and IPv6 ([::1]:PORT)" listen_forms

mem_refused() { expect_status 2 "$ZEROG" --store mem:// serve --listen "127.0.0.1:$PORT" && grep -q "shared store" "$WORK/err"; }
ok "serve refuses the in-process store (its workers are processes)" mem_refused

tap_done
