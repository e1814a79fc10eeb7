"""PNG plots for the corpus report: task mix, turn-taking histograms, dialogue timelines.

Each function returns PNG bytes rather than writing a file, so the HTML
report can embed them (one self-contained file to mail or attach) and a
caller that wants files writes the bytes itself. matplotlib is imported
inside the functions, with the Agg backend, so importing this module costs
nothing and works on a headless worker.
"""

from __future__ import annotations

import io

import numpy as np

from datagen.records import TASKS
from datagen.report.collect import CorpusSummary, CutRow, iter_cuts

ROLE_COLORS = {"user": "#2f7ed8", "third_party": "#e4a21b", "assistant": "#3b9c4a"}
EVENT_COLORS = {
    "turn_shift": "#222222",
    "pause": "#7f7f7f",
    "backchannel": "#17becf",
    "barge_in": "#d62728",
    "related_question": "#9467bd",
    "distractor": "#e4a21b",
    "stop": "#d62728",
    "finish": "#3b9c4a",
    "assistant_backchannel": "#2ca02c",  # the assistant's own cue in a dip of the user's turn
}
# Label strip colours: <think>, <shift>, text token.
LABEL_COLORS = ("#dddddd", "#d62728", "#4a7fb5")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def tasks_png(summary: CorpusSummary) -> bytes:
    """Dialogues and hours per task, side by side, so a skewed mix shows at a glance."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    tasks = list(summary.task_counts) or ["(none)"]
    counts = [summary.task_counts.get(t, 0) for t in tasks]
    hours = [summary.task_hours.get(t, 0.0) for t in tasks]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, values, label, color in (
        (axes[0], counts, "dialogues", "#4a7fb5"),
        (axes[1], hours, "hours", "#3b9c4a"),
    ):
        bars = ax.bar(range(len(tasks)), values, color=color)
        ax.set_xticks(range(len(tasks)), tasks, rotation=35, ha="right", fontsize=8)
        ax.set_ylabel(label)
        ax.set_title(f"{label} per task")
        fmt = "{:d}" if label == "dialogues" else "{:.3g}"
        ax.bar_label(bars, labels=[fmt.format(v) for v in values], fontsize=7)
        if label == "dialogues":
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(y=0.15)
    fig.tight_layout()
    return _png(fig)


def _duration_axes(ax, human_median: float, title: str) -> None:
    """A duration histogram's frame: the Fisher median as a dashed line, title, labels."""
    ax.axvline(human_median, color="#d62728", ls="--", lw=1.2, label=f"Fisher median {human_median:.2f} s")
    ax.set_title(title, fontsize=10)
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds")
    ax.set_ylabel("count")
    ax.legend(fontsize=7)


def histograms_png(summary: CorpusSummary) -> bytes:
    """Distributions of gaps, overlaps, pauses (2-party channel view) and utterance durations by role.

    Dashed lines mark the Fisher human medians (REFERENCE §2) so the synthetic
    timing can be judged against conversation, not just summarised.
    """
    plt = _pyplot()
    durations = summary.channel_stats["durations"]
    human = {"gap": 0.32, "overlap": 0.56, "pause": 0.40}
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.4))
    for ax, kind in zip(axes.flat[:3], ("gap", "overlap", "pause"), strict=True):
        values = np.asarray(durations[kind], dtype=float)
        if values.size:
            ax.hist(values, bins=min(40, max(5, values.size // 3)), color="#4a7fb5", alpha=0.85)
            ax.axvline(
                float(np.median(values)), color="#222222", lw=1.2, label=f"median {np.median(values):.2f} s"
            )
        _duration_axes(ax, human[kind], f"{kind}s, environment vs assistant channel (n={values.size})")
    ax = axes.flat[3]
    by_role: dict[str, list[float]] = {}
    for row in summary.rows:
        for role, _, dur in row.utterances:
            by_role.setdefault(role, []).append(dur)
    if by_role:
        roles = sorted(by_role)
        ax.hist(
            [by_role[r] for r in roles],
            bins=30,
            stacked=True,
            color=[ROLE_COLORS.get(r, "#999999") for r in roles],
            label=[f"{r} (n={len(by_role[r])})" for r in roles],
        )
        ax.legend(fontsize=7)
    ax.set_title("utterance (supervision) durations by role", fontsize=10)
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds")
    ax.set_ylabel("count")
    fig.tight_layout()
    return _png(fig)


def pick_timelines(summary: CorpusSummary, max_n: int = len(TASKS)) -> list[CutRow]:
    """Rows to draw: the first dialogue of each task (in TASKS order), then more of the commonest.

    Taking the first occurrences keeps the picks in the earliest shards, so
    loading their audio opens few tars.
    """
    first: dict[str, CutRow] = {}
    for row in summary.rows:
        first.setdefault(row.task, row)
    order = [t for t in TASKS if t in first] + sorted(t for t in first if t not in TASKS)
    picks = [first[t] for t in order][:max_n]
    chosen = {r.id for r in picks}
    for row in summary.rows:
        if len(picks) >= max_n:
            break
        if row.id not in chosen:
            picks.append(row)
            chosen.add(row.id)
    return picks


def _envelope(signal: np.ndarray, sr: int, points: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Peak envelope over `points` bins: the shape of a long waveform without plotting every sample."""
    n = signal.shape[-1]
    hop = max(1, n // points)
    usable = (n // hop) * hop
    peaks = np.abs(signal[:usable]).reshape(-1, hop).max(axis=1) if usable else np.zeros(0)
    return (np.arange(peaks.size) * hop + hop / 2) / sr, peaks


def _draw_channel(ax, times, env, sups, duration: float, name: str) -> None:
    """One channel: its waveform envelope with supervisions as role-coloured spans and their text."""
    ax.fill_between(times, -env, env, color="#666666", lw=0, alpha=0.85)
    top = max(float(env.max()) if env.size else 0.0, 1e-3) * 1.05
    ax.set_ylim(-top, top * 1.7)  # the band above the waveform holds the texts, so they stay readable
    for i, sup in enumerate(sorted(sups, key=lambda s: s.start)):
        sc = sup.custom or {}
        role = sc.get("role", "assistant")
        color = ROLE_COLORS.get(role, "#999999")
        ax.axvspan(sup.start, sup.end, color=color, alpha=0.22, lw=0)
        text = sc.get("spoken_text") or sup.text or ""
        text = text if len(text) <= 36 else text[:35] + "…"
        kind = sc.get("kind", "turn")
        label = f"[{kind}] {text}" if kind != "turn" else text
        y = top * (1.22 if i % 2 == 0 else 1.5)
        ax.text(sup.start, y, label, fontsize=7, color=color, va="center", clip_on=True, fontweight="bold")
    ax.set_xlim(0, duration)
    ax.set_yticks([])
    ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")


def _draw_labels(ax, labels: np.ndarray, meta: dict, duration: float) -> None:
    """The label track as a strip: think grey, text blue, and the <shift> blocks in red, drawn wide."""
    from matplotlib.colors import ListedColormap

    block = float(meta.get("block_s", 0.08))
    shift_id, text_offset = meta.get("shift_id", 1), meta.get("text_offset", 2)
    cls = np.where(labels == shift_id, 1, np.where(labels >= text_offset, 2, 0))
    ax.imshow(
        cls[None, :],
        aspect="auto",
        cmap=ListedColormap(LABEL_COLORS),
        vmin=0,
        vmax=2,
        extent=(0, labels.size * block, 0, 1),
        interpolation="nearest",
    )
    for idx in np.flatnonzero(labels == shift_id):
        ax.axvspan(idx * block, (idx + 1) * block, color=LABEL_COLORS[1], lw=1.5)
    ax.set_xlim(0, duration)
    ax.set_yticks([])
    ax.set_ylabel("labels", fontsize=8, rotation=0, ha="right", va="center")
    ax.set_xlabel("seconds")


def timeline_png(cut, title: str = "") -> bytes:
    """One dialogue: both channels, supervisions by role, events, and the label track.

    The point is to see at once whether the labels agree with the audio: the
    red <shift> blocks should sit where the assistant channel starts
    (`synth_delay_s` after the decision) and where it stops.
    """
    plt = _pyplot()
    from matplotlib.patches import Patch

    audio = np.atleast_2d(cut.load_audio())
    sr = int(cut.sampling_rate)
    duration = float(cut.duration)
    custom = cut.custom or {}
    meta = custom.get("label_meta", {})
    has_labels = cut.has_custom("labels")
    fig, axes = plt.subplots(
        3 if has_labels else 2,
        1,
        figsize=(14, 4.6 if has_labels else 4.0),
        sharex=True,
        gridspec_kw={"height_ratios": [4, 4, 0.7] if has_labels else [4, 4]},
    )
    names = ("ch0 environment", "ch1 assistant")
    for ch, ax in enumerate(axes[:2]):
        times, env = _envelope(audio[min(ch, audio.shape[0] - 1)], sr)
        sups = [s for s in cut.supervisions if (s.channel == 1) == (ch == 1)]
        _draw_channel(ax, times, env, sups, duration, names[ch])
    if has_labels:
        _draw_labels(axes[2], np.asarray(cut.load_labels()), meta, duration)
    for i, event in enumerate(custom.get("events", [])):
        color = EVENT_COLORS.get(event.get("kind"), "#444444")
        t = float(event.get("time", 0.0))
        for ax in axes:
            ax.axvline(t, color=color, lw=1.1, ls="--")
        expect = f" ({event['expect']})" if event.get("expect") not in ("", None, event.get("kind")) else ""
        axes[0].annotate(
            f"{event.get('kind')}{expect}",
            xy=(t, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, 2 + 9 * (i % 2)),
            textcoords="offset points",
            fontsize=7,
            color=color,
            annotation_clip=False,
        )
    handles = [Patch(color=c, alpha=0.4, label=r) for r, c in ROLE_COLORS.items()]
    handles += [
        Patch(color=c, label=n) for n, c in zip(("<think>", "<shift>", "text"), LABEL_COLORS, strict=True)
    ]
    axes[-1].legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -2.6), ncol=8, fontsize=7)
    fig.suptitle(title or f"{cut.id} ({custom.get('task', '?')})", fontsize=10, y=1.06)
    return _png(fig)


def timeline_pngs(summary: CorpusSummary, max_n: int = len(TASKS)) -> list[tuple[CutRow, bytes]]:
    """Timelines of up to `max_n` dialogues covering distinct tasks, loading only their shards' audio."""
    picks = pick_timelines(summary, max_n)
    wanted = {r.id: r for r in picks}
    shards = {r.shard for r in picks} if all(r.shard for r in picks) else None
    drawn: dict[str, bytes] = {}
    for cut in iter_cuts(summary.out_dir, with_audio=True, shards=shards):
        if cut.id in wanted and cut.id not in drawn:
            row = wanted[cut.id]
            drawn[cut.id] = timeline_png(cut, f"{row.id} · task {row.task} · {row.duration:.1f} s")
            if len(drawn) == len(wanted):
                break
    return [(r, drawn[r.id]) for r in picks if r.id in drawn]


def audio_vs_supervision_png(sup_stats: dict, audio_stats: dict) -> bytes:
    """Pauses, gaps and overlaps as the supervisions mark them vs as silero-vad hears
    them, on the same dialogues, with the Fisher human medians (REFERENCE §2)."""
    plt = _pyplot()
    human = {"gap": 0.32, "overlap": 0.56, "pause": 0.40}
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
    for ax, kind in zip(axes.flat, ("pause", "gap", "overlap"), strict=True):
        sup = np.asarray(sup_stats["durations"][kind], dtype=float)
        vad = np.asarray(audio_stats["durations"][kind], dtype=float)
        both = np.concatenate([sup, vad])
        if both.size:
            bins = np.linspace(0.0, max(float(both.max()), 0.5), 30)
            ax.hist(sup, bins=bins, color="#4a7fb5", alpha=0.6, label=f"supervisions (n={sup.size})")
            ax.hist(vad, bins=bins, color="#e4a21b", alpha=0.6, label=f"audio VAD (n={vad.size})")
        _duration_axes(ax, human[kind], f"{kind}s, 2-party view")
    fig.tight_layout()
    return _png(fig)
