# Differential fuzzing (issue 5): the difftest guest (Guests/difftest) runs a
# seeded random sequence of GIC operations and logs every value it reads, on
# QEMU's own GICv3 (the reference) and under the swift-vgic hypervisor; the
# two logs must be the same.
#
#   make difftest [SEEDS=n] [FIRST=s] [STEPS=k] [DIFF_SMPS="1 2 4"]
#                        seeds s..s+n-1, k operations each, on each vCPU count
#   make difftest-regressions
#                        the named seeds of Guests/difftest/regressions (each
#                        one a divergence that was found and fixed)
#   make test-difftest   what `make test` runs: the regressions, then
#                        DIFF_CI_SEEDS fresh seeds per vCPU count
#
# The run's parameters reach the guest through a QEMU loader device, at the
# same guest address in both runs (Guests/difftest/Sources/Machine.swift).

ifndef HYP_OUT
include hypervisor.mk
endif

SEEDS ?= 20
FIRST ?= 1
STEPS ?= 200
DIFF_SMPS ?= 1 2 4
DIFF_CI_SEEDS ?= 40
# Seconds one QEMU run may take: 2 minutes plus a second per 100 operations
# on each vCPU. On 2 host cores the hypervisor side runs about 3 ms per
# operation and vCPU at 8 vCPUs (every cross-vCPU access stops the others),
# so this is 2.5 times that; the 40 seeds of `make test` get 440 s on 4 vCPUs.
DIFF_TIMEOUT ?= $$(( 120 + $(SEEDS) * $(STEPS) * $(SMP) / 100 ))
DIFF_PARAMS = 0x5DFFFFC0
DIFF_LOADERS = -device loader,addr=$(DIFF_PARAMS),data=$(FIRST),data-len=8 \
	-device loader,addr=$$(( $(DIFF_PARAMS) + 8 )),data=$(SEEDS),data-len=8 \
	-device loader,addr=$$(( $(DIFF_PARAMS) + 16 )),data=$(STEPS),data-len=8

HYP_GUEST_SWIFTFLAGS_difftest = -I Guests/conformance/include
HYP_GUEST_DEPS_difftest = $(wildcard Guests/conformance/include/*)
$(eval $(call HYP_GUEST_RULES,difftest))
$(HYP_OUT)/difftest-swift.o: $(HYP_ARCH_SRCS)

DIFF_REF_QEMU = $(HYP_QEMU) -M virt,gic-version=3 -cpu max -smp $(SMP) -m $(HYP_MEM) -nographic \
	-kernel $(HYP_OUT)/difftest.elf $(DIFF_LOADERS)

.PHONY: difftest-build difftest difftest-regressions test-difftest diff-run-ref diff-run-hyp diff-one

difftest-build: hyp-tools $(HYP_OUT)/hyp.elf $(HYP_OUT)/difftest.elf $(HYP_OUT)/difftest.bin

diff-run-ref:
	$(DIFF_REF_QEMU)
diff-run-hyp: GUEST = $(HYP_OUT)/difftest.bin
diff-run-hyp: HYP_QEMU_EXTRA = -no-reboot $(DIFF_LOADERS)
diff-run-hyp:
	$(HYP_QEMU_CMD)

# One comparison: SMP vCPUs, seeds FIRST..FIRST+SEEDS-1; NAME labels the logs.
NAME ?= seeds
diff-one:
	@set -e; fail=0; \
	for where in ref hyp; do \
	  log=$(HYP_OUT)/difftest-$(NAME)-$$where-smp$(SMP).log; \
	  status=0; timeout $(DIFF_TIMEOUT) $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) \
	    diff-run-$$where SMP=$(SMP) FIRST=$(FIRST) SEEDS=$(SEEDS) STEPS=$(STEPS) > $$log 2>&1 || status=$$?; \
	  if [ $$status -ne 0 ]; then echo "difftest $(NAME): $$where on $(SMP) vCPUs: QEMU exit status $$status (124: timeout)"; fail=1; fi; \
	done; \
	Guests/difftest/compare.sh $(HYP_OUT)/difftest-$(NAME)-ref-smp$(SMP).log \
	  $(HYP_OUT)/difftest-$(NAME)-hyp-smp$(SMP).log "$(NAME) on $(SMP) vCPUs" || fail=1; \
	exit $$fail

difftest: difftest-build
	@set -e; start=$$(date +%s); fail=0; \
	for n in $(DIFF_SMPS); do \
	  $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) diff-one SMP=$$n \
	    FIRST=$(FIRST) SEEDS=$(SEEDS) STEPS=$(STEPS) NAME=seeds || fail=1; \
	done; \
	echo "difftest: $$(( $$(date +%s) - start )) s"; \
	if [ $$fail -ne 0 ]; then echo "difftest: FAIL"; exit 1; fi; echo "difftest: OK"

# Guests/difftest/regressions: `name vCPUs seed steps` per line, # comments.
difftest-regressions: difftest-build
	@set -e; fail=0; \
	grep -v '^#' Guests/difftest/regressions | while read name n seed steps; do \
	  [ -n "$$name" ] || continue; \
	  $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) diff-one SMP=$$n \
	    FIRST=$$seed SEEDS=1 STEPS=$$steps NAME=$$name < /dev/null || exit 1; \
	done || fail=1; \
	if [ $$fail -ne 0 ]; then echo "difftest-regressions: FAIL"; exit 1; fi; echo "difftest-regressions: OK"

# The part of `make test`: the named regressions, then a fixed block of
# seeds (CI must be reproducible; `make difftest FIRST=...` explores).
DIFF_CI_FIRST ?= 1
test-difftest: difftest-build
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) difftest-regressions
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) difftest \
	  FIRST=$(DIFF_CI_FIRST) SEEDS=$(DIFF_CI_SEEDS) STEPS=$(STEPS)
