#!/usr/bin/env bash
# Usage: hack/tool.sh PACKAGE@VERSION
#
# Builds a Go command (`go install PACKAGE@VERSION`) once per version and platform into a cache
# outside the clone, the way hack/envtest-assets.sh caches envtest: a fresh clone (CI) or a second
# worktree reuses the build instead of repeating it (golangci-lint with the Kubernetes API linter
# takes about 6 minutes). The Makefile links the result into bin/.
#
# Prints the binary's path on stdout (logs go to stderr).
set -euo pipefail

if [[ $# -ne 1 || "$1" != *@* ]]; then
  echo "usage: $0 PACKAGE@VERSION" >&2
  exit 2
fi
pkg="${1%@*}"
version="${1##*@}"
name="${pkg##*/}"
GO="${GO:-go}"

log() { echo "tool: $*" >&2; }

cache_root="${HACP_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/hacp}"
dir="${cache_root}/tools/${name}-${version}-$("${GO}" env GOOS)-$("${GO}" env GOARCH)"
mkdir -p "${dir}"

# One builder at a time per cache directory: parallel `make` targets must not race on the same files.
exec 9>"${dir}.lock"
flock 9

if [[ ! -x "${dir}/${name}" ]]; then
  log "building ${name} ${version} (first time only)"
  work="$(mktemp -d "${dir}/build.XXXXXX")"
  trap 'rm -rf "${work}"' EXIT
  # Outside any module, so the clone's go.mod does not constrain the tool's dependencies.
  (cd "${work}" && GOBIN="${work}" GOFLAGS= "${GO}" install "${pkg}@${version}")
  mv "${work}/${name}" "${dir}/${name}"
fi
echo "${dir}/${name}"
