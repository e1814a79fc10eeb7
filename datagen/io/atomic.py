"""Atomic writes: a killed run never leaves a half file that looks whole."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text(path: Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def json_text(data: Any) -> str:
    """How every JSON file of a corpus is written (the same bytes on disk and in a store)."""
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def jsonl_text(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in rows)


def parse_jsonl(text: str | None) -> list[dict]:
    return [json.loads(line) for line in (text or "").splitlines() if line.strip()]


def write_json(path: Path, data: Any) -> None:
    write_text(path, json_text(data))


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    write_text(path, jsonl_text(rows))


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return parse_jsonl(path.read_text(encoding="utf-8"))


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a fully written temp folder into place (rename is atomic on one filesystem)."""
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
