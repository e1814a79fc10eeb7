"""Shards of a run whose output is an object store (`--out s3://bucket/prefix`).

An object store has no rename, so a shard cannot appear by moving a finished
folder into place. Instead a worker writes the shard into a local temp folder
(the same writer, the same bytes as a local run), removes whatever an earlier,
killed attempt left under `_work/shards/NNNNNN/`, uploads every file there,
and only then writes the completion marker `_work/done/NNNNNN.json` (the
shard's stats). Each object is one PUT, whole or absent. So:

* resume lists `_work/done/` (one listing) and skips those shards;
* a shard without a marker is never read: its objects are removed before
  its next attempt uploads, and `finalize` sweeps any that remain;
* a shard whose marker exists is never uploaded again (a Ray retry of a task
  whose node died after the marker was written commits nothing twice);
* `finalize` copies each committed shard's Shar files into `shar/` (server-side
  copy, then delete; idempotent like the local rename) and writes
  `index.jsonl`, `rejects.jsonl` and `stats.json`, byte for byte what a
  local run writes.

The driver's own scratch (Ray timeline, Ray Data LLM text cache) stays on the
driver's disk, under a folder named after the URL.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datagen.io.atomic import parse_jsonl
from datagen.io.store import ObjectStore


class StoreRunPaths:
    remote = True

    def __init__(self, url: str):
        self.out = url.rstrip("/")
        self._store: ObjectStore | None = None
        digest = hashlib.sha1(self.out.encode()).hexdigest()[:12]
        self.work = Path(tempfile.gettempdir()) / "datagen-work" / digest

    @property
    def store(self) -> ObjectStore:
        if self._store is None:  # opened on first use: in a worker, not when pickled to it
            self._store = ObjectStore(self.out)
        return self._store

    @property
    def label(self) -> str:
        return self.out

    def __getstate__(self) -> dict:
        return {"out": self.out, "work": self.work, "_store": None}

    @staticmethod
    def shard_prefix(k: int) -> str:
        return f"_work/shards/{k:06d}"

    @staticmethod
    def marker(k: int) -> str:
        return f"_work/done/{k:06d}.json"

    def is_done(self, k: int) -> bool:
        return self.store.exists(self.marker(k))

    def done_indices(self) -> set[int]:
        names = self.store.names("_work/done")
        return {int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit()}

    def read_text(self, rel: str) -> str | None:
        return self.store.read_text(rel)

    def write_text(self, rel: str, text: str) -> None:
        self.store.write_text(rel, text)

    def clear(self) -> None:
        self.store.rm("_work")
        self.store.rm("shar")
        shutil.rmtree(self.work, ignore_errors=True)

    @contextmanager
    def staging(self, k: int) -> Iterator[Path]:
        tmp = Path(tempfile.mkdtemp(prefix=f"datagen-shard-{k:06d}-"))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def publish(self, tmp: Path, k: int) -> None:
        if self.is_done(k):  # an earlier attempt committed it: nothing twice
            return
        prefix = self.shard_prefix(k)
        self.store.rm(prefix)  # a killed attempt's objects: never read, removed before the upload
        for f in sorted(tmp.iterdir()):
            if f.name != "stats.json":
                self.store.put(f, f"{prefix}/{f.name}")
        self.store.write_bytes(self.marker(k), (tmp / "stats.json").read_bytes())  # the marker, last

    def shard_meta(self, k: int) -> dict:
        import json

        return json.loads(self.store.read_text(self.marker(k)))

    def shard_rows(self, k: int, name: str) -> list[dict]:
        return parse_jsonl(self.store.read_text(f"{self.shard_prefix(k)}/{name}"))

    def publish_shar(self, k: int, names: list[str]) -> None:
        prefix = self.shard_prefix(k)
        there = set(self.store.names(prefix))
        for name in names:
            if name in there:  # not yet published (or a kill came between copy and delete)
                self.store.copy(f"{prefix}/{name}", f"shar/{name}")
                self.store.fs.rm_file(self.store.key(f"{prefix}/{name}"))

    def sweep(self, done: set[int]) -> None:
        """Objects of shards that never got their marker: a killed or failed attempt's."""
        for name in self.store.names("_work/shards"):
            if name.isdigit() and int(name) not in done:
                self.store.rm(f"_work/shards/{name}")
