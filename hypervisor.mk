# The bare-metal hypervisor (Hypervisor/) and its guests (Guests/).
#
#   make hypervisor                 build .build-hyp/hyp.elf, demo.bin, fuzz.bin
#   make run-hyp [SMP=n] [GUEST=image] [APPEND="bootargs"]
#                                   boot a guest (default: the demo) in QEMU
#   make test-hyp                   the demo guest on 2 and 4 vCPUs, then the
#                                   fuzz guest on 4 (test-hyp-fuzz)
#   make test-hyp-linux             Debian's arm64 Linux on 2 and 4 vCPUs
#                                   (fetched once with apt; not in test-hyp,
#                                   make test runs it as its own step)
#
# Meant to be included by the top-level Makefile; it defines only HYP_*
# variables and the targets above (plus their files under .build-hyp/).

HYP_SWIFT_BIN ?= $(firstword $(wildcard /opt/swift/usr/bin) $(dir $(shell command -v swiftc 2>/dev/null)))
HYP_SWIFTC := $(HYP_SWIFT_BIN)/swiftc
HYP_CLANG := $(HYP_SWIFT_BIN)/clang
HYP_LLD := $(HYP_SWIFT_BIN)/ld.lld
HYP_OBJCOPY := $(HYP_SWIFT_BIN)/llvm-objcopy
HYP_OUT := .build-hyp
HYP_QEMU := qemu-system-aarch64
HYP_MACHINE := virt,virtualization=on,gic-version=3
HYP_MEM := 512M
SMP ?= 2
APPEND ?=
HYP_TIMEOUT ?= 120

# Guest memory: RAM 0x40000000 up to the hypervisor at 0x5E000000. QEMU puts
# its own device tree at 0x40000000 (1 MiB), where the guest image belongs, so
# the image is staged at 0x58000000 with its size in the last 8 bytes of guest
# RAM; the hypervisor derives the guest's device tree from QEMU's (bootargs
# from -append), then moves the image to its place (Hypervisor/README.md).
HYP_GUEST_STAGE := 0x58000000
HYP_GUEST_SIZE_ADDR := 0x5DFFFFF8
# An initial RAM disk (INITRD=file) stays where it is loaded; the hypervisor
# tells the guest in /chosen.
HYP_INITRD_STAGE := 0x5C000000
HYP_INITRD_SIZE_ADDR := 0x5DFFFFF0
INITRD ?=
, := ,

HYP_SWIFTFLAGS := -enable-experimental-feature Embedded -wmo -target aarch64-none-none-elf \
	-parse-as-library -Osize -Xcc -mgeneral-regs-only -Xfrontend -disable-stack-protector \
	-swift-version 6
HYP_CFLAGS := --target=aarch64-none-elf -mgeneral-regs-only -ffreestanding -fno-builtin \
	-fno-stack-protector -O2 -Wall -g0

# The accessors the hypervisor's and the guests' C headers share.
HYP_SHARED_H := Shared/include/a64_access.h
HYP_ARCH_SRCS := $(wildcard Sources/GICArchitecture/*.swift)
HYP_VGIC_SRCS := $(wildcard Sources/VGIC/*.swift)
HYP_SRCS := $(wildcard Hypervisor/Sources/*.swift)

GUEST ?= $(HYP_OUT)/demo.bin

.PHONY: hypervisor run-hyp test-hyp test-hyp-fuzz test-hyp-linux hyp-tools

hyp-tools:
	@command -v $(HYP_QEMU) >/dev/null || (apt-get update -qq && apt-get install -y -qq qemu-system-arm)
	@test -x $(HYP_SWIFTC) || (echo "hypervisor.mk: no Swift toolchain (swiftc) found" >&2; exit 1)

hypervisor: hyp-tools $(HYP_OUT)/hyp.elf $(HYP_OUT)/demo.bin $(HYP_OUT)/fuzz.bin

# ---- Portable modules, compiled in Embedded mode ---------------------------
$(HYP_OUT)/GICArchitecture.o: $(HYP_ARCH_SRCS)
	@mkdir -p $(HYP_OUT)
	$(HYP_SWIFTC) $(HYP_SWIFTFLAGS) -module-name GICArchitecture \
		-emit-module -emit-module-path $(HYP_OUT)/GICArchitecture.swiftmodule \
		-c $(HYP_ARCH_SRCS) -o $@
	@touch $@

$(HYP_OUT)/VGIC.o: $(HYP_VGIC_SRCS) $(HYP_OUT)/GICArchitecture.o
	$(HYP_SWIFTC) $(HYP_SWIFTFLAGS) -module-name VGIC -I $(HYP_OUT) \
		-emit-module -emit-module-path $(HYP_OUT)/VGIC.swiftmodule \
		-c $(HYP_VGIC_SRCS) -o $@
	@touch $@

# ---- The hypervisor ---------------------------------------------------------
# The generic vGIC is specialized into Hypervisor.o: it depends on the
# portable sources themselves, not only on their objects (swiftc keeps an
# object file's date when its contents do not change; the touches above
# make the dates follow the sources anyway).
$(HYP_OUT)/Hypervisor.o: $(HYP_SRCS) Hypervisor/include/hyp.h $(HYP_SHARED_H) $(HYP_OUT)/VGIC.o $(HYP_VGIC_SRCS) $(HYP_ARCH_SRCS)
	$(HYP_SWIFTC) $(HYP_SWIFTFLAGS) -module-name Hypervisor -I $(HYP_OUT) -I Hypervisor/include \
		-c $(HYP_SRCS) -o $@

$(HYP_OUT)/hyp-boot.o: Hypervisor/boot.S
	@mkdir -p $(HYP_OUT)
	$(HYP_CLANG) $(HYP_CFLAGS) -c $< -o $@

$(HYP_OUT)/hyp-libc.o: Hypervisor/libc.c Hypervisor/include/hyp.h $(HYP_SHARED_H)
	@mkdir -p $(HYP_OUT)
	$(HYP_CLANG) $(HYP_CFLAGS) -I Hypervisor/include -c $< -o $@

HYP_OBJS := $(HYP_OUT)/hyp-boot.o $(HYP_OUT)/hyp-libc.o $(HYP_OUT)/Hypervisor.o \
	$(HYP_OUT)/VGIC.o $(HYP_OUT)/GICArchitecture.o

$(HYP_OUT)/hyp.elf: $(HYP_OBJS) Hypervisor/link.ld
	$(HYP_LLD) -T Hypervisor/link.ld --gc-sections -o $@ $(HYP_OBJS)

# ---- Guests: the demo and the fuzzer, on a shared bare-metal runtime -------
HYP_GUEST_RT_SRCS := $(wildcard Guests/runtime/Sources/*.swift)
HYP_GUEST_RT_DEPS := Guests/runtime/include/guest.h $(HYP_SHARED_H) $(HYP_OUT)/GICArchitecture.o
HYP_FUZZ_SECONDS ?= 60
HYP_GUEST_SWIFTFLAGS_fuzz = -Xcc -DFUZZ_SECONDS=$(HYP_FUZZ_SECONDS)
# A stamp per duration, so that changing HYP_FUZZ_SECONDS rebuilds the fuzzer.
HYP_GUEST_DEPS_fuzz = $(HYP_OUT)/fuzz-seconds.$(HYP_FUZZ_SECONDS)
$(HYP_OUT)/fuzz-seconds.%:
	@mkdir -p $(HYP_OUT)
	@rm -f $(HYP_OUT)/fuzz-seconds.*
	@touch $@

$(HYP_OUT)/guest-boot.o: Guests/runtime/boot.S
	@mkdir -p $(HYP_OUT)
	$(HYP_CLANG) $(HYP_CFLAGS) -c $< -o $@

$(HYP_OUT)/guest-libc.o: Guests/runtime/libc.c Guests/runtime/include/guest.h $(HYP_SHARED_H)
	@mkdir -p $(HYP_OUT)
	$(HYP_CLANG) $(HYP_CFLAGS) -I Guests/runtime/include -c $< -o $@

# $(1): guest name (Guests/$(1)/Sources). Extra Swift flags in HYP_GUEST_SWIFTFLAGS_$(1),
# extra dependencies in HYP_GUEST_DEPS_$(1), Swift files of another guest it
# shares in HYP_GUEST_SRCS_$(1).
define HYP_GUEST_RULES
$(HYP_OUT)/$(1)-swift.o: $(wildcard Guests/$(1)/Sources/*.swift) $(HYP_GUEST_SRCS_$(1)) $(HYP_GUEST_RT_SRCS) \
		$(HYP_GUEST_RT_DEPS) $(HYP_GUEST_DEPS_$(1))
	$(HYP_SWIFTC) $(HYP_SWIFTFLAGS) $(HYP_GUEST_SWIFTFLAGS_$(1)) -module-name $(1)Guest \
		-I $(HYP_OUT) -I Guests/runtime/include -c $(wildcard Guests/$(1)/Sources/*.swift) $(HYP_GUEST_SRCS_$(1)) \
		$(HYP_GUEST_RT_SRCS) -o $$@

$(HYP_OUT)/$(1).elf: $(HYP_OUT)/guest-boot.o $(HYP_OUT)/guest-libc.o $(HYP_OUT)/$(1)-swift.o \
		$(HYP_OUT)/GICArchitecture.o Guests/runtime/link.ld
	$(HYP_LLD) -T Guests/runtime/link.ld --gc-sections -o $$@ $(HYP_OUT)/guest-boot.o \
		$(HYP_OUT)/guest-libc.o $(HYP_OUT)/$(1)-swift.o $(HYP_OUT)/GICArchitecture.o

$(HYP_OUT)/$(1).bin: $(HYP_OUT)/$(1).elf
	$(HYP_OBJCOPY) -O binary $$< $$@
endef

$(eval $(call HYP_GUEST_RULES,demo))
$(eval $(call HYP_GUEST_RULES,fuzz))

# ---- Running ----------------------------------------------------------------
HYP_QEMU_EXTRA ?=
# The console: -nographic multiplexes the UART and QEMU's monitor on stdio
# (Ctrl-A X quits). It passes no input from a pipe to the guest; tests that
# type use the plain serial console.
HYP_QEMU_CONSOLE ?= -nographic
HYP_QEMU_CMD = $(HYP_QEMU) -M $(HYP_MACHINE) -cpu max -smp $(SMP) -m $(HYP_MEM) $(HYP_QEMU_CONSOLE) $(HYP_QEMU_EXTRA) \
	-kernel $(HYP_OUT)/hyp.elf \
	-device loader,file=$(GUEST),addr=$(HYP_GUEST_STAGE),force-raw=on \
	-device loader,addr=$(HYP_GUEST_SIZE_ADDR),data=$$(stat -c %s $(GUEST)),data-len=8 \
	$(if $(APPEND),-append "$(APPEND)") \
	$(if $(INITRD),-device loader$(,)file=$(INITRD)$(,)addr=$(HYP_INITRD_STAGE)$(,)force-raw=on \
	  -device loader$(,)addr=$(HYP_INITRD_SIZE_ADDR)$(,)data=$$(stat -c %s $(INITRD))$(,)data-len=8)

run-hyp: hypervisor
	$(HYP_QEMU_CMD)

# Boots the demo guest on 2 and 4 vCPUs; each run must print the guest's
# summary with at least one check passed and none failed, and end by PSCI
# SYSTEM_OFF (QEMU exits 0).
test-hyp: hypervisor
	@set -e; for n in 2 4; do \
	  echo "test-hyp: demo guest on $$n vCPUs"; \
	  status=0; timeout $(HYP_TIMEOUT) $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) \
	    run-hyp SMP=$$n GUEST=$(HYP_OUT)/demo.bin > $(HYP_OUT)/test-smp$$n.log 2>&1 || status=$$?; \
	  cat $(HYP_OUT)/test-smp$$n.log; \
	  if [ $$status -ne 0 ]; then echo "test-hyp: FAIL: QEMU exit status $$status on $$n vCPUs"; exit 1; fi; \
	  grep -qE "demo: $$n vCPUs: [1-9][0-9]* passed, 0 failed" $(HYP_OUT)/test-smp$$n.log || \
	    { echo "test-hyp: FAIL: no summary with a check passed and none failed on $$n vCPUs"; exit 1; }; \
	  if grep -q "PANIC" $(HYP_OUT)/test-smp$$n.log; then echo "test-hyp: FAIL: panic"; exit 1; fi; \
	  echo "test-hyp: $$n vCPUs OK"; \
	done
	@$(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) test-hyp-fuzz

# The fuzz guest on 4 vCPUs for HYP_FUZZ_SECONDS: random values at every
# trapped region, random HVC/SMC. The hypervisor must neither crash nor hang.
test-hyp-fuzz: hypervisor
	@set -e; n=4; \
	echo "test-hyp: fuzz guest on $$n vCPUs for $(HYP_FUZZ_SECONDS) s"; \
	status=0; timeout $$(( $(HYP_FUZZ_SECONDS) + $(HYP_TIMEOUT) )) $(MAKE) --no-print-directory -s \
	  -f $(firstword $(MAKEFILE_LIST)) run-hyp SMP=$$n GUEST=$(HYP_OUT)/fuzz.bin > $(HYP_OUT)/test-fuzz.log 2>&1 || status=$$?; \
	cat $(HYP_OUT)/test-fuzz.log; \
	if [ $$status -ne 0 ]; then echo "test-hyp: FAIL: fuzz run: QEMU exit status $$status (124: hang)"; exit 1; fi; \
	grep -qE "fuzz: $$n vCPUs, $$n finished: [1-9][0-9]* operations, .* survived" $(HYP_OUT)/test-fuzz.log || \
	  { echo "test-hyp: FAIL: the fuzz guest did not finish on every vCPU, or made no operation"; exit 1; }; \
	if grep -q "PANIC" $(HYP_OUT)/test-fuzz.log; then echo "test-hyp: FAIL: panic"; exit 1; fi; \
	echo "test-hyp: fuzz OK"

# A real guest: Debian's arm64 Linux with a busybox initial RAM disk (both
# fetched once with apt into .build-hyp) on 2 and 4 vCPUs. Its /init
# (Guests/linux/init) runs a loop pinned to every CPU, takes the last CPU
# offline and back (PSCI CPU_OFF, CPU_ON), reads a line the test
# types on the console (the UART's SPI, passed through; typed only once the
# guest waits for it: QEMU's PL011 raises no receive-timeout interrupt for
# characters that arrived before the driver started), prints what
# /proc/interrupts counted, and powers off through PSCI: QEMU exits 0.
HYP_LINUX := $(HYP_OUT)/linux-Image $(HYP_OUT)/linux-initrd.cpio.gz
$(HYP_OUT)/linux-Image $(HYP_OUT)/linux-initrd.cpio.gz &: Hypervisor/fetch-linux.sh Guests/linux/init
	@command -v dpkg-deb >/dev/null || (echo "hypervisor.mk: dpkg-deb is needed" >&2; exit 1)
	@mkdir -p $(HYP_OUT)
	Hypervisor/fetch-linux.sh $(HYP_OUT)

# QEMU reads the console from a FIFO that this recipe holds open: it types
# "ping" once a second from the guest's prompt until QEMU exits, and its
# writes after that fail quietly (SIGPIPE ignored), so the status is QEMU's.
# A run that ends before the prompt is not waited for.
HYP_LINUX_SMPS ?= 2 4
HYP_LINUX_TIMEOUT ?= 300
test-hyp-linux: hypervisor $(HYP_LINUX)
	@set -e; trap '' PIPE; for n in $(HYP_LINUX_SMPS); do \
	  echo "test-hyp: Linux on $$n vCPUs"; \
	  log=$(HYP_OUT)/test-linux-smp$$n.log; console=$(HYP_OUT)/test-linux-console; \
	  rm -f $$log $$console; mkfifo $$console; start=$$(date +%s); \
	  timeout $(HYP_LINUX_TIMEOUT) $(MAKE) --no-print-directory -s -f $(firstword $(MAKEFILE_LIST)) run-hyp SMP=$$n \
	    GUEST=$(HYP_OUT)/linux-Image INITRD=$(HYP_OUT)/linux-initrd.cpio.gz HYP_QEMU_EXTRA=-no-reboot \
	    HYP_QEMU_CONSOLE="-display none -serial stdio" \
	    APPEND="console=ttyAMA0 panic=-1" < $$console > $$log 2>&1 & qemu=$$!; \
	  exec 3> $$console; \
	  until grep -q "waiting for a line" $$log 2>/dev/null || ! kill -0 $$qemu 2>/dev/null; do sleep 1; done; \
	  while kill -0 $$qemu 2>/dev/null && echo ping >&3 2>/dev/null; do sleep 1; done; \
	  status=0; wait $$qemu || status=$$?; \
	  exec 3>&-; rm -f $$console; \
	  grep -E "^hyp:|^guest-init:|Booting Linux|psci:|GICv3: CPU|smp: Brought up|arch_timer|IPI|pl011|Kernel panic" \
	    $$log || true; \
	  echo "test-hyp: Linux on $$n vCPUs: $$(( $$(date +%s) - start )) s"; \
	  if [ $$status -ne 0 ]; then echo "test-hyp: FAIL: Linux run: QEMU exit status $$status (124: timeout)"; exit 1; fi; \
	  grep -q "smp: Brought up 1 node, $$n CPUs" $$log || \
	    { echo "test-hyp: FAIL: Linux did not bring up $$n CPUs"; exit 1; }; \
	  grep -q "guest-init: every CPU ran its loop" $$log || \
	    { echo "test-hyp: FAIL: the guest's /init did not finish"; exit 1; }; \
	  grep -q "guest-init: after CPU_ON of CPU $$((n-1)): 0-$$((n-1))" $$log || \
	    { echo "test-hyp: FAIL: CPU $$((n-1)) did not come back online"; exit 1; }; \
	  grep -q "guest-init: read from the console: [a-z]" $$log || \
	    { echo "test-hyp: FAIL: no console input reached the guest (UART SPI)"; exit 1; }; \
	  grep -q "hyp: guest vCPU .: PSCI SYSTEM_OFF" $$log || \
	    { echo "test-hyp: FAIL: Linux did not power off"; exit 1; }; \
	  if grep -q "PANIC" $$log; then echo "test-hyp: FAIL: hypervisor panic"; exit 1; fi; \
	  echo "test-hyp: Linux on $$n vCPUs OK"; \
	done
