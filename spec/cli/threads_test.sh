#!/usr/bin/env bash
# zerog worker --threads T: T runs at once in one process (each thread its own host), alone or
# under a supervisor (--concurrency N --threads T: N processes of T). What a process ending takes
# with it: kill -9 releases every run it held (each recorded as a kill); an overrun that only the
# process's end can stop releases its neighbours first, as a graceful stop does (no error
# counted); SIGTERM lets every thread finish its run; --max-jobs is shared by the threads.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
. spec/cli/serve.sh
write_echo_job
write_slow_job
cat >"$JOBS/backtrack.lua" <<'LUA'
return { JOB_TYPE = "backtrack", QUEUE_NAME = "slow_q", TIMEOUT = 0.3, MAX_ERRORS = 1,
  run = function() string.find(string.rep("a", 40), string.rep("a*", 40) .. "b") return 200 end }
LUA
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; stop_serve; rm -rf "$WORK"' EXIT
result() { hget "$1" resultCode; }
submit() { "$ZEROG" submit "$@" 2>/dev/null; }
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
# wait_exit SECONDS PID: PID's exit status once it ends; one still running after SECONDS is
# killed (kill -9) and the status is 124, so a worker that does not stop fails its test, not the suite
wait_exit() {
  ended() { ! alive "$1"; }
  wait_for "$1" ended "$2" || { kill -9 "$2"; wait "$2"; return 124; }
  wait "$2"
}
# running N UUID...: exactly N of them run now
running() {
  local want=$1 n=0 u; shift
  for u in "$@"; do [ "$(hget "$u" running)" = true ] && n=$((n + 1)); done
  [ "$n" = "$want" ]
}
all_200() { local u; for u in "$@"; do [ "$(result "$u")" = 200 ] || return 1; done; }
events_of() { "$ZEROG" info "$1" 2>/dev/null; }

flush
four_at_once_in_one_process() {
  local uuids=() u
  for _ in 1 2 3 4; do uuids+=("$(submit slow '{"seconds": 2}')"); done
  "$ZEROG" worker --threads 4 --queue slow_q --until-idle >"$WORK/w.log" 2>&1 & local pid=$!; PIDS+=($pid)
  wait_for 10 running 4 "${uuids[@]}" || { cat "$WORK/w.log"; return 1; }
  # one process (its threads), no supervisor's children
  [ -z "$(pgrep -P "$pid")" ] || { echo "children: $(pgrep -P "$pid")"; return 1; }
  wait_exit 20 "$pid" || { echo "exit $?"; cat "$WORK/w.log"; return 1; }
  all_200 "${uuids[@]}"
}
ok "worker --threads 4: four runs at once in one process, all finish 200, --until-idle exits 0" four_at_once_in_one_process

until_idle_exactly_once() {
  flush
  local uuids=() u
  for i in $(seq 60); do uuids+=("$(submit echo "{\"n\": $i}")"); done
  expect_status 0 timeout 30 "$ZEROG" worker --threads 8 --until-idle || return 1
  all_200 "${uuids[@]}" || return 1
  for i in $(seq 60); do [ "$(grep -c "echo $i\$" "$WORK/err")" = 1 ] || { echo "echo $i ran $(grep -c "echo $i\$" "$WORK/err") times"; return 1; }; done
  for u in "${uuids[@]}"; do [ "$(hget "$u" errorCount)" = 0 ] || return 1; done
}
ok "worker --threads 8 --until-idle: 60 jobs, each run exactly once, none with an error" until_idle_exactly_once

max_jobs_shared_by_threads() {
  flush
  local uuids=() u ran=0
  for _ in $(seq 9); do uuids+=("$(submit echo '{"n": 1}')"); done
  expect_status 0 timeout 20 "$ZEROG" worker --threads 4 --max-jobs 5 || return 1
  for u in "${uuids[@]}"; do [ "$(result "$u")" = 200 ] && ran=$((ran + 1)); done
  [ "$ran" = 5 ] || { echo "ran $ran"; return 1; }
  # the jobs not run wait, unclaimed (a job claimed with a settle went back)
  "$ZEROG" stats 2>/dev/null | grep -q '"zerog_jobs":{"ready":4,"delayed":0,"reserved":0' ||
    { "$ZEROG" stats; return 1; }
}
ok "worker --threads 4 --max-jobs 5 stops after 5 runs in all; the other 4 wait" max_jobs_shared_by_threads

sigterm_all_threads_finish() {
  flush
  local a b
  a=$(submit slow '{"seconds": 1.5}') && b=$(submit slow '{"seconds": 1.5}') || return 1
  "$ZEROG" worker --threads 2 --queue slow_q >"$WORK/w.log" 2>&1 & local pid=$!; PIDS+=($pid)
  wait_for 10 running 2 "$a" "$b" || return 1
  kill -TERM "$pid"; wait_exit 20 "$pid"; local rc=$?
  [ $rc = 0 ] && all_200 "$a" "$b" || { echo "exit $rc, results $(result "$a") $(result "$b")"; return 1; }
  [ "$(hget "$a" errorCount)" = 0 ] && [ "$(hget "$b" errorCount)" = 0 ]
}
ok "worker --threads 2: SIGTERM lets both runs finish 200 and exits 0" sigterm_all_threads_finish

kill9_releases_every_run_of_the_process() {
  flush
  "$ZEROG" worker --concurrency 2 --threads 2 --queue slow_q >"$WORK/sup.log" 2>&1 & local sup=$!; PIDS+=($sup)
  local uuids=() u
  for _ in 1 2 3 4; do uuids+=("$(submit slow '{"seconds": 3}')"); done
  wait_for 10 running 4 "${uuids[@]}" || { cat "$WORK/sup.log"; return 1; }
  local victim; victim=$(pgrep -P "$sup" | head -1)
  [ -n "$victim" ] || return 1
  kill -9 "$victim"
  released() { [ "$(grep -c "(pid $victim) died (signal 9) running job .*: released" "$WORK/sup.log")" = 2 ]; }
  wait_for 10 released || { cat "$WORK/sup.log"; return 1; }
  wait_for 20 all_200 "${uuids[@]}" || { cat "$WORK/sup.log"; return 1; }
  # the two of the killed process record the kill; the other two ran once, cleanly
  local killed=0 clean=0
  for u in "${uuids[@]}"; do
    case "$(hget "$u" errorCount)" in
      1) events_of "$u" | grep -q 'Killed - Restarting' && killed=$((killed + 1)) ;;
      0) clean=$((clean + 1)) ;;
    esac
  done
  [ "$killed" = 2 ] && [ "$clean" = 2 ] || { echo "killed $killed clean $clean"; return 1; }
  [ "$(pgrep -P "$sup" | wc -l)" = 2 ] || return 1 # replaced
  kill -TERM "$sup" && wait_exit 20 "$sup"
}
ok "worker --concurrency 2 --threads 2: kill -9 of one process releases both its runs (each a kill), the others are untouched" kill9_releases_every_run_of_the_process

overrun_releases_neighbours_gracefully() {
  flush
  "$ZEROG" worker --threads 2 --queue slow_q >"$WORK/w.log" 2>&1 & local pid=$!; PIDS+=($pid)
  local slow; slow=$(submit slow '{"seconds": 4}')
  wait_for 10 running 1 "$slow" || return 1
  local stuck; stuck=$(submit backtrack '{}')
  wait_exit 20 "$pid"; local rc=$?
  [ $rc = 4 ] || { echo "exit $rc"; cat "$WORK/w.log"; return 1; }
  grep -q "job $slow: released for another host (this process is ending)" "$WORK/w.log" || { cat "$WORK/w.log"; return 1; }
  # the neighbour waits again, with the graceful event and no error; the stuck one timed out
  [ "$(hget "$slow" running)" = false ] && [ "$(hget "$slow" errorCount)" = 0 ] &&
  events_of "$slow" | grep -q 'Released - host stopping' || { events_of "$slow"; return 1; }
  "$ZEROG" worker --threads 2 --queue slow_q --until-idle >"$WORK/w2.log" 2>&1 || { cat "$WORK/w2.log"; return 1; }
  [ "$(result "$slow")" = 200 ] && [ "$(hget "$slow" errorCount)" = 0 ] &&
  [ "$(result "$stuck")" = 500 ] || { echo "slow $(result "$slow") stuck $(result "$stuck")"; return 1; }
}
ok "worker --threads 2: a run the watchdog must end the process for releases its neighbour first (no error counted), exit 4" overrun_releases_neighbours_gracefully

serve_threads_in_workers() {
  flush
  SERVE_WORKERS=1 start_serve --threads 2 || return 1
  local a b
  a=$(submit slow '{"seconds": 2}') && b=$(submit slow '{"seconds": 2}') || return 1
  wait_for 10 running 2 "$a" "$b" || return 1
  http GET /workers && status_is 200 && [ "$(body_get '#d')" = 1 ] && [ "$(body_get 'd[1].threads')" = 2 ] &&
  [ "$(body_get '#d[1].jobs')" = 2 ] && [ "$(body_get 'd[1].state')" = running ] || { cat "$WORK/body"; return 1; }
  wait_for 15 all_200 "$a" "$b" && stop_serve
}
ok "serve --workers 1 --threads 2: GET /workers shows both runs of the one process" serve_threads_in_workers

reload_said_once_every_thread_has_it() {
  flush
  printf 'return { JOB_TYPE = "ver", QUEUE_NAME = "ver_q", run = function() require("zerog").sleep(0.5) return 201 end }\n' >"$JOBS/ver.lua"
  "$ZEROG" worker --threads 4 --queue ver_q >"$WORK/wr.log" 2>&1 & local pid=$!; PIDS+=($pid)
  local first; first=$(submit ver '{}')
  wait_for 10 all_201 "$first" || { cat "$WORK/wr.log"; return 1; }
  printf 'return { JOB_TYPE = "ver", QUEUE_NAME = "ver_q", run = function() require("zerog").sleep(0.5) return 202 end }\n' >"$JOBS/ver.lua.tmp"
  mv "$JOBS/ver.lua.tmp" "$JOBS/ver.lua"
  reloaded() { grep -q "job scripts reloaded" "$WORK/wr.log"; }
  wait_for 10 reloaded || { cat "$WORK/wr.log"; return 1; }
  # four at once: every thread takes one, and each runs the new script
  local uuids=() u
  for _ in 1 2 3 4; do uuids+=("$(submit ver '{}')"); done
  wait_for 10 all_done "${uuids[@]}" || { cat "$WORK/wr.log"; return 1; }
  kill -TERM "$pid"; wait_exit 20 "$pid"
  rm -f "$JOBS/ver.lua"
  for u in "${uuids[@]}"; do [ "$(result "$u")" = 202 ] || { echo "$u: $(result "$u")"; return 1; }; done
  [ "$(grep -c "job scripts reloaded" "$WORK/wr.log")" = 1 ] || { cat "$WORK/wr.log"; return 1; }
}
all_201() { [ "$(result "$1")" = 201 ]; }
all_done() { local u; for u in "$@"; do [ "$(result "$u")" != -1 ] && [ -n "$(result "$u")" ] || return 1; done; }
ok "worker --threads 4: 'job scripts reloaded' is said once, when every thread has reloaded (jobs after it all run the new script)" reload_said_once_every_thread_has_it

drain_waits_for_every_thread() {
  flush
  SERVE_WORKERS=1 start_serve --threads 4 || return 1
  local round uuid slow=() u
  # three threads run a slow job (the first thread, most likely, among them): the drain must still
  # wait for the fourth, which is waiting for a message; twice, as which threads run is chance
  for round in 1 2; do
    slow=()
    for _ in 1 2 3; do slow+=("$(submit slow '{"seconds": 1.5}')"); done
    wait_for 10 running 3 "${slow[@]}" || return 1
    http POST /drain && status_is 200 || return 1
    uuid=$(submit echo '{"n": 1}') || return 1
    sleep 0.3 # a window in which a thread still waiting for a message would have run it
    [ "$(result "$uuid")" = -1 ] && [ "$(hget "$uuid" running)" != true ] || { echo "round $round: job ran while drained"; return 1; }
    http POST /undrain && status_is 200 || return 1
    wait_for 10 all_200 "$uuid" "${slow[@]}" || { echo "round $round: did not run after undrain"; return 1; }
  done
  stop_serve
}
ok "serve --workers 1 --threads 4: POST /drain while three threads run answers only once the fourth waits for no message (a job submitted after it stays queued)" drain_waits_for_every_thread

# A quiet job type (its runs write no log line): a worker's only line per job is the one after
# each settle, when that thread holds the job its settle claimed for its next run (prefetch). In
# a folder of its own: a worker of one queue claims the next job with every settle (of several,
# only within a moment of a claim that looked at all of them).
mkdir -p "$WORK/quiet"
cat >"$WORK/quiet/quiet.lua" <<'LUA'
return { JOB_TYPE = "quiet", QUEUE_NAME = "quiet_q", run = function() return 200 end }
LUA
# threads_gone PID: every thread of PID has exited (a zombie left for its parent to reap)
threads_gone() {
  local t
  for t in /proc/"$1"/task/*/stat; do
    case "$(sed 's/.*) //' "$t" 2>/dev/null | cut -d' ' -f1)" in Z | X | '') ;; *) return 1 ;; esac
  done
}
# pipe_writers N PID...: at least N threads of those processes wait to write to a full pipe
pipe_writers() {
  local want=$1 n=0 p t; shift
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      case "$(cat "$t/wchan" 2>/dev/null)" in *pipe_write) n=$((n + 1)) ;; esac
    done
  done
  [ "$n" -ge "$want" ]
}
reserved_is() { "$ZEROG" stats --queue quiet_q 2>/dev/null | grep -q "\"reserved\":$1,"; }
kill9_puts_back_the_jobs_held_for_next_runs() {
  flush
  local n
  for n in $(seq 3000); do echo '{}'; done | ZEROG_JOBS=$WORK/quiet submit quiet --batch - >/dev/null || return 1
  # stderr is a pipe nobody reads (this shell holds it open): once it is full, a thread that
  # writes to it waits there holding stderr's lock, and every other thread of its process stops
  # at the line after its next settle, holding the job that settle claimed for its next run
  mkfifo "$WORK/err.fifo" && exec 7<>"$WORK/err.fifo"
  ZEROG_JOBS=$WORK/quiet "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 2 --threads 2 >/dev/null 2>"$WORK/err.fifo" &
  local srv=$!; PIDS+=($srv)
  local kids=()
  two_workers() { kids=($(pgrep -P "$srv")) && [ "${#kids[@]}" = 2 ]; }
  # stuck: each process has a thread waiting on the pipe, no run is in progress (the
  # supervisor's view) and four jobs are reserved: every thread holds one for its next run
  stuck() {
    pipe_writers 1 "${kids[0]}" && pipe_writers 1 "${kids[1]}" && http GET /workers &&
    [ "$(body_get '#d[1].jobs + #d[2].jobs')" = 0 ] && reserved_is 4
  }
  unstick() { cat "$WORK/err.fifo" >"$WORK/serve.log" & exec 7>&-; }
  # (a failure ends this serve: the next test listens on the same port)
  give_up() { "$ZEROG" stats; unstick; kill -TERM "$srv"; wait "$srv"; return 1; }
  wait_for 10 two_workers && wait_for 20 stuck || { cat "$WORK/body"; give_up; return 1; }
  kill -9 "${kids[0]}"
  # the supervisor puts the two jobs the victim held back at once (not after their TTR), before
  # it writes a line about them
  wait_for 10 reserved_is 2 || { give_up; return 1; }
  unstick
  wait_for 30 reserved_is 0 && wait_for 30 eval '"$ZEROG" stats --queue quiet_q 2>/dev/null | grep -q "\"ready\":0,"' ||
    { "$ZEROG" stats; kill -TERM "$srv"; wait "$srv"; return 1; }
  kill -TERM "$srv"; wait "$srv"
  grep -q "had claimed job .* for its next run: put back, no error counted" "$WORK/serve.log" || { cat "$WORK/serve.log"; return 1; }
  # no job ran in the victim when it died: none counts an error, every one finished 200
  local bad
  bad=$(reval "local n = 0 for _, k in ipairs(redis.call('KEYS', '{zq:quiet_q}:job:*')) do
    if redis.call('TYPE', k).ok == 'hash' and (redis.call('HGET', k, 'resultCode') ~= '200' or
      redis.call('HGET', k, 'errorCount') ~= '0') then n = n + 1 end end return n")
  [ "$bad" = 0 ] || { echo "$bad jobs not 200 with no error"; return 1; }
}
ok "serve --workers 2 --threads 2: kill -9 of a worker puts back at once the jobs its threads' settles claimed for their next runs (no error counted, no TTR wait)" kill9_puts_back_the_jobs_held_for_next_runs

# A worker killed while a claim of its was on the way: Redis gave a thread a job (a settle's
# claim of the next one, or a claim) and the worker died before it said so. Reproduced by
# stopping the supervisor (SIGSTOP): the worker's report pipe fills, and each thread stops at its
# next report -- after a settle that claimed, or a claim, that it has not reported yet ("end",
# "ahead"), or, about one time in three, at a "begin" of a job it did report: then neither
# thread may have a claim on the way, and the round is tried again (at most five rounds; each
# round must leave every job 200 with no error, at once).
kill9_with_a_claim_on_the_way_puts_it_back() {
  flush
  ZEROG_JOBS=$WORK/quiet "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 --threads 2 >/dev/null 2>"$WORK/serve.log" &
  local srv=$!; PIDS+=($srv)
  local kid= old= bad round n
  one_worker() { kid=$(pgrep -P "$srv") && [ -n "$kid" ] && [ "$kid" != "$old" ]; }
  # every job finished 200 (not after a TTR), none with an error
  all_done() {
    bad=$(reval "local n = 0 for _, k in ipairs(redis.call('KEYS', '{zq:quiet_q}:job:*')) do
      if redis.call('TYPE', k).ok == 'hash' and (redis.call('HGET', k, 'resultCode') ~= '200' or
        redis.call('HGET', k, 'errorCount') ~= '0') then n = n + 1 end end return n")
    [ "$bad" = 0 ]
  }
  give_up() { kill -CONT "$srv"; kill -TERM "$srv"; wait "$srv"; cat "$WORK/serve.log"; return 1; }
  for round in 1 2 3 4 5; do
    wait_for 10 one_worker || { give_up; return 1; }
    for n in $(seq 3000); do echo '{}'; done | ZEROG_JOBS=$WORK/quiet submit quiet --batch - >/dev/null || { give_up; return 1; }
    kill -STOP "$srv"
    wait_for 20 pipe_writers 2 "$kid" || { give_up; return 1; }
    kill -9 "$kid"
    # SIGKILL takes effect when each thread next runs: one woken in its blocked write finishes
    # that write if the supervisor, resumed, has read meanwhile (a "begin" after the kill, a run
    # the supervisor must then count). Resumed only once every thread is gone, the supervisor
    # sees what was said before the kill, no more.
    wait_for 10 threads_gone "$kid" || { give_up; return 1; }
    kill -CONT "$srv"
    old=$kid
    wait_for 30 all_done || { echo "round $round: $bad jobs not 200 with no error"; "$ZEROG" stats; give_up; return 1; }
    grep -q "died with a claim on the way for job .*: put back, no error counted" "$WORK/serve.log" && break
  done
  kill -TERM "$srv"; wait "$srv"
  grep -q "died with a claim on the way for job .*: put back, no error counted" "$WORK/serve.log" || { cat "$WORK/serve.log"; return 1; }
}
ok "serve --workers 1 --threads 2: kill -9 of a worker whose threads had claims on the way (the store gave them jobs they had not reported) puts those jobs back at once, no error counted" kill9_with_a_claim_on_the_way_puts_it_back

# The supervisor of a dead worker reads each known queue's claim memos once for all the worker's
# threads (one MGET), not once a thread: with many queues and threads, a GET per queue and
# thread kept the supervisor from replacing the worker (5000 queues, 64 threads: 5.7 s on a
# local socket, a minute at a network's 0.2 ms a round trip).
reads() { rcli_all INFO commandstats | tr -d '\r' | awk -F'[=:,]' '$1 == "cmdstat_get" || $1 == "cmdstat_mget" { n += $3 } END { print n + 0 }'; }
put_back_reads_each_queue_once_for_all_threads() {
  flush
  local i
  for i in $(seq 300); do echo "SADD zerog:queues tenant_q$i"; done | rcli >/dev/null
  local u; u=$(submit echo '{"n": 1}')
  "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 --threads 8 >/dev/null 2>"$WORK/serve.log" &
  local srv=$!; PIDS+=($srv)
  # the job ran: every thread's host is open and said its writer id
  wait_for 10 all_200 "$u" || { kill -TERM "$srv"; wait "$srv"; cat "$WORK/serve.log"; return 1; }
  local kid; kid=$(pgrep -P "$srv")
  rcli_all CONFIG RESETSTAT >/dev/null
  kill -9 "$kid"
  replaced() { grep "started worker w1 (pid" "$WORK/serve.log" | grep -vq "(pid $kid)"; }
  wait_for 10 replaced; local rc=$? n; n=$(reads)
  kill -TERM "$srv"; wait "$srv"
  [ $rc = 0 ] || { cat "$WORK/serve.log"; return 1; }
  # 301 queues: about 301 reads (8 x 301 = 2408 with a read per thread)
  [ "$n" -lt 600 ] || { echo "$n reads for 301 queues and 8 threads"; return 1; }
}
ok "serve --workers 1 --threads 8, 301 known queues: kill -9 of the worker costs the supervisor one read of each queue's claim memos, not one per thread" put_back_reads_each_queue_once_for_all_threads

# Redis stopped (SIGSTOP: a hung machine) when a worker of 8 threads, each running a job, is
# killed: every release and put-back the supervisor tries waits out its store timeout (2 s). It
# gives up at the first that fails (the others would fail alike) instead of trying each in turn:
# the dead worker is replaced, and said so, within a few seconds, not 8 runs and 8 writers times 2 s.
supervisor_outlives_a_hung_store_with_a_dead_worker() {
  flush
  local uuids=() u
  for _ in $(seq 8); do uuids+=("$(submit slow '{"seconds": 20}')"); done
  "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 --threads 8 >/dev/null 2>"$WORK/serve.log" &
  local srv=$!; PIDS+=($srv)
  wait_for 10 running 8 "${uuids[@]}" || { kill -TERM "$srv"; wait "$srv"; cat "$WORK/serve.log"; return 1; }
  local kid; kid=$(pgrep -P "$srv")
  local redis_pid; redis_pid=$(rcli INFO server | tr -d '\r' | awk -F: '/^process_id/ { print $2 }')
  kill -STOP "$redis_pid"
  kill -9 "$kid"
  replaced() { grep "started worker w1 (pid" "$WORK/serve.log" | grep -vq "(pid $kid)"; }
  wait_for 6 replaced; local rc=$?
  kill -CONT "$redis_pid"
  kill -TERM "$srv"; wait "$srv"
  [ $rc = 0 ] || { echo "not replaced within 6 s"; cat "$WORK/serve.log"; return 1; }
  # the log says what was not released or put back: those jobs wait out their TTR
  grep -q "worker w1 (pid $kid) died (signal 9) running job" "$WORK/serve.log" &&
  grep -q "worker w1 (pid $kid): what its last claims took could not be put back" "$WORK/serve.log" ||
    { cat "$WORK/serve.log"; return 1; }
  # a run whose release failed still holds its lease: were its claim put back (the store
  # answering again by then), its kill would go uncounted, as if it had never started
  ! grep "claim on the way for job" "$WORK/serve.log"
}
if [ "${REDIS_URL#redis+cluster://}" != "$REDIS_URL" ]; then
  TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - a hung store and a dead worker # SKIP a stopped master on a cluster is a failover"
else
  ok "serve --workers 1 --threads 8: kill -9 of the worker while Redis hangs (SIGSTOP): the supervisor gives up on the store at its first timeout, replaces the worker within 6 s and says what waits out its TTR" supervisor_outlives_a_hung_store_with_a_dead_worker
fi

bad_threads() {
  expect_status 2 "$ZEROG" worker --threads 0 && expect_status 2 "$ZEROG" worker --threads 65 &&
  expect_status 2 "$ZEROG" serve --threads 0
}
ok "worker and serve refuse --threads 0 and 65 (exit 2)" bad_threads

tap_done
