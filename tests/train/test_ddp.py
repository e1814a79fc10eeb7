"""Several processes through torchrun and PyTorch DDP (gloo on the CPU: the same code as NCCL on GPUs)."""

import json
import os
import socket
import subprocess
import sys

import yaml
from train_support import tiny_cfg

from datagen.train.training import checkpoint as ckpt


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_ranks_train_and_checkpoint_once(local_corpus, tmp_path):
    cfg = tiny_cfg(local_corpus, tmp_path / "run", optim={"max_steps": 3}, threads=1)
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "datagen",
        "train",
        "sft",
        str(tmp_path / "cfg.yaml"),
    ]
    res = subprocess.run(
        cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=600
    )
    assert res.returncode == 0, res.stderr[-2000:]
    state = json.loads((ckpt.latest(tmp_path / "run") / "state.json").read_text())
    assert state["step"] == 3 and state["done"]
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["split"] == "train"] == [1, 2, 3]  # rank 0 alone writes
