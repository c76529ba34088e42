#!/usr/bin/env bash
# make valgrind: the C tests (spec/c, on mem:// and on a private Redis) and `zerog run` of every
# example job (jobs/*.lua) under valgrind's memcheck, on the build without sanitizers. Any memory
# error, any leak ("definitely" or "possibly" lost: the library's threads are joined when a host
# is freed, so nothing of theirs is left to be "possibly" lost) or a failing test fails it.
# Prints one line per program (in the order below), the valgrind report of any that failed, and
# exits 1 if one did. The programs run in VALGRIND_LANES lanes at once (2: memcheck is slow, and
# some tests mostly wait on time), each lane with a private redis-server of its own, each lane
# taking the next program not yet taken. VALGRIND_SKIP names programs left out (default
# "test_limits test_schedule": their checks are of time (TIMEOUT and CPU limits, cron clocks) and
# they took 170 of the lane's 400 s under memcheck; the sanitizers' suite runs them); set it empty
# to run every one.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
LANES=${VALGRIND_LANES:-2}
[ "$LANES" -ge 1 ] 2>/dev/null || { echo "VALGRIND_LANES must be a number >= 1"; exit 2; }
. spec/support/redis.sh
dir=$(mktemp -d)
trap 'for ((l = 0; l < LANES; l++)); do redis_stop "$dir/redis$l"; done; rm -rf "$dir"' EXIT
urls=()
for ((l = 0; l < LANES; l++)); do
  redis_start "$dir/redis$l" || exit 1
  urls+=("$ZEROG_SPEC_REDIS")
done
export ZEROG_UNDER_VALGRIND=1 # (spec/c/test_redis_conn.c: a count of context switches)
VALGRIND=(valgrind --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=99
          --track-fds=no -q)

# the programs: names[k] and the command cmds[k] (words quoted with printf %q)
names=() cmds=()
program() { names+=("$1"); shift; cmds+=("$(printf '%q ' "$@")"); }
SKIP=" ${VALGRIND_SKIP-test_limits test_schedule} "
for t in "$BUILD"/spec/test_*; do
  [ -x "$t" ] || continue
  if [ "${SKIP/ $(basename "$t") /}" != "$SKIP" ]; then
    printf 'valgrind %-40s skipped (VALGRIND_SKIP)\n' "$(basename "$t")"
    continue
  fi
  program "$(basename "$t")" "$t"
done
# each example with small params (they are meant to be watched: waste_time's default is 30 s)
declare -A params=([waste_time]='{"delay": 1}' [fibonacci]='{"n": 40}' [flaky]='{"failures": 2}')
for job in jobs/*.lua; do
  name=$(basename "$job" .lua)
  program "zerog run $job" "$BUILD/zerog" run --no-wait "$job" "${params[$name]:-{\}}"
done

# check K: runs program K under valgrind into $dir/report.K; a failure (its errors or its exit
# code) also leaves $dir/failed.K
check() {
  local k=$1 start=$SECONDS
  eval "$(printf '%q ' "${VALGRIND[@]}") ${cmds[k]}" >"$dir/out.$k" 2>&1
  local rc=$?
  if [ "$rc" -eq 0 ]; then
    printf 'valgrind %-40s clean (%d s)\n' "${names[k]}" $((SECONDS - start))
  else
    : >"$dir/failed.$k"
    printf 'valgrind %-40s FAILED (exit %d) ----\n' "${names[k]}" "$rc"
    grep -v '^ok ' "$dir/out.$k" | tail -80
    echo "----"
  fi >"$dir/report.$k"
}
# lane L: takes each program no other lane has taken (mkdir is atomic), against its own Redis
lane() {
  local k
  export ZEROG_SPEC_REDIS=${urls[$1]}
  for k in "${!names[@]}"; do
    mkdir "$dir/taken.$k" 2>/dev/null && check "$k"
  done
}
for ((l = 0; l < LANES; l++)); do lane "$l" & done
wait
failed=0
for k in "${!names[@]}"; do
  if [ -e "$dir/report.$k" ]; then
    cat "$dir/report.$k"
  else # (a lane that died before it could run or report it)
    printf 'valgrind %-40s NOT RUN ----\n' "${names[k]}"
    failed=1
  fi
  [ -e "$dir/failed.$k" ] && failed=1
done
exit $failed
