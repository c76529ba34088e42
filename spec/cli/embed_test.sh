#!/usr/bin/env bash
# Embedding: `make install` puts the header, both libraries, zerog.pc and the command under a
# prefix; a program built with pkg-config against it registers a C function, runs a job that calls
# it and prints the data, on the in-memory store and on Redis. The libraries export only zg_*.
cd "$(dirname "$0")/../.." || exit 1
. spec/cli/tap.sh
. spec/cli/redis.sh
BUILD=${ZEROG_BUILD:-build}
PREFIX=$WORK/prefix
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
SANFLAGS=
[ -n "${SAN:-}" ] && SANFLAGS="-fsanitize=address,undefined"

install_prefix() {
  make -s install BUILD="$BUILD" PREFIX="$PREFIX" SAN="${SAN:-}" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log"; return 1; }
  for f in bin/zerog include/zerog.h lib/libzerog.a lib/libzerog.so lib/libzerog.so.0 lib/pkgconfig/zerog.pc \
           share/zerog/lua/zerog.lua; do
    [ -e "$PREFIX/$f" ] || { echo "missing $f"; return 1; }
  done
  [ "$(pkg-config --modversion zerog)" = 0.1.0 ] && pkg-config --cflags zerog | grep -q -- "-I$PREFIX/include"
}
ok "make install PREFIX=... installs the header, the libraries, zerog.pc and the command" install_prefix

build_shared() {
  # shellcheck disable=SC2046
  cc $SANFLAGS -o "$WORK/example" spec/embed/example.c $(pkg-config --cflags --libs zerog) &&
  readelf -d "$WORK/example" | grep -q 'NEEDED.*libzerog.so.0'
}
ok "an embedding program builds with pkg-config --cflags --libs zerog" build_shared

run_mem() {
  LD_LIBRARY_PATH=$PREFIX/lib "$WORK/example" >"$WORK/out" 2>"$WORK/err" &&
  [ "$(cat "$WORK/out")" = '{"area":13.5,"unit":"m2"}' ]
}
ok "the example runs a job that calls its C function, on the in-memory store" run_mem

run_redis() {
  flush
  LD_LIBRARY_PATH=$PREFIX/lib "$WORK/example" "$REDIS_URL" >"$WORK/out" 2>"$WORK/err" &&
  [ "$(cat "$WORK/out")" = '{"area":13.5,"unit":"m2"}' ] && [ "$(rcli EVAL "return #redis.call('KEYS', 'zerog:job:*')" 0)" = 1 ]
}
ok "the example runs the same on Redis" run_redis

build_static() {
  # shellcheck disable=SC2046
  cc $SANFLAGS -o "$WORK/example_static" spec/embed/example.c $(pkg-config --cflags zerog) "$PREFIX/lib/libzerog.a" \
    $(pkg-config --libs-only-l --static zerog | sed 's/-lzerog//') &&
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
