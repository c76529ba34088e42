#!/usr/bin/env bash
# The README's exit-code table, row by row: 0 ok; 1 a job ended without a 2xx result, or the
# store failed or cannot be reached; 2 bad input; 3 an unknown job uuid or job type.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
write_script ok.lua 'return { JOB_TYPE = "ok_job", run = function() return 201 end }'
write_script teapot.lua 'return { JOB_TYPE = "teapot", run = function() return 418 end }'
write_script syntax.lua 'return { JOB_TYPE = "broken", run = function( end }'
UNKNOWN=00000000-0000-4000-8000-000000000000

# one_line_says CODE TEXT COMMAND...: exit CODE with one line on stderr that contains TEXT
one_line_says() {
  local code=$1 text=$2; shift 2
  expect_status "$code" timeout 20 "$@" || return 1
  [ "$(wc -l <"$WORK/err")" = 1 ] && grep -qF -- "$text" "$WORK/err" || { echo "stderr:"; cat "$WORK/err"; return 1; }
}

# ---- 0: success ----
ok "0: run of a job with a 2xx result" expect_status 0 "$ZEROG" run "$WORK/ok.lua"
known() { flush; local u; u=$("$ZEROG" submit echo '{"n": 1}') && expect_status 0 "$ZEROG" progress "$u"; }
ok "0: a read of a stored job" known

# ---- 1: the job failed, or the store did ----
ok "1: run of a job whose result is not 2xx" expect_status 1 "$ZEROG" run "$WORK/teapot.lua"
ok "1: a store that cannot be reached (unix socket missing)" \
  one_line_says 1 "cannot connect to redis" "$ZEROG" --store unix:///nonexistent.sock progress "$UNKNOWN"
ok "1: a store that cannot be reached (TCP port closed)" \
  one_line_says 1 "cannot connect to redis at 127.0.0.1:1" "$ZEROG" --store redis://127.0.0.1:1 submit echo '{"n": 1}'
ok "1: a store that refuses a command (database 999)" \
  one_line_says 1 "DB index is out of range" "$ZEROG" --store "$REDIS_URL?db=999" progress "$UNKNOWN"

# ---- 2: bad input ----
ok "2: no command (the usage)" expect_status 2 "$ZEROG"
ok "2: a command without its operand (run)" expect_status 2 "$ZEROG" run
ok "2: an unknown command" one_line_says 2 "unknown command frobnicate" "$ZEROG" frobnicate
ok "2: a bad option" one_line_says 2 "unknown option --bogus" "$ZEROG" progress "$UNKNOWN" --bogus
ok "2: a bad option value (--ttr 0)" one_line_says 2 "--ttr must be > 0" "$ZEROG" submit echo --ttr 0
ok "2: a missing script file" one_line_says 2 "nope.lua" "$ZEROG" run "$WORK/nope.lua"
ok "2: a missing batch file" one_line_says 2 "cannot read $WORK/nope.txt" "$ZEROG" submit echo --batch "$WORK/nope.txt"
ok "2: a missing jobs folder (--jobs /nonexistent submit)" \
  one_line_says 2 "cannot read the jobs directory /nonexistent" "$ZEROG" --jobs /nonexistent submit echo '{"n": 1}'
ok "2: a script error" one_line_says 2 "syntax.lua:1:" "$ZEROG" run "$WORK/syntax.lua"
ok "2: a script error found by check" expect_status 2 "$ZEROG" check "$WORK/syntax.lua"
ok "2: invalid params" one_line_says 2 "field n is required" "$ZEROG" submit echo '{}'
ok "2: params that are not JSON" one_line_says 2 "not valid JSON" "$ZEROG" submit echo '{"n":'
ok "2: a bad store URL (http://)" one_line_says 2 "bad store URL http://x" "$ZEROG" --store http://x progress "$UNKNOWN"
ok "2: a store URL with a bad port" one_line_says 2 "bad store URL redis://127.0.0.1:99999" \
  "$ZEROG" --store redis://127.0.0.1:99999 progress "$UNKNOWN"
finished() {
  flush
  local u; u=$("$ZEROG" submit echo '{"n": 1}') && "$ZEROG" worker --until-idle 2>/dev/null &&
  one_line_says 2 "already finished with 200" "$ZEROG" kill "$u"
}
ok "2: kill of a finished job" finished

# ---- 3: not found ----
for cmd in progress info data dump kill watch; do
  ok "3: $cmd of an unknown uuid" one_line_says 3 "no job $UNKNOWN" "$ZEROG" "$cmd" "$UNKNOWN"
done
ok "3: submit of an unknown job type" one_line_says 3 "unknown job type nope" "$ZEROG" submit nope '{}'
type_missing() {
  flush
  local u; u=$("$ZEROG" submit echo '{"n": 1}') &&
  one_line_says 3 "needs its job type echo" "$ZEROG" --jobs "$WORK/nope" data "$u"
}
ok "3: data of a job whose type's script is not found" type_missing

tap_done
