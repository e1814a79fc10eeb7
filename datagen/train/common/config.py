"""The trainer's configuration: one YAML file, validated like a recipe.

Same rules as the data recipes (datagen.recipe_files): unknown keys are errors that
name their path, `extends:` reuses another file, `--set a.b=c` overrides any
field, and every default lives here. Paths in a config are taken relative to
the directory `datagen` is run from (the repository root for `make` targets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from datagen.recipe_files import RecipeError, Strict, apply_override, format_errors, read_yaml
from datagen.train.common.precision import resolve_bf16


class LateDecisions(Strict):
    """Recovery training (datagen/train/training/augment.py): in this share of dialogues one gold
    decision is made up to `max_blocks` late, and only the late decision is learned."""

    share: float = Field(0.0, ge=0, le=1)
    max_blocks: int = Field(6, ge=1)
    min_finish_blocks: int = Field(1, ge=1)  # an answer's natural end: at least this late
    # Of the dialogues with the assistant's cues, this share has a cue's stop made late
    # instead (before `share` is drawn), learned from `cue_finish_blocks` after its audio
    # on: a cue such as "uh-huh, yeah" has a pause inside it too, up to 0.25 s in our
    # voices, shorter than an answer's between sentences (augment.late_decision).
    cue_share: float = Field(0.0, ge=0, le=1)
    cue_finish_blocks: int = Field(4, ge=1)


class DataConfig(Strict):
    """Which corpora to read and how to batch them (Lhotse's DynamicBucketingSampler)."""

    train: list[str] = []  # corpus folders (each a `datagen run` output, or a Shar folder)
    valid: list[str] = []  # held-out corpus folders; empty = hold out `valid_fraction` of train
    valid_fraction: float = Field(0.1, ge=0, lt=1)
    max_duration: float = Field(240.0, gt=0)  # seconds of dialogue per batch
    num_buckets: int = Field(4, ge=1)
    max_dialogue_s: float = Field(180.0, gt=0)  # longer dialogues are skipped (the paper's cap)
    shuffle: bool = True
    late_decisions: LateDecisions = LateDecisions()
    # A barge-in's stop is learned at every block from this long after its onset to the
    # gold stop (the judge accepts each); null: at the gold block only (augment.react_sooner).
    react_from_s: float | None = Field(None, ge=0)


class EncoderConfig(Strict):
    """Causal streaming encoder: fbank at 100 Hz -> conv to 50 Hz -> pairs at 25 Hz
    -> causal transformer layers; 2 embeddings per 80 ms block per stream."""

    num_mel_bins: int = 80
    conv_channels: int = Field(256, ge=8)
    dim: int = Field(256, ge=8)
    layers: int = Field(2, ge=0)
    heads: int = Field(4, ge=1)
    assistant_lag_blocks: int = Field(0, ge=0)  # hear one's own voice this many blocks late


class BackboneConfig(Strict):
    """A local Hugging Face causal LM folder, or (path null) a tiny Llama built in code."""

    path: str | None = None
    hidden: int = Field(256, ge=8)
    layers: int = Field(4, ge=1)
    heads: int = Field(4, ge=1)
    kv_heads: int = Field(4, ge=1)
    intermediate: int = Field(768, ge=8)
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"
    state_embedding: bool = True  # add a learned listening/speaking embedding to each block
    # With the state embedding, a third state for the first N blocks after a speak-<shift>,
    # while its voice has not begun (the corpus's synth_delay_s / block_s: 4 for 320 ms at
    # 80 ms). 0: two states. Why: docs/trainer.md, "Its turn state".
    pre_voice_blocks: int = Field(0, ge=0)


class LoraSettings(Strict):
    r: int = Field(32, ge=1)
    alpha: int = Field(64, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class OptimConfig(Strict):
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = Field(50, ge=0)
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    grad_accum: int = Field(1, ge=1)
    clip_grad: float = Field(1.0, gt=0)
    epochs: int = Field(1, ge=1)
    max_steps: int | None = Field(None, ge=1)  # stop after this many optimizer steps
    shift_weight: float = Field(1.0, gt=0)  # loss weight of <shift> targets (rare but decisive)
    text_weight: float = Field(1.0, ge=0)  # loss weight of text-token targets
    decision_weight: float = Field(0.0, ge=0)  # weight of the binary <shift>-or-not loss (model.sft_loss)
    # weight of an auxiliary loss: is someone speaking on channel 0 in each 40 ms frame,
    # read from the environment encoder (model.DuplexModel.vad_loss); 0 = no such head
    vad_weight: float = Field(0.0, ge=0)


class StreamConfig(Strict):
    """Streaming inference (`datagen train errors`)."""

    batch_size: int = Field(16, ge=1)  # dialogues decoded together, block by block
    # What text is fed back while it speaks: the answer its voice plays ("answer"), or the
    # model's own text tokens ("own"). Its <shift> decisions are always its own.
    text: Literal["answer", "own"] = "answer"
    # The decision rule: null = greedy argmax (SALMONN-omni); a number = emit <shift>
    # whenever its probability exceeds it (datagen/train/streaming/stream.py, choose).
    shift_threshold: float | None = Field(None, gt=0, lt=1)


class ScoreConfig(Strict):
    """Tolerances of the judge (datagen/train/judging/judge.py, docs/error_log.md)."""

    turn_window_s: float = Field(3.0, gt=0)  # a reply later than this after the user's end is none
    react_window_s: float = Field(1.0, gt=0)  # a stop this long after an overlay's end still reacts to it
    late_blocks: int = Field(4, ge=0)  # a stop later than gold by more than this is an error
    early_blocks: int = Field(2, ge=0)  # ending an answer earlier than its audio by more is an early stop


class DPOConfig(Strict):
    """Stage 3 (`datagen train dpo`): pairs from error logs, SFT subset kept."""

    pairs: str | None = None  # a `datagen dpo` output folder
    corpus: list[str] = []  # where the pairs' dialogues live (default: data.train)
    init: str | None = None  # the SFT checkpoint to start from (and the reference model)
    beta: float = Field(0.1, gt=0)
    sft_weight: float = Field(1.0, ge=0)  # weight of the SFT loss on the kept SFT subset
    pairs_per_step: int = Field(4, ge=1)
    sft_per_step: int = Field(4, ge=0)
    # What a side's log-probability sums (preference/dpo.py, sequence_logps): every token
    # ("tokens", SALMONN-omni's), or only the model's <shift>-or-not decisions ("decisions").
    scope: Literal["tokens", "decisions"] = "tokens"
    # How many blocks from the divergent block a side's sum covers (null: to the end of the
    # track). 1 with `decisions`: the one choice where the sides part, on the history they
    # share; later blocks sit on histories that differ (docs/trainer.md).
    window: int | None = Field(None, ge=1)
    # TRL's `rpo_alpha` (RPO, Pang et al. 2024): add alpha x the chosen side's mean NLL over
    # its scored blocks, so DPO cannot widen the margin by lowering both sides (docs/trainer.md).
    rpo_alpha: float | None = Field(None, gt=0)
    # TRL's loss_type: "sigmoid" (DPO) or "apo_zero" (raise chosen, lower rejected, each alone).
    loss: Literal["sigmoid", "apo_zero"] = "sigmoid"


class TrainConfig(Strict):
    name: str = "duplex"
    seed: int = 0
    out: str = "manifests/train/duplex"  # checkpoints, metrics, logs
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool | Literal["auto"] = False  # auto: where the device computes it natively (common/precision.py)
    grad_checkpointing: bool = False
    threads: int | None = Field(None, ge=1)  # torch CPU threads (default: torch's own choice)
    log_every: int = Field(10, ge=1)
    save_every: int = Field(100, ge=1)  # optimizer steps between checkpoints (and at each epoch end)
    keep_checkpoints: int = Field(2, ge=1)
    tensorboard: bool = True  # when the tensorboard package is installed
    data: DataConfig = DataConfig()
    encoder: EncoderConfig = EncoderConfig()
    backbone: BackboneConfig = BackboneConfig()
    lora: LoraSettings | None = None
    optim: OptimConfig = OptimConfig()
    stream: StreamConfig = StreamConfig()
    score: ScoreConfig = ScoreConfig()
    dpo: DPOConfig = DPOConfig()

    @model_validator(mode="after")
    def _shapes(self) -> TrainConfig:
        if self.bf16 == "auto":  # resolved once, so every checkpoint records what the run used
            self.bf16 = resolve_bf16("auto", self.device)
        if self.encoder.dim % self.encoder.heads:
            raise ValueError(f"encoder.dim {self.encoder.dim} is not a multiple of encoder.heads")
        b = self.backbone
        if b.path is None and (b.hidden % b.heads or b.heads % b.kv_heads):
            raise ValueError("backbone: hidden must divide by heads, and heads by kv_heads")
        return self


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a trainer config, resolve `extends:`, apply `--set` overrides, validate."""
    data = read_yaml(Path(path))
    for o in overrides or []:
        data = apply_override(data, o)
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as e:
        raise RecipeError(f"{path}: {format_errors(e)}") from None
