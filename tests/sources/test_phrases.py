"""The packaged phrase banks and their validator."""

from __future__ import annotations

import copy
import re
from importlib import resources

import pytest
import yaml

from datagen.sources.phrases import BANKS, Phrase, PhraseBankError, load_phrases, parse_phrase_banks
from datagen.text.normalize import normalize_for_tts

MIN_SIZES = {"backchannels": 45, "interruptions": 130, "distractors": 70, "assistant_backchannels": 25}


def _raw() -> dict:
    text = resources.files("datagen").joinpath("data", "phrases.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _words(text: str) -> int:
    return len(re.findall(r"[A-Za-z']+(?:-[A-Za-z']+)*", text))


@pytest.mark.parametrize("bank", list(BANKS))
def test_bank_sizes_and_split_ratio(bank):
    train, eval_ = load_phrases(bank, "train"), load_phrases(bank, "eval")
    assert len(train) + len(eval_) >= MIN_SIZES[bank]
    share = len(eval_) / (len(train) + len(eval_))
    assert 0.15 <= share <= 0.3, f"{bank}: eval share {share:.2f} is not about 20%"
    assert all(isinstance(p, Phrase) for p in train + eval_)


@pytest.mark.parametrize("bank", list(BANKS))
def test_train_and_eval_never_overlap(bank):
    def norm(p: Phrase) -> str:
        return re.sub(r"[^\w\s']", "", p.text.lower()).strip()

    train = {norm(p) for p in load_phrases(bank, "train")}
    eval_ = {norm(p) for p in load_phrases(bank, "eval")}
    assert not train & eval_
    assert len(train) == len(load_phrases(bank, "train"))  # no duplicates inside a split either


@pytest.mark.parametrize("bank", list(BANKS))
@pytest.mark.parametrize("split", ["train", "eval"])
def test_every_tag_value_is_covered_in_each_split(bank, split):
    phrases = load_phrases(bank, split)
    for tag, allowed in BANKS[bank].items():
        assert {p.tags[tag] for p in phrases} == set(allowed), (bank, split, tag)


@pytest.mark.parametrize("bank", list(BANKS))
def test_phrases_are_already_in_spoken_form(bank):
    # No digits, symbols or markup: TTS reads them as written.
    for split in ("train", "eval"):
        for p in load_phrases(bank, split):
            assert normalize_for_tts(p.text) == p.text, p.text
            assert not re.search(r"[0-9#*@/%$&]", p.text), p.text


def test_interruption_length_tags_match_word_counts():
    for split in ("train", "eval"):
        for p in load_phrases("interruptions", split):
            n = _words(p.text)
            expected = "short" if n <= 3 else "medium" if n <= 8 else "long"
            assert p.tags["length"] == expected, (p.text, n)


def test_backchannels_are_short_cues():
    for split in ("train", "eval"):
        for p in load_phrases("backchannels", split):
            n = _words(p.text)
            assert n <= 4, p.text
            assert p.tags["length"] == ("short" if n == 1 else "medium"), p.text


def test_distractor_kind_matches_punctuation():
    for split in ("train", "eval"):
        for p in load_phrases("distractors", split):
            assert p.text.endswith("?") == (p.tags["kind"] == "question"), p.text


def test_who_filter():
    every = load_phrases("interruptions", "eval")
    user = load_phrases("interruptions", "eval", who="user")
    third = load_phrases("interruptions", "eval", who="third_party")
    assert {p.tags["who"] for p in user} == {"user", "any"}
    assert {p.tags["who"] for p in third} == {"third_party", "any"}
    assert len(user) + len(third) - sum(p.tags["who"] == "any" for p in every) == len(every)
    # third-party barge-ins need a real variety of phrases to learn from
    assert len(load_phrases("interruptions", "train", who="third_party")) >= 40


def test_bad_arguments():
    with pytest.raises(ValueError, match="backchannels"):
        load_phrases("nonsense", "train")
    with pytest.raises(ValueError, match="split"):
        load_phrases("backchannels", "test")
    with pytest.raises(ValueError, match="interruptions"):
        load_phrases("backchannels", "train", who="user")
    with pytest.raises(ValueError, match="who"):
        load_phrases("interruptions", "train", who="robot")


def test_results_are_independent_copies():
    a = load_phrases("interruptions", "train")
    a[0].tags["who"] = "changed"
    assert load_phrases("interruptions", "train")[0].tags["who"] != "changed"


def test_packaged_file_validates():
    banks = parse_phrase_banks(_raw())
    assert set(banks) == set(BANKS)


def _first_with(data: dict, bank: str, split: str) -> dict:
    return next(e for e in data[bank] if e["split"] == split)


def test_validator_rejects_duplicate_across_splits():
    data = copy.deepcopy(_raw())
    train = _first_with(data, "backchannels", "train")
    data["backchannels"].append({**train, "text": train["text"].upper() + "!", "split": "eval"})
    with pytest.raises(PhraseBankError, match="across splits"):
        parse_phrase_banks(data)


def test_validator_rejects_unknown_bank_and_tag_values():
    data = copy.deepcopy(_raw())
    data["jokes"] = []
    with pytest.raises(PhraseBankError, match="unknown bank"):
        parse_phrase_banks(data)
    data = copy.deepcopy(_raw())
    data["interruptions"][0]["politeness"] = "rude"
    with pytest.raises(PhraseBankError, match="politeness"):
        parse_phrase_banks(data)
    data = copy.deepcopy(_raw())
    data["distractors"][0]["mood"] = "happy"
    with pytest.raises(PhraseBankError, match="unknown tag"):
        parse_phrase_banks(data)


def test_validator_rejects_missing_split_and_empty_text():
    data = copy.deepcopy(_raw())
    del data["backchannels"][0]["split"]
    with pytest.raises(PhraseBankError, match="split"):
        parse_phrase_banks(data)
    data = copy.deepcopy(_raw())
    data["backchannels"][0]["text"] = "  "
    with pytest.raises(PhraseBankError, match="text"):
        parse_phrase_banks(data)


def test_validator_requires_eval_coverage():
    data = copy.deepcopy(_raw())
    for e in data["interruptions"]:
        if e["who"] == "third_party" and e["split"] == "eval":
            e["split"] = "train"
    with pytest.raises(PhraseBankError, match="eval.*third_party"):
        parse_phrase_banks(data)


def test_a_phrase_in_two_banks_has_one_split():
    """The user's and the assistant's cues share words ("I see"); a phrase an eval set
    hears from one side must not be one a training set used on the other."""

    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s']", " ", text.casefold()).split())

    seen: dict[str, tuple[str, str]] = {}
    for bank in BANKS:
        for split in ("train", "eval"):
            for p in load_phrases(bank, split):
                other = seen.setdefault(norm(p.text), (bank, split))
                assert other[1] == split, f"{p.text!r}: {split} in {bank}, {other[1]} in {other[0]}"


def test_assistant_cues_are_short_and_never_questions():
    for split in ("train", "eval"):
        for p in load_phrases("assistant_backchannels", split):
            assert _words(p.text) <= 3 and "?" not in p.text, p.text
