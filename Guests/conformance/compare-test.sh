#!/bin/sh
# compare-test.sh: compare.sh on made-up logs, one per rule it enforces
# (test-conformance runs it before the guests).
here=$(dirname "$0")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
# case NAME EXPECTED-STATUS REF-CHECK-LINE HYP-CHECK-LINE
case_() {
    printf 'ok 1 - plain\n%s\n1 passed, 0 failed\n' "$3" > "$dir/ref.log"
    printf 'ok 1 - plain\n%s\n1 passed, 0 failed\n' "$4" > "$dir/hyp.log"
    "$here/compare.sh" "$dir/ref.log" "$dir/hyp.log" 1 > "$dir/out" 2>&1
    got=$?
    if [ "$got" -ne "$2" ]; then
        echo "compare-test: $1: compare.sh exited $got, expected $2"; cat "$dir/out"; fail=1
    fi
}
todo_hyp=' # TODO hypervisor departs from the architecture: why'
todo_qemu=' # TODO QEMU departs from the architecture: why'
todo_qemu_sometimes=' # TODO QEMU departs from the architecture (intermittently): why'
case_ "both pass" 0 "ok 2 - x" "ok 2 - x"
case_ "the hypervisor's known departure" 0 "ok 2 - x$todo_hyp" "not ok 2 - x$todo_hyp"
case_ "QEMU's known departure" 0 "not ok 2 - x$todo_qemu" "ok 2 - x$todo_qemu"
case_ "another failure under the hypervisor" 1 "ok 2 - x" "not ok 2 - x"
case_ "another failure of a waived check" 1 "ok 2 - x$todo_hyp" "not ok 2 - x"
case_ "a departure on the other side" 1 "ok 2 - x" "not ok 2 - x$todo_qemu"
case_ "a stale hypervisor waiver" 1 "ok 2 - x$todo_hyp" "ok 2 - x$todo_hyp"
case_ "a stale QEMU waiver" 1 "ok 2 - x$todo_qemu" "ok 2 - x$todo_qemu"
case_ "an intermittent departure that did not happen" 0 "ok 2 - x$todo_qemu_sometimes" "ok 2 - x$todo_qemu_sometimes"
case_ "different checks" 1 "ok 2 - x" "ok 2 - y"
# No check at all.
printf '0 passed, 0 failed\n' > "$dir/ref.log"; cp "$dir/ref.log" "$dir/hyp.log"
if "$here/compare.sh" "$dir/ref.log" "$dir/hyp.log" 1 > "$dir/out" 2>&1; then
    echo "compare-test: no check: compare.sh accepted it"; fail=1
fi
[ $fail -eq 0 ] && echo "compare-test: compare.sh OK (11 cases)"
exit $fail
