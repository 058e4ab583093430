#!/usr/bin/env bash
# Provides kube-apiserver and etcd for envtest, the demo and the e2e harness without internet access,
# and kube-controller-manager for the one test that needs the garbage collector (envtest runs none).
#
# The release tarballs envtest normally downloads are not reachable here, but both programs build from
# the Go module proxy: kube-apiserver from k8s.io/kubernetes with its staging modules replaced by their
# published v0.x versions, etcd from go.etcd.io/etcd/server/v3's etcdmain. Binaries are cached per
# version outside the clone, so a second clone (or a second CI run on the same machine) reuses them.
#
# Prints the directory holding the binaries on stdout (all logs go to stderr), suitable for
# KUBEBUILDER_ASSETS. A KUBEBUILDER_ASSETS that already holds all three binaries wins.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.0}" # the etcd version k8s.io/kubernetes ${K8S_VERSION} itself requires

log() { echo "envtest-assets: $*" >&2; }

if [[ -n "${KUBEBUILDER_ASSETS:-}" && -x "${KUBEBUILDER_ASSETS}/kube-apiserver" && -x "${KUBEBUILDER_ASSETS}/etcd" &&
  -x "${KUBEBUILDER_ASSETS}/kube-controller-manager" ]]; then
  echo "${KUBEBUILDER_ASSETS}"
  exit 0
fi

cache_root="${HACP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hacp}"
dir="${cache_root}/envtest/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}-$(go env GOOS)-$(go env GOARCH)"
mkdir -p "${dir}"

# One builder at a time per cache directory: parallel `make` targets must not race on the same files.
exec 9>"${dir}.lock"
flock 9

proxy="$(go env GOPROXY | tr ',|' '\n\n' | grep -E '^https?://' | head -n1)"
staging_version="v0${K8S_VERSION#v1}" # v1.37.2 -> v0.37.2

# build_k8s NAME builds k8s.io/kubernetes/cmd/NAME.
build_k8s() {
  local name="$1" work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  log "building ${name} ${K8S_VERSION} (first time only, several minutes)"
  (
    cd "${work}"
    go mod init "hacp.local/envtest-${name}" >/dev/null 2>&1
    # k8s.io/kubernetes' own go.mod points every staging module at ./staging; outside its repository
    # those paths do not exist, so point each at the published module of the same minor version.
    curl -fsSL --retry 3 "${proxy}/k8s.io/kubernetes/@v/${K8S_VERSION}.mod" -o kubernetes.mod
    local replaces=()
    while read -r mod; do
      replaces+=("-replace=${mod}=${mod}@${staging_version}")
    done < <(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' kubernetes.mod)
    go mod edit "${replaces[@]}"
    go mod edit -require="k8s.io/kubernetes@${K8S_VERSION}"
    cat > tools.go <<GO
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/${name}"
GO
    # Staging modules that are not published at this version are not needed by these commands; drop
    # their replace lines when the module graph cannot load them.
    if ! go mod tidy >/dev/null 2>tidy.err; then
      for m in $(grep -oE 'k8s\.io/[a-z0-9-]+@v0\.[0-9.]+' tidy.err | cut -d@ -f1 | sort -u); do
        go mod edit -dropreplace="${m}"
      done
      go mod tidy
    fi
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${dir}/${name}.tmp" "k8s.io/kubernetes/cmd/${name}"
    mv "${dir}/${name}.tmp" "${dir}/${name}"
  )
}

build_etcd() {
  local work
  work="$(mktemp -d)"
  trap 'rm -rf "${work}"' RETURN
  log "building etcd ${ETCD_VERSION} (first time only)"
  (
    cd "${work}"
    go mod init hacp.local/envtest-etcd >/dev/null 2>&1
    cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >/dev/null 2>&1
    go mod tidy
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "${dir}/etcd.tmp" .
    mv "${dir}/etcd.tmp" "${dir}/etcd"
  )
}

[[ -x "${dir}/etcd" ]] || build_etcd
[[ -x "${dir}/kube-apiserver" ]] || build_k8s kube-apiserver
[[ -x "${dir}/kube-controller-manager" ]] || build_k8s kube-controller-manager
log "assets ready in ${dir}"
echo "${dir}"
