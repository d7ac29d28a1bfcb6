#!/usr/bin/env bash
# Fetch what the Linux guest test boots, into directory $1:
#   linux-Image            Debian's arm64 kernel Image (the "cloud" flavour:
#                          small, with PL011, GICv3 and PSCI built in)
#   linux-initrd.cpio.gz   an initial RAM disk: a static busybox and
#                          Guests/linux/init
# Uses apt with its own state directories, so the machine's apt setup (and
# its list of architectures) is left as it is.
set -euo pipefail
out=$(realpath "${1:?usage: fetch-linux.sh OUTPUT_DIR}")
root=$(realpath "$(dirname "$0")/..")
work=$out/apt-arm64
command -v cpio >/dev/null || { apt-get update -qq && apt-get install -y -qq cpio; }
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/deb"
opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
      -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
      -o Dir::State::status=/dev/null -o Debug::NoLocking=1)
apt-get "${opts[@]}" -qq update
kernel=$(apt-cache "${opts[@]}" search --names-only '^linux-image-[0-9.]+-[0-9]+-cloud-arm64-unsigned$' \
         | awk '{print $1}' | sort -V | tail -1)
[[ -n "$kernel" ]] || { echo "fetch-linux: no arm64 cloud kernel package found" >&2; exit 1; }
echo "fetch-linux: $kernel, busybox-static"
rm -rf "$work/deb" && mkdir -p "$work/deb"
(cd "$work/deb" && apt-get "${opts[@]}" -qq download "$kernel" busybox-static 2>/dev/null)
for deb in "$work"/deb/*.deb; do dpkg-deb -x "$deb" "$work/deb/x"; done
cp "$work"/deb/x/boot/vmlinuz-* "$out/linux-Image"

rd=$work/initrd
rm -rf "$rd" && mkdir -p "$rd/bin"
cp "$work/deb/x/bin/busybox" "$rd/bin/busybox"
cp "$root/Guests/linux/init" "$rd/init"
chmod +x "$rd/init" "$rd/bin/busybox"
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -9) > "$out/linux-initrd.cpio.gz"
echo "fetch-linux: $(stat -c %s "$out/linux-Image") bytes kernel, $(stat -c %s "$out/linux-initrd.cpio.gz") bytes initrd"
