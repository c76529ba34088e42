#!/usr/bin/env bash
# soak.sh: one round of the chaos soak. A private Redis, a host (`serve` or `worker`), a few
# thousand jobs of the types in spec/chaos/jobs, and random faults mixed while they run (a seeded
# bash RANDOM picks them and their moments); then, once every job has ended, the invariants are
# checked through the command line (check.lua). Not part of `make test`: run it by hand.
#   spec/chaos/soak.sh SEED [MODE] [FAULT_SECONDS] [JOBS]
#   MODE: serve (--workers 2 --threads 4), serve8 (--workers 2 --threads 8),
#         worker (worker --concurrency 2), threads (worker --threads 8, no supervisor)
# FAULT_MIX=store: only Redis's faults (stalls, CLIENT KILL, OOM). ONE_QUEUE=1: every job type on
# one queue (chaos_a), so that an idle host waits and claims in one write (a host on one queue
# of one server does). ZEROG_BIN picks the binary (build/san/zerog for ASan). A seed repeats the
# round's faults, their lengths and moments and the jobs' lines (every draw is made in this
# shell, or seeded from it: bash gives each subshell a fresh seed), not the machine's timing. Prints PROBLEM lines and ends with
# "round SEED MODE: ok" or "round SEED MODE: N problems"; the round's folder is kept on a problem.
set -u
cd "$(dirname "$0")/../.." || exit 1
SEED=${1:?usage: soak.sh SEED [MODE] [FAULT_SECONDS] [JOBS]}
MODE=${2:-serve}
FAULT_SECONDS=${3:-25}
NJOBS=${4:-1500}
ZEROG=${ZEROG_BIN:-build/zerog}
RANDOM=$SEED
. spec/support/redis.sh
. spec/support/free_port.sh
D=$(mktemp -d "/tmp/chaos.$SEED.$MODE.XXXX")
redis_start "$D/redis" >/dev/null || exit 1
REDIS_PID=$(cat "$D/redis/redis.pid")
export ZEROG_STORE=$ZEROG_SPEC_REDIS ZEROG_JOBS=$PWD/spec/chaos/jobs
if [ "${ONE_QUEUE:-0}" = 1 ]; then
  mkdir -p "$D/jobs"
  for f in spec/chaos/jobs/*.lua; do
    sed 's/QUEUE_NAME = "chaos_b"/QUEUE_NAME = "chaos_a"/' "$f" >"$D/jobs/${f##*/}"
  done
  ZEROG_JOBS=$D/jobs
fi
PORT=$(free_port 33000 36000)
URL=http://127.0.0.1:$PORT
: >"$D/faults" >"$D/problems" >"$D/uuids"
echo "round seed=$SEED mode=$MODE faults=${FAULT_SECONDS}s jobs=$NJOBS dir=$D"

rcli() { timeout 10 redis-cli -s "$D/redis/redis.sock" "$@"; }
now_ms() { date +%s%3N; }
fault() { echo "$(now_ms) $*" >>"$D/faults"; echo "  [$(date +%T.%3N)] $*"; }
problem() { echo "PROBLEM: $*" | tee -a "$D/problems"; }
# z ARGS: the command, bounded: a call that does not return within 60 s is a hang
z() {
  timeout 60 "$ZEROG" "$@"; local rc=$?
  [ $rc = 124 ] && problem "hang: zerog $* did not return within 60 s"
  return $rc
}
# rand_ms VAR MIN MAX: a draw into VAR, in this shell (a $(...) would draw from a fresh seed)
rand_ms() { printf -v "$1" '%d' $(($2 + RANDOM % ($3 - $2 + 1))); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

HOST_PID=
start_host() {
  local grace=$((RANDOM % 3)) # 0 to 2 s: runs longer than it are released by a SIGTERM
  case $MODE in
    serve) "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 2 --threads 4 --grace "$grace" >>"$D/host.log" 2>&1 & ;;
    serve8) "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 2 --threads 8 --grace "$grace" >>"$D/host.log" 2>&1 & ;;
    worker) "$ZEROG" worker --concurrency 2 >>"$D/host.log" 2>&1 & ;;
    threads) "$ZEROG" worker --threads 8 >>"$D/host.log" 2>&1 & ;;
  esac
  HOST_PID=$!
  echo "$HOST_PID" >>"$D/host_pids"
  local i
  for i in $(seq 100); do
    case $MODE in
      serve*) curl -s -m 1 -o /dev/null "$URL/health" && return 0 ;;
      threads) return 0 ;;
      *) [ -n "$(pgrep -P "$HOST_PID")" ] && return 0 ;;
    esac
    sleep 0.1
  done
  problem "the host ($MODE) did not come up within 10 s"
}
supervised() { [ "$MODE" != threads ]; }
# a worker process of the host (the host itself without a supervisor)
pick_worker() {
  if ! supervised; then echo "$HOST_PID"; return; fi
  local ws; mapfile -t ws < <(pgrep -P "$HOST_PID")
  [ ${#ws[@]} -gt 0 ] && echo "${ws[RANDOM % ${#ws[@]}]}"
}
wait_gone() { # wait_gone SECONDS PID...: every PID ended within SECONDS
  local limit=$(($1 * 10)) p alive; shift
  for _ in $(seq "$limit"); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  return 1
}

f_kill_worker() {
  local w; w=$(pick_worker); [ -n "$w" ] || return
  if supervised; then
    fault kill9_worker "$w"; kill -9 "$w"
  else
    fault kill9_unsupervised "$w"; kill -9 "$w"; wait "$w" 2>/dev/null; start_host
  fi
}
f_kill_host() {
  supervised || { f_kill_worker; return; }
  local ws; mapfile -t ws < <(pgrep -P "$HOST_PID")
  fault kill9_host "$HOST_PID" "workers ${ws[*]}"
  kill -9 "$HOST_PID"; wait "$HOST_PID" 2>/dev/null
  [ ${#ws[@]} -eq 0 ] || wait_gone 5 "${ws[@]}" ||
    problem "orphaned worker after kill -9 of the host: $(ps -o pid,args -p "${ws[*]}" | tail -n +2)"
  start_host
}
f_stop_worker() {
  local w s; w=$(pick_worker); [ -n "$w" ] || return
  RANDOM=$FAULT_SEED
  rand_ms s 2500 4500
  fault sigstop_worker "$w" "$s"; kill -STOP "$w"; sleep_ms "$s"; kill -CONT "$w"; fault sigcont_worker "$w"
}
f_stop_redis() {
  local s t0 t1 code
  RANDOM=$FAULT_SEED
  rand_ms s 500 5000
  fault sigstop_redis "$s"; kill -STOP "$REDIS_PID"; t0=$(now_ms)
  if [ "${MODE#serve}" != "$MODE" ] && [ "$s" -gt 1500 ]; then
    sleep 0.3
    code=$(curl -s -m 5 -o "$D/health.body" -w '%{http_code}' "$URL/health"); t1=$(now_ms)
    echo "    /health in the stall: $code in $((t1 - t0 - 300)) ms"
    [ $((t1 - t0 - 300)) -le 1200 ] || problem "/health took $((t1 - t0 - 300)) ms in a Redis stall (code $code)"
    [ "$code" = 503 ] || [ "$code" = 200 ] || problem "/health answered $code in a Redis stall"
  fi
  t1=$(now_ms); [ $((t0 + s - t1)) -gt 0 ] && sleep_ms $((t0 + s - t1))
  kill -CONT "$REDIS_PID"; fault sigcont_redis
}
f_client_kill() { fault client_kill "$(rcli CLIENT KILL TYPE normal)"; }
f_oom() {
  local s
  RANDOM=$FAULT_SEED
  rand_ms s 200 1500
  fault oom_on "$s"; rcli CONFIG SET maxmemory 1 >/dev/null; sleep_ms "$s"
  rcli CONFIG SET maxmemory 0 >/dev/null; fault oom_off
}
f_term_host() {
  local t0 rc ws=(); t0=$(now_ms)
  supervised && mapfile -t ws < <(pgrep -P "$HOST_PID")
  fault sigterm_host "$HOST_PID"; kill -TERM "$HOST_PID"
  if ! wait_gone 20 "$HOST_PID"; then
    problem "the host did not end within 20 s of SIGTERM (grace at most 2 s)"; kill -9 "$HOST_PID"
  fi
  wait "$HOST_PID"; rc=$?
  fault host_ended "rc=$rc after $(($(now_ms) - t0)) ms"
  [ $rc = 0 ] || problem "the host exited $rc after SIGTERM"
  [ ${#ws[@]} -eq 0 ] || wait_gone 5 "${ws[@]}" ||
    problem "a worker outlived its host's SIGTERM: $(ps -o pid,args -p "${ws[*]}" | tail -n +2)"
  start_host
}
FAULTS=(f_kill_worker f_kill_host f_stop_worker f_stop_redis f_client_kill f_oom f_term_host)
# FAULT_MIX=store: only the store's faults, so that any run found dead (a kill or a lapse
# recorded) is a defect: nothing killed or stopped a host
[ "${FAULT_MIX:-all}" = store ] && FAULTS=(f_stop_redis f_client_kill f_oom f_stop_redis)
# the faults that change no state of this shell may run in the background, overlapping the next
OVERLAPPING=" f_stop_worker f_stop_redis f_client_kill f_oom "

# submit TYPE N MAKE_LINE [OPTIONS]: a batch from the command line, uuids kept
submit_batch() {
  local type=$1 n=$2 make=$3 i; shift 3
  for i in $(seq "$n"); do $make "$i"; done >"$D/batch.$type"
  z submit "$type" --batch "$D/batch.$type" "$@" >>"$D/uuids" 2>>"$D/submit.err"
}
line_empty() { echo '{}'; }
line_steady() { local s; rand_ms s 200 2000; echo "{\"seconds\": ${s}e-3}"; }
line_flaky() { local s; rand_ms s 50 500; echo "{\"seconds\": ${s}e-3, \"p\": 0.3}"; }
line_short() { local s; rand_ms s 500 1500; echo "{\"seconds\": ${s}e-3}"; }
submit_http() { # while serving: a few jobs over HTTP
  local type=$1 body=$2 out
  out=$(curl -s -m 10 -w ' %{http_code}' -X POST --data "$body" "$URL/job/$type")
  case $out in
    *'"uuid":"'*) lua5.4 -e 'print((io.read("a"):match([["uuid":"([%x-]+)"]])))' <<<"$out" >>"$D/uuids" ;;
    *) echo "$(now_ms) $type $out" >>"$D/http_failed" ;;
  esac
}

start_host
# the jobs that take a while, in proportion to the runs at once (8 with serve's 2 x 4 threads)
case $MODE in serve8) slots=16 ;; worker) slots=2 ;; *) slots=8 ;; esac
n_quick=$((NJOBS * 60 / 100)) n_steady=$((NJOBS * 10 / 100 * slots / 8)) n_flaky=$((NJOBS * 12 / 100))
n_short=$((NJOBS * 8 / 100 * slots / 8))
submit_batch quick "$n_quick" line_empty
submit_batch steady "$n_steady" line_steady
submit_batch flaky "$n_flaky" line_flaky
submit_batch shortttr "$n_short" line_short
submit_batch tinyttr $((n_short / 2)) line_short
for d in 1 3 5; do submit_batch quick $((NJOBS * 3 / 100)) line_empty --delay "$d"; done
echo "  submitted $(wc -l <"$D/uuids") jobs"

# The faults, one at a time at random moments, with more jobs submitted between them.
end=$(($(now_ms) + FAULT_SECONDS * 1000))
FAULT_PIDS=()
while [ "$(now_ms)" -lt "$end" ]; do
  rand_ms pause 200 2500
  sleep_ms "$pause"
  f=${FAULTS[RANDOM % ${#FAULTS[@]}]}
  FAULT_SEED=$RANDOM # (a fault's own draws start from it: reproducible in the background too)
  if [ "${OVERLAPPING/ $f /}" != "$OVERLAPPING" ] && [ $((RANDOM % 2)) = 0 ]; then
    $f &
    FAULT_PIDS+=($!)
  else
    $f
  fi
  case $((RANDOM % 4)) in
    0) submit_batch quick 50 line_empty ;;
    1) submit_batch steady $((slots + 2)) line_steady ;;
    2) if [ "${MODE#serve}" != "$MODE" ]; then
         for _ in 1 2 3 4 5; do
           submit_http quick '{}'
           line_flaky >"$D/line"
           submit_http flaky "$(cat "$D/line")"
         done
       fi ;;
  esac
done
[ ${#FAULT_PIDS[@]} = 0 ] || wait "${FAULT_PIDS[@]}" # the faults still under way end by themselves
kill -CONT "$REDIS_PID" 2>/dev/null
rcli CONFIG SET maxmemory 0 >/dev/null
kill -0 "$HOST_PID" 2>/dev/null || start_host
fault faults_end
echo "  submitted $(sort -u "$D/uuids" | wc -l) jobs in all; waiting for them to end"

# Wait (polling, with a deadline) until no job is waiting, delayed or running.
unfinished() {
  z list --state waiting --state delayed --state running --json --limit 1 >"$D/unfinished" 2>/dev/null || return 0
  [ -s "$D/unfinished" ]
}
deadline=$(($(now_ms) + 180000))
while unfinished; do
  if [ "$(now_ms)" -gt "$deadline" ]; then
    problem "jobs still unfinished 180 s after the faults: $(head -c 400 "$D/unfinished")"
    break
  fi
  sleep 0.5
done
echo "  all ended $(( ($(now_ms) - $(tail -1 "$D/faults" | cut -d' ' -f1)) )) ms after the faults"

# Every job the store lists, and every uuid a submit answered
cursor=
while :; do
  z list --json --limit 1000 ${cursor:+--cursor "$cursor"} >"$D/page" || { problem "zerog list failed"; break; }
  grep -o '"uuid":"[^"]*"' "$D/page" | cut -d'"' -f4 >>"$D/listed"
  cursor=$(grep -o '^{"next":"[^"]*"' "$D/page" | cut -d'"' -f4)
  [ -n "$cursor" ] || break
done
sort -u "$D/uuids" >"$D/uuids.sorted"; sort -u "$D/listed" >"$D/listed.sorted"
comm -23 "$D/uuids.sorted" "$D/listed.sorted" >"$D/missing"
[ -s "$D/missing" ] && problem "$(wc -l <"$D/missing") submitted jobs not listed, e.g. $(head -3 "$D/missing" | tr '\n' ' ')"
sort -u "$D/uuids.sorted" "$D/listed.sorted" >"$D/all"
# jobs no submit answered with: made by a submit that failed as far as its client knows
comm -13 "$D/uuids.sorted" "$D/listed.sorted" >"$D/unanswered"
echo "  jobs stored that no submit answered with: $(wc -l <"$D/unanswered");" \
  "HTTP submits that failed: $(cat "$D/http_failed" 2>/dev/null | wc -l);" \
  "command-line batches that failed: $(cat "$D/submit.err" 2>/dev/null | grep -c .)"
: >"$D/dumps"
while read -r u; do
  if ! z dump "$u" >>"$D/dumps" 2>>"$D/dump.err"; then echo "{\"uuid\":\"$u\",\"_missing\":true}" >>"$D/dumps"; fi
  echo >>"$D/dumps"
done <"$D/all"
z stats >"$D/stats" || problem "zerog stats failed"
z buried >"$D/buried" || problem "zerog buried failed"
[ -s "$D/buried" ] && problem "buried jobs: $(head -c 300 "$D/buried")"
for q in chaos_a chaos_b; do
  lua5.4 -e "local s = io.read('a'); local q = s:match('\"$q\":(%b{})') or ''
    for k, v in q:gmatch('\"(%w+)\":(%d+)') do if k ~= 'unclaimed' and v ~= '0' then print(k .. '=' .. v) end end" \
    <"$D/stats" | while read -r kv; do problem "stats of $q after the end: $kv"; done
done
lua5.4 spec/chaos/check.lua "$D/faults" "$D/dumps" "$MODE" >"$D/check.out"
cat "$D/check.out"
grep '^PROBLEM' "$D/check.out" >>"$D/problems"
grep -ci 'AddressSanitizer\|runtime error:' "$D/host.log" >/dev/null && problem "sanitizer report in the host's log"

# Stop the host gracefully, then Redis
kill -TERM "$HOST_PID" 2>/dev/null
wait_gone 30 "$HOST_PID" || { problem "the host did not end within 30 s of the final SIGTERM"; kill -9 "$HOST_PID"; }
wait "$HOST_PID"; rc=$?
[ $rc = 0 ] || problem "the host exited $rc after the final SIGTERM"
redis_stop "$D/redis"
np=$(wc -l <"$D/problems")
if [ "$np" = 0 ]; then
  echo "round $SEED $MODE: ok"
  rm -rf "$D"
else
  echo "round $SEED $MODE: $np problems (kept $D)"
  exit 1
fi
