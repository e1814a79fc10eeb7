"""SALMONN-omni's shape: a causal streaming encoder, a connector, a causal LM.

Per 80 ms block the LM reads 2 environment-stream embeddings, 2 assistant-
stream embeddings, then the block's token (SALMONN-omni, REFERENCE.md §1):

    block b:  [ env 2b | env 2b+1 | asst 2b | asst 2b+1 | token b ]
                                               ^ predicts token b

The token emitted in block b is fed back as the block's last input, so the
next block sees it. The loss is on the tokens only.

Encoder: fbank at 100 Hz -> causal conv (k=3) -> causal strided conv (k=3,
s=2) to 50 Hz -> pairs concatenated to 25 Hz -> causal transformer layers.
The layers are Hugging Face Llama decoder layers (causal, RoPE, with the KV
cache the streaming decoder uses), not a home-made stack. The encoder never
looks past the current block: each conv output reads only frames up to the
end of its own pair, and attention is causal.

Backbone: any local Hugging Face causal LM folder (`AutoModelForCausalLM`),
or a tiny Llama built in code for CPU. LoRA via peft; with LoRA, the rows of
the two added special tokens train through peft's `trainable_token_indices`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from datagen.train.common.config import TrainConfig
from datagen.train.training.turn_state import states_of, turn_state
from datagen.train.training.vocab import LabelVocab

PER_BLOCK = 5  # 2 env + 2 assistant embeddings + 1 token
PREDICT_AT = 3  # the last assistant embedding of a block predicts its token
FRAMES_PER_BLOCK = 8  # fbank frames (10 ms) per 80 ms block
EMB_PER_BLOCK = 2


class ConvSubsampler(nn.Module):
    """100 Hz frames -> 25 Hz embeddings, causally (module docstring)."""

    def __init__(self, mels: int, channels: int, dim: int):
        super().__init__()
        self.conv1 = nn.Conv1d(mels, channels, kernel_size=3)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=3, stride=2)
        self.proj = nn.Linear(2 * channels, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, F, mels) with F a multiple of 4 -> (B, F // 4, dim)."""
        h = F.gelu(self.conv1(F.pad(x.transpose(1, 2), (2, 0))))
        h = F.gelu(self.conv2(F.pad(h, (1, 0))))  # output j reads frames 2j-1 .. 2j+1
        b, c, t = h.shape
        return self.proj(h.transpose(1, 2).reshape(b, t // 2, 2 * c))


def _llama_config(
    hidden: int, layers: int, heads: int, kv_heads: int, intermediate: int, vocab: int, attn: str
):
    from transformers import LlamaConfig

    cfg = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=16384,
        rope_theta=10000.0,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
    )
    cfg._attn_implementation = attn
    return cfg


def cache_kwarg(decoder) -> str:
    """The name a Hugging Face decoder takes its KV cache by (`cache` from transformers
    5.2x, `past_key_values` before)."""
    import inspect

    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


class StreamEncoder(nn.Module):
    """One encoder for both streams (they differ by a learned stream embedding after the connector)."""

    def __init__(self, cfg, attn: str):
        super().__init__()
        self.register_buffer("mean", torch.zeros(cfg.num_mel_bins))
        self.register_buffer("std", torch.ones(cfg.num_mel_bins))
        self.sub = ConvSubsampler(cfg.num_mel_bins, cfg.conv_channels, cfg.dim)
        self.layers = None
        if cfg.layers:
            from transformers import LlamaModel

            self.layers = LlamaModel(
                _llama_config(cfg.dim, cfg.layers, cfg.heads, cfg.heads, 4 * cfg.dim, 1, attn)
            )
            self.layers.embed_tokens.weight.requires_grad_(False)  # inputs are embeddings

    def subsample(self, feats: torch.Tensor) -> torch.Tensor:
        return self.sub((feats - self.mean) / self.std)

    def forward(self, feats: torch.Tensor, cache=None, offset: int = 0) -> torch.Tensor:
        """(B, F, mels) -> (B, F // 4, dim); with a cache, continues a stream at `offset`."""
        return self.transform(self.subsample(feats), cache, offset)

    def transform(self, x: torch.Tensor, cache=None, offset: int = 0) -> torch.Tensor:
        if self.layers is None:
            return x
        pos = torch.arange(offset, offset + x.shape[1], device=x.device)[None].expand(x.shape[0], -1)
        kw = {cache_kwarg(self.layers): cache} if cache is not None else {}
        out = self.layers(inputs_embeds=x, position_ids=pos, use_cache=cache is not None, **kw)
        return out.last_hidden_state


def build_backbone(cfg: TrainConfig, vocab: LabelVocab):
    """The causal LM, sized for the label vocabulary, with LoRA and checkpointing as configured."""
    from transformers import AutoModelForCausalLM, LlamaForCausalLM

    b = cfg.backbone
    if b.path:
        dtype = torch.bfloat16 if cfg.bf16 else torch.float32
        lm = AutoModelForCausalLM.from_pretrained(
            b.path, local_files_only=True, dtype=dtype, attn_implementation=b.attn_implementation
        )
        if lm.get_input_embeddings().num_embeddings < vocab.size:
            with torch.random.fork_rng(devices=[]):  # the new rows' initial values: the same every build
                torch.manual_seed(0)
                lm.resize_token_embeddings(vocab.size)
    else:
        lm = LlamaForCausalLM(
            _llama_config(
                b.hidden, b.layers, b.heads, b.kv_heads, b.intermediate, vocab.size, b.attn_implementation
            )
        )
    lm.config.use_cache = False
    if cfg.grad_checkpointing:
        enable_checkpointing(lm)
    if cfg.lora:
        lm = apply_lora(lm, cfg.lora, vocab)
    return lm


def enable_checkpointing(lm) -> None:
    """Activation (gradient) checkpointing, by the name this transformers version uses."""
    kwargs = {"use_reentrant": False}
    if hasattr(lm, "activation_checkpointing_enable"):  # transformers >= 5.2x
        lm.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def apply_lora(lm, lora, vocab: LabelVocab):
    """Wrap a causal LM with a fresh LoRA adapter; the rows of <think> and <shift> (new
    tokens, untrained in any base) train too, in the input embeddings and, when the
    head is not tied to them, in the output head."""
    from peft import LoraConfig, get_peft_model

    specials = [vocab.think, vocab.shift]
    tied = bool(getattr(lm.config, "tie_word_embeddings", False))
    trainable = {"embed_tokens": specials} if tied else {"embed_tokens": specials, "lm_head": specials}
    return get_peft_model(
        lm,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=lora.target_modules,
            trainable_token_indices=trainable,
        ),
    )


@dataclass(frozen=True)
class LossWeights:
    """How SFT weighs its targets (`optim.*_weight`)."""

    shift: float = 1.0
    text: float = 1.0
    decision: float = 0.0
    vad: float = 0.0

    @classmethod
    def of(cls, optim) -> LossWeights:
        return cls(optim.shift_weight, optim.text_weight, optim.decision_weight, optim.vad_weight)


class DuplexModel(nn.Module):
    def __init__(self, cfg: TrainConfig, vocab: LabelVocab, backbone=None):
        super().__init__()
        self.vocab = vocab
        self.backbone = backbone if backbone is not None else build_backbone(cfg, vocab)
        self.lora = cfg.lora is not None
        hidden = self.base.config.hidden_size
        self.encoder = StreamEncoder(cfg.encoder, cfg.backbone.attn_implementation)
        self.connector = nn.Sequential(
            nn.Linear(cfg.encoder.dim, hidden), nn.GELU(), nn.Linear(hidden, hidden)
        )
        self.stream_emb = nn.Parameter(torch.randn(2, hidden))
        # Listening or speaking, as the model's own <shift>s so far say: one <shift> token
        # marks both transitions, so the state is their parity, which a small model cannot
        # count reliably (docs/trainer.md, "Its turn state").
        # Unit scale, as the connector's output: added to those embeddings, a small one
        # is drowned and never learned from (seen: norm 0.4 against 15).
        self.state_emb = nn.Parameter(torch.randn(2, hidden)) if cfg.backbone.state_embedding else None
        # A third state, "speaking, its voice not begun" (backbone.pre_voice_blocks): its row
        # is drawn with the generator's state restored after, so every other weight and every
        # later random draw is a run's without it, and the two differ only by that state.
        # Drawn, not copied from the speaking row: a copy moved 0.6-1.0 from it in 300 steps
        # (rows 19 apart) and the model could not tell the two states apart.
        self.pre_voice_blocks = cfg.backbone.pre_voice_blocks
        if self.state_emb is not None and self.pre_voice_blocks:
            with torch.random.fork_rng(devices=[]):
                row = torch.randn(1, hidden, device="cpu")  # the generator fork_rng restores
            self.state_emb = nn.Parameter(torch.cat([self.state_emb.data, row.to(self.state_emb.device)]))
        # Training-only head: speech on channel 0 per encoder frame (vad_loss).
        self.vad_head = nn.Linear(cfg.encoder.dim, 1) if cfg.optim.vad_weight > 0 else None

    # -- the backbone's parts, the same whether peft wraps it or not ----------------
    @property
    def base(self):
        return self.backbone.get_base_model() if self.lora else self.backbone

    def decoder(self):
        return self.base.get_decoder()

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.backbone.get_input_embeddings()(ids)

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.backbone.get_output_embeddings()(hidden)

    def connect(self, enc: torch.Tensor, stream: int) -> torch.Tensor:
        """Encoder output -> LM embeddings for stream 0 (environment) or 1 (assistant)."""
        return self.connector(enc) + self.stream_emb[stream]

    # -- whole sequences (training, scoring) ---------------------------------------
    def audio_embeddings(self, env: torch.Tensor, asst: torch.Tensor) -> torch.Tensor:
        """(B, F, mels) x 2 -> (B, n_blocks, 4, H)."""
        return self._audio(self.encoder(env), asst)

    def _audio(self, env_enc: torch.Tensor, asst: torch.Tensor) -> torch.Tensor:
        e = self.connect(env_enc, 0)
        a = self.connect(self.encoder(asst), 1)
        b, t, h = e.shape
        return torch.cat([e.view(b, t // 2, 2, h), a.view(b, t // 2, 2, h)], dim=2)

    def speaking_before(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, n): the turn state when block b begins: 1 where the model is speaking (an odd
        number of <shift>s before b), 0 where listening; with `pre_voice_blocks` N, 2 where
        it is speaking and its speak-<shift> was at most N blocks before b (see `turn_state`)."""
        return states_of(tokens, self.vocab.shift, self.pre_voice_blocks)

    def state_now(self, speaking: bool, since_speak: int) -> int:
        """One dialogue's turn state in streaming: `speaking_before` for a decoder that
        knows whether it speaks and how many blocks ago it decided to."""
        return int(turn_state(torch.tensor(speaking), torch.tensor(since_speak), self.pre_voice_blocks))

    def with_state(self, audio: torch.Tensor, speaking: torch.Tensor) -> torch.Tensor:
        """Add the turn-state embedding to a block's audio embeddings (B, n, 4, H); speaking (B, n)."""
        if self.state_emb is None:
            return audio
        return audio + self.state_emb[speaking][:, :, None].to(audio.dtype)

    def sequence(self, audio: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Interleave (B, n, 4, H) audio embeddings with (B, n) fed-back token ids."""
        audio = self.with_state(audio, self.speaking_before(tokens))
        tok = self.embed(tokens).to(audio.dtype)
        b, n, _, h = audio.shape
        return torch.cat([audio, tok[:, :, None]], dim=2).reshape(b, n * PER_BLOCK, h)

    def logits(self, env: torch.Tensor, asst: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(B, n, vocab) logits of each block's token, teacher-forced with `tokens`."""
        return self._logits(self.encoder(env), asst, tokens)

    def _logits(self, env_enc: torch.Tensor, asst: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        seq = self.sequence(self._audio(env_enc, asst), tokens)
        hidden = self.decoder()(inputs_embeds=seq, use_cache=False).last_hidden_state
        return self.head(hidden[:, PREDICT_AT::PER_BLOCK]).float()

    def vad_loss(self, env_enc: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, float]:
        """Binary cross-entropy of "someone speaks on channel 0" per 40 ms encoder frame
        (data.others_speaking), and the frame accuracy.

        Why: the stop after a barge-in hangs on one fact about the environment
        stream, that a voice other than the assistant's echo is talking now, and
        the <shift> targets teach it only through a few hundred rare blocks. Run
        for run, a small model then learned it or did not at all (docs/trainer.md,
        "Learning to stop"). This dense target, at every frame of every dialogue,
        makes the environment encoder say it from the first steps; the LM reads
        it. Inference never calls the head."""
        mask = frames >= 0
        x = self.vad_head(env_enc.float()).squeeze(-1)[mask]
        y = frames[mask].float()
        loss = F.binary_cross_entropy_with_logits(x, y)
        return loss, float(((x > 0).float() == y).float().mean()) if y.numel() else 0.0

    def token_logprobs(self, env, asst, tokens: torch.Tensor) -> torch.Tensor:
        """(B, n) log-probability of each block's token (padding blocks: anything)."""
        lp = self.logits(env, asst, tokens).log_softmax(-1)
        return lp.gather(-1, tokens[..., None]).squeeze(-1)

    def forward(self, batch: dict, weights: LossWeights | None = None) -> tuple[torch.Tensor, dict]:
        """The SFT loss (forward is what DDP wraps)."""
        return self.sft_loss(batch, weights)

    def sft_loss(self, batch: dict, weights: LossWeights | None = None) -> tuple[torch.Tensor, dict]:
        """Cross-entropy on each block's token (`<shift>` and text targets weighted as
        `weights` say), plus, with `decision`, a binary loss on p(<shift>) at every block.

        Why the second term: the decision to shift is what a duplex model is for, but
        in a token cross-entropy the block after a speak-`<shift>` says "not a shift"
        only through whichever text token comes next. Weigh text down (a small model
        cannot predict it) and that block barely says it at all; the decision loss says
        it at full strength."""
        w = weights or LossWeights()
        targets = batch["targets"]
        env_enc = self.encoder(batch["env"])
        logits = self._logits(env_enc, batch["asst"], batch["tokens"])
        mask = targets >= 0
        ce = F.cross_entropy(logits[mask], targets[mask], reduction="none")
        t = targets[mask]
        is_shift = t == self.vocab.shift
        ctrl = is_shift | (t == self.vocab.think)
        weight = torch.where(is_shift, torch.full_like(ce, w.shift), torch.ones_like(ce))
        weight = torch.where(ctrl, weight, torch.full_like(ce, w.text))
        loss = (ce * weight).sum() / weight.sum()
        if w.decision > 0:
            log_p = logits[mask].log_softmax(-1)[:, self.vocab.shift]
            log_not = torch.log1p(-log_p.exp().clamp(max=1 - 1e-6))
            bce = -torch.where(is_shift, w.shift * log_p, log_not)
            loss = loss + w.decision * bce.sum() / torch.where(is_shift, w.shift, 1.0).sum()
        vad = None
        if w.vad > 0 and self.vad_head is not None and "vad" in batch:
            vad_loss, vad_acc = self.vad_loss(env_enc, batch["vad"])
            loss = loss + w.vad * vad_loss
            vad = {"vad_loss": vad_loss.item(), "vad_accuracy": vad_acc}
        with torch.no_grad():
            pred = logits[mask].argmax(-1)
            stats = {
                "loss": loss.item(),
                "ctrl_loss": float(ce[ctrl].mean()) if ctrl.any() else 0.0,
                "text_loss": float(ce[~ctrl].mean()) if (~ctrl).any() else 0.0,
                "shift_recall": float((pred[is_shift] == t[is_shift]).float().mean())
                if is_shift.any()
                else 0.0,
                "blocks": int(mask.sum()),
            } | (vad or {})
        return loss, stats

    @torch.no_grad()
    def init_cmvn(self, feats: list[torch.Tensor]) -> None:
        """Global mean/variance of the fbank, from a few training batches (saved with the model)."""
        x = torch.cat([f.reshape(-1, f.shape[-1]) for f in feats])
        self.encoder.mean.copy_(x.mean(0))
        self.encoder.std.copy_(x.std(0).clamp(min=1e-3))


def build_on(cfg: TrainConfig, vocab: LabelVocab, device: torch.device) -> DuplexModel:
    """A model built directly on `device`, the backbone in bf16 when `cfg.bf16` (an 8B
    backbone built in code would need 32 GB in float32 first); encoder, connector and
    stream embeddings stay float32 (autocast runs them in bf16, AdamW keeps them exact)."""
    torch.set_default_dtype(torch.bfloat16 if cfg.bf16 else torch.float32)
    try:
        with torch.device(device):
            model = DuplexModel(cfg, vocab)
    finally:
        torch.set_default_dtype(torch.float32)
    model.encoder.float()
    model.connector.float()
    if model.vad_head is not None:
        model.vad_head.float()
    for p in (model.stream_emb, model.state_emb):
        if p is not None:
            p.data = p.data.float()
    return model.to(device)
