#!/usr/bin/env bash
# Exact instructions per vGIC operation, with valgrind's callgrind.
#
#   bash scripts/instructions.sh                 every operation, N = 2000
#   bash scripts/instructions.sh flush-sync-64   some operations
#   N=10000 bash scripts/instructions.sh         another N
#
# Builds Benchmarks/Tools/VGICOpCounter in release (the benchmarks package,
# so the same compiler settings as `make bench`), runs each operation under
# callgrind once with N iterations and once with 2N, and prints
# (Ir(2N) - Ir(N)) / N: the instructions of exactly one operation, without
# process start-up, VM set-up and warm-up. The operations are those of
# Benchmarks/Workloads/VGICWorkloads.swift (`VGICOpCounter list`).
# Installs valgrind with apt-get when it is missing.
set -euo pipefail

cd "$(dirname "$0")/.."
[[ -x /opt/swift/usr/bin/swift ]] && export PATH="/opt/swift/usr/bin:$PATH"
N=${N:-2000}

if ! command -v valgrind >/dev/null; then
    echo "instructions: installing valgrind" >&2
    if [[ $(id -u) -ne 0 ]]; then echo "instructions: valgrind missing and not root" >&2; exit 1; fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

(cd Benchmarks && swift build -c release --product VGICOpCounter >&2)
BIN="$(cd Benchmarks && swift build -c release --show-bin-path)/VGICOpCounter"
OUT=Benchmarks/.build/instructions
mkdir -p "$OUT"

if [[ $# -gt 0 ]]; then ops=("$@"); else mapfile -t ops < <("$BIN" list | cut -f1); fi

# Total instructions (Ir) of one run of VGICOpCounter OP COUNT.
count() {
    local op=$1 n=$2 file="$OUT/callgrind.$1.$2"
    valgrind --tool=callgrind --callgrind-out-file="$file" "$BIN" "$op" "$n" >"$file.log" 2>&1 || {
        echo "instructions: $op $n failed:" >&2
        cat "$file.log" >&2
        exit 1
    }
    sed -n 's/^summary: *//p; s/^totals: *//p' "$file" | head -n1 | awk '{print $1}'
}

printf '%-26s %16s   %s\n' operation instructions/op description
for op in "${ops[@]}"; do
    title=$("$BIN" list | awk -F'\t' -v op="$op" '$1 == op { print $2 }')
    [[ -n $title ]] || { echo "instructions: no operation '$op' (see VGICOpCounter list)" >&2; exit 2; }
    a=$(count "$op" "$N")
    b=$(count "$op" $((2 * N)))
    per=$(awk -v a="$a" -v b="$b" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')
    printf '%-26s %16s   %s\n' "$op" "$per" "$title"
done
echo "(callgrind Ir; N = $N and $((2 * N)) operations; raw output in $OUT)"
