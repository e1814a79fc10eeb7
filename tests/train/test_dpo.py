"""DPO: TRL's sigmoid loss, a step moves the policy toward chosen, resume is exact, LoRA's reference."""

import json
import math

import pytest
import torch
from train_support import tiny_cfg

from datagen.train.preference.dpo import (
    PairData,
    _pair_batch,
    dpo_loss,
    effective_config,
    policy_model,
    sequence_logps,
    train_dpo,
)
from datagen.train.preference.dpo_data import build, read_pairs
from datagen.train.preference.simulate import MISTAKES
from datagen.train.training import checkpoint as ckpt
from datagen.train.training.loop import train_sft


def test_the_loss_is_trls_sigmoid_loss():
    pol = torch.tensor([-10.0, -12.0, -5.0, -4.0])  # rows: chosen, rejected, chosen, rejected
    ref = torch.tensor([-11.0, -11.0, -5.0, -5.0])
    loss, stats = dpo_loss(pol, ref, beta=0.1)
    margins = [0.1 * ((-10 + 11) - (-12 + 11)), 0.1 * ((-5 + 5) - (-4 + 5))]
    expected = sum(-math.log(1 / (1 + math.exp(-m))) for m in margins) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert stats["reward_margin"] == pytest.approx(sum(margins) / 2) and stats["preference_accuracy"] == 0.5


def test_apo_zero_is_trls():
    """TRL's `loss_type="apo_zero"`: each side against the reference on its own."""
    pol = torch.tensor([-10.0, -12.0, -5.0, -4.0])
    ref = torch.tensor([-11.0, -11.0, -5.0, -5.0])
    loss, _ = dpo_loss(pol, ref, beta=0.1, loss_type="apo_zero")
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = ((1 - sig(0.1) + sig(-0.1)) + (1 - sig(0.0) + sig(0.1))) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="sigmoid or apo_zero"):
        dpo_loss(pol, ref, beta=0.1, loss_type="ipo")


@pytest.fixture(scope="module")
def sft_and_pairs(local_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("dpo")
    sft = tiny_cfg(local_corpus, root / "sft", optim={"max_steps": 4})
    train_sft(sft, resume=False, progress=False)
    build(None, [str(local_corpus)], root / "pairs", simulate_mix={m: 1.0 for m in MISTAKES})
    return root, local_corpus


def _dpo_cfg(root, corpus, out, **over):
    return tiny_cfg(
        corpus,
        root / out,
        dpo={"init": str(root / "sft"), "pairs": str(root / "pairs"), "pairs_per_step": 2, "sft_per_step": 1},
        **over,
    )


def test_a_dpo_step_raises_the_chosen_minus_rejected_log_ratio(sft_and_pairs):
    root, corpus = sft_and_pairs
    cfg = effective_config(_dpo_cfg(root, corpus, "step"))
    model, vocab, _ = policy_model(cfg, torch.device("cpu"))
    pairs, sft = read_pairs(cfg.dpo.pairs)
    data = PairData(pairs[:2], [], [str(corpus)], vocab, None)
    from datagen.train.training.data import StreamBatcher

    c0 = next(iter(data.cuts.values()))
    batch, _ = _pair_batch(data, StreamBatcher(vocab, c0["sr"], 0.08, 0, 80), pairs[:2])
    with torch.no_grad():
        ref = sequence_logps(model.eval(), batch)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
    model.train()
    loss, before = dpo_loss(sequence_logps(model, batch), ref, beta=0.1)
    loss.backward()
    opt.step()
    with torch.no_grad():
        _, after = dpo_loss(sequence_logps(model.eval(), batch), ref, beta=0.1)
    assert before["reward_margin"] == pytest.approx(0.0, abs=1e-4)  # the policy starts as the reference
    assert after["reward_margin"] > before["reward_margin"] + 1e-4
    assert not any(p.requires_grad for p in model.encoder.parameters())  # policy and reference hear alike


def test_dpo_resume_is_exact(sft_and_pairs):
    root, corpus = sft_and_pairs
    over = {"optim": {"max_steps": 5, "lr": 1e-3}, "save_every": 2}
    train_dpo(_dpo_cfg(root, corpus, "a", **over), resume=False, progress=False)
    b = _dpo_cfg(root, corpus, "b", **over)
    train_dpo(b, resume=False, stop_after=3, progress=False)
    train_dpo(b, resume=True, progress=False)

    def rows(name):
        return [json.loads(x) for x in (root / name / "metrics.jsonl").read_text().splitlines()]

    assert [r["loss"] for r in rows("a")] == [r["loss"] for r in rows("b")]
    wa = torch.load(ckpt.latest(root / "a") / "model.pt", weights_only=True)
    wb = torch.load(ckpt.latest(root / "b") / "model.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # a DPO checkpoint loads for streaming like any other
    sd = ckpt.load_model(root / "a", torch.device("cpu"))[0].state_dict()
    assert all(torch.equal(sd[k], wa[k]) for k in wa)


def test_the_errors_command_decodes_with_the_rule_it_is_given(sft_and_pairs, tmp_path):
    from typer.testing import CliRunner

    from datagen.cli import app

    root, corpus = sft_and_pairs
    base = ["train", "errors", str(root / "sft"), "--eval", str(corpus)]
    runner = CliRunner()
    threads = torch.get_num_threads()
    for flags, rule in (
        (["--shift-threshold", "0.3"], 0.3),
        (["--greedy", "--threads", "1"], None),
        ([], None),
    ):
        out = tmp_path / f"{rule}-{len(flags)}.jsonl"
        res = runner.invoke(app, [*base, "--out", str(out), *flags])
        assert res.exit_code == 0, res.output
        assert torch.get_num_threads() == threads  # --threads holds while it streams, then is put back
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        assert lines and all(x["decoding"] == {"shift_threshold": rule} for x in lines)
    both = runner.invoke(
        app, [*base, "--out", str(tmp_path / "x.jsonl"), "--greedy", "--shift-threshold", "0.3"]
    )
    assert both.exit_code != 0 and "pick one" in both.output


def test_the_kept_sft_dialogues_learn_stops_as_sft_does(sft_and_pairs):
    from datagen.train.preference.dpo import _gold_batch
    from datagen.train.training.data import StreamBatcher

    root, corpus = sft_and_pairs
    pairs, sft = read_pairs(root / "pairs")
    rows = pairs + sft
    _, _, vocab, _, _ = ckpt.load_model(root / "sft", torch.device("cpu"))
    data = PairData(pairs, sft, [str(corpus)], vocab, None)
    barge = [r for r in rows if any(e["kind"] == "barge_in" for e in data.cuts[r["cut_id"]]["events"])]
    assert barge, "the test corpus has barge-ins"
    batcher = StreamBatcher(vocab, 16000, 0.08, 0, 80)
    exact = _gold_batch(data, batcher, barge[:2])
    window = _gold_batch(data, batcher, barge[:2], react_from_s=0.3)
    assert torch.equal(exact["tokens"], window["tokens"])  # what is fed back does not change
    n_exact = int((exact["targets"] == vocab.shift).sum())
    assert int((window["targets"] == vocab.shift).sum()) > n_exact > 0


def test_the_decisions_scope_counts_each_blocks_shift_or_not(sft_and_pairs):
    from datagen.train.training.data import StreamBatcher

    root, corpus = sft_and_pairs
    cfg = effective_config(_dpo_cfg(root, corpus, "scope"))
    model, vocab, _ = policy_model(cfg, torch.device("cpu"))
    pairs, _ = read_pairs(cfg.dpo.pairs)
    data = PairData(pairs[:2], [], [str(corpus)], vocab, None)
    batch, _ = _pair_batch(data, StreamBatcher(vocab, 16000, 0.08, 0, 80), pairs[:2])
    with torch.no_grad():
        p = model.eval().logits(batch["env"], batch["asst"], batch["tokens"]).softmax(-1)[..., vocab.shift]
        got = sequence_logps(model, batch, "decisions")
    shifted = batch["tokens"] == vocab.shift
    assert bool((shifted & batch["scored"]).any())  # the divergent blocks hold decisions to count
    per_block = torch.where(shifted, p.log(), (1 - p).log())
    assert torch.allclose(got, (per_block * batch["scored"]).sum(-1), rtol=1e-4)
    with pytest.raises(ValueError, match="scope"):
        sequence_logps(model, batch, "text")


def test_a_window_of_one_scores_the_divergent_decision_alone(sft_and_pairs):
    """`dpo.window: 1` with `decisions`: each side's sum is its choice at the pair's first
    divergent block (the sides differ there: one shifts, the other does not)."""
    from datagen.train.training.data import StreamBatcher

    root, corpus = sft_and_pairs
    cfg = effective_config(_dpo_cfg(root, corpus, "window"))
    model, vocab, _ = policy_model(cfg, torch.device("cpu"))
    pairs, _ = read_pairs(cfg.dpo.pairs)
    data = PairData(pairs[:2], [], [str(corpus)], vocab, None)
    batcher = StreamBatcher(vocab, 16000, 0.08, 0, 80)
    whole, starts = _pair_batch(data, batcher, pairs[:2])
    one, _ = _pair_batch(data, batcher, pairs[:2], window=1)
    assert one["scored"].sum(-1).tolist() == [1, 1, 1, 1] and whole["scored"].sum(-1).min() > 1
    at = one["scored"].float().argmax(-1)
    assert at.tolist() == starts.tolist()
    shifted = one["tokens"][torch.arange(4), at] == vocab.shift
    assert shifted[0::2].tolist() == (~shifted[1::2]).tolist()  # chosen and rejected part there
    with torch.no_grad():
        p = model.eval().logits(one["env"], one["asst"], one["tokens"]).softmax(-1)[..., vocab.shift]
        got = sequence_logps(model, one, "decisions")
    p_at = p[torch.arange(4), at]
    assert torch.allclose(got, torch.where(shifted, p_at.log(), (1 - p_at).log()), rtol=1e-4)


def test_rpo_alpha_holds_the_chosen_side_up(sft_and_pairs):
    """`dpo.rpo_alpha` (TRL's): the chosen sides' NLL per scored block joins the loss, and
    one step with it leaves the chosen sides likelier than the same step without it."""
    from datagen.train.preference.dpo import chosen_nll
    from datagen.train.training.data import StreamBatcher

    root, corpus = sft_and_pairs
    cfg = effective_config(_dpo_cfg(root, corpus, "rpo"))
    pairs, _ = read_pairs(cfg.dpo.pairs)
    chosen_after = []
    for alpha in (None, 1.0):
        model, vocab, _ = policy_model(cfg, torch.device("cpu"))
        data = PairData(pairs[:2], [], [str(corpus)], vocab, None)
        batch, _ = _pair_batch(data, StreamBatcher(vocab, 16000, 0.08, 0, 80), pairs[:2])
        with torch.no_grad():
            ref = sequence_logps(model.eval(), batch)
        n = batch["scored"][0::2].sum(-1)
        assert chosen_nll(ref, batch["scored"]).item() == pytest.approx(-(ref[0::2] / n).mean().item())
        opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05)
        model.train()
        pol = sequence_logps(model, batch)
        loss, _ = dpo_loss(pol, ref, beta=0.1)
        if alpha:
            loss = loss + alpha * chosen_nll(pol, batch["scored"])
        loss.backward()
        opt.step()
        with torch.no_grad():
            chosen_after.append(sequence_logps(model.eval(), batch)[0::2].sum().item())
    assert chosen_after[1] > chosen_after[0] + 1e-3
