"""QC's optional DNSMOS threshold (qc.dnsmos_min_ovrl), with speechmos's real models."""

import io
import json
import subprocess

import numpy as np
import pytest
import soundfile as sf

from datagen.audio import resample
from datagen.config import QCConfig, Recipe
from datagen.records import Dialogue, Turn, Utterance, VoicedDialogue
from datagen.stages.qc import QCStage

SR = 16000
QUESTION = "Who wrote the novel Pride and Prejudice, and when?"
ANSWER = "Jane Austen wrote it, and it was published in eighteen thirteen."
CLIP_S = 2.4  # speechmos tiles 2.4 s to 9.6 s: one 9 s window per score keeps the test quick
# espeak-ng rates ~2.0-2.6 OVRL here (a robotic voice), the answer under white noise ~1.5
MIN = 1.75


def espeak(text: str) -> np.ndarray:
    wav = subprocess.run(["/usr/bin/espeak-ng", "--stdout", text], capture_output=True, check=True).stdout
    x, native = sf.read(io.BytesIO(wav), dtype="float32")
    x = resample(x, native, SR)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[loud[0] :][: int(CLIP_S * SR)]


@pytest.fixture(scope="module")
def voices():
    q, a = espeak(QUESTION), espeak(ANSWER)
    noisy = a + 0.15 * np.random.default_rng(0).standard_normal(len(a)).astype(np.float32)
    return {"q": q, "a": a, "noisy": noisy}


def dialogue(id: str, q: np.ndarray, a: np.ndarray) -> VoicedDialogue:
    d = Dialogue(id=id, task="qa", turns=(Turn("user", QUESTION), Turn("assistant", ANSWER)), seed=0)
    return VoicedDialogue(
        d,
        {
            "t0": Utterance("t0", QUESTION, "s", "user", q, SR),
            "t1": Utterance("t1", ANSWER, "s", "assistant", a, SR),
        },
    )


def stage(**qc):
    return QCStage(Recipe.model_construct(name="t", qc=QCConfig(trim="none", **qc)))


def test_a_noisy_answer_is_rejected_with_its_scores_and_every_id_is_accounted_for(voices):
    good, bad = dialogue("d0", voices["q"], voices["a"]), dialogue("d1", voices["q"], voices["noisy"])
    out = stage(dnsmos_min_ovrl=MIN).process([good, bad])
    assert sorted([vd.dialogue.id for vd in out.items] + [r.id for r in out.rejects]) == ["d0", "d1"]
    (kept,) = out.items
    assert kept.dialogue.id == "d0"
    for u in kept.utterances.values():  # the score rides along into the supervision
        assert set(u.dnsmos) == {"sig", "bak", "ovrl", "p808"} and u.dnsmos["ovrl"] >= MIN
    (r,) = out.rejects
    detail = json.loads(r.detail)
    assert (r.id, r.stage, r.reason, detail["key"]) == ("d1", "qc", "low_dnsmos", "t1")
    assert detail["ovrl"] < MIN and detail["min_ovrl"] == MIN and detail["bak"] < detail["sig"]
    assert out.counters["dnsmos_utterances"] == 4


def test_off_by_default_and_limited_to_its_roles(voices):
    vd = dialogue("d0", voices["q"], voices["a"])
    off = stage().process([vd])
    assert [u.dnsmos for u in off.items[0].utterances.values()] == [None, None]
    assert "dnsmos_utterances" not in off.counters
    only = stage(dnsmos_min_ovrl=1.0, dnsmos_roles=["assistant"]).process([vd]).items[0]
    assert only.utterances["t0"].dnsmos is None and only.utterances["t1"].dnsmos is not None


def test_a_clip_too_short_to_rate_is_not_scored(voices):
    vd = dialogue("d0", voices["q"][: SR // 2], voices["a"][: SR // 2])
    out = stage(dnsmos_min_ovrl=4.9).process([vd])
    assert out.rejects == [] and out.counters["dnsmos_skipped_short"] == 2


def test_the_threshold_is_a_mos():
    with pytest.raises(ValueError):
        QCConfig(dnsmos_min_ovrl=7)


@pytest.mark.slow  # 8-30 s (idle-loaded box): a whole 1-dialogue run, Piper and espeak-ng voices
def test_a_corpus_with_the_threshold_carries_the_scores_in_its_supervisions(tmp_path):
    from e2e_support import small_recipe

    from datagen.executors.runner import fingerprint, run
    from datagen.io.shar import load_cuts

    assert "dnsmos_min_ovrl" not in fingerprint(small_recipe())["qc"]  # off: old corpora still resume
    recipe = small_recipe("dialogues=1", "mix={qa: 1}", "qc.dnsmos_min_ovrl=1.0", "qc.dnsmos_roles=[user]")
    assert fingerprint(recipe)["qc"]["dnsmos_min_ovrl"] == 1.0
    out = tmp_path / "c"
    run(recipe, out=str(out), executor="local", quiet=True)
    (cut,) = load_cuts(out)
    scored = {s.custom["role"]: s.custom["dnsmos"] for s in cut.supervisions if "dnsmos" in s.custom}
    assert list(scored) == ["user"] and 1.0 <= scored["user"]["ovrl"] <= 5.0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["counters"]["dnsmos_utterances"] == 1 and stats["kept"] == 1
