# Thin wrapper over CMake. The real build is CMakeLists.txt.
#   make            build (installs missing Debian dependencies first)
#   make test       build and run every test (unit, golden, integration)
#   make demo       run the daemon against a local Kamailio presence server
#   make demo-stop  stop what a demo left running
#   make sanitize   ASan+UBSan build and test run
#   make fuzz       run the libFuzzer targets (FUZZ_SECONDS each)
#   make lint       clang-format check, clang-tidy on changed files, mandoc -Tlint
#   make bench      benchmarks (BENCH_ARGS="--runs 1 --only throughput" ...)
#   make install    PREFIX=/usr/local DESTDIR=
BUILD_DIR     ?= build
SANITIZE_DIR  ?= build-sanitize
FUZZ_DIR      ?= build-fuzz
PREFIX        ?= /usr/local
DESTDIR       ?=
FUZZ_SECONDS  ?= 60
JOBS          ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS   ?=
# Warnings are errors in CI (CI=true is set there).
ifeq ($(CI),true)
CMAKE_FLAGS += -DPRESENCED_WERROR=ON
endif

.PHONY: all build deps test demo demo-stop sanitize fuzz lint bench install clean

all: build

deps:
	@scripts/install-deps.sh -q

$(BUILD_DIR)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	scripts/demo.sh $(BUILD_DIR)

demo-stop:
	scripts/demo-stop.sh $(BUILD_DIR)

sanitize: deps
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_BUILD_TYPE=Debug -DPRESENCED_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(SANITIZE_DIR) -j $(JOBS)
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPRESENCED_FUZZ=ON -DPRESENCED_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(FUZZ_DIR) -j $(JOBS)
	scripts/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS)

lint: deps
	scripts/lint.sh

# The peer watcher (baresip) is installed if missing so the table shows it
# side by side; the peer row says so and is skipped when that fails.
bench: build
	@scripts/install-deps.sh -q --peer || echo "bench: baresip not installed; the peer row will be skipped"
	$(BUILD_DIR)/bin/store_bench
	python3 bench/bench.py --build-dir $(BUILD_DIR) $(BENCH_ARGS)

# Reconfigures with PREFIX: the default config path is compiled in.
install: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR) $(FUZZ_DIR)
