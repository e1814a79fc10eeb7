"""Label ids (the corpus's) <-> token ids (the backbone's).

The corpus stores one label id per 80 ms block: 0 `<think>`, 1 `<shift>`,
2 + t for text token t of the tokenizer named in `cut.custom["label_meta"]`
(docs/labels.md). The backbone reads and writes its own vocabulary, with
`<think>` and `<shift>` added as special tokens. Text ids carry over only if
the corpus was labelled with the backbone's own tokenizer, so that is checked
by name and vocabulary fingerprint, and anything else is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from datagen.text.tokenizer import SHIFT, SHIFT_ID, TEXT_OFFSET, THINK, THINK_ID, builtin_tokenizer

SPECIAL_TOKENS = (THINK, SHIFT)


class TokenizerMismatch(ValueError):
    """The corpus's label tokenizer is not the backbone's."""


@dataclass(frozen=True)
class LabelVocab:
    """Where the label ids land in the backbone's vocabulary."""

    tokenizer: str  # the corpus tokenizer name this vocabulary serves
    size: int  # backbone vocabulary size, special tokens included
    think: int  # backbone id of <think>
    shift: int  # backbone id of <shift>

    def to_backbone(self, labels: torch.Tensor) -> torch.Tensor:
        text = (labels - TEXT_OFFSET).clamp(min=0)
        out = torch.where(labels == THINK_ID, torch.full_like(labels, self.think), text)
        return torch.where(labels == SHIFT_ID, torch.full_like(labels, self.shift), out)

    def to_label(self, token_id: int) -> int:
        if token_id == self.think:
            return THINK_ID
        if token_id == self.shift:
            return SHIFT_ID
        return int(token_id) + TEXT_OFFSET

    def to_labels(self, ids: torch.Tensor | np.ndarray) -> np.ndarray:
        ids = torch.as_tensor(ids)
        out = ids + TEXT_OFFSET
        out = torch.where(ids == self.think, torch.full_like(ids, THINK_ID), out)
        out = torch.where(ids == self.shift, torch.full_like(ids, SHIFT_ID), out)
        return out.numpy().astype(np.int32)

    def to_dict(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer, "size": self.size, "think": self.think, "shift": self.shift}


def _refuse(corpus: str, backbone: str, what: str) -> TokenizerMismatch:
    return TokenizerMismatch(
        f"the corpus was labelled with tokenizer {corpus!r} but {what} uses {backbone!r}: its text "
        "label ids would mean other words. Build the corpus with `--set labels.tokenizer=<the "
        "backbone folder>` (or train the tiny backbone on a corpus labelled with `builtin`)."
    )


def tiny_vocab(corpus_tokenizer: str) -> LabelVocab:
    """The tiny in-code backbone speaks the builtin word tokenizer, plus the two specials."""
    tok = builtin_tokenizer()
    if corpus_tokenizer != tok.name:
        raise _refuse(corpus_tokenizer, tok.name, "the tiny backbone (this install's builtin tokenizer)")
    v = tok.vocab_size
    return LabelVocab(tok.name, v + 2, v, v + 1)


def hf_vocab(corpus_tokenizer: str, backbone_path: str) -> tuple[LabelVocab, Any]:
    """A local Hugging Face backbone: its tokenizer must be the corpus's; <think>
    and <shift> are added to it. Returns the vocabulary and the tokenizer (saved
    with checkpoints so the added ids travel with the weights)."""
    from transformers import AutoTokenizer

    from datagen.text.tokenizer import HFTokenizer

    name = HFTokenizer(backbone_path).name
    if corpus_tokenizer != name:
        raise _refuse(corpus_tokenizer, name, f"the backbone at {backbone_path}")
    tok = AutoTokenizer.from_pretrained(backbone_path, local_files_only=True)
    tok.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    think, shift = tok.convert_tokens_to_ids(list(SPECIAL_TOKENS))
    return LabelVocab(name, len(tok), int(think), int(shift)), tok
