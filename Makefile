# svcmux — every target installs what it needs from the project's own files.
SHELL := /bin/bash
GO ?= go
PKG := github.com/nowakeai/svcmux
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT)
BIN := bin
FUZZTIME ?= 20s
# staticcheck, pinned; run through the module proxy (config: staticcheck.conf).
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test unit e2e lint bench fuzz demo testenv testenv-os cover clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## image: the agent's OCI image without a container engine (deploy/image): static binaries for
## IMAGE_PLATFORMS on an empty base, user 65532; an OCI layout in dist/image/oci (an index)
## and a `docker load`-able dist/image/svcmux-agent-<arch>.tar per platform; reproducible
## (SOURCE_DATE_EPOCH: the commit time).
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
.PHONY: image
image:
	@set -e; args=; for p in $(IMAGE_PLATFORMS); do \
	  out=dist/bin/$${p%/*}-$${p#*/}/svcmux-agent; echo "build $$out"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/agent; \
	  args="$$args -binary $$p=$$out"; done; \
	export SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)}; \
	$(GO) run ./deploy/image -out dist/image -version $(VERSION) -revision $(COMMIT) $$args

## release: kubectl-svcmux archives for RELEASE_PLATFORMS (LICENSE, README.md inside),
## checksums.txt, the chart (.tgz) and krew/svcmux.yaml from krew/svcmux.yaml.tmpl, all in
## dist/release, reproducible (SOURCE_DATE_EPOCH: the commit time); then test/release checks
## the output against krew's manifest rules. RELEASE_URI_BASE is where the archives live.
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
RELEASE_URI_BASE ?= https://github.com/nowakeai/svcmux/releases/download/{{.Version}}
.PHONY: release
release:
	@if [ ! -f cmd/kubectl-svcmux/main.go ]; then \
	  echo "release: cmd/kubectl-svcmux does not exist yet: there is no plugin to package (no placeholder is shipped)"; exit 1; fi
	@set -e; rm -rf dist/release; args=; for p in $(RELEASE_PLATFORMS); do \
	  exe=kubectl-svcmux; [ "$${p%/*}" = windows ] && exe=$$exe.exe; \
	  out=dist/bin/$${p%/*}-$${p#*/}/$$exe; echo "build $$out"; \
	  CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/kubectl-svcmux; \
	  args="$$args -binary $$p=$$out"; done; \
	export SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}; \
	$(GO) run ./deploy/release -version $(VERSION) -out dist/release -uri-base '$(RELEASE_URI_BASE)' $$args; \
	v=$$(sed -n 's/^  version: //p' dist/release/krew/svcmux.yaml); \
	SVCMUX_RELEASE_DIR=$(CURDIR)/dist/release SVCMUX_RELEASE_URI_BASE="$$(echo '$(RELEASE_URI_BASE)' | sed "s/{{.Version}}/$$v/")" \
	  $(GO) test -count=1 -run '^TestTheBuiltRelease$$' ./test/release

## test: everything CI runs — vet, format check, unit tests (with fuzz seeds), end-to-end tests.
test: lint unit e2e

## unit: the pkg and cmd tests (fuzz seeds included) with the race detector.
unit:
	$(GO) test -count=1 -race ./pkg/... ./cmd/... ./deploy/...

## testenv: build etcd, kube-apiserver, kube-controller-manager, kubectl and kube-proxy
## from the Go module proxy into test/.cache/k8s-<v>-etcd-<v>/bin (no-op when up to date).
testenv: testenv-os
	GO=$(GO) test/tools/build.sh

## testenv-os: the data-plane tests run kube-proxy in network namespaces and need ip, nft
## and iptables; as root (CI) they are installed from Debian's packages when missing.
testenv-os:
	@need=; for b in ip:iproute2 nft:nftables iptables:iptables; do \
	  command -v $${b%%:*} >/dev/null 2>&1 || need="$$need $${b#*:}"; done; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$need"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	  else echo "note: missing$$need (data-plane tests will skip outside CI)"; fi; fi

## e2e: end-to-end tests on the real control plane (built into the cache first).
e2e: testenv
	$(GO) test -count=1 -timeout 40m ./test/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

cover:
	$(GO) test -count=1 -cover ./pkg/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

## bench-planner: the planner's own benchmark (pkg/plan BenchmarkCompute: 1,000 to 20,000
## channels × 2 ports, half auto, a cold and a steady pass), the best of PLANNER_RUNS runs of
## PLANNER_BENCHTIME passes each; writes test/bench/results/<date>-<commit>-planner.md with the
## machine, the flags, the issue 17 goals and the Python controller's published figures.
## PLANNER_BASELINE_COMMIT names an earlier commit to show beside: its pkg/plan test binary is
## built from a temporary worktree and run after each of this commit's runs of the same pass and
## size, so both see the same minutes of the machine's load. PLANNER_BASELINE may instead name the
## `go test -bench Compute` output of an earlier commit measured before (PLANNER_BASELINE_NAME
## says which).
PLANNER_RUNS ?= 5
PLANNER_BENCHTIME ?= 20x
.PHONY: bench-planner
bench-planner:
	@set -e; bin=; name='$(PLANNER_BASELINE_NAME)'; \
	if [ -n '$(PLANNER_BASELINE_COMMIT)' ]; then \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  git worktree add -q --detach "$$tmp/src" '$(PLANNER_BASELINE_COMMIT)'; \
	  (cd "$$tmp/src" && $(GO) test -c -o "$$tmp/baseline.test" ./pkg/plan) || { git worktree remove --force "$$tmp/src"; exit 1; }; \
	  git worktree remove --force "$$tmp/src"; \
	  bin="$$tmp/baseline.test"; name="$${name:-$$(git rev-parse --short '$(PLANNER_BASELINE_COMMIT)')}"; \
	fi; \
	SVCMUX_PLANNER_REPORT=1 SVCMUX_PLANNER_RUNS=$(PLANNER_RUNS) SVCMUX_PLANNER_BASELINE_BIN="$$bin" \
	SVCMUX_PLANNER_BASELINE=$(abspath $(PLANNER_BASELINE)) SVCMUX_PLANNER_BASELINE_NAME="$$name" \
	$(GO) test -count=1 -timeout 60m -v -run '^TestPlannerReport$$' -benchtime $(PLANNER_BENCHTIME) ./pkg/plan

## fuzz: each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./pkg/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

clean:
	rm -rf $(BIN)

## demo: a local real control plane, the agent, a sample mux with three channels and
## ready pods and one rejected newcomer, traffic through kube-proxy, and the report: the
## plugin's `kubectl svcmux topology` (kubectl-svcmux, stamped with LDFLAGS, and
## kubectl_complete-svcmux are built into test/.cache/demo/bin), the traffic table, the
## commands to try next; it all keeps running in the background (state, kubeconfig and
## logs in test/.cache/demo) until `make demo-stop`.
DEMO_DIR := test/.cache/demo
DEMO_TIMEOUT ?= 600
.PHONY: demo-stop bench-e2e

demo: testenv
	@$(MAKE) --no-print-directory demo-stop >/dev/null
	@mkdir -p $(DEMO_DIR)/bin
	$(GO) build -o $(DEMO_DIR)/bin/demo ./test/demo
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(DEMO_DIR)/bin/kubectl-svcmux ./cmd/kubectl-svcmux
	@install -m 0755 krew/kubectl_complete-svcmux $(DEMO_DIR)/bin/
	@dir=$(DEMO_DIR); rm -f $$dir/ready $$dir/failed; : >$$dir/demo.log; \
	$$(command -v setsid) nohup $$dir/bin/demo -dir $$dir -plugin $$dir/bin/kubectl-svcmux </dev/null >>$$dir/demo.log 2>&1 & pid=$$!; \
	trap 'kill -TERM $$pid 2>/dev/null; wait $$pid; exit 130' INT TERM; \
	shown=0; show() { local n; n=$$(wc -l <$$dir/demo.log); \
	  if (( n > shown )); then sed -n "$$((shown + 1)),$${n}p" $$dir/demo.log; shown=$$n; fi; }; \
	deadline=$$((SECONDS + $(DEMO_TIMEOUT))); \
	until [[ -e $$dir/ready || -e $$dir/failed || -z $$(jobs -pr) ]]; do \
	  show; \
	  if (( SECONDS > deadline )); then echo "demo: not ready within $(DEMO_TIMEOUT)s; stopping it"; \
	    kill -TERM $$pid; wait $$pid; show; exit 1; fi; \
	  sleep 0.5; \
	done; \
	if [[ ! -e $$dir/ready ]]; then wait $$pid; show; echo "demo: failed (log: $$dir/demo.log)"; exit 1; fi; \
	show; echo; cat $$dir/report.txt; echo; \
	echo "Kubeconfig: $(CURDIR)/$$dir/kubeconfig"; \
	echo "Stop:       make demo-stop"

## demo-stop: stop the demo started by `make demo` (SIGTERM, then wait for it to stop
## the agent and the control plane).
demo-stop:
	@dir=$(DEMO_DIR); pid=$$(cat $$dir/demo.pid 2>/dev/null || true); \
	if [[ -z $$pid ]] || ! kill -0 $$pid 2>/dev/null; then \
	  echo "demo: not running"; rm -f $$dir/demo.pid $$dir/ready; exit 0; fi; \
	if [[ $$(ps -o args= -p $$pid) != "$$dir/bin/demo "* ]]; then \
	  echo "demo: pid $$pid is not the demo; removing the stale pid file"; rm -f $$dir/demo.pid $$dir/ready; exit 0; fi; \
	echo "demo: stopping (pid $$pid)"; kill -TERM $$pid; \
	for i in $$(seq 300); do \
	  if ! kill -0 $$pid 2>/dev/null; then echo "demo: stopped"; exit 0; fi; sleep 0.2; done; \
	echo "demo: still running after 60s; killing it (its components die with it)"; kill -KILL $$pid

## bench-e2e: convergence benchmark on the real control plane (SPEC §7, §9, issue 17): cold
## starts of 1,000 and 3,000 channels on one mux and 5,000 on 50 muxes, 2,000 on 20 under
## churn (50 creates + 50 deletes a second), 100 and 1,000 created while the agent runs;
## against the API server's write floor: writes vs the minimum, Events, agent peak RSS and
## CPU, idle writes, and the planner benchmark. Writes test/bench/results/<date>-<commit>.md
## with PNG charts. The idle window is SVCMUX_BENCH_IDLE (default 60s); pick tests with
## BENCH_RUN (a -run pattern, e.g. 'TestConvergence/d-').
BENCH_RUN ?= ^(TestConvergence|TestPluginReadsAgainstKubectlGet)$$
bench-e2e: testenv
	SVCMUX_BENCH=1 $(GO) test -count=1 -timeout 120m -v -run '$(BENCH_RUN)' ./test/bench

## bench-latency: time to first connection through the mux (test/traffic TestTimeToFirstConnection
## at 50 channels, SVCMUX_BENCH=1): each channel created about two a second, timed from its create to
## the mux port written and the mux endpoints ready (agent) and the first answer via the cluster IP
## and the load-balancer IP (kube-proxy); p50/p99/max per stage with the machine, the agent's flags
## and kube-proxy's mode and min sync period. Writes test/bench/results/<date>-<commit>-latency.md.
## `make test` runs it at 10 channels: every channel answered on both paths, every stage observed.
.PHONY: bench-latency
bench-latency: testenv
	SVCMUX_BENCH=1 $(GO) test -count=1 -v -run '^TestTimeToFirstConnection$$' ./test/traffic

## faults: the fault scenarios of test/faults at the issue's sizes (SVCMUX_FAULTS=1): a leader
## paused past its lease, the agent SIGKILLed 20 times while 1,000 auto channels converge, a
## GitOps tool re-applying the placeholder port every second for 60 s, kube-apiserver restarted
## twice mid-convergence after compacting etcd (every watch relists); each watched for moved ports, owner flips and doubly owned ports. Writes the report
## test/bench/results/<date>-<commit>-faults.md. `make test` runs a small case of each.
.PHONY: faults
faults: testenv
	SVCMUX_FAULTS=1 $(GO) test -count=1 -timeout 60m -v ./test/faults
