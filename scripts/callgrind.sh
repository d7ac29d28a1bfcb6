#!/usr/bin/env bash
# Counts the instructions that one run of the `vgic` executable takes, with
# valgrind's callgrind (exact and repeatable, unlike wall-clock time).
#
#   scripts/callgrind.sh scenario Tests/Scenarios/example.vgs
#   CALLGRIND_ARGS="--toggle-collect='*inject*'" scripts/callgrind.sh ...
#
# Builds vgic in release (the same build as `make run`), runs
# `valgrind --tool=callgrind vgic ARGS...`, prints the total instruction count
# (Ir) and the 25 costliest functions. The raw output stays in
# .build/callgrind.out for callgrind_annotate.
# For a per-operation count: run once with N operations and once with 2N and
# divide the difference by N (this removes start-up and parsing costs).
set -euo pipefail

cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then
    echo "usage: $0 VGIC-ARGUMENTS...   (e.g. $0 scenario Tests/Scenarios/x.vgs)" >&2
    exit 2
fi
[[ -x /opt/swift/usr/bin/swift ]] && export PATH="/opt/swift/usr/bin:$PATH"

if ! command -v valgrind >/dev/null; then
    echo "callgrind: installing valgrind" >&2
    if [[ $(id -u) -ne 0 ]]; then echo "callgrind: valgrind missing and not root" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

swift build -c release --product vgic >&2
BIN="$(swift build -c release --show-bin-path)/vgic"
OUTFILE=.build/callgrind.out

# shellcheck disable=SC2086  # CALLGRIND_ARGS is a list of options
valgrind --tool=callgrind --callgrind-out-file="$OUTFILE" ${CALLGRIND_ARGS:-} \
    "$BIN" "$@"

echo
echo "== callgrind: 25 costliest functions (self cost) =="
callgrind_annotate "$OUTFILE" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '1,28p' | cut -c1-160 || true
total=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$OUTFILE" | head -n1 | awk '{print $1}')
echo
echo "callgrind: total instructions (Ir): $total   ($*)"
