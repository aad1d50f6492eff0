# Nagare's build, run and test entry points. `make test` is what CI runs (.ci/run).
GO        ?= go
DATA_DIR  ?= ./data
PKGS      := ./...
FUZZTIME  ?= 15s

.PHONY: build run test test-deps soak bench fuzz lint staticcheck clean

build:
	$(GO) build -o bin/nagare ./cmd/nagare

run:
	$(GO) run ./cmd/nagare serve --data-dir $(DATA_DIR)

# test installs what the tests need (idempotently), then runs vet and every test with -race.
test: test-deps
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 45m $(PKGS)

test-deps:
	./scripts/install-test-deps.sh

# soak runs the multi-process fault-injection suite's long variant (tests/chaos/README.md):
# 20 leader kills, 9 partition rounds, 3 rolling restarts, 6 reassignments under load,
# 12 kills under transactions, 20 five-node kill rounds.
soak:
	NAGARE_CHAOS_SOAK=1 $(GO) test -count=1 -v -timeout 60m ./tests/chaos/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./internal/log/

# fuzz runs every fuzz target briefly; FUZZTIME bounds each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
	  list=$$($(GO) test -list '^Fuzz' $$pkg); \
	  for f in $$(echo "$$list" | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)
	@if $(GO) run honnef.co/go/tools/cmd/staticcheck@latest -version >/dev/null 2>&1; then \
	  $(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS); \
	else echo "staticcheck unavailable from the module proxy; skipped"; fi

clean:
	rm -rf bin
