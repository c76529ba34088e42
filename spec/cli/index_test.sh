#!/usr/bin/env bash
# Finding and steering jobs, from the command line and over HTTP: zerog list (filters, paging
# with --cursor across concurrent submits, the table on a terminal), retry (one, bulk), delete,
# purge, bulk kill, stats --by-type, and the routes GET /jobs, POST /retry, DELETE /job,
# POST /purge, GET /stats with their auth, CORS and bad input; each step's effect checked on the
# documents (zerog info), the queues (zerog stats) and the index (zerog list).
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
write_echo_job
# fails its first run (error "boom <n>" and result 500), succeeds once retried
cat >"$JOBS/oops.lua" <<'LUA'
return { JOB_TYPE = "oops", QUEUE_NAME = "oops_q", MAX_ERRORS = 1,
  SCHEMA = { n = { type = "integer", default = 0 }, msg = { type = "string" } },
  run = function(self)
    if self.errorCount == 0 then self:raise_error_finish(500, self.msg or ("boom " .. self.n)) end
    return 200
  end }
LUA
# a type no worker of these tests runs: its jobs stay waiting (or delayed)
PARKED=$WORK/parked
mkdir -p "$PARKED"
cat >"$PARKED/parked.lua" <<'LUA'
return { JOB_TYPE = "parked", QUEUE_NAME = "parked_q", SCHEMA = { n = { type = "integer", default = 0 } },
  run = function() return 200 end }
LUA
cat >"$PARKED/other.lua" <<'LUA'
return { JOB_TYPE = "other", QUEUE_NAME = "parked_q", run = function() return 200 end }
LUA
park() { ZEROG_JOBS=$PARKED "$ZEROG" submit "$@"; }

# jl EXPR FILE: EXPR over each JSON line d of FILE, one result per line
cat >"$WORK/jl.lua" <<'LUA'
local cjson = require "cjson"
local f = assert(load("local d, null = ...; return " .. arg[1]))
for line in io.lines() do
  local v = f(cjson.decode(line), cjson.null)
  if v == cjson.null then v = "null" end
  if math.type(v) == "float" and v == math.floor(v) then v = math.tointeger(v) end
  print(v)
end
LUA
jl() { lua5.4 "$WORK/jl.lua" "$1" <"$2"; }
# jobs_of FILE: the uuids of a listing's job lines (not its {"next"} line)
jobs_of() { grep '"uuid"' "$1" | jl d.uuid /dev/stdin; }
run_until_idle() { "$ZEROG" worker --until-idle "$@" 2>/dev/null; }

# Two failed oops jobs, two succeeded echo jobs, three waiting parked jobs (one of type other).
setup() {
  flush
  F1=$("$ZEROG" submit oops '{"n": 1}') && F2=$("$ZEROG" submit oops '{"n": 2}') &&
  S1=$("$ZEROG" submit echo '{"n": 1}') && S2=$("$ZEROG" submit echo '{"n": 2}') &&
  run_until_idle && W1=$(park parked '{"n": 1}') && W2=$(park parked '{"n": 2}') &&
  W3=$(park other)
}

list_lines() {
  setup || return 1
  expect_status 0 "$ZEROG" list || return 1
  [ "$(grep -c . "$WORK/out")" = 7 ] && ! grep -q '"next"' "$WORK/out" &&
  grep "$F1" "$WORK/out" >"$WORK/f1" &&
  [ "$(jl '("%s %s %s %d %d %g"):format(d.type, d.queue, d.state, d.resultCode, d.errorCount, d.completeness)' "$WORK/f1")" = "oops oops_q failed 500 1 1" ] &&
  [ "$(jl d.lastError "$WORK/f1")" = "boom 1" ] &&
  jl 'd.createdAt:match("^%d%d%d%d%-%d%d%-%d%dT") and d.updatedAt:match("Z$") and "ok"' "$WORK/f1" | grep -qx ok &&
  grep "$W1" "$WORK/out" >"$WORK/w1" &&
  [ "$(jl '("%s %s %s %d"):format(d.state, d.resultCode == null, d.lastError == null, d.errorCount)' "$WORK/w1")" = "waiting true true 0" ] &&
  # newest first: the parked jobs entered their state last, other last of all
  [ "$(head -1 "$WORK/out" | jl d.uuid /dev/stdin)" = "$W3" ]
}
ok "list prints one JSON object per job with uuid, type, queue, state, completeness, resultCode, dates, lastError (null when none), errorCount, newest first" list_lines

list_filters() {
  expect_status 0 "$ZEROG" list --state failed && [ "$(jobs_of "$WORK/out" | sort)" = "$(printf '%s\n' "$F1" "$F2" | sort)" ] &&
  expect_status 0 "$ZEROG" list --state failed --state succeeded && [ "$(jobs_of "$WORK/out" | wc -l)" = 4 ] &&
  expect_status 0 "$ZEROG" list --state=waiting,succeeded && [ "$(jobs_of "$WORK/out" | wc -l)" = 5 ] &&
  expect_status 0 "$ZEROG" list --type echo && [ "$(jobs_of "$WORK/out" | sort)" = "$(printf '%s\n' "$S1" "$S2" | sort)" ] &&
  expect_status 0 "$ZEROG" list --queue parked_q && [ "$(jobs_of "$WORK/out" | wc -l)" = 3 ] &&
  expect_status 0 "$ZEROG" list --queue parked_q --type other && [ "$(jobs_of "$WORK/out")" = "$W3" ] &&
  expect_status 0 "$ZEROG" list --state running && [ ! -s "$WORK/out" ] &&
  expect_status 0 "$ZEROG" list --queue no_such_q && [ ! -s "$WORK/out" ] &&
  expect_status 0 "$ZEROG" list --since 1h && [ "$(jobs_of "$WORK/out" | wc -l)" = 7 ] &&
  expect_status 0 "$ZEROG" list --since "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" && [ ! -s "$WORK/out" ] &&
  expect_status 0 "$ZEROG" list --since "$(date -u -d '-1 day' +%Y-%m-%d)" && [ "$(jobs_of "$WORK/out" | wc -l)" = 7 ] &&
  expect_status 0 "$ZEROG" list --since "$(date -d '+1 hour' +%Y-%m-%dT%H:%M:%S.500%:z)" && [ ! -s "$WORK/out" ]
}
ok "list --state (repeated or a comma list), --type, --queue and --since (a duration ago, ISO 8601 with or without a zone) each narrow the listing" list_filters

# Pages of 7 through 60 waiting jobs while another process submits 40 more: every one of the 60
# is listed exactly once; no uuid appears twice.
paging() {
  flush
  for i in $(seq 60); do echo "{\"n\": $i}"; done >"$WORK/batch"
  ZEROG_JOBS=$PARKED "$ZEROG" submit parked --batch "$WORK/batch" >"$WORK/first" || return 1
  ( for _ in $(seq 40); do park parked >/dev/null || exit 1; done ) &
  local submitter=$! cursor="" pages=0
  : >"$WORK/seen"
  while :; do
    "$ZEROG" list --state waiting --limit 7 ${cursor:+--cursor "$cursor"} >"$WORK/page" || return 1
    jobs_of "$WORK/page" >>"$WORK/seen"
    pages=$((pages + 1))
    cursor=$(grep '"next"' "$WORK/page" | jl d.next /dev/stdin)
    [ -n "$cursor" ] || break
    [ "$(tail -1 "$WORK/page" | jl d.next /dev/stdin)" = "$cursor" ] || { echo "next is not the last line"; return 1; }
    [ $pages -lt 50 ] || return 1
  done
  wait $submitter || return 1
  local dup; dup=$(sort "$WORK/seen" | uniq -d)
  [ -z "$dup" ] || { echo "listed twice: $dup"; return 1; }
  local missing; missing=$(sort "$WORK/first" | comm -23 - <(sort "$WORK/seen"))
  [ -z "$missing" ] || { echo "skipped: $missing"; return 1; }
  [ $pages -ge 9 ]
}
ok "list --cursor pages through jobs while others are submitted: no job listed twice, none skipped; {\"next\"} is the last line" paging

page_end() {
  flush
  for i in 1 2 3 4; do park parked >/dev/null || return 1; done
  expect_status 0 "$ZEROG" list --limit 2 && [ "$(tail -1 "$WORK/out" | jl d.next /dev/stdin)" != nil ] &&
  local c; c=$(tail -1 "$WORK/out" | jl d.next /dev/stdin) &&
  expect_status 0 "$ZEROG" list --limit 2 --cursor "$c" && [ "$(jobs_of "$WORK/out" | wc -l)" = 2 ] &&
  # a page that holds the rest exactly may still say next; the one after is empty, without next
  c=$(grep '"next"' "$WORK/out" | jl d.next /dev/stdin) &&
  { [ -z "$c" ] || { expect_status 0 "$ZEROG" list --limit 2 --cursor "$c" && [ ! -s "$WORK/out" ]; }; } &&
  expect_status 0 "$ZEROG" list --limit 5 && ! grep -q '"next"' "$WORK/out"
}
ok "a page that is the last has no {\"next\"} line" page_end

table() {
  flush
  for i in 1 2 3; do park parked >/dev/null || return 1; done
  # script gives the command a terminal (stdout and stderr both go to it)
  script -qec "$ZEROG list --limit 2" /dev/null >"$WORK/tty" </dev/null || return 1
  grep -q '^UUID  *TYPE  *QUEUE  *STATE' "$WORK/tty" && grep -q 'parked  *parked_q  *waiting' "$WORK/tty" &&
  grep -q 'next page: --cursor [0-9]*:' "$WORK/tty" && ! grep -q '"uuid"' "$WORK/tty" &&
  script -qec "$ZEROG list --json --limit 2" /dev/null >"$WORK/tty" </dev/null && grep -q '^{"uuid"' "$WORK/tty" &&
  "$ZEROG" submit oops '{"msg": "red \u001b[31m alert\nforged line"}' >/dev/null && run_until_idle --queue oops_q &&
  script -qec "$ZEROG list --state failed" /dev/null </dev/null | tr -d '\r' >"$WORK/tty" &&
  grep -q 'oops_q  *failed .*red  \[31m alert$' "$WORK/tty" && ! grep -q $'\x1b' "$WORK/tty" && ! grep -q 'forged line' "$WORK/tty"
}
ok "on a terminal list prints a table (a job's error without control characters, first line only) and 'next page: --cursor C' (JSON lines with --json)" table

retry_one() {
  setup || return 1
  expect_status 0 "$ZEROG" retry "$F1" && grep -qx "retried job $F1" "$WORK/out" || return 1
  "$ZEROG" info "$F1" >"$WORK/info" && grep -q '"msg":"Retried by hand"' "$WORK/info" &&
  [ "$(json_get d.result "$WORK/info")" = -1 ] && [ "$(hget "$F1" errorCount)" = 1 ] &&
  "$ZEROG" stats --queue oops_q | grep -q '"oops_q":{"ready":1,' &&
  "$ZEROG" list --state waiting --type oops >"$WORK/l" && [ "$(jobs_of "$WORK/l")" = "$F1" ] &&
  "$ZEROG" list --state failed >"$WORK/l" && [ "$(jobs_of "$WORK/l")" = "$F2" ] &&
  run_until_idle --queue oops_q && [ "$(hget "$F1" resultCode)" = 200 ] &&
  "$ZEROG" list --state succeeded --type oops >"$WORK/l" && [ "$(jobs_of "$WORK/l")" = "$F1" ] &&
  expect_status 0 "$ZEROG" retry --json "$F2" && [ "$(json_get d.uuid "$WORK/out")" = "$F2" ]
}
ok "retry UUID puts a failed job back to waiting (event, errorCount kept, queued, listed as waiting) and it runs again" retry_one

retry_refused() {
  setup || return 1
  expect_status 2 "$ZEROG" retry "$S1" && grep -q "has not failed" "$WORK/err" &&
  expect_status 2 "$ZEROG" retry "$W1" &&
  expect_status 3 "$ZEROG" retry 00000000-0000-4000-8000-000000000000 && grep -q "no job" "$WORK/err" &&
  expect_status 2 "$ZEROG" retry && expect_status 2 "$ZEROG" retry "$F1" --state failed &&
  expect_status 2 "$ZEROG" retry --state succeeded && grep -q "only failed jobs" "$WORK/err" &&
  [ "$(hget "$S1" resultCode)" = 200 ] && [ "$(hget "$F1" resultCode)" = 500 ]
}
ok "retry of a job that has not failed is exit 2, of an unknown uuid exit 3; retry --state other than failed is exit 2" retry_refused

retry_bulk() {
  setup || return 1
  F3=$(park parked) && "$ZEROG" kill "$F3" >/dev/null || return 1 # a failed job of another type
  expect_status 0 "$ZEROG" retry --state failed --type oops && [ "$(cat "$WORK/out")" = '{"retried":2}' ] &&
  "$ZEROG" list --state failed >"$WORK/l" && [ "$(jobs_of "$WORK/l")" = "$F3" ] &&
  "$ZEROG" stats --by-type --queue oops_q | grep -q '"oops":{"waiting":2,"delayed":0,"running":0,"succeeded":0,"failed":0,' &&
  expect_status 0 "$ZEROG" retry --state failed --queue oops_q && [ "$(cat "$WORK/out")" = '{"retried":0}' ] &&
  expect_status 0 "$ZEROG" retry --state failed && [ "$(cat "$WORK/out")" = '{"retried":1}' ]
}
ok "retry --state failed [--type T] [--queue Q] retries every failed job that matches, page by page, and prints {\"retried\":N}" retry_bulk

retry_bulk_many() {
  flush
  for i in $(seq 250); do echo "{\"n\": $i}"; done >"$WORK/batch"
  "$ZEROG" submit oops --batch "$WORK/batch" >/dev/null && run_until_idle --concurrency 2 || return 1
  expect_status 0 "$ZEROG" retry --state failed && [ "$(cat "$WORK/out")" = '{"retried":250}' ] &&
  "$ZEROG" stats --queue oops_q | grep -q '"ready":250,'
}
ok "bulk retry goes past its page size (250 failed jobs, pages of 200): every one is retried once" retry_bulk_many

delete_jobs() {
  setup || return 1
  local unknown=00000000-0000-4000-8000-000000000000
  expect_status 3 "$ZEROG" delete "$F1" "$unknown" "$W1" || return 1
  grep -qx "deleted job $F1" "$WORK/out" && grep -qx "deleted job $W1" "$WORK/out" &&
  grep -q "no job $unknown" "$WORK/err" &&
  expect_status 3 "$ZEROG" info "$F1" && expect_status 3 "$ZEROG" info "$W1" &&
  [ "$(rcli EXISTS "$(jkey "$F1")")" = 0 ] &&
  "$ZEROG" stats --queue parked_q | grep -q '"parked_q":{"ready":2,' &&
  "$ZEROG" list >"$WORK/l" && [ "$(jobs_of "$WORK/l" | wc -l)" = 5 ] && ! grep -q "$F1\|$W1" "$WORK/l" &&
  expect_status 0 "$ZEROG" delete --json "$W2" && [ "$(json_get d.deleted "$WORK/out")" = true ] &&
  expect_status 2 "$ZEROG" delete
}
ok "delete UUID... removes each job's document, queue message and index entry; an unknown one is exit 3 after the others are deleted" delete_jobs

purge() {
  setup || return 1
  expect_status 0 "$ZEROG" purge --state succeeded --older-than 1h && [ "$(cat "$WORK/out")" = '{"deleted":0}' ] &&
  expect_status 0 "$ZEROG" purge --state succeeded --type oops && [ "$(cat "$WORK/out")" = '{"deleted":0}' ] &&
  # a host whose clock runs two hours ahead: the age is the server's (nothing is an hour old)
  expect_status 0 skewed +2h "$ZEROG" purge --state succeeded --older-than 1h &&
  [ "$(cat "$WORK/out")" = '{"deleted":0}' ] &&
  expect_status 0 "$ZEROG" purge --state succeeded && [ "$(cat "$WORK/out")" = '{"deleted":2}' ] &&
  expect_status 3 "$ZEROG" info "$S1" && expect_status 0 "$ZEROG" info "$F1" &&
  "$ZEROG" list >"$WORK/l" && [ "$(jobs_of "$WORK/l" | wc -l)" = 5 ] &&
  expect_status 0 "$ZEROG" purge --state failed,succeeded --queue oops_q --older-than 0s && [ "$(cat "$WORK/out")" = '{"deleted":2}' ] &&
  "$ZEROG" stats --by-type >"$WORK/s" && ! grep -q oops "$WORK/s" && ! grep -q '"echo"' "$WORK/s" &&
  "$ZEROG" stats --queue parked_q | grep -q '"ready":3,'
}
ok "purge --state succeeded|failed [--type] [--queue] [--older-than] deletes the finished jobs that match and prints {\"deleted\":N}; others stay; the age is by the store's clock, not a skewed host's" purge

purge_refused() {
  setup || return 1
  expect_status 2 "$ZEROG" purge && grep -q "is needed" "$WORK/err" &&
  expect_status 2 "$ZEROG" purge --state waiting && grep -q "only finished jobs" "$WORK/err" &&
  expect_status 2 "$ZEROG" purge --state failed --older-than 7 && grep -q "older-than takes a duration" "$WORK/err" &&
  expect_status 2 "$ZEROG" purge --state failed --older-than -1d &&
  "$ZEROG" list >"$WORK/l" && [ "$(jobs_of "$WORK/l" | wc -l)" = 7 ]
}
ok "purge without --state, with a state not finished, or a bad --older-than is exit 2 and deletes nothing" purge_refused

kill_bulk() {
  setup || return 1
  local D1; D1=$(park parked --delay 600) || return 1
  expect_status 0 "$ZEROG" kill --state waiting --type parked && [ "$(cat "$WORK/out")" = '{"killed":2}' ] &&
  [ "$(hget "$W1" resultCode)" = 410 ] && [ "$(hget "$W2" resultCode)" = 410 ] &&
  [ "$(hget "$W3" resultCode)" = -1 ] && [ "$(hget "$D1" resultCode)" = -1 ] &&
  "$ZEROG" stats --queue parked_q | grep -q '"parked_q":{"ready":1,"delayed":1,' &&
  "$ZEROG" list --state failed --queue parked_q >"$WORK/l" && [ "$(jobs_of "$WORK/l" | wc -l)" = 2 ] &&
  expect_status 0 "$ZEROG" kill --state delayed,waiting --queue parked_q && [ "$(cat "$WORK/out")" = '{"killed":2}' ] &&
  "$ZEROG" stats --queue parked_q | grep -q '"parked_q":{"ready":0,"delayed":0,' &&
  [ "$(hget "$F1" resultCode)" = 500 ] && [ "$(hget "$S1" resultCode)" = 200 ]
}
ok "kill --state waiting|delayed [--type] [--queue] kills every job that matches (result 410, off its queue) and prints {\"killed\":N}" kill_bulk

kill_refused() {
  setup || return 1
  expect_status 2 "$ZEROG" kill --state running && grep -q "waiting and/or --state delayed" "$WORK/err" &&
  expect_status 2 "$ZEROG" kill --state failed &&
  expect_status 2 "$ZEROG" kill "$W1" --state waiting && expect_status 2 "$ZEROG" kill --type parked &&
  expect_status 2 "$ZEROG" kill && [ "$(hget "$W1" resultCode)" = -1 ] &&
  expect_status 0 "$ZEROG" kill "$W1" && grep -qx "killed job $W1" "$WORK/out"
}
ok "bulk kill of running or finished states, or mixing a UUID with filters, is exit 2; kill UUID works as before" kill_refused

stats_by_type() {
  setup || return 1
  expect_status 0 "$ZEROG" stats --by-type &&
  [ "$(json_get '("%d%d%d%d%d"):format(d.oops_q.oops.failed, d.zerog_jobs.echo.succeeded, d.parked_q.parked.waiting, d.parked_q.other.waiting, d.parked_q.other.running)' "$WORK/out")" = 22210 ] &&
  expect_status 0 "$ZEROG" stats --by-type --queue oops_q && [ "$(json_get 'd.parked_q == nil and d.oops_q.oops.failed' "$WORK/out")" = 2 ] &&
  expect_status 0 "$ZEROG" stats --queue oops_q && grep -qx '{"oops_q":{"ready":0,"delayed":0,"reserved":0,"buried":0,"unclaimed":0}}' "$WORK/out"
}
ok "stats --by-type prints counts per queue, type and state ({} layout), --queue narrows it; stats without it is unchanged" stats_by_type

bad_input() {
  expect_status 2 "$ZEROG" list --limit 0 && grep -q -- "--limit must be between 1 and 1000" "$WORK/err" &&
  expect_status 2 "$ZEROG" list --limit 1001 && expect_status 2 "$ZEROG" list --limit 2.5 &&
  expect_status 2 "$ZEROG" list --limit abc &&
  expect_status 2 "$ZEROG" list --state bogus && grep -q "unknown state bogus" "$WORK/err" &&
  expect_status 2 "$ZEROG" list --state failed, &&
  expect_status 2 "$ZEROG" list --cursor junk && grep -q "bad cursor" "$WORK/err" &&
  expect_status 2 "$ZEROG" list --since yesterday && grep -q -- "--since takes ISO 8601" "$WORK/err" &&
  expect_status 2 "$ZEROG" list --since 2026-02-30 && expect_status 2 "$ZEROG" list --since 2026-11-29T25:00 &&
  expect_status 2 "$ZEROG" list --since 10 && expect_status 2 "$ZEROG" list extra
}
ok "list refuses a bad --limit, --state, --cursor or --since (exit 2, naming it)" bad_input

# ---- HTTP ----
SERVE_WORKERS=1
. spec/cli/serve.sh
error_has() { body_get d.error | grep -q -- "$1" || { echo "error: $(cat "$WORK/body")"; return 1; }; }

setup && start_serve || { echo "not ok - serve starts"; cat "$WORK/serve.log"; exit 1; }

get_jobs() {
  http GET /jobs && status_is 200 && [ "$(body_get '#d.jobs .. " " .. tostring(d.next == require("cjson").null)')" = "7 true" ] &&
  http GET "/jobs?state=failed&state=succeeded" && status_is 200 && [ "$(body_get '#d.jobs')" = 4 ] &&
  http GET "/jobs?state=waiting,failed&queue=parked_q" && status_is 200 && [ "$(body_get '#d.jobs')" = 3 ] &&
  # (both finish in one worker's run, often in the same ms, and entries of one ms are ordered by
  # uuid: either may come first)
  http GET "/jobs?type=oops&state=failed" && status_is 200 &&
  # (F1 and F2 may finish within one millisecond, where the order is by uuid: either comes first)
  [ "$(body_get '("%s %s %d"):format(d.jobs[1].type, d.jobs[1].state, d.jobs[1].resultCode)')" = "oops failed 500" ] &&
  case "$(body_get '#d.jobs .. " " .. d.jobs[1].lastError .. " " .. d.jobs[2].lastError')" in
    "2 boom 1 boom 2" | "2 boom 2 boom 1") ;;
    *) false ;;
  esac &&
  http GET "/jobs?since=1h" && status_is 200 && [ "$(body_get '#d.jobs')" = 7 ] &&
  http GET "/jobs?since=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" && status_is 200 && [ "$(body_get '#d.jobs')" = 0 ]
}
ok "GET /jobs answers {\"jobs\": [...], \"next\": null} filtered by state (repeated or a comma list), type, queue and since" get_jobs

get_jobs_pages() {
  local cursor="" seen=""
  for _ in 1 2 3 4 5; do
    http GET "/jobs?limit=3${cursor:+&cursor=$cursor}" && status_is 200 || return 1
    seen="$seen $(body_get 'table.concat((function() local t = {} for _, j in ipairs(d.jobs) do t[#t + 1] = j.uuid end return t end)(), " ")')"
    cursor=$(body_get 'd.next ~= require("cjson").null and d.next or ""')
    [ -n "$cursor" ] || break
  done
  [ "$(echo $seen | tr ' ' '\n' | sort -u | wc -l)" = 7 ] && [ "$(echo $seen | wc -w)" = 7 ]
}
ok "GET /jobs?limit=N&cursor=C pages through every job once" get_jobs_pages

get_jobs_bad() {
  http GET "/jobs?state=bogus" && status_is 400 && error_has "unknown state" &&
  http GET "/jobs?limit=1001" && status_is 400 && error_has "limit must be a whole number from 1 to 1000" &&
  http GET "/jobs?limit=0" && status_is 400 &&
  http GET "/jobs?cursor=junk" && status_is 400 && error_has "bad cursor" &&
  http GET "/jobs?since=later" && status_is 400 && error_has "since takes" &&
  http GET "/jobs?color=red" && status_is 400 && error_has "unknown parameter color" &&
  http GET "/jobs?type=a&type=b" && status_is 400 && error_has "given twice" &&
  http POST /jobs && status_is 405 && grep -qi '^Allow: GET' "$WORK/headers"
}
ok "GET /jobs with an unknown state, limit over 1000, a malformed cursor, a bad since or an unknown parameter is 400 naming it" get_jobs_bad

post_retry() {
  http POST "/retry/$F1" && status_is 200 && [ "$(body_get 'tostring(d.retried) .. d.uuid')" = "true$F1" ] &&
  "$ZEROG" info "$F1" | grep -q '"msg":"Retried by hand"' &&
  http POST "/retry/$S1" && status_is 409 && error_has "has not failed" &&
  http POST /retry/00000000-0000-4000-8000-000000000000 && status_is 404 &&
  http POST /retry/nope && status_is 404 &&
  finished() { [ "$(hget "$F1" resultCode)" = 200 ]; } && wait_for 10 finished # serve's worker runs it
}
ok "POST /retry/{uuid} answers 200 {\"retried\": true} and the job runs again; 409 when it has not failed; 404 for an unknown uuid" post_retry

delete_job() {
  http DELETE "/job/$S2" && status_is 200 && [ "$(body_get 'tostring(d.deleted) .. d.uuid')" = "true$S2" ] &&
  expect_status 3 "$ZEROG" info "$S2" &&
  http DELETE "/job/$S2" && status_is 404 &&
  http DELETE /job && status_is 404 &&
  http PUT "/job/$S1" && status_is 405 && grep -qi '^Allow: POST, DELETE' "$WORK/headers" &&
  http OPTIONS "/job/$S1" && status_is 204 && grep -qi '^Access-Control-Allow-Methods:.*DELETE' "$WORK/headers"
}
ok "DELETE /job/{uuid} answers 200 and the job is gone, then 404; CORS allows DELETE" delete_job

post_purge() {
  http POST "/purge?state=succeeded&olderThan=1h" && status_is 200 && [ "$(body_get d.deleted)" = 0 ] &&
  http POST "/purge?state=succeeded&type=echo" && status_is 200 && [ "$(body_get d.deleted)" = 1 ] &&
  http POST /purge '{"state": ["succeeded", "failed"], "queue": "oops_q", "olderThan": "0s"}' && status_is 200 &&
  [ "$(body_get d.deleted)" = 2 ] && expect_status 3 "$ZEROG" info "$F1" &&
  http POST /purge '{"state": "waiting"}' && status_is 400 && error_has "only finished jobs" &&
  http POST /purge && status_is 400 &&
  http POST "/purge?state=failed" '{"state": "failed"}' && status_is 400 && error_has "not both" &&
  http POST /purge '{"state": 5}' && status_is 400 && error_has "state must be a string" &&
  http POST /purge '{"state": "failed", "colour": "red"}' && status_is 400 && error_has "unknown parameter colour" &&
  http POST /purge '{"state": "failed"' && status_is 400 && error_has "not a JSON object" &&
  http POST "/purge?state=failed&olderThan=soon" && status_is 400 && error_has "olderThan takes a duration" &&
  "$ZEROG" list >"$WORK/l" && [ "$(jobs_of "$WORK/l" | wc -l)" = 3 ]
}
ok "POST /purge takes its filters in the query or a JSON body and answers {\"deleted\": n}; bad filters are 400 and delete nothing" post_purge

get_stats() {
  http GET /stats && status_is 200 && [ "$(body_get '("%d%d"):format(d.parked_q.parked.waiting, d.parked_q.other.waiting)')" = 21 ] &&
  http GET "/stats?queue=parked_q" && status_is 200 && [ "$(body_get 'd.parked_q.parked.failed')" = 0 ] &&
  http GET "/stats?state=failed" && status_is 400
}
ok "GET /stats answers counts per queue, type and state; ?queue= narrows it" get_stats
stop_serve

auth() {
  start_serve --auth-token s3cret || return 1
  local u; u=$(park parked) || return 1
  for route in "GET /jobs" "GET /stats" "POST /purge?state=failed" "POST /retry/$u" "DELETE /job/$u"; do
    http $route && status_is 401 || return 1
  done
  http GET /jobs '' -H 'Authorization: Bearer s3cret' && status_is 200 &&
  http GET /stats '' -H 'Authorization: Bearer s3cret' && status_is 200 &&
  http POST "/retry/$u" '' -H 'Authorization: Bearer s3cret' && status_is 409 &&
  http DELETE "/job/$u" '' -H 'Authorization: Bearer s3cret' && status_is 200
}
ok "with --auth-token the new routes want the bearer token (401 without it)" auth
stop_serve

# On a redis-server of its own, stopped while serve runs and started again.
outage() {
  . spec/support/redis.sh
  local own=$WORK/own-redis shared=$ZEROG_SPEC_REDIS
  redis_start "$own" || return 1
  export ZEROG_SPEC_REDIS=$shared
  ZEROG_STORE=unix://$own/redis.sock start_serve || { redis_stop "$own"; return 1; }
  local u=00000000-0000-4000-8000-000000000000 rc=0
  redis_stop "$own"
  down() { http GET /health; status_is 503 >/dev/null; }
  wait_for 5 down || rc=1
  for route in "GET /jobs" "GET /stats" "POST /purge?state=failed" "POST /retry/$u" "DELETE /job/$u"; do
    [ $rc = 0 ] && http $route "" -m 5 && status_is 503 && error_has "the store is unavailable" &&
    grep -qi '^Retry-After: 1' "$WORK/headers" || rc=1
  done
  redis_start "$own" && export ZEROG_SPEC_REDIS=$shared || rc=1
  back() { http GET /jobs; status_is 200 >/dev/null; }
  [ $rc = 0 ] && wait_for 10 back && [ "$(body_get '#d.jobs')" = 0 ] || rc=1
  stop_serve
  redis_stop "$own"
  return $rc
}
ok "while the store is down the new routes answer 503 (Retry-After: 1) at once, and work again when it is back" outage

tap_done
