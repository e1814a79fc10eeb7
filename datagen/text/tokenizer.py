"""Tokenizers for the label track's text tokens.

The label track needs one id per text token, readable back as text. Real
runs use the LLM's own tokenizer (a Llama-3 `tokenizer.json` from a local
folder). Offline we need something small, deterministic and dependency-free:
`WordTokenizer` splits into words and punctuation (leading space kept on the
piece, so decoding is concatenation) and maps each piece through a
vocabulary built from the bundled text; a piece outside the vocabulary falls
back to its UTF-8 bytes, so every text round-trips exactly.

Label ids (see docs/labels.md): 0 = <think>, 1 = <shift>, 2 + token id = text.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Protocol

THINK_ID = 0
SHIFT_ID = 1
TEXT_OFFSET = 2
THINK, SHIFT = "<think>", "<shift>"

_PIECE = re.compile(r"\s*[\w']+|\s*[^\w\s]")


class LabelTokenizer(Protocol):
    name: str

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def piece(self, token_id: int) -> str: ...


class WordTokenizer:
    """Offline word-level tokenizer with byte fallback (see module docstring)."""

    def __init__(self, vocab: list[str]):
        self._bytes = [bytes([i]) for i in range(256)]
        self._vocab = list(vocab)
        self._index = {p: 256 + i for i, p in enumerate(self._vocab)}
        digest = hashlib.sha1("\n".join(self._vocab).encode()).hexdigest()[:10]
        self.name = f"builtin-word-{digest}"

    @property
    def vocab_size(self) -> int:
        return 256 + len(self._vocab)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for m in _PIECE.finditer(text):
            piece = m.group(0)
            if piece in self._index:
                ids.append(self._index[piece])
            else:
                ids.extend(piece.encode("utf-8"))
        return ids

    def piece(self, token_id: int) -> str:
        if token_id < 256:
            return self._bytes[token_id].decode("latin-1")
        return self._vocab[token_id - 256]

    def decode(self, ids: list[int]) -> str:
        out = bytearray()
        for i in ids:
            out += self._bytes[i] if i < 256 else self._vocab[i - 256].encode("utf-8")
        return out.decode("utf-8", errors="replace")


class HFTokenizer:
    """A Hugging Face `tokenizers` tokenizer from a local folder or file
    (e.g. Llama-3-8B-Instruct's tokenizer.json). Never downloads."""

    def __init__(self, path: str):
        try:
            from tokenizers import Tokenizer
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise RuntimeError("labels.tokenizer needs the `tokenizers` package") from e
        p = Path(path)
        file = p / "tokenizer.json" if p.is_dir() else p
        if not file.is_file():
            raise FileNotFoundError(
                f"labels.tokenizer: no tokenizer.json at {path} (a local path is required)"
            )
        self._tok = Tokenizer.from_file(str(file))
        # The folder name says which tokenizer; the fingerprint proves it, so a
        # trainer can refuse a backbone whose vocabulary differs (datagen/train).
        self.name = f"hf:{p.name}-{vocab_fingerprint(self._tok.get_vocab())}"

    def encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=False)

    def piece(self, token_id: int) -> str:
        return self._tok.id_to_token(token_id) or ""


def vocab_fingerprint(vocab: dict[str, int]) -> str:
    """A short hash of a token -> id mapping: equal iff the label ids mean the same text."""
    lines = "\n".join(f"{i}\t{t}" for t, i in sorted(vocab.items(), key=lambda kv: kv[1]))
    return hashlib.sha1(lines.encode("utf-8")).hexdigest()[:10]


def _bundled_text() -> list[str]:
    """Every text we ship (questions, answers, phrase banks, scripted
    templates): the builtin vocabulary is built from it, so offline corpora
    tokenize mostly into whole words."""
    from importlib import resources

    import yaml

    texts: list[str] = []
    data = resources.files("datagen") / "data"
    qfile = data / "questions.jsonl"
    if qfile.is_file():
        import json

        for line in qfile.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                texts += [row.get("question", ""), row.get("answer", ""), row.get("topic", "")]
    pfile = data / "phrases.yaml"
    if pfile.is_file():
        banks = yaml.safe_load(pfile.read_text()) or {}
        for entries in banks.values():
            for e in entries or []:
                texts.append(e["text"] if isinstance(e, dict) else str(e))
    from datagen.backends.llm import scripted_phrases

    for value in vars(scripted_phrases).values():  # the scripted backend's template phrases
        if isinstance(value, (tuple, frozenset)) and value and all(isinstance(v, str) for v in value):
            texts += list(value)
    return texts


@lru_cache(maxsize=1)
def builtin_tokenizer() -> WordTokenizer:
    pieces: set[str] = set()
    for t in _bundled_text():
        for m in _PIECE.finditer(" " + t):
            p = m.group(0)
            pieces.add(p)
            pieces.add(p.strip())
            pieces.add(" " + p.strip())
    return WordTokenizer(sorted(p for p in pieces if p.strip()))


@lru_cache(maxsize=4)
def get_tokenizer(spec: str) -> LabelTokenizer:
    """`builtin` or a local path to a Hugging Face tokenizer."""
    if spec == "builtin":
        return builtin_tokenizer()
    return HFTokenizer(spec)


def label_to_text(label_id: int, tok: LabelTokenizer) -> str:
    if label_id == THINK_ID:
        return THINK
    if label_id == SHIFT_ID:
        return SHIFT
    return tok.piece(label_id - TEXT_OFFSET)
