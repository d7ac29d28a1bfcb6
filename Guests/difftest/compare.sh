#!/bin/sh
# compare.sh REF.log HYP.log LABEL
#
# The difftest guest's `D seed:step vCPU what(arg) [= value]` lines on QEMU's
# own GIC (REF) and under the hypervisor (HYP) must be the same, and both
# runs must have reached the guest's end line. On a difference, print the
# first differing seed and the lines around the first difference.
ref=$1 hyp=$2 label=$3
lines() { tr -d '\r' < "$1" | grep -E '^D [0-9]+:' ; }
ended() { tr -d '\r' < "$1" | grep -q '^# difftest: end$' ; }
status=0
ended "$ref" || { echo "difftest $label: the reference did not reach its end"; status=1; }
ended "$hyp" || { echo "difftest $label: the hypervisor run did not reach its end"; status=1; }
lines "$ref" > "$ref.d"
lines "$hyp" > "$hyp.d"
seeds=$(cut -d' ' -f2 "$ref.d" | cut -d: -f1 | uniq | wc -l)
if ! cmp -s "$ref.d" "$hyp.d"; then
    first=$(diff "$ref.d" "$hyp.d" | grep -m1 -E '^[<>] D ' | sed -E 's/^[<>] D ([0-9]+):.*/\1/')
    echo "difftest $label: DIVERGENCE, first at seed $first (reference <, hypervisor >):"
    diff -U 8 "$ref.d" "$hyp.d" | sed -n "3,40p"
    status=1
fi
grep -q PANIC "$hyp" && { echo "difftest $label: the hypervisor panicked"; status=1; }
[ $status -eq 0 ] && echo "difftest $label: $seeds seeds, $(wc -l < "$ref.d") values, the same on both"
exit $status
