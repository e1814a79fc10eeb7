"""`--out s3://bucket/prefix` against a real S3 server (moto's standalone server,
tests/store_support.py): the same corpus bytes as a local folder, a worker killed
in the middle of its upload leaves nothing a rerun duplicates or orphans, and a
wrong bucket, endpoint or secret fails before any work with the setting named."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from fault_support import child_env, corpus_files, fast_recipe, folder_files, run_args

pytest.importorskip("s3fs")
pytest.importorskip("moto")

from datagen.executors.runner import run  # noqa: E402
from datagen.io.store import shar_fields  # noqa: E402


@pytest.fixture(scope="module")
def local_fast(tmp_path_factory):
    out = tmp_path_factory.mktemp("fast") / "local"
    run(fast_recipe(), out=str(out), executor="local", quiet=True)
    return folder_files(out)


@pytest.fixture(scope="module")
def s3_fast(s3_server, local_fast):
    """One clean build into the store, shared by the tests that compare with it."""
    import os

    s3_server.new_bucket("clean")
    old = {k: os.environ.get(k) for k in s3_server.env()}
    os.environ.update(s3_server.env())
    try:
        run(fast_recipe(), out="s3://clean/fast", executor="local", quiet=True)
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return s3_server.objects("clean", "fast/")


def test_s3_build_gives_the_local_corpus_bytes_and_loads_in_lhotse(s3_env, s3_fast, local_fast):
    from lhotse import CutSet
    from typer.testing import CliRunner

    from datagen.cli import app

    assert corpus_files(s3_fast) == corpus_files(local_fast)
    assert not [k for k in s3_fast if k.endswith(".tmp") or "/.tmp-" in k or "write-test" in k]
    cuts = CutSet.from_shar(fields=shar_fields("s3://clean/fast"))
    ids = [c.id for c in cuts]
    assert len(ids) == 6 and all(c.load_audio().shape[0] == 2 for c in cuts)
    res = CliRunner().invoke(app, ["validate", "s3://clean/fast"])
    assert res.exit_code == 0 and "OK: 6 cuts" in res.output, res.output
    res = CliRunner().invoke(app, ["inspect", "s3://clean/fast"])
    assert res.exit_code == 0 and "6" in res.output, res.output


_KILL_MID_UPLOAD = """
import os, signal, sys
from datagen.io.store import ObjectStore
put = ObjectStore.put
def put_then_die(self, local, rel):
    put(self, local, rel)
    if rel.startswith("_work/shards/000002/"):  # one object of shard 2 is up, the rest never
        os.kill(os.getpid(), signal.SIGKILL)
ObjectStore.put = put_then_die
from datagen.cli import app
sys.argv = ["datagen"] + sys.argv[1:]
app()
"""


def test_worker_killed_mid_upload_then_rerun_leaves_no_duplicate_and_no_orphan(s3_env, s3_fast):
    s3_env.new_bucket("killed")
    args = run_args("s3://killed/fast")[3:]  # after `python -m datagen`
    cmd = [sys.executable, "-c", _KILL_MID_UPLOAD, *args]
    proc = subprocess.run(cmd, env=child_env(), capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    left = s3_env.objects("killed", "fast/")
    partial = [k for k in left if k.startswith("_work/shards/000002/")]
    assert partial and "_work/done/000002.json" not in left  # half a shard, no marker
    markers = {k: v for k, v in left.items() if k.startswith("_work/done/")}
    assert sorted(markers) == [f"_work/done/{k:06d}.json" for k in range(2)]
    stats = run(fast_recipe(), out="s3://killed/fast", executor="local", quiet=True)
    assert stats["complete"]
    got = s3_env.objects("killed", "fast/")
    assert sorted(got) == sorted(s3_fast)  # same objects: nothing twice, nothing orphaned
    assert corpus_files(got) == corpus_files(s3_fast)
    assert all(got[k] == v for k, v in markers.items())  # committed shards were not redone


@pytest.mark.parametrize(
    "setting,env,needle",
    [
        ("secret", {"AWS_SECRET_ACCESS_KEY": "wrong"}, "AWS_SECRET_ACCESS_KEY"),
        ("bucket", {}, "bucket 'no-such-bucket' does not exist"),
        ("endpoint", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, "AWS_ENDPOINT_URL"),
    ],
)
def test_bad_store_settings_fail_before_any_work(s3_server, tmp_path, setting, env, needle):
    bucket = "no-such-bucket" if setting == "bucket" else "clean"
    t = time.monotonic()
    proc = subprocess.run(
        run_args(f"s3://{bucket}/bad-{setting}"),
        env=child_env(**s3_server.env(**env)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    took = time.monotonic() - t
    assert proc.returncode == 2 and needle in proc.stderr, proc.stderr[-2000:]
    assert not s3_server.objects("clean", f"bad-{setting}/")  # nothing written
    assert took < 30, took
