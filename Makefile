# madang — build, run, test.  `make` builds build/madang.
# `make run` and `make test` install what is missing first (scripts/deps).

CC       ?= cc
BUILD    ?= build
DUCKDB   := third_party/duckdb
OPT      ?= -O2
CFLAGS   += -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-zero-length \
            -D_GNU_SOURCE -pthread -Isrc -I$(DUCKDB) -MMD -MP
SAN      ?=
LDFLAGS  += $(SAN) -pthread -L$(DUCKDB) -Wl,-rpath,$(abspath $(DUCKDB))
LDLIBS   += -lduckdb -lsqlite3 -lssl -lcrypto -lmicrohttpd -ljansson -lldap -llber -lm
PYTHON   := /usr/bin/python3
PYTEST_ARGS ?=

SRCS     := $(shell find src -name '*.c' | sort)
LIB_SRCS := $(filter-out src/main.c,$(SRCS))
OBJS     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
# Files embedded as C strings (scripts/embed-sql): the per-connection catalog shim.
GEN_OBJS := $(BUILD)/obj/gen/compat_sql.o
LIB_OBJS += $(GEN_OBJS)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
BENCH_CLIENTS := $(BUILD)/bench/pgfetch $(BUILD)/bench/duckrun

.PHONY: all deps run test unit integration asan asan-test fuzz format format-check clean bench bench-noaudit

all: $(BUILD)/madang $(UNIT_BINS)

deps:
	@scripts/deps

$(DUCKDB)/duckdb.h:
	@scripts/deps

$(BUILD)/obj/%.o: src/%.c | $(DUCKDB)/duckdb.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/gen/compat_sql.c: src/gate/compat.sql scripts/embed-sql
	@mkdir -p $(dir $@)
	scripts/embed-sql $< compat_sql > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libmadang.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/madang: $(BUILD)/obj/main.o $(BUILD)/libmadang.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libmadang.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libmadang.a $(LDLIBS)

run: deps $(BUILD)/madang
	@scripts/run-demo

# Unit tests run inside pytest (tests/integration/test_unit.py) so that the
# output ends with one runner summary.
# The comparison build without the audit (bench/) is built here too, so that
# `make bench` after `make test` spends its time measuring.
test: deps all bench-noaudit $(BENCH_CLIENTS)
	MADANG_BIN=$(abspath $(BUILD)/madang) MADANG_UNIT_DIR=$(abspath $(BUILD)/tests) \
	  $(PYTHON) -m pytest tests/integration -q -p no:cacheprovider $(PYTEST_ARGS)

unit: all
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	  SAN="-fsanitize=address,undefined" all

asan-test: deps asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	  MADANG_BIN=$(abspath build-asan/madang) MADANG_UNIT_DIR=$(abspath build-asan/tests) MADANG_ASAN=1 \
	  $(PYTHON) -m pytest tests/integration -q -p no:cacheprovider $(PYTEST_ARGS)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
fuzz: deps
	@mkdir -p $(BUILD)/fuzz
	@set -e; for f in $(FUZZ_SRCS); do n=$$(basename $$f .c); \
	  clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc -I$(DUCKDB) -o $(BUILD)/fuzz/$$n $$f src/pgwire/codec.c src/gate/lex.c src/pgwire/copy.c src/util/util.c; done

format:
	clang-format -i $(SRCS) $(shell find src -name '*.h') $(UNIT_SRCS)

format-check:
	@clang-format --dry-run --Werror $(SRCS) $(shell find src -name '*.h') $(UNIT_SRCS) && echo "format-check: ok"

$(BUILD)/bench/pgfetch: bench/clients/pgfetch.c bench/clients/split.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -Wextra -Werror -I/usr/include/postgresql -o $@ $< -lpq

$(BUILD)/bench/duckrun: bench/clients/duckrun.c bench/clients/split.h | $(DUCKDB)/duckdb.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror -I$(DUCKDB) -o $@ $< -L$(DUCKDB) -Wl,-rpath,$(abspath $(DUCKDB)) -lduckdb -pthread

# `make bench`: every benchmark (under 15 minutes); QUICK=1: B1-B3 at 1/10 scale (under 2 minutes).
bench: deps all $(BENCH_CLIENTS) $(if $(QUICK),,bench-noaudit)
	@QUICK=$(QUICK) bench/run

clean:
	rm -rf build build-asan build-noaudit

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# A comparison build without the audit trail, for bench/audit_cost.py only.
bench-noaudit:
	$(MAKE) BUILD=build-noaudit OPT="-O2 -DMADANG_BENCH_NO_AUDIT" build-noaudit/madang
