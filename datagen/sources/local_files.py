"""Question sets from local JSONL or Parquet files with Hugging Face field names.

Our GPU and CPU machines cannot reach the hub, so the public QA sets arrive
as files exported elsewhere, keeping their original field names. This reader
knows those layouts (REFERENCE §3) and our bundled one, and turns every row
into either a `Question` or a `Reject` with a reason: one broken row in a
90k-row export must cost that row, not the run, and must show up in
rejects.jsonl so nothing disappears silently.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datagen.records import Question, Reject
from datagen.text.normalize import clean_text, text_problem

__all__ = ["FORMATS", "detect_format", "question_key", "read_local_questions"]

STAGE = "questions"
RAW_CHARS = 500
DEFAULT_TOPIC = "general"

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class RowError(Exception):
    """A row that cannot become a Question; carries the reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


# ------------------------------------------------------------ field access


def _get(row: dict[str, Any], key: str) -> Any:
    if key not in row or row[key] is None:
        raise RowError("missing_field", f"field {key!r} is missing")
    return row[key]


def _str(row: dict[str, Any], key: str) -> str:
    value = _get(row, key)
    if not isinstance(value, str):
        raise RowError("wrong_type", f"field {key!r} should be a string, got {type(value).__name__}")
    return value


def _str_list(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise RowError("wrong_type", f"field {key!r} should be a list of strings")
    return list(value)


def _first_and_rest(values: list[str]) -> tuple[str, tuple[str, ...]]:
    return (values[0], tuple(values[1:])) if values else ("", ())


# One extractor per layout: row -> (question text, answer, aliases).
Extracted = tuple[str, str, tuple[str, ...]]


def _web_questions(row: dict[str, Any]) -> Extracted:
    return (_str(row, "question"), *_first_and_rest(_str_list(_get(row, "answers"), "answers")))


def _nq_open(row: dict[str, Any]) -> Extracted:
    return (_str(row, "question"), *_first_and_rest(_str_list(_get(row, "answer"), "answer")))


def _trivia_qa(row: dict[str, Any]) -> Extracted:
    text = _str(row, "question")
    answer = _get(row, "answer")
    if not isinstance(answer, dict):
        raise RowError("wrong_type", "field 'answer' should be an object with 'value' and 'aliases'")
    value = _str(answer, "value")
    aliases = _str_list(answer.get("aliases") or [], "answer.aliases")
    return text, value, tuple(a for a in aliases if a != value)


def _llama_questions(row: dict[str, Any]) -> Extracted:
    return (_str(row, "question"), *_first_and_rest(_str_list(_get(row, "answer"), "answer")))


def _alpaca_eval(row: dict[str, Any]) -> Extracted:
    return _str(row, "instruction"), "", ()


def _bundled(row: dict[str, Any]) -> Extracted:
    text = _str(row, "question")
    answer = row.get("answer")
    if answer is not None and not isinstance(answer, str):
        raise RowError("wrong_type", f"field 'answer' should be a string, got {type(answer).__name__}")
    aliases = _str_list(row.get("aliases") or [], "aliases")
    return text, answer or "", tuple(aliases)


FORMATS: dict[str, Callable[[dict[str, Any]], Extracted]] = {
    "web_questions": _web_questions,
    "nq_open": _nq_open,
    "trivia_qa": _trivia_qa,
    "llama_questions": _llama_questions,
    "alpaca_eval": _alpaca_eval,
    "bundled": _bundled,
}
# The field that names a row, where the layout has one.
_ID_FIELDS = {"trivia_qa": "question_id", "bundled": "id"}


def _canonical_format(fmt: str) -> str:
    """Accept "nq_open", "google-research-datasets/nq_open" or "llama-questions"."""
    name = fmt.strip().rsplit("/", 1)[-1].lower().replace("-", "_")
    if name not in FORMATS:
        raise ValueError(f"unknown question format {fmt!r}; choose one of {list(FORMATS)}")
    return name


def detect_format(row: dict[str, Any]) -> str | None:
    """Guess the layout from a row's field names (None if no layout fits).

    Checked from the most to the least specific field, since e.g. every
    layout but alpaca_eval has `question`.
    """
    if "instruction" in row:
        return "alpaca_eval"
    if "question" not in row:
        return None
    if "question_id" in row or isinstance(row.get("answer"), dict):
        return "trivia_qa"
    if "answers" in row:
        return "web_questions"
    if isinstance(row.get("answer"), list):
        return "nq_open"
    if "id" in row or "topic" in row:
        return "bundled"
    if isinstance(row.get("answer"), str):
        return "llama_questions"
    return "bundled"


def question_key(text: str) -> str:
    """Dedupe key: the same question with other case, spacing or punctuation."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


# ------------------------------------------------------------ file reading

# Each reader yields (row number, raw text, parsed row or None, (reason, detail) or None).
RawRow = tuple[int, str, Any, tuple[str, str] | None]


def _iter_jsonl(path: Path) -> Iterator[RawRow]:
    """Lines are read as bytes so one line of invalid UTF-8 is one reject."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            for line_no, data in enumerate(f, 1):
                if line_no == 1 and data.startswith(b"\xef\xbb\xbf"):
                    data = data[3:]
                if not data.strip():
                    continue
                try:
                    line = data.decode("utf-8").strip()
                except UnicodeDecodeError as e:
                    raw = data.decode("utf-8", "replace").strip()
                    yield line_no, raw, None, ("invalid_utf8", f"byte {e.start}: {e.reason}")
                    continue
                try:
                    yield line_no, line, json.loads(line), None
                except json.JSONDecodeError as e:
                    yield line_no, line, None, ("malformed_json", f"{e.msg} at column {e.colno}")
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt gzip stream: {e}") from None


def _iter_parquet(path: Path) -> Iterator[RawRow]:
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow comes with ray[data]
        raise ValueError("reading Parquet question files needs pyarrow (pip install pyarrow)") from None
    try:
        pf = pq.ParquetFile(path)
        batches = pf.iter_batches(batch_size=2048)
        row_no = 0
        for batch in batches:
            for row in batch.to_pylist():
                row_no += 1
                yield row_no, json.dumps(row, ensure_ascii=False, default=str), row, None
    except (OSError, ValueError) as e:  # pyarrow.ArrowInvalid is a ValueError
        raise ValueError(f"{path}: not a readable Parquet file: {e}") from None


def _file_kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise ValueError(
        f"{path}: unknown question file type; expected one of {list(_JSONL_SUFFIXES + _PARQUET_SUFFIXES)}"
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(_JSONL_SUFFIXES + _PARQUET_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _row_id(layout: str, row: dict[str, Any]) -> str | None:
    value = row.get(_ID_FIELDS.get(layout, ""))
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


# ------------------------------------------------------------ the reader


class _Collector:
    """Turns parsed rows into Questions or Rejects, deduping as it goes."""

    def __init__(self, stem: str, source: str, max_chars: int):
        self.stem, self.source, self.max_chars = stem, source, max_chars
        self.questions: list[Question] = []
        self.rejects: list[Reject] = []
        self._texts: dict[str, str] = {}
        self._ids: set[str] = set()

    def reject(self, id: str, reason: str, detail: str, raw: str) -> None:
        self.rejects.append(Reject(id=id, stage=STAGE, reason=reason, detail=detail, raw=raw[:RAW_CHARS]))

    def add(self, layout: str, line_no: int, raw: str, row: dict[str, Any]) -> None:
        fallback = f"{self.stem}:{line_no}"
        rid = _row_id(layout, row)
        qid = rid or fallback
        try:
            text, answer, aliases = FORMATS[layout](row)
        except RowError as e:
            self.reject(qid, e.reason, e.detail, raw)
            return
        problem = text_problem(text, self.max_chars)
        if problem:
            self.reject(qid, problem, f"question text: {problem}", raw)
            return
        text = clean_text(text)
        key = question_key(text)
        if key in self._texts:
            self.reject(qid, "duplicate_question", f"same question as {self._texts[key]}", raw)
            return
        if qid in self._ids:
            self.reject(fallback, "duplicate_id", f"id {qid!r} already used by another question", raw)
            return
        topic = row.get("topic")
        topic = topic.strip() if isinstance(topic, str) and topic.strip() else DEFAULT_TOPIC
        cleaned_aliases = tuple(a for a in (clean_text(x) for x in aliases) if a)
        self._texts[key] = qid
        self._ids.add(qid)
        self.questions.append(Question(qid, text, clean_text(answer), topic, self.source, cleaned_aliases))


def read_local_questions(
    path: str | Path, fmt: str | None = None, max_chars: int = 300, limit: int | None = None
) -> tuple[list[Question], list[Reject]]:
    """Read a JSONL (.jsonl, .jsonl.gz) or Parquet question file.

    `fmt` names the layout (web_questions, nq_open, trivia_qa, llama_questions,
    alpaca_eval, bundled); when None it is detected from the first row whose
    fields identify one. Reading stops once `limit` questions are kept.
    Raises FileNotFoundError for a missing file and ValueError for an
    unknown layout/file type or a file that cannot be read at all.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"question file not found: {p}")
    kind = _file_kind(p)
    layout = _canonical_format(fmt) if fmt else None
    out = _Collector(_stem(p), f"local:{p.name}", max_chars)
    pending: list[tuple[int, str, dict[str, Any]]] = []  # rows seen before the layout is known
    fields_seen: set[str] = set()
    rows = _iter_jsonl(p) if kind == "jsonl" else _iter_parquet(p)
    for line_no, raw, row, error in rows:
        if limit is not None and len(out.questions) >= limit:
            break
        if error:
            out.reject(f"{out.stem}:{line_no}", error[0], error[1], raw)
        elif not isinstance(row, dict):
            out.reject(
                f"{out.stem}:{line_no}", "wrong_type", f"row is a {type(row).__name__}, not an object", raw
            )
        elif layout is None:
            pending.append((line_no, raw, row))
            fields_seen.update(row)
            layout = detect_format(row)
            if layout:
                for args in pending:
                    out.add(layout, *args)
                pending.clear()
        else:
            out.add(layout, line_no, raw, row)
    if pending:
        raise ValueError(
            f"{p}: cannot tell which question set layout this is from fields {sorted(fields_seen)}; "
            f"set questions.format to one of {list(FORMATS)}"
        )
    if limit is not None:
        del out.questions[limit:]
    return out.questions, out.rejects
