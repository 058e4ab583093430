# The same image as `make image` (which needs no container engine), for those who build with one:
#   make docker-build IMG=<registry>/hacp:<tag>
# Keep in step with the Makefile: the Debian packages are IMAGE_DEBS, the binaries and their flags
# are those of `make build` and `make image` (test/image checks both lists).
FROM golang:1.26-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN for c in manager:hacp-manager agent:hacp-agent check:hacp-check hacpctl:hacpctl; do \
      CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X hacp.dev/hacp/internal/version.Version=${VERSION}" \
        -o "/out/${c#*:}" "./cmd/${c%%:*}" || exit 1; \
    done

FROM debian:bookworm-slim
RUN apt-get update && \
    apt-get install -y --no-install-recommends keepalived iproute2 && \
    rm -rf /var/lib/apt/lists/* && \
    install -d -m 0700 /run/hacp
COPY hack/image/passwd hack/image/group /etc/
# Root-owned and not writable by others: keepalived's enable_script_security checks the check
# script's path (/usr/local/bin/hacp-check check-apiserver).
COPY --from=build --chown=0:0 --chmod=0755 /out/ /usr/local/bin/
# The manager runs as 65532 (see config/manager); the agent runs as root with NET_ADMIN/NET_RAW.
ENTRYPOINT ["/usr/local/bin/hacp-manager"]
