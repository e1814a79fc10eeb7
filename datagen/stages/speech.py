"""Speech: dialogue scripts -> voiced dialogues (one utterance per text).

Voices come from per-role speaker pools (sources.speakers), assigned per
dialogue from its seed. Requests are grouped by backend across the whole
batch so a batching backend sees a batch. Each result is checked (NaN,
silence, clipping, length); a failure is retried with another seed, then
with another voice of the same role, before the dialogue is rejected.
Audio is resampled to the corpus rate and its silent edges trimmed, with
word timings shifted to match.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict

from datagen.audio import resample, trim_silence
from datagen.backends.registry import make_tts
from datagen.backends.tts.base import Speaker, TTSRequest, TTSResult
from datagen.qc.signal import max_seconds_for, signal_problem
from datagen.records import Dialogue, Utterance, VoicedDialogue, Word
from datagen.sources.speakers import assign_speakers, build_pool
from datagen.stages.base import Resources, Stage, StageOutput
from datagen.timeline.rng import stable_int


@dataclasses.dataclass
class _Job:
    dialogue: int  # index in the batch
    key: str
    text: str
    role: str
    kind: str
    speaker: Speaker
    attempt: int = 0
    result: Utterance | None = None
    problem: str = ""


def utterance_texts(d: Dialogue) -> list[tuple[str, str, str, str]]:
    """(key, text, role, kind) for everything said in a dialogue."""
    items = []
    for i, t in enumerate(d.turns):
        # A paused turn, or a long turn with the assistant's cues in its dips, is
        # voiced in stretches: t3, t3p1, t3p2, ...
        for k, text in enumerate(t.stretches()):
            items.append((f"t{i}p{k}" if k else f"t{i}", text, t.role, "turn"))
        for j, ov in enumerate(t.overlays):
            items.append((f"t{i}o{j}", ov.text, ov.role, ov.kind))
    return items


class SpeechStage(Stage):
    name = "speech"

    def __init__(self, recipe):
        super().__init__(recipe)
        self._backends: dict[str, object] = {}
        self._pools: dict[str, list[Speaker]] | None = None

    @property
    def resources(self) -> Resources:
        gpus = max(self.backend(v.backend).resources_gpus for v in self.recipe.tts.voices.values())
        return Resources(num_cpus=1, num_gpus=float(gpus))

    def backend(self, name: str):
        voice = next(v for v in self.recipe.tts.voices.values() if v.backend == name)
        key = name + json.dumps(voice.options, sort_keys=True)
        if key not in self._backends:
            self._backends[key] = make_tts(name, voice.options)
        return self._backends[key]

    @property
    def pools(self) -> dict[str, list[Speaker]]:
        if self._pools is None:
            split = "eval" if self.recipe.tts.eval_speakers or self.recipe.split == "eval" else "train"
            self._pools = {role: build_pool(v, split) for role, v in self.recipe.tts.voices.items()}
            empty = [r for r, p in self._pools.items() if not p]
            if empty:
                raise RuntimeError(f"no speakers available for role(s) {empty}")
        return self._pools

    def process(self, batch: list[Dialogue]) -> StageOutput:
        out = StageOutput()
        jobs: list[_Job] = []
        cast: list[dict[str, Speaker]] = []
        for n, d in enumerate(batch):
            speakers = assign_speakers(self.pools, d.seed)
            cast.append(speakers)
            jobs += [
                _Job(n, k, text, role, kind, speakers[role]) for k, text, role, kind in utterance_texts(d)
            ]
        todo = jobs
        for attempt in range(self.recipe.tts.max_attempts):
            self._synthesize(batch, todo, out)
            todo = [j for j in todo if j.result is None]
            if not todo or attempt + 1 == self.recipe.tts.max_attempts:
                break
            for j in todo:
                out.counters["tts_retries"] += 1
                j.attempt = attempt + 1
                if j.attempt >= 2 or j.problem.startswith("tts_error"):
                    j.speaker = self._other_speaker(j.role, j.speaker, batch[j.dialogue].seed + j.attempt)
        by_dialogue: dict[int, list[_Job]] = defaultdict(list)
        for j in jobs:
            by_dialogue[j.dialogue].append(j)
        for n, d in enumerate(batch):
            failed = [j for j in by_dialogue[n] if j.result is None]
            if failed:
                j = failed[0]
                reason = j.problem.split(":")[0] or "tts_failed"
                out.reject(d.id, self.name, reason, f"{j.key} ({j.role}, {j.speaker.id}): {j.problem}")
                continue
            utts = {j.key: j.result for j in by_dialogue[n]}
            turns = tuple(dataclasses.replace(t, speaker=cast[n][t.role].id) for t in d.turns)
            out.items.append(VoicedDialogue(dataclasses.replace(d, turns=turns), utts))
            out.counters["dialogues_voiced"] += 1
        return out

    def _other_speaker(self, role: str, current: Speaker, salt: int) -> Speaker:
        pool = [s for s in self.pools[role] if s.id != current.id]
        return pool[stable_int(salt, role) % len(pool)] if pool else current

    def _synthesize(self, batch: list[Dialogue], jobs: list[_Job], out: StageOutput) -> None:
        groups: dict[str, list[_Job]] = defaultdict(list)
        for j in jobs:
            groups[j.speaker.backend].append(j)
        for name, group in groups.items():
            reqs = [
                TTSRequest(
                    key=f"{batch[j.dialogue].id}/{j.key}",
                    text=j.text,
                    speaker=j.speaker,
                    seed=stable_int(batch[j.dialogue].seed, j.key, j.attempt) % (2**31),
                )
                for j in group
            ]
            results = self.backend(name).synthesize(reqs)
            out.counters["tts_requests"] += len(reqs)
            for j, res in zip(group, results, strict=True):
                j.result, j.problem = self._accept(j, res)
                if j.result is not None:
                    out.counters[f"tts_seconds_{j.role}"] += j.result.duration

    def _accept(self, j: _Job, res: TTSResult) -> tuple[Utterance | None, str]:
        qc, sr = self.recipe.qc, self.recipe.tts.sample_rate
        if res.error or res.audio is None:
            return None, f"tts_error: {res.error or 'no audio'}"
        problem = signal_problem(
            res.audio, res.sample_rate, max_seconds_for(j.role, j.kind, qc), qc.min_rms_db, qc.max_clip_ratio
        )
        if problem:
            return None, problem
        audio = resample(res.audio, res.sample_rate, sr)
        audio, offset = trim_silence(audio, sr)
        dur = len(audio) / sr
        words = tuple(
            Word(w.text, min(max(w.start - offset, 0.0), dur), min(max(w.end - offset, 0.0), dur))
            for w in res.words
        )
        return Utterance(
            key=j.key,
            text=j.text,
            speaker=j.speaker.id,
            role=j.role,
            audio=audio,
            sample_rate=sr,
            words=words,
            timing_source=res.timing_source,
        ), ""
