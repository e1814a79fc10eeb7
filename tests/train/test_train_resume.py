"""A killed training run resumes from its last checkpoint and continues identically.

Bitwise, with one thread: with several, CPU kernels may sum in another order after a
reload (1e-7 apart), which is float rounding, not a different step."""

import json
import os
import signal
import subprocess
import sys
import time

import torch
import yaml
from train_support import tiny_cfg

from datagen.train.training import checkpoint as ckpt
from datagen.train.training.loop import train_sft


def _train_rows(out):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in rows if r["split"] == "train"]


def _weights(out):
    return torch.load(ckpt.latest(out) / "model.pt", weights_only=True)


def test_stop_and_resume_gives_the_same_steps_and_weights(local_corpus, tmp_path):
    over = {"optim": {"max_steps": 7}, "save_every": 3, "data": {"max_duration": 150.0}, "threads": 1}
    a = tiny_cfg(local_corpus, tmp_path / "a", **over)
    train_sft(a, resume=False, progress=False)
    b = tiny_cfg(local_corpus, tmp_path / "b", **over)
    assert train_sft(b, resume=False, stop_after=5, progress=False)["stopped"]
    assert ckpt.latest(b.out).name == "step-00000003"  # steps 4-5 were lost, as in a kill
    train_sft(b, resume=True, progress=False)
    assert _train_rows(tmp_path / "a") == _train_rows(tmp_path / "b")
    wa, wb = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert wa.keys() == wb.keys()
    assert [k for k in wa if not torch.equal(wa[k], wb[k])] == []
    state = json.loads((ckpt.latest(b.out) / "state.json").read_text())
    assert state["step"] == 7 and state["epoch"] >= 1  # the run crossed an epoch boundary


def test_sigkill_then_rerun_finishes_like_an_uninterrupted_run(local_corpus, tmp_path):
    """A real kill at an arbitrary moment (whenever the first checkpoint has appeared)."""
    for name in ("whole", "killed"):
        cfg = tiny_cfg(local_corpus, tmp_path / name, optim={"max_steps": 8}, save_every=2, threads=1)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    cmd = [sys.executable, "-m", "datagen", "train", "sft"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    subprocess.run([*cmd, str(tmp_path / "whole.yaml")], check=True, env=env, capture_output=True)
    p = subprocess.Popen(
        [*cmd, str(tmp_path / "killed.yaml")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while ckpt.latest(tmp_path / "killed") is None and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    subprocess.run([*cmd, str(tmp_path / "killed.yaml")], check=True, env=env, capture_output=True)
    assert _train_rows(tmp_path / "whole") == _train_rows(tmp_path / "killed")
    wa, wb = _weights(tmp_path / "whole"), _weights(tmp_path / "killed")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
