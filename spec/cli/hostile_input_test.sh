#!/usr/bin/env bash
# What hostile or careless input cannot do to zerog serve and zerog worker: make a JSON log line
# or HTTP body invalid (bytes that are not UTF-8, control characters, NUL, huge route parameters),
# forge a text log line, echo a 10 KB path back, pass a bad ?n= to kick, or start serve without
# auth by an empty token.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
cat >"$JOBS/weird.lua" <<'LUA'
return { JOB_TYPE = "weird", QUEUE_NAME = "weird_q",
  run = function(self)
    self:job_log_info("bad byte \255 here")
    self:job_log_info("nul \0 inside")
    self:job_log_info("x\nFAKE")
    self:job_log_info("cr\rand bell\7")
    return 200
  end }
LUA
PORT=$((20000 + RANDOM % 20000))
URL=http://127.0.0.1:$PORT
SERVE_PID=
trap '[ -n "$SERVE_PID" ] && kill -TERM $SERVE_PID 2>/dev/null && wait $SERVE_PID; rm -rf "$WORK"' EXIT

# every_line_json FILE: each line of FILE is one valid JSON object in valid UTF-8
every_line_json() {
  python3 -c '
import json, sys
lines = open(sys.argv[1], "rb").read().split(b"\n")
assert lines[-1] == b"", "the last line has no newline"
for raw in lines[:-1]:
    json.loads(raw.decode("utf-8"))
print(len(lines) - 1, "lines")' "$1"
}

run_weird() { # FORMAT: runs one weird job with zerog worker, its log in $WORK/weird.log
  flush
  "$ZEROG" submit weird '{}' >/dev/null &&
  "$ZEROG" worker --until-idle --log-format "$1" 2>"$WORK/weird.log"
}

json_logs_valid() {
  run_weird json && every_line_json "$WORK/weird.log" &&
  grep -q $'bad byte \xef\xbf\xbd here' "$WORK/weird.log" && grep -q $'nul \xef\xbf\xbd inside' "$WORK/weird.log" &&
  grep -q 'x\\nFAKE' "$WORK/weird.log"
}
ok "--log-format json: a job logging a byte that is not UTF-8, NUL, LF and CR writes valid JSON lines (U+FFFD for the byte and the NUL)" json_logs_valid

text_logs_unforged() {
  run_weird text || return 1
  ! grep -q '^FAKE' "$WORK/weird.log" && grep -q 'x\\nFAKE' "$WORK/weird.log" &&
  grep -q 'cr\\rand bell\\x07' "$WORK/weird.log" && ! grep -q $'\r' "$WORK/weird.log"
}
ok "text logs escape LF, CR and control characters in messages: a job cannot forge a log line" text_logs_unforged

empty_token() {
  expect_status 2 timeout 10 "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 --auth-token "" &&
  grep -q "auth-token" "$WORK/err" &&
  ZEROG_AUTH_TOKEN= expect_status 2 timeout 10 "$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 &&
  grep -q "ZEROG_AUTH_TOKEN" "$WORK/err"
}
ok "serve refuses an empty --auth-token or ZEROG_AUTH_TOKEN with exit 2 rather than serve without auth" empty_token

option_forms() {
  expect_status 2 "$ZEROG" worker --concurrency=0 &&
  [ "$(cat "$WORK/err")" = "zerog: worker: --concurrency must be between 1 and 64" ] &&
  expect_status 2 "$ZEROG" worker --concurrency 65 && expect_status 2 "$ZEROG" worker --max-jobs=1.5 &&
  expect_status 2 "$ZEROG" serve --workers=0 &&
  [ "$(cat "$WORK/err")" = "zerog: serve: --workers must be between 1 and 64" ] &&
  expect_status 2 "$ZEROG" serve --http-timeout=abc && grep -q "http-timeout takes a whole number" "$WORK/err" &&
  expect_status 2 "$ZEROG" serve --log-format=yaml && [ "$(wc -l <"$WORK/err")" = 1 ] &&
  flush && "$ZEROG" submit echo '{"n": 1}' >/dev/null &&
  expect_status 0 timeout 20 "$ZEROG" worker --queue=zerog_jobs --max-jobs=1 --log-format=json &&
  grep -q '"msg":"echo 1"' "$WORK/err"
}
ok "worker and serve take --opt=value and check numbers by the rules of every command (one-line errors, exit 2)" option_forms

missing_jobs_dir() {
  local cmd
  for cmd in "serve --listen 127.0.0.1:$PORT --workers 1" "worker" "worker --concurrency 2"; do
    # shellcheck disable=SC2086
    expect_status 2 timeout 10 "$ZEROG" --jobs "$WORK/nonexistent" $cmd &&
    grep -q "cannot read the jobs directory" "$WORK/err" || { echo "zerog $cmd"; return 1; }
  done
}
ok "serve and worker with a missing jobs directory exit 2 at once (cannot read the jobs directory), never crash-loop" missing_jobs_dir

flush
"$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 --log-format json >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
up() { curl -s -o /dev/null "$URL/health"; }
wait_for 10 up || { echo "not ok - serve starts"; cat "$WORK/serve.log"; exit 1; }

# get PATH [curl options]: status in $WORK/status, body in $WORK/body
get() {
  local path=$1; shift
  curl -s -o "$WORK/body" -w '%{http_code}' "$@" "$URL$path" >"$WORK/status"
}
status_is() { [ "$(cat "$WORK/status")" = "$1" ] || { echo "status $(cat "$WORK/status"), expected $1: $(head -c 300 "$WORK/body")"; return 1; }; }
body_error() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))["error"])' "$WORK/body"; }

bad_uuids() {
  get "/progress/$(printf '%%01%.0s' $(seq 800))" && status_is 404 && every_line_json "$WORK/body" &&
  [ "$(wc -c <"$WORK/body")" -lt 600 ] && body_error | grep -q '^no job' &&
  get /progress/%ff%ff && status_is 404 && every_line_json "$WORK/body" &&
  get "/info/$(head -c 10000 /dev/zero | tr '\0' a)" && status_is 404 && [ "$(wc -c <"$WORK/body")" -lt 200 ] &&
  [ "$(body_error)" = "no job $(head -c 64 /dev/zero | tr '\0' a)" ] &&
  get "/dump/$(printf '%%e2%%82%%ac%.0s' $(seq 30))" && status_is 404 && every_line_json "$WORK/body" &&
  get /data/not-a-uuid && status_is 404 && [ "$(body_error)" = "no job not-a-uuid" ] &&
  get /kill/zzz -X POST && status_is 404 &&
  get /progress/00000000-0000-0000-0000-000000000000 && status_is 404 && every_line_json "$WORK/body"
}
ok "a route parameter that is not a uuid is 404 {\"error\":\"no job <its first 64 chars>\"}, valid JSON, never echoed whole" bad_uuids

kick_n() {
  local n
  for n in 0 -1 abc 1.5 '' 99999999999999999999999; do
    get "/kick/zerog_jobs?n=$n" -X POST && status_is 400 && body_error | grep -q '^n must be' || { echo "n=$n"; return 1; }
  done
  get "/kick/zerog_jobs?n=3" -X POST && status_is 200
}
ok "POST /kick/<queue>?n= takes a whole number >= 1 only (else 400 naming n)" kick_n

tap_done
