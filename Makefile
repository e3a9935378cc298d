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

.PHONY: all deps configure build run test unit integration node-deps clean

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

clean:
	rm -rf $(BUILD_DIR) build-sanitize
