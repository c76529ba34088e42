#!/usr/bin/env bash
# Every command as documented: its usage on request without touching a store or a script, a bad
# option named with exit 2, options anywhere on the line, numeric options checked alike, and the
# read-only commands working from a folder without job scripts.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
ZEROG=$(readlink -f "$ZEROG")
JSON_GET=$(readlink -f spec/cli/json_get.lua)
json_get() { lua5.4 "$JSON_GET" "$1" <"$2"; } # from any folder
COMMANDS="run check submit progress info data dump watch kill worker stats serve events version help"
# a store that cannot be reached and a jobs folder that does not exist: help must need neither
NOWHERE=(--store unix:///nonexistent/zerog.sock --jobs /nonexistent/jobs)

# shows_usage CMD ARGS...: exit 0, "usage: zerog CMD" on stdout, nothing on stderr
shows_usage() {
  local cmd=$1; shift
  expect_status 0 timeout 10 "$ZEROG" "${NOWHERE[@]}" "$@" || return 1
  head -1 "$WORK/out" | grep -q "^usage: zerog $cmd" || { echo "stdout:"; cat "$WORK/out"; return 1; }
  [ ! -s "$WORK/err" ] || { echo "stderr:"; cat "$WORK/err"; return 1; }
}
help_every_command() {
  for cmd in $COMMANDS; do
    shows_usage "$cmd" help "$cmd" || { echo "zerog help $cmd"; return 1; }
    shows_usage "$cmd" "$cmd" --help || { echo "zerog $cmd --help"; return 1; }
    shows_usage "$cmd" "$cmd" -h || { echo "zerog $cmd -h"; return 1; }
  done
}
ok "help CMD, CMD --help and CMD -h print that command's usage, exit 0, without store or scripts" help_every_command

help_after_operands() {
  flush
  shows_usage submit submit echo '{"n": 1}' --help && shows_usage run run "$WORK/none.lua" --help &&
  [ "$(rcli DBSIZE)" = 0 ]
}
ok "--help after operands still only prints the usage (submits nothing, runs nothing)" help_after_operands

overview() {
  expect_status 0 "$ZEROG" help || return 1
  for cmd in $COMMANDS; do grep -q "^  $cmd" "$WORK/out" || { echo "missing $cmd"; return 1; }; done
  expect_status 0 "$ZEROG" --help && grep -q "^usage: zerog \[--store URL\]" "$WORK/out"
}
ok "zerog help and zerog --help list every command on stdout" overview

readme_overview() {
  awk '/^## Commands/ { on = 1; next } on && /^```$/ { if (n++) exit; next } on && n' README.md >"$WORK/readme"
  "$ZEROG" help | sed '/^The store is/,$d' >"$WORK/help"
  diff "$WORK/readme" "$WORK/help"
}
ok "the README's command list is what zerog help prints" readme_overview

help_unknown() { expect_status 2 "$ZEROG" help frobnicate && grep -q "unknown command frobnicate" "$WORK/err"; }
ok "help of an unknown command exits 2 naming it" help_unknown

# bad_option CMD ARGS...: `zerog CMD ARGS... --bogus` says exactly which option, exit 2
bad_option() {
  local cmd=$1; shift
  expect_status 2 timeout 10 "$ZEROG" "$cmd" "$@" --bogus || return 1
  [ "$(cat "$WORK/err")" = "zerog: $cmd: unknown option --bogus" ] || { echo "stderr:"; cat "$WORK/err"; return 1; }
}
bad_options() {
  bad_option run "$WORK/none.lua" && bad_option check jobs && bad_option submit echo && bad_option progress x &&
  bad_option info x && bad_option data x && bad_option dump x && bad_option watch x && bad_option kill x &&
  bad_option stats && bad_option events && bad_option version && bad_option help &&
  bad_option worker && bad_option worker --concurrency 2 && bad_option serve --workers 1
}
ok "a bad option names itself (zerog: CMD: unknown option --bogus), exit 2, for every command" bad_options
bad_option_with_value() {
  expect_status 2 "$ZEROG" submit echo --bogus=3 && [ "$(cat "$WORK/err")" = "zerog: submit: unknown option --bogus" ]
}
ok "a bad option given as --name=value names only the option" bad_option_with_value

missing_global() {
  expect_status 2 "$ZEROG" --store && [ "$(cat "$WORK/err")" = "zerog: --store needs a value" ] &&
  expect_status 2 "$ZEROG" progress x --jobs && [ "$(cat "$WORK/err")" = "zerog: --jobs needs a value" ]
}
ok "--store or --jobs without a value says so, exit 2" missing_global

missing_value() {
  expect_status 2 "$ZEROG" submit echo --ttr && [ "$(cat "$WORK/err")" = "zerog: submit: --ttr needs a value" ] &&
  expect_status 2 "$ZEROG" stats --queue --bogus && [ "$(cat "$WORK/err")" = "zerog: stats: --queue needs a value" ]
}
ok "an option without its value says so, exit 2" missing_value

extra_operand() {
  expect_status 2 "$ZEROG" progress a b && grep -q "zerog: progress: unexpected argument b" "$WORK/err" &&
  grep -q "^usage: zerog progress UUID" "$WORK/err"
}
ok "an extra argument is named, with the command's usage line, exit 2" extra_operand

# ---- numeric options ----
# refused CMD OPT VALUE MESSAGE: `zerog CMD ... OPT VALUE` exits 2 with that message, stores nothing
refused() {
  flush
  expect_status 2 "$ZEROG" submit echo '{"n": 1}' "$1" "$2" || return 1
  [ "$(cat "$WORK/err")" = "zerog: submit: $1 $3" ] || { echo "stderr:"; cat "$WORK/err"; return 1; }
  [ "$(rcli DBSIZE)" = 0 ]
}
ok "submit --ttr 0 is refused (must be > 0), not turned into the type's TTR" refused --ttr 0 "must be > 0"
ok "submit --delay -1 is refused (must be >= 0)" refused --delay -1 "must be >= 0"
ok "submit --ttr 5x (trailing junk) is refused" refused --ttr 5x 'takes a number, not "5x"'
ok "submit --delay abc (not a number) is refused" refused --delay abc 'takes a number, not "abc"'
ok "submit --delay nan is refused" refused --delay nan 'takes a number, not "nan"'
ok "submit --priority 1.5 is refused (a whole number)" refused --priority 1.5 'takes a whole number, not "1.5"'
ok "submit --priority -3 is refused (0..4294967295)" refused --priority -3 "must be between 0 and 4294967295"
numbers_as_equals() {
  flush
  expect_status 0 "$ZEROG" submit echo '{"n": 1}' --ttr=7 --delay=0.5 --priority=0 &&
  [ "$(hget "$(cat "$WORK/out")" queueKwargs)" = '{"delay":0.5,"priority":0,"ttr":7}' ]
}
ok "numeric options take --name=value; 0 is a valid priority and delay" numbers_as_equals
# worker and serve parse their own lines (their wording is theirs); the value is refused by name
worker_numbers() {
  expect_status 2 timeout 10 "$ZEROG" worker --max-jobs 0 && grep -q -- "--max-jobs" "$WORK/err" &&
  expect_status 2 timeout 10 "$ZEROG" worker --concurrency 2.5 && grep -q -- "--concurrency" "$WORK/err"
}
ok "worker refuses --max-jobs 0 and --concurrency 2.5, naming the option" worker_numbers
serve_numbers() {
  expect_status 2 timeout 10 "$ZEROG" serve --workers 0 --listen 127.0.0.1:0 && grep -q -- "--workers" "$WORK/err"
}
ok "serve --workers 0 is refused naming the option, not turned into one worker" serve_numbers

# ---- options anywhere ----
anywhere_submit() {
  flush
  expect_status 0 "$ZEROG" submit --delay 60 echo --priority 3 '{"n": 4}' &&
  [ "$(hget "$(cat "$WORK/out")" queueKwargs)" = '{"delay":60,"priority":3,"ttr":60}' ]
}
ok "submit takes its options before, between and after its operands" anywhere_submit
anywhere_stats() {
  flush
  expect_status 0 "$ZEROG" stats --queue a --store "$REDIS_URL" --queue b &&
  [ "$(cat "$WORK/out")" = '{"a":{"ready":0,"delayed":0,"reserved":0,"buried":0,"unclaimed":0},"b":{"ready":0,"delayed":0,"reserved":0,"buried":0,"unclaimed":0}}' ]
}
ok "global options may come after the command's own (stats --queue a --store URL --queue b)" anywhere_stats
double_dash() {
  write_script -x.lua 'return { JOB_TYPE = "dash", run = function() return 200 end }'
  (cd "$WORK" && expect_status 0 "$ZEROG" run -- -x.lua) && [ "$(json_get 'd.result' "$WORK/out")" = 200 ]
}
ok "-- ends the options: a file named -x.lua can be run" double_dash

# ---- read-only commands from a folder without job scripts ----
# bare_dir: into a new empty folder, without ZEROG_JOBS (run it in a subshell)
bare_dir() { local d; d=$(mktemp -d -p "$WORK") && cd "$d" && unset ZEROG_JOBS; }
finished_job() {
  flush
  FINISHED=$("$ZEROG" submit echo '{"n": 6}' 2>/dev/null) && "$ZEROG" worker --until-idle 2>/dev/null
}
read_only_anywhere() {
  finished_job || return 1
  (
    bare_dir || exit 1
    expect_status 0 "$ZEROG" progress "$FINISHED" && [ "$(cat "$WORK/out")" = '{"completeness":1,"result":200}' ] &&
    expect_status 0 "$ZEROG" info "$FINISHED" && [ "$(json_get 'd.events[1].msg' "$WORK/out")" = "echo 6" ] &&
    expect_status 0 "$ZEROG" dump "$FINISHED" && [ "$(json_get 'd.n' "$WORK/out")" = 6 ] &&
    expect_status 0 "$ZEROG" stats --queue zerog_jobs && expect_status 0 "$ZEROG" stats &&
    [ "$(cat "$WORK/out")" = '{}' ] && [ ! -s "$WORK/err" ]
  )
}
ok "progress, info, dump and stats work from a folder without jobs/ (they read documents)" read_only_anywhere
watch_anywhere() {
  finished_job || return 1
  (
    bare_dir || exit 1
    expect_status 0 timeout 10 "$ZEROG" watch "$FINISHED" && [ "$(json_get 'd.result' "$WORK/out")" = 200 ] &&
    [ "$(json_get 'd.job.n' "$WORK/out")" = 6 ] && grep -q "needs its job type echo" "$WORK/err"
  )
}
ok "watch works from a folder without jobs/ (the data, which needs the type, is null and said)" watch_anywhere
data_needs_type() {
  finished_job || return 1
  (
    bare_dir || exit 1
    expect_status 3 "$ZEROG" data "$FINISHED" && [ ! -s "$WORK/out" ] &&
    grep -q "data of job $FINISHED needs its job type echo, whose script is not in the jobs folder jobs" "$WORK/err" &&
    mkdir -p jobs && cp "$JOBS/echo.lua" jobs/ &&
    expect_status 0 "$ZEROG" data "$FINISHED" && [ "$(cat "$WORK/out")" = '{"n":6}' ]
  )
}
ok "data without the type's script exits 3 naming the type; with a jobs/ folder it loads it" data_needs_type
kill_anywhere() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 1}' 2>/dev/null)
  (
    bare_dir || exit 1
    # kill is one step on the stored job: no job script needed
    expect_status 0 "$ZEROG" kill "$uuid" && [ "$(cat "$WORK/out")" = "killed job $uuid" ]
  ) && [ "$(hget "$uuid" resultCode)" = 410 ]
}
ok "kill works from a folder without the type's script" kill_anywhere
kill_json() {
  flush
  local uuid; uuid=$("$ZEROG" submit echo '{"n": 1}' 2>/dev/null)
  expect_status 0 "$ZEROG" kill "$uuid" --json && [ "$(cat "$WORK/out")" = "{\"killed\":true,\"uuid\":\"$uuid\"}" ]
}
ok "kill UUID --json prints {\"killed\":true,\"uuid\"} (options after the operand)" kill_json

tap_done
