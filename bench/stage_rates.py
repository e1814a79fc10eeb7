"""Per-stage throughput of a finished run, as `executor.sizing` figures.

    python -m bench.stage_rates manifests/gpu_smoke/stats.json

A run's stats.json sums each stage's busy time over all shards
(`seconds_<stage>`, datagen/executors/shards.py): actor-seconds. Divided by
what the stage produced, they are the per-actor figures the Ray executor
sizes its pools from (datagen/executors/sizing.py): LLM output tokens/s of
one replica, TTS real-time factor of one actor, CPU seconds per second of
audio. `bench/gpu_smoke.sh` prints this after its 20-dialogue GPU run; on a
CPU run it describes the CPU voices instead.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def stage_rates(stats: dict) -> dict:
    """Figures from a run's stats.json (missing stages are left out)."""
    c = stats.get("counters", {})
    speech_s = sum(v for k, v in c.items() if k.startswith("tts_seconds_"))
    audio_s = float(c.get("audio_seconds", 0.0))
    dialogues = max(int(stats.get("kept", 0)) + int(stats.get("rejected", 0)), 1)
    out: dict = {"dialogues": dialogues, "audio_s": audio_s, "speech_s": speech_s}
    for stage in ("text", "speech", "qc", "compose"):
        if f"seconds_{stage}" in c:
            out[f"actor_s_per_dialogue_{stage}"] = c[f"seconds_{stage}"] / dialogues
    if c.get("seconds_text") and c.get("llm_completion_tokens"):
        out["llm_tokens_per_s"] = c["llm_completion_tokens"] / c["seconds_text"]
        out["llm_tokens_per_request"] = c["llm_completion_tokens"] / max(c.get("llm_requests", 1), 1)
    if c.get("seconds_speech") and speech_s:
        out["tts_rtf"] = c["seconds_speech"] / speech_s
    if audio_s and (c.get("seconds_qc") or c.get("seconds_compose")):
        out["cpu_rtf"] = (c.get("seconds_qc", 0.0) + c.get("seconds_compose", 0.0)) / audio_s
    return out


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m bench.stage_rates RUN/stats.json", file=sys.stderr)
        return 2
    rates = stage_rates(json.loads(Path(args[0]).read_text()))
    print(f"{rates['dialogues']} dialogues, {rates['audio_s'] / 60:.1f} min of audio")
    for k, v in rates.items():
        if k.startswith("actor_s_per_dialogue_"):
            print(f"  {k.removeprefix('actor_s_per_dialogue_'):<8} {v:8.2f} actor-seconds per dialogue")
    keys = ("llm_tokens_per_s", "llm_tokens_per_request", "tts_rtf", "cpu_rtf")
    found = {k: round(rates[k], 4) for k in keys if k in rates}
    print("executor.sizing figures measured here (set them in the recipe to size a cluster):")
    for k, v in found.items():
        print(f"  --set executor.sizing.{k}={v}")
    print(json.dumps(rates))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
