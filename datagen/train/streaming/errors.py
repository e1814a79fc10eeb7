"""`datagen train errors`: stream a checkpoint over evaluation corpora, log what it did.

For every dialogue: its gold facts (datagen/train/judging/events.py), the model's
streamed token track (datagen/train/streaming/stream.py) and the judge's verdict
(datagen/train/judging/judge.py), written as one error-log line
(datagen/train/judging/errlog.py). Dialogues are read a few batches at a time, so
memory stays flat however large the set; the batches (streaming/batches.py) are
decoded here or by worker processes side by side.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Literal

import torch

from datagen.text.tokenizer import TEXT_OFFSET, get_tokenizer
from datagen.train.common.precision import native_bf16
from datagen.train.judging.errlog import write_log
from datagen.train.streaming.batches import Decoder, Job, dialogue_of, plan
from datagen.train.streaming.stream import Dialogue
from datagen.train.training import checkpoint as ckpt
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
        yield dialogue_of(cut, corpus, encode)


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
    workers: int | None = None,
) -> dict:
    """Stream the checkpoint over each eval corpus and write the error log. The decision
    rule is the checkpoint's `stream.shift_threshold`, or `shift_threshold` when given
    (None: greedy argmax). `audio_out`: also write each dialogue's output audio there
    (datagen/train/streaming/voice_out.py). `threads`: torch's CPU threads while it streams
    (default: the checkpoint's `threads`), put back after (training/runtime.torch_threads).
    `workers`: processes that decode batches side by side, the threads shared among them
    (default: `default_workers`); the log is the same whatever the number."""
    dev = pick_device(device, Dist())
    decoder = make_decoder(checkpoint, dev, batch_size, shift_threshold, audio_out)
    for d in eval_dirs:
        if corpus_tokenizer([d]) != decoder.tokenizer:
            raise TokenizerMismatch(
                f"{d} is labelled with {corpus_tokenizer([d])!r}; the checkpoint speaks {decoder.tokenizer!r}"
            )
    n_threads = threads or decoder.cfg.threads or torch.get_num_threads()
    jobs = list(plan(eval_dirs, decoder.size))
    n_workers = min(workers or default_workers(dev, n_threads), max(len(jobs), 1))
    bar = _progress(progress)
    done: dict[tuple[str, int], dict[int, dict]] = {}
    if n_workers <= 1:
        with torch_threads(n_threads):
            for job in jobs:
                _collect(done, job, decoder.run(job), bar)
    else:
        per = max(1, n_threads // n_workers)
        ctx = multiprocessing.get_context("spawn")
        args = (str(checkpoint), dev.type, batch_size, shift_threshold, audio_out, per)
        with ProcessPoolExecutor(n_workers, mp_context=ctx, initializer=_init_worker, initargs=args) as pool:
            futures = {pool.submit(_run_job, job): job for job in jobs}
            for fut in as_completed(futures):
                _collect(done, futures[fut], fut.result(), bar)
    bar.close()
    lines = [
        line
        for key in dict.fromkeys((j.corpus, j.group) for j in jobs)
        for _, line in sorted(done[key].items())
    ]
    write_log(out, lines)
    cats = Counter(line["category"] or "none" for line in lines)
    return {"dialogues": len(lines), "categories": dict(cats), "out": str(out), "checkpoint": decoder.found}


def default_workers(device: torch.device, threads: int) -> int:
    """Worker processes when none are asked for: one on a GPU; on a CPU, one per thread,
    at most MAX_WORKERS (each holds the model and a group of dialogues, ~1.5 GB).
    Why processes: block-by-block decoding of a small model is many small ops, which a
    second torch thread barely shares; two one-thread processes each take a core. On
    2 cores the 200 CI eval dialogues took 107 s with 2 workers against 176 s with one
    process of 2 threads, the same log byte for byte."""
    return 1 if device.type != "cpu" else max(1, min(threads, MAX_WORKERS))


def make_decoder(checkpoint, dev: torch.device, batch_size, shift_threshold, audio_out) -> Decoder:
    """The model of `checkpoint` and its decision rule, ready to decode batches."""
    model, cfg, vocab, meta, found = ckpt.load_model(checkpoint, dev)
    # a bf16-trained checkpoint streams in float32 where bf16 would be emulated (common/precision.py)
    bf16 = bool(cfg.bf16) and native_bf16(dev.type)
    return Decoder(
        model=model,
        cfg=cfg,
        meta=meta,
        tokenizer=vocab.tokenizer,
        found=str(found),
        encode=label_encoder(vocab.tokenizer, cfg.backbone.path),
        size=batch_size or cfg.stream.batch_size,
        device=dev,
        autocast=torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16),
        threshold=cfg.stream.shift_threshold if shift_threshold == "config" else shift_threshold,
        audio_out=audio_out,
    )


MAX_WORKERS = 8
_DECODER: Decoder | None = None  # a worker process's own


def _init_worker(checkpoint, device_type, batch_size, shift_threshold, audio_out, threads) -> None:
    global _DECODER
    torch.set_num_threads(threads)
    _DECODER = make_decoder(checkpoint, torch.device(device_type), batch_size, shift_threshold, audio_out)


def _run_job(job: Job) -> list[tuple[int, dict]]:
    assert _DECODER is not None
    return _DECODER.run(job)


def _collect(done: dict, job: Job, got: list[tuple[int, dict]], bar) -> None:
    done.setdefault((job.corpus, job.group), {}).update(got)
    bar.update(len(got))


def _progress(enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(disable=not enabled, unit="dialogue", desc="errors", dynamic_ncols=True)
