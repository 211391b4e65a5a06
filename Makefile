# dealmap — `make` builds, `make run` serves the demo company, `make test` runs every test.
# SAN=1 builds everything with AddressSanitizer and UndefinedBehaviorSanitizer.

CC      ?= cc
PKGS    := libmicrohttpd jansson sqlite3 libpq libsodium xlsxwriter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -pthread \
           -D_FORTIFY_SOURCE=2 -fstack-protector-strong
CFLAGS  += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lcrack -lm -pthread
ifeq ($(FUZZ),1)
# libFuzzer targets (tests/fuzz): everything built by clang with coverage and sanitizers
CC      := clang
CFLAGS  += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -Wno-unknown-warning-option
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-fuzz
else ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   := build-san
else
BUILD   := build
endif

SRC      := $(wildcard src/base/*.c src/model/*.c src/store/*.c src/domain/*.c src/http/*.c \
                       src/api/*.c src/cli/*.c src/io/*.c)
OBJ      := $(SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/assets.o
BIN      := $(BUILD)/dealmap
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

DB       ?= dealmap.db
LISTEN   ?= 127.0.0.1:8080
DEMO_ADMIN_PASSWORD ?= Dealmap-Admin-2026

.PHONY: all run test test-sqlite test-pg unit api deps clean screenshots bench
all: $(BIN)

$(BUILD)/.deps-ok: scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/%.o: %.c $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The web app (web/: Vue 3 + Element Plus + ECharts, built by Vite). `npm ci` runs when node_modules is
# missing or the lock file changed; `npm run build` when a web source changed. web/dist is then
# compiled into the binary; the stamp makes assets.c follow every web build.
WEB_STAMP := $(shell find web/dist -type f 2>/dev/null)
ASSET_DIR := web/dist
ifeq ($(FUZZ),1)
WEB_STAMP :=
ASSET_DIR := build-fuzz/no-web
else ifneq ($(wildcard web/package.json),)
WEB_SRC   := web/index.html web/vite.config.js web/package.json $(shell find web/src web/public -type f 2>/dev/null)
# (the stamp, not the files of web/dist: a build renames them)
WEB_STAMP := $(BUILD)/web-dist.stamp

web/node_modules/.dealmap-ci: web/package-lock.json | $(BUILD)/.deps-ok
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(WEB_STAMP): web/node_modules/.dealmap-ci $(WEB_SRC)
	cd web && npm run build --silent
	@mkdir -p $(dir $@) && touch $@
endif

$(BUILD)/gen/assets.c: tools/embed_assets.py $(WEB_STAMP) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	python3 tools/embed_assets.py $(ASSET_DIR) $@

$(BUILD)/gen/assets.o: $(BUILD)/gen/assets.c
	$(CC) $(CFLAGS) -Isrc -c $< -o $@

$(BIN): $(OBJ) $(BUILD)/src/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Isrc -o $@ $< $(OBJ) $(LDFLAGS) $(LDLIBS) -lcmocka

# Fuzz targets (tests/fuzz, libFuzzer): `make fuzz` runs each for FUZZ_SECONDS (default 15; make test
# runs them too), `make stress` for ten minutes each. A crash is written to tests/fuzz/crashes/;
# once fixed, put the input in tests/fuzz/corpus/TARGET/ so every run replays it.
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 15
ifeq ($(FUZZ),1)
FUZZ_LINK := $(CC) -std=gnu11 -g -O1 -Isrc -fsanitize=fuzzer,address,undefined
# fuzz_query includes records.c to reach its static parser
$(BUILD)/fuzz/fuzz_query: tests/fuzz/fuzz_query.c $(filter-out $(BUILD)/src/domain/records.o,$(OBJ))
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(FUZZ_LINK) -o $@ $^ $(LDLIBS)
endif

# The unit tests under valgrind (memory errors and definite leaks fail them).
.PHONY: valgrind
valgrind: $(UNIT_BIN)
	@p=0; f=0; for t in $(UNIT_BIN); do \
		if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			$$t >/dev/null 2>$$t.valgrind; then p=$$((p+1)); \
		else f=$$((f+1)); cat $$t.valgrind; echo "valgrind: $$t failed"; fi; done; \
	echo "valgrind: $$p passed, $$f failed"; [ $$f -eq 0 ]

.PHONY: fuzz fuzz-build stress
fuzz-build:
	@$(MAKE) --no-print-directory FUZZ=1 $(FUZZ_TARGETS:%=build-fuzz/fuzz/%)

fuzz: fuzz-build
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# make stress: the fuzz targets for STRESS_FUZZ_SECONDS each (ten minutes), then stress-faults: 100
# SIGKILLs under writers (test_93), 256 connections for 60 s (test_94), disk full and read-only
# (test_92, as root). make test runs the same three briefly (10 kills, 10 s).
STRESS_FUZZ_SECONDS ?= 600
stress: fuzz-build stress-faults
	@tests/fuzz/run.sh $(STRESS_FUZZ_SECONDS) $(FUZZ_TARGETS)

.PHONY: stress-faults
stress-faults: $(BIN)
	@command -v wrk >/dev/null 2>&1 || scripts/deps.sh
	@DEALMAP_BIN=$(BIN) DEALMAP_CRASH_KILLS=100 DEALMAP_LOAD_SECONDS=60 \
		python3 tests/api/run.py -v test_92 test_93 test_94

run: $(BIN)
	@test -f $(DB) || $(BIN) demo --db $(DB) --admin-password '$(DEMO_ADMIN_PASSWORD)'
	@echo "dealmap: open http://$(LISTEN)/  — admin / $(DEMO_ADMIN_PASSWORD); demo users wang, zhao, li, zhang, chen / Dealmap-Demo-2026"
	$(BIN) serve --db $(DB) --listen $(LISTEN)

unit: $(UNIT_BIN)

# make test-sqlite: every test on SQLite (unit, API, browser, fuzz); make test-pg: the API suite on
# a private PostgreSQL cluster started for the run (scripts/pg-run.sh); make test: both, one summary.
test-sqlite: $(BIN) $(UNIT_BIN) fuzz-build
	@tests/run.sh $(BUILD) sqlite

test-pg: $(BIN)
	@tests/run.sh $(BUILD) pg

test: $(BIN) $(UNIT_BIN) fuzz-build
	@tests/run.sh $(BUILD) all

deps:
	@scripts/deps.sh

# The benchmark of issue 9 (docs/BENCHMARKS.md): generate the large company at SCALE (1 = 1M
# accounts, 10M activities; cached per scale and seed), serve it, load it with wrk, append a table.
# STORE=pg: the same on PostgreSQL, on a private cluster started for the run (scripts/pg-run.sh).
SCALE    ?= 1
SEED     ?= 9
DURATION ?= 10
STORE    ?= sqlite
BENCH_RUN := $(if $(filter pg,$(STORE)),scripts/pg-run.sh,)
bench: $(BIN)
	@command -v wrk >/dev/null 2>&1 || scripts/deps.sh bench
	@$(BENCH_RUN) python3 tools/bench.py --bin $(BIN) --scale $(SCALE) --seed $(SEED) \
		--duration $(DURATION) --store $(STORE)

# docs/screenshots/*.png of the main pages, taken by headless Chromium from a demo server.
screenshots: $(BIN)
	@DEALMAP_BIN=$(BUILD)/dealmap node tests/browser/screenshots.mjs

clean:
	rm -rf build build-san

-include $(OBJ:.o=.d) $(BUILD)/src/main.d
