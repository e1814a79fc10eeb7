"""A tiny Llama with its own locally trained tokenizer, saved as a Hugging Face folder
(what a user's local Llama-3 folder looks like, in miniature; nothing downloaded)."""

from __future__ import annotations

from pathlib import Path


def tiny_hf_backbone(folder: Path, tied: bool = False) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    from datagen.text.tokenizer import _bundled_text

    trainer = trainers.BpeTrainer(
        vocab_size=3000, special_tokens=["<unk>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    # trained on the text we ship, so an offline corpus tokenizes into about a token a word
    tok.train_from_iterator(_bundled_text(), trainer)
    folder.mkdir(parents=True, exist_ok=True)
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>").save_pretrained(str(folder))
    cfg = LlamaConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=tied,
    )
    LlamaForCausalLM(cfg).save_pretrained(str(folder))
    return folder
