# reef — build, test and demo targets. `make test` is the command CI runs.

GO        ?= go
BIN       ?= bin/reef
FUZZTIME  ?= 10s
# Packages the tests need from Debian (bwrap sandbox, runc runtime, OCI tools,
# apt-get download for real .deb fixtures, git for git-checkout steps).
DEB_DEPS  := bubblewrap runc umoci skopeo qemu-user-static ca-certificates dpkg-dev git gcc

.PHONY: all build test unit fuzz vet fmt deps demo bench clean

all: build

# A static, pure-Go binary (os/user and net have pure-Go implementations):
# no dynamic loader or libc to map at start-up, which saves about 3 ms on
# every command (bench/resolve.sh).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/reef

# deps installs the system packages the tests use (CI runs as root).
deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		missing=""; for p in $(DEB_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
		if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; \
	fi

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

unit:
	$(GO) test -count=1 -timeout 20m ./...

# fuzz runs every fuzz target briefly (FUZZTIME each); see scripts/fuzz.sh.
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./scripts/fuzz.sh

# test is the README's test command: formatting, vet, a short run of every
# fuzz target, then the unit and integration tests (whose summary ends the
# output).
test: deps vet fuzz unit

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# demo is the README's main job on the built-in example.
demo: deps build
	./examples/demo.sh

# stage0 builds the signed stage-0 repository from Debian's binary packages
# (docs/bootstrap.md): out/stage0/x86_64/, trusted with
# -k out/stage0/reef-stage0.rsa.pub (the key is made on the first run).
.PHONY: stage0
stage0: build
	./$(BIN) bootstrap --out out/stage0

clean:
	rm -rf bin out
