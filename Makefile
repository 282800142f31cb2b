# Eddy developer entry points. CMake + Ninja do the real work; this file only strings the
# steps together (install dependencies, configure once, build, run). `make help` lists them.
#
# Variables (set on the command line, e.g. `make test JOBS=8`):
#   BUILD_DIR   build tree (default: build; build-asan / build-tsan when SANITIZE is set)
#   BUILD_TYPE  CMAKE_BUILD_TYPE of a new build tree (default: RelWithDebInfo)
#   SANITIZE    '', 'address' (ASan+UBSan) or 'thread' (TSan): `make test SANITIZE=address`
#               is the same as `make asan`
#   JOBS        parallel compile and test jobs (default: nproc)
#   CMAKE_ARGS  extra arguments for the cmake configure step (forces a re-configure)
#   CTEST_ARGS  extra arguments for ctest, e.g. CTEST_ARGS='-R keyed'
#   PREFIX      install prefix for `make install` (default: /usr/local)

SANITIZE ?=
ifeq ($(SANITIZE),address)
  BUILD_DIR ?= build-asan
else ifeq ($(SANITIZE),thread)
  BUILD_DIR ?= build-tsan
else ifneq ($(SANITIZE),)
  $(error SANITIZE must be empty, 'address' or 'thread', not '$(SANITIZE)')
endif
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_ARGS ?=
CTEST_ARGS ?=
CMAKE ?= cmake
CTEST ?= ctest
CLANG_FORMAT ?= clang-format
CLANG_TIDY ?= clang-tidy

# Sanitizer reports fail the test that triggers them, with a stack trace.
export ASAN_OPTIONS ?= detect_leaks=1:strict_string_checks=1:check_initialization_order=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
export TSAN_OPTIONS ?= second_deadlock_stack=1:suppressions=$(CURDIR)/tests/tsan.supp

CTEST_RUN = $(CTEST) --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
FORMAT_DIRS = include src tests examples bench
SOURCES_TO_FORMAT = find $(FORMAT_DIRS) -type f \( -name '*.h' -o -name '*.cc' \) -print0

.DEFAULT_GOAL := build
.PHONY: help setup setup-dev configure build demo test soak asan tsan bench nexmark install clean \
        format format-check tidy

help:
	@echo "make demo          install dependencies, build, run the word count example"
	@echo "make test          install dependencies, build, run all tests except soak tests"
	@echo "make build         configure (once) and build everything in $(BUILD_DIR)/"
	@echo "make soak          run only the long soak tests (label 'soak')"
	@echo "make asan / tsan   build in build-asan/ (ASan+UBSan) or build-tsan/ (TSan) and run the tests"
	@echo "make bench         run bench-pipeline at parallelism 1 and 2"
	@echo "make nexmark       run every Nexmark query (10M events) into nexmark-results/"
	@echo "make format        clang-format every .h/.cc in place (format-check: only check)"
	@echo "make tidy          clang-tidy over src/"
	@echo "make install       install headers, libraries, CMake package and the eddy CLI into PREFIX"
	@echo "make clean         remove build/, build-asan/, build-tsan/"

setup:
	@bash scripts/setup.sh

setup-dev:
	@bash scripts/setup.sh --dev

# Configures a new build tree; an existing one is left to CMake, which re-configures by
# itself when a CMakeLists.txt changes. Re-runs cmake only when the sanitizer asked for
# differs from the cached one or CMAKE_ARGS are given.
configure: setup
	@if [ ! -f $(BUILD_DIR)/CMakeCache.txt ]; then \
	  $(CMAKE) -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	    -DEDDY_SANITIZE=$(SANITIZE) $(CMAKE_ARGS); \
	elif ! grep -qx 'EDDY_SANITIZE:STRING=$(SANITIZE)' $(BUILD_DIR)/CMakeCache.txt \
	     || [ -n "$(strip $(CMAKE_ARGS))" ]; then \
	  $(CMAKE) -S . -B $(BUILD_DIR) -DEDDY_SANITIZE=$(SANITIZE) $(CMAKE_ARGS); \
	fi

build: configure
	$(CMAKE) --build $(BUILD_DIR) -j $(JOBS)

demo: configure
	$(CMAKE) --build $(BUILD_DIR) -j $(JOBS) --target wordcount
	$(BUILD_DIR)/bin/wordcount --input examples/data/sample.txt --parallelism 2

test: build
	$(CTEST_RUN) -LE soak $(CTEST_ARGS)

soak: build
	$(CTEST_RUN) -L soak $(CTEST_ARGS)

asan:
	@$(MAKE) --no-print-directory test SANITIZE=address

tsan:
	@$(MAKE) --no-print-directory test SANITIZE=thread

bench: configure
	$(CMAKE) --build $(BUILD_DIR) -j $(JOBS) --target bench-pipeline
	$(BUILD_DIR)/bin/bench-pipeline --events 5000000 --parallelism 1
	$(BUILD_DIR)/bin/bench-pipeline --events 5000000 --parallelism 2

nexmark: configure
	$(CMAKE) --build $(BUILD_DIR) -j $(JOBS) --target eddy-nexmark
	$(BUILD_DIR)/bin/eddy-nexmark --all --events 10000000

install: build
	$(CMAKE) --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan $(BUILD_DIR)

format: setup-dev
	$(SOURCES_TO_FORMAT) | xargs -0 -r $(CLANG_FORMAT) -i

format-check: setup-dev
	$(SOURCES_TO_FORMAT) | xargs -0 -r $(CLANG_FORMAT) --dry-run -Werror

tidy: setup-dev configure
	find src -type f -name '*.cc' -print0 | \
	  xargs -0 -r -n 4 -P $(JOBS) $(CLANG_TIDY) -p $(BUILD_DIR) --quiet
