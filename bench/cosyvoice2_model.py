"""A CosyVoice2 model folder made in code, with random weights at real shapes.

    python -m bench.cosyvoice2_model --size tiny --out /tmp/cv2_tiny
    python -m bench.cosyvoice2_model --size 0.5b --out /data/cv2_random_05b

The weights of CosyVoice2-0.5B cannot be downloaded here, but upstream's own
code can still run end to end on weights we make: this writes every file
`cosyvoice.cli.cosyvoice.CosyVoice2(model_dir)` opens, built by upstream's
own classes from a hyperpyyaml file modelled on upstream's
`examples/libritts/cosyvoice2/conf/cosyvoice2.yaml` (the released model's
yaml has the same model section):

* `cosyvoice2.yaml`; `llm.pt`, `flow.pt`, `hift.pt`: the state dicts of the
  modules that yaml builds (so `load_state_dict(strict=True)` takes them);
* `campplus.onnx` (fbank [1, T, 80] -> speaker embedding [1, 192]) and
  `speech_tokenizer_v2.onnx` (whisper log-mel [1, 128, T] and its length ->
  25 Hz speech tokens < 6561), exported from small torch modules with the
  input/output names and shapes of the released files (bench/cosyvoice2_onnx.py);
* `CosyVoice-BlankEN/`: a Qwen2 config, its random weights (safetensors)
  and a byte-level BPE tokenizer trained here on our own question/phrase
  text, in the layout `get_qwen_tokenizer` and `Qwen2ForCausalLM.from_pretrained`
  read (offline: nothing is fetched).

The same size and `--seed` give the same bytes in every file.

Sizes (bench/cosyvoice2_yaml.py): `0.5b` has the released hyper-parameters (Qwen2-0.5B LLM: 24 layers,
896 wide; the flow's 6-block conformer and 12-mid-block decoder; HiFT at 512
channels). `tiny` keeps every interface (token rate, mel size, vocabularies,
the 512-wide flow encoder upstream hard-codes) with few layers and small
widths, so one utterance takes seconds on 2 CPU cores.

Random weights need three things a trained model has (all set in `shape_weights`):

* **Lengths.** A random LLM almost never samples the end token, so upstream's
  loop would run to its cap of 20 speech tokens per text token. The LLM's
  output layer is scaled down (logits within ~0.1 of each other) and the end
  token's bias raised (`EOS_LOGIT_BIAS`), so among the 25 candidates
  upstream's top-k sampler keeps it is picked about 3 times in 4: upstream's
  `min_token_text_ratio` (2 speech tokens per text token, before which it
  resamples the end token away, 100 tries at most) then sets the length, plus
  a short tail (the end token is skipped when upstream's repetition check
  falls back to sampling the whole distribution).
  At 25 tokens/s that is 80 ms of audio per text token; recipes slow it to
  a speaking rate with upstream's `speed` (a mel stretch).
* **Level.** HiFT's last layer is scaled down and its magnitude bias set to
  `log(MAG)`, so the vocoder's iSTFT magnitude is nearly constant: steady
  noise at about -20 dBFS (`GAIN_DB` below), loud enough for the signal
  check (-45 dBFS) and with no gaps for energy trimming to cut into.
* **Pitch.** The F0 predictor outputs ~150 Hz, so HiFT's harmonic source is
  a voice-like buzz rather than noise at a random pitch.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
from pathlib import Path

from bench.cosyvoice2_yaml import QWEN, SHAPE, SIZES, SPEECH_TOKENS, YAML

LLM_LOGIT_STD = 0.1  # spread of the scaled-down LLM logits
# The end token three times as likely as the other 24 top-k candidates together: those are
# the top of 6,563 logits, about 4 standard deviations above the mean (a share of ~0.75).
EOS_LOGIT_BIAS = math.log(3 * 24) + 4 * LLM_LOGIT_STD
MAG = 60.0  # HiFT iSTFT magnitude (exp of conv_post's bias): about -20 dBFS out of upstream's istft
F0_HZ = 150.0

# Qwen2's pre-tokenizer split (tokenizer.json of Qwen2-0.5B)
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
TOKENIZER_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
UPSTREAM_ADDED = 19  # special tokens cosyvoice's QwenTokenizer adds on top (tokenizer.py)


def training_text() -> list[str]:
    """English lines to train the tokenizer on: our bundled questions and phrase banks."""
    import yaml

    data = Path(__file__).resolve().parents[1] / "datagen" / "data"
    rows = (data / "questions.jsonl").read_text().splitlines()
    lines = [json.loads(x).get("question", "") for x in rows if x.strip()]

    def walk(v: object) -> None:
        if isinstance(v, str):
            lines.append(v)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(yaml.safe_load((data / "phrases.yaml").read_text()))
    return [x for x in lines if x.strip()]


def write_tokenizer(folder: Path, vocab_size: int) -> int:
    """Train a byte-level BPE (Qwen2's split and byte map) and save it as a Qwen2
    tokenizer; returns its vocabulary size."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=TOKENIZER_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(training_text(), trainer)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "Qwen2Tokenizer",
                "eos_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>",
                "unk_token": None,
                "bos_token": None,
                "add_prefix_space": False,
                "model_max_length": 32768,
                "clean_up_tokenization_spaces": False,
            },
            indent=2,
        )
    )
    return tok.get_vocab_size()


def write_qwen(folder: Path, size: str, seed: int) -> None:
    """The LLM folder: tokenizer, Qwen2 config and random weights (from_pretrained reads them)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder.mkdir(parents=True, exist_ok=True)
    n = write_tokenizer(folder, 2000 if size == "tiny" else 8000)
    kw = dict(QWEN[size])
    if kw["vocab_size"] is None:
        kw["vocab_size"] = int(math.ceil((n + UPSTREAM_ADDED) / 64) * 64)
    cfg = Qwen2Config(
        **kw,
        hidden_act="silu",
        rms_norm_eps=1e-6,
        bos_token_id=None,
        eos_token_id=0,
        use_sliding_window=False,
        attention_dropout=0.0,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(str(folder))


def shape_weights(llm, hift, seed: int) -> None:
    """The three changes random weights need (lengths, level, pitch): see the module docstring."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        dec = llm.llm_decoder  # Linear(hidden, 6561 + 3): speech tokens, then end, task, fill
        hidden = dec.in_features
        # RMS-normed hidden states have norm ~ sqrt(hidden): this std gives logits of std LLM_LOGIT_STD
        dec.weight.copy_(torch.randn(dec.weight.shape, generator=g) * LLM_LOGIT_STD / math.sqrt(hidden))
        dec.bias.zero_()
        dec.bias[llm.speech_token_size] = EOS_LOGIT_BIAS
        dec.bias[llm.speech_token_size + 1 :] = -10.0  # never the task id / fill token mid-speech
        # HiFT: a near-constant magnitude after its last conv
        post = hift.conv_post
        n_mag = hift.istft_params["n_fft"] // 2 + 1
        scale = 0.01
        for name, p in post.named_parameters():
            if name.endswith("original0") or name.endswith("weight_g"):
                p.mul_(scale)  # weight_norm's magnitude
            elif name == "weight":
                p.mul_(scale)
        post.bias.zero_()
        post.bias[:n_mag] = math.log(MAG)
        # F0 predictor: ~F0_HZ whatever the mel says
        cls = hift.f0_predictor.classifier
        cls.weight.mul_(0.001)
        cls.bias.fill_(F0_HZ)


def build(size: str, out: str | Path, seed: int = 0) -> Path:
    """Write the model folder `out` (replaced if it exists); returns it."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, not {size!r}")
    import torch
    from hyperpyyaml import load_hyperpyyaml

    from bench.cosyvoice2_onnx import write_campplus, write_speech_tokenizer

    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shape = SHAPE[size]
    text = YAML.format(size=size, hidden=QWEN[size]["hidden_size"], speech_tokens=SPEECH_TOKENS, **shape)
    (out / "cosyvoice2.yaml").write_text(text)
    write_qwen(out / "CosyVoice-BlankEN", size, seed)
    configs = load_hyperpyyaml(text, overrides={"qwen_pretrain_path": str(out / "CosyVoice-BlankEN")})
    llm, flow, hift = configs["llm"], configs["flow"], configs["hift"]
    shape_weights(llm, hift, seed)
    torch.save(llm.state_dict(), out / "llm.pt")
    torch.save(flow.state_dict(), out / "flow.pt")
    torch.save(hift.state_dict(), out / "hift.pt")
    write_campplus(out / "campplus.onnx", seed)
    write_speech_tokenizer(out / "speech_tokenizer_v2.onnx", seed)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=SIZES, default="tiny")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    path = build(a.size, a.out, a.seed)
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    print(f"{path}: CosyVoice2 {a.size}, random weights, {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
