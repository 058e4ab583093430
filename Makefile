# hacp Makefile. `make help` lists the targets.

IMG ?= hacp:dev
# hacp's version, linked into every binary (hacp-agent version, the manager's log).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO_LDFLAGS = -s -w -X hacp.dev/hacp/internal/version.Version=$(VERSION)
# `make image` writes the image here, as a docker-archive tarball (ctr images import, docker load).
IMAGE_TAR ?= $(LOCALBIN)/hacp-image.tar
# Debian packages in the image besides hacp's binaries; the Dockerfile installs the same list
# (test/image keeps them in step).
IMAGE_DEBS ?= keepalived iproute2
# The kustomize directory under config/ that deploy and undeploy use: default, or with-pki.
CONFIG ?= default
CONTROLLER_TOOLS_VERSION ?= v0.23.0
LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# golangci-lint v2 with the Kubernetes API linter built in (kube-api-linter has no releases: a pseudo-version).
KUBE_API_LINTER_VERSION ?= v0.0.0-20260716143926-092fe0c72997
KUBE_API_LINTER ?= $(LOCALBIN)/golangci-lint-kube-api-linter-$(KUBE_API_LINTER_VERSION)
GO ?= go
# Short fuzzing in `make test`; run `make fuzz FUZZTIME=5m` for longer.
FUZZTIME ?= 10s

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC from the markers in api/ and controllers/.
	$(CONTROLLER_GEN) rbac:roleName=hacp-manager crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: docs
docs: manifests ## Generate docs/api.md (every spec and status field) from the CRDs.
	$(GO) run ./hack/apidocs config/crd/bases docs/api.md

.PHONY: fmt
fmt: ## Run gofmt.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: verify
verify: manifests generate docs ## Check that generated files and formatting are up to date, and that make lint finds nothing.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	@git diff --exit-code -- config/crd config/rbac api docs/api.md || { echo "generated files are stale: run 'make manifests generate docs' and commit"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard config/crd config/rbac api docs/api.md)" || { echo "untracked generated files: commit them"; exit 1; }
	@# In the recipe, not a prerequisite: after generate, as the linter type-checks api/ (deepcopy included).
	$(MAKE) --no-print-directory lint

.PHONY: lint
lint: kube-api-linter ## Lint api/ against the Kubernetes API conventions (kube-api-linter, .golangci-kal.yml); part of verify, expects no findings.
	$(KUBE_API_LINTER) run --config .golangci-kal.yml ./api/...

.PHONY: envtest
envtest: ## Build (once, cached) kube-apiserver and etcd for tests; prints their directory.
	@./hack/envtest-assets.sh

.PHONY: test
test: verify vet ## Run everything: unit, fuzz (short), envtest and e2e tests.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" $(GO) test -race -count=1 $$($(GO) list ./... | grep -v /test/e2e)
	@# The e2e runs alone: its failover checks should not share two cores with other test binaries.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" $(GO) test -race -count=1 -timeout 20m -v ./test/e2e 2>&1 | grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go'
	$(MAKE) fuzz
	@# Last, alone on the machine: the README's quick start on real kubeadm nodes (root, containerd, runc).
	$(MAKE) quickstart-test

.PHONY: test-unit
test-unit: ## Run the pure unit tests only (no API server).
	$(GO) test -count=1 ./internal/... ./cmd/...

.PHONY: fuzz
fuzz: ## Fuzz the parsers and renderers for FUZZTIME each.
	$(GO) test ./internal/keepalived -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/keepalived -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)

##@ Benchmarks

.PHONY: bench-failover
bench-failover: ## Hard-loss failover times for the seed's config and hacp's profiles (root, keepalived); prints a table and draws docs/failover-timeline.png.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" HACP_TIMELINE_PNG=$(CURDIR)/docs/failover-timeline.png \
		$(GO) test ./test/e2e -run '^$$' -bench '^BenchmarkFailover$$' -benchtime 5x -timeout 30m

.PHONY: bench-handover
bench-handover: ## How long the VIP leaves the first node when the DaemonSet takes over from the bootstrap keepalived, hacp vs naive (root, keepalived).
	$(GO) test ./internal/agent -run '^$$' -bench '^BenchmarkHandover$$' -benchtime 1x -timeout 20m

.PHONY: bench-status
bench-status: ## Status latency and manager memory with 5,000 workers and 5,000 Secrets, hacp's cache vs unrestricted; prints a table.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" $(GO) test ./test/bench -run '^$$' -bench '^BenchmarkStatus$$' -benchtime 1x -timeout 30m

SOAK_DURATION ?= 10m
SOAK_SEED ?= 1
.PHONY: soak
soak: ## Faults at random (root): real keepalived, agents and two managers under a seeded stream of overlapping faults for SOAK_DURATION (SOAK_SEED), six invariants checked all the time; writes its table to docs/benchmarks.md. A short one runs in make test.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" HACP_SOAK_DURATION=$(SOAK_DURATION) HACP_SOAK_SEED=$(SOAK_SEED) HACP_SOAK_REPORT=$(CURDIR)/docs/benchmarks.md \
		$(GO) test ./test/e2e -run '^TestSoak$$' -count=1 -timeout 24h -v

.PHONY: bench-kubeadm
bench-kubeadm: ## Real kubeadm cluster (root): API downtime through the VIP per hard loss of its holder, new vs reused connection, default vs fast profile, disruptions per failure, status truth, lab cost; prints a table.
	HACP_KUBEADM_LAB=1 $(GO) test ./test/kubeadm -run '^$$' -bench '^BenchmarkKubeadm$$' -benchtime 1x -timeout 70m

.PHONY: bench-check
bench-check: ## CPU of one process start of the health check / readiness probe: hacp-check against hacp-agent, side by side.
	$(GO) test ./internal/check -run '^$$' -bench '^BenchmarkCheckStart$$' -benchtime 300x -count 1

.PHONY: bench-image
bench-image: ## What hacp's image weighs: layers, and each binary stripped vs with debug info; prints a table.
	./hack/bench-image.sh

##@ Demo

.PHONY: demo
demo: ## Run the operator against an embedded local control plane with the seed's cluster.
	KUBEBUILDER_ASSETS="$$(./hack/envtest-assets.sh)" $(GO) run ./test/demo

##@ Build

.PHONY: build
build: ## Build hacp-manager, hacp-agent, hacp-check, hacpctl and kubectl-hacp (hacpctl as a kubectl plugin) into bin/, static and stripped.
	@mkdir -p $(LOCALBIN)
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(GO_LDFLAGS)' -o $(LOCALBIN)/hacp-manager ./cmd/manager
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(GO_LDFLAGS)' -o $(LOCALBIN)/hacp-agent ./cmd/agent
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(GO_LDFLAGS)' -o $(LOCALBIN)/hacp-check ./cmd/check
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=false -ldflags '$(GO_LDFLAGS)' -o $(LOCALBIN)/hacpctl ./cmd/hacpctl
	ln -sf hacpctl $(LOCALBIN)/kubectl-hacp

.PHONY: image
image: build ## Build the image IMG as a docker-archive tarball (IMAGE_TAR) from bin/ and Debian's keepalived, with no container engine or registry; prints its digest.
	./hack/debroot.sh $(LOCALBIN)/image-rootfs $(IMAGE_DEBS)
	$(GO) run ./hack/ocibuild -o $(IMAGE_TAR) -t $(IMG) --rootfs $(LOCALBIN)/image-rootfs \
		--file $(LOCALBIN)/hacp-manager:/usr/local/bin/hacp-manager:0755 \
		--file $(LOCALBIN)/hacp-agent:/usr/local/bin/hacp-agent:0755 \
		--file $(LOCALBIN)/hacp-check:/usr/local/bin/hacp-check:0755 \
		--file $(LOCALBIN)/hacpctl:/usr/local/bin/hacpctl:0755 \
		--file hack/image/passwd:/etc/passwd:0644 --file hack/image/group:/etc/group:0644 \
		--dir /tmp:1777 --dir /run:0755 --dir /run/hacp:0700 \
		--label org.opencontainers.image.version=$(VERSION) \
		--label org.opencontainers.image.source=hacp.dev/hacp \
		--entrypoint /usr/local/bin/hacp-manager

.PHONY: image-push
image-push: ## Push IMAGE_TAR to IMG (a registry must be reachable; credentials from ~/.docker/config.json).
	$(GO) run ./hack/ocibuild -push $(IMAGE_TAR) -t $(IMG)

.PHONY: run
run: manifests ## Run the manager against the cluster in ~/.kube/config.
	$(GO) run ./cmd/manager

.PHONY: docker-build
docker-build: ## Build the same image with a container engine (the Dockerfile; make image needs none).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .

.PHONY: docker-push
docker-push: ## Push the image IMG to its registry.
	docker push $(IMG)

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster in ~/.kube/config.
	kubectl apply --server-side -k config/crd

.PHONY: uninstall
uninstall: ## Remove the CRDs.
	kubectl delete --ignore-not-found -k config/crd

.PHONY: deploy
deploy: manifests ## Deploy the operator with image IMG (CONFIG=with-pki for control-plane join commands); agents get the same image.
	$(GO) run ./hack/deploymanifests config/$(CONFIG) $(IMG) | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator.
	$(GO) run ./hack/deploymanifests config/$(CONFIG) $(IMG) | kubectl delete --ignore-not-found -f -

##@ Tools

# Tools are built once per version into ${HACP_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/hacp}/tools by
# hack/tool.sh (as hack/envtest-assets.sh caches envtest) and linked into bin/, so a fresh clone
# (CI) reuses them.
.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	tool="$$(GO=$(GO) ./hack/tool.sh sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION))" && ln -sf "$$tool" $(CONTROLLER_GEN)

.PHONY: kube-api-linter
kube-api-linter: $(KUBE_API_LINTER) ## Build golangci-lint with the Kubernetes API linter (about 6 minutes, once per version: cached outside the clone by hack/tool.sh).
$(KUBE_API_LINTER):
	@mkdir -p $(LOCALBIN)
	tool="$$(GO=$(GO) ./hack/tool.sh sigs.k8s.io/kube-api-linter/cmd/golangci-lint-kube-api-linter@$(KUBE_API_LINTER_VERSION))" && ln -sf "$$tool" $(KUBE_API_LINTER)

##@ kubeadm lab

.PHONY: lab-assets
lab-assets: ## Build the kubeadm lab's kubelet, kubeadm, kube-proxy, ..., CNI plugins once (cached per version, prints the folder).
	./hack/lab-assets.sh

.PHONY: lab-test
lab-test: ## Real kubeadm nodes h1-h4 on this machine: init, kube-proxy, bridge CNI, control-plane and worker joins (root, containerd, runc).
	HACP_KUBEADM_LAB=1 HACP_LAB_ASSETS="$$(./hack/lab-assets.sh)" $(GO) test ./test/kubeadm -run '^TestKubeadmLab$$' -v -count=1 -timeout 40m

.PHONY: quickstart-test
quickstart-test: ## The README's quick start on real kubeadm nodes, as in make test (root, containerd, runc); skipped where they are missing, failed under CI.
	@# The test checks root, containerd and runc first, then builds the lab's assets (hack/lab-assets.sh).
	HACP_KUBEADM_LAB=1 $(GO) test ./test/kubeadm -run '^TestKubeadmQuickStart$$' -count=1 -timeout 60m -v

.PHONY: lab-standby-test
lab-standby-test: ## The quick start's step 10b alone on real kubeadm nodes: a node whose agent cannot start runs on its standby, and the status says so (root).
	HACP_KUBEADM_LAB=1 HACP_LAB_ASSETS="$$(./hack/lab-assets.sh)" $(GO) test ./test/kubeadm -run '^TestKubeadmAgentCannotStart$$' -v -count=1 -timeout 40m

.PHONY: demo-kubeadm
demo-kubeadm: ## The README's quick start on real kubeadm nodes h1-h4, then the VIP holder's power loss, h3 and h2 failing and returning, with the status at each step; leaves nothing behind (root).
	HACP_KUBEADM_LAB=1 HACP_LAB_ASSETS="$$(./hack/lab-assets.sh)" $(GO) test ./test/kubeadm -run '^TestKubeadmQuickStart$$' -v -count=1 -timeout 60m
