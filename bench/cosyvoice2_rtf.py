"""Real-time factor of CosyVoice2 actors packed on one device, through our backend.

    python -m bench.cosyvoice2_rtf --model DIR --prompts DIR --actors 1,2,4,8 --precision fp32,fp16 \
        --json out.json

Each actor is a process like a Ray actor of the speech stage: it loads
`CosyVoice2TTS` (upstream's CosyVoice2 on the model folder), voices one
warm-up request, waits for the others, then voices the same fixed texts with
fixed seeds. Per actor: busy seconds / seconds of audio (its RTF) and its
peak GPU memory (`torch.cuda.max_memory_allocated`; on CPU the process's
peak RSS). Per packing: wall seconds from the common start to the last
actor's end / all actors' audio seconds (the aggregate RTF of the device,
what sizing needs: one device voices 1/aggregate seconds of speech per
second). `bench/cosyvoice2_gpu.sh` runs it on a GPU machine; on CPU it is
the same code at the tiny size (fp16 is a no-op there: upstream turns it off
without CUDA, so CPU rows are fp32 only).

Timings are of the random-weight model: the LLM decodes ~2.3 speech tokens
per text token (the made model's length bound), where the released model
says ~6 at a normal speaking rate, so the LLM's share of a real request is
larger than here; rows say so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from pathlib import Path

TEXTS = [
    "The capital of France is Paris, which sits on the river Seine.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Sure, the quickest way to the station is straight down this road and left at the bank.",
    "Honey never spoils, because its low water content keeps microbes from growing in it.",
    "Wait, before you go on, can you tell me what year that happened?",
    "Mount Everest is the highest mountain above sea level, at almost nine kilometres.",
]


def _actor(args: dict, start, results) -> None:
    """One actor: load, warm up, wait for all, voice TEXTS, report."""
    if args["device"] == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    import torch

    from datagen.backends.tts.base import TTSRequest
    from datagen.backends.tts.cosyvoice2 import CosyVoice2Options, CosyVoice2TTS

    opts = CosyVoice2Options(
        model_dir=args["model"],
        manifest=args["manifest"],
        audio_root=args["audio_root"],
        prompt_cache_dir=args["cache"],
        fp16=args["precision"] == "fp16",
        gpus_per_worker=0,
        min_prompt_s=3.0,
        max_prompt_s=4.0,
    )
    b = CosyVoice2TTS(opts)
    spk = b.speakers()[args["index"] % len(b.speakers())]
    t0 = time.time()
    (w,) = b.synthesize([TTSRequest("warm", TEXTS[0], spk, seed=1)])
    load_s = time.time() - t0
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start.wait()
    t_begin = time.time()
    audio_s, errors = 0.0, [w.error] if w.error else []
    for i, text in enumerate(TEXTS * args["repeat"]):
        (r,) = b.synthesize([TTSRequest(f"k{i}", text, spk, seed=100 + i)])
        if r.error:
            errors.append(r.error)
        else:
            audio_s += len(r.audio) / r.sample_rate
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**30
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    t_end = time.time()
    results.put(
        dict(
            index=args["index"],
            begin=t_begin,
            end=t_end,
            audio_s=audio_s,
            load_s=load_s,
            peak_gib=peak,
            errors=errors,
        )
    )


def measure(model: str, prompts: str, device: str, actors: int, precision: str, repeat: int) -> dict:
    """One packing: `actors` processes on the device at `precision`."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(actors)
    results = ctx.Queue()
    base = dict(
        model=model,
        manifest=str(Path(prompts) / "libriheavy_cuts_small.jsonl.gz"),
        audio_root=prompts,
        cache=str(Path(prompts) / "cache"),
        device=device,
        precision=precision,
        repeat=repeat,
    )
    procs = [ctx.Process(target=_actor, args=({**base, "index": i}, start, results)) for i in range(actors)]
    for p in procs:
        p.start()
    rows = [results.get(timeout=3600) for _ in procs]
    for p in procs:
        p.join()
    wall = max(r["end"] for r in rows) - min(r["begin"] for r in rows)
    audio = sum(r["audio_s"] for r in rows)
    per_actor = [(r["end"] - r["begin"]) / r["audio_s"] for r in rows if r["audio_s"]]
    return dict(
        device=device,
        precision=precision,
        actors=actors,
        audio_s=round(audio, 2),
        wall_s=round(wall, 2),
        aggregate_rtf=round(wall / audio, 4) if audio else None,
        actor_rtf=round(sum(per_actor) / len(per_actor), 4) if per_actor else None,
        peak_gib_per_actor=round(max(r["peak_gib"] for r in rows), 3),
        load_s=round(max(r["load_s"] for r in rows), 1),
        errors=sorted({e for r in rows for e in r["errors"]})[:3],
    )


def sizing(rows: list[dict]) -> dict:
    """`executor.sizing.tts_rtf`: the per-actor RTF at the packing with the best aggregate RTF
    (sizing.py divides it by the actors per GPU, `1 / gpus_per_worker`), and that packing."""
    ok = [r for r in rows if r["aggregate_rtf"]]
    if not ok:
        return {}
    best = min(ok, key=lambda r: r["aggregate_rtf"])
    return {
        "tts_rtf": best["actor_rtf"],
        "gpus_per_worker": round(1 / best["actors"], 4),
        "fp16": best["precision"] == "fp16",
        "aggregate_rtf": best["aggregate_rtf"],
    }


def markdown(rows: list[dict], size: str, command: str) -> str:
    head = (
        "| CosyVoice2 (random weights, " + size + ") | device | precision | actors | actor RTF "
        "| aggregate RTF | peak GiB/actor |\n|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| `{command}` | {r['device']} | {r['precision']} | {r['actors']} | {r['actor_rtf']} "
        f"| {r['aggregate_rtf']} | {r['peak_gib_per_actor']} |\n"
        for r in rows
    )
    return head + body


def _machine(device: str) -> str:
    import platform

    if device == "cuda":
        import torch

        return f"{torch.cuda.get_device_name(0)}, {os.cpu_count()} CPUs"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (no GPU)"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True, help="a bench.libriheavy_prompts folder")
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--size", default="0.5b", help="the model's size, for the rows")
    ap.add_argument("--actors", default="1,2,4,8")
    ap.add_argument("--precision", default="fp32,fp16")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the fixed texts per actor")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    rows = []
    for precision in a.precision.split(","):
        for n in (int(x) for x in a.actors.split(",")):
            row = measure(a.model, a.prompts, a.device, n, precision, a.repeat)
            print(json.dumps(row), flush=True)
            rows.append(row)
    command = "bash bench/cosyvoice2_gpu.sh"
    out = {
        "size": a.size,
        "machine": _machine(a.device),
        "when": time.strftime("%Y-%m-%d"),
        "rows": rows,
        "sizing": sizing(rows),
        "markdown": markdown(rows, a.size, command),
    }
    print("executor.sizing:", json.dumps(out["sizing"]))
    print(out["markdown"])
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
