# nextsecure: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go

.PHONY: run test generate check-generated lint bench devdb-stop screenshots

## run: start the server on http://localhost:8080 (a throwaway PostgreSQL when DATABASE_URL is unset, here and in .env;
##      a new AUTH_SECRET written into .env when neither the environment nor .env has one)
run:
	@if [ -z "$$AUTH_SECRET" ] && ! grep -qsE '^[[:space:]]*(export[[:space:]]+)?AUTH_SECRET=.' .env; then \
		secret=$$($(GO) run ./cmd/nextsecure secret) || exit 1; \
		if [ -s .env ] && [ -n "$$(tail -c1 .env)" ]; then echo >> .env; fi; \
		(umask 077; printf 'AUTH_SECRET=%s\n' "$$secret" >> .env) || exit 1; \
		echo "AUTH_SECRET is unset: wrote a new one into .env (keep it: it encrypts the secrets stored in the database)" >&2; \
	fi; \
	if [ -z "$$DATABASE_URL" ] && ! grep -qsE '^[[:space:]]*(export[[:space:]]+)?DATABASE_URL=.' .env; then \
		echo "DATABASE_URL is unset: starting the throwaway PostgreSQL cluster (make devdb-stop stops it)" >&2; \
		DATABASE_URL=$$($(GO) run ./internal/cmd/devdb start) || exit 1; \
		export DATABASE_URL; \
	fi; \
	exec $(GO) run ./cmd/nextsecure serve

## test: vet and run every test (a throwaway PostgreSQL when TEST_DATABASE_URL is unset)
test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

## generate: rebuild package db from sql/ with sqlc
generate:
	$(GO) tool sqlc generate

## check-generated: fail when db/ differs from what sqlc generates; run sqlc's rules
check-generated:
	$(GO) tool sqlc diff
	$(GO) tool sqlc vet

## lint: formatting and vet
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## bench: load-test the server on this machine with wrk (throwaway PostgreSQL; BENCH_FLAGS="-duration 10s -clients 16,64";
##        BENCH_FLAGS="-users 1000000" seeds a million users, 2 sessions and 10 audit events each, in about 2 minutes)
bench:
	@command -v wrk >/dev/null || (test $$(id -u) = 0 && command -v apt-get >/dev/null && apt-get install -y -qq wrk >/dev/null) \
		|| { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
	$(GO) build -o bin/nextsecure ./cmd/nextsecure
	$(GO) build -o bin/loadbench ./internal/cmd/loadbench
	bin/loadbench -server bin/nextsecure $(BENCH_FLAGS)

## devdb-stop: stop the throwaway PostgreSQL cluster
devdb-stop:
	$(GO) run ./internal/cmd/devdb stop

## screenshots: write a PNG of each browser page, light and dark, into docs/screenshots/ (needs Chromium)
screenshots:
	SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test ./service/httpapi -run '^TestScreenshots$$' -count=1 -v
