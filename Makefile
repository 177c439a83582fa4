# dtf: the two commands. `make run` runs the example suite on local workers with reports;
# `make test` builds and runs every test (developer build, then ASan+UBSan, then the fuzzers
# briefly). Both install missing Debian packages first (as root).
BUILD     ?= build
SAN_BUILD ?= build-san
FUZZ_BUILD ?= build-fuzz
JOBS      ?= $(shell nproc)
FUZZ_SECONDS ?= 4

.PHONY: all deps build run test test-dev test-san test-fuzz bench format clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@rm -rf test-results
	@status=0; ./$(BUILD)/dtf run --workers 4 --test-dir examples/suite --output-dir test-results || status=$$?; \
	echo; echo "reports: test-results/results.xml (JUnit), test-results/results.json"; \
	if [ $$status -eq 1 ]; then echo "dtf run exited 1: the example suite has deliberately failing tests (see examples/suite/README.md)"; \
	elif [ $$status -ne 0 ]; then exit $$status; fi

test-dev: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 300

test-san: deps
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDTF_SANITIZE=ON >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	@cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) --timeout 600

test-fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDTF_FUZZ=ON -DDTF_SANITIZE=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	@for f in $(FUZZ_BUILD)/tests/fuzz_*; do \
		name=$$(basename $$f); corpus=$$(mktemp -d); \
		cp tests/fuzz/corpus/$$name/* $$corpus/ 2>/dev/null || true; \
		echo "fuzzing $$name for $(FUZZ_SECONDS) s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 $$corpus >$(FUZZ_BUILD)/$$name.log 2>&1 \
			|| { tail -40 $(FUZZ_BUILD)/$$name.log; rm -rf $$corpus; exit 1; }; \
		tail -1 $(FUZZ_BUILD)/$$name.log; rm -rf $$corpus; \
	done

# The fuzzers first, then the developer build, and the sanitizer build last so that the final
# lines are CTest's summary.
test: test-fuzz test-dev test-san

bench: build
	@sh bench/throughput.sh

# Rewrites the C files the lint.format test checks as .clang-format says.
format:
	@sh scripts/check-format.sh --fix

clean:
	rm -rf $(BUILD) $(SAN_BUILD) $(FUZZ_BUILD) .dtf test-results
