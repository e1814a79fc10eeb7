"""`datagen validate` catches broken corpora; the CLI reports clearly."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from e2e_support import ROOT
from typer.testing import CliRunner

from datagen.cli import app
from datagen.io.validate import validate
from datagen.text.tokenizer import SHIFT_ID, THINK_ID

runner = CliRunner()


@pytest.fixture
def corpus(local_corpus, tmp_path):
    out = tmp_path / "c"
    shutil.copytree(local_corpus, out)
    return out


def test_validate_ok_and_inspect(local_corpus):
    res = runner.invoke(app, ["validate", str(local_corpus)])
    assert res.exit_code == 0 and "pass every check" in res.output
    res = runner.invoke(app, ["inspect", str(local_corpus)])
    assert res.exit_code == 0
    stats = json.loads((local_corpus / "stats.json").read_text())
    assert f"kept {stats['kept']} + rejected {stats['rejected']} = {stats['planned']}" in res.output
    assert "barge_in" in res.output and "backchannel" in res.output


def test_truncated_shard_fails(corpus):
    tar = sorted((corpus / "shar").glob("recording.*.tar"))[0]
    tar.write_bytes(tar.read_bytes()[: tar.stat().st_size // 2])
    res = runner.invoke(app, ["validate", str(corpus)])
    assert res.exit_code == 1
    assert "FAIL" in res.output and ("does not load" in res.output)


def test_missing_audio_file_fails(corpus):
    sorted((corpus / "shar").glob("recording.*.tar"))[-1].unlink()
    rep = validate(corpus)
    assert not rep.ok and "does not load" in rep.problems[0]


def test_labels_that_disagree_with_audio_fail(corpus, tmp_path):
    from lhotse import CutSet
    from lhotse.shar import SharWriter

    from datagen.io.shar import SHAR_FIELDS

    shar = corpus / "shar"
    cuts = list(
        CutSet.from_shar(
            fields={
                "cuts": [str(shar / "cuts.000000.jsonl.gz")],
                "recording": [str(shar / "recording.000000.tar")],
                "labels": [str(shar / "labels.000000.tar")],
                "full_answers": [str(shar / "full_answers.000000.tar")],
            }
        )
    )
    bad_id = cuts[0].id
    staged = tmp_path / "rewrite"
    staged.mkdir()
    with SharWriter(str(staged), fields=SHAR_FIELDS, shard_size=None) as w:
        for i, cut in enumerate(cuts):
            labels = cut.load_labels().copy()
            if i == 0:  # move the first speak-<shift> five blocks (0.4 s) earlier
                b = int(np.flatnonzero(labels == SHIFT_ID)[0])
                labels[b], labels[b - 5] = THINK_ID, SHIFT_ID
            fresh = cut.drop_custom("labels").move_to_memory(audio_format="flac")
            w.write(fresh.attach_tensor("labels", labels, frame_shift=0.08, temporal_dim=0))
    for name in ("cuts.jsonl.gz", "recording.tar", "labels.tar", "full_answers.tar"):
        field, ext = name.split(".", 1)
        (staged / name).replace(shar / f"{field}.000000.{ext}")
    rep = validate(corpus)
    assert not rep.ok
    assert any(bad_id in p and "voice starts" in p for p in rep.problems), rep.problems[:3]


def test_accounting_mismatch_fails(corpus):
    stats = json.loads((corpus / "stats.json").read_text())
    stats["planned"] += 1
    (corpus / "stats.json").write_text(json.dumps(stats))
    rep = validate(corpus)
    assert any("accounting does not add up" in p for p in rep.problems)


def test_run_reports_recipe_errors_with_the_key_path(tmp_path):
    res = runner.invoke(
        app,
        [
            "run",
            str(ROOT / "recipes" / "tiny.yaml"),
            "--set",
            "timeline.gapp=1",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert res.exit_code == 2 and "timeline.gapp" in res.output
    res = runner.invoke(app, ["run", str(ROOT / "recipes" / "tiny.yaml"), "--set", "llm.backend=gpt9"])
    assert res.exit_code == 2 and "unknown llm backend 'gpt9'" in res.output


def test_dry_run_prints_the_plan():
    res = runner.invoke(app, ["run", str(ROOT / "recipes" / "salmonn_omni.yaml"), "--dry-run"])
    assert res.exit_code == 0, res.output
    for needle in ("stages:", "text", "llm=vllm", "cosyvoice2", "gpus=", "LLM", "hours expected"):
        assert needle in res.output


def test_help_everywhere():
    for cmd in ([], ["run"], ["inspect"], ["validate"], ["report"], ["show"]):
        res = runner.invoke(app, [*cmd, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output


def test_show_prints_labels(local_corpus):
    cid = json.loads((local_corpus / "index.jsonl").read_text().splitlines()[0])["id"]
    res = runner.invoke(app, ["show", str(local_corpus), cid])
    assert res.exit_code == 0 and "<shift>" in res.output and "ch1" in res.output


def _run_tiny(out, *sets: str):
    args = [
        "run",
        str(ROOT / "recipes" / "tiny.yaml"),
        "--executor",
        "local",
        "--out",
        str(out),
        "--set",
        "dialogues=2",
        "--set",
        "qc.asr=none",
    ]
    for s in sets:
        args += ["--set", s]
    return runner.invoke(app, args)


def test_a_missing_backend_fails_before_any_work(tmp_path):
    res = _run_tiny(tmp_path / "o", "tts.voices.user.options={binary: /nonexistent/espeak-ng}")
    assert res.exit_code == 2
    assert "espeak: '/nonexistent/espeak-ng' not found" in res.output and "apt-get install" in res.output
    assert not (tmp_path / "o" / "_work" / "shards").exists()


def test_a_worker_failure_is_reported_with_resume_advice(tmp_path, monkeypatch):
    from datagen.stages.compose import ComposeStage

    def boom(self, batch):
        raise MemoryError("out of memory in a worker")

    monkeypatch.setattr(ComposeStage, "process", boom)
    res = _run_tiny(tmp_path / "o")
    assert res.exit_code == 2
    assert "MemoryError: out of memory in a worker" in res.output
    assert "rerun the same command to resume" in res.output
