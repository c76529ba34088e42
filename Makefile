# ZeroG build. `make` builds build/zerog; `make run` runs an example job; `make test` runs the
# whole suite (installing what is missing first); `make test SAN=1` runs it under ASan+UBSan;
# `make bench` measures; `make lint`, `make valgrind` and `make fuzz` are the rest of CI (.ci/run).
# Build outputs go to build/ (build/san/ with SAN=1, build/fuzz/ for the fuzz targets).

CC      ?= cc
SAN     ?=
BUILD   := build$(if $(SAN),/san)
LUA     ?= lua5.4

DEPS_STAMP := build/.deps-ok
CI_DEPS_STAMP := build/.ci-deps-ok
BROWSER_DEPS_STAMP := build/.browser-deps-ok
PKG_CFLAGS  = $(shell pkg-config --cflags lua5.4 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := $(if $(SAN),-O1 $(SANFLAGS),-O2)
CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -fPIC -fvisibility=hidden \
           $(WARN) $(OPT) $(EXTRA_CFLAGS)
CPPFLAGS = -Ihost -I$(BUILD)/gen $(PKG_CFLAGS)
LDFLAGS := $(if $(SAN),$(SANFLAGS))
# Programs link the sanitizer runtimes statically: with the shared ones, LeakSanitizer's check at
# exit scans the .bss of both libasan and libubsan (12 MB, each page faulted in), which cost every
# instrumented process ~45 ms; static, one copy is scanned (~13 ms less a process, and the suite
# under SAN=1 starts thousands). Shared objects keep the shared runtimes (busted preloads them),
# and so does zerog-shared-rt, the CLI the tests run under faketime's preloaded library (with the
# runtimes static, its allocator deadlocks there: spec/cli/tap.sh, skewed).
EXE_LDFLAGS := $(if $(SAN),$(SANFLAGS) -static-libasan -static-libubsan)
LIBS    := -l:liblua5.4-cjson.a -llua5.4 -lhiredis -luuid -lm -pthread

VERSION := 0.1.0
SOMAJOR := 0
PREFIX  ?= /usr/local
LIB_SRC := $(filter-out host/cli/%,$(wildcard host/*.c))
# lua/meta holds editor annotations (LuaLS), not runtime code: installed, not embedded
LUA_SRC := $(shell find lua -name '*.lua' -not -path 'lua/meta/*' | sort)
GEN_SRC := $(BUILD)/gen/lua_modules.c
# the dashboard's page (host/cli/web), compiled into build/zerog (host/tools/embed.lua)
WEB_SRC := $(sort $(wildcard host/cli/web/*))
WEB_GEN := $(BUILD)/gen/web_assets.c
LIB_OBJ := $(patsubst host/%.c,$(BUILD)/obj/%.o,$(LIB_SRC)) $(BUILD)/obj/lua_modules.o
CLI_OBJ := $(patsubst host/%.c,$(BUILD)/obj/%.o,$(wildcard host/cli/*.c))
C_TESTS := $(patsubst spec/c/%.c,$(BUILD)/spec/%,$(wildcard spec/c/test_*.c))

SONAME  := libzerog.so.$(SOMAJOR)
SHLIB   := $(BUILD)/libzerog.so.$(VERSION)
SHLIBS  := -llua5.4 -llua5.4-cjson -lhiredis -luuid -lm -pthread

.PHONY: all deps run test bench clean lint fmt install fuzz fuzz-build valgrind
all: $(BUILD)/zerog $(BUILD)/libzerog.a $(SHLIB) $(BUILD)/spec/zerog_spec.so $(C_TESTS) \
     $(if $(SAN),$(BUILD)/zerog-shared-rt)

$(DEPS_STAMP): deps/install
	@./deps/install
	@mkdir -p build && touch $@

deps: $(DEPS_STAMP)

# The browser test's packages (chromium, nodejs, npm): asked for by `make test` only, and not
# required: where they cannot be installed, spec/browser/dashboard_test.sh skips, saying why.
$(BROWSER_DEPS_STAMP): deps/install | $(DEPS_STAMP)
	@./deps/install browser || echo "deps: the browser test's packages could not be installed: it will skip" >&2
	@mkdir -p build && touch $@

$(CI_DEPS_STAMP): deps/install | $(DEPS_STAMP)
	@./deps/install ci
	@mkdir -p build && touch $@

# The runtime's modules are embedded as bytecode of the interpreter that runs embed.lua: made
# again when it changes (an upgrade), and checked against lua.h's release when compiled.
LUA_BIN := $(shell command -v $(LUA) 2>/dev/null)
LUA_H   := $(firstword $(wildcard /usr/include/lua5.4/lua.h))
$(GEN_SRC): host/tools/embed.lua $(LUA_SRC) $(LUA_BIN) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(LUA) host/tools/embed.lua lua $@ lua $(LUA_SRC)

$(BUILD)/obj/lua_modules.o: $(GEN_SRC) host/lua_modules.h $(LUA_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(WEB_GEN): host/tools/embed.lua $(WEB_SRC) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(LUA) host/tools/embed.lua web $@ host/cli/web $(WEB_SRC)

$(BUILD)/obj/web_assets.o: $(WEB_GEN) host/cli/web_assets.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Ihost/cli $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: host/%.c $(wildcard host/*.h host/cli/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libzerog.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The shared library exports the public API only (zerog.h marks it ZG_API; the rest is hidden).
# Debian's liblua5.4-cjson.a is not PIC, so it links the shared cjson library.
$(SHLIB): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined $(LDFLAGS) -o $@ $^ $(SHLIBS)
	ln -sf libzerog.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libzerog.so

# zerog.pc and the systemd unit are written at install time, for the PREFIX given then.
install: $(BUILD)/zerog $(BUILD)/libzerog.a $(SHLIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/share/zerog/lua
	install -m 755 $(BUILD)/zerog $(DESTDIR)$(PREFIX)/bin/zerog
	install -m 644 host/zerog.h $(DESTDIR)$(PREFIX)/include/zerog.h
	install -m 644 $(BUILD)/libzerog.a $(DESTDIR)$(PREFIX)/lib/libzerog.a
	install -m 755 $(SHLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libzerog.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libzerog.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' host/zerog.pc.in \
	  >$(DESTDIR)$(PREFIX)/lib/pkgconfig/zerog.pc
	install -m 644 lua/meta/zerog.lua $(DESTDIR)$(PREFIX)/share/zerog/lua/zerog.lua
	sed -e 's|/usr/local/bin/zerog|$(PREFIX)/bin/zerog|' deps/zerog.service \
	  >$(DESTDIR)$(PREFIX)/share/zerog/zerog.service

$(BUILD)/zerog: $(CLI_OBJ) $(BUILD)/obj/web_assets.o $(BUILD)/libzerog.a
	$(CC) $(EXE_LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/obj/web_assets.o $(BUILD)/libzerog.a $(LIBS) -lmicrohttpd

$(BUILD)/zerog-shared-rt: $(CLI_OBJ) $(BUILD)/obj/web_assets.o $(BUILD)/libzerog.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/obj/web_assets.o $(BUILD)/libzerog.a $(LIBS) -lmicrohttpd

# The Lua module the busted specs drive the host through (a client of the public API only).
# Debian's liblua5.4-cjson.a is not PIC, so shared objects link the shared cjson library.
$(BUILD)/spec/zerog_spec.so: spec/support/host_module.c $(BUILD)/libzerog.a host/zerog.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $< $(BUILD)/libzerog.a $(LDFLAGS) -llua5.4-cjson -lhiredis -luuid -lm -pthread

$(BUILD)/spec/test_%: spec/c/test_%.c spec/c/check.h $(BUILD)/libzerog.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Ispec/c -o $@ $< $(BUILD)/libzerog.a $(EXE_LDFLAGS) $(LIBS)

run: $(BUILD)/zerog
	$(BUILD)/zerog run jobs/waste_time.lua '{"delay": 5}'

test: all $(BROWSER_DEPS_STAMP)
	@BUILD=$(BUILD) SAN=$(SAN) spec/run

# make bench: ZeroG and BullMQ side by side (spec/bench/run; N, RUNS, ZEROG_PROCS, ... there).
# Then what finding jobs costs as the store grows (spec/bench/index), RATE and GROUP under load
# (spec/bench/limits_run), and one hot queue on a 3-master Redis Cluster with SHARDS = 1 and 3
# (spec/bench/cluster_run: N, RUNS, WORKER_PROCS, WORKER_CONCURRENCY there). Its C helpers (verify,
# latency, bench_append, index_scale) are clients of the public API only (index_scale also reads
# Redis's own figures: INFO, MEMORY USAGE, SLOWLOG).
BENCH_BIN := $(patsubst %,$(BUILD)/bench/%,bench_append verify latency index_scale)
BENCH_BIN += $(BUILD)/bench/limits # [limits] RATE and GROUP under load (spec/bench/limits_run)
$(BUILD)/bench/%: spec/bench/%.c $(BUILD)/libzerog.a host/zerog.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libzerog.a $(EXE_LDFLAGS) $(LIBS)

bench: $(BUILD)/zerog $(BENCH_BIN)
	@BUILD=$(BUILD) spec/bench/run
	@BUILD=$(BUILD) spec/bench/index
	@BUILD=$(BUILD) spec/bench/limits_run
	@BUILD=$(BUILD) spec/bench/cluster_run

# ---- fuzzing: libFuzzer targets (spec/fuzz/fuzz_*.c) under ASan+UBSan, built with clang ----
# The library and the command's objects are built again with clang (build/fuzz/obj); the
# command's main() is renamed so libFuzzer's runs. `make fuzz` runs each target for FUZZ_SECONDS
# (spec/fuzz/run: seed corpus in spec/fuzz/<target>/, what it finds in build/fuzz/corpus/).
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 $(WARN) $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link
FUZZ_OBJ     := $(patsubst host/%.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRC) $(wildcard host/cli/*.c)) \
                $(FUZZ_DIR)/obj/lua_modules.o $(FUZZ_DIR)/obj/web_assets.o
FUZZ_TARGETS := $(patsubst spec/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard spec/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60

$(FUZZ_DIR)/obj/%.o: host/%.c $(wildcard host/*.h host/cli/*.h) | $(DEPS_STAMP) $(CI_DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/cli/main.o: FUZZ_CFLAGS += -Dmain=zerog_main -Wno-missing-prototypes

$(FUZZ_DIR)/obj/lua_modules.o: $(GEN_SRC) host/lua_modules.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/web_assets.o: $(WEB_GEN) host/cli/web_assets.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Ihost/cli $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_DIR)/libzerog_fuzz.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_%: spec/fuzz/fuzz_%.c $(wildcard spec/fuzz/*.h) $(FUZZ_DIR)/libzerog_fuzz.a
	$(FUZZ_CC) $(CPPFLAGS) -Ihost/cli $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
	  $(FUZZ_DIR)/libzerog_fuzz.a $(LIBS) -lmicrohttpd

# Runs a command under a storm of SIGALRM (spec/fuzz/run replays each target's seeds under it).
$(FUZZ_DIR)/signal_storm: spec/fuzz/signal_storm.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -D_POSIX_C_SOURCE=200809L -O1 $(WARN) -o $@ $<

# Records the seed replies of fuzz_redis from a real Redis (see spec/fuzz/fuzz_redis.c).
$(FUZZ_DIR)/capture_redis: spec/fuzz/fuzz_redis.c spec/fuzz/json_check.h $(BUILD)/libzerog.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DFUZZ_CAPTURE -o $@ $< $(BUILD)/libzerog.a $(EXE_LDFLAGS) $(LIBS)

fuzz-build: $(FUZZ_TARGETS) $(FUZZ_DIR)/signal_storm

fuzz: fuzz-build
	@FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) spec/fuzz/run

# ---- valgrind: the C tests and `zerog run` of the example jobs under memcheck, on the build
# without sanitizers (spec/support/valgrind.sh).
valgrind: | $(CI_DEPS_STAMP)
	@if [ -n "$(SAN)" ]; then echo "make valgrind runs the build without sanitizers: drop SAN=1"; exit 2; fi
	@$(MAKE) --no-print-directory all >/dev/null
	@BUILD=$(BUILD) spec/support/valgrind.sh

# ---- lint: cppcheck and clang-tidy (.clang-tidy) over host/, host/cli/ and spec/fuzz/, with the
# flags of the real build (build/compile_commands.json, written here). Prints nothing when clean.
# One file per clang-tidy process: with several, clang 14's analyzer reports va_list false alarms.
LINT_SRC := $(wildcard host/*.c host/cli/*.c spec/fuzz/*.c)
build/compile_commands.json: Makefile $(LINT_SRC) | $(DEPS_STAMP) $(CI_DEPS_STAMP)
	@mkdir -p build
	@{ echo "["; sep=""; for f in $(LINT_SRC); do \
	    printf '%s{"directory": "%s", "file": "%s", "command": "%s %s %s -Ihost/cli -c %s"}\n' \
	      "$$sep" "$(CURDIR)" "$$f" "$(CC)" "$(CPPFLAGS)" "$(filter-out $(SANFLAGS),$(CFLAGS))" "$$f"; \
	    sep=","; done; echo "]"; } >$@

lint: build/compile_commands.json $(GEN_SRC) $(WEB_GEN)
	@cppcheck --quiet --error-exitcode=1 --std=c11 --inline-suppr \
	  --enable=warning,performance,portability --suppress=missingIncludeSystem \
	  -Ihost -Ihost/cli -I$(BUILD)/gen host spec/fuzz
	@printf '%s\n' $(LINT_SRC) | xargs -P 2 -n 1 clang-tidy --quiet -p build 2>/dev/null \
	  | tee build/lint.log; [ ! -s build/lint.log ]

fmt:
	clang-format -i host/*.c host/*.h host/cli/*.c spec/c/*.c spec/c/*.h spec/support/*.c

clean:
	rm -rf build
