# Vellum developer targets. `make run` and `make test` are all a newcomer needs.
GO       ?= go
TOOLS    := -modfile=test/tools/go.mod
ADDR     ?= 127.0.0.1:8080
DATA_DIR ?= ./.vellum
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/vellum-sign/vellum/internal/cli.Version=$(VERSION)

.PHONY: run build build-production test tools lint bench clean

## run: start `vellum dev` (API + worker, embedded SQLite/Redis/storage) and print an API key
run:
	$(GO) run ./cmd/vellum dev --addr $(ADDR) --data-dir $(DATA_DIR)

## build: bin/vellum, with cgo for PKCS#11 tokens
build:
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/vellum ./cmd/vellum

## build-production: bin/vellum-production, what deployments ship: -tags production leaves out
## SQLite, the embedded Redis and `vellum dev`; the queue dashboard loses its source maps
build-production:
	GO=$(GO) scripts/build-production.sh bin/vellum-production '$(LDFLAGS)'

## tools: the S3 server and the OpenID provider the tests run against (versitygw and
## zitadel/oidc's example OP, pinned in test/tools/go.mod)
tools: bin/versitygw bin/oidc-op

bin/versitygw: test/tools/go.mod test/tools/go.sum
	$(GO) build $(TOOLS) -o bin/versitygw github.com/versity/versitygw/cmd/versitygw

bin/oidc-op: test/tools/go.mod test/tools/go.sum
	$(GO) build $(TOOLS) -o bin/oidc-op github.com/zitadel/oidc/v3/example/server

## test: the whole suite against real PostgreSQL, Redis, versitygw, pdfsig, openssl, SoftHSM2
# cgo is forced on: without it the PKCS#11 tests would not be compiled, a
# silent skip. A missing SoftHSM2 fails here rather than in the middle.
test: tools build build-production
	@command -v softhsm2-util >/dev/null && [ -f /usr/lib/softhsm/libsofthsm2.so ] || \
		{ echo "SoftHSM2 is required by the PKCS#11 tests: apt-get install softhsm2"; exit 1; }
	CGO_ENABLED=1 VELLUM_VERSITYGW=$(CURDIR)/bin/versitygw VELLUM_OIDC_OP=$(CURDIR)/bin/oidc-op VELLUM_BIN=$(CURDIR)/bin/vellum \
		VELLUM_PRODUCTION_BIN=$(CURDIR)/bin/vellum-production $(GO) test -count=1 -timeout 20m ./...

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags production ./cmd/... ./internal/...
	$(GO) tool $(TOOLS) staticcheck ./...

## bench: Go benchmarks (numbers go into README.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
