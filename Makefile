# swift-vgic: build, test, run and benchmark.
#
#   make run        the main job: boot the demo guest under the hypervisor (QEMU)
#   make test       everything CI checks (what .ci/run runs)
#   make report     run the bundled scenarios with a readable report
#   make embedded   Embedded Swift build of the portable modules (aarch64-none-none-elf)
#   make bench      the benchmarks (separate package in Benchmarks/)
#   make docs       DocC documentation of GICArchitecture, VGIC, GICModel (.build/docs)
#   make clean      remove every build folder
#
# Only Swift is needed (6.3.1, /opt/swift/usr/bin on this project's machines).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# The steps of `make test` run in the order given, even under -j.
.NOTPARALLEL:

# Swift 6.3.1 lives in /opt/swift on this project's machines.
ifneq ($(wildcard /opt/swift/usr/bin/swift),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif

SWIFT       ?= swift
SCENARIOS   := $(sort $(wildcard Tests/Scenarios/*.vgs))
LOGDIR      := .build/make-logs
# Extra arguments for `swift package benchmark`, e.g. BENCH_ARGS="--filter 'ICH_LR.*'"
BENCH_ARGS  ?=
# A test whose name contains "Stress" runs again under ThreadSanitizer.
HAVE_STRESS := $(shell grep -rlE '\bStress' Tests --include='*.swift' 2>/dev/null | head -n1)

.PHONY: help test build unit scenarios embedded docs tsan hyp linux conformance-suite device-suite differential fuzzing summary run report bench callgrind clean

help:
	@sed -n '3,10p' Makefile | sed 's/^# *//'

# ---------------------------------------------------------------------------
# make test: everything CI checks, in order, stopping at the first failure.
# ---------------------------------------------------------------------------
test: build unit scenarios embedded docs tsan hyp linux conformance-suite device-suite differential fuzzing summary

conformance-suite:
	@echo "==> guest conformance suite: QEMU's GICv3 and the hypervisor, 1, 2 and 4 vCPUs"
	$(MAKE) --no-print-directory test-conformance

device-suite:
	@echo "==> device guest: the UART, RTC and timers' lines on QEMU's GICv3 and the hypervisor, 1, 2 and 4 vCPUs"
	$(MAKE) --no-print-directory test-devices

differential:
	@echo "==> differential fuzzing: the named regressions, then $(DIFF_CI_SEEDS) seeds on 1, 2 and 4 vCPUs"
	$(MAKE) --no-print-directory test-difftest

fuzzing:
	@echo "==> fuzzers: $(FUZZ_SMOKE_SECONDS) s each from the seed corpora"
	$(MAKE) --no-print-directory fuzz-smoke

hyp:
	@echo "==> hypervisor: demo guest on 2 and 4 vCPUs, fuzz guest on 4"
	$(MAKE) --no-print-directory test-hyp

linux:
	@echo "==> hypervisor: Debian's arm64 Linux on 2 and 4 vCPUs"
	$(MAKE) --no-print-directory test-hyp-linux

build:
	@echo "==> swift build"
	$(SWIFT) build

unit: build
	@echo "==> swift test"
	@mkdir -p $(LOGDIR)
	$(SWIFT) test 2>&1 | tee $(LOGDIR)/swift-test.log

scenarios: build
	@if [[ -z "$(SCENARIOS)" ]]; then echo "scenarios: FAIL: no Tests/Scenarios/*.vgs file"; exit 1; fi
	@echo "==> scenarios: $(words $(SCENARIOS)) file(s)"
	"$$($(SWIFT) build --show-bin-path)/vgic" scenario $(SCENARIOS)

embedded:
	@echo "==> Embedded Swift build (aarch64-none-none-elf)"
	bash scripts/build-embedded.sh

# DocC (swift-docc-plugin): one archive per public module in .build/docs,
# for static hosting. A broken symbol link in a catalog or a doc comment
# fails the build (about 20 s after `swift build`).
DOCS_MODULES := GICArchitecture VGIC GICModel
docs: build
	@echo "==> DocC: $(DOCS_MODULES) -> .build/docs"
	$(SWIFT) package --allow-writing-to-directory .build/docs generate-documentation \
		$(foreach m,$(DOCS_MODULES),--target $(m)) --output-path .build/docs \
		--transform-for-static-hosting --warnings-as-errors

tsan:
	@if [[ -z "$(HAVE_STRESS)" ]]; then echo "tsan: FAIL: no test named *Stress* under Tests/"; exit 1; fi
	@echo "==> thread sanitizer: swift test --filter Stress"
	@mkdir -p $(LOGDIR)
	$(SWIFT) test --sanitize=thread --scratch-path .build-tsan --filter Stress 2>&1 \
		| tee $(LOGDIR)/swift-test-tsan.log
	@grep -qE 'Executed [1-9][0-9]* tests?|Test run with [1-9][0-9]* tests?' $(LOGDIR)/swift-test-tsan.log || \
		{ echo "tsan: FAIL: no Stress test ran"; exit 1; }

# Repeat the test runners' closing lines so that a log ends with them.
summary:
	@echo "==> summary"
	@if [[ -f $(LOGDIR)/swift-test-tsan.log && -n "$(HAVE_STRESS)" ]]; then \
		echo "thread sanitizer (Stress):"; \
		grep -E 'Test run with [0-9]+ tests?|Executed [1-9][0-9]* tests?' $(LOGDIR)/swift-test-tsan.log | tail -n 2 || true; \
	fi
	@echo "swift test:"
	@grep -E 'Executed [1-9][0-9]* tests?' $(LOGDIR)/swift-test.log | tail -n 1 || true
	@grep -E 'Test run with [0-9]+ tests?' $(LOGDIR)/swift-test.log | tail -n 1 || true

# ---------------------------------------------------------------------------
# make run: the main job.
# ---------------------------------------------------------------------------
# The main job: the hypervisor boots the project's demo guest on QEMU
# (SMP=n, GUEST=image, APPEND="bootargs" as hypervisor.mk describes).
run: run-hyp

# The bundled scenarios, with every statement and what it showed.
report:
	$(SWIFT) run -c release vgic scenario --verbose $(SCENARIOS)

# ---------------------------------------------------------------------------
# make bench: package-benchmark suite in Benchmarks/ (its own package).
# ---------------------------------------------------------------------------
bench:
	cd Benchmarks && $(SWIFT) package benchmark --no-progress $(BENCH_ARGS)

# make callgrind ARGS="scenario Tests/Scenarios/x.vgs": instruction count of a vgic run.
callgrind:
	bash scripts/callgrind.sh $(ARGS)

clean:
	rm -rf .build .build-embedded .build-tsan .build-hyp .build-fuzz Benchmarks/.build

include hypervisor.mk
include conformance.mk
include devices.mk
include difftest.mk
include fuzz.mk
