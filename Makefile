# Frontdesk's tasks. The two set-up commands on a fresh machine:
#   make run    the quickstart
#   make test   every test (installs what the tests need, as root)

GO          ?= go
BIN         := bin/frontdesk
# The binary's flags, the same as xcaddy.json's and the test harness's (with
# CGO_ENABLED=0), so every build of it shares the build cache.
BUILD_FLAGS := -trimpath -ldflags "-w -s"

.PHONY: all build cross fuzz run test test-deps lint unit integration bench bench-http bench-mysql bench-firewall bench-auth bench-dashboard xcaddy check-xcaddy clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $(BIN) ./cmd/frontdesk

# Frontdesk's modules must build for every platform Caddy ships (CI runs this).
CROSS_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 freebsd/amd64 freebsd/arm64
cross:
	@for target in $(CROSS_TARGETS); do \
		echo "cross: $$target"; \
		CGO_ENABLED=0 GOOS=$${target%/*} GOARCH=$${target#*/} $(GO) build -o /dev/null ./modules/... . || exit 1; \
	done

# Every fuzz target of every package, each for FUZZTIME (executions, "2000x",
# or a duration; a duration shorter than the seed corpus takes to replay ends
# in "context deadline exceeded"). CI runs them for a
# bounded time; their seed corpora also run in `make unit`).
FUZZTIME ?= 2000x
fuzz:
	@for pkg in $$($(GO) list ./... | grep -v /integration); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

run: build
	$(GO) run ./internal/quickstart $(BIN) caddyfile/examples/quickstart.Caddyfile

test: test-deps lint unit integration

test-deps:
	scripts/test-deps.sh

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# Unit and Caddyfile tests, with the race detector.
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration)

# End-to-end tests against the built binary, real backends and real MariaDB.
integration: build
	FRONTDESK_BINARY=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 20m ./integration/...

# Benchmarks: Go benchmarks of the hot paths, then load tests of the whole
# binary that print ratios against a baseline measured in the same run.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /integration)
	FRONTDESK_BINARY=$(CURDIR)/$(BIN) FRONTDESK_BENCH=1 $(GO) test -count=1 -run '^TestBench' -skip '^TestBenchHTTP' -v -timeout 30m ./integration/
	$(MAKE) bench-http

# Health-aware balancing against stock Caddy's policies: four backends, one
# of them healthy, slow, flaky or dead; 30s per run (FRONTDESK_BENCH_DURATION).
bench-http: build
	FRONTDESK_BINARY=$(CURDIR)/$(BIN) FRONTDESK_BENCH=1 $(GO) test -count=1 -run '^TestBenchHTTP' -v -timeout 60m ./integration/

# The MySQL benchmark alone: sysbench direct, through HAProxy (TCP) and
# through Frontdesk; the CPU profile lands in bin/mysql-bench-cpu.pprof.
# BASELINE=<an earlier frontdesk binary> measures it too, in the same rounds.
# FRONTDESK_BENCH_MYSQL_HELD_ONLY=1 runs only the section on the backend
# connections 2,000 clients (32 active) hold through HAProxy and Frontdesk.
bench-mysql: build
	FRONTDESK_BENCH_BASELINE=$(if $(BASELINE),$(abspath $(BASELINE))) FRONTDESK_BINARY=$(CURDIR)/$(BIN) FRONTDESK_BENCH=1 $(GO) test -count=1 -run '^TestBenchMySQL' -v -timeout 30m ./integration/

# The firewall and rate limiter benchmark alone: the balancing benchmark's
# healthy scenario with access_rules (a 1M-prefix deny file) and
# request_limit on vs off, alternating runs.
bench-firewall: build
	FRONTDESK_BINARY=$(CURDIR)/$(BIN) FRONTDESK_BENCH=1 $(GO) test -count=1 -run '^TestBenchFirewall' -v -timeout 30m ./integration/
# Authentication on vs off: the proxy over four healthy backends with no
# auth, a JWT (cached and uncached) and an API key, interleaved rounds.
bench-auth: build
	FRONTDESK_BINARY=$(CURDIR)/$(BIN) FRONTDESK_BENCH=1 $(GO) test -count=1 -run '^TestBenchAuth' -v -timeout 30m ./integration/

# What an open dashboard costs the proxy: the dashboard example with no
# page, one page and ten pages open (event streams), interleaved rounds.
bench-dashboard: build
	FRONTDESK_BINARY=$(CURDIR)/$(BIN) FRONTDESK_BENCH=1 $(GO) test -count=1 -run '^TestBenchDashboard' -v -timeout 30m ./integration/

# Build with xcaddy from the manifest xcaddy.json, as a user would.
xcaddy:
	$(GO) run ./internal/xcaddybuild -manifest xcaddy.json

# The xcaddy build must have exactly the modules of `make build`.
check-xcaddy: build xcaddy
	$(BIN) list-modules > bin/modules-build.txt
	bin/frontdesk-xcaddy list-modules > bin/modules-xcaddy.txt
	diff -u bin/modules-build.txt bin/modules-xcaddy.txt
	@echo "xcaddy build and make build list the same $$(grep -c . bin/modules-build.txt) lines of modules"

clean:
	rm -rf bin
