# swimfd: every target does its own set-up, from a fresh machine.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
BIN := $(CURDIR)/bin
PROTOC_GEN_GO_VERSION := v1.36.11
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GO_DISS := $(BIN)/go-diss

.PHONY: setup venv go-tools proto proto-check build test test-fast lint clean bench ml-node fuzz

setup: venv go-tools build

# Every Python dependency, transitive ones included, comes from requirements.lock (exact versions
# and hashes); swimfd itself is then installed editable without resolving anything again.
LOCK := requirements.lock
PIP_TOOLS_VERSION := 7.6.2
LOCK_VENV := build/lock-venv

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml $(LOCK)
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q --require-hashes -r $(LOCK)
	$(VPY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# Regenerate requirements.lock after changing a dependency in pyproject.toml (pip-tools runs in its own venv).
.PHONY: lock
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PY) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/pip install -q pip-tools==$(PIP_TOOLS_VERSION); }
	$(LOCK_VENV)/bin/pip-compile -q --generate-hashes --extra dev --strip-extras --allow-unsafe \
	  --no-emit-find-links -o $(LOCK) pyproject.toml

go-tools: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

# Python code goes to pyserver/swimfd/pb (imported as swimfd.pb), Go code to go-diss/internal/pb.
proto: venv go-tools
	$(VPY) -m grpc_tools.protoc -Iswimfd/pb=. --python_out=pyserver --pyi_out=pyserver --grpc_python_out=pyserver swim.proto
	$(VPY) -m grpc_tools.protoc -I. \
	  --plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
	  --go_out=go-diss --go_opt=module=swimfd/go-diss \
	  --go-grpc_out=go-diss --go-grpc_opt=module=swimfd/go-diss swim.proto

# Fails when the committed generated code differs from what swim.proto generates.
proto-check: venv go-tools
	@tmp=$$(mktemp -d); trap 'rm -rf $$tmp' EXIT; mkdir -p $$tmp/py $$tmp/go; \
	$(VPY) -m grpc_tools.protoc -Iswimfd/pb=. --python_out=$$tmp/py --pyi_out=$$tmp/py --grpc_python_out=$$tmp/py swim.proto && \
	$(VPY) -m grpc_tools.protoc -I. \
	  --plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
	  --go_out=$$tmp/go --go_opt=module=swimfd/go-diss \
	  --go-grpc_out=$$tmp/go --go-grpc_opt=module=swimfd/go-diss swim.proto && \
	for f in swim_pb2.py swim_pb2.pyi swim_pb2_grpc.py; do \
	  cmp -s $$tmp/py/swimfd/pb/$$f pyserver/swimfd/pb/$$f || { echo "stale generated code: pyserver/swimfd/pb/$$f (run make proto)"; exit 1; }; done; \
	for f in swim.pb.go swim_grpc.pb.go; do \
	  cmp -s $$tmp/go/internal/pb/$$f go-diss/internal/pb/$$f || { echo "stale generated code: go-diss/internal/pb/$$f (run make proto)"; exit 1; }; done; \
	echo "generated code is up to date"

build: $(GO_DISS)
$(GO_DISS): $(shell find go-diss -name '*.go' -o -name go.mod -o -name go.sum 2>/dev/null)
	cd go-diss && go build -o $(GO_DISS) ./cmd/go-diss

# lint first: CI runs `make test`, so style and vet problems fail it too.
# browser: the monitor's browser test needs chromium (it skips, saying why, only where it cannot be installed).
test: venv build $(ML_NODE) proto-check lint browser
	cd go-diss && go test -race -count=1 ./...
	cd bench/memberlist && go test -race -count=1 ./...
	$(VPY) -m pytest -q

# Long fuzzing (docs/security.md, "Fuzzing"): each Go fuzz target for FUZZTIME, then the hypothesis
# property tests with the "fuzz" profile (tests/conftest.py). `make test` runs the same targets briefly:
# go test runs the Go seed corpora, pytest the default profile.
FUZZTIME ?= 60s
GO_FUZZ_TARGETS := FuzzReport FuzzNotify FuzzJoin FuzzLeave
fuzz: venv
	cd go-diss && for t in $(GO_FUZZ_TARGETS); do \
	  go test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) ./internal/server || exit 1; done
	$(VPY) -m pytest -q -m fuzz -p no:cacheprovider --hypothesis-profile=fuzz --hypothesis-show-statistics

lint: venv
	$(VENV)/bin/ruff check pyserver tests deploy/netlab
	$(VENV)/bin/ruff format --check pyserver tests deploy/netlab
	cd go-diss && go vet ./...
	cd bench/memberlist && go vet ./...

clean:
	rm -rf $(BIN) run results

# Debian's chromium for tests/integration/test_monitor_browser.py, installed when missing and we are root.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null; then \
	  echo "chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || \
	    echo "make browser: installing chromium failed; the browser test will skip"; \
	else \
	  echo "make browser: chromium is missing and only root with apt-get can install it; the browser test will skip"; \
	fi

# Benchmark: swimfd (swim, heartbeat, hybrid) against hashicorp/memberlist on loopback (docs/bench.md).
# Options go through BENCH_ARGS, e.g. make bench BENCH_ARGS=--quick
ML_NODE := $(BIN)/ml-node
ml-node: $(ML_NODE)
$(ML_NODE): $(shell find bench/memberlist -name '*.go' -o -name go.mod -o -name go.sum 2>/dev/null)
	cd bench/memberlist && go build -o $(ML_NODE) ./cmd/ml-node

bench: venv build $(ML_NODE)
	$(VPY) -m swimfd bench $(BENCH_ARGS)

# ---- local cluster (deploy/cluster.sh; logs and pids in ./run) ----
N ?= 5
MODE ?= swim
CONFIG ?=
ARGS ?=
# INSECURE=1: plaintext instead of mutual TLS (a quick experiment; every process logs a warning).
INSECURE ?=
.PHONY: run-cluster stop-cluster kill-node pause-node cluster-status

MONITOR ?= 127.0.0.1:8080
run-cluster: venv build
	NODE_ARGS="$(ARGS)" MONITOR_LISTEN="$(MONITOR)" INSECURE="$(INSECURE)" deploy/cluster.sh start $(N) $(MODE) $(CONFIG)

stop-cluster:
	deploy/cluster.sh stop

kill-node:
	deploy/cluster.sh kill $(NODE)

pause-node:
	deploy/cluster.sh pause $(NODE) $(SECONDS)

cluster-status:
	deploy/cluster.sh status

# Simulator table for the README: swim/heartbeat/hybrid at n = 100, 1,000, 10,000 (cells beyond the memory
# budget are listed as not run, with the measured estimate). Writes results/sim-table.md and .json.
.PHONY: sim-table
sim-table: venv
	$(VPY) -m swimfd.sim.table --out results/sim-table.md --nodes 100,1000,10000

# Fault matrix on emulated hosts (deploy/netlab, docs/faults.md): every node in its own network namespace on a
# private bridge, real partitions and packet loss in the kernel. Needs root (installs iptables when missing).
# Prints the table and writes results/faults/<stamp>.md/.json plus every node's logs. `make test` runs the fast
# subset (tests/faults). Options through FAULTS_ARGS, e.g. FAULTS_ARGS="--modes swim --cells crash-1,loss-10%"
FAULTS_ARGS ?=
.PHONY: faults
faults: venv build $(ML_NODE)
	PYTHONPATH=$(CURDIR)/pyserver:$(CURDIR)/deploy $(VPY) -m netlab matrix --out results/faults $(FAULTS_ARGS)

# Soak on the network lab (docs/faults.md, Soak): 100 members started at once, then 10 minutes under 5% link
# loss; zero false positives expected; CPU/RSS of detector and go-diss, load, loop lag recorded in
# results/soak/<stamp>.json/.md. Not part of `make test`. Options through SOAK_ARGS, e.g. SOAK_ARGS="--n 20 --minutes 1"
.PHONY: soak
soak: venv build
	PYTHONPATH=$(CURDIR)/pyserver:$(CURDIR)/deploy $(VPY) -m netlab soak --out results/soak $(SOAK_ARGS)
