#!/usr/bin/env bash
# bench-image.sh: what hacp's image weighs. Builds the image (make image), then prints its layers and
# each binary with and without debug information (-s -w), side by side, as a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
make -s image IMG=hacp.bench/hacp:size IMAGE_TAR="${tmp}/hacp.tar" >/dev/null
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "| part | stripped (MiB) | with debug info (MiB) | ratio |"
echo "| --- | ---: | ---: | ---: |"
for pair in manager:hacp-manager agent:hacp-agent check:hacp-check hacpctl:hacpctl; do
  src="${pair%%:*}" bin="${pair#*:}"
  CGO_ENABLED=0 go build -trimpath -buildvcs=false -o "${tmp}/${bin}.debug" "./cmd/${src}"
  s=$(stat -c %s "bin/${bin}") d=$(stat -c %s "${tmp}/${bin}.debug")
  echo "| ${bin} | $(mib "$s") | $(mib "$d") | $(awk -v s="$s" -v d="$d" 'BEGIN { printf "%.2f", s / d }') |"
done
rootfs=$(du -sb bin/image-rootfs | cut -f1)
echo "| Debian layer (keepalived, iproute2 and their libraries; $(wc -l < bin/image-rootfs/usr/share/hacp/debs.txt) packages), unpacked | $(mib "$rootfs") | | |"
echo "| image tarball (compressed layers) | $(mib "$(stat -c %s "${tmp}/hacp.tar")") | | |"
