"""`hf` export, read back the way a user would: `load_dataset(folder)` through the card's
configs, `load_dataset("parquet", ...)` through the schema's features, soundfile on the bytes."""

from __future__ import annotations

import io
import json
import math
from dataclasses import asdict

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import yaml

from datagen.export import ExportError, export
from datagen.export.hf import Exporter
from datagen.io.shar import load_cuts

datasets = pytest.importorskip("datasets")

COLUMNS = [
    "id",
    "task",
    "duration",
    "environment",
    "assistant",
    "supervisions",
    "events",
    "labels",
    "label_meta",
    "topic",
    "question_ids",
    "questions",
    "meta",
]
LSB = 1 / 32768  # one 16-bit step


@pytest.fixture(scope="module")
def shar(local_corpus):
    """The source cuts as Lhotse reads them from Shar, independent of the exporter's reader."""
    return {c.id: c for c in load_cuts(local_corpus)}


@pytest.fixture(scope="module")
def hf_out(local_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("hf") / "hf"
    summary = export(local_corpus, "hf", out, quiet=True, shard_cuts=5)
    return out, summary


def _no_decode(ds):
    """Audio columns as {"bytes", "path"}: decoding needs torchcodec, which may be absent."""
    for col in ("environment", "assistant"):
        ds = ds.cast_column(col, datasets.Audio(decode=False))
    return ds


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n", 2)[1])


def _pcm(audio: dict) -> np.ndarray:
    x, sr = sf.read(io.BytesIO(audio["bytes"]), dtype="float32")
    assert sr == 16000 and x.ndim == 1
    return x


def _sup_dict(s) -> dict:
    """A source supervision as the `supervisions` struct should hold it."""
    return {**asdict(s), "words": [{"word": w, "start": a, "end": b} for w, a, b in s.words]}


def test_summary_and_shards(hf_out, source):
    out, summary = hf_out
    assert summary["rows"] == summary["cuts"] == len(source) == 12
    assert summary["split"] == "train"  # the tiny recipe is a train recipe
    assert summary["shards"] == 3  # 5 + 5 + 2: shards close at shard_cuts, the corpus is not held
    names = sorted(p.name for p in (out / "data").iterdir())
    assert names == [f"train-{i:05d}-of-00003.parquet" for i in range(3)]
    rows = [pq.ParquetFile(out / "data" / n).metadata.num_rows for n in names]
    assert rows == [5, 5, 2]
    assert summary["hours"] == pytest.approx(sum(c.duration for c in source.values()) / 3600, abs=1e-3)


def test_parquet_schema_carries_hf_features(hf_out):
    out, _ = hf_out
    for path in (out / "data").glob("*.parquet"):
        schema = pq.read_schema(path)
        assert schema.names == COLUMNS
        meta = json.loads(schema.metadata[b"huggingface"])
        features = datasets.Features.from_dict(meta["info"]["features"])
        for col in ("environment", "assistant"):
            assert isinstance(features[col], datasets.Audio) and features[col].sampling_rate == 16000


def test_load_dataset_folder_reads_the_card(hf_out, source, tmp_path):
    out, _ = hf_out
    dd = datasets.load_dataset(str(out), cache_dir=str(tmp_path))
    assert list(dd) == ["train"]
    ds = dd["train"]
    assert ds.num_rows == len(source)
    assert ds.column_names == COLUMNS
    assert isinstance(ds.features["assistant"], datasets.Audio)
    assert isinstance(ds.features["environment"], datasets.Audio)
    assert sorted(_no_decode(ds)["id"]) == sorted(source)


def test_rows_match_the_source(hf_out, source, shar, tmp_path):
    out, _ = hf_out
    ds = datasets.load_dataset(
        "parquet", data_files=str(out / "data" / "*.parquet"), split="train", cache_dir=str(tmp_path)
    )
    assert isinstance(ds.features["assistant"], datasets.Audio)
    assert ds.num_rows == len(shar)
    words = spoken = 0
    for row in _no_decode(ds):
        cut, src = shar[row["id"]], source[row["id"]]
        audio = cut.load_audio()
        for col, ch in (("environment", 0), ("assistant", 1)):
            x = _pcm(row[col])
            assert len(x) == audio.shape[1]
            assert np.max(np.abs(x - audio[ch])) <= LSB, col
        assert row["labels"] == np.asarray(cut.load_labels()).tolist()
        assert json.loads(row["label_meta"]) == cut.custom["label_meta"]
        assert row["task"] == cut.custom["task"] and row["duration"] == pytest.approx(cut.duration)
        assert row["topic"] == cut.custom.get("topic", "")
        assert row["question_ids"] == list(cut.custom["question_ids"])
        assert row["supervisions"] == [_sup_dict(s) for s in src.sups]
        assert len(row["supervisions"]) == len(cut.supervisions)
        words += sum(len(s["words"]) for s in row["supervisions"])
        spoken += sum(bool(s["spoken_text"]) for s in row["supervisions"])
        events = [{**e, "detail": json.loads(e["detail"])} for e in row["events"]]
        assert events == cut.custom["events"]
        assert json.loads(row["meta"])["seed"] == cut.custom["seed"]
    assert words > 0 and spoken > 0  # word alignments and cut-short turns are in this corpus


def test_audio_decodes_through_datasets(hf_out, shar, tmp_path):
    pytest.importorskip("torchcodec")
    out, _ = hf_out
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path))
    row = ds[0]
    samples = row["assistant"].get_all_samples()
    assert samples.sample_rate == 16000
    ref = shar[row["id"]].load_audio()[1]
    assert np.max(np.abs(samples.data.numpy()[0] - ref)) <= LSB


def test_card_front_matter_and_body(hf_out, source):
    out, _ = hf_out
    card = (out / "README.md").read_text()
    meta = _front_matter(card)
    for key in ("license", "task_categories", "configs", "dataset_info"):
        assert key in meta, key
    assert meta["task_categories"] and meta["license"] == "other"
    (config,) = meta["configs"]
    (files,) = config["data_files"]
    assert files["split"] == "train"
    assert sorted(out.glob(files["path"])) == sorted((out / "data").glob("*.parquet"))
    info = meta["dataset_info"]
    assert [f["name"] for f in info["features"]] == COLUMNS
    audio = next(f for f in info["features"] if f["name"] == "assistant")
    assert audio["dtype"] == {"audio": {"sampling_rate": 16000}}
    assert info["splits"] == [{"name": "train", "num_bytes": info["dataset_size"], "num_examples": 12}]
    licences = " ".join(meta["input_licenses"])
    assert "Apache-2.0" in licences and "Piper" in licences and "espeak-ng" in licences
    for task in {c.task for c in source.values()}:
        n = sum(c.task == task for c in source.values())
        assert f"| {task} | {n} |" in card
    assert "`<shift>`" in card and 'load_dataset("path/to/this/folder", split="train")' in card


def test_split_row_groups_and_wav(local_corpus, tmp_path):
    out = tmp_path / "hf"
    summary = export(
        local_corpus, "hf", out, quiet=True, split="validation", row_group_cuts=5, audio_format="wav"
    )
    assert summary["split"] == "validation" and summary["shards"] == 1
    (path,) = (out / "data").iterdir()
    assert path.name == "validation-00000-of-00001.parquet"
    assert pq.ParquetFile(path).metadata.num_row_groups == math.ceil(12 / 5)  # flushed every 5 rows
    ds = _no_decode(datasets.load_dataset(str(out), split="validation", cache_dir=str(tmp_path / "c")))
    assert ds.num_rows == 12 and ds[0]["assistant"]["bytes"][:4] == b"RIFF"
    meta = _front_matter((out / "README.md").read_text())
    assert meta["configs"][0]["data_files"][0]["split"] == "validation"


@pytest.mark.parametrize(
    "recipe, split", [({"split": "eval"}, "test"), ({"split": "train"}, "train"), (None, "train")]
)
def test_default_split_follows_the_recipe(tmp_path, recipe, split):
    if recipe is not None:
        (tmp_path / "_work").mkdir()
        (tmp_path / "_work" / "recipe.json").write_text(json.dumps(recipe))
    (tmp_path / "shar").mkdir()
    assert Exporter(tmp_path).split == split
    assert Exporter(tmp_path / "shar").split == split  # the Shar folder itself names the same corpus
    assert Exporter(tmp_path, split="dev").split == "dev"


@pytest.mark.parametrize(
    "options", [{"audio_format": "mp3"}, {"split": "my split"}, {"shard_cuts": 0}, {"row_group_cuts": 0}]
)
def test_bad_options_are_refused(tmp_path, options):
    with pytest.raises(ExportError):
        Exporter(tmp_path, **options)
