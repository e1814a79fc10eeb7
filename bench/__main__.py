"""`python -m bench`: where the time goes, as ratios measured in one run.

Machines here are shared and noisy, so every figure is a ratio against
audio time or against another stage measured in the same process:
  - TTS real-time factors (Piper, espeak-ng);
  - compose (placement + mixing + labels + checks) in seconds of audio per CPU second;
  - an end-to-end offline run: seconds of corpus audio per wall second, and peak memory;
  - with --ray: the same run through the Ray executor, as a ratio to the local one.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["dialogues=16", "executor.shard_size=4", "multi_turn_rounds=[2, 3]"]


def _tts_rtf(backend: str, speaker_index: int = 0) -> float:
    from datagen.backends.registry import make_tts
    from datagen.backends.tts.base import TTSRequest

    tts = make_tts(backend)
    spk = tts.speakers()[speaker_index]
    text = (
        "The Great Wall of China stretches for thousands of kilometres across the north of the country, "
        "and parts of it are more than two thousand years old. "
    ) * 3
    tts.synthesize([TTSRequest("warm", "Warm up.", spk)])
    t0 = time.process_time()
    res = tts.synthesize([TTSRequest("k", text, spk, seed=1)])[0]
    cpu = time.process_time() - t0
    return cpu / (len(res.audio) / res.sample_rate)


def _compose_speed(recipe) -> float:
    """Audio seconds composed per CPU second, on voiced dialogues from the pipeline."""
    from datagen.sources.questions import load_questions
    from datagen.stages import build_stages
    from datagen.stages.plan import plan_dialogues

    stages = build_stages(recipe)
    qs, _ = load_questions(recipe.questions)
    items = plan_dialogues(qs, recipe)
    for st in stages[:-1]:
        items = st.process(items).items
    t0 = time.process_time()
    out = stages[-1].process(items)
    return out.counters["audio_seconds"] / (time.process_time() - t0)


def _run(recipe, executor: str) -> tuple[float, float]:
    from datagen.executors.runner import run

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        stats = run(recipe, out=str(Path(d) / "o"), executor=executor, quiet=True)
        wall = time.perf_counter() - t0
    return stats["counters"].get("audio_seconds", 0.0), wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ray", action="store_true", help="also time the Ray executor (adds ~1 minute)")
    ap.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = ap.parse_args(argv)

    from datagen.config import load_recipe

    recipe = load_recipe(ROOT / "recipes" / "tiny.yaml", SMALL)
    figures: dict[str, float] = {}
    figures["piper_rtf"] = _tts_rtf("piper")
    figures["espeak_rtf"] = _tts_rtf("espeak")
    figures["compose_audio_s_per_cpu_s"] = _compose_speed(recipe)
    audio, wall = _run(recipe, "local")
    figures["local_audio_s_per_wall_s"] = audio / wall
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.ray:
        audio_r, wall_r = _run(recipe, "ray")
        figures["ray_audio_s_per_wall_s"] = audio_r / wall_r
        figures["ray_over_local_speed"] = (audio_r / wall_r) / (audio / wall)
    figures["piper_over_espeak_cost"] = figures["piper_rtf"] / figures["espeak_rtf"]

    rows = [
        ("Piper real-time factor (CPU s per audio s)", "piper_rtf", "{:.3f}"),
        ("espeak-ng real-time factor", "espeak_rtf", "{:.4f}"),
        ("Piper cost / espeak cost", "piper_over_espeak_cost", "{:.0f}x"),
        ("compose: audio s per CPU s", "compose_audio_s_per_cpu_s", "{:.0f}x real time"),
        ("offline pipeline, local: audio s per wall s", "local_audio_s_per_wall_s", "{:.1f}x real time"),
        ("offline pipeline, Ray: audio s per wall s", "ray_audio_s_per_wall_s", "{:.1f}x real time"),
        ("Ray speed / local speed", "ray_over_local_speed", "{:.2f}"),
        ("peak RSS of this process", "peak_rss_mib", "{:.0f} MiB"),
    ]
    for label, key, fmt in rows:
        if key in figures:
            print(f"{label:<48} {fmt.format(figures[key])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
