"""Uncut answers in the corpus, and the assistant stream rebuilt from a track."""

import numpy as np
import pytest

from datagen.io.shar import load_full_answers
from datagen.train.training.answers import answers_of, assistant_wave, gold_voice
from datagen.train.training.data import open_corpora


@pytest.fixture(scope="module")
def cuts(local_corpus):
    return list(open_corpora([local_corpus]))


def test_cut_short_answers_are_kept_whole(cuts):
    seen = 0
    for cut in cuts:
        audio = cut.load_audio()
        whole = load_full_answers(cut)
        stopped = [s for s in cut.supervisions if s.channel == 1 and s.custom["expect"] == "stop"]
        assert sorted(whole) == sorted(s.custom["turn"] for s in stopped)
        for s in stopped:
            full = whole[s.custom["turn"]]
            a, n = int(round(s.start * 16000)), int(round(s.duration * 16000))
            kept = audio[1, a : a + n]
            assert len(full) > n + 1600  # at least 0.1 s more than was played
            fade = int(0.02 * 16000)
            assert np.allclose(kept[: n - fade], full[: n - fade], atol=1e-4)  # the same voice, uncut
            seen += 1
    assert seen >= 2


def test_the_gold_voice_rebuilt_from_the_track_is_channel_1(cuts):
    for cut in cuts:
        audio = cut.load_audio().astype(np.float32)
        labels = np.asarray(cut.load_labels())
        answers = answers_of(cut, audio, labels)
        wave = assistant_wave(gold_voice(answers), answers, audio.shape[1], 0.08, 16000)
        differs = np.flatnonzero(np.abs(wave - audio[1]) > 1e-4)
        for a in answers:
            if not a.interrupted:
                assert a.natural_blocks == a.gold_stop - a.gold_speak
        # identical except where a barge-in stopped it: the corpus cuts at the start of the stop
        # block (with a fade), the trainer at its end (docs/trainer.md, "Its own voice")
        allowed = np.zeros(audio.shape[1], dtype=bool)
        for a in answers:
            if a.interrupted:
                allowed[
                    int((a.gold_stop * 0.08 - 0.02) * 16000) : int((a.gold_stop + 1) * 0.08 * 16000) + 1
                ] = True
        assert allowed[differs].all()
