#!/usr/bin/env bash
# zerog serve during a Redis outage, on a private redis-server of its own (stopped and started
# again here): /health answers 503 within a second saying what is wrong, every other route that
# needs the store answers 503 at once with a JSON error (no stack trace), requests do not wait
# behind one another, and everything recovers without a restart when Redis is back.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
. spec/support/redis.sh
write_echo_job

OWN=$WORK/own-redis
SHARED_REDIS=$ZEROG_SPEC_REDIS
redis_start "$OWN" || { echo "not ok 1 - a private redis-server starts"; exit 1; }
export ZEROG_SPEC_REDIS=$SHARED_REDIS # redis_start exported its own: keep the suite's
STORE=unix://$OWN/redis.sock
. spec/support/free_port.sh
PORT=$(free_port 26000 32000)
URL=http://127.0.0.1:$PORT
"$ZEROG" --store "$STORE" serve --listen "127.0.0.1:$PORT" --workers 1 >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
trap 'kill -TERM $SERVE_PID 2>/dev/null; wait $SERVE_PID; redis_stop "$OWN"; rm -rf "$WORK"' EXIT
up() { curl -s -o /dev/null "$URL/health"; }
wait_for 10 up || { echo "not ok 1 - serve starts"; cat "$WORK/serve.log"; exit 1; }

# timed METHOD PATH [BODY]: status and seconds taken in $WORK/status, $WORK/time; body in $WORK/body
timed() {
  curl -s -m 5 -o "$WORK/body" -w '%{http_code} %{time_total}' -X "$1" ${3:+--data "$3"} "$URL$2" >"$WORK/out"
  cut -d' ' -f1 "$WORK/out" >"$WORK/status"
  cut -d' ' -f2 "$WORK/out" >"$WORK/time"
}
within() { lua5.4 -e "os.exit(tonumber(io.read('l')) < $1)" <"$WORK/time" || { echo "took $(cat "$WORK/time") s"; return 1; }; }
status_is() { [ "$(cat "$WORK/status")" = "$1" ] || { echo "status $(cat "$WORK/status"), expected $1: $(cat "$WORK/body")"; return 1; }; }
no_trace() { ! grep -qi "traceback" "$WORK/body" || { echo "a stack trace in the body: $(cat "$WORK/body")"; return 1; }; }

timed POST /job/echo '{"n": 1}'
UUID=$(json_get d.uuid "$WORK/body")
finished() { [ "$("$ZEROG" --store "$STORE" progress "$UUID" 2>/dev/null | json_get d.result /dev/stdin)" = 200 ]; }
wait_for 10 finished
redis_stop "$OWN"
down() { [ ! -S "$OWN/redis.sock" ]; }
wait_for 5 down

health_down() {
  timed GET /health && status_is 503 && within 1 && no_trace &&
  [ "$(json_get d.status "$WORK/body")" = unavailable ] &&
  json_get d.store "$WORK/body" | grep -q "cannot connect to redis" || { cat "$WORK/body"; return 1; }
}
ok "Redis stopped: /health answers 503 within 1 s with a JSON body saying what is wrong" health_down

routes_down() {
  timed POST /job/echo '{"n": 2}' && status_is 503 && within 0.5 && no_trace &&
  json_get d.error "$WORK/body" | grep -q "the store is unavailable" || return 1
  for route in progress info data dump; do
    timed GET "/$route/$UUID" && status_is 503 && within 0.5 && no_trace && json_get d.error "$WORK/body" >/dev/null || return 1
  done
  timed POST "/kill/$UUID" && status_is 503 && within 0.5 && no_trace &&
  timed GET /workers && status_is 200 && within 0.5 &&
  timed GET /metrics && status_is 200 && within 0.5 && grep -q '^zerog_store_up 0' "$WORK/body"
}
ok "Redis stopped: every route needing it answers 503 at once with a JSON error, no stack trace" routes_down

not_queued() {
  local pids=() i
  for i in 1 2 3 4 5 6; do
    curl -s -m 5 -o /dev/null -w '%{time_total}\n' "$URL/health" >"$WORK/t$i" & pids+=($!)
    curl -s -m 5 -o /dev/null -w '%{time_total}\n' "$URL/progress/$UUID" >"$WORK/p$i" & pids+=($!)
  done
  wait "${pids[@]}"
  cat "$WORK"/t* "$WORK"/p* | lua5.4 -e 'for l in io.lines() do assert(tonumber(l) < 1, "took " .. l .. " s") end'
}
ok "Redis stopped: 12 concurrent requests each answer within 1 s (none waits behind another)" not_queued

recovery() {
  redis_start "$OWN" || return 1
  export ZEROG_SPEC_REDIS=$SHARED_REDIS
  healthy() { timed GET /health && [ "$(cat "$WORK/status")" = 200 ]; }
  wait_for 5 healthy || { echo "health: $(cat "$WORK/body")"; return 1; }
  timed POST /job/echo '{"n": 3}' && status_is 201 || return 1
  UUID=$(json_get d.uuid "$WORK/body")
  wait_for 15 finished || { echo "the job did not run after the outage"; tail "$WORK/serve.log"; return 1; }
  grep -q "the store is unreachable" "$WORK/serve.log" && grep -q "the store is reachable again" "$WORK/serve.log" &&
  [ "$(grep -c "supervisor the store is unreachable" "$WORK/serve.log")" = 1 ]
}
ok "Redis back: health 200 and jobs run again without a restart; the outage logged once each way" recovery

# A claim whose reply was lost, and then a drain: Redis stalls (SIGSTOP) past the worker's store
# timeout with the worker's claim in its socket, the worker is drained, and Redis, going on, runs
# the claim: the job is leased to a worker that takes no step until it is undrained. The drained
# worker puts it back at once: waiting, not reserved through the drain (and, past its TTR,
# lapsed with an error counted).
drained_worker_puts_back_what_its_lost_claim_took() {
  local pid uuid before
  pid=$(cat "$OWN/redis.pid")
  before=$(grep -c "said once; retrying until it passes" "$WORK/serve.log")
  # delayed: no claim can take it before Redis stops, and every claim stuck then takes it after
  uuid=$("$ZEROG" --store "$STORE" submit echo '{"n": 5}' --delay 1.5) || return 1
  kill -STOP "$pid"
  lost() { [ "$(grep -c "said once; retrying until it passes" "$WORK/serve.log")" -gt "$before" ]; }
  wait_for 15 lost || { kill -CONT "$pid"; echo "no claim failed"; tail -20 "$WORK/serve.log"; return 1; }
  post() { [ "$(curl -s -m 5 -o "$WORK/body" -w '%{http_code}' -X POST "$URL$1")" = 200 ]; }
  post /drain || { kill -CONT "$pid"; echo "drain: $(cat "$WORK/body")"; return 1; }
  kill -CONT "$pid"
  waiting() { "$ZEROG" --store "$STORE" stats --queue zerog_jobs 2>/dev/null | grep -q '"ready":1,"delayed":0,"reserved":0'; }
  wait_for 5 waiting || { "$ZEROG" --store "$STORE" stats; post /undrain; return 1; }
  post /undrain || return 1
  UUID=$uuid
  wait_for 10 finished || { echo "the job did not run once undrained"; return 1; }
  [ "$(redis-cli -s "$OWN/redis.sock" HGET "{zq:zerog_jobs}:job:$uuid" errorCount)" = 0 ] &&
    grep -q "job $uuid: taken by a claim whose reply was lost" "$WORK/serve.log" ||
    { tail -20 "$WORK/serve.log"; return 1; }
}
ok "a drained worker puts back at once the job its claim took in a Redis stall (not after the drain, nor its TTR)" drained_worker_puts_back_what_its_lost_claim_took

# A submit whose reply was lost: Redis stalls (SIGSTOP) with the step of POST /job in its
# socket, the request answers 503 after the store timeout, and Redis, going on, makes the job.
# The answer said "job X was not submitted": a client that believed it and submitted again had
# the job run twice. It says the job may have been made, and names it.
a_submit_in_a_stall_says_it_may_have_been_made() {
  local pid before after
  pid=$(cat "$OWN/redis.pid")
  count() { redis-cli -s "$OWN/redis.sock" EVAL "return #redis.call('KEYS', 'zerog:job:*')" 0; }
  before=$(count)
  kill -STOP "$pid"
  timed POST /job/echo '{"n": 7}'
  cp "$WORK/body" "$WORK/first"
  timed POST /job/echo '{"n": 8}' # answered at once: the store is known to be down
  kill -CONT "$pid"
  status_is 503 || return 1
  echo "second answer: $(cat "$WORK/body")"
  local first_uuid; first_uuid=$(grep -o '[0-9a-f]\{8\}-[0-9a-f-]\{27\}' "$WORK/first" | head -1)
  ! grep -q "$first_uuid" "$WORK/body" || { echo "the second answer names the first request's job"; return 1; }
  cp "$WORK/first" "$WORK/body"
  echo "answer: $(cat "$WORK/body")"
  more() { [ "$(count)" -gt "$before" ]; }
  wait_for 5 more || { echo "(the step never reached Redis: nothing to check)"; return 0; }
  after=$(redis-cli -s "$OWN/redis.sock" KEYS 'zerog:job:*' | sed 's/^zerog:job://')
  local made; made=$(for u in $after; do grep -q "$u" "$WORK/body" && echo "$u"; done)
  echo "made by the stalled submit: ${made:-none the answer names}"
  [ -n "$made" ] && ! grep -q "was not submitted" "$WORK/body" && grep -q "may have been submitted" "$WORK/body"
}
ok "a submit answered 503 in a Redis stall, which Redis makes once it goes on, says it may have been made and names it (and only its own answer does)" a_submit_in_a_stall_says_it_may_have_been_made

# SIGTERM with Redis down and every worker busy: past --grace the releases of what the workers
# hold fail, and the first failure ends the tries for every worker (one store timeout, 2 s, in
# all): a try per worker waited out the timeout one worker after another (3 workers, grace 1:
# 7.3 s; 64 workers and the default grace: ~158 s, past systemd's stop timeout).
grace_with_the_store_down() {
  write_slow_job
  local port2 pid2 began took i
  port2=$(free_port 32001 38000)
  "$ZEROG" --store "$STORE" serve --listen "127.0.0.1:$port2" --workers 3 --grace 1 >"$WORK/serve2.log" 2>&1 &
  pid2=$!
  up2() { curl -s -o /dev/null "http://127.0.0.1:$port2/health"; }
  wait_for 10 up2 || { kill "$pid2"; return 1; }
  for i in 1 2 3 4 5 6; do curl -s -o /dev/null -X POST --data '{"seconds": 120}' "http://127.0.0.1:$port2/job/slow"; done
  busy() { [ "$(curl -s "http://127.0.0.1:$port2/workers" | grep -o '"state":"running"' | wc -l)" -ge 3 ]; }
  wait_for 15 busy || { kill "$pid2"; echo "the workers did not all start a job"; return 1; }
  redis_stop "$OWN"
  wait_for 5 down
  began=$(date +%s%N)
  kill -TERM "$pid2"
  wait "$pid2"
  took=$((($(date +%s%N) - began) / 1000000))
  echo "# serve --workers 3 --grace 1 exited $took ms after SIGTERM, Redis down: $(grep -c 'could not be released' "$WORK/serve2.log") runs not released"
  [ "$took" -lt 5500 ]
}
ok "SIGTERM with Redis down: past --grace the releases stop at the store's first failure, for all workers together (one store timeout, not one per worker)" grace_with_the_store_down

tap_done
