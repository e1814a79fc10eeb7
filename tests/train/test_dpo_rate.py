"""DPO lowers the rate of the error it was given pairs for, on a fixed pool.

The pool is the test corpus; the model a 4-step SFT model; the pairs ONE
category, simulated on the pool (a model this small makes no stop errors of
its own: it never speaks, docs/trainer.md). The rate is measured as the
streamed model would make the error: teacher-forced on each dialogue's gold
history (stream.py's equivalence: the streamed decision at a block is the
full forward's), the chance that it talks through a barge-in up to its gold
stop, Π over those blocks of (1 - p(<shift>)). A model this small cannot yet
tell one block from another, so the claim tested is the direction: pairs
whose chosen side stops lower the missed-stop rate, and pairs of another
category (early stops: chosen goes on speaking) trained alike do not.
"""

import numpy as np
import pytest
import torch
from train_support import tiny_cfg

from datagen.train.preference.dpo import train_dpo
from datagen.train.preference.dpo_data import build
from datagen.train.streaming.errors import dialogues_of, label_encoder
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.answers import assistant_wave, gold_voice
from datagen.train.training.data import StreamBatcher, open_corpora
from datagen.train.training.loop import train_sft

pytestmark = pytest.mark.slow


def missed_stop_rate(run, corpus) -> float:
    """Mean over the pool's barge-ins (user, third party, related question) of the chance
    of no <shift> from the onset's block to the gold stop, on the gold history."""
    model, cfg, vocab, meta, _ = ckpt.load_model(run, torch.device("cpu"))
    dialogues = list(dialogues_of(corpus, label_encoder(vocab.tokenizer, None)))
    labels = {c.id: np.asarray(c.load_labels()) for c in open_corpora([corpus])}
    batcher = StreamBatcher(
        vocab, dialogues[0][0].sampling_rate, meta["block_s"], 0, cfg.encoder.num_mel_bins
    )
    batch = batcher(
        [d.env for d, _ in dialogues],
        [
            assistant_wave(gold_voice(d.answers), d.answers, len(d.env), r["block_s"], d.sampling_rate)
            for d, r in dialogues
        ],
        [labels[d.id] for d, _ in dialogues],
    )
    with torch.no_grad():
        logits = model.eval().logits(batch["env"], batch["asst"], batch["tokens"])
    p = logits.softmax(-1)[..., vocab.shift].double().numpy()
    rates = []
    for i, (_, rec) in enumerate(dialogues):
        for ev in rec["events"]:
            if ev["expect"] == "stop" and ev["kind"] != "turn":
                onset = int(ev["time"] / rec["block_s"] + 1e-9)
                rates.append(float(np.prod(1 - p[i, onset : ev["gold_block"] + 1])))
    assert rates, "the pool has barge-ins"
    return float(np.mean(rates))


@pytest.fixture(scope="module")
def pool(local_corpus, tmp_path_factory):
    threads = torch.get_num_threads()
    root = tmp_path_factory.mktemp("dpo_rate")
    torch.manual_seed(0)
    train_sft(
        tiny_cfg(local_corpus, root / "sft", optim={"max_steps": 4}, threads=1), resume=False, progress=False
    )
    yield root, local_corpus
    torch.set_num_threads(threads)


def _dpo(root, corpus, mistake: str, steps: int = 12) -> dict:
    pairs = root / f"pairs-{mistake}"
    stats = build(None, [str(corpus)], pairs, simulate_mix={mistake: 1.0})
    cfg = tiny_cfg(
        corpus,
        root / f"dpo-{mistake}",
        threads=1,
        save_every=steps,
        optim={"max_steps": steps, "lr": 3e-3, "warmup_steps": 0},
        dpo={
            "init": str(root / "sft"),
            "pairs": str(pairs),
            "pairs_per_step": 2,
            "sft_per_step": 1,
            "sft_weight": 0.0,
            "scope": "decisions",
        },
    )
    torch.manual_seed(0)
    train_dpo(cfg, resume=False, progress=False)
    return stats


def test_dpo_on_missed_stops_lowers_the_missed_stop_rate(pool):
    root, corpus = pool
    before = missed_stop_rate(root / "sft", corpus)
    stats = _dpo(root, corpus, "ignore_barge_in")
    assert set(stats["pairs_by_category"]) <= {"ci_barge_in_user", "ci_barge_in_third_party", "cd_barge_in"}
    after = missed_stop_rate(root / "dpo-ignore_barge_in", corpus)
    control_stats = _dpo(root, corpus, "early_stop")
    assert set(control_stats["pairs_by_category"]) == {"early_stop"}
    control = missed_stop_rate(root / "dpo-early_stop", corpus)
    print(
        f"missed-stop rate: SFT {before:.4f}, DPO on missed stops {after:.4f}, on early stops {control:.4f}"
    )
    assert after < before - 0.03
    assert after < control - 0.03
