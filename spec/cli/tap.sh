# tap.sh: a few helpers for command tests written in bash, speaking TAP. Source it.
ZEROG=${ZEROG_BIN:-build/zerog}
TAP_N=0
TAP_FAILED=0
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# skewed OFFSET COMMAND...: COMMAND with the host's wall clock OFFSET off ("+2h", "-2h"), by
# faketime's preloaded library (the monotonic clock left alone; a sanitizer build is told not to
# insist on its runtime coming first in the library list, and runs as zerog-shared-rt, its twin
# with the sanitizer runtimes shared: linked statically they deadlock under the preload, Makefile)
skewed() {
  local offset=$1 arg args=(); shift
  for arg in "$@"; do
    [ "$arg" = "$ZEROG" ] && [ -x "$ZEROG-shared-rt" ] && arg=$ZEROG-shared-rt
    args+=("$arg")
  done
  env FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    faketime -f "$offset" "${args[@]}"
}

# ok NAME COMMAND...: one test; passes when COMMAND exits 0. It runs in this shell (not a
# subshell), so a test may start a background process that a later one waits for.
ok() {
  local name=$1; shift
  TAP_N=$((TAP_N + 1))
  if "$@" >"$WORK/ok.out" 2>&1; then
    echo "ok $TAP_N - $name"
  else
    echo "not ok $TAP_N - $name"
    sed 's/^/# /' "$WORK/ok.out"
    TAP_FAILED=$((TAP_FAILED + 1))
  fi
}

# expect_status WANT COMMAND...: runs COMMAND with stdout in $WORK/out and stderr in $WORK/err.
expect_status() {
  local want=$1; shift
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    echo "exit status $got, expected $want"; echo "stdout:"; cat "$WORK/out"; echo "stderr:"; cat "$WORK/err"
    return 1
  fi
}

# json_get EXPR FILE: evaluates a Lua expression over the JSON document d read from FILE.
json_get() { lua5.4 spec/cli/json_get.lua "$1" <"$2"; }

# write_script FILE BODY: writes a job script.
write_script() { printf '%s\n' "$2" >"$WORK/$1"; }

tap_done() {
  echo "1..$TAP_N"
  [ "$TAP_FAILED" -eq 0 ]
}
