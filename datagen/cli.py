"""The `datagen` command line. Each command calls one library function."""

from __future__ import annotations

import faulthandler
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from datagen.config import RecipeError, load_recipe
from datagen.records import TASKS

app = typer.Typer(
    help="Make training data for full-duplex spoken-dialogue models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main() -> None:
    """Make training data for full-duplex spoken-dialogue models."""
    # `kill -USR1 <pid>` prints every thread's stack to stderr and the command goes on:
    # where a long run (or one waiting on a lost cluster node) is stuck, without a debugger
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (AttributeError, OSError, ValueError):  # no SIGUSR1 (Windows), stderr not a file (tests)
        pass


def _fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(2)


CORPUS_HELP = "A corpus folder, or its URL (s3://bucket/prefix, gs://, az://, file://)"


@contextmanager
def _corpus_folder(out: str, audio: bool = True) -> Iterator[Path]:
    """The corpus as a folder: itself, or for a URL a temporary local copy (these
    commands read a corpus by path; `validate` reads a URL where it is)."""
    from datagen.io.store import StoreError, download_corpus, is_url

    if not is_url(out):
        yield Path(out)
        return
    with tempfile.TemporaryDirectory(prefix="datagen-corpus-") as tmp:
        try:
            yield download_corpus(out, Path(tmp), audio=audio)
        except (StoreError, OSError) as e:
            _fail(f"{out}: {e}")


@app.command()
def run(
    recipe: Path = typer.Argument(..., help="Recipe YAML, e.g. recipes/tiny.yaml"),
    out: str = typer.Option(None, "--out", help="Output folder (default: manifests/<recipe name>)"),
    set_: list[str] = typer.Option([], "--set", help="Override a recipe field: key.path=value (repeatable)"),
    executor: str = typer.Option(None, "--executor", help="ray (default) or local"),
    workers: int = typer.Option(None, "--workers", help="Parallel workers (default: CPU count)"),
    address: str = typer.Option(None, "--address", help="Join an existing Ray cluster (or set RAY_ADDRESS)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; run no model"),
    cluster: str = typer.Option(
        None, "--cluster", help="With --dry-run: size the actor pools for e.g. 4x8gpu (or 4x8gpu:96cpu)"
    ),
    fresh: bool = typer.Option(False, "--fresh", help="Discard earlier output in the folder and start over"),
) -> None:
    """Build a corpus from RECIPE. Rerun the same command to resume after a crash."""
    overrides = list(set_) + ([f"executor.address={address}"] if address else [])
    if not dry_run:
        if cluster:
            _fail("--cluster sizes a --dry-run; a real run reads the cluster it joins")
        _report_run(_run_or_fail(recipe, overrides, out, executor, workers, fresh))
        return
    try:
        rec = load_recipe(recipe, overrides)
        from datagen.executors.dryrun import describe
        from datagen.executors.sizing import parse_cluster

        typer.echo(describe(rec, parse_cluster(cluster) if cluster else None))
    except (RecipeError, FileNotFoundError) as e:
        _fail(str(e))


@app.command(name="serve-llm")
def serve_llm(
    run_recipe: Path = typer.Option(None, "--run", help="Build this recipe against the server, then stop it"),
    out: str = typer.Option(None, "--out", help="With --run: output folder"),
    set_: list[str] = typer.Option([], "--set", help="With --run: override a recipe field (repeatable)"),
    executor: str = typer.Option(None, "--executor", help="With --run: ray (default) or local"),
    fresh: bool = typer.Option(False, "--fresh", help="With --run: discard earlier output and start over"),
    model: Path = typer.Option(None, "--model", help="A GGUF file (default: SmolLM2-135M-Instruct)"),
    port: int = typer.Option(0, "--port", help="Loopback port (default: a free one)"),
    threads: int = typer.Option(None, "--threads", help="llama.cpp CPU threads (default: half the cores)"),
    n_ctx: int = typer.Option(4096, "--n-ctx", help="Context length in tokens"),
) -> None:
    """Start llama.cpp's OpenAI-compatible server on 127.0.0.1 (SmolLM2 by default).

    Without --run it serves until Ctrl-C and prints the base_url and model name
    for a recipe's llm.options. With --run RECIPE it builds that recipe with
    llm.options.base_url and .model pointing at the server, then stops it."""
    from datagen.backends.llm.local_server import LlamaCppServer, LLMServerError

    try:
        server = LlamaCppServer(model, n_ctx=n_ctx, threads=threads, port=port or None).start()
    except LLMServerError as e:
        _fail(str(e))
    typer.echo(
        f"llama.cpp server: base_url={server.base_url} model={server.alias} (log {server.log_path})", err=True
    )
    try:
        if run_recipe is None:
            import time

            while True:
                server.check()
                time.sleep(1.0)
        wired = [f"llm.options.base_url={server.base_url}", f"llm.options.model={server.alias}"]
        _report_run(_run_or_fail(run_recipe, [*set_, *wired], out, executor, None, fresh, server))
    except LLMServerError as e:
        _fail(f"{e}\nFinished shards are kept: rerun the same command to resume.")
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _run_or_fail(recipe, overrides, out, executor, workers, fresh, server=None) -> dict:
    """Build a corpus; any failure becomes one clear error line (the server's own, if it died)."""
    try:
        rec = load_recipe(recipe, overrides)
        if executor and executor not in ("ray", "local"):
            raise RecipeError(f"--executor must be ray or local, got {executor!r}")
        from datagen.executors.runner import run as run_recipe

        return run_recipe(rec, out=out, executor=executor, workers=workers, fresh=fresh)
    except (RecipeError, FileNotFoundError) as e:
        _fail(str(e))
    except Exception as e:  # a backend or worker failure: say what, and that resume is safe
        if server is not None:
            server.check(grace_s=2.0)  # a dead server: its exit code and log say more than the request
        if os.environ.get("DATAGEN_DEBUG"):
            raise
        last = [line for line in str(e).splitlines() if line.strip()][-1:] or [""]
        _fail(
            f"{type(e).__name__}: {last[0]}\nFinished shards are kept: rerun the same command to resume "
            "(DATAGEN_DEBUG=1 shows the full traceback)."
        )


def _report_run(stats: dict) -> None:
    """The run's one-line summary; shards that failed every try are named and exit 2."""
    typer.echo(
        f"{stats['kept']} dialogues ({stats['hours'] * 60:.1f} min), {stats['rejected']} rejected "
        f"of {stats['planned']} planned; {stats['questions_rejected']} input rows rejected"
    )
    if stats.get("failed_shards"):
        for f in stats["failed_shards"]:
            msg = f"shard {f['shard']:06d} failed {f['tries']} tries: {f['reason']}"
            typer.secho(msg, fg="red", err=True)
        _fail("some shards failed every try (recorded in stats.json); rerun the same command to retry them")


@app.command()
def inspect(out: str = typer.Argument(..., help=CORPUS_HELP)) -> None:
    """Dialogues, hours, per-task and per-event counts, rejects by reason."""
    from datagen.report.collect import collect, format_summary

    with _corpus_folder(out, audio=False) as folder:
        if not (folder / "stats.json").is_file():
            _fail(f"{out} is not a corpus folder (no stats.json)")
        typer.echo(format_summary(collect(folder)).replace(str(folder), out))


@app.command()
def validate(out: str = typer.Argument(..., help=CORPUS_HELP)) -> None:
    """Check every cut: channels, supervisions, labels vs audio, accounting."""
    from datagen.io.store import StoreError, is_url
    from datagen.io.validate import validate as check

    try:
        rep = check(out if is_url(out) else Path(out))
    except StoreError as e:
        _fail(str(e))
    for p in rep.problems:
        typer.echo(f"FAIL {p}", err=True)
    if not rep.ok:
        typer.secho(f"{len(rep.problems)} problem(s) in {rep.cuts} cuts", fg="red", err=True)
        raise typer.Exit(1)
    typer.secho(f"OK: {rep.cuts} cuts pass every check", fg="green")


@app.command()
def report(
    out: str = typer.Argument(..., help=CORPUS_HELP),
    timelines: int = typer.Option(
        len(TASKS), help="How many dialogue timelines to plot (default: one per task, if there)"
    ),
    vad_cuts: int = typer.Option(
        200, help="How many dialogues (a fixed sample) get turn-taking figures from silero-vad; 0: none"
    ),
    dnsmos_utts: int = typer.Option(
        10, help="How many utterances of each speaker role (a fixed sample) get a DNSMOS score; 0: none"
    ),
) -> None:
    """Write OUT/report/index.html with plots and tables."""
    from datagen.io.store import ObjectStore, is_url
    from datagen.report.html import build_report

    with _corpus_folder(out) as folder:
        if not (folder / "stats.json").is_file():
            _fail(f"{out} is not a corpus folder (no stats.json)")
        page = build_report(folder, max_timelines=timelines, vad_cuts=vad_cuts, dnsmos_utts=dnsmos_utts)
        if is_url(out):  # the report goes next to the corpus, as for a folder
            store, rel = ObjectStore(out), page.relative_to(folder)
            for f in sorted((folder / rel.parts[0]).rglob("*")):
                if f.is_file():
                    store.put(f, str(f.relative_to(folder)))
            page = store.uri(str(rel))
    typer.echo(str(page))


@app.command()
def show(out: str = typer.Argument(..., help=CORPUS_HELP), cut_id: str = typer.Argument(...)) -> None:
    """Print one dialogue: supervisions, events and its label track as text."""
    from datagen.io.shar import load_cuts
    from datagen.io.store import is_url
    from datagen.text.tokenizer import get_tokenizer
    from datagen.timeline.labels import compact

    for cut in load_cuts(out if is_url(out) else Path(out)):
        if cut.id != cut_id:
            continue
        typer.echo(f"{cut.id}  task={cut.custom['task']}  {cut.duration:.2f}s")
        for s in sorted(cut.supervisions, key=lambda s: s.start):
            c = s.custom or {}
            typer.echo(
                f"  ch{s.channel} {s.start:7.2f}-{s.end:7.2f} {c.get('role'):<11} {c.get('kind'):<16} "
                f"{c.get('expect', ''):<8} {s.text[:70]}"
            )
        for e in cut.custom["events"]:
            typer.echo(f"  event {e['time']:7.2f} {e['kind']:<16} {e['role']:<11} expect={e['expect']}")
        meta = cut.custom["label_meta"]
        spec = "builtin" if meta["tokenizer"].startswith("builtin") else None
        if spec:
            typer.echo("  labels: " + compact(cut.load_labels(), get_tokenizer(spec)))
        return
    _fail(f"no cut {cut_id!r} in {out}")


@app.command()
def export(
    src: str = typer.Argument(..., help=CORPUS_HELP + ", e.g. manifests/eval_context_independent"),
    fmt: str = typer.Option(..., "--format", "-f", help="nemo, moshi, fdb or hf (docs/exports.md)"),
    out: Path = typer.Option(..., "--out", help="Folder to write (must be empty, or pass --force)"),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty OUT once the export is whole"),
    target_rate: int = typer.Option(22050, help="nemo: rate of target_audio (the assistant), Hz"),
    sample_rate: int = typer.Option(24000, help="moshi: rate of the stereo WAVs, Hz"),
    fdb_version: str = typer.Option("1.0", help="fdb: Full-Duplex-Bench layout, 1.0 or 1.5"),
    shard_size: int = typer.Option(100, help="nemo: cuts per Shar shard; hf: cuts per Parquet file"),
    split: str = typer.Option(None, help="hf: split name (default: test for eval sets, else train)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines"),
) -> None:
    """Export a corpus in a layout another duplex tool reads unchanged."""
    import json

    from datagen.export import ExportError
    from datagen.export import export as run_export

    options = {
        "nemo": {"target_rate": target_rate, "shard_size": shard_size},
        "moshi": {"sample_rate": sample_rate},
        "fdb": {"version": fdb_version},
        "hf": {"shard_cuts": shard_size, "split": split},
    }.get(fmt, {})
    with _corpus_folder(src) as folder:
        try:
            summary = run_export(folder, fmt, out, force=force, quiet=quiet, **options)
        except ExportError as e:
            _fail(str(e))
    summary["source"] = src
    typer.echo(json.dumps(summary, indent=2))


def _register_trainer() -> None:
    """The trainer's commands (datagen/train/cli.py); their heavy imports load only when run."""
    from datagen.train.cli import dpo_pairs, errors_from_audio_cmd, score, train_app

    app.add_typer(train_app, name="train")
    app.command(name="errors")(errors_from_audio_cmd)
    app.command(name="score")(score)
    app.command(name="dpo")(dpo_pairs)


_register_trainer()
