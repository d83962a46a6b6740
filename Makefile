# airlock: every target works on a fresh Debian bookworm machine as root; `deps` installs what is
# missing (idempotent, no apt run when everything is present).

SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c

GO        ?= go
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin
export PATH := $(GOBIN_DIR):$(PATH)
export AIRLOCK_BIN := $(CURDIR)/bin/airlock
export AIRLOCK_STATIC_BIN := $(CURDIR)/bin/airlock-static

STATIC_LDFLAGS := -extldflags "-static -lz -llzma -lbz2"
TAGS_ALL       := hwtest,qemu,bench
FUZZTIME       ?= 10s

.PHONY: all deps guix-oracle build build-static test test-counts-reset vet unit hwtest qemutest bench fuzz demo image boot-medium clean

all: build

deps:
	@bash scripts/deps.sh

# The real Guix the guix tests use as their oracle: a Debian-unstable root with guix 1.5.0, built
# once into /var/cache/airlock/guix-root (about a minute and 1.1 GB; later runs do nothing).
guix-oracle: deps
	@bash scripts/guix-oracle.sh build

build: deps
	$(GO) build -buildvcs=auto -o bin/airlock ./cmd/airlock

build-static: deps
	CGO_ENABLED=1 $(GO) build -buildvcs=auto -trimpath -tags yara_static,netgo,osusergo -ldflags '$(STATIC_LDFLAGS)' -o bin/airlock-static ./cmd/airlock

vet: deps
	$(GO) mod tidy -diff
	$(GO) vet -tags $(TAGS_ALL) ./...
	staticcheck -tags $(TAGS_ALL) ./...

# Each suite prints go test's usual output, then "SUITE: N passed, M failed, K skipped" (testsum);
# `make test` closes with the sum over all suites.
TESTSUM     = bin/testsum -total build/test-counts -label
tagged_pkgs = $(shell grep -rl --include='*_test.go' '^func $(1)' . | xargs -r -n1 dirname | sort -u)

bin/testsum: internal/testsum/main.go
	$(GO) build -o $@ ./internal/testsum

unit: build bin/testsum guix-oracle
	@mkdir -p build
	$(GO) test -json -race -timeout 30m ./... | $(TESTSUM) unit

# Loop devices on the host: root, sequential (they share /dev/loop*).
hwtest: build bin/testsum
	@mkdir -p build
	$(GO) test -json -tags hwtest -run '^TestHW' -p 1 -count 1 -timeout 30m $(call tagged_pkgs,TestHW) | $(TESTSUM) hwtest

# The real boot image in QEMU, one VM per test.
qemutest: build image bin/testsum
	@mkdir -p build
	$(GO) test -json -tags qemu -run '^TestQEMU' -p 1 -count 1 -timeout 40m $(call tagged_pkgs,TestQEMU) | $(TESTSUM) qemu

test-counts-reset:
	@mkdir -p build && rm -f build/test-counts

test: test-counts-reset vet unit hwtest qemutest
	@bin/testsum -total build/test-counts -print-total -label total

bench: build build-static image
	@bash scripts/bench.sh

fuzz: deps
	@FUZZTIME=$(FUZZTIME) bash scripts/fuzz.sh

demo: build image guix-oracle boot-medium
	@bash scripts/demo.sh
	@bash scripts/demo-qemu.sh

image: build-static
	@bash scripts/image.sh

# The hybrid boot ISO for real machines (CD or USB stick, BIOS or UEFI): the demo one from make
# image's outputs, or SITE=DIR's (its /etc/airlock; plaintext secret keys refused unless DEMO=1).
boot-medium: $(if $(SITE),build-static,image)
	@SITE='$(SITE)' DEMO='$(DEMO)' bash scripts/boot-medium.sh

clean:
	rm -rf bin build
