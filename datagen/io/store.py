"""Where a corpus lives when it is not a local folder: any fsspec URL.

`--out s3://bucket/prefix` (or gs://, az://, file://, ...) writes the corpus
through fsspec, with credentials and endpoint from the storage library's usual
environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_CONNECTION_STRING...).

An object store has no rename, so nothing here relies on one: every object is
written whole by one PUT (a reader sees all of it or none of it) and a shard
exists when its completion marker does, written after every other object of
the shard (datagen/executors/store_shards.py). `check_store` proves, before any
work, that the bucket is there and the credentials may write, list, read and
delete in it, and names the setting when they cannot.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# the settings each store reads from the environment, named in error messages
ENV_SETTINGS = {
    "s3": (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ),
    "gs": ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT"),
    "az": ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT_KEY"),
}
ENV_SETTINGS["abfs"] = ENV_SETTINGS["az"]
ENV_SETTINGS["gcs"] = ENV_SETTINGS["gs"]
ENV_SETTINGS["s3a"] = ENV_SETTINGS["s3"]


class StoreError(Exception):
    """The output URL cannot be used: the message names the setting to fix."""


def is_url(out: str | Path | None) -> bool:
    return isinstance(out, str) and bool(_URL.match(out))


def scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def store_env() -> dict[str, str]:
    """The storage settings set in this process: handed to Ray workers, which on a
    cluster do not inherit the driver's environment."""
    names = {n for names in ENV_SETTINGS.values() for n in names}
    return {n: os.environ[n] for n in sorted(names) if os.environ.get(n)}


class ObjectStore:
    """A folder-like view of `url`: relative keys, whole-object reads and writes."""

    def __init__(self, url: str):
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except ImportError as e:
            raise StoreError(
                f"{self.url}: the {scheme(url)}:// filesystem is not installed ({e}); "
                "pip install 'duplex-datagen[cloud]' (s3fs, smart_open) or the fsspec package for it"
            ) from None
        except ValueError as e:  # an unknown protocol
            raise StoreError(f"{self.url}: {e}") from None
        self.root = self.root.rstrip("/")

    def key(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def uri(self, rel: str) -> str:
        """A URL of `rel` that other readers (lhotse through smart_open) open."""
        return f"{self.url}/{rel}"

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.key(rel))

    def read_bytes(self, rel: str) -> bytes | None:
        try:
            return self.fs.cat_file(self.key(rel))
        except FileNotFoundError:
            return None

    def read_text(self, rel: str) -> str | None:
        data = self.read_bytes(rel)
        return None if data is None else data.decode("utf-8")

    def write_bytes(self, rel: str, data: bytes) -> None:
        """One PUT: the object appears whole or not at all."""
        self.fs.pipe_file(self.key(rel), data)

    def write_text(self, rel: str, text: str) -> None:
        self.write_bytes(rel, text.encode("utf-8"))

    def put(self, local: Path, rel: str) -> None:
        self.fs.put_file(str(local), self.key(rel))

    def copy(self, src: str, dst: str) -> None:
        """Server-side copy where the store has one (S3 CopyObject)."""
        self.fs.copy(self.key(src), self.key(dst))

    def names(self, rel: str) -> list[str]:
        """Names directly under `rel` (objects and 'folders'); [] when there is none."""
        try:
            entries = self.fs.ls(self.key(rel), detail=False, refresh=True)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def find(self, rel: str = "") -> list[str]:
        """Every object under `rel`, as keys relative to the store's root."""
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self.key(rel))
        except FileNotFoundError:
            return []
        n = len(self.root) + 1
        return sorted(f[n:] for f in found)

    def rm(self, rel: str) -> None:
        """Remove `rel` and everything under it; nothing there is fine."""
        for k in self.find(rel):
            if k == rel or k.startswith(rel.rstrip("/") + "/"):
                try:
                    self.fs.rm_file(self.key(k))
                except FileNotFoundError:
                    pass
        self.fs.invalidate_cache()


def _explain(url: str, action: str, e: BaseException) -> str:
    """Which setting is wrong, from the error the store gave."""
    kind = scheme(url)
    env = {n: os.environ.get(n) for n in ENV_SETTINGS.get(kind, ())}
    shown = ", ".join(
        f"{n}={'<set>' if 'SECRET' in n or 'KEY' in n or 'TOKEN' in n or 'STRING' in n else v}"
        for n, v in env.items()
        if v
    )
    where = f" (from the environment: {shown})" if shown else " (none of " + ", ".join(env) + " is set)"
    text = f"{type(e).__name__}: {e}"
    low = text.lower()
    bucket = url.split("://", 1)[1].split("/", 1)[0]
    if kind in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL", "AWS's default endpoint")
        refused = ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "forbidden")
        if any(s in low for s in refused):
            return (
                f"{url}: the store refused the credentials on {action}: check AWS_ACCESS_KEY_ID / "
                f"AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN / AWS_PROFILE{where}. {text}"
            )
        if "nosuchbucket" in low or "bucket does not exist" in low:
            return f"{url}: bucket {bucket!r} does not exist at {endpoint}: create it or fix --out. {text}"
        if "unable to locate credentials" in low or "nocredentials" in low:
            return f"{url}: no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY{where}"
        if any(s in low for s in ("connect", "endpoint", "timed out", "timeout", "name or service")):
            return f"{url}: cannot reach the endpoint {endpoint}: check AWS_ENDPOINT_URL{where}. {text}"
    if isinstance(e, FileNotFoundError):
        return f"{url}: bucket/container {bucket!r} not found on {action}: fix the --out URL{where}. {text}"
    if isinstance(e, PermissionError):
        return f"{url}: permission denied on {action}: check the credentials{where}. {text}"
    return f"{url}: the store failed on {action}{where}. {text}"


def check_store(url: str) -> ObjectStore:
    """Write, list, read and delete a probe object under `url`: a wrong bucket, endpoint
    or credentials fails here, before any work, with the setting named."""
    store = ObjectStore(url)
    probe = f"_work/.write-test-{socket.gethostname()}-{os.getpid()}"
    action = "write"
    try:
        store.write_bytes(probe, b"ok")
        action = "list"
        store.names("_work")
        action = "read"
        if store.read_bytes(probe) != b"ok":
            raise StoreError(f"{url}: an object written could not be read back")
        action = "delete"
        store.fs.rm_file(store.key(probe))
    except StoreError:
        raise
    except Exception as e:  # botocore / aiohttp / google / azure errors differ by store
        raise StoreError(_explain(url, action, e)) from None
    return store


def shar_fields(url: str) -> dict[str, list[str]]:
    """The Shar shards under `url` (the run, or its shar/) as URLs per field: what
    `CutSet.from_shar(fields=...)` takes. lhotse 1.33's `from_shar(in_dir=...)` lists
    its folder with pathlib, so it cannot list a bucket; each URL is then opened by
    lhotse through smart_open, which reads the same environment."""
    store = ObjectStore(url)
    sub = "shar" if "shar" in store.names("") else ""
    fields: dict[str, list[str]] = {}
    for name in store.names(sub):
        field = name.split(".")[0]
        if field == "cuts" and ".jsonl" not in name:
            continue
        fields.setdefault(field, []).append(store.uri(f"{sub}/{name}" if sub else name))
    return {k: sorted(v) for k, v in fields.items()}


def download_corpus(url: str, dest: Path, audio: bool = True) -> Path:
    """A local copy of the corpus at `url` (shar/, index, rejects, stats) for the
    commands that read a corpus folder by path (inspect, report, export, show);
    `audio=False` leaves out the recording tars."""
    store = ObjectStore(url)
    keys = [k for k in store.find("") if not k.startswith("_work/")]
    if not audio:
        keys = [k for k in keys if not k.split("/")[-1].startswith(("recording.", "full_answers."))]
    for k in keys:
        target = dest / k
        target.parent.mkdir(parents=True, exist_ok=True)
        store.fs.get_file(store.key(k), str(target))
    return dest
