# libFuzzer targets of the vGIC, built outside SwiftPM (swiftc -sanitize=fuzzer).
#
#   make -f fuzz.mk fuzz         both fuzzers, FUZZ_SECONDS each (default 300)
#   make -f fuzz.mk fuzz-smoke   both fuzzers, 60 s each, from the seed corpora
#   make -f fuzz.mk fuzz-build   just build .build-fuzz/fuzz-guest and fuzz-snapshot
#
# The Makefile includes this file, so `make fuzz` and `make fuzz-smoke` work too.
#
# Each target is one module: the sources of GICArchitecture, VGIC, GICModel,
# VGICModelPlatform and VGICScenario with the harness from Tests/Fuzz, so the
# oracles can read the vGIC's internal state. Their `import` lines resolve to
# empty stub modules of the same names. -sanitize=fuzzer alone (no address
# sanitizer: its crash reports hang in symbolization here); Swift's own
# bounds and overflow checks stay on under -O.
#
# The seed corpora (Tests/Fuzz/corpus-*/) are read, never written: new inputs
# go to .build-fuzz/corpus-*, findings to .build-fuzz/findings/. A finding
# prints the scenario that reproduces it; `VGIC_FUZZ_PRINT=1
# .build-fuzz/fuzz-guest FILE` prints the scenario of any input.

ifneq ($(wildcard /opt/swift/usr/bin/swift),)
export PATH := /opt/swift/usr/bin:$(PATH)
endif

SWIFTC        ?= swiftc
FUZZ_SECONDS  ?= 300
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_DIR      := .build-fuzz
FUZZ_MODULES  := GICArchitecture VGIC GICModel VGICModelPlatform VGICScenario
FUZZ_SOURCES  := $(foreach m,$(FUZZ_MODULES),$(wildcard Sources/$(m)/*.swift))
FUZZ_COMMON   := Tests/Fuzz/FuzzInput.swift Tests/Fuzz/Invariants.swift
FUZZ_FLAGS    := -sanitize=fuzzer -O -parse-as-library -swift-version 6 -I $(FUZZ_DIR)/stubs -module-name VGICFuzz
# No crash backtracer: libFuzzer reports, and the backtracer can be slow.
FUZZ_ENV      := SWIFT_BACKTRACE=enable=no
# -max_len: a snapshot of a small VM is 1-5 KiB; operations are a few bytes each.
FUZZ_OPTS     := -max_len=8192 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz-build: $(FUZZ_DIR)/fuzz-guest $(FUZZ_DIR)/fuzz-snapshot

$(FUZZ_DIR)/stubs/.done:
	@mkdir -p $(FUZZ_DIR)/stubs
	@: > $(FUZZ_DIR)/stubs/empty.swift
	@for m in $(FUZZ_MODULES); do \
		$(SWIFTC) -emit-module -parse-as-library -module-name $$m $(FUZZ_DIR)/stubs/empty.swift \
			-emit-module-path $(FUZZ_DIR)/stubs/$$m.swiftmodule || exit 1; \
	done
	@touch $@

$(FUZZ_DIR)/fuzz-guest: $(FUZZ_DIR)/stubs/.done $(FUZZ_SOURCES) $(FUZZ_COMMON) Tests/Fuzz/GuestFuzz.swift Tests/Fuzz/GuestOracle.swift
	@echo "==> swiftc -sanitize=fuzzer: $@"
	$(SWIFTC) $(FUZZ_FLAGS) $(FUZZ_SOURCES) $(FUZZ_COMMON) Tests/Fuzz/GuestFuzz.swift Tests/Fuzz/GuestOracle.swift -o $@

$(FUZZ_DIR)/fuzz-snapshot: $(FUZZ_DIR)/stubs/.done $(FUZZ_SOURCES) $(FUZZ_COMMON) Tests/Fuzz/SnapshotFuzz.swift
	@echo "==> swiftc -sanitize=fuzzer: $@"
	$(SWIFTC) $(FUZZ_FLAGS) $(FUZZ_SOURCES) $(FUZZ_COMMON) Tests/Fuzz/SnapshotFuzz.swift -o $@

# $(call run-fuzzer,NAME,SECONDS): run NAME from its seed corpus for SECONDS.
# It passes only if the fuzzer exits 0, executed at least one input
# (libFuzzer's final stats) and reported no finding; the log keeps the rest.
define run-fuzzer
	@mkdir -p $(FUZZ_DIR)/corpus-$(1) $(FUZZ_DIR)/findings
	@echo "==> fuzz-$(1): $(2) s from Tests/Fuzz/corpus-$(1)"
	@log=$(FUZZ_DIR)/fuzz-$(1).log; status=0; \
	$(FUZZ_ENV) $(FUZZ_DIR)/fuzz-$(1) $(FUZZ_OPTS) -max_total_time=$(2) \
		-artifact_prefix=$(FUZZ_DIR)/findings/$(1)- \
		$(FUZZ_DIR)/corpus-$(1) Tests/Fuzz/corpus-$(1) > $$log 2>&1 || status=$$?; \
	grep -E 'FINDING|ERROR|SUMMARY|DONE|stat::number_of_executed_units|scenario|^(vm|cpu|line|pulse|map|unmap|phys|vmm|save|restore|# \^)' $$log || true; \
	runs=$$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' $$log | tail -n 1); \
	if [ $$status -ne 0 ]; then \
		echo "fuzz-$(1): FAIL: exit status $$status (see $$log and $(FUZZ_DIR)/findings/)"; exit 1; fi; \
	if grep -qE 'FINDING|ERROR: libFuzzer|deadly signal|SUMMARY' $$log; then \
		echo "fuzz-$(1): FINDING (see $$log and $(FUZZ_DIR)/findings/)"; exit 1; fi; \
	if [ -z "$$runs" ] || [ "$$runs" -eq 0 ]; then \
		echo "fuzz-$(1): FAIL: no input executed (see $$log)"; exit 1; fi; \
	echo "fuzz-$(1): $$runs inputs executed, no finding"
endef

fuzz: fuzz-build
	$(call run-fuzzer,guest,$(FUZZ_SECONDS))
	$(call run-fuzzer,snapshot,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call run-fuzzer,guest,$(FUZZ_SMOKE_SECONDS))
	$(call run-fuzzer,snapshot,$(FUZZ_SMOKE_SECONDS))
