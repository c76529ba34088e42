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
write_script raises.lua 'return { JOB_TYPE = "raises", MAX_ERRORS = 1,
  run = function(self)
    local t = nil
    return t.x
  end }'
write_script warns.lua 'return { JOB_TYPE = "warns", run = function(self)
  self:job_log_warning("disk almost full")
  self:raise_warning_finish(299, "finished early") end }'
write_script chatty.lua 'return { JOB_TYPE = "chatty", run = function(self)
  self:record_event("fetching http://example.com/a/b said \"hi\"")
  self:set_completeness(0.1 + 0.2)
  return 200 end }'
write_script twice_a.lua 'return { JOB_TYPE = "same", run = function() return 200 end }'
mkdir -p "$WORK/dup"
write_script dup/a.lua 'return { JOB_TYPE = "same", run = function() return 200 end }'
write_script dup/b.lua 'return { JOB_TYPE = "same", run = function() return 201 end }'
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

run_options_after() {
  expect_status 0 timeout 20 "$ZEROG" run "$WORK/later100.lua" --no-wait &&
  [ "$(json_get 'd.job.runs' "$WORK/out")" = 2 ] && grep -q "not waiting: --no-wait" "$WORK/err"
}
ok "run FILE --no-wait works like run --no-wait FILE" run_options_after

run_shows_error() {
  expect_status 1 "$ZEROG" run "$WORK/raises.lua" || return 1
  grep -q "^error 500: .*raises.lua:4: attempt to index a nil value" "$WORK/err" &&
  ! grep -q "stack traceback" "$WORK/err" &&
  [ "$(grep -c "^error 500" "$WORK/err")" = 1 ] # shown once, though also a log line
}
ok "run prints a failed run's error code and message with file:line (no traceback), once" run_shows_error

run_shows_warnings() {
  expect_status 0 "$ZEROG" run "$WORK/warns.lua" &&
  grep -q "^warning: disk almost full$" "$WORK/err" && grep -q "^warning: finished early$" "$WORK/err" &&
  [ "$(grep -c "^warning: disk almost full" "$WORK/err")" = 1 ]
}
ok "run prints the job's warnings, each once" run_shows_warnings

# compact: no whitespace outside strings in the JSON text of a file
compact() { lua5.4 -e '
  local s, inside, i = io.read("a"):gsub("\n$", ""), false, 1
  while i <= #s do
    local c = s:sub(i, i)
    if inside and c == "\\" then i = i + 1
    elseif c == "\"" then inside = not inside
    elseif not inside and c:find("%s") then print("whitespace outside strings at " .. i); os.exit(1) end
    i = i + 1
  end' <"$1"; }
run_json_style() {
  expect_status 0 "$ZEROG" run "$WORK/chatty.lua" && compact "$WORK/out" &&
  ! grep -qF '\/' "$WORK/out" && grep -qF '"msg":"fetching http://example.com/a/b said \"hi\""' "$WORK/out" &&
  grep -qF '"completeness":1,' "$WORK/out"
}
ok "run's JSON is compact throughout (no spaces after : and ,) and writes / plainly, not \\/" run_json_style

run_event_text() {
  expect_status 0 "$ZEROG" run "$WORK/chatty.lua" &&
  grep -qF '[  0%] fetching http://example.com/a/b said "hi"' "$WORK/err"
}
ok "run shows event text as plain text on stderr" run_event_text

run_one_line_per_event() {
  expect_status 0 "$ZEROG" run jobs/waste_time.lua '{"delay": 0}' || return 1
  # 11 events (wasting, then 10 steps that each advance and record): 11 lines, no bare percentages
  [ "$(wc -l <"$WORK/err")" = 11 ] && [ "$(grep -c '^\[ *[0-9]*%\] .' "$WORK/err")" = 11 ] ||
    { cat "$WORK/err"; return 1; }
}
ok "run without a terminal writes one line per event (not one more per step)" run_one_line_per_event

run_summary() {
  script -qec "$ZEROG run $WORK/ok.lua '{\"n\": 21}'" /dev/null </dev/null >"$WORK/tty" 2>&1 || return 1
  grep -q "ok_job [0-9a-f-]*: result 200 in [0-9.]*s" "$WORK/tty" && grep -q '^data: {"twice":42}' "$WORK/tty" &&
  ! grep -q '"job":' "$WORK/tty"
}
ok "an interactive run ends with a summary (type, uuid, result, time, data), not the document" run_summary

run_json_tty() {
  script -qec "$ZEROG run --json $WORK/ok.lua" /dev/null </dev/null >"$WORK/tty" 2>&1 || return 1
  grep -q '{"uuid":"[0-9a-f-]*","result":200,"job":{' "$WORK/tty" && ! grep -q "^data: " "$WORK/tty"
}
ok "run --json prints the job as JSON on a terminal too" run_json_tty

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

check_duplicates() {
  expect_status 2 "$ZEROG" check "$WORK/dup" &&
  grep -q "job type same is defined twice: in $WORK/dup/a.lua and in $WORK/dup/b.lua" "$WORK/err"
}
ok "check of a folder with two scripts of one JOB_TYPE exits 2 naming both files" check_duplicates
check_duplicates_across() {
  expect_status 2 "$ZEROG" check "$WORK/twice_a.lua" "$WORK/dup/b.lua" && grep -q "twice_a.lua and in .*b.lua" "$WORK/err" &&
  expect_status 0 "$ZEROG" check "$WORK/dup/a.lua" "$WORK/dup/a.lua" # the same file twice is no duplicate
}
ok "check finds a JOB_TYPE defined twice across its arguments, not a file named twice" check_duplicates_across
ok "an unknown command exits 2" expect_status 2 "$ZEROG" frobnicate
ok "run without a file exits 2 with usage" expect_status 2 "$ZEROG" run

tap_done
