#!/bin/sh
# compare.sh REF.log HYP.log N
#
# The device guest's check lines on QEMU's own GIC (REF) and under the
# hypervisor (HYP), on N vCPUs, compared by the conformance suite's rules
# (Guests/conformance/compare.sh: the same checks in the same order, every
# one passed, except a known departure on its own side). The hypervisor's
# log must also end with its audit at PSCI SYSTEM_OFF finding no physical
# twin active without a virtual reason, and must have no PANIC line.
# Exit status 0 when all of that holds.
here=$(dirname "$0")
ref=$1 hyp=$2 n=$3
status=0
out=$("$here/../conformance/compare.sh" "$ref" "$hyp" "$n") || status=1
printf '%s\n' "$out" | sed 's/^conformance:/devices:/'
if ! tr -d '\r' < "$hyp" | grep -q '^hyp: physical twins: none active without a virtual reason$'; then
    echo "devices: $n vCPUs: the hypervisor's audit at SYSTEM_OFF did not report (no SYSTEM_OFF, or a leak)"
    status=1
fi
if grep -q 'PANIC' "$hyp"; then
    echo "devices: $n vCPUs: the hypervisor's log has a PANIC line:"
    grep 'PANIC' "$hyp" | tr -d '\r' | head -n 5
    status=1
fi
exit $status
