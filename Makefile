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
# Turn-taking sets, one per question source: add llama_questions web_questions trivia_qa
# alpaca_eval when the hub (or a local export, see the recipes) is there.
QA_SETS ?= bundled

.PHONY: help setup corpus test lint report validate inspect bench clean eval-sets train-sft errors score \
	dpo-pairs train-dpo loop exports cosyvoice-code

help:
	@echo "make corpus   build the offline tiny corpus into $(OUT) (recipes/tiny.yaml)"
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

$(STAMP): pyproject.toml | /usr/bin/espeak-ng
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[piper,qc,http,hf,serve,train,dev,cosyvoice]"
	$(MAKE) --no-print-directory cosyvoice-code
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
