#!/bin/sh
# compare.sh REF.log HYP.log N: the conformance guest's check lines on QEMU's
# own GIC (REF) and under the hypervisor (HYP) must be the same, and the
# hypervisor's run must pass every check and print its summary.
ref=$1 hyp=$2 n=$3
checks() { tr -d '\r' < "$1" | grep -E '^(not )?ok [0-9]+ - ' ; }
summary() { tr -d '\r' < "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1; }
status=0
rs=$(summary "$ref"); hs=$(summary "$hyp")
[ -n "$rs" ] || { echo "conformance: reference on $n vCPUs: no summary line"; status=1; }
[ -n "$hs" ] || { echo "conformance: hypervisor on $n vCPUs: no summary line"; status=1; }
echo "conformance: $n vCPUs: reference: ${rs:-?}; hypervisor: ${hs:-?}"
if ! checks "$ref" > "$ref.checks" || ! checks "$hyp" > "$hyp.checks"; then
    echo "conformance: $n vCPUs: no check lines"; status=1
fi
if ! diff -u "$ref.checks" "$hyp.checks" > "$hyp.diff"; then
    echo "conformance: $n vCPUs: the reference and the hypervisor diverge:"
    cat "$hyp.diff"
    status=1
fi
if grep -q '^not ok' "$hyp.checks"; then
    echo "conformance: $n vCPUs: failures under the hypervisor:"
    grep '^not ok' "$hyp.checks"
    status=1
fi
if grep -q '^not ok' "$ref.checks"; then
    echo "conformance: $n vCPUs: failures on the reference:"
    grep '^not ok' "$ref.checks"
    status=1
fi
exit $status
