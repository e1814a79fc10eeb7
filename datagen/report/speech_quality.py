"""Speech quality of a corpus: DNSMOS (datagen/qc/dnsmos.py) per utterance, by speaker role.

What is scored is the corpus's own audio: each supervision's span of its
channel, so assistant turns come from channel 1 (clean speech) and user and
third-party speech from channel 0, as the model will hear it, with the
recipe's noise, room and echo. A noisy-environment recipe therefore rightly
shows a lower BAK for its users than for its assistant. Any corpus works, one
built with or without the QC threshold (`qc.dnsmos_min_ovrl`, which scores the
clean TTS output before mixing; its scores are in the supervisions' custom
"dnsmos" and not re-read here).

DNSMOS costs 1-5 s of CPU per utterance (one 9 s window takes ~0.8 s, and a
clip under 9 s is repeated until it fills 9-18 s: 1-9 windows), so only a sample is scored: `per_role`
utterances of each role, picked by the SHA-1 of their supervision ids (the same
sample on every run, whatever the shard order), each at least
`dnsmos.MIN_SECONDS` long. Only the recording tars of shards holding a sampled
utterance are opened.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from statistics import mean, median

import numpy as np

from datagen.report.collect import CorpusSummary, iter_cuts

ROLE_ORDER = ("user", "third_party", "assistant")


@dataclass
class UtteranceScore:
    id: str  # supervision id
    cut_id: str
    role: str
    kind: str
    seconds: float
    mos: dict[str, float]  # sig, bak, ovrl, p808


@dataclass
class SpeechQuality:
    """DNSMOS of a sample of a corpus's utterances; `note` says why there are none."""

    scored: list[UtteranceScore] = field(default_factory=list)
    eligible: dict[str, int] = field(default_factory=dict)  # per role: utterances long enough to score
    too_short: dict[str, int] = field(default_factory=dict)  # per role: shorter than MIN_SECONDS
    failed: list[tuple[str, str]] = field(default_factory=list)  # (supervision id, why)
    per_role: int = 0
    note: str = ""

    def roles(self) -> list[str]:
        found = {u.role for u in self.scored}
        return [r for r in ROLE_ORDER if r in found] + sorted(found - set(ROLE_ORDER))

    def by_role(self, role: str) -> list[UtteranceScore]:
        return [u for u in self.scored if u.role == role]

    def summary_rows(self) -> list[list]:
        """Per role: scored / eligible, mean SIG, BAK, OVRL, P.808, median and lowest OVRL."""
        rows = []
        for role in self.roles():
            us = self.by_role(role)
            ovrl = [u.mos["ovrl"] for u in us]
            rows.append(
                [role, f"{len(us)} of {self.eligible.get(role, len(us))}"]
                + [f"{mean(u.mos[k] for u in us):.2f}" for k in ("sig", "bak", "ovrl", "p808")]
                + [f"{median(ovrl):.2f}", f"{min(ovrl):.2f}"]
            )
        return rows


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def speech_quality(summary: CorpusSummary, per_role: int = 10) -> SpeechQuality:
    """DNSMOS of up to `per_role` sampled utterances of each role of a collected corpus."""
    from datagen.qc.dnsmos import MIN_SECONDS, missing

    out = SpeechQuality(per_role=per_role)
    if per_role <= 0:
        out.note = "Speech quality was not computed (--dnsmos-utts 0)."
        return out
    if why := missing():
        out.note = f"Speech quality was not computed: {why}."
        return out
    candidates: dict[str, list[tuple]] = {}
    for row in summary.rows:
        for sup in row.supervisions:
            role, seconds = sup[1], sup[5] - sup[4]
            if seconds < MIN_SECONDS:
                out.too_short[role] = out.too_short.get(role, 0) + 1
            else:
                candidates.setdefault(role, []).append((row, sup))
    out.eligible = {role: len(c) for role, c in candidates.items()}
    want: dict[str, list[tuple]] = {}  # cut id -> its sampled supervisions
    shards = set()
    for items in candidates.values():
        for row, sup in sorted(items, key=lambda rs: _digest(rs[1][0]))[:per_role]:
            want.setdefault(row.id, []).append(sup)
            shards.add(row.shard)
    if not want:
        out.note = f"No utterance of at least {MIN_SECONDS:g} s to score."
        return out
    _score_cuts(summary, want, shards, out)
    out.scored.sort(key=lambda u: (u.role, u.cut_id, u.id))
    if not out.scored:
        out.note = "No sampled utterance had its audio in the corpus (recording tars missing?)."
    return out


def _score_cuts(summary: CorpusSummary, want: dict[str, list[tuple]], shards: set[str], out) -> None:
    from datagen.qc.dnsmos import score

    for cut in iter_cuts(summary.out_dir, with_audio=True, shards=shards):
        sups = want.get(cut.id)
        if not sups or not cut.has_recording:
            continue
        audio, sr = np.atleast_2d(cut.load_audio()), cut.sampling_rate
        for sid, role, kind, channel, start, end in sups:
            clip = audio[min(channel, audio.shape[0] - 1), int(round(start * sr)) : int(round(end * sr))]
            try:
                mos = score(clip, sr)
            except ValueError as e:  # an empty or broken span: named in the report, never a crash
                out.failed.append((sid, str(e)))
                continue
            out.scored.append(UtteranceScore(sid, cut.id, role, kind, round(end - start, 2), mos))


def histogram_png(sq: SpeechQuality) -> bytes:
    """OVRL, SIG and BAK of the scored utterances, one panel per role, on the 1-5 scale."""
    from datagen.report.plots import _png, _pyplot

    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    roles = sq.roles() or ["(none)"]
    fig, axes = plt.subplots(1, len(roles), figsize=(4.2 * len(roles), 3.4), squeeze=False)
    bins = np.linspace(1.0, 5.0, 33)
    for ax, role in zip(axes[0], roles, strict=True):
        us = sq.by_role(role)
        for key, color in (("ovrl", "#222222"), ("sig", "#2f7ed8"), ("bak", "#e4a21b")):
            values = [u.mos[key] for u in us]
            if values:
                ax.hist(values, bins=bins, histtype="step", lw=1.6, color=color, label=key.upper())
        ax.set_title(f"{role} (n={len(us)})", fontsize=10)
        ax.set_xlim(1, 5)
        ax.set_xlabel("DNSMOS (1-5)")
        ax.set_ylabel("utterances")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if us:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
