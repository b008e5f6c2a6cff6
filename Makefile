# Tollgate — build, run, test.  See README.md.
CC       ?= cc
PREFIX   ?= /usr/local
DESTDIR  ?=
SANITIZE ?= 0

PKGS      := fcgi libpq json-c libcurl openssl libjwt libcrypt libqrencode
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
# Only tests/unit/test_nginx_routes.c uses PCRE2 (nginx's regex engine): not linked into tollgate.
PCRE2_CFLAGS := $(shell pkg-config --cflags libpcre2-8 2>/dev/null)
PCRE2_LIBS   := $(shell pkg-config --libs libpcre2-8 2>/dev/null)
UNIT_CFLAGS_test_nginx_routes := $(PCRE2_CFLAGS)
UNIT_LIBS_test_nginx_routes   := $(PCRE2_LIBS)

# Language, warnings and defines of every build (release, sanitizer, coverage, fuzz).
TG_CFLAGS = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Iinclude $(PKG_CFLAGS) \
           -DTOLLGATE_VERSION='"$(VERSION)"' -DTOLLGATE_DATADIR='"$(PREFIX)/share/tollgate"'
CFLAGS  ?= -O2 -g
CFLAGS  += $(TG_CFLAGS)
LDLIBS  += $(PKG_LIBS)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

ifeq ($(COVERAGE),1)
CFLAGS  += --coverage -O0
LDFLAGS += --coverage
BUILD   ?= build/cov
BIN     ?= $(BUILD)/tollgate
endif

ifeq ($(SANITIZE),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
BUILD   ?= build/san
BIN     ?= $(BUILD)/tollgate
else
BUILD   ?= build/rel
endif

SRCS     := $(sort $(wildcard src/*/*.c))
MAIN_SRC := src/server/main.c
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(filter-out $(MAIN_SRC),$(SRCS)))
MAIN_OBJ := $(BUILD)/server/main.o
LIB      := $(BUILD)/libtollgate.a
BIN      ?= bin/tollgate  # the sanitizer build links $(BUILD)/tollgate instead

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
INTEG_SRCS := $(sort $(wildcard tests/integration/test_*.c))
# The helpers every integration test is linked with (listed one by one, no wildcard): itest.c for
# all suites, one helper file per area for the suites of that area.
INTEG_COMMON := tests/integration/itest.c tests/integration/foundation_helpers.c \
                tests/integration/accounts_helpers.c tests/integration/mail_parse.c \
                tests/integration/email_helpers.c tests/integration/billing_helpers.c \
                tests/integration/product_helpers.c
INTEG_HEADERS := $(INTEG_COMMON:.c=.h)
INTEG_OBJS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%.o,$(INTEG_COMMON))
INTEG_BINS := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRCS))

# libFuzzer targets (tests/fuzz/fuzz_<name>.c): clang, ASan + UBSan, with the library's own
# objects built by clang with the same flags in their own directory. FUZZ_TARGETS picks some.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS   = -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer $(TG_CFLAGS)
FUZZ_SRCS    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRCS))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_NAMES))
FUZZ_OBJS    := $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(filter-out $(MAIN_SRC),$(SRCS)))
FUZZ_LIB     := $(FUZZ_BUILD)/libtollgate.a

ifeq ($(V),1)
Q :=
SAY := @true
else
Q := @
SAY := @printf '  %-5s %s\n'
endif

.PHONY: all deps run up down test check unit integration browser bench install clean lint tests-build coverage \
        torture fuzz fuzz-build fuzz-replay fuzz-merge

all: $(BIN)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(SAY) CC $<
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(SAY) AR $@
	$(Q)ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(SAY) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) tests/unit/unit.h
	@mkdir -p $(dir $@)
	$(SAY) TEST $@
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) $(UNIT_CFLAGS_$*) $(LDFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDLIBS) $(CHECK_LIBS) $(UNIT_LIBS_$*)

$(INTEG_OBJS): $(BUILD)/tests/integration/%.o: tests/integration/%.c $(INTEG_HEADERS)
	@mkdir -p $(dir $@)
	$(SAY) CC $<
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) -Itests/integration -c $< -o $@

$(BUILD)/tests/integration/%: tests/integration/%.c $(INTEG_OBJS) $(INTEG_HEADERS) $(LIB)
	@mkdir -p $(dir $@)
	$(SAY) TEST $@
	$(Q)$(CC) $(CFLAGS) $(CHECK_CFLAGS) $(LDFLAGS) -Itests/integration -o $@ $< $(INTEG_OBJS) $(LIB) $(LDLIBS) $(CHECK_LIBS)

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(SAY) FZCC $<
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	$(SAY) AR $@
	$(Q)ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(SAY) FUZZ $@
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests/fuzz -o $@ $< $(FUZZ_LIB) $(LDLIBS)

tests-build: $(BIN) $(UNIT_BINS) $(INTEG_BINS) fuzz-build

deps:
	@scripts/install-deps

# Foreground dev stack: PostgreSQL + nginx + tollgate under var/, Ctrl-C stops all.
run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@TOLLGATE_BIN=$(abspath $(BIN)) scripts/devstack run

up: deps
	@$(MAKE) --no-print-directory $(BIN)
	@TOLLGATE_BIN=$(abspath $(BIN)) scripts/devstack up

down:
	@scripts/devstack down

test check: deps
	@$(MAKE) --no-print-directory lint tests-build
	@TG_SANITIZE=$(SANITIZE) TOLLGATE_BIN=$(abspath $(BIN)) scripts/run-tests $(BUILD)

unit: tests-build
	@TG_SANITIZE=$(SANITIZE) TOLLGATE_BIN=$(abspath $(BIN)) scripts/run-tests $(BUILD) unit

integration: tests-build
	@TG_SANITIZE=$(SANITIZE) TOLLGATE_BIN=$(abspath $(BIN)) scripts/run-tests $(BUILD) integration

browser: deps
	@$(MAKE) --no-print-directory $(BIN)
	@TG_SANITIZE=$(SANITIZE) TOLLGATE_BIN=$(abspath $(BIN)) scripts/run-tests $(BUILD) browser

# Line coverage of src/ over the whole test suite (unit, integration, browser).
coverage: deps
	@$(MAKE) --no-print-directory COVERAGE=1 tests-build
	@find build/cov -name '*.gcda' -delete
	@TOLLGATE_BIN=$(abspath build/cov/tollgate) scripts/run-tests build/cov || true
	@scripts/coverage-report build/cov

# Fuzzing: each target in turn for FUZZ_SECONDS (new inputs go to build/fuzz/work/<name>/),
# then executions, exec/s and libFuzzer's final cov/ft per target.
fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@scripts/fuzz run $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

# Every target over its committed corpus and crashers once, no fuzzing (CI: unit/fuzz-replay).
fuzz-replay: fuzz-build
	@scripts/fuzz replay $(FUZZ_BUILD) $(FUZZ_TARGETS)

# Adds to tests/fuzz/corpus/<name>/ the inputs of the last `make fuzz` that bring new coverage.
fuzz-merge: fuzz-build
	@scripts/fuzz merge $(FUZZ_BUILD) $(FUZZ_TARGETS)

bench: deps
	@$(MAKE) --no-print-directory $(BIN)
	@TOLLGATE_BIN=$(abspath $(BIN)) scripts/bench

# The allocation-failure sweep over every unit suite (scripts/torture; make test runs a sample).
torture: tests-build
	@scripts/torture $(BUILD)

# Banned calls in the sources, the headers and every test (tests/*/ covers unit, integration and
# the fuzz targets in tests/fuzz/).
lint:
	@! grep -nE '(^|[^_a-z])(sprintf|vsprintf|strcpy|strcat|gets|atoi)[[:space:]]*\(' $(SRCS) include/tollgate/*.h tests/*/*.c tests/*/*.h \
	  || (echo "lint: banned call" >&2; false)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tollgate/sql \
	  $(DESTDIR)$(PREFIX)/share/tollgate/static $(DESTDIR)$(PREFIX)/share/tollgate/templates \
	  $(DESTDIR)$(PREFIX)/share/tollgate/nginx $(DESTDIR)$(PREFIX)/share/doc/tollgate/examples
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/tollgate
	install -m 0644 sql/*.sql $(DESTDIR)$(PREFIX)/share/tollgate/sql/
	cp -R static/. $(DESTDIR)$(PREFIX)/share/tollgate/static/
	cp -R conf/templates/. $(DESTDIR)$(PREFIX)/share/tollgate/templates/
# the nginx site includes these: installed with the binary whose routes they know (reload nginx)
	install -m 0644 nginx/tollgate-api.conf nginx/ffdhe2048.pem $(DESTDIR)$(PREFIX)/share/tollgate/nginx/
	install -m 0644 conf/tollgate.conf.example conf/tollgate.service nginx/tollgate.conf \
	  $(DESTDIR)$(PREFIX)/share/doc/tollgate/examples/

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
