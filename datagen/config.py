"""The recipe schema, loading, `extends:` and `--set` overrides.

Every default lives here, in one place. A recipe is YAML validated by
pydantic with unknown keys forbidden; errors name the dotted key path so a
typo in a 200-line recipe is found at once. Backend options are validated
by the backend's own `Options` model, looked up in the registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from datagen.recipe_files import RecipeError, Strict, apply_override, format_errors, read_yaml
from datagen.records import ROLES, TASKS


class QuestionsConfig(Strict):
    """Where questions come from. `bundled` needs nothing; `local` reads a
    JSONL/Parquet file with Hugging Face field names; `hf` loads by dataset id."""

    source: Literal["bundled", "local", "hf"] = "bundled"
    path: str | None = None  # local: file path
    format: str | None = None  # local: which dataset's field names (web_questions, nq_open, ...)
    dataset: str | None = None  # hf: dataset id, e.g. Stanford/web_questions
    config: str | None = None
    split: str = "train"  # bundled: train | test (held out for eval recipes) | all
    limit: int | None = Field(None, ge=1)
    max_chars: int = Field(300, ge=10)
    streaming: bool = False
    sources: list[QuestionsConfig] = []  # several sets, concatenated in order

    @model_validator(mode="after")
    def _needs(self) -> QuestionsConfig:
        if self.source == "local" and not self.path:
            raise ValueError("questions.source=local needs questions.path")
        if self.source == "hf" and not self.dataset:
            raise ValueError("questions.source=hf needs questions.dataset")
        if self.source == "bundled" and self.split not in ("train", "test", "all"):
            raise ValueError(f"bundled questions have splits train, test, all; not {self.split!r}")
        return self


class LLMConfig(Strict):
    backend: str = "scripted"
    options: dict[str, Any] = {}
    batch_size: int = Field(16, ge=1)
    # Tries per request before its dialogue is rejected: a reply that does not parse or
    # breaks a rule (length, spoken form) is asked again with a note on what was wrong.
    attempts: int = Field(3, ge=1, le=10)


class VoiceConfig(Strict):
    """The voices of one role: a backend and an optional list of speaker ids
    (empty = every voice the backend offers)."""

    backend: str
    speakers: list[str] = []
    options: dict[str, Any] = {}


def _default_voices() -> dict[str, VoiceConfig]:
    return {
        "assistant": VoiceConfig(backend="piper"),
        "user": VoiceConfig(backend="espeak"),
        "third_party": VoiceConfig(backend="espeak"),
    }


class TTSConfig(Strict):
    sample_rate: int = Field(16000, ge=8000)
    voices: dict[str, VoiceConfig] = Field(default_factory=_default_voices)
    eval_speakers: bool = False  # draw from the held-out half of each pool
    max_attempts: int = Field(2, ge=1)  # retries with another seed/speaker

    @field_validator("voices")
    @classmethod
    def _roles(cls, v: dict[str, VoiceConfig]) -> dict[str, VoiceConfig]:
        unknown = set(v) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; roles are {list(ROLES)}")
        missing = set(ROLES) - set(v)
        if missing:
            raise ValueError(f"missing voice for role(s) {sorted(missing)}")
        return v


class GapConfig(Strict):
    """Silence between the end of one speaker's turn and the start of the next.

    Log-normal: human floor-transfer offsets are right-skewed; the median
    0.5 s sits between human conversation (~0.2 s, Stivers 2009; Fisher
    0.32 s) and what a model with a 0.32 s synthesis delay can reach.
    Clipped to [min_s, max_s]; the assistant's gap is further floored at
    synth_delay_s + one block (it cannot answer before hearing the end).
    """

    median_s: float = Field(0.5, gt=0)
    sigma: float = Field(0.4, ge=0)
    min_s: float = Field(0.2, ge=0)
    max_s: float = Field(2.0, gt=0)


class UserGapConfig(Strict):
    """When the user (or a third party) starts after the assistant stops.

    Normal, as MinMo's synthetic data (N(0.6, 0.4^2)); negative values are
    overlaps (the user starts before the assistant's last word ends), which
    humans do often (Fisher median overlap 0.56 s). The assistant finishes
    its turn through such a terminal overlap.
    """

    mean_s: float = 0.5
    sd_s: float = Field(0.4, ge=0)
    min_s: float = -0.4
    max_s: float = Field(2.5, gt=0)


class PauseConfig(Strict):
    """A silence inside a user turn (not a turn end). Fisher median pause 0.40 s;
    we draw longer ones so the lesson (do not take the turn) is unambiguous."""

    min_s: float = Field(0.6, gt=0)
    max_s: float = Field(1.6, gt=0)
    in_multi_turn_prob: float = Field(0.2, ge=0, le=1)


class AssistantBackchannelConfig(Strict):
    """The assistant's own cues in a user's long turn (task assistant_backchannel).

    The user speaks in stretches split at sentence boundaries. After a stretch
    ends, the assistant decides to say a cue like a turn (docs/labels.md rule 1)
    with a gap drawn from `onset_s`: listeners place backchannels at the ends
    of a speaker's phrases and in the pauses after them (Ward & Tsukahara
    2000; Heldner, Hjalmarsson & Edlund 2013), and a model cannot speak sooner
    than `synth_delay_s` + a block (0.40 s), so the range starts there and
    stays under the answer gap's median-plus-spread. The user
    resumes `resume_s` after the cue's audio ends: a speaker who paused for a
    backchannel goes on once it is heard; a slight overlap (negative) is
    common and keeps the two from sounding scripted. The user's dip is then
    onset + cue + resume, about 0.7-1.5 s: a cue is only ever said in a dip
    long enough to hold one, and the label that differs from the `pause` task
    (keep silent) is the cue itself, at a sentence end rather than mid-clause.
    """

    per_turn: tuple[int, int] = (1, 2)  # cues per long turn (fewer if it has fewer sentence ends)
    onset_s: tuple[float, float] = (0.4, 0.8)  # end of the user's stretch -> the cue's audio
    resume_s: tuple[float, float] = (-0.1, 0.3)  # end of the cue -> the user goes on


class EchoConfig(Strict):
    """The assistant's own voice leaking into channel 0 (Moshi: gain 0.2,
    100-500 ms delay, reverb, 30% of samples). The reverb is the room's
    loudspeaker->microphone response (`timeline.room`); `delay_s` is the time
    from the assistant's channel-1 audio to the echo's direct path, and
    `gain` scales that unit-energy response."""

    prob: float = Field(0.3, ge=0, le=1)
    gain: tuple[float, float] = (0.1, 0.3)
    delay_s: tuple[float, float] = (0.1, 0.5)
    reverb_s: float = Field(0.25, ge=0)  # room.kind=exponential only: decay time of the synthetic tail


Range = tuple[float, float]


class RoomConfig(Strict):
    """The room the dialogue happens in (docs/labels.md, "Rooms").

    `simulated` (default): a shoebox drawn per dialogue and its impulse
    responses computed with pyroomacoustics (image source method, no ray
    tracing); RT60 -> wall absorption by inverse Sabine. `max_order` caps the
    image order to keep the cost at tens of ms per source, which shortens the
    tail of small live rooms (each cut records the RT60 its responses measure).
    `measured`: one RIR per source drawn from `rirs` (folders of wav/flac or
    Lhotse RecordingSet manifests).
    `exponential`: the old hand-written tail on the echo only (fastest).
    `speech`: the user's and third party's speech also go through their own
    source->microphone responses (off: they stay dry, as before).
    """

    kind: Literal["simulated", "measured", "exponential"] = "simulated"
    length_m: Range = (3.0, 7.0)
    width_m: Range = (3.0, 6.0)
    height_m: Range = (2.5, 3.2)
    rt60_s: Range = (0.2, 0.6)
    max_order: int = Field(30, ge=0)
    wall_margin_m: float = Field(0.5, ge=0.05)  # every source and the microphone keep this from the walls
    min_spacing_m: float = Field(0.5, gt=0)  # between talkers, and from a talker to the microphone
    loudspeaker_mic_m: Range = (0.1, 0.6)  # the assistant's device: loudspeaker to its own microphone
    rirs: list[str] = []  # measured: folders of audio files and/or Lhotse RecordingSet manifests
    speech: bool = False

    @model_validator(mode="after")
    def _sane(self) -> RoomConfig:
        for name in ("length_m", "width_m", "height_m", "rt60_s", "loudspeaker_mic_m"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be a range 0 < low <= high, got {[lo, hi]}")
        if min(self.length_m[0], self.width_m[0], self.height_m[0]) <= 2 * self.wall_margin_m:
            raise ValueError("the smallest room must be larger than twice wall_margin_m")
        if self.kind == "measured" and not self.rirs:
            raise ValueError("room.kind=measured needs room.rirs (folders or RecordingSet manifests)")
        if self.kind == "exponential" and self.speech:
            raise ValueError("room.speech needs a simulated or measured room, not kind=exponential")
        return self


NOISE_KINDS = ("white", "pink", "brown", "babble_hum", "file", "babble")


class NoiseConfig(Strict):
    """Background noise on channel 0 at an SNR against the speech on it.

    Each noisy dialogue draws one of `kinds`: a synthetic colour (white,
    pink, brown), `file` (a clip from `files`, looped or cropped to the
    dialogue at a random offset) or `babble` (the sum of `babble_talkers`
    clips from `babble`). `files`/`babble` are folders of audio files or
    Lhotse RecordingSet manifests, e.g. what `lhotse.recipes.prepare_musan`
    writes (a folder holding `musan_recordings_*.jsonl.gz` counts as its
    manifests; for babble only its speech part is used)."""

    prob: float = Field(0.3, ge=0, le=1)
    snr_db: tuple[float, float] = (10.0, 30.0)
    kinds: list[Literal["white", "pink", "brown", "babble_hum", "file", "babble"]] = [
        "pink",
        "brown",
        "white",
    ]
    files: list[str] = []
    babble: list[str] = []
    babble_talkers: tuple[int, int] = (3, 7)

    @model_validator(mode="after")
    def _sources(self) -> NoiseConfig:
        if "file" in self.kinds and not self.files:
            raise ValueError("noise kind 'file' needs noise.files (folders or RecordingSet manifests)")
        if "babble" in self.kinds and not self.babble:
            raise ValueError("noise kind 'babble' needs noise.babble (speech folders or manifests)")
        lo, hi = self.babble_talkers
        if not 1 <= lo <= hi:
            raise ValueError(f"babble_talkers must be 1 <= low <= high, got {[lo, hi]}")
        return self


class TimelineConfig(Strict):
    block_s: float = Field(0.08, gt=0)
    synth_delay_s: float = Field(0.32, ge=0)
    # The assistant decides to stop `reaction_s` after it has heard enough of a
    # barge-in: its end, or `barge_in_heard_s` of it when it is long; a related
    # question is always heard to its end (it must be understood to be answered).
    reaction_s: float = Field(0.16, ge=0)
    barge_in_heard_s: float = Field(1.0, gt=0)
    fade_s: float = Field(0.02, ge=0)
    lead_in_s: tuple[float, float] = (0.3, 1.0)  # silence before the first turn
    tail_s: tuple[float, float] = (0.5, 1.2)  # silence after the last turn
    gap: GapConfig = GapConfig()
    user_gap: UserGapConfig = UserGapConfig()
    pause: PauseConfig = PauseConfig()
    assistant_backchannel: AssistantBackchannelConfig = AssistantBackchannelConfig()
    backchannels_per_turn: tuple[int, int] = (1, 3)
    interrupt_at: tuple[float, float] = (0.3, 0.7)  # share of the answer's words before a barge-in
    interrupter_gain_db: tuple[float, float] = (-9.0, 0.0)
    min_overlay_snr_db: float = 0.0  # an overlay quieter than noise+echo under it is rejected
    related_by_third_party_prob: float = Field(0.5, ge=0, le=1)
    echo: EchoConfig = EchoConfig()
    room: RoomConfig = RoomConfig()
    noise: NoiseConfig = NoiseConfig()
    max_dialogue_s: float = Field(180.0, gt=0)


class LabelsConfig(Strict):
    """The 80 ms-block label track. `tokenizer`: "builtin" (offline word
    tokenizer) or a local path to a Hugging Face tokenizer (e.g. Llama-3)."""

    tokenizer: str = "builtin"


class QCConfig(Strict):
    enabled: bool = True
    max_question_s: float = 30.0
    max_answer_s: float = 60.0
    max_dialogue_s: float = 180.0
    min_rms_db: float = -45.0  # quieter than this = silent
    max_clip_ratio: float = 0.01  # share of samples at full scale
    trim: Literal["energy", "silero", "none"] = "energy"
    asr: Literal["none", "faster_whisper"] = "none"
    max_wer: float = 0.5
    asr_roles: list[str] = ["assistant"]
    # DNSMOS (datagen/qc/dnsmos.py): reject an utterance rated below this overall (OVRL, 1-5) and
    # keep its scores in the supervision's custom "dnsmos". None: not scored (1-5 s of CPU per
    # utterance), and the corpus is what it was before this key existed.
    dnsmos_min_ovrl: float | None = Field(None, ge=1.0, le=5.0)
    dnsmos_roles: list[Literal["user", "assistant", "third_party"]] = ["user", "assistant", "third_party"]


class SizingConfig(Strict):
    """Per-unit throughput figures that size the Ray actor pools on a GPU cluster
    (datagen/executors/sizing.py) and that `--dry-run --cluster` turns into
    dialogues per hour. Defaults are conservative published-order figures for one
    H100; measure yours with bench/gpu_smoke.sh and set them here."""

    llm_tokens_per_s: float = Field(5000.0, gt=0)  # output tokens/s of one LLM replica, large batches
    llm_tokens_per_request: float = Field(250.0, gt=0)  # mean output tokens per LLM request
    tts_rtf: float = Field(0.5, gt=0)  # one GPU TTS actor's real-time factor, at the packing used
    cpu_tts_rtf: float = Field(0.03, gt=0)  # the same for a CPU voice (Piper, espeak-ng) on one core
    cpu_rtf: float = Field(0.01, gt=0)  # CPU seconds per second of dialogue: compose + signal QC
    asr_rtf: float = Field(0.08, ge=0)  # CPU seconds per second of speech for the ASR round trip


class ExecutorConfig(Strict):
    kind: Literal["ray", "local"] = "ray"
    workers: int | None = Field(None, ge=1)  # default: the machine's CPUs
    shard_size: int = Field(8, ge=1)  # dialogues per shard (the unit of resume)
    address: str | None = None  # join an existing Ray cluster (or RAY_ADDRESS)
    # Ray: tries per shard when its worker or node is lost, or it hits an OS error (a full
    # disk, the store unreachable); after the last it is recorded as failed and the run goes on
    max_tries: int = Field(3, ge=1)
    # Ray (plain actors): how long a run waits when no node has room for any of its workers
    # (every worker node lost, a replacement not up yet) before it records the shards left
    # as failed and ends; the same command again resumes
    node_wait_s: float = Field(1800.0, gt=0)
    sizing: SizingConfig = SizingConfig()  # how GPU pools are sized (no effect on the corpus)


class Recipe(Strict):
    name: str
    description: str = ""
    seed: int = 0
    dialogues: int = Field(60, ge=1)  # how many dialogues to plan
    split: Literal["train", "eval"] = "train"  # which half of the phrase banks
    mix: dict[str, float] = Field(default_factory=lambda: {t: 1.0 for t in TASKS})
    multi_turn_rounds: tuple[int, int] = (2, 5)
    questions: QuestionsConfig = QuestionsConfig()
    llm: LLMConfig = LLMConfig()
    tts: TTSConfig = TTSConfig()
    timeline: TimelineConfig = TimelineConfig()
    labels: LabelsConfig = LabelsConfig()
    qc: QCConfig = QCConfig()
    executor: ExecutorConfig = ExecutorConfig()
    out: str | None = None  # output folder under the output root; default: the recipe name

    @field_validator("mix")
    @classmethod
    def _mix(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = set(v) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown task(s) {sorted(unknown)}; tasks are {list(TASKS)}")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("mix weights must be >= 0 and not all zero")
        return v

    @model_validator(mode="after")
    def _backends(self) -> Recipe:
        from datagen.backends.registry import llm_class, tts_class

        _check_backend(llm_class, self.llm.backend, self.llm.options, "llm")
        for role, voice in self.tts.voices.items():
            _check_backend(tts_class, voice.backend, voice.options, f"tts.voices.{role}")
        return self


def _check_backend(lookup: Any, name: str, options: dict[str, Any], path: str) -> None:
    try:
        cls = lookup(name)
    except KeyError as e:
        raise ValueError(f"{path}.backend: {e.args[0]}") from None
    try:
        cls.Options(**options)
    except ValidationError as e:
        raise ValueError(f"{path}.options: {format_errors(e)}") from None


def recipe_from_dict(data: dict[str, Any], origin: str = "recipe") -> Recipe:
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError(f"{origin}: {format_errors(e)}") from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a recipe file, resolve `extends:`, apply overrides, validate."""
    data = read_yaml(Path(path))
    for o in overrides or []:
        data = apply_override(data, o)
    return recipe_from_dict(data, origin=str(path))
