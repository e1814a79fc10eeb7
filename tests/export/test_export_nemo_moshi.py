"""`nemo` and `moshi` exports, read back by Lhotse / soundfile + json and by
readers written from each target's documented rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from datagen.export import export
from datagen.export.common import resample
from datagen.io.shar import load_cuts

FRAME_S = 0.08  # NeMo duplex frame_length


def _close(a: np.ndarray, b: np.ndarray, atol: float) -> float:
    n = min(len(a), len(b))
    assert abs(len(a) - len(b)) <= 2
    err = float(np.max(np.abs(a[:n] - b[:n])))
    assert err < atol, err
    return err


# ---------------------------------------------------------------- nemo


@pytest.fixture(scope="module")
def nemo_out(local_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("nemo") / "shar"
    summary = export(local_corpus, "nemo", out, quiet=True, shard_size=5)
    return out, summary


def test_nemo_shar_reads_back_in_lhotse_as_nemo_expects(nemo_out, source):
    from lhotse import CutSet

    out, summary = nemo_out
    assert summary["cuts"] == len(source) == 12
    assert len(list(out.glob("cuts.*.jsonl.gz"))) == 3  # 5 + 5 + 2
    cuts = list(CutSet.from_shar(in_dir=str(out)))
    assert [c.id for c in cuts] == list(source)
    for cut in cuts:
        src = source[cut.id]
        audio = cut.load_audio()
        assert audio.shape[0] == 1 and cut.sampling_rate == 16000  # mono source at 16 kHz
        _close(audio[0], src.env, 2e-4)
        target = cut.load_target_audio()
        assert cut.target_audio.sampling_rate == 22050 and target.shape[0] == 1
        back = resample(target[0], 22050, 16000)
        _close(back, src.assistant, 0.05)  # resampling twice and 16-bit FLAC
        assert np.corrcoef(back[: len(src.assistant)], src.assistant[: len(back)])[0, 1] > 0.99
        assert np.array_equal(cut.load_labels(), src.labels)


def test_nemo_roles_and_text_channel_follow_duplex_s2s_rules(nemo_out, source):
    """A reader from DuplexS2SDataset's rules: speakers are User/Assistant only;
    the agent's text channel runs [bos]+tokens from the start frame to eos at the
    end frame, so each Assistant supervision must end where its audio stops."""
    out, _ = nemo_out
    cut_short = 0
    for cut in load_cuts(out):
        src = source[cut.id]
        assert {s.speaker for s in cut.supervisions} <= {"User", "Assistant"}
        n_frames = int(round(cut.duration / FRAME_S))
        third = [s for s in src.sups if s.role == "third_party"]
        assert len(cut.custom["third_party"]) == len(third)
        for s in (s for s in cut.supervisions if s.speaker == "Assistant"):
            bos, eos = int(s.start / FRAME_S), int(s.end / FRAME_S)
            assert 0 <= bos < eos <= n_frames
            # the audio really stops at the supervision's end: silence 0.1 s after it
            sr = 16000
            tail = src.assistant[int((s.end + 0.1) * sr) : int((s.end + 0.6) * sr)]
            following = [o for o in cut.supervisions if o.speaker == "Assistant" and o.start > s.end]
            if not following or following[0].start > s.end + 0.7:
                assert np.max(np.abs(tail), initial=0.0) < 1e-3
            if s.custom["full_text"] != s.text:
                cut_short += 1
                assert s.custom["full_text"].startswith(s.text)
                assert s.alignment["word"][-1].end <= s.end + 1e-3
    assert cut_short >= 1  # barge-ins in the corpus: some answers were cut short


# ---------------------------------------------------------------- moshi


def test_moshi_layout_reads_back(local_corpus, tmp_path, source):
    out = tmp_path / "moshi"
    summary = export(local_corpus, "moshi", out, quiet=True, sample_rate=24000)
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(rows) == summary["files"] == len(source)
    for row in rows:
        wav = out / row["path"]
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
        assert sr == 24000 and audio.shape[1] == 2
        assert abs(audio.shape[0] / sr - row["duration"]) < 1e-3
        src = source[wav.stem]
        _close(resample(audio[:, 0], sr, 16000), src.assistant, 0.05)  # left = assistant
        _close(resample(audio[:, 1], sr, 16000), src.env, 0.05)  # right = what it hears
        aligned = json.loads(wav.with_suffix(".json").read_text())["alignments"]
        main = [w for w in aligned if w[2] == "SPEAKER_MAIN"]
        spoken = " ".join(s.heard_text for s in src.of_role("assistant")).split()
        assert [w[0] for w in main] == spoken  # exactly the words heard, cut-short turns included
        for word, (a, b), _ in aligned:
            assert 0 <= a < b <= row["duration"] + 1e-3 and word


# ---------------------------------------------------------------- common


def test_export_refuses_a_non_empty_folder_and_force_replaces_it_whole(local_corpus, tmp_path):
    from datagen.export import ExportError

    out = tmp_path / "x"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="--force"):
        export(local_corpus, "moshi", out, quiet=True)
    assert (out / "keep.txt").read_text() == "mine"
    export(local_corpus, "moshi", out, quiet=True, force=True)
    assert not (out / "keep.txt").exists() and (out / "index.jsonl").is_file()
    assert not list(tmp_path.glob(".x.partial-*"))


def test_a_failed_export_leaves_no_folder(local_corpus, tmp_path, monkeypatch):
    import datagen.export.moshi as moshi

    def boom(self, c):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(moshi.Exporter, "add", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(local_corpus, "moshi", tmp_path / "y", quiet=True)
    assert list(tmp_path.iterdir()) == []


def test_cli_export_errors_are_clear(local_corpus, tmp_path):
    from typer.testing import CliRunner

    from datagen.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["export", str(local_corpus), "--format", "wav2vec", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "unknown format" in r.output
    r = runner.invoke(app, ["export", str(tmp_path), "--format", "moshi", "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "not a corpus" in r.output
    r = runner.invoke(app, ["export", str(local_corpus), "-f", "moshi", "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout[r.stdout.index("{") :])["cuts"] == 12
    assert "export moshi: 12/12 cuts" in r.output  # progress line
