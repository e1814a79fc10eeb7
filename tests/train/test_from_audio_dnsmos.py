"""`datagen errors --from-audio --dnsmos N`: DNSMOS of a model's speech in its error log,
and `datagen score` printing it (speechmos's real models)."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from datagen.cli import app
from datagen.train.judging.errlog import read_log
from datagen.train.judging.score import format_result, score_log
from datagen.train.streaming.from_audio import dnsmos_sample, errors_from_audio
from datagen.train.training.data import open_corpora


def test_a_log_from_audio_carries_dnsmos_and_score_prints_it(local_corpus, tmp_path):
    outputs = tmp_path / "model"
    outputs.mkdir()
    for c in open_corpora([local_corpus]):  # the corpus's own assistant channel as the model's output
        sf.write(outputs / f"{c.id}.wav", c.load_audio()[1].astype(np.float32), c.sampling_rate)
    log = tmp_path / "errors.jsonl"
    summary = errors_from_audio(outputs, [str(local_corpus)], log, dnsmos=1)
    assert summary["dnsmos_dialogues"] == 1 and summary["rejected"] == 0

    (rated,) = [x for x in map(json.loads, log.read_text().splitlines()) if "speech_quality" in x]
    assert {rated["cut_id"]} == dnsmos_sample([str(local_corpus)], 1)  # the fixed sample
    q = rated["speech_quality"]
    assert q["segments"] >= 1 and q["seconds"] >= 1.0
    assert set(q["dnsmos"]) == {"sig", "bak", "ovrl", "p808"} and 1.0 <= q["dnsmos"]["ovrl"] <= 5.0
    assert read_log(log).rejected == []  # still schema-valid

    res = score_log(log, baselines=False)
    assert res["model"]["speech_quality"]["dnsmos"] == q["dnsmos"]  # one dialogue: its own mean
    text = format_result(res)
    assert f"| DNSMOS OVRL of the model's speech | {q['dnsmos']['ovrl']:.3f} |" in text
    assert "DNSMOS of the model's speech:" in text
    cli = CliRunner().invoke(app, ["score", str(log), "--no-baselines"])
    assert cli.exit_code == 0 and "DNSMOS P.808 of the model's speech" in cli.output


def test_without_dnsmos_the_log_and_table_are_as_before(tmp_path):
    line = {"speech_quality": {"dnsmos": None, "segments": 0, "seconds": 0.0}}
    from datagen.train.judging.score import speech_quality, table

    assert speech_quality([{}]) is None
    q = speech_quality([line])
    assert q == {"dnsmos": None, "dialogues": 1, "dialogues_without_speech": 1, "seconds": 0.0}
    assert "DNSMOS" not in table({"model": {"speech_quality": q} | _empty_metrics()})


def _empty_metrics() -> dict:
    from datagen.train.common.config import ScoreConfig
    from datagen.train.judging.score import metrics

    return metrics([], [], ScoreConfig())
