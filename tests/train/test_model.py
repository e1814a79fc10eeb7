"""The model's shape: causal encoder, 5 positions per block, loss on tokens only."""

import torch

from datagen.train.training.data import DuplexDataset, make_sampler, split_cuts
from datagen.train.training.loop import Run
from datagen.train.training.model import PER_BLOCK, DuplexModel
from datagen.train.training.runtime import Dist, make_optimizer
from datagen.train.training.vocab import LabelVocab

VOCAB = LabelVocab("builtin-test", 60, 58, 59)


def _model(cfg):
    return DuplexModel(cfg, VOCAB).eval()


def test_subsampler_block_by_block_equals_whole(cfg):
    enc = _model(cfg).encoder
    feats = torch.randn(2, 8 * 6, 80)
    whole = enc.subsample(feats)
    assert whole.shape == (2, 12, cfg.encoder.dim)  # 2 embeddings per block
    for b in range(6):
        x = feats[:, :8] if b == 0 else feats[:, 8 * (b - 1) : 8 * (b + 1)]
        part = enc.subsample(x)[:, -2:]
        assert torch.allclose(part, whole[:, 2 * b : 2 * b + 2], atol=1e-5)


def test_no_block_depends_on_later_audio_or_tokens(cfg):
    m = _model(cfg)
    env, asst = torch.randn(1, 8 * 10, 80), torch.randn(1, 8 * 10, 80)
    tokens = torch.randint(0, 58, (1, 10))
    with torch.no_grad():
        base = m.logits(env, asst, tokens)
        env2, asst2, tok2 = env.clone(), asst.clone(), tokens.clone()
        env2[:, 8 * 6 :] += 3.0
        asst2[:, 8 * 6 :] -= 3.0
        tok2[:, 5:] = 7  # the token of block 5 is fed back after block 5's prediction
        moved = m.logits(env2, asst2, tok2)
    assert torch.allclose(base[:, :6], moved[:, :6], atol=1e-5)
    assert not torch.allclose(base[:, 6:], moved[:, 6:], atol=1e-3)


def test_sequence_layout_is_env_env_asst_asst_token(cfg):
    m = _model(
        cfg.model_copy(update={"backbone": cfg.backbone.model_copy(update={"state_embedding": False})})
    )
    audio = torch.arange(3 * 4).float().view(1, 3, 4, 1).expand(1, 3, 4, m.base.config.hidden_size)
    seq = m.sequence(audio, torch.zeros(1, 3, dtype=torch.long))
    assert seq.shape[1] == 3 * PER_BLOCK
    assert seq[0, :4, 0].tolist() == [0, 1, 2, 3] and seq[0, 5:9, 0].tolist() == [4, 5, 6, 7]


def test_a_training_step_lowers_the_loss_on_a_fixed_batch(cfg):
    run = Run(cfg, Dist(), torch.device("cpu"))
    train, _ = split_cuts(cfg.data, 0)
    cuts = next(iter(make_sampler(train, cfg.data, 0, shuffle=False)))
    batch = DuplexDataset(run.batcher)[cuts]
    run.init_cmvn(train)
    opt = make_optimizer(run.model, cfg.optim)
    run.model.train()
    first, _ = run.model.sft_loss(batch)
    for _ in range(3):
        loss, stats = run.model.sft_loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after, _ = run.model.sft_loss(batch)
    assert after.item() < first.item() - 0.1
    assert stats["blocks"] == int(batch["n_blocks"].sum())  # every real block is a target, no padding


def test_vad_targets_mark_speech_on_channel_0_only(cfg):
    run = Run(cfg, Dist(), torch.device("cpu"))
    train, _ = split_cuts(cfg.data, 0)
    cuts = sorted(next(iter(make_sampler(train, cfg.data, 0, shuffle=False))), key=lambda c: c.id)
    batch = DuplexDataset(run.batcher)[cuts]
    vad = batch["vad"]
    assert vad.shape == (len(cuts), 2 * batch["tokens"].shape[1])
    for i, cut in enumerate(cuts):
        n = 2 * int(batch["n_blocks"][i])
        assert (vad[i, n:] == -100).all()  # padding learns nothing
        row = vad[i, :n]
        for s in cut.supervisions:
            inside = row[int(s.start / 0.04) + 1 : int(s.end / 0.04) - 1]
            if s.channel == 0:
                assert (inside == 1).all(), (cut.id, s.start)
            elif not any(o.channel == 0 and o.start < s.end and s.start < o.end for o in cut.supervisions):
                assert (inside == 0).all(), (cut.id, s.start)  # the assistant alone is not "speech here"
        assert 0 < int(row.sum()) < n


def test_the_vad_head_learns_and_inference_models_load_without_it(cfg):
    from datagen.train.training.checkpoint import load_model_state
    from datagen.train.training.model import LossWeights

    vcfg = cfg.model_copy(update={"optim": cfg.optim.model_copy(update={"vad_weight": 1.0})})
    run = Run(vcfg, Dist(), torch.device("cpu"))
    train, _ = split_cuts(vcfg.data, 0)
    batch = DuplexDataset(run.batcher)[next(iter(make_sampler(train, vcfg.data, 0, shuffle=False)))]
    run.init_cmvn(train)
    opt = make_optimizer(run.model, vcfg.optim)
    w = LossWeights.of(vcfg.optim)
    _, first = run.model.sft_loss(batch, w)
    for _ in range(5):
        loss, _ = run.model.sft_loss(batch, w)
        opt.zero_grad()
        loss.backward()
        opt.step()
    _, after = run.model.sft_loss(batch, w)
    assert after["vad_loss"] < first["vad_loss"] - 0.05
    assert run.model.vad_head.weight.grad is not None
    plain = DuplexModel(cfg, run.vocab)
    assert plain.vad_head is None
    load_model_state(plain, run.model.state_dict())  # the training-only head is dropped
    assert torch.equal(plain.connector[0].weight, run.model.connector[0].weight)


def _with_pre_voice(cfg, n):
    return cfg.model_copy(update={"backbone": cfg.backbone.model_copy(update={"pre_voice_blocks": n})})


def test_the_turn_state_marks_the_blocks_before_its_voice_began(cfg):
    """With pre_voice_blocks N, the N blocks after a speak-<shift> are state 2 (its voice
    not begun), later speaking blocks 1, listening 0; a stop ends it at once. Without it,
    the two states as before."""
    s = VOCAB.shift
    tokens = torch.tensor([[0, s, 1, 1, 1, 1, s, 0, 0, s, s, 1, 1]])
    assert _model(_with_pre_voice(cfg, 2)).speaking_before(tokens).tolist() == [
        [0, 0, 2, 2, 1, 1, 1, 0, 0, 0, 2, 0, 0]
    ]
    assert _model(cfg).speaking_before(tokens).tolist() == [[0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0]]
    three = _model(_with_pre_voice(cfg, 2))
    assert three.state_emb.shape[0] == 3
    assert [three.state_now(True, k) for k in (1, 2, 3)] == [2, 2, 1] and three.state_now(False, 1) == 0


def test_the_pre_voice_state_draws_nothing_from_the_rest(cfg):
    """Same seed, with and without the third state: every other weight the same, and
    the random draws after building the model too; its row a state of its own."""
    torch.manual_seed(0)
    two = _model(cfg)
    after_two = torch.rand(3)
    torch.manual_seed(0)
    three = _model(_with_pre_voice(cfg, 4))
    after_three = torch.rand(3)
    assert torch.equal(after_two, after_three)
    assert torch.equal(three.state_emb[:2], two.state_emb)
    assert (three.state_emb[2] - three.state_emb[1]).norm() > 0.5 * (
        two.state_emb[1] - two.state_emb[0]
    ).norm()
    for (name, a), (_, b) in zip(two.named_parameters(), three.named_parameters(), strict=True):
        assert name == "state_emb" or torch.equal(a, b), name
