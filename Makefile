# hookrelay: the two commands are `make dev` (run the whole pipeline
# locally) and `make test` (every check CI runs). Everything they need is
# installed here: a Python venv with pinned tools, and the interpreters the
# platforms' sample code is written in.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
VENV := $(CURDIR)/.venv
# The venv comes first: cargo-lambda finds zig through `python3 -m ziglang`.
export PATH := $(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help venv interpreters lint fmt test test-rust dev build-lambda bench fuzz clean

# Options for `hookrelay dev up`, e.g. make dev ARGS="--moto-port 0 --lambda-port 0".
ARGS ?=

help:
	@echo "make dev    run the whole pipeline locally (moto, receiver, sender, poller, demo endpoint)"
	@echo "            options for hookrelay dev up: make dev ARGS=\"--moto-port 0 --lambda-port 0\" (ARGS=--help lists them)"
	@echo "make test   lint the template, fmt, clippy and every test (moto-backed and end-to-end)"
	@echo "make bench  run the benchmarks and rewrite BENCHMARKS.md"
	@echo "make fuzz   run every fuzz target for FUZZ_SECONDS (default 600) each; see FUZZING.md"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# PHP and Ruby run the LeafLink/LeadDone/Smarter Launch docs' own samples in
# the tests; Node.js and Python are already on this machine kind.
interpreters:
	@command -v php >/dev/null && command -v ruby >/dev/null && command -v node >/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq php-cli ruby nodejs >/dev/null; }

lint: venv
	scripts/check-target-paths
	cfn-lint template.yaml
	sam validate --lint --template template.yaml
	cargo fmt --all --check
	cargo fmt --manifest-path fuzz/Cargo.toml --check
	cargo clippy --workspace --exclude hookrelay-bench --all-targets -- -D warnings
	# The benchmarks are linted on their own: their comparison crates (svix
	# and others) must not change the features the functions are tested with.
	cargo clippy -p hookrelay-bench --all-targets -- -D warnings

fmt:
	cargo fmt --all

test: venv interpreters lint
	scripts/with-moto cargo test --workspace --exclude hookrelay-bench

# `cargo run`, not a path under target/: cargo's output may be elsewhere
# (CARGO_TARGET_DIR).
dev: venv
	cargo run -p hookrelay-cli --bin hookrelay -- dev up $(ARGS)

bench: venv
	bench/run

# libFuzzer targets (fuzz/), one after the other; `make test` only replays
# their committed corpora. FUZZ_TARGETS="json_pointer envelope" runs some.
FUZZ_SECONDS ?= 600
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run $(FUZZ_TARGETS)

clean:
	cargo clean
	rm -rf $(VENV) .hookrelay
