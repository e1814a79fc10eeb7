"""Ray 1 -> N workers on a box with more cores than this one (`python -m bench.scaling`).

`make bench` measures 2 workers against 1 on the 2-core box; the issue also
asks for 1 -> N where a bigger box exists. This runs the same corpus with Ray
at each worker count, in a fresh process each (`bench/child.py`: Ray starts
before the clock), and reports the wall time, the speed-up over one worker,
the efficiency (speed-up / workers), where the workers' time went
(`bench/timeline.py`), and whether every run wrote the same bytes.

The recipe is `recipes/tiny.yaml` with espeak-ng for every role and ASR QC
off: a GPU box lent here is offline and its 64 MiB of carried files hold
espeak-ng but not the 61 MB Piper voice. `bench/scaling_device.sh` sets that
machine up. Copy its --json output to bench/results/scaling.json (and say in
its `machine` what the box was); `make bench` puts it in BENCHMARKS.md.

    python -m bench.scaling --workers 1 4 8 16 --dialogues 128 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = ["tts.voices.assistant.backend=espeak", "qc.asr=none"]


def corpus_digest(out: Path) -> str:
    """One hash over every Shar file and the index: equal digests, equal corpora."""
    h = hashlib.sha256()
    for f in sorted([*(out / "shar").rglob("*"), out / "index.jsonl"]):
        if f.is_file():
            h.update(f.relative_to(out).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def run(workers: int, dialogues: int, shard_size: int, out: Path) -> dict:
    sets = [*SETS, f"dialogues={dialogues}", f"executor.shard_size={shard_size}"]
    cmd = [sys.executable, "-m", "bench.child", "run", "--executor", "ray", "--workers", str(workers)]
    cmd += ["--out", str(out)] + [x for s in sets for x in ("--set", s)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"bench.child failed ({workers} workers):\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "workers": workers,
        "wall_s": round(r["wall_s"], 2),
        "kept": r["kept"],
        "timeline": r["timeline"],
        "digest": corpus_digest(out),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dialogues", type=int, default=128)
    ap.add_argument("--shard-size", type=int, default=4)
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        for n in args.workers:
            rows.append(run(n, args.dialogues, args.shard_size, Path(tmp) / f"w{n}"))
            base = rows[0]["wall_s"] * rows[0]["workers"]
            r = rows[-1]
            r["speedup"] = round(base / r["wall_s"], 2)
            r["efficiency"] = round(r["speedup"] / n, 2)
            print(json.dumps(r), flush=True)
    result = {
        "when": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        "machine": f"{os.cpu_count()} cores",
        "command": "python -m bench.scaling " + " ".join(argv if argv is not None else sys.argv[1:]),
        "cores": os.cpu_count(),
        "dialogues": args.dialogues,
        "shard_size": args.shard_size,
        "recipe": "recipes/tiny.yaml " + " ".join(f"--set {s}" for s in SETS),
        "same_bytes": len({r["digest"] for r in rows}) == 1,
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
