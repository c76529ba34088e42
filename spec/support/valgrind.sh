#!/usr/bin/env bash
# make valgrind: the C tests (spec/c, on mem:// and on a private Redis) and `zerog run` of every
# example job (jobs/*.lua) under valgrind's memcheck, on the build without sanitizers. Any memory
# error, any leak ("definitely" or "possibly" lost: the library's threads are joined when a host
# is freed, so nothing of theirs is left to be "possibly" lost) or a failing test fails it.
# Prints one line per program, the valgrind report of any that failed, and exits 1 if one did.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
. spec/support/redis.sh
dir=$(mktemp -d)
trap 'redis_stop "$dir/redis"; rm -rf "$dir"' EXIT
redis_start "$dir/redis" || exit 1
export ZEROG_UNDER_VALGRIND=1 # (spec/c/test_redis_conn.c: a count of context switches)
VALGRIND=(valgrind --fair-sched=yes --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=99
          --track-fds=no -q)
failed=0

# check NAME COMMAND...: runs the command under valgrind; fails on its errors or its exit code
check() {
  local name=$1 start=$SECONDS; shift
  "${VALGRIND[@]}" "$@" >"$dir/out" 2>&1
  local rc=$?
  if [ "$rc" -eq 0 ]; then
    printf 'valgrind %-40s clean (%d s)\n' "$name" $((SECONDS - start))
  else
    failed=1
    printf 'valgrind %-40s FAILED (exit %d) ----\n' "$name" "$rc"
    grep -v '^ok ' "$dir/out" | tail -80
    echo "----"
  fi
}

for t in "$BUILD"/spec/test_*; do
  [ -x "$t" ] && check "$(basename "$t")" "$t"
done
# each example with small params (they are meant to be watched: waste_time's default is 30 s)
declare -A params=([waste_time]='{"delay": 1}' [fibonacci]='{"n": 40}' [flaky]='{"failures": 2}')
for job in jobs/*.lua; do
  name=$(basename "$job" .lua)
  check "zerog run $job" "$BUILD/zerog" run --no-wait "$job" "${params[$name]:-{\}}"
done
exit $failed
