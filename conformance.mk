# The guest conformance suite (issue 5): the same bare-metal guest
# (Guests/conformance) on QEMU's own GICv3 -- the reference -- and under the
# swift-vgic hypervisor, on 1, 2 and 4 vCPUs; the two `ok N - name` logs
# must agree line by line and the hypervisor's must have no failure.
#
#   make test-conformance             everything (reference and hypervisor, 1/2/4 vCPUs)
#   make conformance-ref SMP=n        the guest on QEMU's GIC (EL1, no EL2), log on stdout
#   make conformance-hyp SMP=n        the guest under the hypervisor, log on stdout
#
# Works on its own (make -f conformance.mk ...) or included by the top-level
# Makefile after hypervisor.mk, whose variables and guest rules it reuses.

ifndef HYP_OUT
include hypervisor.mk
endif

CONF_SMPS ?= 1 2 4
CONF_TIMEOUT ?= 120
CONF_GUEST_INCLUDE := Guests/conformance/include
HYP_GUEST_SWIFTFLAGS_conformance = -I $(CONF_GUEST_INCLUDE)
HYP_GUEST_DEPS_conformance = $(wildcard $(CONF_GUEST_INCLUDE)/*)
$(eval $(call HYP_GUEST_RULES,conformance))

# The reference: QEMU's GICv3 without virtualization. QEMU enters the ELF at
# EL1 (no EL2, no EL3), its PSCI conduit is HVC, its device tree at the
# base of RAM (the guest needs none: virt's addresses are fixed).
CONF_REF_QEMU = $(HYP_QEMU) -M virt,gic-version=3 -cpu max -smp $(SMP) -m $(HYP_MEM) -nographic \
	-kernel $(HYP_OUT)/conformance.elf

.PHONY: conformance conformance-ref conformance-hyp test-conformance conf-run-ref conf-run-hyp

conformance: hyp-tools $(HYP_OUT)/hyp.elf $(HYP_OUT)/conformance.elf $(HYP_OUT)/conformance.bin

conformance-ref: conformance conf-run-ref
conformance-hyp: conformance conf-run-hyp

# The runs alone (test-conformance builds once, then runs these): the
# hypervisor's QEMU command line is hypervisor.mk's, with this guest.
conf-run-ref:
	$(CONF_REF_QEMU)
conf-run-hyp: GUEST = $(HYP_OUT)/conformance.bin
conf-run-hyp: HYP_QEMU_EXTRA = -no-reboot
conf-run-hyp:
	$(HYP_QEMU_CMD)

test-conformance: conformance
	@Guests/conformance/compare-test.sh
	@set -e; start=$$(date +%s); fail=0; \
	for n in $(CONF_SMPS); do \
	  for where in ref hyp; do \
	    log=$(HYP_OUT)/conformance-$$where-smp$$n.log; \
	    status=0; timeout $(CONF_TIMEOUT) $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) \
	      conf-run-$$where SMP=$$n > $$log 2>&1 || status=$$?; \
	    if [ $$status -ne 0 ]; then echo "test-conformance: $$where on $$n vCPUs: QEMU exit status $$status (124: timeout)"; fail=1; fi; \
	  done; \
	  Guests/conformance/compare.sh $(HYP_OUT)/conformance-ref-smp$$n.log $(HYP_OUT)/conformance-hyp-smp$$n.log $$n || fail=1; \
	done; \
	echo "test-conformance: $$(( $$(date +%s) - start )) s"; \
	if [ $$fail -ne 0 ]; then echo "test-conformance: FAIL"; exit 1; fi; \
	echo "test-conformance: OK"

# The guest's own Swift also follows the portable sources it compiles with.
$(HYP_OUT)/conformance-swift.o: $(HYP_ARCH_SRCS)
