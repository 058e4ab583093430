# One image for the manager, the node agent and hacpctl, with Debian's keepalived.
# Build: make docker-build IMG=<registry>/hacp:<tag>
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/hacp-manager ./cmd/manager && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/hacp-agent ./cmd/agent && \
    CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/hacpctl ./cmd/hacpctl

FROM debian:bookworm-slim
RUN apt-get update && \
    apt-get install -y --no-install-recommends keepalived iproute2 ca-certificates && \
    rm -rf /var/lib/apt/lists/*
# Root-owned and not writable by others: keepalived's enable_script_security checks the check
# script's path (/usr/local/bin/hacp-agent check-apiserver).
COPY --from=build --chown=0:0 --chmod=0755 /out/ /usr/local/bin/
# The manager runs as 65532 (see config/manager); the agent runs as root with NET_ADMIN/NET_RAW.
ENTRYPOINT ["/usr/local/bin/hacp-manager"]
