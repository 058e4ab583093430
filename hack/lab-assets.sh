#!/usr/bin/env bash
# Provides what the kubeadm lab (test/kubeadm) runs, without a registry and without release downloads:
#
#   bin/  kubelet kubeadm kube-scheduler kube-proxy kubectl kube-apiserver kube-controller-manager, built
#         from k8s.io/kubernetes with its staging modules replaced by their published v0.x versions (the
#         trick of hack/envtest-assets.sh) and the real version linked in, so every component reports
#         ${K8S_VERSION} as a release build would; etcd copied from hack/envtest-assets.sh's cache.
#   cni/  the CNI plugins bridge, host-local, loopback and portmap.
#   rootfs/iptables/  Debian's iptables (nft backend) and the libraries it needs, for kube-proxy's image
#         (hack/debroot), with the symlinks update-alternatives would have made.
#
# Everything is built once and cached per version outside the clone. Prints the directory on stdout
# (logs go to stderr). Images are assembled from these files by the lab itself (test/kubeadm).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
CNI_VERSION="${CNI_VERSION:-v1.10.0}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "lab-assets: $*" >&2; }

cache_root="${HACP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hacp}"
dir="${cache_root}/lab/k8s-${K8S_VERSION}-cni-${CNI_VERSION}-$(go env GOOS)-$(go env GOARCH)"
mkdir -p "${dir}/bin" "${dir}/cni"

# One builder at a time per cache directory.
exec 9>"${dir}.lock"
flock 9

k8s_bins=(kubelet kubeadm kube-scheduler kube-proxy kubectl kube-apiserver kube-controller-manager)
cni_plugins=(main/bridge ipam/host-local main/loopback meta/portmap)

build_k8s() {
  local missing=() name
  for name in "${k8s_bins[@]}"; do
    [[ -x "${dir}/bin/${name}" ]] || missing+=("${name}")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  local src="${dir}/src/kubernetes"
  mkdir -p "${src}"
  log "building ${missing[*]} ${K8S_VERSION} (first time only, several minutes)"
  (
    cd "${src}"
    if [[ ! -f go.sum ]]; then
      rm -f go.mod tools.go
      go mod init hacp.local/lab-kubernetes >/dev/null 2>&1
      local proxy staging_version replaces=() mod
      proxy="$(go env GOPROXY | tr ',|' '\n\n' | grep -E '^https?://' | head -n1)"
      staging_version="v0${K8S_VERSION#v1}" # v1.37.2 -> v0.37.2
      curl -fsSL --retry 3 "${proxy}/k8s.io/kubernetes/@v/${K8S_VERSION}.mod" -o kubernetes.mod
      while read -r mod; do
        replaces+=("-replace=${mod}=${mod}@${staging_version}")
      done < <(sed -n 's#^\s*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' kubernetes.mod)
      go mod edit "${replaces[@]}"
      go mod edit -require="k8s.io/kubernetes@${K8S_VERSION}"
      {
        printf '//go:build tools\n\npackage tools\n\nimport (\n'
        for name in "${k8s_bins[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "${name}"; done
        printf ')\n'
      } > tools.go
      if ! go mod tidy >/dev/null 2>tidy.err; then
        for m in $(grep -oE 'k8s\.io/[a-z0-9-]+@v0\.[0-9.]+' tidy.err | cut -d@ -f1 | sort -u); do
          go mod edit -dropreplace="${m}"
        done
        go mod tidy
      fi
    fi
    if [[ -n "${LAB_DOWNLOAD_ONLY:-}" ]]; then
      go mod download
      exit 0
    fi
    local minor="${K8S_VERSION#v1.}" ldflags="-s -w" pkg pkgs=()
    minor="${minor%%.*}"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X ${pkg}.gitVersion=${K8S_VERSION} -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor}"
      ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
    done
    for name in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${name}"); done
    rm -rf out && mkdir out
    CGO_ENABLED=0 go build -trimpath -ldflags="${ldflags}" -o out/ "${pkgs[@]}"
    for name in "${missing[@]}"; do mv "out/${name}" "${dir}/bin/${name}"; done
  )
}

build_cni() {
  local missing=() p
  for p in "${cni_plugins[@]}"; do
    [[ -x "${dir}/cni/${p##*/}" ]] || missing+=("github.com/containernetworking/plugins/plugins/${p}@${CNI_VERSION}")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0
  log "building CNI plugins ${CNI_VERSION} (first time only)"
  CGO_ENABLED=0 GOBIN="${dir}/cni" go install -trimpath -ldflags='-s -w' "${missing[@]}"
}

etcd_bin() {
  [[ -x "${dir}/bin/etcd" ]] && return 0
  local envtest
  envtest="$("${repo}/hack/envtest-assets.sh")"
  cp "${envtest}/etcd" "${dir}/bin/etcd.tmp"
  mv "${dir}/bin/etcd.tmp" "${dir}/bin/etcd"
}

iptables_root() {
  local root="${dir}/rootfs/iptables"
  [[ -x "${root}/usr/sbin/xtables-nft-multi" ]] && return 0
  log "fetching Debian's iptables for kube-proxy's image (first time only)"
  rm -rf "${root}.tmp"
  mkdir -p "${root}.tmp"
  if [[ -x "${repo}/hack/debroot.sh" ]]; then
    "${repo}/hack/debroot.sh" "${root}.tmp" iptables >&2
  else
    (cd "${repo}" && go run ./hack/debroot "${root}.tmp" iptables) >&2
  fi
  # update-alternatives (a maintainer script, not run by an unpack) would point these at the nft
  # backend, which is what kube-proxy's own image selects on a kernel without legacy iptables.
  local t
  for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
    ln -sf xtables-nft-multi "${root}.tmp/usr/sbin/${t}"
  done
  mv "${root}.tmp" "${root}"
}

if [[ "${1:-}" == "--download-only" ]]; then
  # Resolve and download the modules, build nothing (lets the network part overlap another build).
  LAB_DOWNLOAD_ONLY=1 build_k8s
  exit 0
fi
build_k8s
build_cni
etcd_bin
iptables_root
log "assets ready in ${dir}"
echo "${dir}"
