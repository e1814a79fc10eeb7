"""BENCHMARKS.md's rows measured on a lent machine: the GPU rows
(bench/results/gpu.json) and Ray 1 -> N workers on its cores
(bench/results/scaling.json).

The CPU rows are measured by every `make bench`; these cannot be (no GPU and
2 cores here), so they come from the files `bench/gpu_device.sh` and
`bench/scaling_device.sh` leave on a lent machine, committed with the date,
machine and command. A row the machine
could not run (no engine, no weights: it is offline) says why, from the
machine's own probe, instead of being left out. The trainer's figures stand
beside plain transformers + peft timed on the same machine
(shared/bench/gpu_trainer_anchor.py), so the ratio is not one card against
another.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "gpu.json"
SCALING = RESULTS.parent / "scaling.json"
COSYVOICE2 = RESULTS.parent / "cosyvoice2_gpu.json"  # bench/cosyvoice2_gpu.sh's cosyvoice2_rtf.json

# (our figure, the anchor's figure, what it is, unit)
TRAINER = [
    ("sft_2250_s_per_step", "sft_L2250_s_per_step", "SFT step, 2,250 positions (36 s of dialogue)", "s"),
    ("sft_11250_s_per_step", "sft_L11250_s_per_step", "SFT step, 11,250 positions (3 min)", "s"),
    ("sft_11250_peak_gib", "sft_L11250_peak_gib", "SFT peak memory, 11,250 positions", "GiB"),
    ("dpo_pair_s", "dpo_pair_L2250_s", "DPO pair, 2,250 positions a side", "s"),
    ("stream_b1_x_realtime", "stream_B1_x_realtime", "streaming decode, 1 dialogue", "x real time"),
    ("stream_b32_x_realtime", "stream_B32_x_realtime", "streaming decode, 32 at once", "x real time"),
    ("stream_b128_x_realtime", "stream_B128_x_realtime", "streaming decode, 128 at once", "x real time"),
]


def _missing(probe: dict, engine: str, weights: str) -> str:
    """Why a row could not run on that machine, in its own words."""
    e, w = probe["engines"][engine], probe["weights"][weights]
    why = []
    if not e["importable"]:
        why.append(f"`{engine}` does not import ({e['why']})")
    if not w["present"]:
        why.append(f"no weights at `{w['path']}`")
    return "; ".join(why) or "engine and weights present: run bench/gpu_smoke.sh"


def scaling_markdown(path: Path = SCALING) -> list[str]:
    """Ray 1 -> N workers on a bigger box: speed-up, efficiency, where the time went."""
    head = ["", "## Ray 1 -> N workers on a bigger box", ""]
    if not path.exists():
        return head + ["Not run: no many-core results yet (`bash bench/scaling_device.sh`).", ""]
    r = json.loads(path.read_text())
    one = r["rows"][0]["timeline"]["busy_cpu_s"]
    lines = head + [
        f"- machine: {r['machine']}; date: {r['when']}",
        f"- command: `{r['command']}`",
        f"- corpus: {r['dialogues']} dialogues in shards of {r['shard_size']}, `{r['recipe']}`; "
        f"every run wrote the same bytes: {'yes' if r['same_bytes'] else 'NO'}",
        "",
        "| workers | wall | speed-up | efficiency | CPU s per shard (x 1 worker) "
        "| idle worker-s before first / after last shard |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        t = row["timeline"]
        lines.append(
            f"| {row['workers']} | {row['wall_s']:.1f} s | {row['speedup']:.2f}x | {row['efficiency']:.2f} "
            f"| {t['busy_cpu_s'] / t['shards']:.2f} ({t['busy_cpu_s'] / one:.2f}) "
            f"| {t['idle_before_first_shard_s']:.1f} / {t['idle_after_last_shard_s']:.1f} |"
        )
    return lines + [
        "",
        "Every run does the same work, so CPU s per shard (the actors' own, espeak-ng's excluded) "
        "would stay flat on cores that did not slow each other; its rise, not scheduling, is most "
        "of the lost efficiency. The idle columns are actor start-up and the last round's tail.",
        *_probe_line(r.get("cpu_probe")),
        "",
    ]


def cosyvoice2_markdown(path: Path = COSYVOICE2) -> list[str]:
    """CosyVoice2 at the released shape (random weights) on one GPU: RTF per actor and per
    GPU at 1/2/4/8 actors, fp32/fp16, and the executor.sizing figures they give."""
    head = ["", "## CosyVoice2 actors per GPU (released shape, random weights)", ""]
    if not path.exists():
        return head + [
            "Not run: no GPU results yet (`bash bench/cosyvoice2_gpu.sh` on a GPU machine, then copy its "
            "`cosyvoice2_rtf.json` to `bench/results/cosyvoice2_gpu.json`). Goal: aggregate RTF per GPU "
            "<= 0.10. The script was smoke-tested on CPU at the tiny size only.",
            "",
        ]
    r = json.loads(path.read_text())
    return (
        head
        + [f"- machine: {r.get('machine', '?')}; date: {r.get('when', '?')}; size: {r['size']}", ""]
        + r["markdown"].rstrip().splitlines()
        + ["", f"`executor.sizing` from these rows: `{json.dumps(r['sizing'])}`", ""]
    )


def _probe_line(p: dict | None) -> list[str]:
    """What bench/cpu_probe.py saw on such a machine: the cores slowing each other
    with no pipeline at all."""
    if not p:
        return []
    n = max(int(k[1:]) for k in p["numpy_convolve"] if k.startswith("x"))

    def seen(name: str) -> str:
        copies = p[name][f"x{n}"]
        return (
            f"{p[name]['alone']:.2f} s alone, {min(copies):.2f}-{max(copies):.2f} s "
            f"(mean {sum(copies) / len(copies):.2f}) as {n} concurrent copies"
        )

    return [
        "",
        f"The machine itself (`{p['command']}`, {p['when']}): a numpy convolution took "
        f"{seen('numpy_convolve')}; a pure-Python loop {seen('python_loop')}.",
    ]


def markdown(path: Path = RESULTS) -> list[str]:
    """The GPU section of BENCHMARKS.md."""
    head = ["## GPU rows", ""]
    if not path.exists():
        return head + ["Not run: no GPU results yet (`bash bench/gpu_device.sh` on a GPU machine).", ""]
    r = json.loads(path.read_text())
    p, ours, base = r["probe"], r["trainer"], r["anchor_same_machine"]
    lines = head + [
        f"- machine: {r['machine']}; torch {p['torch']}, transformers {p['transformers']}, peft {p['peft']}",
        f"- date: {r['when']}",
        f"- commands: `{r['commands']['ours']}`; anchor: `{r['commands']['anchor']}`",
        f"- GPU tests: {r['tests']}",
        "",
        "| row | target | figure | how to reproduce |",
        "|---|---|---|---|",
        "| CosyVoice2 aggregate real-time factor, one GPU, several actors | <= 0.05 (H100) | not run: "
        + _missing(p, "cosyvoice", "tts_weights")
        + "; the machine is offline and only 64 MiB travel to it | `bench/gpu_smoke.sh` (`tts_rtf`) |",
        "| vLLM Llama-3-8B-Instruct output tokens/s, one GPU | >= 10,000 (H100) | not run: "
        + _missing(p, "vllm", "llm_weights")
        + "; a vLLM wheel alone is larger than what travels | `bench/gpu_smoke.sh` (`llm_tokens_per_s`) |",
        "",
        "The bundled trainer at Llama-3-8B shape (random weights, bf16, LoRA r32, checkpointing), "
        "against plain transformers + peft on the same machine (ratio < 1: ours is faster or smaller; "
        "for real-time multiples, > 1):",
        "",
        "| figure | ours | plain transformers + peft | ratio |",
        "|---|---:|---:|---:|",
    ]
    for mine, theirs, name, unit in TRAINER:
        a, b = ours[mine], base[theirs]
        lines.append(f"| {name} | {a:.3g} {unit} | {b:.3g} {unit} | {a / b:.2f} |")
    return lines + [""]


def collect(out: Path, machine: str, tests: str) -> dict:
    """bench/results/gpu.json from the files bench/gpu_device.sh left in `out`."""
    trainer = json.loads((out / "gpu_trainer.json").read_text())
    when = trainer.pop("when")
    trainer.pop("anchors", None)
    return {
        "when": when,
        "machine": machine,
        "commands": {
            "ours": "bash bench/gpu_device.sh  (carry: .whl, from bench/gpu_wheels.sh)",
            "anchor": "ANCHOR=.anchor/gpu_trainer_anchor.py, the same call (shared/bench/)",
        },
        "probe": json.loads((out / "gpu_probe.json").read_text()),
        "tests": tests,
        "trainer": {k: round(v, 3) if isinstance(v, float) else v for k, v in trainer.items()},
        "anchor_same_machine": json.loads((out / "trainer_anchor.json").read_text()),
    }


def write_png(path: Path, results: Path = RESULTS) -> None:
    """The trainer's figures over plain transformers + peft on the same machine, one bar each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = json.loads(results.read_text())
    ours, base = r["trainer"], r["anchor_same_machine"]
    names, gains = [], []
    for mine, theirs, name, unit in TRAINER[::-1]:
        faster = unit == "x real time"  # a multiple of real time: larger is better
        gains.append(ours[mine] / base[theirs] if faster else base[theirs] / ours[mine])
        names.append(f"{name}\n{ours[mine]:.3g} vs {base[theirs]:.3g} {unit}")
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    ax.barh(names, gains, color=["#2ca02c" if g >= 1 else "#d62728" for g in gains])
    ax.axvline(1.0, color="#222222", ls="--", lw=1)
    ax.set_xlabel("plain transformers + peft = 1; right of 1: ours is faster or smaller")
    ax.set_title(f"bundled trainer at Llama-3-8B shape, {r['probe']['device']}, {r['when']}", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_scaling_png(path: Path, results: Path = SCALING) -> None:
    """Speed-up over one worker against the ideal line, and each run's CPU seconds per shard."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = json.loads(results.read_text())
    n = [row["workers"] for row in r["rows"]]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.6))
    a.plot(n, n, "--", color="#888888", label="ideal")
    a.plot(n, [row["speedup"] for row in r["rows"]], "o-", color="#1f77b4", label="measured")
    a.set_xlabel("Ray workers")
    a.set_ylabel("speed-up over 1 worker")
    a.legend()
    per = [row["timeline"]["busy_cpu_s"] / row["timeline"]["shards"] for row in r["rows"]]
    b.bar([str(x) for x in n], per, color="#ff7f0e")
    b.set_xlabel("Ray workers")
    b.set_ylabel("actor CPU s per shard (same work)")
    fig.suptitle(f"{r['dialogues']} dialogues, {r['cores']}-core lent machine, {r['when']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m bench.device_rows", description=__doc__)
    ap.add_argument("--collect", type=Path, required=True, help="the $OUT of bench/gpu_device.sh")
    ap.add_argument("--machine", required=True, help="the machine, in words (the device tool's reply)")
    ap.add_argument("--png", type=Path, default=RESULTS.parents[2] / "docs" / "img" / "gpu_trainer.png")
    args = ap.parse_args()
    log = (args.collect / "pytest.log").read_text().strip().splitlines()
    result = collect(args.collect, args.machine, f"tests/train/test_gpu.py: {log[-1] if log else 'no log'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    write_png(args.png)
    print(f"wrote {RESULTS} and {args.png}")
