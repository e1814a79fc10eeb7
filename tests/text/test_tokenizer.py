"""Label-track tokenizers: the offline word tokenizer and local HF tokenizers."""

from __future__ import annotations

import numpy as np
import pytest

from datagen.text.tokenizer import (
    SHIFT_ID,
    TEXT_OFFSET,
    THINK_ID,
    HFTokenizer,
    WordTokenizer,
    builtin_tokenizer,
    get_tokenizer,
    label_to_text,
    vocab_fingerprint,
)


@pytest.mark.parametrize("text", [" The capital of France is Paris.", " Naïve café, 42% — ok?", " 東京", ""])
def test_builtin_round_trips_any_text(text):
    tok = builtin_tokenizer()
    assert tok.decode(tok.encode(text)) == text


def test_builtin_uses_whole_words_for_shipped_text():
    tok = builtin_tokenizer()
    ids = tok.encode(" The answer is the Great Wall.")
    assert all(i >= 256 for i in ids)  # no byte fallback for our own vocabulary
    assert [tok.piece(i) for i in ids] == [" The", " answer", " is", " the", " Great", " Wall", "."]


def test_unknown_words_fall_back_to_bytes():
    tok = WordTokenizer([" known"])
    ids = tok.encode(" known zyx")
    assert ids[0] == 256 and ids[1:] == list(b" zyx")


def test_name_changes_with_vocabulary():
    assert WordTokenizer([" a"]).name != WordTokenizer([" b"]).name


def test_label_ids_render():
    tok = WordTokenizer([" hi"])
    assert label_to_text(THINK_ID, tok) == "<think>" and label_to_text(SHIFT_ID, tok) == "<shift>"
    assert label_to_text(TEXT_OFFSET + 256, tok) == " hi"


def _train_local_tokenizer(path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()  # as in Llama-3's tokenizer.json
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<unk>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["the capital of france is paris", "the great wall of china"] * 50, trainer)
    path.mkdir()
    tok.save(str(path / "tokenizer.json"))


def test_hf_tokenizer_from_a_local_folder(tmp_path):
    pytest.importorskip("tokenizers", reason="the serve/qc extras bring `tokenizers`")
    _train_local_tokenizer(tmp_path / "llama-like")
    tok = get_tokenizer(str(tmp_path / "llama-like"))
    assert isinstance(tok, HFTokenizer) and tok.name.startswith("hf:llama-like-")
    assert tok.name == f"hf:llama-like-{vocab_fingerprint(tok._tok.get_vocab())}"  # names its vocabulary
    ids = tok.encode(" the capital of france")
    assert tok.decode(ids) == " the capital of france" and len(ids) < len(" the capital of france")
    assert (
        "".join(tok.piece(i) for i in ids).replace("Ġ", " ") == " the capital of france"
    )  # byte-level pieces


def test_hf_tokenizer_needs_a_local_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="local path"):
        HFTokenizer(str(tmp_path / "meta-llama/Meta-Llama-3-8B-Instruct"))


def test_compose_with_a_local_hf_tokenizer(tmp_path):
    """The whole label path works with a non-builtin tokenizer."""
    pytest.importorskip("tokenizers")
    from tests_support_compose import compose_one

    _train_local_tokenizer(tmp_path / "tok")
    sample = compose_one(labels_tokenizer=str(tmp_path / "tok"))
    assert sample.meta["label_meta"]["tokenizer"].startswith("hf:tok-")
    assert int(np.sum(sample.labels == SHIFT_ID)) == 2 and int(np.sum(sample.labels >= TEXT_OFFSET)) > 0
