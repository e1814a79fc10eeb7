"""Label ids map into the backbone's vocabulary; a corpus in another tokenizer is refused."""

import pytest
import torch

from datagen.text.tokenizer import builtin_tokenizer
from datagen.train.training.vocab import TokenizerMismatch, hf_vocab, tiny_vocab


def test_tiny_backbone_speaks_the_builtin_tokenizer():
    tok = builtin_tokenizer()
    v = tiny_vocab(tok.name)
    assert (v.think, v.shift, v.size) == (tok.vocab_size, tok.vocab_size + 1, tok.vocab_size + 2)
    labels = torch.tensor([0, 1, 2, 2 + 41, 1, 0])
    ids = v.to_backbone(labels)
    assert ids.tolist() == [v.think, v.shift, 0, 41, v.shift, v.think]
    assert v.to_labels(ids).tolist() == labels.tolist()


def test_a_corpus_labelled_with_another_tokenizer_is_refused():
    with pytest.raises(TokenizerMismatch, match="labelled with tokenizer 'hf:llama-3-abc'"):
        tiny_vocab("hf:llama-3-abc")


def test_a_local_hf_backbone_must_carry_the_corpus_tokenizer(tmp_path):
    from hf_support import tiny_hf_backbone

    folder = tiny_hf_backbone(tmp_path / "bb")
    from datagen.text.tokenizer import HFTokenizer

    name = HFTokenizer(str(folder)).name
    v, tok = hf_vocab(name, str(folder))
    assert tok.convert_ids_to_tokens([v.think, v.shift]) == ["<think>", "<shift>"]
    assert v.size == len(tok) and v.think >= HFTokenizer(str(folder))._tok.get_vocab_size()
    with pytest.raises(TokenizerMismatch, match="backbone at"):
        hf_vocab(builtin_tokenizer().name, str(folder))
