#!/usr/bin/env bash
# The systemd unit for `zerog serve` (deps/zerog.service): systemd accepts every line of it, it
# gives running jobs their grace on stop, and `make install` points it at the installed command.
# Skipped where systemd-analyze is missing.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
BUILD=${ZEROG_BUILD:-build}
UNIT=deps/zerog.service

if ! command -v systemd-analyze >/dev/null; then
  echo "ok 1 # skip systemd-analyze is not installed"
  echo "1..1"
  exit 0
fi

# verify UNIT_FILE: systemd-analyze verify exits 0 even for lines it ignores: no output either
verify() {
  systemd-analyze verify "$1" >"$WORK/verify" 2>&1 || { cat "$WORK/verify"; return 1; }
  [ ! -s "$WORK/verify" ] || { cat "$WORK/verify"; return 1; }
}
unit_verifies() {
  # verify checks that ExecStart exists: point it at the built command
  sed "s|/usr/local/bin/zerog|$(readlink -f "$BUILD/zerog")|" "$UNIT" >"$WORK/zerog.service" &&
  verify "$WORK/zerog.service"
}
ok "systemd-analyze verify accepts the unit without a warning" unit_verifies

verify_catches() {
  sed -e "s|/usr/local/bin/zerog|$(readlink -f "$BUILD/zerog")|" -e 's/^KillMode=mixed/KillMode=bogus/' "$UNIT" \
    >"$WORK/bad.service" && ! verify "$WORK/bad.service" >/dev/null
}
ok "the check would catch a bad line (KillMode=bogus)" verify_catches

setting() { sed -n "s/^$1=//p" "$UNIT"; }
hardening() {
  [ "$(setting Restart)" = on-failure ] && [ "$(setting KillMode)" = mixed ] &&
  [ "$(setting NoNewPrivileges)" = yes ] && [ "$(setting ProtectSystem)" = strict ] &&
  [ "$(setting ExecReload)" = '/bin/kill -HUP $MAINPID' ] && setting ExecStart | grep -q '^/usr/local/bin/zerog serve '
}
ok "the unit restarts on failure, stops the supervisor first (KillMode=mixed), reloads on SIGHUP, is hardened" hardening

stop_outlasts_grace() {
  local grace timeout
  grace=$(setting ExecStart | sed -n 's/.*--grace \([0-9]*\).*/\1/p')
  timeout=$(setting TimeoutStopSec)
  [ -n "$grace" ] && [ -n "$timeout" ] && [ "$timeout" -gt "$grace" ] ||
    { echo "TimeoutStopSec=$timeout, --grace $grace"; return 1; }
}
ok "TimeoutStopSec is longer than serve's --grace" stop_outlasts_grace

installed_unit() {
  local prefix=$WORK/prefix
  make -s install BUILD="$BUILD" PREFIX="$prefix" SAN="${SAN:-}" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
  grep -q "^ExecStart=$prefix/bin/zerog serve " "$prefix/share/zerog/zerog.service" &&
  verify "$prefix/share/zerog/zerog.service"
}
ok "make install writes the unit with ExecStart at PREFIX/bin/zerog, and it verifies" installed_unit

tap_done
