#!/usr/bin/env bash
# What hostile or careless input cannot do to zerog serve and zerog worker: make a JSON log line
# or HTTP body invalid (bytes that are not UTF-8, control characters, NUL, huge route parameters),
# forge a text log line, echo a 10 KB path back, pass a bad ?n= to kick, or start serve without
# auth by an empty token. And the limits on values (README, "Limits on values") at the command
# and over HTTP: each hostile value is refused (exit 2 / 400, one message, nothing stored) or
# stored exactly.
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
cat >"$JOBS/v.lua" <<'LUA'
return { JOB_TYPE = "v", QUEUE_NAME = "v_q", SCHEMA = {
  s = { type = "string" }, i = { type = "integer" }, n = { type = "number" },
  o = { type = "object" }, a = { type = "array" }, x = { type = "any" } },
  run = function(self) return 200 end }
LUA
# 100 KiB of 2- and 3-byte characters: the 64 KiB cut falls inside one
cat >"$JOBS/biglog.lua" <<'LUA'
return { JOB_TYPE = "biglog", QUEUE_NAME = "biglog_q",
  run = function(self) self:job_log_info("x" .. string.rep("é€", 20480)); return 200 end }
LUA
nested() { printf '[%.0s' $(seq "$1"); printf ']%.0s' $(seq "$1"); }
# The hostile params every entry point refuses, one per line: params, a tab, what the message says.
HOSTILE_PARAMS=$(printf '%s\t%s\n' \
  '{"n": NaN}' 'no NaN, Infinity or hex' \
  '{"n": Infinity}' 'no NaN, Infinity or hex' \
  '{"n": -Infinity}' 'no NaN, Infinity or hex' \
  '{"i": 0x10}' 'no NaN, Infinity or hex' \
  '{"n": 1e999}' 'params hold a number too large for a double' \
  '{"n": 9007199254740993}' 'params hold the integer 9007199254740993, beyond +-2^53' \
  '{"i": 1e300}' 'field i must be an integer between -2^53 and 2^53' \
  '{"i": 1.5}' 'field i must be an integer, got the number 1.5' \
  '{"s": "a", "s": "b"}' 'params have the key "s" twice in one object' \
  '{"o": {"k": 1, "k": 2}}' 'params have the key "k" twice in one object' \
  $'{"s": "\xff"}' 'params are not valid UTF-8 (byte 8)' \
  "{\"x\": $(nested 64)}" 'params nest deeper than 64 levels')
. spec/support/free_port.sh
PORT=$(free_port 26000 32000)
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
  expect_status 2 "$ZEROG" serve --max-body 33554433 && grep -q "max-body must be between 1 and 33554432" "$WORK/err" &&
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

nothing_stored() { [ "$(rcli DBSIZE)" = 0 ] || { echo "stored: $(rcli KEYS '*' | head -5)"; return 1; }; }
# one_message WANT: stderr is one line that says WANT, without a stack trace
one_message() {
  { [ "$(wc -l <"$WORK/err")" = 1 ] && grep -qF -- "$1" "$WORK/err" && ! grep -q traceback "$WORK/err"; } ||
    { echo "stderr: $(head -c 300 "$WORK/err"), expected: $1"; return 1; }
}

cli_hostile_params() {
  local params want
  while IFS=$'\t' read -r params want; do
    flush
    { expect_status 2 "$ZEROG" submit v "$params" && one_message "$want" && nothing_stored; } ||
      { echo "params: $params"; return 1; }
  done <<<"$HOSTILE_PARAMS"
}
ok "submit refuses NaN, +-Infinity, hex, overflow, integers beyond 2^53, 1e300 and 1.5 for integers, duplicate keys, bytes that are not UTF-8 and nesting over 64: exit 2, one message, nothing stored" cli_hostile_params

cli_hostile_options() {
  local args want
  while IFS=$'\t' read -r args want; do
    flush
    # shellcheck disable=SC2086
    { expect_status 2 "$ZEROG" submit v '{}' $args && one_message "$want" && nothing_stored; } ||
      { echo "options: $args"; return 1; }
  done <<'TABLE'
--delay 31622401	delay must be a number of seconds from 0 to 31622400
--delay 0x10	--delay takes a number, not "0x10"
--delay -1	--delay must be >= 0
--ttr 0.05	ttr must be a number of seconds from 0.1 to 31622400
--ttr 1e999	--ttr takes a number, not "1e999"
--ttr inf	--ttr takes a number, not "inf"
--priority 4294967296	--priority must be between 0 and 4294967295
--priority 1e3x	--priority takes a whole number
TABLE
}
ok "submit refuses delays over 366 days, TTRs under 0.1 s, priorities over 2^32-1, hex and inf: exit 2, one message, nothing stored" cli_hostile_options

cli_hostile_batch() {
  flush
  printf '{"i": 1}\n\n{"s": "a\0b"}\n' >"$WORK/nul.batch"
  expect_status 2 "$ZEROG" submit v --batch "$WORK/nul.batch" && one_message "line 3: params hold a NUL byte" &&
  nothing_stored &&
  printf '{"i": 1}\n\n{"i": 2}\n{"i": 3, "i": 4}\n' >"$WORK/dup.batch" &&
  expect_status 2 "$ZEROG" submit v --batch "$WORK/dup.batch" && one_message 'line 4: params have the key "i" twice' &&
  nothing_stored &&
  { printf '{"i": 1}\n{"s": "'; head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' a; printf '"}\n'; } >"$WORK/big.batch" &&
  expect_status 2 "$ZEROG" submit v --batch - <"$WORK/big.batch" &&
  one_message "line 2: params are 16777225 bytes, over the limit of 16777216 bytes (16 MiB)" && nothing_stored
}
ok "submit --batch refuses a line with a NUL byte, a duplicate key or over 16 MiB, naming the line by its number in the file (blank lines counted), and stores none of the lines" cli_hostile_batch

cli_exact() {
  flush
  local uuid
  uuid=$("$ZEROG" submit v '{"s": "a\u0000b", "n": 0.30000000000000004, "i": 9007199254740991, "x": [-9007199254740992, 1e-7]}') &&
  expect_status 0 "$ZEROG" dump "$uuid" &&
  grep -qF '"s":"a\u0000b"' "$WORK/out" && grep -qF '"n":0.30000000000000004' "$WORK/out" &&
  grep -qF '"i":9007199254740991' "$WORK/out" && grep -qF '"x":[-9007199254740992,1e-07]' "$WORK/out"
}
ok "submit stores a NUL in a string (as \\u0000), 0.1 + 0.2, 2^53 - 1 and -2^53 exactly, as dump shows" cli_exact

empty_fields_read_back() {
  flush
  local uuid
  uuid=$("$ZEROG" submit v '{"a": [], "o": {}}') && expect_status 0 "$ZEROG" dump "$uuid" &&
  grep -qF '"a":[]' "$WORK/out" && grep -qF '"o":{}' "$WORK/out" &&
  expect_status 2 "$ZEROG" submit v '{"a": {}}' && one_message "field a must be an array, got an empty object" &&
  expect_status 2 "$ZEROG" submit v '{"o": []}' && one_message "field o must be an object, got an empty list"
}
ok "an empty array field reads back as [] and an empty object field as {} through dump (which loads no job types); [] for an object field and {} for an array field are refused" empty_fields_read_back

log_cut() { # FORMAT: the worker's log of the biglog job, in $WORK/big.log
  flush
  "$ZEROG" submit biglog '{}' >/dev/null && "$ZEROG" worker --until-idle --log-format "$1" 2>"$WORK/big.log"
}
json_log_of_100k() {
  log_cut json && every_line_json "$WORK/big.log" && python3 -c '
import json, sys
msgs = [json.loads(l)["msg"] for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines()]
big = [m for m in msgs if m.startswith("x\u00e9")]
assert len(big) == 1, msgs
kept, _, marker = big[0].rpartition("\u2026 [")
assert marker.endswith(" bytes cut]"), marker
n = len(kept.encode("utf-8"))
assert 65530 < n <= 65536, n
assert n + int(marker.split()[0]) == 1 + 5 * 20480' "$WORK/big.log" &&
  log_cut text && grep -q 'bytes cut\]$' "$WORK/big.log"
}
ok "--log-format json: a 100 KiB message of multibyte characters is one valid JSON line, cut at 64 KiB after a whole character with a marker (text lines too)" json_log_of_100k

flush
"$ZEROG" serve --listen "127.0.0.1:$PORT" --workers 1 --log-format json --max-body 33554432 >"$WORK/serve.log" 2>&1 &
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

# post PATH BODY-FILE: POSTs the file's bytes; status in $WORK/status, body in $WORK/body
post() {
  curl -s -o "$WORK/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary "@$2" "$URL$1" >"$WORK/status"
}
no_job_stored() { [ -z "$(rcli KEYS '*job:*')" ] || { echo "stored: $(rcli KEYS '*job:*' | head -3)"; return 1; }; }
http_refused() { # WANT: a 400 whose JSON error says WANT, without a traceback
  { status_is 400 && every_line_json "$WORK/body" >/dev/null && body_error | grep -qF -- "$1" &&
    ! grep -q traceback "$WORK/body"; } || { echo "body: $(head -c 300 "$WORK/body"), expected: $1"; return 1; }
}

http_hostile_params() {
  local params want
  flush
  while IFS=$'\t' read -r params want; do
    { printf '%s' "$params" >"$WORK/params" && post /job/v "$WORK/params" && http_refused "$want"; } ||
      { echo "params: $params"; return 1; }
  done <<<"$HOSTILE_PARAMS"
  printf '{"s": "a\0b"}' >"$WORK/params" && post /job/v "$WORK/params" && http_refused "the body holds a NUL byte" &&
  { printf '{"s": "'; head -c $((16 * 1024 * 1024)) /dev/zero | tr '\0' a; printf '"}'; } >"$WORK/params" &&
  post /job/v "$WORK/params" && http_refused "params are 16777225 bytes, over the limit of 16777216 bytes" &&
  no_job_stored
}
ok "POST /job refuses the same hostile params as submit, a NUL byte in the body and params over 16 MiB: 400, a JSON error, nothing stored" http_hostile_params

http_hostile_options() {
  local query want
  flush
  echo '{}' >"$WORK/params"
  while IFS=$'\t' read -r query want; do
    { post "/job/v?$query" "$WORK/params" && http_refused "$want"; } || { echo "query: $query"; return 1; }
  done <<'TABLE'
delay=0x10	delay must be a number of seconds >= 0, got 0x10
delay=%201	delay must be a number of seconds >= 0
delay=31622401	delay must be a number of seconds from 0 to 31622400
delay=nan	delay must be a number of seconds >= 0, got nan
ttr=inf	ttr must be a number of seconds > 0, got inf
ttr=1e999	ttr must be a number of seconds > 0
ttr=0.05	ttr must be a number of seconds from 0.1 to 31622400
priority=0x10	priority must be a whole number from 0 to 4294967295, got 0x10
priority=4294967296	priority must be a whole number from 0 to 4294967295
priority=1.5	priority must be a whole number
TABLE
  printf '{"params": {}, "options": {"delay": 0x10}}' >"$WORK/params" &&
  post "/job/v?envelope=true" "$WORK/params" && http_refused "delay must be a number of seconds >= 0, got 0x10" &&
  printf '{"params": {}, "options": {"priority": 1%0100d}}' 0 >"$WORK/params" &&
  post "/job/v?envelope=true" "$WORK/params" && http_refused "priority must be a whole number" &&
  no_job_stored
}
ok "POST /job takes delay, ttr and priority by the command's rules (no hex, inf, nan or spaces; the same ranges): 400 naming the option, nothing stored" http_hostile_options

http_exact() {
  local uuid
  printf '{"s": "a\\u0000b", "n": 0.30000000000000004, "i": 9007199254740991}' >"$WORK/params" &&
  post /job/v "$WORK/params" && status_is 201 &&
  uuid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["uuid"])' "$WORK/body") &&
  get "/dump/$uuid" && status_is 200 && every_line_json "$WORK/body" >/dev/null &&
  grep -qF '"s":"a\u0000b"' "$WORK/body" && grep -qF '"n":0.30000000000000004' "$WORK/body" &&
  grep -qF '"i":9007199254740991' "$WORK/body"
}
ok "POST /job stores a NUL in a string, 0.1 + 0.2 and 2^53 - 1 exactly, as GET /dump shows" http_exact

http_percent_nul() {
  flush
  echo '{}' >"$WORK/params"
  local query want
  while IFS=$'\t' read -r query want; do
    { post "$query" "$WORK/params" && http_refused "$want"; } || { echo "request: $query"; return 1; }
  done <<'TABLE'
/job/v%00x	unknown job type v%00x
/job/v?delay=1%00x	delay must be a number of seconds >= 0, got 1%00x
/job/v?de%00lay=1	unknown query parameter de%00lay
/kick/q?n=1%00	n must be a whole number > 0
TABLE
  get /dump/abc%00def && status_is 404 && [ "$(body_error)" = "no job abc%00def" ] &&
  post /job/%76 "$WORK/params" && status_is 201 && # other escapes are decoded as before
  no_job_stored_but_one
}
no_job_stored_but_one() { [ "$(rcli KEYS '*job:*' | wc -l)" = 2 ] || { echo "stored: $(rcli KEYS '*job:*')"; return 1; }; }
ok "a percent-encoded NUL in the path or the query is not decoded (it would cut the name or value short): /job/v%00x, ?delay=1%00x and ?n=1%00 are refused, nothing stored" http_percent_nul

http_envelope_strict() {
  local body want
  flush
  while IFS=$'\t' read -r body want; do
    { printf '%s' "$body" >"$WORK/params" && post "/job/v?envelope=true" "$WORK/params" && http_refused "$want"; } ||
      { echo "envelope: $body"; return 1; }
  done <<'TABLE'
{"params": nullxyz}	params must be a JSON object
{"params": {}, "params": {"s": "x"}}	the envelope has the key params twice
{"params": {}, "options": {"ttr": 5}, "options": {"ttr": 6}}	the envelope has the key options twice
{"params": {}, "options": {"delay": 1, "delay": 2}}	delay is given twice in the envelope's options
TABLE
  printf '{}' >"$WORK/params" &&
  post "/job/v?envelope" "$WORK/params" && http_refused "envelope must be given once, true or false" &&
  post "/job/v?envelope=false&envelope=true" "$WORK/params" && http_refused "envelope must be given once" &&
  post "/job/v?delay=1&delay=2" "$WORK/params" && http_refused "delay is given twice in the query string" &&
  no_job_stored
}
ok "POST /job?envelope=true refuses what is not JSON (params: nullxyz), a key twice in the envelope or its options, and an envelope flag without a value or given twice: 400, nothing stored" http_envelope_strict

# raw_request PORT BYTES: sends BYTES (printf format) on one connection, prints the first line and
# the body of the answer (the server closes or 5 s pass).
raw_request() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
out = b""
try:
    while b"\r\n\r\n" not in out or not out.rstrip().endswith(b"}"):
        chunk = s.recv(65536)
        if not chunk: break
        out += chunk
except socket.timeout:
    pass
head, _, body = out.partition(b"\r\n\r\n")
print(head.split(b"\r\n")[0].decode(), body.decode())
PY
}
length_twice() {
  local answer
  flush
  for framing in 'Content-Length: 2\r\nContent-Length: 3' 'Content-Length: 2\r\nTransfer-Encoding: chunked'; do
    answer=$(raw_request "$PORT" "POST /job/v HTTP/1.1\r\nHost: x\r\n$framing\r\n\r\n{} ") &&
    { [ "${answer%% \{*}" = "HTTP/1.1 400 Bad Request" ] && grep -qF 'length is given twice' <<<"$answer"; } ||
      { echo "$framing: $answer"; return 1; }
  done
  no_job_stored
}
ok "POST /job with the body's length given twice (two Content-Length, or one with Transfer-Encoding) is 400 in JSON and stores nothing: a proxy could read another request into it" length_twice

kick_n() {
  local n
  for n in 0 -1 abc 1.5 '' 99999999999999999999999; do
    get "/kick/zerog_jobs?n=$n" -X POST && status_is 400 && body_error | grep -q '^n must be' || { echo "n=$n"; return 1; }
  done
  get "/kick/zerog_jobs?n=3" -X POST && status_is 200
}
ok "POST /kick/<queue>?n= takes a whole number >= 1 only (else 400 naming n)" kick_n

# slow_client PORT: sends a request one byte every 0.3 s (each within --http-timeout 1) until the
# server ends the connection; prints how long that took, fails when it never did within 15 s.
slow_client() {
  python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
request = b"POST /job/v HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{" + b" " * 98 + b"}"
start = time.monotonic()
try:
    for b in request:
        s.sendall(bytes([b]))
        time.sleep(0.3)
        if time.monotonic() - start > 15:
            sys.exit("still open after 15 s")
    sys.exit("the whole request was sent")
except (BrokenPipeError, ConnectionResetError):
    print("closed after %.1f s" % (time.monotonic() - start))
PY
}
# A second serve with --http-timeout 1 (an idle connection closed after 1 s, a request that has
# not arrived whole after 3 s) on a free port: $PORT2, $PID2; SERVE2=1 when it started.
serve2_start() {
  local try
  for try in 1 2 3 4 5; do # another port when this one is taken
    PORT2=$(free_port 26000 32000)
    "$ZEROG" serve --listen "127.0.0.1:$PORT2" --workers 1 --http-timeout 1 >"$WORK/serve2.log" 2>&1 &
    PID2=$!
    up2() { curl -s -o /dev/null "http://127.0.0.1:$PORT2/health" || ! kill -0 $PID2 2>/dev/null; }
    wait_for 20 up2 && kill -0 $PID2 2>/dev/null && return 0
    grep -q "cannot listen" "$WORK/serve2.log" || return 1
  done
  return 1
}
serve2_start && SERVE2=1 || SERVE2=0
serve2_health() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT2/health")" = 200 ]; }
serve2_failed() { echo "serve's log:"; tail -20 "$WORK/serve2.log"; return 1; }

slow_request_deadline() {
  local took
  [ $SERVE2 = 1 ] || serve2_failed || return 1
  took=$(slow_client "$PORT2") && echo "$took" &&
  awk -v t="${took//[!0-9.]/}" 'BEGIN { exit !(t >= 2.5 && t < 8) }' && serve2_health || serve2_failed
}
ok "serve ends a connection whose request has not arrived whole within 3 x --http-timeout (a client sending a byte every 0.3 s held it for ever), and keeps serving" slow_request_deadline

# framing_clients PORT: four clients at once, each of which answers nothing but sends a byte of a
# request that never ends every 0.3 s (within the idle timeout of 1 s), after what is answered
# first. Prints, for each, when the server ended its connection (from the last answer it got),
# and fails when one was not ended 2.5 to 8 s after that or did not get the answers it expected.
framing_clients() {
  python3 - "$1" <<'PY'
import re, socket, sys, threading, time
port = int(sys.argv[1])
host = b"Host: 127.0.0.1\r\n"  # (named by address: admitted, so its body is waited for)
cases = [  # name, sent at once, dripped a byte at a time for ever, answers before the clock
    ("a body dripping after a pipelined request was answered",
     b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nPOST /job/v HTTP/1.1\r\n" + host +
     b"Content-Length: 1000\r\n\r\n{", b" ", ["200"]),
    ("chunks that never end",
     b"POST /job/v HTTP/1.1\r\n" + host + b"Transfer-Encoding: chunked\r\n\r\n", b"1\r\n \r\n", []),
    ("a body dripping after 100 Continue",
     b"POST /job/v HTTP/1.1\r\n" + host + b"Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n",
     b" ", ["100"]),
    ("the headers of a second request on a kept-alive connection",
     b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", b"GET /health HTTP/1.1\r\nX: " + b"a" * 1000, ["200"]),
]
failures = []
def client(name, first, drip, answers):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(0.3)
    s.sendall(first)
    got, start, sent = b"", time.monotonic(), 0
    clock = start
    try:
        while True:
            if time.monotonic() - start > 15:
                failures.append(name + ": still open after 15 s")
                return
            if len(re.findall(rb"HTTP/1\.1 \d\d\d", got)) >= len(answers):
                if sent == 0:
                    clock = time.monotonic()  # the request that never ends starts here
                s.sendall(drip[sent % len(drip):][:1])
                sent += 1
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            got += chunk
    except (BrokenPipeError, ConnectionResetError):
        pass
    took = time.monotonic() - clock
    seen = [x.decode() for x in re.findall(rb"HTTP/1\.1 (\d\d\d)", got)]
    print("%s: answers %s, ended %.1f s after the last" % (name, seen, took))
    if seen != answers:
        failures.append("%s: answers %s, expected %s" % (name, seen, answers))
    elif not 2.5 <= took < 8:
        failures.append("%s: ended after %.1f s" % (name, took))
threads = [threading.Thread(target=client, args=c) for c in cases]
for t in threads: t.start()
for t in threads: t.join()
sys.exit("; ".join(failures) if failures else 0)
PY
}
deadline_whatever_the_framing() {
  [ $SERVE2 = 1 ] || serve2_failed || return 1
  framing_clients "$PORT2" && serve2_health || serve2_failed
}
ok "serve ends within 3 x --http-timeout a connection whose request never arrives whole whatever its framing: a body after a pipelined request was answered, chunks, a body after 100 Continue, a kept-alive connection's next headers; and keeps serving" deadline_whatever_the_framing
[ $SERVE2 = 1 ] && kill -TERM $PID2 2>/dev/null && wait $PID2

tap_done
