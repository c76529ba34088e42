#!/usr/bin/env bash
# Unique jobs from the outside: `zerog submit` of a job whose unique key another job holds exits 0
# with that job's uuid on stdout and a note on stderr; POST /job answers 200 (not 201) with
# {"uuid", "existing": true}; --batch prints the holder's uuid for a duplicate line; a retry of a
# failed job whose key another job holds is refused (skipped by retry --state failed).
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
cat >"$JOBS/once.lua" <<'LUA'
return { JOB_TYPE = "once", QUEUE_NAME = "once_q", UNIQUE = { key = "order", ttl = 3600, ["while"] = "until_done" },
  SCHEMA = { order = { type = "integer", required = true } },
  run = function(self) return 200 end }
LUA

submit_twice() {
  flush
  expect_status 0 "$ZEROG" submit once '{"order": 7}' || return 1
  local first; first=$(cat "$WORK/out")
  expect_status 0 "$ZEROG" submit once '{"order": 7}' || return 1
  [ "$(cat "$WORK/out")" = "$first" ] && grep -q "holds the same unique key" "$WORK/err" &&
  expect_status 0 "$ZEROG" submit once '{"order": 8}' && [ "$(cat "$WORK/out")" != "$first" ] &&
  "$ZEROG" stats | grep -q '"once_q":{"ready":2,'
}
ok "submit of a held unique key exits 0 with the holder's uuid and a note on stderr" submit_twice

batch_duplicates() {
  flush
  printf '{"order": 1}\n{"order": 2}\n{"order": 1}\n' >"$WORK/batch"
  expect_status 0 "$ZEROG" submit once --batch "$WORK/batch" || return 1
  [ "$(sed -n 1p "$WORK/out")" = "$(sed -n 3p "$WORK/out")" ] &&
  [ "$(sed -n 1p "$WORK/out")" != "$(sed -n 2p "$WORK/out")" ] &&
  "$ZEROG" stats | grep -q '"once_q":{"ready":2,'
}
ok "submit --batch prints the holder's uuid for a line whose key is held" batch_duplicates

cat >"$JOBS/fails.lua" <<'LUA'
return { JOB_TYPE = "fails", QUEUE_NAME = "fails_q", UNIQUE = { key = "order" },
  SCHEMA = { order = { type = "integer", required = true } },
  run = function(self) return 500 end }
LUA

retry_of_a_held_key() {
  flush
  local first second
  first=$("$ZEROG" submit fails '{"order": 1}') && "$ZEROG" worker --until-idle >/dev/null 2>&1 &&
  second=$("$ZEROG" submit fails '{"order": 1}') && "$ZEROG" worker --until-idle >/dev/null 2>&1 &&
  [ "$first" != "$second" ] || return 1
  expect_status 0 "$ZEROG" retry --state failed || return 1 # one retried, the other skipped
  grep -q '"retried":1' "$WORK/out" && "$ZEROG" stats | grep -q '"fails_q":{"ready":1,' || return 1
  expect_status 1 "$ZEROG" retry "$second" && grep -q "holds the same unique key" "$WORK/err" ||
  expect_status 1 "$ZEROG" retry "$first" && grep -q "holds the same unique key" "$WORK/err"
}
ok "retry of failed jobs never makes two queued jobs of one unique key (one retried, one refused)" retry_of_a_held_key

SERVE_WORKERS=1
. spec/cli/serve.sh
start_serve || { echo "not ok - serve starts"; cat "$WORK/serve.log"; exit 1; }

post_twice() {
  flush
  local s1 s2
  s1=$(curl -s -o "$WORK/b1" -w '%{http_code}' -X POST --data '{"order": 9}' "$URL/job/once")
  s2=$(curl -s -o "$WORK/b2" -w '%{http_code}' -X POST --data '{"order": 9}' "$URL/job/once")
  [ "$s1" = 201 ] && [ "$s2" = 200 ] && grep -q '"existing":true' "$WORK/b2" &&
  [ "$(json_get uuid "$WORK/b1")" = "$(json_get uuid "$WORK/b2")" ] ||
  { echo "statuses $s1 $s2: $(cat "$WORK/b1") $(cat "$WORK/b2")"; return 1; }
}
ok "POST /job of a held unique key answers 200 with the holder's uuid and existing: true" post_twice

failed_one() { "$ZEROG" list --state failed --queue fails_q | grep -q "$1"; }
post_retry_of_a_held_key() {
  flush
  local first second status
  first=$("$ZEROG" submit fails '{"order": 2}') && wait_for 10 failed_one "$first" &&
  second=$("$ZEROG" submit fails '{"order": 2}' --delay 600) || return 1 # waits, holding the key
  status=$(curl -s -o "$WORK/b" -w '%{http_code}' -X POST "$URL/retry/$first")
  [ "$status" = 409 ] && grep -q "$second" "$WORK/b" || { echo "status $status: $(cat "$WORK/b")"; return 1; }
}
ok "POST /retry of a failed job whose unique key another job holds answers 409 naming it" post_retry_of_a_held_key
tap_done
