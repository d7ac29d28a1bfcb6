#!/usr/bin/env bash
# Exact instructions per vGIC operation, with valgrind's callgrind.
#
#   bash scripts/instructions.sh                 every operation, N = 2000
#   bash scripts/instructions.sh flush-sync-64   some operations
#   N=10000 bash scripts/instructions.sh         another N
#   SPLIT=1 bash scripts/instructions.sh         also: how many of them ran in
#                                                the GIC hardware model
#
# Builds Benchmarks/Tools/VGICOpCounter in release (the benchmarks package,
# so the same compiler settings as `make bench`), runs each operation under
# callgrind once with N iterations and once with 2N, and prints
# (Ir(2N) - Ir(N)) / N: the instructions of exactly one operation, without
# process start-up, VM set-up and warm-up; and, the same way, the calls into
# the C allocator (malloc and friends) per operation, which must be 0. The
# operations are those of
# Benchmarks/Workloads/VGICWorkloads.swift (`VGICOpCounter list`).
# With SPLIT=1, two more runs per operation count only the instructions
# inside the hardware model's entry points (GICModel's list-register, HCR,
# VMCR, APR, guest CPU-interface and physical-interrupt methods, with
# everything they call): the platform's share, which on hardware is a
# system-register access (or the guest's own IAR/EOI, not the hypervisor's).
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

# The benchmarks package depends on this one by path, and SwiftPM does not
# notice files added to or renamed in it without planning the build again.
rm -f Benchmarks/.build/release.yaml Benchmarks/.build/*/release/description.json
(cd Benchmarks && swift build -c release --product VGICOpCounter >&2)
BIN="$(cd Benchmarks && swift build -c release --show-bin-path)/VGICOpCounter"
OUT=Benchmarks/.build/instructions
mkdir -p "$OUT"

if [[ $# -gt 0 ]]; then ops=("$@"); else mapfile -t ops < <("$BIN" list | cut -f1); fi

# One run of VGICOpCounter OP COUNT under callgrind; prints its total
# instructions (Ir) and its calls into the C allocator.
count() {
    local op=$1 n=$2 file="$OUT/callgrind.$1.$2"
    valgrind --tool=callgrind --callgrind-out-file="$file" "$BIN" "$op" "$n" >"$file.log" 2>&1 || {
        echo "instructions: $op $n failed:" >&2
        cat "$file.log" >&2
        exit 1
    }
    local ir
    ir=$(sed -n 's/^summary: *//p; s/^totals: *//p' "$file" | head -n1 | awk '{print $1}')
    echo "$ir $(allocator_calls "$file")"
}

# Calls to malloc, calloc, realloc and the memalign family, summed over every
# caller in a callgrind output file (names are compressed: "cfn=(id) name"
# the first time, "cfn=(id)" after).
allocator_calls() {
    awk '
        /^c?fn=\(/ {
            id = $1; sub(/^c?fn=/, "", id)
            if (NF > 1) { name = $0; sub(/^c?fn=\([0-9]+\) /, "", name); names[id] = name }
            if ($0 ~ /^cfn=/) callee = names[id]
            next
        }
        /^calls=/ {
            n = $1; sub(/^calls=/, "", n)
            if (callee ~ /^(malloc|calloc|realloc|posix_memalign|aligned_alloc|memalign)$/) total += n
        }
        END { print total + 0 }
    ' "$1"
}

# GICModel's public entry points (mangled-name prefixes). They never call
# one another (each takes the model's lock), so collection toggles on at
# entry and off at exit without nesting.
MODEL_ENTRIES=(7writeLR 6readLR 8writeHCR 7readHCR 8readVMCR 9writeVMCR 7readAPR 8writeAPR
    18readSystemRegister 19writeSystemRegister 8readGICV 9writeGICV
    17setPhysicalActive 18setPhysicalPending 14physicalActive 15physicalPending 17physicalLineLevel)

# Instructions of one run of VGICOpCounter OP COUNT spent inside the model.
count_model() {
    local op=$1 n=$2 file="$OUT/callgrind-model.$1.$2" toggles=() e
    for e in "${MODEL_ENTRIES[@]}"; do toggles+=("--toggle-collect=\$s8GICModelAAC${e}*"); done
    valgrind --tool=callgrind --callgrind-out-file="$file" "${toggles[@]}" "$BIN" "$op" "$n" \
        >"$file.log" 2>&1 || { cat "$file.log" >&2; exit 1; }
    sed -n 's/^summary: *//p; s/^totals: *//p' "$file" | head -n1 | awk '{print $1}'
}

split=${SPLIT:-0}
if [[ $split == 1 ]]; then
    printf '%-26s %16s %10s %10s   %s\n' operation instructions/op mallocs/op "in model" description
else
    printf '%-26s %16s %10s   %s\n' operation instructions/op mallocs/op description
fi
for op in "${ops[@]}"; do
    title=$("$BIN" list | awk -F'\t' -v op="$op" '$1 == op { print $2 }')
    [[ -n $title ]] || { echo "instructions: no operation '$op' (see VGICOpCounter list)" >&2; exit 2; }
    read -r ir1 m1 < <(count "$op" "$N")
    read -r ir2 m2 < <(count "$op" $((2 * N)))
    per=$(awk -v a="$ir1" -v b="$ir2" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')
    mallocs=$(awk -v a="$m1" -v b="$m2" -v n="$N" 'BEGIN { printf "%g", (b - a) / n }')
    if [[ $split == 1 ]]; then
        md1=$(count_model "$op" "$N")
        md2=$(count_model "$op" $((2 * N)))
        model=$(awk -v a="$md1" -v b="$md2" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / n }')
        printf '%-26s %16s %10s %10s   %s\n' "$op" "$per" "$mallocs" "$model" "$title"
    else
        printf '%-26s %16s %10s   %s\n' "$op" "$per" "$mallocs" "$title"
    fi
done
echo "(callgrind; each figure is (run with $((2 * N)) operations - run with $N) / $N; raw output in $OUT)"
