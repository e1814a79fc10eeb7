"""The human report: one self-contained HTML page per corpus.

Plots are embedded as base64 PNG data URIs so `report/index.html` can be
mailed, attached to a ticket or opened from an object store without its
neighbours. Every string that comes from the data (ids, texts, reasons,
stats keys) goes through `html.escape`: dialogue text is LLM output and may
hold markup.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from datagen.records import TASKS
from datagen.report.audio_turns import ECHO_TAIL_S, AudioTurns, audio_turns
from datagen.report.collect import CorpusSummary, accounting_line, collect
from datagen.report.plots import audio_vs_supervision_png, histograms_png, tasks_png, timeline_pngs
from datagen.report.speech_quality import SpeechQuality, histogram_png, speech_quality
from datagen.report.turntaking import KINDS, median, normalise_to_turns

# REFERENCE §1: SALMONN-omni (arXiv 2505.17060) Table 7, seconds per dialogue normalised to 5 turns.
SALMONN_TABLE7 = {
    "training data": {"ipu": 61.89, "pause": 5.49, "gap": 6.50},
    "live model": {"ipu": 63.30, "pause": 4.68, "gap": 5.01},
}
# REFERENCE §2: Fisher English telephone medians (s); Stivers et al. 2009 cross-language gap.
HUMAN_MEDIANS = {"gap": 0.32, "pause": 0.40, "overlap": 0.56}

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:3px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f2f2f2}
img{max-width:100%;border:1px solid #eee;margin:.3em 0 1em}.note{color:#555;font-size:.9em}
"""


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _table(headers: list[str], rows: list[list], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i >= numeric_from else f"<td>{_e(c)}</td>"
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _summary_section(s: CorpusSummary) -> str:
    rows = [
        ["dialogues", s.dialogues],
        ["hours", f"{s.hours:.3f}"],
        ["<shift> labels", s.n_shift],
        ["rejected inputs", s.n_rejects],
        ["inputs", accounting_line(s)],
    ]
    stats = [[k, json.dumps(v) if isinstance(v, (dict, list)) else v] for k, v in sorted(s.stats.items())]
    out = "<h2 id='summary'>Summary</h2>" + _table(["", "value"], rows)
    if stats:
        out += "<h3>stats.json</h3>" + _table(["counter", "value"], stats)
    return out


def _tasks_section(s: CorpusSummary) -> str:
    rows = [
        [t, n, f"{s.task_hours[t]:.3f}", f"{100 * n / max(1, s.dialogues):.1f}%"]
        for t, n in s.task_counts.items()
    ]
    events = sorted(s.event_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return (
        "<h2 id='tasks'>Tasks and events</h2>"
        + _table(["task", "dialogues", "hours", "share"], rows)
        + _table(["event", "count"], [list(kv) for kv in events])
    )


def _rejects_section(s: CorpusSummary) -> str:
    out = "<h2 id='rejects'>Rejects by reason</h2>"
    if not s.rejects:
        return out + "<p>No rejects.</p>"
    out += _table(["reason", "count"], [list(kv) for kv in s.rejects.items()])
    return out + _table(["stage", "count"], [list(kv) for kv in s.rejects_by_stage.items()])


def _text_quality_section(s: CorpusSummary) -> str:
    from datagen.report.text_quality import text_quality_rows

    rows = text_quality_rows(s.stats)
    if not rows:
        return ""
    return (
        "<h2 id='text'>Text quality</h2><p class='note'>How well the LLM followed the prompts "
        "(stats.json counters of the text stage; raw slips are counted before normalisation).</p>"
        + _table(["metric", "value"], [list(r) for r in rows])
    )


def _turntaking_section(s: CorpusSummary) -> str:
    """Per-minute and per-5-turn figures beside SALMONN-omni's and human references."""
    rows = []
    for view, stats in (("channels (2-party)", s.channel_stats), ("roles", s.role_stats)):
        five = normalise_to_turns(stats, 5)
        for kind in KINDS:
            pm = stats["per_minute"][kind]
            rows.append(
                [
                    view,
                    kind,
                    _fmt(pm["count"]),
                    _fmt(pm["seconds"]),
                    _fmt(five[kind]["count"]),
                    _fmt(five[kind]["seconds"]),
                    _fmt(median(stats["durations"][kind])),
                    _fmt(SALMONN_TABLE7["training data"].get(kind)) if view.startswith("channels") else "",
                    _fmt(SALMONN_TABLE7["live model"].get(kind)) if view.startswith("channels") else "",
                    _fmt(HUMAN_MEDIANS.get(kind)) if kind != "ipu" else "–",
                ]
            )
    headers = [
        "view",
        "kind",
        "count / min",
        "seconds / min",
        "count / 5 turns",
        "seconds / 5 turns",
        "median s",
        "SALMONN-omni data s / 5 turns",
        "SALMONN-omni live s / 5 turns",
        "human median s (Fisher)",
    ]
    cs = s.channel_stats
    return (
        "<h2 id='turntaking'>Turn-taking statistics</h2>"
        "<p class='note'>dGSLM definitions (Nguyen et al., TACL 2023): an IPU is one speaker's speech "
        "bounded by ≥ 200 ms of silence on that side; a pause is silence between two IPUs of the same "
        "speaker; a gap is silence between IPUs of different speakers; an overlap is time when both "
        "speak. The 2-party view treats channel 0 (user + third parties) and channel 1 (assistant) as "
        "the two speakers, as SALMONN-omni does; here speech is what the supervisions mark, so noise "
        "and echo never count and an answer is one IPU even across its sentences (see the audio-based "
        "table below). “Per 5 turns” scales by the number of question/answer rounds (assistant turns), "
        "our reading of SALMONN-omni's “5-turn dialogue”.</p>"
        + _table(headers, rows, numeric_from=2)
        + f"<p class='note'>Overlaps within a turn (backchannels, distractors): {cs['overlaps_within']}; "
        f"overlaps that change the floor (barge-ins): {cs['overlaps_between']} (2-party view).</p>"
        "<p class='note'>Sources: SALMONN-omni (arXiv 2505.17060) Table 7, IPU/pause/gap seconds of a "
        "dialogue normalised to 5 turns, for its training data and the model in live use. Human: Fisher "
        "English telephone medians gap 0.32 s, pause 0.40 s, overlap 0.56 s; typical between-speaker gap "
        "≈ 200 ms across 10 languages (Stivers et al. 2009, PNAS; Japanese ≈ 7 ms, Danish ≈ 470 ms). "
        "MinMo drew its synthetic user-start gap from N(0.6 s, 0.4²).</p>"
    )


def _audio_section(s: CorpusSummary, audio: AudioTurns | None) -> str:
    """Supervision-based vs VAD-based figures on the same sampled dialogues, beside the references."""
    out = "<h3 id='turntaking-audio'>From the audio (silero-vad) vs from supervisions</h3>"
    if audio is None or not audio.n_cuts:
        note = audio.note if audio is not None else "Audio-based figures were not computed."
        return out + f"<p class='note'>{_e(note)}</p>"
    sup5, vad5 = normalise_to_turns(audio.sup_stats, 5), normalise_to_turns(audio.stats, 5)
    all5 = normalise_to_turns(s.channel_stats, 5)
    rows = [
        [
            kind,
            _fmt(all5[kind]["seconds"]),
            _fmt(sup5[kind]["count"]),
            _fmt(sup5[kind]["seconds"]),
            _fmt(median(audio.sup_stats["durations"][kind])),
            _fmt(vad5[kind]["count"]),
            _fmt(vad5[kind]["seconds"]),
            _fmt(median(audio.stats["durations"][kind])),
            _fmt(SALMONN_TABLE7["training data"].get(kind)),
            _fmt(SALMONN_TABLE7["live model"].get(kind)),
            _fmt(HUMAN_MEDIANS.get(kind)) if kind != "ipu" else "–",
        ]
        for kind in KINDS
    ]
    headers = [
        "kind",
        f"supervisions, all {s.dialogues}: s / 5 turns",
        "supervisions, sample: count / 5 turns",
        "supervisions, sample: s / 5 turns",
        "supervisions, sample: median s",
        "audio VAD, sample: count / 5 turns",
        "audio VAD, sample: s / 5 turns",
        "audio VAD, sample: median s",
        "SALMONN-omni data s / 5 turns",
        "SALMONN-omni live s / 5 turns",
        "human median s (Fisher)",
    ]
    sampled = (
        f"all {audio.n_cuts}"
        if audio.n_cuts >= audio.n_total
        else f"a sample of {audio.n_cuts} of {audio.n_total}"
    )
    return (
        out
        + f"<p class='note'>Voice activity of each channel of the mixed audio (silero-vad at 16 kHz), "
        f"turned into IPUs, pauses, gaps and overlaps with the same dGSLM definitions (≥ 200 ms silence). "
        f"Unlike supervisions, this counts the silences between the sentences of one answer as pauses, "
        f"and what TTS and the mix add around speech. Computed on {sampled} dialogues, picked by a hash "
        f"of their ids (report option <code>--vad-cuts</code>); the supervision columns use the same "
        f"dialogues. Channel 0 also carries noise and the echo of the assistant: channel-0 speech inside "
        f"the echo's window (assistant speech delayed by the cut's echo delay, plus a "
        f"{_e(ECHO_TAIL_S)} s reverb tail) and under no channel-0 supervision is dropped as echo "
        f"({audio.echo_seconds:.1f} s in {audio.echo_cuts} dialogues); noise silero takes for speech "
        f"is counted as speech.</p>"
        + _table(headers, rows)
        + f"<p class='note'>Audio view: overlaps within a turn {audio.stats['overlaps_within']}, "
        f"overlaps that change the floor {audio.stats['overlaps_between']}. Sources as above: "
        "SALMONN-omni (arXiv 2505.17060) Table 7; Fisher English medians (REFERENCE §2).</p>"
        + _img(audio_vs_supervision_png(audio.sup_stats, audio.stats), "pauses, gaps and overlaps: "
               "supervisions vs audio")
    )  # fmt: skip


def _speech_quality_section(sq: SpeechQuality | None) -> str:
    """DNSMOS per role (table, histograms) and per utterance (a folded table)."""
    out = "<h2 id='speech-quality'>Speech quality (DNSMOS)</h2>"
    if sq is None or not sq.scored:
        return out + f"<p class='note'>{_e(sq.note if sq else 'Speech quality was not computed.')}</p>"
    short = ", ".join(f"{r} {n}" for r, n in sorted(sq.too_short.items())) or "none"
    out += (
        "<p class='note'>DNSMOS P.835 (SIG: the speech, BAK: the background, OVRL: overall) and P.808, "
        "each a predicted listener rating from 1 to 5, by Microsoft's models in the <code>speechmos</code> "
        "package. Each utterance is its supervision's span of its channel in the corpus audio: the "
        "assistant's clean channel 1; users and third parties on channel 0, with the noise, room and "
        f"echo the model hears. A sample of up to {sq.per_role} utterances per role, picked by a hash of "
        "their ids (report option <code>--dnsmos-utts</code>); utterances under 1 s are not scored "
        f"({_e(short)}).</p>"
    )
    headers = ["role", "scored", "SIG", "BAK", "OVRL", "P.808", "median OVRL", "lowest OVRL"]
    out += _table(headers, sq.summary_rows(), numeric_from=1)
    out += _img(histogram_png(sq), "DNSMOS per role")
    rows = [
        [u.id, u.role, u.kind, f"{u.seconds:.2f}"]
        + [f"{u.mos[k]:.2f}" for k in ("sig", "bak", "ovrl", "p808")]
        for u in sq.scored
    ]
    heads = ["utterance", "role", "kind", "seconds", "SIG", "BAK", "OVRL", "P.808"]
    out += "<details><summary>per utterance</summary>" + _table(heads, rows, numeric_from=3) + "</details>"
    if sq.failed:
        failed = _table(["utterance", "why"], [list(f) for f in sq.failed])
        out += "<p class='note'>Not scored:</p>" + failed
    return out


def _card_section(s: CorpusSummary) -> str:
    meta = s.label_meta
    block = meta.get("block_s", 0.08)
    delay = meta.get("synth_delay_s", 0.32)
    tokenizer = meta.get("tokenizer", "(not recorded)")
    return f"""<h2 id='card'>Dataset card</h2>
<ul>
<li><b>Layout.</b> Lhotse Shar in <code>shar/</code>: one 2-channel 16 kHz MultiCut per dialogue (FLAC),
its supervisions and a per-block label track (numpy). Rejected inputs are listed in
<code>rejects.jsonl</code> with stage and reason; counters in <code>stats.json</code>.</li>
<li><b>Channels.</b> Channel 0 is the environment stream: everything the assistant hears (user, third
parties, background noise, the echo of its own voice). Channel 1 is the assistant's clean speech.</li>
<li><b>Labels.</b> One token per {_e(block)} s block: <code>&lt;think&gt;</code> (id 0) while listening
and after the answer's text runs out while its audio still plays; <code>&lt;shift&gt;</code> (id 1) in
the block where the assistant decides to speak and where it decides to stop (end of its audio or its
reaction to a barge-in); text tokens (ids ≥ 2, tokenizer {_e(tokenizer)}) one per block in between.
Assistant audio starts {_e(delay)} s after the decision to speak.</li>
<li><b>Behaviour.</b> Every event carries the behaviour it teaches (<code>expect</code>: continue, stop or
finish): backchannels and unrelated third-party remarks → keep talking; barge-ins and related questions
→ stop; no interruption → finish. Nothing is inferred afterwards.</li>
<li><b>Licences of the generating parts.</b> The pipeline code is Apache-2.0. The audio and text are
outputs of the components the recipe named, each under its own terms, which bind redistribution of this
corpus: TTS (Piper is GPL-3.0-or-later with a separately licensed voice; espeak-ng is GPL-3.0;
CosyVoice2 is Apache-2.0), the LLM that wrote the dialogues (e.g. Llama-3-8B-Instruct under the Meta
Llama 3 Community License), the question sets and the speaker-prompt audio (e.g. LibriHeavy /
Libri-Light) under their own licences. Check each before publishing.</li>
<li><b>Known limits.</b> Synthetic speech and timing; turn-taking figures above show how far they are
from human conversation.</li>
</ul>"""


def render_html(
    summary: CorpusSummary,
    max_timelines: int = len(TASKS),
    audio: AudioTurns | None = None,
    quality: SpeechQuality | None = None,
) -> str:
    """The report page for a summary (build_report writes it); `audio` adds the VAD-based
    figures, `quality` the DNSMOS ones."""
    timelines = timeline_pngs(summary, max_timelines) if max_timelines > 0 else []
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Corpus report: {_e(summary.out_dir.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Corpus report: {_e(summary.out_dir.name)}</h1>",
        _summary_section(summary),
        _tasks_section(summary),
        _img(tasks_png(summary), "dialogues and hours per task"),
        _rejects_section(summary),
        _text_quality_section(summary),
        _turntaking_section(summary),
        _audio_section(summary, audio),
        _speech_quality_section(quality),
        "<h2 id='histograms'>Distributions</h2>",
        _img(histograms_png(summary), "histograms of gaps, overlaps, pauses and utterance durations"),
        "<h2 id='timelines'>Sample dialogues</h2>",
        "<p class='note'>Waveform envelopes of both channels, supervisions coloured by role, events as "
        "dashed lines, and the label track (grey &lt;think&gt;, blue text, red &lt;shift&gt;).</p>",
    ]
    for row, png in timelines:
        parts.append(f"<h3>{_e(row.id)} ({_e(row.task)})</h3>" + _img(png, f"timeline of {row.id}"))
    parts += [_card_section(summary), "</body></html>"]
    return "\n".join(parts)


def build_report(
    out_dir: Path | str, max_timelines: int = len(TASKS), vad_cuts: int = 200, dnsmos_utts: int = 10
) -> Path:
    """Write `OUT/report/index.html` for a corpus folder; returns its path. Atomic: temp file + rename.

    `vad_cuts` caps how many dialogues get audio-based (silero-vad) turn-taking
    figures, `dnsmos_utts` how many utterances of each role get a DNSMOS score:
    those are the slow parts of the report, so a sample is analysed."""
    out_dir = Path(out_dir)
    summary = collect(out_dir)
    quality = speech_quality(summary, dnsmos_utts)
    page = render_html(summary, max_timelines, audio_turns(summary, vad_cuts), quality)
    report_dir = out_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    target = report_dir / "index.html"
    tmp = target.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(target)
    return target
