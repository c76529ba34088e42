#!/usr/bin/env bash
# Embedding: `make install` puts the header, both libraries, zerog.pc and the command under a
# prefix; the README's embedding steps, run as written with a non-standard prefix, build a program
# with pkg-config that runs without LD_LIBRARY_PATH, on the in-memory store and on Redis. It links
# statically too, and the libraries export only zg_*.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
BUILD=${ZEROG_BUILD:-build}
REPO=$(pwd)
PREFIX=$WORK/prefix
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
SANFLAGS=
[ -n "${SAN:-}" ] && SANFLAGS="-fsanitize=address,undefined"
pc() { PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig pkg-config "$@"; }

install_prefix() {
  make -s install BUILD="$BUILD" PREFIX="$PREFIX" SAN="${SAN:-}" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
  for f in bin/zerog include/zerog.h lib/libzerog.a lib/libzerog.so lib/libzerog.so.0 lib/pkgconfig/zerog.pc \
           share/zerog/lua/zerog.lua; do
    [ -e "$PREFIX/$f" ] || { echo "missing $f"; return 1; }
  done
  [ "$(pc --modversion zerog)" = 0.1.0 ] && pc --cflags zerog | grep -q -- "-I$PREFIX/include"
}
ok "make install PREFIX=... installs the header, the libraries, zerog.pc and the command" install_prefix

# The README's lines between the "embed steps" marker and the end of the code block after it.
readme_steps() {
  awk '/^<!-- embed steps/ { on = 1; next } on && /^```sh/ { next } on && /^```$/ { exit } on' README.md
}
# Those lines for this run: its prefix, make run in the clone (with this build), the Redis of the
# suite, the sanitizers when the build has them; comments dropped.
steps_script() {
  readme_steps | sed -e 's/  *#.*$//' -e "s|/tmp/x|$PREFIX|g" \
    -e "s|^make install |make -s -C $REPO install BUILD=$BUILD SAN=${SAN:-} |" \
    -e "s|^cc |cc $SANFLAGS |" -e "s|unix:///run/redis/redis.sock|$REDIS_URL|"
}
readme_steps_work() {
  steps_script >"$WORK/steps.sh"
  grep -q "^export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig$" "$WORK/steps.sh" &&
  grep -q -- "-Wl,-rpath,$PREFIX/lib -o example$" "$WORK/steps.sh" || { echo "steps:"; cat "$WORK/steps.sh"; return 1; }
  flush
  mkdir -p "$WORK/app" && cp spec/embed/example.c "$WORK/app/" &&
  (cd "$WORK/app" && bash -e "$WORK/steps.sh") >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/steps.sh" "$WORK/err"; return 1; }
  # the two runs print what the README's comments say, the second one on Redis
  [ "$(grep -c '^{"area":13.5,"unit":"m2"}$' "$WORK/out")" = 2 ] &&
  readme_steps | grep -q '^./example  *# {"area":13.5,"unit":"m2"}$' &&
  [ "$(reval "return #redis.call('KEYS', 'zerog:job:*')")" = 1 ] &&
  readelf -d "$WORK/app/example" | grep -q 'NEEDED.*libzerog.so.0' &&
  readelf -d "$WORK/app/example" | grep -q "R.*PATH.*$PREFIX/lib"
}
ok "the README's embedding steps, as written, build and run the example with a non-standard PREFIX" readme_steps_work

without_rpath() {
  # shellcheck disable=SC2046
  cc $SANFLAGS -o "$WORK/example" spec/embed/example.c $(pc --cflags --libs zerog) || return 1
  # the loader does not know the prefix (unless a libzerog is installed system-wide) ...
  { ldconfig -p | grep -q libzerog.so.0 || ! "$WORK/example" >/dev/null 2>&1; } &&
  LD_LIBRARY_PATH=$PREFIX/lib "$WORK/example" >"$WORK/out" 2>"$WORK/err" && # ... unless told
  [ "$(cat "$WORK/out")" = '{"area":13.5,"unit":"m2"}' ]
}
ok "without the rpath the program needs LD_LIBRARY_PATH, as the README says" without_rpath

build_static() {
  # shellcheck disable=SC2046
  cc $SANFLAGS -o "$WORK/example_static" spec/embed/example.c $(pc --cflags zerog) "$PREFIX/lib/libzerog.a" \
    $(pc --libs-only-l --static zerog | sed 's/-lzerog//') &&
  ! readelf -d "$WORK/example_static" | grep -q 'libzerog' && "$WORK/example_static" | grep -q '"area":13.5'
}
ok "it links statically with libzerog.a and pkg-config --static" build_static

only_zg_symbols() {
  local so="$PREFIX/lib/libzerog.so.0.1.0"
  objdump -p "$so" | grep -q 'SONAME *libzerog.so.0' || { echo "no versioned soname"; return 1; }
  local leaked
  leaked=$(nm -D --defined-only "$so" | awk '{ print $3 }' | grep -v '^zg_')
  [ -z "$leaked" ] || { echo "the shared library exports: $leaked"; return 1; }
  # (an ASan build adds __odr_asan.<name> markers for our own globals)
  leaked=$(nm -g --defined-only "$PREFIX/lib/libzerog.a" | awk 'NF == 3 { print $3 }' | grep -v '^zg_' |
    grep -v '^__odr_asan\.zg_')
  [ -z "$leaked" ] || { echo "the static library defines: $leaked"; return 1; }
  # every function the header declares is exported
  local declared exported
  declared=$(grep -E '^ZG_API ' host/zerog.h | grep -oE 'zg_[a-z_]+\(' | tr -d '(' | sort)
  exported=$(nm -D --defined-only "$so" | awk '{ print $3 }' | sort)
  [ "$declared" = "$exported" ] || { diff <(echo "$declared") <(echo "$exported"); return 1; }
}
ok "the libraries export only zg_* symbols: the public API, all of it" only_zg_symbols

installed_command() { "$PREFIX/bin/zerog" version | grep -q "zerog 0.1.0"; }
ok "the installed command runs" installed_command

tap_done
