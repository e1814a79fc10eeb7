"""Voice pools: narrowing, the train/eval split and per-dialogue assignment."""

import random

import pytest

from datagen.backends.tts.base import Speaker
from datagen.config import VoiceConfig
from datagen.sources import speakers as sp


def pool(n: int, bases: int = 0, prefix: str = "espeak:v") -> list[Speaker]:
    return [Speaker(f"{prefix}{i}", "espeak", {"base": f"b{i % bases}"} if bases else {}) for i in range(n)]


def test_split_is_disjoint_complete_and_roughly_80_20():
    speakers = pool(500)
    train, evals = sp.split_pool(speakers, "train"), sp.split_pool(speakers, "eval")
    ids_t, ids_e = {s.id for s in train}, {s.id for s in evals}
    assert not ids_t & ids_e
    assert ids_t | ids_e == {s.id for s in speakers}
    assert 0.12 < len(evals) / len(speakers) < 0.28


def test_split_is_per_speaker_and_ignores_pool_order():
    speakers = pool(200)
    shuffled = speakers[:]
    random.Random(3).shuffle(shuffled)
    assert {s.id for s in sp.split_pool(shuffled, "eval")} == {s.id for s in sp.split_pool(speakers, "eval")}
    # narrowing a pool keeps each speaker on its side
    half = speakers[:100]
    assert {s.id for s in sp.split_pool(half, "eval")} <= {s.id for s in sp.split_pool(speakers, "eval")}


def test_small_pools_never_leave_a_split_empty():
    one = pool(1)
    assert sp.split_pool(one, "train") == one == sp.split_pool(one, "eval")
    for n in range(2, 6):
        speakers = pool(n, prefix=f"x{n}:")
        train, evals = sp.split_pool(speakers, "train"), sp.split_pool(speakers, "eval")
        assert train and evals and not {s.id for s in train} & {s.id for s in evals}


def test_bad_split_name():
    with pytest.raises(ValueError, match="split"):
        sp.split_pool(pool(3), "test")


def test_build_pool_from_the_espeak_backend():
    cfg = VoiceConfig(backend="espeak")
    train, evals = sp.build_pool(cfg, "train"), sp.build_pool(cfg, "eval")
    assert len(train) > 300 and len(evals) > 50
    assert not {s.id for s in train} & {s.id for s in evals}
    assert train == sp.build_pool(cfg, "train")


def test_build_pool_narrows_to_listed_ids_and_names_unknown_ones():
    ids = ["espeak:en-gb+f3:p60:s175", "espeak:en-us+m3:p40:s150"]
    narrowed = sp.build_pool(VoiceConfig(backend="espeak", speakers=ids[:1]), "eval")
    assert [s.id for s in narrowed] == ids[:1]  # one speaker serves both splits
    both = sp.build_pool(VoiceConfig(backend="espeak", speakers=ids), "train")
    assert len(both) == 1 and both[0].id in ids
    with pytest.raises(ValueError, match="espeak:nobody"):
        sp.build_pool(VoiceConfig(backend="espeak", speakers=["espeak:nobody"]), "train")


def test_assignment_is_deterministic_and_ignores_global_random_state():
    pools = {"assistant": pool(1, prefix="piper:"), "user": pool(50, 10), "third_party": pool(50, 10)}
    random.seed(1)
    first = sp.assign_speakers(pools, seed=42)
    random.seed(2)
    random.random()
    assert sp.assign_speakers(pools, seed=42) == first
    picks = {sp.assign_speakers(pools, seed=s)["user"].id for s in range(40)}
    assert len(picks) > 10  # the seed really varies the choice


def test_third_party_differs_from_user_and_prefers_another_base_voice():
    pools = {"assistant": pool(1, prefix="piper:"), "user": pool(40, 4), "third_party": pool(40, 4)}
    for seed in range(200):
        chosen = sp.assign_speakers(pools, seed)
        assert set(chosen) == {"assistant", "user", "third_party"}
        assert chosen["third_party"].id != chosen["user"].id
        assert sp.base_voice(chosen["third_party"]) != sp.base_voice(chosen["user"])


def test_third_party_falls_back_to_same_base_but_never_same_id():
    same_base = [Speaker(f"s{i}", "espeak", {"base": "one"}) for i in range(3)]
    for seed in range(30):
        chosen = sp.assign_speakers({"user": same_base, "third_party": same_base}, seed)
        assert chosen["third_party"].id != chosen["user"].id
    with pytest.raises(ValueError, match="third_party"):
        sp.assign_speakers({"user": same_base[:1], "third_party": same_base[:1]}, 0)
    with pytest.raises(ValueError, match="user"):
        sp.assign_speakers({"user": []}, 0)
