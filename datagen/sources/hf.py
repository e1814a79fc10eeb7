"""Question sets from the Hugging Face hub, by dataset id.

Each supported set has its own field names (`question` + `answers` list,
`answer.value` + `answer.aliases`, `instruction`, ...). The mapping of a
row is the local-file reader's (`local_files.FORMATS`); `HF_SETS` only adds
what the hub needs (config, default split, columns, ids, topics), so adding
a set is one entry in each table. Large sets
(Natural Questions, TriviaQA) are streamed so `limit` reads only what it
keeps instead of downloading gigabytes.

Offline is the normal case on our machines, so the loader fails *fast*:
with `HF_HUB_OFFLINE=1` `datasets` answers from its cache at once, and
without it we probe the hub with a 3 s socket connect before calling
`load_dataset` (which otherwise retries for ~25 s). Either way the error
names the alternative: `questions.source: local` with `questions.path` and
`questions.format` (the same field names, read from a JSONL/Parquet file).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from datagen.config import QuestionsConfig
from datagen.records import Question, Reject
from datagen.sources.local_files import DEFAULT_TOPIC, FORMATS, STAGE, RowError, question_key
from datagen.text.normalize import clean_text, text_problem

PROBE_TIMEOUT_S = 3.0
RAW_CHARS = 500


def _freebase_topic(row: dict[str, Any]) -> str:
    """web_questions rows carry the Freebase page of their topic entity."""
    tail = str(row.get("url") or "").rstrip("/").rsplit("/", 1)[-1]
    return tail.replace("_", " ").strip()


def _field(name: str) -> Callable[[dict[str, Any]], str]:
    return lambda row: str(row.get(name) or "").strip()


@dataclass(frozen=True)
class HFSet:
    """What the hub adds to a layout of `local_files.FORMATS`: where and how to load it.

    The row -> (text, answer, aliases) mapping itself is the local reader's
    (`FORMATS[format]`), so a hub row and the same row exported to JSONL
    become the same Question.
    """

    format: str  # layout name in local_files.FORMATS (= questions.format for local files)
    config: str | None
    default_split: str
    columns: tuple[str, ...]  # the text columns to keep (others, e.g. audio, are dropped)
    id_field: str | None = None  # None: ids from split + row number
    topic: Callable[[dict[str, Any]], str] = lambda row: ""
    large: bool = False  # stream by default


HF_SETS: dict[str, HFSet] = {
    "Stanford/web_questions": HFSet(
        "web_questions", None, "train", ("question", "answers", "url"), topic=_freebase_topic
    ),
    "google-research-datasets/nq_open": HFSet(
        "nq_open", "nq_open", "train", ("question", "answer"), large=True
    ),
    "mandarjoshi/trivia_qa": HFSet(
        "trivia_qa", "rc.nocontext", "train", ("question", "question_id", "answer"), "question_id", large=True
    ),
    "fixie-ai/llama-questions": HFSet("llama_questions", None, "test", ("question", "answer")),
    "tatsu-lab/alpaca_eval": HFSet(
        "alpaca_eval", "alpaca_eval", "eval", ("instruction", "dataset"), topic=_field("dataset")
    ),
}


def rows_to_questions(
    spec: HFSet, rows: Iterable[dict[str, Any]], split: str, max_chars: int, limit: int | None = None
) -> tuple[list[Question], list[Reject]]:
    """Map hub rows to Questions; every row read ends up kept or rejected with a reason.

    Field extraction, text checks, cleaning and the dedupe key are the ones
    the local-file reader uses (`FORMATS`, `text_problem`, `clean_text`,
    `question_key`), with the same reject reasons, so a set reads the same
    from the hub as from an export. Stops once `limit` questions are kept
    (rows never read are not inputs).
    """
    extract = FORMATS[spec.format]
    kept: list[Question] = []
    rejects: list[Reject] = []
    seen: dict[str, str] = {}
    source = f"hf:{spec.format}"
    for row_no, row in enumerate(rows, 1):
        if limit is not None and len(kept) >= limit:
            break
        qid = f"{spec.format}-{split}:{row_no}"
        if spec.id_field and str(row.get(spec.id_field) or "").strip():
            qid = str(row[spec.id_field]).strip()
        raw = json.dumps(row, ensure_ascii=False, default=str)[:RAW_CHARS]
        try:
            text, answer, aliases = extract(row)
        except RowError as e:
            rejects.append(Reject(qid, STAGE, e.reason, e.detail, raw))
            continue
        problem = text_problem(text, max_chars)
        if problem:
            rejects.append(Reject(qid, STAGE, problem, f"question text: {problem}", raw))
            continue
        text = clean_text(text)
        key = question_key(text)
        if key in seen:
            rejects.append(Reject(qid, STAGE, "duplicate_question", f"same question as {seen[key]}", raw))
            continue
        seen[key] = qid
        answer = clean_text(answer)
        aliases = tuple(dict.fromkeys(a for a in map(clean_text, aliases) if a and a != answer))
        topic = spec.topic(row) or DEFAULT_TOPIC
        kept.append(Question(id=qid, text=text, answer=answer, topic=topic, source=source, aliases=aliases))
    return kept, rejects


class HFUnavailable(RuntimeError):
    """The hub (or the dataset) cannot be reached; the message says what to do instead."""


def _local_hint(spec: HFSet | None) -> str:
    fmt = spec.format if spec else "<format>"
    return (
        "use a local copy instead: questions.source: local, questions.path: /path/to/file.jsonl "
        f"(or .parquet) with the same fields, questions.format: {fmt}"
    )


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def _probe_target() -> tuple[str, int]:
    """Where a connection to the hub goes first: the HTTPS proxy if set, else the endpoint."""
    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        if os.environ.get(var):
            u = urlparse(os.environ[var] if "://" in os.environ[var] else f"http://{os.environ[var]}")
            return u.hostname or "", u.port or 3128
    u = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return u.hostname or "huggingface.co", u.port or (443 if u.scheme == "https" else 80)


def hub_reachable(timeout: float = PROBE_TIMEOUT_S) -> tuple[bool, str]:
    host, port = _probe_target()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, ""
    except OSError as e:
        return False, f"{host}:{port}: {e}"


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "questions.source=hf needs the `datasets` package: pip install 'duplex-datagen[hf]'; "
            "or use questions.source: local with questions.path and questions.format"
        ) from None
    return datasets


def load_hf_questions(cfg: QuestionsConfig) -> tuple[list[Question], list[Reject]]:
    """Load one hub question set (cfg.source == "hf") as Questions and rejects."""
    if not cfg.dataset:
        raise ValueError("questions.source=hf needs questions.dataset")
    spec = HF_SETS.get(cfg.dataset)
    if spec is None:
        raise ValueError(f"unsupported hub dataset {cfg.dataset!r}; supported: {sorted(HF_SETS)}")
    datasets = _import_datasets()
    split = cfg.split if "split" in cfg.model_fields_set else spec.default_split
    config = cfg.config or spec.config
    streaming = cfg.streaming or spec.large
    if not _offline():
        ok, why = hub_reachable()
        if not ok:
            raise HFUnavailable(
                f"cannot reach the Hugging Face hub for {cfg.dataset} ({why}). If the set is in your HF "
                f"cache, set HF_HUB_OFFLINE=1 to read it from there; otherwise {_local_hint(spec)}"
            )
    try:
        ds = datasets.load_dataset(cfg.dataset, config, split=split, streaming=streaming)
    except (ConnectionError, OSError, TimeoutError) as e:
        where = (
            "offline mode (HF_HUB_OFFLINE=1) and it is not in the HF cache" if _offline() else "load failed"
        )
        raise HFUnavailable(f"{cfg.dataset} [{config}/{split}]: {where}: {e}; {_local_hint(spec)}") from None
    ds = _only_text_columns(ds, spec)
    return rows_to_questions(spec, ds, split, cfg.max_chars, cfg.limit)


def _only_text_columns(ds: Any, spec: HFSet) -> Any:
    """Keep the text columns (llama-questions carries audio) so rows never decode media."""
    names = getattr(ds, "column_names", None)
    if not names:
        return ds
    keep = [c for c in names if c in spec.columns]
    return ds.select_columns(keep) if keep and len(keep) < len(names) else ds
