"""`datagen score ERROR_LOG`: turn-taking and barge-in figures, beside two rule baselines.

Every figure is recomputed from the log's events and predicted tracks by the
judge (datagen/train/judging/judge.py); the verdicts written in the log are not
trusted, so a log from any model scores the same way.

- turn-taking success: turns taken after the user ended (not in a pause,
  not cutting in, within `turn_window_s`);
- "should stop" precision / recall / F1 in SALMONN-omni's two settings:
  context-independent (barge-ins by user or third party vs backchannels) and
  context-dependent (related questions vs distractors and silent samples);
- early-stop rate: uninterrupted answers the model ended early;
- latencies (ms): end of user speech -> speak decision; barge-in onset -> stop decision;
- cue success (assistant_backchannel): dips of a user's long turn where the model said
  a cue and handed the floor back (not `no_cue`, `took_floor` or `cut_short`), and its latency
  from the dip's start. `--cues LOG` takes these from a second log (the
  assistant_backchannel eval set), so the other figures stay those of the first
  (the CI + CD sets) and the table shows both.
- speech quality: for a log from a model's audio made with `--dnsmos N`, the DNSMOS
  (SIG, BAK, OVRL, P.808) of the model's speech, the mean over the rated dialogues
  weighted by seconds of speech (the baselines make no audio: no figure).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from statistics import mean, median

import numpy as np

from datagen.train.common.config import ScoreConfig
from datagen.train.judging.baselines import block_vad, rule_track
from datagen.train.judging.errlog import read_log
from datagen.train.judging.fdb_metrics import from_log as fdb_from_log
from datagen.train.judging.judge import SETTING, judge

BASELINES = {"baseline_a": False, "baseline_b": True}  # name -> stops at speech onsets


def _prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def _lat(xs: list[float]) -> dict:
    return {"median": round(median(xs)), "mean": round(mean(xs)), "n": len(xs)} if xs else {"n": 0}


def metrics(lines: list[dict], tracks: list, cfg: ScoreConfig) -> dict:
    """Figures for one set of predicted tracks over the logged dialogues."""
    turns_ok = turns = 0
    counts = {s: Counter() for s in ("ci", "cd")}
    lat = {"turn": [], "ci": [], "cd": [], "cue": []}
    cues: Counter = Counter()
    early = finished = 0
    cats: Counter = Counter()
    for line, track in zip(lines, tracks, strict=True):
        v = judge(line, track, cfg)
        cats[v["category"] or "none"] += 1
        for ev, verdict in zip(line["events"], v["verdicts"], strict=True):
            if ev["kind"] == "turn":
                turns += 1
                turns_ok += verdict["outcome"] == "ok"
                if "latency_ms" in verdict:
                    lat["turn"].append(verdict["latency_ms"])
                continue
            if ev["kind"] == "assistant_backchannel":
                cues[verdict["outcome"]] += 1
                if "latency_ms" in verdict:
                    lat["cue"].append(verdict["latency_ms"])
                continue
            s = SETTING[ev["kind"]]
            pos, pred = ev["expect"] == "stop", verdict["predicted_stop"]
            counts[s]["tp" if pos and pred else "fn" if pos else "fp" if pred else "tn"] += 1
            if pos and pred and "latency_ms" in verdict:
                lat[s].append(verdict["latency_ms"])
        spoken = {k for k, _ in enumerate(v["spans"])}
        for k, a in enumerate(line["answers"]):
            if a["expect"] == "finish" and k in spoken:
                finished += 1
        early += sum(
            1
            for e in v["errors"]
            if e["outcome"] == "early_stop" and line["answers"][e["answer"]]["expect"] == "finish"
        )
    out = {
        "dialogues": len(lines),
        "turn_taking_success": round(turns_ok / turns, 4) if turns else None,
        "turns": turns,
        "early_stop_rate": round(early / finished, 4) if finished else None,
        "answers_spoken_to_the_end_expected": finished,
        "turn_latency_ms": _lat(lat["turn"]),
        "cue_success": round(cues["ok"] / sum(cues.values()), 4) if cues else None,
        "cues": dict(cues),
        "cue_latency_ms": _lat(lat["cue"]),
        "categories": dict(cats),
    }
    for s in ("ci", "cd"):
        c = counts[s]
        out[s] = _prf(c["tp"], c["fp"], c["fn"]) | {"tn": c["tn"], "stop_latency_ms": _lat(lat[s])}
    out["fdb"] = fdb_from_log(lines, tracks)  # Full-Duplex-Bench's definitions, beside ours
    return out


def speech_quality(lines: list[dict]) -> dict | None:
    """DNSMOS of the model's speech over the lines that carry it (errors --from-audio --dnsmos),
    weighted by seconds of speech; None when no line carries it."""
    rated = [line["speech_quality"] for line in lines if "speech_quality" in line]
    if not rated:
        return None
    from datagen.qc.dnsmos import weighted_mean  # numpy only: speechmos is not needed to read a log

    parts = [(q["dnsmos"], q["seconds"]) for q in rated if q["dnsmos"] is not None]
    return {
        "dnsmos": weighted_mean(parts),
        "dialogues": len(rated),
        "dialogues_without_speech": len(rated) - len(parts),
        "seconds": round(sum(w for _, w in parts), 3),
    }


def _baseline_tracks(lines: list[dict], corpus_override: str | None) -> tuple[dict, str] | tuple[None, str]:
    """Baseline tracks for every line whose audio can be found."""
    from datagen.train.training.data import open_corpora

    want: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        want.setdefault(corpus_override or line.get("corpus") or "", []).append(i)
    waves: dict[int, np.ndarray] = {}
    sr = 16000
    for corpus, idx in want.items():
        if not corpus or not Path(corpus).exists():
            return None, f"the audio of the logged dialogues is not here ({corpus or 'no corpus named'})"
        by_id = {lines[i]["cut_id"]: i for i in idx}
        for cut in open_corpora([corpus]):
            if cut.id in by_id:
                waves[by_id[cut.id]] = cut.load_audio()[0]
                sr = cut.sampling_rate
    missing = [lines[i]["cut_id"] for i in range(len(lines)) if i not in waves]
    if missing:
        return None, f"{len(missing)} logged dialogues are not in their corpus (e.g. {missing[0]})"
    order = list(range(len(lines)))
    vads, detector = block_vad(
        [waves[i] for i in order], sr, lines[0]["block_s"], [lines[i]["num_blocks"] for i in order]
    )
    tracks = {
        name: [rule_track(vads[i], lines[i]["answers"], lines[i]["block_s"], stop) for i in order]
        for name, stop in BASELINES.items()
    }
    return tracks, detector


def score_log(
    path: str | Path,
    out: str | Path | None = None,
    corpus: str | None = None,
    cfg: ScoreConfig | None = None,
    baselines: bool = True,
    cues: str | Path | None = None,
) -> dict:
    cfg = cfg or ScoreConfig()
    log = read_log(path)
    if not log.lines:
        raise ValueError(f"{path}: no valid error-log lines ({len(log.rejected)} rejected)")
    result = {
        "log": str(path),
        "lines": log.total,
        "scored": len(log.lines),
        "rejected": log.rejected,
        "checkpoint": sorted({line["checkpoint"] for line in log.lines}),
        "model": metrics(log.lines, [line["predicted"] for line in log.lines], cfg),
    }
    if (quality := speech_quality(log.lines)) is not None:
        result["model"]["speech_quality"] = quality
    if baselines:
        tracks, detector = _baseline_tracks(log.lines, corpus)
        if tracks is None:
            result["baselines_skipped"] = detector
        else:
            result["vad"] = detector
            for name, t in tracks.items():
                result[name] = metrics(log.lines, t, cfg)
    if cues:
        _add_cues(result, score_log(cues, corpus=corpus, cfg=cfg, baselines=baselines))
    if out:
        from datagen.io.atomic import write_json

        write_json(Path(out), result)
    return result


CUE_KEYS = ("cue_success", "cues", "cue_latency_ms")


def _add_cues(result: dict, cue_result: dict) -> None:
    """The cue figures of the cue set's log, in place of the main log's own."""
    result["cue_log"] = {k: cue_result[k] for k in ("log", "lines", "scored", "rejected")}
    for name in ["model", *BASELINES]:
        if name in result and name in cue_result:
            result[name] |= {k: cue_result[name][k] for k in CUE_KEYS}


ROWS = (
    ("turn-taking success", lambda m: m["turn_taking_success"]),
    ("CI stop precision", lambda m: m["ci"]["precision"]),
    ("CI stop recall", lambda m: m["ci"]["recall"]),
    ("CI stop F1", lambda m: m["ci"]["f1"]),
    ("CD stop precision", lambda m: m["cd"]["precision"]),
    ("CD stop recall", lambda m: m["cd"]["recall"]),
    ("CD stop F1", lambda m: m["cd"]["f1"]),
    ("early-stop rate", lambda m: m["early_stop_rate"]),
    ("cue success (assistant backchannel)", lambda m: m.get("cue_success")),
    ("turn latency, median ms", lambda m: m["turn_latency_ms"].get("median")),
    ("CI stop latency, median ms", lambda m: m["ci"]["stop_latency_ms"].get("median")),
    ("CD stop latency, median ms", lambda m: m["cd"]["stop_latency_ms"].get("median")),
    ("FDB pause handling TOR (ideal 0)", lambda m: m["fdb"]["pause_handling"]["tor"]),
    ("FDB smooth turn-taking TOR (ideal 1)", lambda m: m["fdb"]["smooth_turn_taking"]["tor"]),
    ("FDB smooth turn-taking latency, s", lambda m: m["fdb"]["smooth_turn_taking"]["latency_s"]),
    ("FDB user interruption TOR (ideal 1)", lambda m: m["fdb"]["user_interruption"]["tor"]),
    ("FDB user interruption latency, s", lambda m: m["fdb"]["user_interruption"]["latency_s"]),
    ("FDB v1.5 user interruption stop latency, s", lambda m: _v15(m, "user_interruption", "stop_latency_s")),
    (
        "FDB v1.5 user interruption response latency, s",
        lambda m: _v15(m, "user_interruption", "response_latency_s"),
    ),
    ("FDB v1.5 backchannel stop latency, s", lambda m: _v15(m, "user_backchannel", "stop_latency_s")),
)


# Shown only when some column has them: DNSMOS of a model's speech (errors --from-audio --dnsmos).
OPTIONAL_ROWS = tuple(
    (f"DNSMOS {name} of the model's speech", lambda m, k=key: _dnsmos(m, k))
    for key, name in (("ovrl", "OVRL"), ("sig", "SIG"), ("bak", "BAK"), ("p808", "P.808"))
)


def _v15(m: dict, cat: str, key: str):
    return m["fdb"]["v1.5"].get(cat, {}).get(key)


def _dnsmos(m: dict, key: str):
    return ((m.get("speech_quality") or {}).get("dnsmos") or {}).get(key)


def table(columns: dict[str, dict]) -> str:
    """A Markdown table: one row per figure, one column per model or baseline."""
    names = list(columns)
    lines = ["| figure | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    optional = [r for r in OPTIONAL_ROWS if any(r[1](columns[n]) is not None for n in names)]
    for label, get in [*ROWS, *optional]:
        cells = []
        for n in names:
            v = get(columns[n])
            cells.append("–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_result(result: dict) -> str:
    cols = {"model": result["model"]} | {k: result[k] for k in BASELINES if k in result}
    head = f"{result['scored']} dialogues scored from {result['log']}"
    if result["rejected"]:
        head += (
            f"; {len(result['rejected'])} lines rejected (first: line {result['rejected'][0]['line']}: "
            f"{result['rejected'][0]['reason']})"
        )
    if "baselines_skipped" in result:
        head += f"\nbaselines not scored: {result['baselines_skipped']}"
    if "cue_log" in result:
        head += f"; cue success from {result['cue_log']['scored']} dialogues of {result['cue_log']['log']}"
    if q := result["model"].get("speech_quality"):
        head += f"\nDNSMOS of the model's speech: {q['seconds']:.1f} s in {q['dialogues']} dialogues"
        if q["dialogues_without_speech"]:
            head += f" ({q['dialogues_without_speech']} with no stretch of speech of 1 s or more)"
    return (
        head + "\n\n" + table(cols) + "\n\nbaseline (a): speak after 0.6 s of silence, never stop; "
        "(b): (a) + stop at any channel-0 speech onset"
    )
