"""The error log: one JSON line per dialogue, any model's (docs/error_log.md).

Lines are checked twice when read: against the shipped JSON Schema
(`schemas/error_log.schema.json`), then for what a schema cannot say (the
track is as long as the dialogue, answer indices exist, shifts match the
track). A line that fails is rejected with its line number and reason, and
reading goes on, so a log from another model with a few bad lines still
scores, and every line is accounted for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from datagen.train.common.config import ScoreConfig
from datagen.train.common.tracks import shift_blocks
from datagen.train.judging.judge import judge

SCHEMA_ID = "duplex-error-log/1"


@lru_cache(maxsize=4)
def schema(name: str = "error_log") -> dict:
    return json.loads((resources.files("datagen.train") / "schemas" / f"{name}.schema.json").read_text())


def schema_problem(row: dict, name: str = "error_log") -> str | None:
    """The first way `row` breaks the schema, as `path: message`, or None."""
    import jsonschema
    from jsonschema.exceptions import best_match

    err = best_match(jsonschema.Draft202012Validator(schema(name)).iter_errors(row))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(line)"
    return f"{where}: {err.message}"


def consistency_problem(row: dict) -> str | None:
    n = row["num_blocks"]
    if len(row["predicted"]) != n:
        return f"predicted has {len(row['predicted'])} blocks, num_blocks is {n}"
    if row["predicted_shifts"] != shift_blocks(row["predicted"]):
        return "predicted_shifts do not match the <shift>s of predicted"
    for i, ev in enumerate(row["events"]):
        if ev["answer"] >= len(row["answers"]):
            return f"events/{i}: answer {ev['answer']} of {len(row['answers'])}"
        if ev["end"] < ev["time"]:
            return f"events/{i}: ends before it starts"
    return None


def make_line(
    record: dict, predicted, checkpoint: str, cfg: ScoreConfig, decoding: dict | None = None
) -> dict:
    """A whole error-log line from a dialogue's gold record and a predicted track;
    `decoding` says how the track was decoded (the same checkpoint decodes differently
    with another `<shift>` threshold)."""
    track = [int(x) for x in predicted]
    verdict = judge(record, track, cfg)
    events = [ev | v for ev, v in zip(record["events"], _public(verdict["verdicts"]), strict=True)]
    return {
        "schema": SCHEMA_ID,
        **{k: record[k] for k in ("cut_id", "corpus", "task", "block_s", "num_blocks", "tokenizer")},
        "checkpoint": checkpoint,
        **({"decoding": decoding} if decoding is not None else {}),
        "answers": record["answers"],
        "events": events,
        "gold_shifts": record["gold_shifts"],
        "predicted_shifts": shift_blocks(track),
        "predicted": track,
        "category": verdict["category"],
        "errors": verdict["errors"],
    }


def _public(verdicts: list[dict]) -> list[dict]:
    return [{k: v for k, v in d.items() if k in ("outcome", "latency_ms")} for d in verdicts]


@dataclass
class ReadLog:
    lines: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)  # {"line": n, "reason": ..., "cut_id": ...}

    @property
    def total(self) -> int:
        return len(self.lines) + len(self.rejected)


def read_log(path: str | Path) -> ReadLog:
    out = ReadLog()
    text = Path(path).read_text(encoding="utf-8")
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as e:
            out.rejected.append({"line": n, "reason": f"not JSON: {e.msg} at column {e.colno}"})
            continue
        if not isinstance(row, dict):
            out.rejected.append({"line": n, "reason": "not a JSON object"})
            continue
        problem = schema_problem(row) or consistency_problem(row)
        if problem:
            out.rejected.append({"line": n, "reason": problem, "cut_id": row.get("cut_id")})
            continue
        out.lines.append(row)
    return out


def write_log(path: str | Path, lines: list[dict]) -> None:
    from datagen.io.atomic import write_text

    write_text(Path(path), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
