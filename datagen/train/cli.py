"""`datagen train ...`, `datagen score` and `datagen dpo`: each calls one library function."""

from __future__ import annotations

from pathlib import Path

import typer

train_app = typer.Typer(
    help="Train a duplex model on the corpus (SFT, DPO) and log its errors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def fail(msg: str) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(2)


def _config(config: Path, set_: list[str]):
    from datagen.recipe_files import RecipeError
    from datagen.train.common.config import load_train_config

    try:
        return load_train_config(config, set_)
    except RecipeError as e:
        fail(str(e))


SET = typer.Option([], "--set", help="Override a config field: key.path=value (repeatable)")
FRESH = typer.Option(False, "--fresh", help="Start over instead of resuming from the last checkpoint")
STOP_AFTER = typer.Option(None, "--stop-after", help="Stop after this many optimizer steps in total")


def _train(kind: str, config: Path, set_: list[str], fresh: bool, stop_after: int | None) -> None:
    """Run one trainer (sft or dpo) and say where its checkpoint is."""
    from datagen.train.training.vocab import TokenizerMismatch

    cfg = _config(config, set_)
    if kind == "sft":
        from datagen.train.training.loop import train_sft as train
    else:
        from datagen.train.preference.dpo import train_dpo as train
    try:
        res = train(cfg, resume=not fresh, stop_after=stop_after)
    except (TokenizerMismatch, FileNotFoundError, ValueError) as e:
        fail(str(e))
    typer.echo(f"checkpoint: {res.get('checkpoint')} (step {res['step']})")


@train_app.command()
def sft(
    config: Path = typer.Argument(..., help="Trainer config, e.g. recipes/train/tiny_cpu.yaml"),
    set_: list[str] = SET,
    fresh: bool = FRESH,
    stop_after: int = STOP_AFTER,
) -> None:
    """Supervised fine-tuning on the corpus's label tracks. Rerun to resume."""
    _train("sft", config, set_, fresh, stop_after)


@train_app.command()
def errors(
    checkpoint: Path = typer.Argument(
        ..., help="A checkpoint folder, or a run folder (its latest checkpoint)"
    ),
    eval_: list[str] = typer.Option(..., "--eval", help="Evaluation corpus folder (repeatable)"),
    out: Path = typer.Option(None, "--out", help="Error log to write (default: <run>/errors.jsonl)"),
    batch_size: int = typer.Option(None, "--batch-size", help="Dialogues decoded together"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
    shift_threshold: float = typer.Option(
        None,
        "--shift-threshold",
        min=0.0,
        max=1.0,
        help="Emit <shift> when its probability exceeds this (default: the config's stream.shift_threshold)",
    ),
    greedy: bool = typer.Option(False, "--greedy", help="Greedy argmax decoding, whatever the config says"),
    audio_out: Path = typer.Option(
        None, "--audio-out", help="Also write each dialogue's output audio here (<cut_id>.wav)"
    ),
    threads: int = typer.Option(
        None, "--threads", min=1, help="torch CPU threads (default: the checkpoint's `threads`, else torch's)"
    ),
    workers: int = typer.Option(
        None,
        "--workers",
        min=1,
        help="Processes decoding batches side by side, sharing the threads (default: one per thread "
        "on a CPU, one on a GPU); the log is the same",
    ),
) -> None:
    """Stream the model over evaluation sets, block by block, and log its errors."""
    from datagen.train.streaming.errors import run_errors
    from datagen.train.training.checkpoint import resolve
    from datagen.train.training.vocab import TokenizerMismatch

    if greedy and shift_threshold is not None:
        fail("--greedy and --shift-threshold are two decision rules: pick one")
    try:
        found = resolve(checkpoint)
        target = out or found.parent.parent / "errors.jsonl"
        rule = None if greedy else "config" if shift_threshold is None else shift_threshold
        res = run_errors(
            found,
            eval_,
            target,
            batch_size=batch_size,
            device=device,
            shift_threshold=rule,
            audio_out=audio_out,
            threads=threads,
            workers=workers,
        )
    except (TokenizerMismatch, FileNotFoundError, ValueError) as e:
        fail(str(e))
    cats = ", ".join(f"{k} {v}" for k, v in sorted(res["categories"].items()))
    typer.echo(f"{res['dialogues']} dialogues -> {res['out']} (error categories: {cats})")


def score(
    error_log: Path = typer.Argument(..., help="An error log (JSONL, docs/error_log.md)"),
    out: Path = typer.Option(None, "--out", help="JSON to write (default: beside the log, .score.json)"),
    corpus: str = typer.Option(
        None, "--corpus", help="Where the dialogues' audio is, if not where the log says"
    ),
    no_baselines: bool = typer.Option(False, "--no-baselines", help="Skip the two rule baselines"),
    cues: Path = typer.Option(
        None, "--cues", help="Error log of the assistant_backchannel eval set: the cue-success row from it"
    ),
) -> None:
    """Turn-taking success, stop precision/recall/F1, early stops and latencies, beside two rule baselines."""
    from datagen.train.judging.score import format_result, score_log

    for log in (error_log, cues):
        if log is not None and not log.is_file():
            fail(f"no error log at {log}")
    target = out or error_log.with_suffix(".score.json")
    try:
        res = score_log(error_log, target, corpus=corpus, baselines=not no_baselines, cues=cues)
    except ValueError as e:
        fail(str(e))
    typer.echo(format_result(res))
    typer.echo(f"\nwritten: {target}")


@train_app.command()
def dpo(
    config: Path = typer.Argument(
        ..., help="Trainer config with a `dpo:` block (recipes/train/tiny_cpu_dpo.yaml)"
    ),
    set_: list[str] = SET,
    fresh: bool = FRESH,
    stop_after: int = STOP_AFTER,
) -> None:
    """DPO on preference pairs from `datagen dpo`, keeping an SFT subset. Rerun to resume."""
    _train("dpo", config, set_, fresh, stop_after)


def _mix(text: str | None) -> dict[str, float]:
    from datagen.train.preference.simulate import MISTAKES

    if not text:
        return {m: 1.0 for m in MISTAKES}
    out = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        out[name.strip()] = float(weight or 1.0)
    return out


def dpo_pairs(
    error_log: Path = typer.Argument(
        None, help="An error log (any model's, docs/error_log.md); omit with --simulate"
    ),
    corpus: list[str] = typer.Option(
        ..., "--corpus", help="Corpus folder(s) holding the dialogues (repeatable)"
    ),
    out: Path = typer.Option(
        ..., "--out", help="Folder to write pairs.jsonl, sft.jsonl, trl.jsonl, stats.json"
    ),
    per_category: int = typer.Option(None, "--per-category", help="Cap on pairs per error category"),
    categories: str = typer.Option(
        None, "--categories", help="Only pairs of these error categories, comma-separated (default: all)"
    ),
    simulate: bool = typer.Option(
        False, "--simulate", help="No model yet: make rejected tracks from the corpus"
    ),
    balance_directions: str = typer.Option(
        None,
        "--balance-directions",
        help="As many 'stop' as 'go on' pairs; the scarcer side filled with anchors from the model's "
        "own right decisions in the log ('own') or with mistakes simulated from the corpus ('simulate')",
    ),
    turn_anchors: int = typer.Option(
        0,
        "--turn-anchors",
        min=0,
        help="N more pairs from the model's own timely turns (chosen: it speaks; rejected: silent), "
        "so that pairs saying 'wait' or 'go on' do not take its turn-taking away",
    ),
    mix: str = typer.Option(
        None, "--mix", help="Simulated mistakes and weights, e.g. ignore_barge_in=2,early_stop=1"
    ),
    late_by: int = typer.Option(6, "--late-by", help="Blocks a simulated late reaction comes after gold"),
    backbone: str = typer.Option(
        None, "--backbone", help="Backbone folder holding the corpus tokenizer (hf:...)"
    ),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """DPO pairs from a stage-2 model's error log (or simulated errors), balanced over error categories."""
    from datagen.train.preference.dpo_data import build
    from datagen.train.training.vocab import TokenizerMismatch

    if not simulate and (error_log is None or not error_log.is_file()):
        fail(f"no error log at {error_log} (or pass --simulate to make errors from the corpus)")
    try:
        stats = build(
            None if simulate else error_log,
            corpus,
            out,
            per_category=per_category,
            seed=seed,
            simulate_mix=_mix(mix) if simulate else None,
            late_by=late_by,
            backbone_path=backbone,
            categories=categories.split(",") if categories else None,
            balance_directions=balance_directions,
            turn_anchors=turn_anchors,
        )
    except (TokenizerMismatch, FileNotFoundError, ValueError) as e:
        fail(str(e))
    cats = ", ".join(f"{k} {v}" for k, v in stats["pairs_by_category"].items())
    ways = ", ".join(f"{k} {v}" for k, v in sorted(stats["pairs_by_direction"].items()))
    topped = stats.get("directions_topped_up") or {"added": 0}
    turns = stats.get("turn_anchors") or {"added": 0}
    logged = stats["pairs"] - topped["added"] - turns["added"]
    typer.echo(
        f"{stats['pairs']} pairs ({cats}; {ways}) + {stats['sft_samples']} SFT dialogues -> {out}\n"
        f"{stats['lines']} logged lines = {logged} pairs + {stats['rejected']} rejected "
        f"{stats['rejected_by_reason']} + {stats['without_error']} without an error"
    )
    if topped["added"]:
        typer.echo(
            f"+ {topped['added']} '{topped['direction']}' pairs ({topped['from']}) to even the "
            f"directions ({topped['needed']} needed)"
        )
    if stats.get("turn_anchors"):
        typer.echo(f"+ {turns['added']} 'speak' anchors of timely turns ({turns['asked']} asked)")


@train_app.command()
def compare(
    before: Path = typer.Argument(..., help="Error log of the model before (e.g. after SFT)"),
    after: Path = typer.Argument(..., help="Error log of the model after (e.g. after DPO), same dialogues"),
    out: Path = typer.Option(..., "--out", help="Folder for report.md, compare.png, compare.json"),
    cues_before: Path = typer.Option(
        None, "--cues-before", help="Before's log of the assistant_backchannel set"
    ),
    cues_after: Path = typer.Option(None, "--cues-after", help="After's log of the same set"),
) -> None:
    """One before/after table and plot of two error logs over the same evaluation sets."""
    from datagen.train.judging.compare import compare as run_compare

    if (cues_before is None) != (cues_after is None):
        fail("--cues-before and --cues-after go together")
    try:
        res = run_compare(before, after, out, cues=(cues_before, cues_after) if cues_before else None)
    except (FileNotFoundError, ValueError) as e:
        fail(str(e))
    typer.echo(res["table"] + f"\n\nwritten: {res['report']}")


@train_app.command()
def runs(
    loops: list[Path] = typer.Argument(
        ..., help="`make loop` folders, one per seed (each with compare.json)"
    ),
    out: Path = typer.Option(..., "--out", help="Folder for runs.md, runs.json and runs.png"),
    name: list[str] = typer.Option(
        None, "--name", help="A label for each run in runs.png, in order (default: folder names)"
    ),
) -> None:
    """Run after run: before/after DPO per seed, the spread of each change, and the bar per seed."""
    from datagen.train.judging.runs import runs as run_runs

    if name and len(name) != len(loops):
        fail(f"--name given {len(name)} times for {len(loops)} runs")
    try:
        res = run_runs(loops, out, name or None)
    except (FileNotFoundError, KeyError) as e:
        fail(str(e))
    typer.echo(res["table"] + f"\nwritten: {res['report']}")


@train_app.command()
def select(
    run: Path = typer.Argument(..., help="A DPO run folder (its kept checkpoints are the candidates)"),
    dev: list[str] = typer.Option(..., "--dev", help="Held-out dev corpus (recipes/dpo_dev.yaml)"),
    out: Path = typer.Option(None, "--out", help="Logs, select.md and model/ (default RUN/select)"),
    threads: int = typer.Option(None, "--threads", min=1, help="torch CPU threads while it streams"),
) -> None:
    """Choose a DPO run's checkpoint (or its SFT model) on a dev set; copy it to OUT/model."""
    from datagen.train.preference.select import select as run_select
    from datagen.train.training.vocab import TokenizerMismatch

    try:
        res = run_select(run, dev, out, threads=threads)
    except (TokenizerMismatch, FileNotFoundError, ValueError) as e:
        fail(str(e))
    typer.echo(res["table"] + f"\nchosen: step {res['chosen_step']} -> {res['model']}")


@train_app.command()
def sweep(
    run: Path = typer.Argument(..., help="The SFT run (or checkpoint) DPO starts from"),
    pool: str = typer.Option(..., "--pool", help="Held-out training pool (recipes/dpo_pool_large.yaml)"),
    eval_: list[str] = typer.Option(..., "--eval", help="Evaluation corpus folder (repeatable)"),
    cues: str = typer.Option(None, "--cues", help="The assistant_backchannel eval set, for cue success"),
    pairs: list[int] = typer.Option(..., "--pairs", help="Number of pairs (repeatable): 32 100 ..."),
    source: list[str] = typer.Option(..., "--source", help="own, simulate or mixed (repeatable)"),
    out: Path = typer.Option(..., "--out", help="Folder for every run, sweep.md and sweep.json"),
    seed: int = typer.Option(0, "--seed", help="Seed of the pair draw and of DPO"),
    recipe: Path = typer.Option(Path("recipes/train/tiny_cpu_dpo.yaml"), "--recipe", help="DPO recipe"),
    set_: list[str] = SET,
) -> None:
    """DPO's figures against the number of pairs and their source (own / simulated / mixed)."""
    from datagen.train.preference.sweep import sweep as run_sweep
    from datagen.train.training.vocab import TokenizerMismatch

    try:
        res = run_sweep(run, pool, eval_, out, pairs, source, cues, seed, recipe, set_)
    except (TokenizerMismatch, FileNotFoundError, ValueError) as e:
        fail(str(e))
    typer.echo(res["table"] + f"\nwritten: {res['report']}")


def errors_from_audio_cmd(
    from_audio: Path = typer.Option(
        ...,
        "--from-audio",
        help="A model's output WAVs: <cut_id>.wav, <cut_id>/output.wav or an FDB export",
    ),
    eval_: list[str] = typer.Option(..., "--eval", help="Evaluation corpus folder (repeatable)"),
    out: Path = typer.Option(None, "--out", help="Error log to write (default: DIR/errors.jsonl)"),
    name: str = typer.Option(None, "--name", help="The model's name in the log (default: DIR)"),
    dnsmos: int = typer.Option(
        0,
        "--dnsmos",
        help="DNSMOS of the model's speech in N dialogues (a fixed sample; 1-5 s of CPU per answer); 0: none",
    ),
) -> None:
    """Error log of any model from its output audio (silero-vad -> speak/stop decisions)."""
    from datagen.train.streaming.from_audio import errors_from_audio

    target = out or from_audio / "errors.jsonl"
    try:
        res = errors_from_audio(from_audio, eval_, target, name=name, dnsmos=dnsmos)
    except (FileNotFoundError, ValueError) as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    cats = ", ".join(f"{k} {v}" for k, v in sorted(res["categories"].items()))
    rej = ", ".join(f"{k} {v}" for k, v in sorted(res["rejects_by_reason"].items())) or "none"
    typer.echo(
        f"{res['dialogues']} dialogues -> {res['out']} (error categories: {cats})\n"
        f"{res['rejected']} rejected ({rej}) -> {res['rejects']}"
        + (
            f"\nDNSMOS of the speech in {res['dnsmos_dialogues']} dialogues"
            if res["dnsmos_dialogues"]
            else ""
        )
    )
