"""Compose: voiced dialogues -> two-channel duplex samples with label tracks.

Lays the utterances out (timeline.place), renders both channels
(timeline.mix), writes the label track (timeline.labels) and checks that the
three agree before anything is kept (timeline.checks). A sample that fails
a check is rejected with the check's reason; it is never "fixed up".
"""

from __future__ import annotations

import numpy as np

from datagen.records import DuplexSample, VoicedDialogue
from datagen.stages.base import Stage, StageOutput
from datagen.text.tokenizer import SHIFT_ID, TEXT_OFFSET, THINK_ID, get_tokenizer
from datagen.timeline.checks import check_assistant_channel
from datagen.timeline.labels import label_track
from datagen.timeline.mix import render
from datagen.timeline.place import PlacementError, place
from datagen.timeline.rng import rng_for


def _overlay_snr_db(speech: np.ndarray, interference: np.ndarray) -> float:
    s = float(np.mean(np.square(speech, dtype=np.float64)))
    n = float(np.mean(np.square(interference, dtype=np.float64)))
    return 10 * np.log10((s + 1e-12) / (n + 1e-12))


class ComposeStage(Stage):
    name = "compose"

    def process(self, batch: list[VoicedDialogue]) -> StageOutput:
        out = StageOutput()
        for vd in batch:
            try:
                sample = self.compose(vd)
            except PlacementError as e:
                out.reject(vd.dialogue.id, self.name, e.reason, e.detail)
                continue
            out.items.append(sample)
            out.counters["composed"] += 1
            out.counters["audio_seconds"] += sample.duration
        return out

    def compose(self, vd: VoicedDialogue) -> DuplexSample:
        r = self.recipe
        cfg, sr = r.timeline, r.tts.sample_rate
        tok = get_tokenizer(r.labels.tokenizer)
        d = vd.dialogue
        tl = place(vd, cfg, rng_for(d.seed, "place"))
        labels = label_track(tl.spans, tl.duration, cfg.block_s, tok)
        mix = render(vd, tl, cfg, sr, rng_for(d.seed, "mix"), rng_for(d.seed, "room"))
        problems = check_assistant_channel(mix.audio[1], sr, labels, cfg.block_s, cfg.synth_delay_s)
        if problems:
            raise PlacementError("labels_disagree_with_audio", "; ".join(problems[:3]))
        for seg in tl.segments:
            if seg.channel == 0 and seg.kind in ("backchannel", "barge_in", "related_question", "distractor"):
                a, b = int(seg.start * sr), int(seg.end * sr)
                snr = _overlay_snr_db(mix.speech0[a:b], mix.interference[a:b])
                if snr < cfg.min_overlay_snr_db:
                    raise PlacementError("inaudible_overlay", f"{seg.kind} at {seg.start:.2f}s: {snr:.1f} dB")
        meta = {
            "task": d.task,
            "seed": d.seed,
            "question_ids": list(d.question_ids),
            "mix": mix.meta,
            "label_meta": {
                "block_s": cfg.block_s,
                "synth_delay_s": cfg.synth_delay_s,
                "tokenizer": tok.name,
                "think_id": THINK_ID,
                "shift_id": SHIFT_ID,
                "text_offset": TEXT_OFFSET,
            },
            **d.meta,
        }
        return DuplexSample(
            id=d.id,
            task=d.task,
            audio=mix.audio,
            sample_rate=sr,
            segments=tl.segments,
            events=tl.events,
            labels=labels,
            meta=meta,
            full_answers=tuple(sorted(mix.full_answers.items())),
        )
