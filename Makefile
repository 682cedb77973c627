# The two commands a new user needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO        ?= go
BIN       := $(CURDIR)/bin
E2E_DIR   := services/edge/e2e
INTEGRATION_DIR := deployments/integration
FUZZTIME  ?= 8s
# Every Go package of every workspace module.
GO_PKGS   := ./pkg/... ./contracts/... ./deployments/... $(foreach s,edge presence chat notify,./services/$(s)/...)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  make %-18s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/edge ./services/edge
	$(GO) build -o $(BIN)/presence ./services/presence
	$(GO) build -o $(BIN)/chat ./services/chat
	$(GO) build -o $(BIN)/notify ./services/notify
	$(GO) build -o $(BIN)/conformance-server ./pkg/conformance/cmd/conformance-server

.PHONY: run
run: ## run the whole service on :4100 (embedded mode, no brokers needed)
	$(GO) run ./services/edge

.PHONY: conformance-server
conformance-server: ## run the protocol test-suite server on PORT (default 3000)
	$(GO) run ./pkg/conformance/cmd/conformance-server

# The real brokers the integration tests run against (started by `make brokers`).
BROKER_ENV := $(shell deployments/brokers.sh env 2>/dev/null | tr '\n' ' ')

.PHONY: test
test: deps brokers vet test-go fuzz test-e2e test-integration ## install what the tests need, start real Kafka and Redis, run every test
	@echo "make test: all suites passed"

.PHONY: deps
deps: ## install test dependencies (idempotent)
	cd $(E2E_DIR) && npm ci --no-audit --no-fund --loglevel=error
	cd $(INTEGRATION_DIR) && npm ci --no-audit --no-fund --loglevel=error

.PHONY: brokers
brokers: ## install (once) and start a real Kafka (KRaft) and Redis on loopback
	deployments/brokers.sh up

.PHONY: brokers-down
brokers-down: ## stop the brokers started by `make brokers`
	deployments/brokers.sh down

.PHONY: vet
vet: ## gofmt and go vet
	@unformatted=$$(gofmt -l pkg services contracts deployments); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(GO_PKGS)

.PHONY: contracts
contracts: ## check the AsyncAPI document, the schemas and that every example validates
	$(GO) test -count=1 ./contracts/...

.PHONY: test-go
test-go: ## Go unit, component, protocol-suite and broker integration tests
	$(BROKER_ENV) $(GO) test -race -count=1 -timeout 10m $(GO_PKGS)

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each
	FUZZTIME=$(FUZZTIME) .ci/fuzz.sh ./pkg/engineio FuzzDecodePayload
	FUZZTIME=$(FUZZTIME) .ci/fuzz.sh ./pkg/engineio FuzzFrameReader
	FUZZTIME=$(FUZZTIME) .ci/fuzz.sh ./pkg/engineio FuzzFrameParser
	FUZZTIME=$(FUZZTIME) .ci/fuzz.sh ./pkg/socketio FuzzDecode

.PHONY: test-e2e
test-e2e: build ## end-to-end tests with the official socket.io-client
	cd $(E2E_DIR) && CONFORMANCE_BIN=$(BIN)/conformance-server EDGE_BIN=$(BIN)/edge npm test

.PHONY: test-integration
test-integration: build ## distributed mode on real Kafka and Redis: separate processes, failures injected
	cd $(INTEGRATION_DIR) && BIN_DIR=$(BIN) npm test

.PHONY: bench
bench: ## side-by-side benchmark: the Node.js reference vs ours, embedded and distributed (BENCH_SCALE=small|full; see deployments/bench)
	deployments/bench/run.sh

.PHONY: bench-scale
bench-scale: ## 100,000 idle connections over 6 edges sharing one Kafka and one Redis, counts checked (deployments/bench)
	BENCH_SCALE=full BENCH_100K=only deployments/bench/run.sh

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)

# --- distributed stack as local processes (deployments/stack.sh; deployments/README.md) ---

.PHONY: up
up: ## start Kafka, Redis, presence, 2 chat, notify, 2 edges (:4101, :4102) and nginx on :4100
	deployments/stack.sh up

.PHONY: down
down: ## stop everything `make up` started (the brokers only if it started them)
	deployments/stack.sh down

.PHONY: compose-check
compose-check: ## check docker-compose.yml, the Dockerfile and the nginx configs (no Docker needed)
	$(GO) test -count=1 ./deployments/...
