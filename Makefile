# svcmux — every target installs what it needs from the project's own files.
SHELL := /bin/bash
GO ?= go
PKG := github.com/nowakeai/svcmux
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
LDFLAGS := -s -w -X $(PKG)/pkg/version.Version=$(VERSION) -X $(PKG)/pkg/version.Commit=$(COMMIT)
BIN := bin
FUZZTIME ?= 20s

.PHONY: all build test unit e2e lint bench fuzz demo testenv cover clean

all: build

build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

## test: everything CI runs — vet, format check, unit tests (with fuzz seeds), end-to-end tests.
test: lint unit e2e

unit:
	$(GO) test -count=1 ./pkg/... ./cmd/...

## e2e: end-to-end tests on the real control plane (built into the cache first).
e2e: testenv
	$(GO) test -count=1 -timeout 40m ./test/...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

cover:
	$(GO) test -count=1 -cover ./pkg/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/...

## fuzz: each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./pkg/...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

clean:
	rm -rf $(BIN)
