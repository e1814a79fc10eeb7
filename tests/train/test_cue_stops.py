"""`data.late_decisions.cue_share`: on a real assistant_backchannel dialogue of the corpus,
the cue's stop is the decision made late and, after the cue's wait, every block after its
audio learns "stop now"; with it off the batch is the one the recipe made before."""

import numpy as np
import torch

from datagen.train.common.config import LateDecisions
from datagen.train.common.tracks import spans_of
from datagen.train.training.answers import answers_of
from datagen.train.training.data import IGNORE, DuplexDataset, open_corpora
from datagen.train.training.loop import Run
from datagen.train.training.runtime import Dist


def _cue_cut(cfg):
    return next(c for c in open_corpora(cfg.data.train) if "assistant_backchannel" in c.id)


def test_a_cue_dialogue_learns_its_stop_late_and_nothing_else_moves(cfg):
    run = Run(cfg, Dist(), torch.device("cpu"))
    cut = _cue_cut(cfg)
    lab = np.asarray(cut.load_labels())
    answers = answers_of(cut, cut.load_audio(), lab)
    cues = [k for k, a in enumerate(answers) if a.cue]
    assert cues and not answers[-1].cue  # the cue(s), then the answer
    late = LateDecisions(share=0.0, cue_share=1.0, max_blocks=8, min_finish_blocks=5, cue_finish_blocks=4)
    batch = DuplexDataset(run.batcher, late, seed=0)[[cut]]
    fed = batch["tokens"][0].numpy()
    gold, moved = spans_of(lab), spans_of(run.vocab.to_labels(fed))
    changed = [
        k for k, (g, m) in enumerate(zip(gold, moved, strict=True)) if (g.speak, g.stop) != (m.speak, m.stop)
    ]
    assert len(changed) == 1 and changed[0] in cues
    k = changed[0]
    assert moved[k].speak == gold[k].speak and gold[k].stop + 4 <= moved[k].stop <= gold[k].stop + 8
    targets, stop = batch["targets"][0], gold[k].stop
    assert targets[stop] == run.vocab.shift  # gold's own stop block
    assert (targets[stop + 1 : stop + 4] == IGNORE).all()  # the cue's wait (cue_finish_blocks: 4)
    assert (targets[stop + 4 : moved[k].stop + 1] == run.vocab.shift).all()  # then "stop now"

    off = DuplexDataset(run.batcher, LateDecisions(share=0.0), seed=0)[[cut]]
    assert torch.equal(off["tokens"], DuplexDataset(run.batcher)[[cut]]["tokens"])
