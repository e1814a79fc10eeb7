"""Phrase banks: backchannels, interruptions, distractors and the assistant's own cues.

Overlays on assistant turns are drawn from these banks. Each phrase names its
split, because evaluation must use phrases the model never heard in training
(SALMONN-omni's evaluation design); a phrase in both splits would leak. The
bank file is validated as a whole on first use, so a typo in a tag fails the
run at once rather than quietly skewing the mix of one event kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

__all__ = ["BANKS", "Phrase", "PhraseBankError", "load_phrases", "parse_phrase_banks"]

SPLITS: tuple[str, ...] = ("train", "eval")

# bank -> tag -> allowed values. Every entry carries every tag of its bank.
BANKS: dict[str, dict[str, tuple[str, ...]]] = {
    "backchannels": {"length": ("short", "medium")},
    "interruptions": {
        "length": ("short", "medium", "long"),
        "politeness": ("blunt", "neutral", "polite"),
        "who": ("user", "third_party", "any"),
    },
    "distractors": {"kind": ("question", "remark")},
    # Said by the assistant itself in a dip of the user's long turn (assistant_backchannel).
    "assistant_backchannels": {"length": ("short", "medium")},
}

# who= filter for interruptions: a phrase tagged "any" suits either speaker.
_WHO_FILTER = {"user": {"user", "any"}, "third_party": {"third_party", "any"}}


class PhraseBankError(ValueError):
    """The phrase file breaks its contract (unknown tag, leak between splits, ...)."""


@dataclass(frozen=True)
class Phrase:
    """One phrase and its tags (e.g. {"length": "short", "who": "user"})."""

    text: str
    tags: dict[str, str] = field(default_factory=dict, hash=False)


def _key(text: str) -> str:
    """Two phrases that differ only in case or punctuation sound the same."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.casefold()).split())


def _check_entry(bank: str, i: int, entry: Any) -> tuple[str, str, dict[str, str]]:
    where = f"{bank}[{i}]"
    if not isinstance(entry, dict):
        raise PhraseBankError(f"{where}: expected a mapping, got {type(entry).__name__}")
    text, split = entry.get("text"), entry.get("split")
    if not isinstance(text, str) or not text.strip():
        raise PhraseBankError(f"{where}: 'text' must be a non-empty string")
    if split not in SPLITS:
        raise PhraseBankError(f"{where} ({text!r}): 'split' must be one of {list(SPLITS)}, got {split!r}")
    schema = BANKS[bank]
    tags = {k: v for k, v in entry.items() if k not in ("text", "split")}
    unknown = set(tags) - set(schema)
    if unknown:
        raise PhraseBankError(
            f"{where} ({text!r}): unknown tag(s) {sorted(unknown)}; tags are {list(schema)}"
        )
    for tag, allowed in schema.items():
        if tags.get(tag) not in allowed:
            raise PhraseBankError(
                f"{where} ({text!r}): tag {tag!r} must be one of {list(allowed)}, got {tags.get(tag)!r}"
            )
    return text.strip(), split, tags


def _check_coverage(bank: str, entries: list[tuple[str, str, dict[str, str]]]) -> None:
    """Each split must hold every value of every tag, or an eval set would
    silently lack, say, third-party interruptions."""
    for split in SPLITS:
        for tag, allowed in BANKS[bank].items():
            seen = {tags[tag] for _, s, tags in entries if s == split}
            missing = [v for v in allowed if v not in seen]
            if missing:
                raise PhraseBankError(f"{bank}: split {split!r} has no phrase with {tag} in {missing}")


def parse_phrase_banks(data: Any) -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    """Validate the parsed YAML and return bank -> [(text, split, tags)].

    Errors name the bank, the entry index and the text, so the one bad line in
    a long file is found at once.
    """
    if not isinstance(data, dict):
        raise PhraseBankError("phrase file must be a mapping of bank name -> list of phrases")
    unknown = set(data) - set(BANKS)
    if unknown:
        raise PhraseBankError(f"unknown bank(s) {sorted(unknown)}; banks are {list(BANKS)}")
    out: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
    for bank in BANKS:
        items = data.get(bank)
        if not isinstance(items, list) or not items:
            raise PhraseBankError(f"bank {bank!r} is missing or not a non-empty list")
        entries = [_check_entry(bank, i, e) for i, e in enumerate(items)]
        first: dict[str, tuple[str, str]] = {}
        for text, split, _ in entries:
            key = _key(text)
            if key in first:
                other_text, other_split = first[key]
                where = "across splits" if other_split != split else f"in split {split!r}"
                raise PhraseBankError(f"{bank}: duplicate phrase {where}: {text!r} and {other_text!r}")
            first[key] = (text, split)
        _check_coverage(bank, entries)
        out[bank] = entries
    return out


@lru_cache(maxsize=1)
def _bundled_banks() -> dict[str, list[tuple[str, str, dict[str, str]]]]:
    raw = resources.files("datagen").joinpath("data", "phrases.yaml").read_text(encoding="utf-8")
    return parse_phrase_banks(yaml.safe_load(raw))


def load_phrases(bank: str, split: str, who: str | None = None) -> list[Phrase]:
    """Phrases of one bank and split, in file order (callers draw with their own seeded RNG).

    `who` applies to interruptions only: "user" gives phrases tagged user or
    any, "third_party" gives third_party or any.
    """
    if bank not in BANKS:
        raise ValueError(f"unknown phrase bank {bank!r}; choose one of {list(BANKS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    if who is not None:
        if bank != "interruptions":
            raise ValueError(f"who= only applies to the interruptions bank, not {bank!r}")
        if who not in _WHO_FILTER:
            raise ValueError(f"unknown who {who!r}; choose one of {list(_WHO_FILTER)}")
    wanted = _WHO_FILTER.get(who) if who else None
    return [
        Phrase(text, dict(tags))
        for text, s, tags in _bundled_banks()[bank]
        if s == split and (wanted is None or tags["who"] in wanted)
    ]
