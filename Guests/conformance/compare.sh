#!/bin/sh
# compare.sh REF.log HYP.log N
#
# The conformance guest's check lines on QEMU's own GIC (REF) and under the
# hypervisor (HYP), on N vCPUs, must name the same checks in the same order,
# at least one of them, and every check must pass on both sides, except a
# known departure from the architecture on its own side: a `not ok` line
# whose TAP directive is `# TODO QEMU departs ...` is accepted on the
# reference only, and `# TODO hypervisor departs ...` under the hypervisor
# only (the guest writes the directive only when the check saw what the
# waiver names; any other failure has none). A waived check that passes on
# its own side (`ok ... # TODO QEMU departs ...` on the reference) is a
# stale waiver and fails the comparison, unless the waiver says the
# departure is intermittent. Exit status 0 when the runs agree in that sense.
ref=$1 hyp=$2 n=$3
checks() { tr -d '\r' < "$1" | grep -E '^(not )?ok [0-9]+ - ' ; }
# "ok 5 - name # TODO ..." -> "5 - name"
names() { sed -E 's/^(not )?ok //; s/ # TODO .*$//' ; }
summary() { tr -d '\r' < "$1" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1; }
status=0
rs=$(summary "$ref"); hs=$(summary "$hyp")
[ -n "$rs" ] || { echo "conformance: $n vCPUs: the reference printed no summary"; status=1; }
[ -n "$hs" ] || { echo "conformance: $n vCPUs: the hypervisor run printed no summary"; status=1; }
checks "$ref" > "$ref.checks"
checks "$hyp" > "$hyp.checks"
echo "conformance: $n vCPUs: $(wc -l < "$ref.checks") checks; reference: ${rs:-?}; hypervisor: ${hs:-?}"
names < "$ref.checks" > "$ref.names"
names < "$hyp.checks" > "$hyp.names"
if ! diff -u "$ref.names" "$hyp.names" > "$hyp.diff"; then
    echo "conformance: $n vCPUs: the two runs did not make the same checks:"
    cat "$hyp.diff"
    status=1
fi
if grep '^not ok' "$ref.checks" | grep -v ' # TODO QEMU departs' > "$ref.failed"; then
    echo "conformance: $n vCPUs: failures on the reference (QEMU's GIC):"
    cat "$ref.failed"
    status=1
fi
if grep '^not ok' "$hyp.checks" | grep -v ' # TODO hypervisor departs' > "$hyp.failed"; then
    echo "conformance: $n vCPUs: failures under the hypervisor:"
    cat "$hyp.failed"
    status=1
fi
if ! grep -q '^ok ' "$ref.checks" || ! grep -q '^ok ' "$hyp.checks"; then
    echo "conformance: $n vCPUs: a run passed no check"
    status=1
fi
# own STATUS SUFFIX: the check lines of that status ("ok", "not ok") whose
# waiver is their own side's, labelled by side.
own() {
    grep "^$1 .* # TODO QEMU departs from the architecture$2" "$ref.checks" | sed 's/^/  reference:  /'
    grep "^$1 .* # TODO hypervisor departs from the architecture$2" "$hyp.checks" | sed 's/^/  hypervisor: /'
}
# A waiver whose check passes on its own side no longer describes the run
# (an intermittent one, "departs from the architecture (intermittently):", may).
stale=$(own ok ': ')
if [ -n "$stale" ]; then
    echo "conformance: $n vCPUs: stale waivers (the known departure did not happen; remove the waiver):"
    echo "$stale"
    status=1
fi
known=$(own 'not ok' '')
if [ -n "$known" ]; then
    echo "conformance: $n vCPUs: known departures from the architecture:"
    echo "$known"
fi
exit $status
