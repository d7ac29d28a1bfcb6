# The device guest (issue 9): interrupts from real devices of QEMU virt --
# the PL011 UART, the PL031 RTC, the EL1 virtual and physical timers --
# taken polled and through the IRQ vector, with the seed's operations made
# while each device's line is high and while it is low. The same guest
# (Guests/devices) runs on QEMU's own GICv3 (the reference) and under the
# swift-vgic hypervisor, where each line is a hardware-mapped interrupt, on
# 1, 2 and 4 vCPUs; the two `ok N - name` logs must agree line by line, and
# the hypervisor's must end with its audit finding no physical twin leaked.
#
#   make test-devices             everything (reference and hypervisor, 1/2/4 vCPUs)
#   make devices-ref SMP=n        the guest on QEMU's GIC (EL1, no EL2), log on stdout
#   make devices-hyp SMP=n        the guest under the hypervisor, log on stdout
#
# Works on its own (make -f devices.mk ...) or included by the top-level
# Makefile after hypervisor.mk, whose variables and guest rules it reuses.

ifndef HYP_OUT
include hypervisor.mk
endif

DEV_SMPS ?= 1 2 4
DEV_TIMEOUT ?= 180
# The conformance suite's test framework and its C layer.
HYP_GUEST_SRCS_devices = Guests/conformance/Sources/Framework.swift
HYP_GUEST_SWIFTFLAGS_devices = -I Guests/conformance/include
HYP_GUEST_DEPS_devices = $(wildcard Guests/conformance/include/*)
$(eval $(call HYP_GUEST_RULES,devices))
$(HYP_OUT)/devices-swift.o: $(HYP_ARCH_SRCS)

# The reference: QEMU's GICv3 without virtualization, the guest at EL1.
DEV_REF_QEMU = $(HYP_QEMU) -M virt,gic-version=3 -cpu max -smp $(SMP) -m $(HYP_MEM) -nographic \
	-kernel $(HYP_OUT)/devices.elf

.PHONY: devices devices-ref devices-hyp test-devices dev-run-ref dev-run-hyp

devices: hyp-tools $(HYP_OUT)/hyp.elf $(HYP_OUT)/devices.elf $(HYP_OUT)/devices.bin

devices-ref: devices dev-run-ref
devices-hyp: devices dev-run-hyp

dev-run-ref:
	$(DEV_REF_QEMU)
dev-run-hyp: GUEST = $(HYP_OUT)/devices.bin
dev-run-hyp: HYP_QEMU_EXTRA = -no-reboot
dev-run-hyp:
	$(HYP_QEMU_CMD)

test-devices: devices
	@set -e; start=$$(date +%s); fail=0; \
	for n in $(DEV_SMPS); do \
	  for where in ref hyp; do \
	    log=$(HYP_OUT)/devices-$$where-smp$$n.log; \
	    status=0; timeout $(DEV_TIMEOUT) $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) \
	      dev-run-$$where SMP=$$n < /dev/null > $$log 2>&1 || status=$$?; \
	    if [ $$status -ne 0 ]; then echo "test-devices: $$where on $$n vCPUs: QEMU exit status $$status (124: timeout)"; fail=1; fi; \
	  done; \
	  Guests/devices/compare.sh $(HYP_OUT)/devices-ref-smp$$n.log $(HYP_OUT)/devices-hyp-smp$$n.log $$n || fail=1; \
	done; \
	echo "test-devices: $$(( $$(date +%s) - start )) s"; \
	if [ $$fail -ne 0 ]; then echo "test-devices: FAIL"; exit 1; fi; \
	echo "test-devices: OK"
