# duplex-datagen: every target sets up .venv on first use (idempotent).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
RECIPE  ?= recipes/tiny.yaml
OUT     ?= manifests/tiny
ARGS    ?=

.PHONY: help setup corpus test lint report validate inspect bench clean

help:
	@echo "make corpus   build the offline tiny corpus into $(OUT) (recipes/tiny.yaml)"
	@echo "make test     run the test suite (GPU tests skip without a GPU)"
	@echo "make lint     ruff"
	@echo "make report   HTML report of $(OUT)"
	@echo "make bench    throughput and memory benchmarks"

# System voices: espeak-ng (GPL) for user and third-party voices.
/usr/bin/espeak-ng:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	else echo "espeak-ng is missing: sudo apt-get install espeak-ng" >&2; exit 1; fi

$(STAMP): pyproject.toml | /usr/bin/espeak-ng
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[piper,qc,http,hf,serve,dev]"
	touch $(STAMP)

setup: $(STAMP)

corpus: $(STAMP)
	$(BIN)/datagen run $(RECIPE) $(ARGS)

report: $(STAMP)
	$(BIN)/datagen report $(OUT)

validate: $(STAMP)
	$(BIN)/datagen validate $(OUT)

inspect: $(STAMP)
	$(BIN)/datagen inspect $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check datagen tests bench
	$(BIN)/ruff format --check datagen tests bench

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf manifests/*/ .pytest_cache
