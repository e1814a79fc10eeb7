"""`hf`: a Hugging Face dataset folder (Parquet shards with Audio columns and a dataset card).

Layout of OUT (docs/exports.md):

    README.md                                   dataset card: YAML front matter + statistics
    data/<split>-00000-of-00003.parquet         one row per dialogue, `shard_cuts` rows per file

`load_dataset("OUT")` reads the card's `configs` and gives Audio columns;
`load_dataset("parquet", data_files="OUT/data/*.parquet")` does too, because
each file carries the `datasets` features in its schema metadata (the
"huggingface" key, exactly what `datasets` itself writes).

Why it is built this way:

* **Streaming.** Rows are buffered `row_group_cuts` at a time and flushed as
  one Parquet row group to the open shard's `ParquetWriter`; a shard is closed
  after `shard_cuts` rows. Memory is one row group, whatever the corpus size.
* **Shard names.** The hub's `<split>-NNNNN-of-MMMMM` form needs the total,
  known only at the end, so shards are written as `<split>-NNNNN.parquet` and
  renamed in `end()` (inside the export's temporary folder, so a killed
  export never leaves half-named shards).
* **Audio bytes.** Each channel is its own Audio column, encoded as 16-bit
  FLAC (or WAV) at the corpus rate. Samples are rounded to int16 ourselves
  (x * 32768) so a corpus stored as 16-bit FLAC, as ours is, round-trips
  bit-exactly (libsndfile's own float->int16 scale is 32767).
* **Heterogeneous dicts as JSON.** Event `detail`, `label_meta` and the rest
  of the cut's custom fields differ in keys from one cut or event to the next;
  Parquet structs would need the union of all keys, so they are JSON strings.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from datagen.export.common import ExportCut, ExportError
from datagen.export.hf_card import CardStats, dataset_card

# Custom fields that become their own columns (the rest go to `meta`).
_COLUMN_KEYS = {"task", "topic", "question_ids", "questions", "events", "label_meta"}
_AUDIO_FORMATS = {"flac": ("FLAC", "flac"), "wav": ("WAV", "wav")}


def _datasets():
    """`datasets` is the optional `hf` extra: a clear error instead of an ImportError traceback."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover - the dev environment has it
        raise ExportError(
            "the hf export needs Hugging Face `datasets`: pip install 'duplex-datagen[hf]'"
        ) from e
    return datasets


def hf_features(sample_rate: int):
    """The dataset's `datasets.Features`: the one schema of every shard and of the card."""
    ds = _datasets()
    Value, List, Audio = ds.Value, ds.List, ds.Audio
    word = {"word": Value("string"), "start": Value("float64"), "end": Value("float64")}
    sup = {
        "start": Value("float64"),
        "end": Value("float64"),
        "channel": Value("int32"),
        "role": Value("string"),
        "speaker": Value("string"),
        "kind": Value("string"),
        "text": Value("string"),
        "spoken_text": Value("string"),
        "expect": Value("string"),
        "turn": Value("int32"),
        "words": List(word),
    }
    event = {
        "kind": Value("string"),
        "time": Value("float64"),
        "role": Value("string"),
        "expect": Value("string"),
        "detail": Value("string"),  # JSON: its keys depend on the event kind
    }
    return ds.Features(
        {
            "id": Value("string"),
            "task": Value("string"),
            "duration": Value("float64"),
            "environment": Audio(sampling_rate=sample_rate),
            "assistant": Audio(sampling_rate=sample_rate),
            "supervisions": List(sup),
            "events": List(event),
            "labels": List(Value("int32")),
            "label_meta": Value("string"),
            "topic": Value("string"),
            "question_ids": List(Value("string")),
            "questions": List(Value("string")),
            "meta": Value("string"),
        }
    )


# ---------------------------------------------------------------- the corpus's recipe


def corpus_root(src: Path) -> Path:
    """The run folder (holding _work/ and stats.json), also when `src` is its shar/ folder."""
    src = Path(src)
    if src.name == "shar" and not (src / "_work").exists() and (src.parent / "_work").exists():
        return src.parent
    return src


def read_recipe(src: Path) -> dict | None:
    """The recipe the corpus was made with (`_work/recipe.json`), or None for a bare Shar folder."""
    path = corpus_root(src) / "_work" / "recipe.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def default_split(recipe: dict | None) -> str:
    """An eval recipe (held-out phrases, voices, questions) is a `test` split; anything else `train`."""
    return "test" if recipe and recipe.get("split") == "eval" else "train"


# ---------------------------------------------------------------- one row


def encode_audio(x: np.ndarray, sr: int, fmt: str) -> bytes:
    """16-bit FLAC/WAV bytes; rounded to int16 here so 16-bit sources round-trip exactly."""
    pcm = np.clip(np.round(np.asarray(x, dtype=np.float64) * 32768.0), -32768, 32767).astype(np.int16)
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, pcm, sr, format=_AUDIO_FORMATS[fmt][0], subtype="PCM_16")
    return buf.getvalue()


def _json(x: Any) -> str:
    return json.dumps(x, sort_keys=True, ensure_ascii=False, default=str)


def _sup_row(s) -> dict:
    return {
        "start": s.start,
        "end": s.end,
        "channel": s.channel,
        "role": s.role,
        "speaker": s.speaker,
        "kind": s.kind,
        "text": s.text,
        "spoken_text": s.spoken_text,
        "expect": s.expect,
        "turn": s.turn,
        "words": [{"word": w, "start": a, "end": b} for w, a, b in s.words],
    }


def _event_row(e: dict) -> dict:
    return {
        "kind": str(e.get("kind", "")),
        "time": float(e.get("time", 0.0)),
        "role": str(e.get("role", "")),
        "expect": str(e.get("expect", "")),
        "detail": _json(e.get("detail", {})),
    }


def cut_row(cut: ExportCut, fmt: str) -> dict:
    """One dialogue as one Parquet row, in the column order of `hf_features`."""
    ext = _AUDIO_FORMATS[fmt][1]
    c = cut.custom
    return {
        "id": cut.id,
        "task": cut.task,
        "duration": cut.duration,
        "environment": {"bytes": encode_audio(cut.env, cut.sample_rate, fmt), "path": f"{cut.id}.env.{ext}"},
        "assistant": {
            "bytes": encode_audio(cut.assistant, cut.sample_rate, fmt),
            "path": f"{cut.id}.asst.{ext}",
        },
        "supervisions": [_sup_row(s) for s in cut.sups],
        "events": [_event_row(e) for e in cut.events],
        "labels": None if cut.labels is None else np.asarray(cut.labels, dtype=np.int32).tolist(),
        "label_meta": _json(c.get("label_meta", {})),
        "topic": str(c.get("topic", "") or ""),
        "question_ids": [str(q) for q in c.get("question_ids", [])],
        "questions": [str(q) for q in c.get("questions", [])],
        "meta": _json({k: v for k, v in c.items() if k not in _COLUMN_KEYS}),
    }


# ---------------------------------------------------------------- shards


class ShardWriter:
    """Parquet shards of at most `shard_cuts` rows, flushed `row_group_cuts` rows at a time."""

    def __init__(self, folder: Path, split: str, schema, shard_cuts: int, row_group_cuts: int):
        self.folder, self.split, self.schema = folder, split, schema
        self.shard_cuts, self.row_group_cuts = shard_cuts, row_group_cuts
        self.paths: list[Path] = []
        self.rows = 0
        self._writer = None
        self._in_shard = 0
        self._buffer: list[dict] = []

    def write(self, row: dict) -> None:
        if self._writer is None:
            self._open()
        self._buffer.append(row)
        self._in_shard += 1
        self.rows += 1
        if len(self._buffer) >= self.row_group_cuts:
            self._flush()
        if self._in_shard >= self.shard_cuts:
            self._close()

    def _open(self) -> None:
        import pyarrow.parquet as pq

        path = self.folder / f"{self.split}-{len(self.paths):05d}.parquet"
        self.paths.append(path)
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self._in_shard = 0

    def _flush(self) -> None:
        import pyarrow as pa

        if self._buffer:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
            self._buffer = []

    def _close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._writer = None

    def finish(self) -> list[Path]:
        """Close the last shard (an empty corpus still gets one, so the dataset loads) and
        rename all to the hub's `<split>-NNNNN-of-MMMMM.parquet`."""
        if not self.paths:
            self._open()
        self._close()
        n = len(self.paths)
        final = [p.with_name(f"{self.split}-{i:05d}-of-{n:05d}.parquet") for i, p in enumerate(self.paths)]
        for old, new in zip(self.paths, final, strict=True):
            old.rename(new)
        return final


# ---------------------------------------------------------------- the exporter


class Exporter:
    """Corpus -> Hugging Face Parquet dataset with a dataset card."""

    def __init__(
        self,
        src: Path,
        shard_cuts: int = 200,
        split: str | None = None,
        row_group_cuts: int = 16,
        audio_format: str = "flac",
    ):
        shard_cuts, row_group_cuts = int(shard_cuts), int(row_group_cuts)  # may come from the CLI as text
        if shard_cuts < 1 or row_group_cuts < 1:
            raise ExportError("shard_cuts and row_group_cuts must be >= 1")
        if audio_format not in _AUDIO_FORMATS:
            raise ExportError(f"audio_format must be one of {sorted(_AUDIO_FORMATS)}, not {audio_format!r}")
        if split is not None and not re.fullmatch(r"\w+(\.\w+)*", split):
            raise ExportError(f"split {split!r} is not a valid Hugging Face split name (letters, digits, _)")
        _datasets()
        self.src = Path(src)
        self.recipe = read_recipe(self.src)
        self.split = split or default_split(self.recipe)
        self.shard_cuts, self.row_group_cuts, self.audio_format = shard_cuts, row_group_cuts, audio_format
        self.stats = CardStats()
        self.out: Path | None = None
        self.shards: ShardWriter | None = None

    def begin(self, tmp: Path) -> None:
        self.out = tmp
        (tmp / "data").mkdir(parents=True, exist_ok=True)

    def _writer_for(self, sample_rate: int) -> ShardWriter:
        """The shard writer, made at the first cut: the Audio features need the corpus's rate."""
        if self.shards is None:
            self.stats.sample_rate = sample_rate
            schema = hf_features(sample_rate).arrow_schema
            self.shards = ShardWriter(
                self.out / "data", self.split, schema, self.shard_cuts, self.row_group_cuts
            )
        elif sample_rate != self.stats.sample_rate:
            raise ExportError(
                f"sample rate {sample_rate} differs from the corpus's {self.stats.sample_rate}: "
                "an Audio column has one rate"
            )
        return self.shards

    def add(self, cut: ExportCut) -> None:
        self._writer_for(cut.sample_rate).write(cut_row(cut, self.audio_format))
        self.stats.add(cut)

    def end(self) -> dict:
        if self.shards is None:  # no cuts: one empty shard at the recipe's rate
            self._writer_for(int(((self.recipe or {}).get("tts") or {}).get("sample_rate", 16000)))
        paths = self.shards.finish()
        features = hf_features(self.stats.sample_rate)
        card = dataset_card(self.split, features, self.stats, self.recipe, paths)
        (self.out / "README.md").write_text(card, encoding="utf-8")
        return {
            "split": self.split,
            "shards": len(paths),
            "rows": self.shards.rows,
            "hours": self.stats.hours,
        }


# ---------------------------------------------------------------- the dataset card
