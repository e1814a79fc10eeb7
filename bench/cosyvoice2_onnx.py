"""The two ONNX files of a CosyVoice2 model folder, exported from small torch modules.

Upstream's frontend (cosyvoice/cli/frontend.py) runs them with onnxruntime
and reads only their first inputs' names and first outputs, so what matters
is the interface of the released files, kept here:

* `campplus.onnx`: `input` float [1, T, 80] (mean-normalised Kaldi fbank at
  16 kHz) -> `output` float [1, 192], the speaker embedding.
* `speech_tokenizer_v2.onnx`: `feats` float [1, 128, T] (Whisper log-mel,
  100 frames/s) and `feats_length` int32 [1] -> `indices` int64 [1, T/4],
  25 Hz tokens below 6561.

The modules are small random projections (a conv at stride 4 then an argmax
for the tokenizer, a mean-pooled projection for the speaker), enough for
upstream's code to run on them: different prompts give different tokens and
embeddings.
"""

from __future__ import annotations

from pathlib import Path

SPEECH_TOKENS = 6561
EMBED_DIM = 192


def _export(module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes: dict) -> None:
    import torch

    module.eval()
    with torch.no_grad():
        torch.onnx.export(
            module,
            args,
            str(path),
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed
        )


def write_campplus(path: Path, seed: int = 0) -> None:
    import torch

    class SpeakerEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(80, EMBED_DIM)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, 80] -> [B, 192]
            return torch.tanh(self.proj(x).mean(dim=1))

    torch.manual_seed(seed + 1)
    _export(
        SpeakerEmbedding(),
        (torch.randn(1, 200, 80),),
        path,
        ["input"],
        ["output"],
        {"input": {0: "B", 1: "T"}, "output": {0: "B"}},
    )


def write_speech_tokenizer(path: Path, seed: int = 0) -> None:
    import torch

    class SpeechTokenizer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(128, 64, kernel_size=4, stride=4)
            self.head = torch.nn.Linear(64, SPEECH_TOKENS)

        def forward(self, feats: torch.Tensor, feats_length: torch.Tensor) -> torch.Tensor:
            h = self.conv(feats).transpose(1, 2)  # [B, T/4, 64]
            n = torch.div(feats_length.to(torch.int64) + 3, 4, rounding_mode="floor")
            keep = torch.arange(h.shape[1]).unsqueeze(0) < n.unsqueeze(1)
            logits = self.head(h) + keep.unsqueeze(-1).to(h.dtype)  # feats_length is part of the graph
            return logits.argmax(dim=-1)

    torch.manual_seed(seed + 2)
    _export(
        SpeechTokenizer(),
        (torch.randn(1, 128, 400), torch.tensor([400], dtype=torch.int32)),
        path,
        ["feats", "feats_length"],
        ["indices"],
        {"feats": {0: "B", 2: "T"}, "feats_length": {0: "B"}, "indices": {0: "B", 1: "T4"}},
    )
