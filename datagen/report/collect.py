"""Read a corpus folder into one summary: per-dialogue rows and corpus totals.

Only the cut manifests and the (small) label arrays are read; the audio tars
are never opened here, so a summary of a large corpus costs one pass over
its JSONL and label shards. The plots load audio for the few dialogues they
draw, by shard (see `load_cuts`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datagen.records import TASKS
from datagen.report.turntaking import empty_stats, merge_stats, turn_stats

CHANNEL_NAMES: tuple[str, str] = ("environment", "assistant")
_SHARD = re.compile(r"^\w+?(?:\.(\d+))?\.(jsonl\.gz|tar)$")  # shard_size=None: no number


@dataclass
class CutRow:
    """What the report needs of one dialogue, without its audio."""

    id: str
    task: str
    duration: float
    shard: str  # cuts manifest it came from, to reload its audio later
    n_turns: int  # user + assistant turns (distinct turn indices per role)
    n_rounds: int  # assistant turns: one question/answer round each
    channel_intervals: dict[str, list[tuple[float, float]]]
    role_intervals: dict[str, list[tuple[float, float]]]
    utterances: list[tuple[str, str, float]]  # (role, kind, duration)
    events: list[dict]
    n_shift: int = 0
    n_text_blocks: int = 0
    n_blocks: int = 0
    # (supervision id, role, kind, channel, start, end): where each utterance's audio is (DNSMOS)
    supervisions: list[tuple[str, str, str, int, float, float]] = field(default_factory=list)


@dataclass
class CorpusSummary:
    """Corpus totals and rows; `format_summary` and the HTML report render it."""

    out_dir: Path
    rows: list[CutRow] = field(default_factory=list)
    task_counts: dict[str, int] = field(default_factory=dict)
    task_hours: dict[str, float] = field(default_factory=dict)
    event_counts: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)  # by reason
    rejects_by_stage: dict[str, int] = field(default_factory=dict)
    n_rejects: int = 0
    stats: dict = field(default_factory=dict)  # stats.json as written by the executor
    channel_stats: dict = field(default_factory=empty_stats)  # 2-party view, merged
    role_stats: dict = field(default_factory=empty_stats)  # user / third_party / assistant view
    label_meta: dict = field(default_factory=dict)

    @property
    def dialogues(self) -> int:
        return len(self.rows)

    @property
    def hours(self) -> float:
        return sum(r.duration for r in self.rows) / 3600.0

    @property
    def n_shift(self) -> int:
        return sum(r.n_shift for r in self.rows)


def _shard_files(shar_dir: Path, prefix: str, suffix: str) -> dict[str, Path]:
    """Shard number -> file, so cuts and label tars pair up by number, not by list position."""
    out = {}
    for path in shar_dir.glob(f"{prefix}.*"):
        match = _SHARD.search(path.name)
        if match and path.name.endswith(suffix):
            out[match.group(1) or ""] = path
    return out


def iter_cuts(out_dir: Path | str, with_audio: bool = False, shards: set[str] | None = None) -> Iterator:
    """Lazily yield the corpus's cuts, shard by shard.

    Without audio only cuts and labels are opened. `shards` restricts the
    pass to some shard numbers (e.g. "000003"), so a plot can fetch a few
    dialogues without reading every audio tar.
    """
    from lhotse import CutSet

    shar_dir = Path(out_dir) / "shar"
    cuts = _shard_files(shar_dir, "cuts", ".jsonl.gz")
    labels = _shard_files(shar_dir, "labels", ".tar")
    recordings = _shard_files(shar_dir, "recording", ".tar")
    for number in sorted(cuts):
        if shards is not None and number not in shards:
            continue
        fields = {"cuts": [str(cuts[number])]}
        if number in labels:
            fields["labels"] = [str(labels[number])]
        if with_audio and number in recordings:
            fields["recording"] = [str(recordings[number])]
        yield from CutSet.from_shar(fields=fields)


def shard_number(path: str) -> str:
    """The shard number in a Shar file name ("" when there is none)."""
    match = _SHARD.search(Path(path).name)
    return (match.group(1) or "") if match else ""


def _label_counts(cut, meta: dict) -> tuple[int, int, int]:
    """(<shift> blocks, text-token blocks, all blocks) of a cut's label track; zeros if it has none."""
    if not cut.has_custom("labels"):
        return 0, 0, 0
    try:
        labels = np.asarray(cut.load_labels())
    except Exception:  # a manifest that names labels whose tar is missing: report none, don't fail
        return 0, 0, 0
    shift_id, text_offset = meta.get("shift_id", 1), meta.get("text_offset", 2)
    return int((labels == shift_id).sum()), int((labels >= text_offset).sum()), int(labels.size)


def cut_row(cut, shard: str = "") -> CutRow:
    """One dialogue's row, from its supervisions, events and labels."""
    custom = cut.custom or {}
    channels: dict[str, list[tuple[float, float]]] = {name: [] for name in CHANNEL_NAMES}
    roles: dict[str, list[tuple[float, float]]] = {}
    utterances, turns, sups = [], set(), []
    for sup in cut.supervisions:
        sc = sup.custom or {}
        role = sc.get("role", "assistant" if sup.channel == 1 else "user")
        span = (float(sup.start), float(sup.end))
        channel = sup.channel if isinstance(sup.channel, int) else sup.channel[0]
        channels[CHANNEL_NAMES[1 if channel == 1 else 0]].append(span)
        roles.setdefault(role, []).append(span)
        utterances.append((role, sc.get("kind", "turn"), float(sup.duration)))
        sups.append((sup.id, role, sc.get("kind", "turn"), 1 if channel == 1 else 0, *span))
        if sc.get("kind", "turn") in ("turn", "pause_part") and role in ("user", "assistant"):
            turns.add((role, sc.get("turn", sup.id)))
    shift, text, blocks = _label_counts(cut, custom.get("label_meta", {}))
    return CutRow(
        id=cut.id,
        task=custom.get("task", "unknown"),
        duration=float(cut.duration),
        shard=shard,
        n_turns=len(turns),
        n_rounds=sum(1 for role, _ in turns if role == "assistant"),
        channel_intervals=channels,
        role_intervals=roles,
        utterances=utterances,
        events=list(custom.get("events", [])),
        n_shift=shift,
        n_text_blocks=text,
        n_blocks=blocks,
        supervisions=sups,
    )


def _read_rejects(path: Path) -> tuple[Counter, Counter, int]:
    """Rejects by reason and by stage; a line that is not JSON counts as reason "unreadable_line"."""
    reasons, stages, total = Counter(), Counter(), 0
    if not path.exists():
        return reasons, stages, 0
    with path.open(encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            total += 1
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                rec = {"reason": "unreadable_line", "stage": "?"}
            reasons[str(rec.get("reason", "?"))] += 1
            stages[str(rec.get("stage", "?"))] += 1
    return reasons, stages, total


def collect(out_dir: Path | str) -> CorpusSummary:
    """Summarise a corpus folder (`shar/`, `stats.json`, `rejects.jsonl`); missing parts count as empty."""
    out_dir = Path(out_dir)
    summary = CorpusSummary(out_dir=out_dir)
    chan, role = [], []
    for cut in iter_cuts(out_dir):
        row = cut_row(cut, shard_number((cut.custom or {}).get("shard_origin", "")))
        summary.rows.append(row)
        summary.label_meta = summary.label_meta or dict((cut.custom or {}).get("label_meta", {}))
        turns = row.n_rounds or None
        chan.append(turn_stats(row.channel_intervals, row.duration, turns=turns))
        role.append(turn_stats(row.role_intervals, row.duration, turns=turns))
    summary.channel_stats, summary.role_stats = merge_stats(chan), merge_stats(role)
    tasks = Counter(r.task for r in summary.rows)
    order = [t for t in TASKS if t in tasks] + sorted(t for t in tasks if t not in TASKS)
    summary.task_counts = {t: tasks[t] for t in order}
    summary.task_hours = {t: sum(r.duration for r in summary.rows if r.task == t) / 3600 for t in order}
    summary.event_counts = dict(Counter(e.get("kind", "?") for r in summary.rows for e in r.events))
    reasons, stages, summary.n_rejects = _read_rejects(out_dir / "rejects.jsonl")
    summary.rejects, summary.rejects_by_stage = dict(reasons.most_common()), dict(stages.most_common())
    stats_path = out_dir / "stats.json"
    if stats_path.exists():
        summary.stats = json.loads(stats_path.read_text(encoding="utf-8"))
    return summary


def accounting_line(summary: CorpusSummary) -> str:
    """Do inputs add up? Dialogues (kept + rejected against planned) and input rows
    (rejects of the `questions` stage) are counted apart: a rejected question row is
    not a dialogue, so adding it to the dialogues' rejects never matches the plan."""
    kept = int(summary.stats.get("kept", summary.dialogues))
    rows = summary.rejects_by_stage.get("questions", 0)
    rejected = summary.n_rejects - rows
    line = f"kept {kept} + rejected {rejected} = {kept + rejected}"
    if "planned" in summary.stats:
        planned = int(summary.stats["planned"])
        line += f" vs planned {planned}: {'OK' if kept + rejected == planned else 'MISMATCH'}"
    if rows or "questions_rejected" in summary.stats:
        loaded = summary.stats.get("questions_loaded")
        line += f"; input rows rejected {rows}" + (f" of {loaded} loaded" if loaded is not None else "")
        if int(summary.stats.get("questions_rejected", rows)) != rows:
            line += f" (stats.json says {summary.stats['questions_rejected']}: MISMATCH)"
    if kept != summary.dialogues:
        line += f" (stats.json kept {kept}, shards hold {summary.dialogues})"
    return line


def _table(title: str, rows: list[tuple], headers: tuple[str, ...]) -> list[str]:
    """A plain fixed-width table, so `datagen inspect` output pastes into a ticket."""
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [title]
    for i, row in enumerate(cells):
        lines.append(
            "  "
            + "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if i == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return lines


def format_summary(summary: CorpusSummary) -> str:
    """A compact text view of a summary (the `datagen inspect` output)."""
    lines = [
        f"corpus   {summary.out_dir}",
        f"dialogues {summary.dialogues}   hours {summary.hours:.3f}   <shift> labels {summary.n_shift}",
        "",
    ]
    tasks = [(t, n, f"{summary.task_hours[t]:.3f}") for t, n in summary.task_counts.items()]
    lines += _table("per task", tasks or [("(none)", 0, "0")], ("task", "dialogues", "hours")) + [""]
    events = sorted(summary.event_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines += _table("events", events or [("(none)", 0)], ("event", "count")) + [""]
    rejects = list(summary.rejects.items())
    lines += _table("rejects by reason", rejects or [("(none)", 0)], ("reason", "count")) + [""]
    from datagen.report.text_quality import format_text_quality

    lines += format_text_quality(summary.stats)
    lines.append("inputs   " + accounting_line(summary))
    return "\n".join(lines)
