#!/usr/bin/env bash
# zerog worker as processes: --concurrency N runs N worker processes under a supervisor that
# survives the crash of one (kill -9: replaced, its job released and run again), shares
# --max-jobs among them, forwards SIGTERM and waits for running jobs; --log-format json writes
# one valid JSON object per line however long the message.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
write_slow_job
cat >"$JOBS/chatty.lua" <<'LUA'
return { JOB_TYPE = "chatty", QUEUE_NAME = "chatty_q",
  run = function(self)
    self:job_log_info(string.rep("long \"quoted\" \\ message \n", 2000))
    self:job_log_info("tab\tand control \1 characters")
    return 200
  end }
LUA
SUP_PID=
trap '[ -n "$SUP_PID" ] && kill -TERM $SUP_PID 2>/dev/null && wait $SUP_PID; rm -rf "$WORK"' EXIT
result() { hget "$1" resultCode; }
submit() { "$ZEROG" submit "$@" 2>/dev/null; }
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }

flush
crash_one() {
  "$ZEROG" worker --concurrency 2 --queue slow_q >"$WORK/worker.log" 2>&1 & SUP_PID=$!
  local uuid; uuid=$(submit slow '{"seconds": 3}')
  started() { grep -q "slow_$uuid: started" "$WORK/worker.log"; }
  wait_for 10 started || { cat "$WORK/worker.log"; return 1; }
  # which worker runs it, and its pid (the supervisor logs each start)
  local name pid
  name=$(grep "slow_$uuid: started" "$WORK/worker.log" | head -1 | awk '{print $3}')
  pid=$(grep "started worker $name (pid" "$WORK/worker.log" | tail -1 | sed 's/.*(pid \([0-9]*\)).*/\1/')
  [ -n "$pid" ] && alive "$pid" || { echo "no pid for $name"; cat "$WORK/worker.log"; return 1; }
  kill -9 "$pid"
  finished() { [ "$(result "$uuid")" = 200 ]; }
  wait_for 15 finished || { echo "result $(result "$uuid")"; cat "$WORK/worker.log"; return 1; }
  grep -q "worker $name (pid $pid) died (signal 9) running job $uuid: released" "$WORK/worker.log" &&
  "$ZEROG" info "$uuid" 2>/dev/null | grep -q 'Killed - Restarting' &&
  alive "$SUP_PID" && [ "$(pgrep -P "$SUP_PID" | wc -l)" = 2 ] || { cat "$WORK/worker.log"; return 1; }
  # and it keeps running jobs
  local more=() u
  for _ in 1 2 3; do more+=("$(submit slow '{"seconds": 0.2}')"); done
  all_done() { for u in "${more[@]}"; do [ "$(result "$u")" = 200 ] || return 1; done; }
  wait_for 15 all_done
}
ok "worker --concurrency 2: kill -9 of one process, it is replaced, its job released and finished" crash_one

sigterm_forwarded() {
  local uuid; uuid=$(submit slow '{"seconds": 1.5}')
  started() { [ "$(hget "$uuid" running)" = true ]; }
  wait_for 10 started || return 1
  local children; children=$(pgrep -P "$SUP_PID")
  kill -TERM "$SUP_PID"; wait "$SUP_PID"; local rc=$?
  SUP_PID=
  [ $rc = 0 ] && [ "$(result "$uuid")" = 200 ] || { echo "exit $rc, result $(result "$uuid")"; return 1; }
  for p in $children; do alive "$p" && { echo "worker $p still running"; return 1; }; done
  return 0
}
ok "worker --concurrency: SIGTERM is forwarded, the running job finishes, all exit 0" sigterm_forwarded

until_idle_processes() {
  flush
  local uuids=() u
  for _ in $(seq 6); do uuids+=("$(submit echo '{"n": 1}')"); done
  expect_status 0 timeout 20 "$ZEROG" worker --concurrency 3 --until-idle || return 1
  for u in "${uuids[@]}"; do [ "$(result "$u")" = 200 ] || return 1; done
  [ "$(grep -c "started worker w" "$WORK/err")" = 3 ]
}
ok "worker --concurrency 3 --until-idle runs everything ready in 3 processes and exits 0" until_idle_processes

max_jobs_shared() {
  flush
  local uuids=() u ran=0
  for _ in $(seq 7); do uuids+=("$(submit echo '{"n": 1}')"); done
  expect_status 0 timeout 20 "$ZEROG" worker --concurrency 3 --max-jobs 4 || return 1
  for u in "${uuids[@]}"; do [ "$(result "$u")" = 200 ] && ran=$((ran + 1)); done
  [ "$ran" = 4 ] || { echo "ran $ran"; return 1; }
}
ok "worker --concurrency 3 --max-jobs 4 stops after 4 runs in all" max_jobs_shared

json_logs() {
  flush
  local uuid; uuid=$(submit chatty '{}')
  expect_status 0 timeout 20 "$ZEROG" worker --log-format json --until-idle || return 1
  [ "$(result "$uuid")" = 200 ] || return 1
  lua5.4 -e 'local cjson = require("cjson"); local long, n = false, 0
    for line in io.lines() do
      n = n + 1
      local ok, d = pcall(cjson.decode, line)
      assert(ok, "not JSON: " .. line:sub(1, 200) .. " ... " .. line:sub(-200))
      assert(d.time and d.level and d.worker and d.logId and d.msg)
      if d.msg == string.rep("long \"quoted\" \\ message \n", 2000) then long = true end
    end
    assert(long, "the long message is not there whole"); assert(n >= 3)' <"$WORK/err"
}
ok "worker --log-format json: one valid JSON object per line, a 50 KB message whole" json_logs

json_logs_processes() {
  flush
  submit echo '{"n": 5}' >/dev/null
  expect_status 0 timeout 20 "$ZEROG" worker --concurrency 2 --log-format json --until-idle || return 1
  lua5.4 -e 'local cjson = require("cjson"); local echo = false
    for line in io.lines() do local d = cjson.decode(line); echo = echo or d.msg == "echo 5" end
    assert(echo)' <"$WORK/err"
}
ok "worker --concurrency 2 --log-format json: the supervisor and its processes all log JSON" json_logs_processes

short_outage_is_said() {
  # Redis stopped for a moment (its data saved) and started again: the run waits inside its store
  # calls, finishes 200, and the worker says how long the store was gone
  . spec/support/redis.sh
  local own=$WORK/own-redis shared=$ZEROG_SPEC_REDIS
  redis_start "$own" || return 1
  export ZEROG_SPEC_REDIS=$shared # (redis_start exported its own)
  local store=unix://$own/redis.sock uuid
  uuid=$("$ZEROG" --store "$store" submit slow '{"seconds": 2}' 2>/dev/null) || { redis_stop "$own"; return 1; }
  "$ZEROG" --store "$store" worker --queue slow_q --until-idle >"$WORK/outage.log" 2>&1 & local pid=$!
  running() { [ "$(redis-cli -s "$own/redis.sock" HGET "{zq:slow_q}:job:$uuid" running)" = true ]; }
  wait_for 10 running || { redis_stop "$own"; cat "$WORK/outage.log"; return 1; }
  redis-cli -s "$own/redis.sock" SHUTDOWN SAVE >/dev/null 2>&1
  gone() { [ ! -S "$own/redis.sock" ]; }
  wait_for 5 gone || return 1
  sleep 1.5 # the outage itself: Redis away this long
  redis_start "$own" || return 1
  export ZEROG_SPEC_REDIS=$shared
  wait "$pid"; local rc=$?
  local result; result=$(redis-cli -s "$own/redis.sock" HGET "{zq:slow_q}:job:$uuid" resultCode)
  redis_stop "$own"
  [ $rc = 0 ] && [ "$result" = 200 ] || { echo "exit $rc result $result"; cat "$WORK/outage.log"; return 1; }
  grep -q "the store was unreachable for [1-9][0-9.]* s (.*); the calls waited for it and went on" "$WORK/outage.log" ||
    { cat "$WORK/outage.log"; return 1; }
}
ok "a Redis outage shorter than the store timeout: the run waits it out and finishes 200, and the worker says how long the store was gone" short_outage_is_said

acl_user() {
  # a Redis whose default user is off: the store URL's user (redis://user:password@) is who
  # authenticates, for the submit and the worker alike; a wrong password is Redis's refusal
  . spec/support/free_port.sh
  local port dir=$WORK/acl-redis try
  mkdir -p "$dir"
  up() { redis-cli -p "$port" PING 2>/dev/null | grep -q PONG; }
  # (ports 16000..19999: apart from the other tests' and below the ephemeral range; a port taken
  # between the look and the bind is tried again with another)
  for try in 1 2 3; do
    port=$(free_port 16000 19999) || return 1
    rm -f "$dir/redis.pid"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" || return 1
    wait_for 10 up && break
    [ "$try" = 3 ] && { tail -n 5 "$dir/redis.log"; return 1; }
    [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null
  done
  redis-cli -p "$port" ACL SETUSER zg on '>s3cret' '~*' '&*' '+@all' >/dev/null &&
  redis-cli -p "$port" ACL SETUSER default off >/dev/null
  local store="redis://zg:s3cret@127.0.0.1:$port" uuid rc=0
  uuid=$("$ZEROG" --store "$store" submit echo '{"n": 7}' 2>"$WORK/acl.err") &&
  "$ZEROG" --store "$store" worker --until-idle >/dev/null 2>"$WORK/acl-worker.err" &&
  [ "$("$ZEROG" --store "$store" progress "$uuid" 2>/dev/null | json_get d.result /dev/stdin)" = 200 ] || rc=1
  [ $rc = 0 ] || cat "$WORK/acl.err" "$WORK/acl-worker.err"
  expect_status 1 "$ZEROG" --store "redis://zg:wrong@127.0.0.1:$port" submit echo '{"n": 1}' &&
  grep -q "WRONGPASS" "$WORK/err" || { cat "$WORK/err"; rc=1; }
  kill "$(cat "$dir/redis.pid")"
  return $rc
}
ok "a store URL with an ACL user (redis://user:password@, the default user off): submit and worker authenticate as that user; a wrong password is Redis's WRONGPASS" acl_user

bad_numbers() {
  expect_status 2 "$ZEROG" worker --concurrency 0 && expect_status 2 "$ZEROG" worker --max-jobs 0 &&
  expect_status 2 "$ZEROG" worker --log-format yaml
}
ok "worker refuses --concurrency 0, --max-jobs 0 and an unknown --log-format (exit 2)" bad_numbers

tap_done
