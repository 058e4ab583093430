#!/usr/bin/env bash
# debroot.sh ROOTFS PKG...: Debian packages and the shared libraries they need, unpacked into ROOTFS
# (see hack/debroot). Needs apt-get and dpkg-deb; run `apt-get update` once first.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./hack/debroot "$@"
