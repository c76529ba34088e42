#!/usr/bin/env bash
# The `zerog run` and `zerog check` commands: outputs, progress display and exit codes.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh

write_script ok.lua 'return { JOB_TYPE = "ok_job", SCHEMA = { n = { type = "integer", default = 2 } },
  run = function(self) self:job_log_info("working"); self:set_completeness(0.5); return 200 end,
  get_data = function(self) return { twice = self.n * 2 } end }'
write_script fails.lua 'return { JOB_TYPE = "fails", run = function(self) self:raise_error_finish(422, "refused") end }'
write_script syntax.lua 'return {
  JOB_TYPE = "broken",
  run = function( end }'
write_script later.lua 'return { JOB_TYPE = "later", SCHEMA = { runs = { type = "integer", default = 0 } },
  run = function(self) self:update_attrs { runs = self.runs + 1 }
    if self.runs == 1 then return -1, %s end return 200 end }'
sed 's/%s/100/' "$WORK/later.lua" >"$WORK/later100.lua"
sed 's/%s/1/' "$WORK/later.lua" >"$WORK/later1.lua"

run_prints_result() {
  expect_status 0 "$ZEROG" run "$WORK/ok.lua" '{"n": 21}' || return 1
  [ "$(json_get 'd.result' "$WORK/out")" = 200 ] &&
  [ "$(json_get 'd.job.resultCode' "$WORK/out")" = 200 ] &&
  [ "$(json_get 'd.job.uuid == d.uuid' "$WORK/out")" = true ] &&
  [ "$(json_get 'd.job.events[1].msg' "$WORK/out")" = working ] &&
  [ "$(json_get 'd.data.twice' "$WORK/out")" = 42 ]
}
ok "run prints {uuid, result, job, data} as JSON on stdout and exits 0 for 2xx" run_prints_result

run_plain_progress() {
  expect_status 0 "$ZEROG" run "$WORK/ok.lua" || return 1
  grep -q '\[ 50%\]' "$WORK/err" && grep -q 'working' "$WORK/err" && ! grep -q $'\r' "$WORK/err"
}
ok "run prints progress and events as plain lines on stderr when not on a terminal" run_plain_progress

run_live_bar() {
  script -qec "$ZEROG run $WORK/ok.lua" /dev/null </dev/null >"$WORK/tty" 2>&1 || return 1
  grep -q $'\r' "$WORK/tty" && grep -q '\[###' "$WORK/tty" && grep -q 'working' "$WORK/tty"
}
ok "run draws a live progress bar on a terminal" run_live_bar

ok "run exits 1 for a non-2xx result" expect_status 1 "$ZEROG" run "$WORK/fails.lua"
run_fail_result() {
  expect_status 1 "$ZEROG" run "$WORK/fails.lua"
  [ "$(json_get 'd.result' "$WORK/out")" = 422 ]
}
ok "run still prints the document of a failed job" run_fail_result

run_missing() { expect_status 2 "$ZEROG" run "$WORK/nope.lua" && grep -q "nope.lua" "$WORK/err"; }
ok "run exits 2 naming a missing file" run_missing

run_syntax() { expect_status 2 "$ZEROG" run "$WORK/syntax.lua" && grep -q "syntax.lua:3:" "$WORK/err"; }
ok "run exits 2 with file and line for a script error" run_syntax

run_bad_params() {
  expect_status 2 "$ZEROG" run "$WORK/ok.lua" '{"n": "abc"}' && grep -q "field n must be an integer" "$WORK/err" &&
  [ ! -s "$WORK/out" ]
}
ok "run exits 2 naming the field for invalid params" run_bad_params

run_bad_json() { expect_status 2 "$ZEROG" run "$WORK/ok.lua" '{"n": ' && grep -q "not valid JSON" "$WORK/err"; }
ok "run exits 2 for params that are not JSON" run_bad_json

run_no_wait() {
  expect_status 0 timeout 20 "$ZEROG" run --no-wait "$WORK/later100.lua" &&
  [ "$(json_get 'd.job.runs' "$WORK/out")" = 2 ] && grep -q "next run in 100s" "$WORK/err"
}
ok "run --no-wait skips a requeue delay" run_no_wait

run_waits() {
  local start end
  start=$(date +%s%N)
  expect_status 0 "$ZEROG" run "$WORK/later1.lua" || return 1
  end=$(date +%s%N)
  [ "$(json_get 'd.job.runs' "$WORK/out")" = 2 ] && [ $(((end - start) / 1000000)) -ge 1000 ]
}
ok "run honours a requeue delay without --no-wait" run_waits

run_example() {
  expect_status 0 "$ZEROG" run jobs/waste_time.lua '{"delay": 0}' &&
  [ "$(json_get 'd.job.jobType' "$WORK/out")" = waste_time ] && [ "$(json_get '#d.job.events' "$WORK/out")" -ge 10 ]
}
ok "run works on the waste_time example from any directory's path" run_example

run_elsewhere() {
  local bin; bin=$(readlink -f "$ZEROG")
  (cd "$WORK" && expect_status 0 "$bin" run ok.lua)
}
ok "the binary carries its Lua runtime (runs from another directory)" run_elsewhere

check_ok() { expect_status 0 "$ZEROG" check "$WORK/ok.lua" && grep -q "ok .*ok.lua (ok_job)" "$WORK/out"; }
ok "check exits 0 for a valid script" check_ok

check_dir() {
  expect_status 2 "$ZEROG" check "$WORK" && grep -q "syntax.lua:3:" "$WORK/err" && grep -q "ok_job" "$WORK/out"
}
ok "check of a directory reports each broken script with file and line, exit 2" check_dir

ok "check passes on every example in jobs/" expect_status 0 "$ZEROG" check jobs
ok "an unknown command exits 2" expect_status 2 "$ZEROG" frobnicate
ok "run without a file exits 2 with usage" expect_status 2 "$ZEROG" run

tap_done
