# Switchyard: `make demo` and `make test` are the two commands a new user needs.
GO       ?= go
BIN      := bin/switchyard
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
GOTESTFLAGS ?= -race -timeout 40m

.PHONY: all build demo test vet bench fuzz clean deps

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/switchyard

deps:
	./scripts/ensure-deps.sh

# A sandbox cluster (1 master + 2 replicas) with the proxy in front.
demo: deps build
	./$(BIN) sandbox $(DEMO_FLAGS)

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every test, the integration tests against real MariaDB servers included.
test:
	./scripts/ensure-deps.sh sysbench chromium
	$(MAKE) vet
	$(GO) test $(GOTESTFLAGS) ./...
	# Both ways of running sessions get every suite: the suites that build a
	# proxy in the test run goroutines above (proxy.Options.Loops is 0) and
	# event loops here; the binary (cmd) runs event loops above (the
	# default, runtime.event_loops: auto) and goroutines here.
	SWITCHYARD_LOOPS=2 $(GO) test $(GOTESTFLAGS) ./proxy ./integration ./admin ./httpapi
	SWITCHYARD_LOOPS=0 $(GO) test $(GOTESTFLAGS) ./cmd/...
	# And the integration suite with pipelined reads on in every test.
	SWITCHYARD_LOOPS=2 SWITCHYARD_PIPELINE_READS=1 $(GO) test $(GOTESTFLAGS) ./integration

# Switchyard against a direct connection and HAProxy (TCP mode) on a sandbox
# cluster: sysbench matrix, 1 GB stream, idle clients. BENCH_FLAGS="--time 5".
bench: build
	./scripts/ensure-deps.sh sysbench haproxy
	$(GO) run ./bench/cmd/bench --switchyard $(BIN) --b-pipeline $(BENCH_FLAGS)

# Short fuzzing runs of every fuzz target (FUZZTIME each).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
