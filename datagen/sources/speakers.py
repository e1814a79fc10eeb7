"""Voice pools per role, their train/eval split, and per-dialogue assignment.

A pool is the list of speakers one role may use: the backend's own voices,
narrowed to the ids a recipe lists. Pools are split into disjoint train and
eval halves so an evaluation set can be voiced by speakers the model never
heard in training. The split hashes each speaker id (not its position), so a
speaker stays on the same side however the pool is narrowed or extended.

A one-speaker pool (piper's assistant voice narrowed to one id) cannot be
split; both halves share it. That is intended: the assistant's voice is the
model's own and is the same in training and use; it is user and third-party
voices that must be held out.
"""

from __future__ import annotations

import hashlib
import random
from typing import Literal

from datagen.backends.tts.base import Speaker
from datagen.config import VoiceConfig

EVAL_PERCENT = 20  # share of a pool held out for evaluation

Split = Literal["train", "eval"]


def _bucket(speaker_id: str) -> int:
    """A stable 0-99 bucket (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256(speaker_id.encode("utf-8")).digest()[:8], "big") % 100


def narrow(speakers: list[Speaker], wanted: list[str]) -> list[Speaker]:
    """Keep the speakers whose ids are listed (all when the list is empty), in backend order."""
    if not wanted:
        return list(speakers)
    known = {s.id for s in speakers}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        sample = ", ".join(sorted(known)[:5])
        raise ValueError(f"unknown speaker id(s) {unknown}; this backend offers e.g. {sample}")
    keep = set(wanted)
    return [s for s in speakers if s.id in keep]


def base_voice(speaker: Speaker) -> str:
    """The timbre a speaker is a variant of; pitch/rate siblings share it."""
    return str(speaker.params.get("base", speaker.id))


def split_pool(speakers: list[Speaker], split: Split) -> list[Speaker]:
    """The train (~80%) or eval (~20%) half of a pool, disjoint and deterministic.

    Speakers are split by base voice when the pool has several (a LibriHeavy
    reader with several prompts, or an espeak voice with pitch/rate siblings,
    never lands on both sides); a pool of one base voice (Piper's prosody
    variants) is split by id. Neither half is left empty: if hashing put every
    key on one side, the key with the most extreme bucket moves over.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
    if len(speakers) <= 1:
        return list(speakers)
    by_base = len({base_voice(s) for s in speakers}) >= 2
    key = base_voice if by_base else (lambda s: s.id)
    keys = sorted({key(s) for s in speakers})
    is_eval = {k: _bucket(k) < EVAL_PERCENT for k in keys}
    if all(is_eval.values()):
        is_eval[max(keys, key=lambda k: (_bucket(k), k))] = False
    elif not any(is_eval.values()):
        is_eval[min(keys, key=lambda k: (_bucket(k), k))] = True
    want_eval = split == "eval"
    return [s for s in speakers if is_eval[key(s)] == want_eval]


def build_pool(voice_cfg: VoiceConfig, split: Split) -> list[Speaker]:
    """The speakers one role may use in `split`, from its backend's voices."""
    from datagen.backends.registry import make_tts

    backend = make_tts(voice_cfg.backend, voice_cfg.options)
    speakers = narrow(backend.speakers(), voice_cfg.speakers)
    if not speakers:
        raise ValueError(f"backend {voice_cfg.backend!r} offers no speakers")
    return split_pool(speakers, split)


def assign_speakers(pools: dict[str, list[Speaker]], seed: int) -> dict[str, Speaker]:
    """Pick one speaker per role for a dialogue, reproducibly from `seed`.

    Roles are filled in the order assistant, user, third_party (then any
    other). Each prefers a base voice no earlier role has, then any unused
    id, so two people in one dialogue do not sound alike. The third party is
    never the user's exact speaker: if its pool offers nothing else, that is
    an error rather than a silent duplicate. A private `random.Random`
    keeps this independent of global random state.
    """
    order = [r for r in ("assistant", "user", "third_party") if r in pools]
    order += sorted(r for r in pools if r not in order)
    rng = random.Random(seed)
    chosen: dict[str, Speaker] = {}
    for role in order:
        pool = pools[role]
        if not pool:
            raise ValueError(f"no speakers for role {role!r}")
        if role == "third_party" and "user" in chosen:
            pool = [s for s in pool if s.id != chosen["user"].id]
            if not pool:
                raise ValueError("the third_party pool has no speaker other than the user's")
        taken_bases = {base_voice(s) for s in chosen.values()}
        taken_ids = {s.id for s in chosen.values()}
        for tier in (
            [s for s in pool if base_voice(s) not in taken_bases],
            [s for s in pool if s.id not in taken_ids],
            pool,
        ):
            if tier:
                chosen[role] = rng.choice(tier)
                break
    return chosen
