#!/usr/bin/env bash
# Builds the portable modules with Embedded Swift for aarch64-none-none-elf:
#   GICArchitecture, then VGIC and GICModel against GICArchitecture's module.
# Output: object files and .swiftmodule files under .build-embedded/.
# Also checks the portable sources for things that have no place there
# (hosted-only imports, existentials, Mutex). Fails on the first problem.
set -euo pipefail
trap 'echo "build-embedded: FAILED (see the errors above)" >&2' ERR

cd "$(dirname "$0")/.."
OUT=${EMBEDDED_OUT:-.build-embedded}
SWIFTC=${SWIFTC:-swiftc}
MODULES=(GICArchitecture VGIC GICModel VGICModelPlatform)

# ---- Source checks ---------------------------------------------------------
# Comments and string literals are blanked first (line numbers kept), so the
# words may appear in documentation.
strip_comments() { # file -> code only
    perl -0777 -pe '
        s{/\*.*?\*/}{ (my $c = $&) =~ s/[^\n]//g; $c }gse;   # block comments
        s{"(?:\\.|[^"\\\n])*"}{""}g;                         # string literals
        s{//[^\n]*}{}g;                                      # line comments
    ' "$1"
}
fail=0
check() { # pattern, message
    local f hits
    for f in $(find "${MODULES[@]/#/Sources/}" -name '*.swift' | sort); do
        hits=$(strip_comments "$f" | grep -nE "$1" || true)
        if [[ -n "$hits" ]]; then
            echo "build-embedded: $2 in $f:" >&2
            echo "$hits" >&2
            fail=1
        fi
    done
}
check '^[[:space:]]*(@[A-Za-z_]+[[:space:]]+)*import[[:space:]]+([a-z]+[[:space:]]+)?(Foundation|FoundationEssentials|Glibc|Musl|Darwin|Dispatch)\b' \
      'hosted-only import'
check '(^|[^A-Za-z0-9_.])any[[:space:]]+[A-Za-z_(]' \
      "existential ('any P'; Embedded Swift rejects it)"
check '(^|[^A-Za-z0-9_])Mutex\b' \
      "Mutex (it does not exist in Embedded Swift)"
if [[ $fail -ne 0 ]]; then
    echo "build-embedded: source checks FAILED" >&2
    exit 1
fi
echo "build-embedded: source checks passed (${MODULES[*]})"

# ---- Embedded compile -----------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
FLAGS=(
    -enable-experimental-feature Embedded -wmo
    -target aarch64-none-none-elf -parse-as-library -Osize
    -Xcc -mgeneral-regs-only -Xfrontend -disable-stack-protector
    -swift-version 6
    # Embedded restrictions the compiler only warns about (untyped throws,
    # existentials in code that is never emitted) are errors here.
    -Werror EmbeddedRestrictions
)

build() { # module, extra flags...
    local module=$1; shift
    local srcs=(Sources/"$module"/*.swift)
    if [[ ! -e "${srcs[0]}" ]]; then
        echo "build-embedded: no Swift sources in Sources/$module" >&2
        exit 1
    fi
    echo "build-embedded: $module (${#srcs[@]} files)"
    "$SWIFTC" "${FLAGS[@]}" -module-name "$module" \
        -emit-module -emit-module-path "$OUT/$module.swiftmodule" \
        "$@" -c "${srcs[@]}" -o "$OUT/$module.o"
}

build GICArchitecture
build VGIC -I "$OUT"
build GICModel -I "$OUT"
build VGICModelPlatform -I "$OUT"

# The vGIC is generic over its platform: specialise it for a concrete one so
# that all of its code, not only the non-generic parts, is compiled here.
echo "build-embedded: EmbeddedCheck (Tests/Embedded/Instantiate.swift)"
"$SWIFTC" "${FLAGS[@]}" -module-name EmbeddedCheck -I "$OUT" \
    -c Tests/Embedded/Instantiate.swift -o "$OUT/EmbeddedCheck.o"

echo "build-embedded: OK"
ls -l "$OUT"/*.o
