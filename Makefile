# aiwarden — the two commands of the README, and a few helpers.
#   make run    install dependencies if missing, build, run on the embedded default configuration
#   make test   install dependencies if missing, build with -Werror, run every test
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifeq ($(SANITIZE),1)
  BUILD_DIR := build-sanitize
  CMAKE_FLAGS += -DAIW_SANITIZE=ON
endif

.PHONY: all deps configure build run test test-sanitize unit integration node-deps fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DAIW_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/aiwarden run $(ARGS)

test: build node-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 900

# The parsers and codecs under ASan + UBSan (what CI runs after `make test`, .ci/run): in the
# sanitized build dir (build-sanitize, as `make test SANITIZE=1`), only the binary and the unit
# tests of core, http, tls, ai and filters (the rules and patterns parsers), then those and the
# integration tests of hostile input.
# `make test SANITIZE=1` builds and runs everything.
SANITIZE_BUILD ?= aiwarden unit_core unit_http unit_tls unit_ai unit_filters
SANITIZE_TESTS ?= ^(unit_(core|http|tls|ai|filters)|integration_test_(limits|http2|http2_upstream|http2_abuse|hostile_http1|hostile_http2|hostile_tls))$$
test-sanitize:
	@$(MAKE) --no-print-directory configure SANITIZE=1
	@cmake --build build-sanitize -j $(JOBS) --target $(SANITIZE_BUILD)
	cd build-sanitize && ctest --output-on-failure -j 2 --timeout 900 -R '$(SANITIZE_TESTS)'

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

integration: build node-deps
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

# The Node SDKs of the integration tests (tests/package.json, pinned in tests/package-lock.json):
# `npm ci` when tests/node_modules is missing or older than the lock file. The pinned SDKs need
# Node >= 20.18.1 (Debian 12's own nodejs is 18): with an older or no Node, this says so and the
# SDK tests skip with that reason.
node-deps:
	@if ! scripts/node-ok.sh; then \
	  echo "node-deps: Node >= 20.18.1 with npm not found; the Node SDK tests will be skipped" >&2; \
	elif [ ! -f tests/node_modules/.package-lock.json ] || \
	     [ tests/package-lock.json -nt tests/node_modules/.package-lock.json ] || \
	     [ tests/package.json -nt tests/node_modules/.package-lock.json ]; then \
	  (cd tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null) && \
	  touch tests/node_modules/.package-lock.json; \
	fi

# The libFuzzer targets (tests/fuzz, built with clang in their own project and build dir): each
# runs FUZZ_SECONDS over a scratch copy of its seed corpus, so the committed corpus never grows.
# Fails when a target crashes; the input that did it is kept under $(FUZZ_BUILD_DIR)/run/<target>/
# artifacts (docs/fuzzing.md).
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= client_hello sse_parser http1_request http1_response ai_request rules_json \
  config_yaml

fuzz:
	@bash scripts/install-fuzz-deps.sh
	@cmake -S tests/fuzz -B $(FUZZ_BUILD_DIR) -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DAIW_WERROR=ON >/dev/null
	@cmake --build $(FUZZ_BUILD_DIR) -j $(JOBS)
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
	  run=$(FUZZ_BUILD_DIR)/run/$$t; \
	  rm -rf $$run && mkdir -p $$run/corpus $$run/artifacts && \
	  cp tests/fuzz/corpus/$$t/* $$run/corpus/ || exit 1; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS)s (log: $$run/log)"; \
	  if ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer \
	     UBSAN_OPTIONS=print_stacktrace=1 \
	     $(FUZZ_BUILD_DIR)/$${t}_fuzz -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	       -print_final_stats=1 -artifact_prefix=$$run/artifacts/ $$run/corpus >$$run/log 2>&1; \
	  then \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' $$run/log | \
	      sed 's/^/  /'; \
	    echo "  corpus: $$(ls $$run/corpus | wc -l) inputs"; \
	  else \
	    failed="$$failed $$t"; tail -n 60 $$run/log; \
	  fi; \
	done; \
	if [ -n "$$failed" ]; then \
	  echo "fuzz: FAILED:$$failed (inputs in $(FUZZ_BUILD_DIR)/run/<target>/artifacts)" >&2; \
	  exit 1; \
	fi

clean:
	rm -rf $(BUILD_DIR) build-sanitize
