"""`datagen train errors`: stream a checkpoint over evaluation corpora, log what it did.

For every dialogue: its gold facts (datagen/train/judging/events.py), the model's
streamed token track (datagen/train/streaming/stream.py) and the judge's verdict
(datagen/train/judging/judge.py), written as one error-log line
(datagen/train/judging/errlog.py). Dialogues are read a few batches at a time, so
memory stays flat however large the set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from datagen.text.tokenizer import TEXT_OFFSET, get_tokenizer
from datagen.train.common.precision import native_bf16
from datagen.train.judging.errlog import make_line, write_log
from datagen.train.judging.events import log_record
from datagen.train.streaming.stream import Dialogue, decode
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.answers import answers_of
from datagen.train.training.data import corpus_tokenizer, open_corpora
from datagen.train.training.runtime import Dist, pick_device, torch_threads
from datagen.train.training.vocab import TokenizerMismatch


def label_encoder(tokenizer_name: str, backbone_path: str | None) -> Callable[[str], list[int]]:
    """Text -> label ids (offset included) with the corpus's own tokenizer."""
    if tokenizer_name.startswith("builtin"):
        tok = get_tokenizer("builtin")
    elif backbone_path:
        tok = get_tokenizer(backbone_path)
    else:
        raise TokenizerMismatch(
            f"corpus tokenizer {tokenizer_name!r} needs the backbone folder that holds it"
        )
    return lambda text: [t + TEXT_OFFSET for t in tok.encode(text)]


def dialogues_of(corpus: str | Path, encode: Callable[[str], list[int]]) -> Iterator[tuple[Dialogue, dict]]:
    """(what the decoder needs, the gold record) for each cut of a corpus, in order."""
    for cut in open_corpora([corpus]):
        audio = cut.load_audio()
        labels = np.asarray(cut.load_labels())
        answers = answers_of(cut, audio, labels, encode)
        record = log_record(cut, corpus, labels, answers)
        yield Dialogue(cut.id, audio[0].astype(np.float32), len(labels), answers, cut.sampling_rate), record


def _chunks(it: Iterator, n: int) -> Iterator[list]:
    buf = []
    for x in it:
        buf.append(x)
        if len(buf) == n:
            yield buf
            buf = []
    if buf:
        yield buf


def run_errors(
    checkpoint: str | Path,
    eval_dirs: list[str],
    out: str | Path,
    batch_size: int | None = None,
    device: str = "auto",
    progress: bool = True,
    shift_threshold: float | None | Literal["config"] = "config",
    audio_out: str | Path | None = None,
    threads: int | None = None,
) -> dict:
    """Stream the checkpoint over each eval corpus and write the error log. The decision
    rule is the checkpoint's `stream.shift_threshold`, or `shift_threshold` when given
    (None: greedy argmax). `audio_out`: also write each dialogue's output audio there
    (datagen/train/streaming/voice_out.py). `threads`: torch's CPU threads while it streams
    (default: the checkpoint's `threads`), put back after (training/runtime.torch_threads)."""
    dev = pick_device(device, Dist())
    model, cfg, vocab, meta, found = ckpt.load_model(checkpoint, dev)
    for d in eval_dirs:
        if corpus_tokenizer([d]) != vocab.tokenizer:
            raise TokenizerMismatch(
                f"{d} is labelled with {corpus_tokenizer([d])!r}; the checkpoint speaks {vocab.tokenizer!r}"
            )
    with torch_threads(threads or cfg.threads):
        encode = label_encoder(vocab.tokenizer, cfg.backbone.path)
        size = batch_size or cfg.stream.batch_size
        threshold = cfg.stream.shift_threshold if shift_threshold == "config" else shift_threshold
        # a bf16-trained checkpoint streams in float32 where bf16 would be emulated (common/precision.py)
        bf16 = bool(cfg.bf16) and native_bf16(dev.type)
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16)
        lines: list[dict] = []
        bar = _progress(progress)
        for d in eval_dirs:
            for group in _chunks(dialogues_of(d, encode), 4 * size):
                order = sorted(range(len(group)), key=lambda i: group[i][0].n_blocks)
                tracks: dict[int, np.ndarray] = {}
                for i in range(0, len(order), size):
                    idx = order[i : i + size]
                    batch = [group[j][0] for j in idx]
                    got, _ = decode(
                        model,
                        batch,
                        meta["block_s"],
                        cfg.encoder.assistant_lag_blocks,
                        dev,
                        autocast,
                        own_text=cfg.stream.text == "own",
                        shift_threshold=threshold,
                    )
                    tracks.update(zip(idx, got, strict=True))
                    if audio_out is not None:
                        from datagen.train.streaming.voice_out import write_voice

                        for j, track in zip(idx, got, strict=True):
                            write_voice(audio_out, group[j][0], track, meta["block_s"])
                    bar.update(len(idx))
                lines += [
                    make_line(rec, tracks[i], str(found), cfg.score, {"shift_threshold": threshold})
                    for i, (_, rec) in enumerate(group)
                ]
        bar.close()
        write_log(out, lines)
        cats = Counter(line["category"] or "none" for line in lines)
        return {"dialogues": len(lines), "categories": dict(cats), "out": str(out), "checkpoint": str(found)}


def _progress(enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(disable=not enabled, unit="dialogue", desc="errors", dynamic_ncols=True)
