#!/usr/bin/env bash
# Fetch a Debian arm64 Linux kernel Image (the "cloud" flavour: small, with
# PL011, GICv3 and PSCI built in) into $1, for booting under the hypervisor.
# Uses apt with its own state directories, so the machine's apt setup (and
# its list of architectures) is left as it is.
set -euo pipefail
out=${1:?usage: fetch-linux.sh OUTPUT_IMAGE}
work=$(dirname "$out")/apt-arm64
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
      -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
      -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
apt-get "${opts[@]}" -qq update
pkg=$(apt-cache "${opts[@]}" search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-arm64-unsigned$' \
      | awk '{print $1}' | sort -V | tail -1)
[[ -n "$pkg" ]] || { echo "fetch-linux: no arm64 cloud kernel package found" >&2; exit 1; }
echo "fetch-linux: $pkg"
rm -rf "$work/deb"/*
(cd "$work/deb" && apt-get "${opts[@]}" -qq download "$pkg" 2>/dev/null)
dpkg-deb -x "$work"/deb/*.deb "$work/deb/x"
cp "$work"/deb/x/boot/vmlinuz-* "$out"
echo "fetch-linux: $(stat -c %s "$out") bytes in $out"
