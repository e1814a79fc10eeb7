"""Turn-taking statistics on speech intervals: IPUs, pauses, gaps, overlaps.

Pure functions, no I/O, so the same numbers can be computed on our corpus,
on a model's live output or on a human reference set and compared like with
like. Definitions follow dGSLM (Nguyen et al., TACL 2023), after Heldner &
Edlund (2010):

- **IPU** (inter-pausal unit): a stretch of one speaker's speech bounded by
  >= 200 ms of silence *on that speaker's side*. Shorter silences inside one
  speaker's speech are merged away (they are not pauses).
- **Overlap**: a maximal stretch where two or more speakers' IPUs are active.
- **Silence**: a maximal stretch between the first and the last speech of the
  dialogue where nobody speaks. Leading and trailing silence is not counted:
  it lies between no two IPUs.
- **Pause**: a silence whose IPU before and IPU after belong to the same
  speaker (that speaker keeps the floor).
- **Gap**: a silence whose IPU before and IPU after belong to different
  speakers (a floor change with no overlap). A gap can be shorter than
  200 ms: the 200 ms bound only applies within one speaker.

Edge cases, chosen to match how the published figures are computed:

- **Overlap within a speaker's turn** (e.g. a backchannel or a distractor said
  over the assistant): it counts as an overlap, and as an IPU of the other
  speaker. It is also counted in `overlaps_within`, the overlaps after which
  the speaker who held the floor before still speaks; the other overlaps are
  floor changes by overlap (`overlaps_between`).
- **A backchannel in the other speaker's pause** splits that pause into two
  gaps (A -> B -> A): with IPUs on a combined timeline there is no silence
  left that both ends of belong to A.
- **Speaker views.** The "speakers" are whatever keys the caller passes. The
  2-party view SALMONN-omni reports uses the two channels (environment side,
  i.e. user + third parties, vs assistant); a per-role view gives more IPUs
  and gaps because a third party hands the floor to the user.
- **Turns.** `normalise_to_turns` scales by `turns`, the unit the caller
  chose (for SALMONN-omni's "5-turn dialogue" we read one turn as one
  question/answer round). By default `turn_stats` counts speaker turns as
  1 + floor changes (gaps + between-speaker overlaps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Interval = tuple[float, float]
KINDS: tuple[str, ...] = ("ipu", "pause", "gap", "overlap")

# Ties in start/end times: intervals come from float arithmetic on sample
# counts, so equality is judged with a tolerance well below one audio sample.
_EPS = 1e-9


def ipus(intervals: Iterable[Sequence[float]], min_silence: float = 0.2) -> list[Interval]:
    """Merge one speaker's speech intervals into IPUs.

    Intervals may be unsorted and may overlap (two supervisions of the same
    speaker that touch). Empty or negative-length intervals carry no speech
    and are dropped. Silences strictly shorter than `min_silence` are merged
    away; a silence of exactly `min_silence` separates two IPUs (">= 200 ms").
    """
    spans = sorted((float(s), float(e)) for s, e in intervals if float(e) - float(s) > _EPS)
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start - merged[-1][1] < min_silence - _EPS:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _boundaries(speaker_ipus: Mapping[str, list[Interval]]) -> list[tuple[float, int, str]]:
    """Sorted change points: (time, +1 start / -1 end, speaker); ends before starts at a tie."""
    points = [(s, 1, spk) for spk, spans in speaker_ipus.items() for s, _ in spans]
    points += [(e, -1, spk) for spk, spans in speaker_ipus.items() for _, e in spans]
    return sorted(points, key=lambda p: (p[0], p[1]))


def _sweep(speaker_ipus: Mapping[str, list[Interval]]) -> tuple[list[tuple], list[tuple]]:
    """One pass over the change points, returning silences and overlaps.

    Each silence is (start, end, speakers that stopped at start, speakers that
    started at end); each overlap is (start, end, speakers active just before
    it, speakers active just after it).
    """
    silences: list[tuple] = []
    overlaps: list[tuple] = []
    active: set[str] = set()
    before: set[str] = set()
    silence: list | None = None  # [start, stopped speakers]
    overlap: list | None = None  # [start, speakers active before]
    points = _boundaries(speaker_ipus)
    i = 0
    while i < len(points):
        t = points[i][0]
        prev = set(active)
        stopped, started = set(), set()
        while i < len(points) and points[i][0] - t <= _EPS:
            _, sign, spk = points[i]
            (active.add if sign > 0 else active.discard)(spk)
            (started if sign > 0 else stopped).add(spk)
            i += 1
        if prev and not active:
            silence = [t, stopped]
        elif prev and active and not prev & active:
            silences.append((t, t, stopped, started))  # a floor change with a zero gap
        elif not prev and active and silence is not None:
            silences.append((silence[0], t, silence[1], started))
            silence = None
        if len(prev) < 2 <= len(active):
            overlap = [t, before if len(prev) == 0 else prev]
        elif len(prev) >= 2 > len(active) and overlap is not None:
            overlaps.append((overlap[0], t, overlap[1], set(active)))
            overlap = None
        if active:
            before = set(active)
    return silences, overlaps


def turn_stats(
    speaker_intervals: Mapping[str, Iterable[Sequence[float]]],
    duration: float,
    min_silence: float = 0.2,
    turns: float | None = None,
) -> dict:
    """IPU, pause, gap and overlap counts and durations for one dialogue.

    `speaker_intervals` maps a speaker (or channel) name to its speech
    intervals in seconds; `duration` is the whole dialogue's length (the
    per-minute rates divide by it, silence at the edges included). Returns a
    dict with `counts`, `seconds` (cumulated), `durations` (one list per kind,
    for histograms), `per_minute`, `overlaps_within`, `overlaps_between`,
    `duration` and `turns`. Stats of several dialogues add up with
    `merge_stats`.
    """
    per_speaker = {spk: ipus(spans, min_silence) for spk, spans in speaker_intervals.items()}
    silences, overlaps = _sweep(per_speaker)
    durations: dict[str, list[float]] = {kind: [] for kind in KINDS}
    durations["ipu"] = [e - s for spans in per_speaker.values() for s, e in spans]
    for start, end, stopped, started in silences:
        durations["pause" if stopped & started else "gap"].append(end - start)
    within = 0
    for start, end, held, after in overlaps:
        durations["overlap"].append(end - start)
        within += bool(held & after)
    between = len(overlaps) - within
    stats = {
        "duration": float(duration),
        "turns": float(turns) if turns is not None else float(1 + len(durations["gap"]) + between),
        "durations": durations,
        "overlaps_within": within,
        "overlaps_between": between,
    }
    return _totals(stats)


def _totals(stats: dict) -> dict:
    """(Re)compute counts, cumulated seconds and per-minute rates from the duration lists."""
    durations = stats["durations"]
    stats["counts"] = {kind: len(durations[kind]) for kind in KINDS}
    stats["seconds"] = {kind: float(sum(durations[kind])) for kind in KINDS}
    minutes = stats["duration"] / 60.0
    stats["per_minute"] = {
        kind: {
            "count": stats["counts"][kind] / minutes if minutes > 0 else 0.0,
            "seconds": stats["seconds"][kind] / minutes if minutes > 0 else 0.0,
        }
        for kind in KINDS
    }
    return stats


def empty_stats() -> dict:
    """Stats of no dialogue at all: the neutral element of `merge_stats`."""
    return _totals(
        {
            "duration": 0.0,
            "turns": 0.0,
            "durations": {kind: [] for kind in KINDS},
            "overlaps_within": 0,
            "overlaps_between": 0,
        }
    )


def merge_stats(many: Iterable[dict]) -> dict:
    """Add up the stats of several dialogues into corpus-level stats.

    Rates are recomputed from the summed counts and durations (a mean of
    per-dialogue rates would weigh a 5 s dialogue like a 3 min one).
    """
    total = empty_stats()
    for stats in many:
        total["duration"] += stats["duration"]
        total["turns"] += stats["turns"]
        total["overlaps_within"] += stats["overlaps_within"]
        total["overlaps_between"] += stats["overlaps_between"]
        for kind in KINDS:
            total["durations"][kind].extend(stats["durations"][kind])
    return _totals(total)


def normalise_to_turns(stats: dict, turns: float = 5) -> dict:
    """Counts and cumulated seconds per `turns`-turn dialogue.

    SALMONN-omni (Table 7) reports cumulated IPU/pause/gap seconds of a
    dialogue normalised to 5 turns, so corpora with different dialogue
    lengths compare. Returns {kind: {"count", "seconds"}}; all zeros if the
    stats hold no turn.
    """
    scale = turns / stats["turns"] if stats["turns"] > 0 else 0.0
    return {
        kind: {"count": stats["counts"][kind] * scale, "seconds": stats["seconds"][kind] * scale}
        for kind in KINDS
    }


def median(values: Sequence[float]) -> float | None:
    """Median of a list, None when empty (the human references are medians)."""
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
