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

.PHONY: all deps configure build run test unit integration clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DAIW_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/aiwarden run $(ARGS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 --timeout 900

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

integration: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

clean:
	rm -rf $(BUILD_DIR) build-sanitize
