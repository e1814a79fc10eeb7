"""Corpus summary and HTML report on a hand-made 3-dialogue Shar corpus of the pipeline's shape."""

import base64
import io
import json
import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from datagen.report.collect import collect, format_summary
from datagen.report.html import build_report
from datagen.report.plots import pick_timelines, timeline_pngs

SR = 16000
META = {
    "block_s": 0.08,
    "synth_delay_s": 0.32,
    "tokenizer": "test",
    "think_id": 0,
    "shift_id": 1,
    "text_offset": 2,
}

# (id, task, duration, supervisions (start, end, channel, role, kind, expect, text), events, label spans)
# label spans: (first block, last block exclusive, id) painted over <think>.
DIALOGUES = [
    (
        "dlg-qa",
        "qa",
        6.0,
        [
            (0.5, 2.0, 0, "user", "turn", "", "What is <b>up</b>?"),
            (2.6, 5.0, 1, "assistant", "turn", "finish", "Fine."),
        ],
        [("turn_shift", 2.28, "assistant", ""), ("finish", 5.0, "assistant", "finish")],
        [(28, 29, 1), (29, 41, 7), (62, 63, 1)],
    ),
    (
        "dlg-bc",
        "backchannel",
        8.0,
        [
            (0.3, 1.5, 0, "user", "turn", "", "Tell me about owls."),
            (2.0, 7.0, 1, "assistant", "turn", "finish", "Owls hunt at night and see well in the dark."),
            (4.0, 4.4, 0, "user", "backchannel", "continue", "uh-huh"),
        ],
        [
            ("turn_shift", 1.68, "assistant", ""),
            ("backchannel", 4.0, "user", "continue"),
            ("finish", 7.0, "assistant", "finish"),
        ],
        [(21, 22, 1), (22, 60, 9), (87, 88, 1)],
    ),
    (
        "dlg-barge",
        "barge_in_user",
        7.0,
        [
            (0.2, 1.2, 0, "user", "turn", "", "Explain tides."),
            (1.8, 4.15, 1, "assistant", "turn", "stop", "Tides come from the pull of the moon on the sea."),
            (4.0, 5.0, 0, "user", "barge_in", "stop", "Stop talking now."),
        ],
        [
            ("turn_shift", 1.48, "assistant", ""),
            ("barge_in", 4.0, "user", "stop"),
            ("stop", 4.13, "assistant", "stop"),
        ],
        [(18, 19, 1), (19, 45, 5), (51, 52, 1)],
    ),
]


def _cut(tmp, spec):
    from lhotse import Recording, SupervisionSegment

    cut_id, task, duration, sups, events, spans = spec
    n = int(duration * SR)
    audio = np.zeros((n, 2), dtype=np.float32)
    t = np.arange(n) / SR
    for start, end, channel, *_ in sups:
        on = (t >= start) & (t < end)
        audio[on, channel] += 0.3 * np.sin(2 * np.pi * (220 + 110 * channel) * t[on])
    path = tmp / f"{cut_id}.flac"
    sf.write(path, audio, SR)
    cut = Recording.from_file(path, recording_id=cut_id).to_cut()
    cut.supervisions = [
        SupervisionSegment(
            id=f"{cut_id}-s{i}",
            recording_id=cut_id,
            start=start,
            duration=round(end - start, 6),
            channel=channel,
            speaker=f"{role}-1",
            text=text,
            custom={"role": role, "kind": kind, "expect": expect, "spoken_text": "", "turn": i},
        )
        for i, (start, end, channel, role, kind, expect, text) in enumerate(sups)
    ]
    labels = np.zeros(int(round(duration / 0.08)), dtype=np.int32)
    for first, last, value in spans:
        labels[first:last] = value
    cut.custom = {
        "task": task,
        "events": [{"kind": k, "time": tt, "role": r, "expect": e, "detail": {}} for k, tt, r, e in events],
        "label_meta": META,
        "seed": 1,
        "question_ids": [f"q-{cut_id}"],
    }
    return cut.attach_tensor("labels", labels, frame_shift=0.08, temporal_dim=0)


def _write_shar(out, shard_size):
    from lhotse.shar import SharWriter

    (out / "shar").mkdir()
    fields = {"recording": "flac", "labels": "numpy"}
    with SharWriter(str(out / "shar"), fields=fields, shard_size=shard_size) as writer:
        for spec in DIALOGUES:
            writer.write(_cut(out, spec))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    _write_shar(out, shard_size=2)
    (out / "stats.json").write_text(
        json.dumps({"planned": 4, "kept": 3, "dropped_tts": 1, "tts_seconds": 12.5})
    )
    (out / "rejects.jsonl").write_text(
        json.dumps({"id": "q-9", "stage": "tts", "reason": "bad <json>", "detail": "x"}) + "\n\n"
    )
    return out


def test_collect_totals(corpus):
    s = collect(corpus)
    assert s.dialogues == 3
    assert s.hours == pytest.approx(21.0 / 3600)
    assert s.task_counts == {"qa": 1, "backchannel": 1, "barge_in_user": 1}
    assert s.task_hours["backchannel"] == pytest.approx(8.0 / 3600)
    assert s.event_counts == {"turn_shift": 3, "finish": 2, "backchannel": 1, "barge_in": 1, "stop": 1}
    assert s.rejects == {"bad <json>": 1} and s.rejects_by_stage == {"tts": 1} and s.n_rejects == 1
    assert s.stats["tts_seconds"] == 12.5
    assert s.n_shift == 6
    rows = {r.id: r for r in s.rows}
    assert rows["dlg-bc"].n_text_blocks == 38 and rows["dlg-bc"].n_blocks == 100
    assert rows["dlg-bc"].n_turns == 2 and rows["dlg-bc"].n_rounds == 1
    assert rows["dlg-barge"].channel_intervals["environment"] == [(0.2, 1.2), (4.0, 5.0)]
    assert {r.shard for r in s.rows} == {"000000", "000001"}


def test_collect_turn_stats_match_hand_count(corpus):
    cs = collect(corpus).channel_stats
    # env/assistant IPUs: 2 + 3 + 3; gaps 0.6, 0.5, 0.6; overlaps: backchannel 0.4 (within), barge-in 0.15
    assert cs["counts"] == {"ipu": 8, "pause": 0, "gap": 3, "overlap": 2}
    assert cs["seconds"]["gap"] == pytest.approx(1.7)
    assert cs["seconds"]["overlap"] == pytest.approx(0.55)
    assert (cs["overlaps_within"], cs["overlaps_between"]) == (1, 1)
    assert cs["turns"] == 3.0
    assert cs["per_minute"]["ipu"]["count"] == pytest.approx(8 / (21 / 60))


def test_collect_reads_no_audio(corpus, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(corpus, copy)
    for tar in (copy / "shar").glob("recording.*.tar"):
        tar.unlink()
    assert collect(copy).n_shift == 6


def test_format_summary_and_accounting(corpus, tmp_path):
    text = format_summary(collect(corpus))
    assert "dialogues 3" in text and "barge_in_user" in text and "bad <json>" in text
    assert "kept 3 + rejected 1 = 4 vs planned 4: OK" in text
    copy = tmp_path / "c"
    shutil.copytree(corpus, copy)
    (copy / "stats.json").write_text(json.dumps({"planned": 5, "kept": 3}))
    assert "MISMATCH" in format_summary(collect(copy))


def test_empty_folder(tmp_path):
    s = collect(tmp_path)
    assert s.dialogues == 0 and s.hours == 0.0
    assert "dialogues 0" in format_summary(s)
    assert build_report(tmp_path, max_timelines=0).exists()


def test_pick_timelines_covers_distinct_tasks(corpus):
    s = collect(corpus)
    assert [r.task for r in pick_timelines(s, 2)] == ["qa", "backchannel"]
    assert len(pick_timelines(s, 10)) == 3
    drawn = timeline_pngs(s, 2)
    assert [r.id for r, _ in drawn] == ["dlg-qa", "dlg-bc"]


def test_unsharded_shar(tmp_path):
    _write_shar(tmp_path, shard_size=None)  # files named cuts.jsonl.gz, recording.tar, labels.tar
    s = collect(tmp_path)
    assert s.dialogues == 3 and s.n_shift == 6
    assert len(timeline_pngs(s, 8)) == 3


def _decode_pngs(page):
    from PIL import Image

    sizes = []
    for data in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        with Image.open(io.BytesIO(base64.b64decode(data))) as img:
            img.load()
            sizes.append(img.size)
    return sizes


def test_build_report(corpus):
    path = build_report(corpus, max_timelines=8, dnsmos_utts=0)  # DNSMOS: tests/report/test_speech_quality.py
    assert path == corpus / "report" / "index.html"
    page = path.read_text(encoding="utf-8")
    for section in ("summary", "tasks", "rejects", "turntaking", "histograms", "timelines", "card"):
        assert f"id='{section}'" in page
    # tasks bar chart + histograms + supervisions-vs-audio figure + one timeline per dialogue
    assert page.count("<img ") == 6
    sizes = _decode_pngs(page)
    assert len(sizes) == 6 and all(w > 300 and h > 200 for w, h in sizes)
    assert "bad &lt;json&gt;" in page and "<json>" not in page
    assert "61.89" in page and "0.32" in page and "2505.17060" in page
    assert '<td>dialogues</td><td class="n">3</td>' in page
    assert "kept 3 + rejected 1 = 4 vs planned 4: OK" in page
    assert (
        build_report(corpus, max_timelines=1, dnsmos_utts=0).read_text(encoding="utf-8").count("<img ") == 4
    )
    page = build_report(corpus, max_timelines=1, vad_cuts=0, dnsmos_utts=0).read_text(encoding="utf-8")
    assert page.count("<img ") == 3


def test_default_report_draws_one_timeline_per_task_of_a_real_corpus(local_corpus, tmp_path):
    """The default `datagen report` shows every task of the session corpus, the
    assistant's own backchannels included (the last task, so a cap below the task
    count would leave it out)."""
    from datagen.records import TASKS

    copy = tmp_path / "c"
    shutil.copytree(local_corpus, copy)
    page = build_report(copy, vad_cuts=0, dnsmos_utts=0).read_text(encoding="utf-8")
    titles = re.findall(r"<h3>[^<]* \(([a-z_]+)\)</h3>", page)
    assert sorted(titles) == sorted(TASKS)
    assert "(assistant_backchannel)</h3>" in page
