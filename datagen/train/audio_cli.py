"""`datagen errors --from-audio DIR --eval SET`: the command line of datagen/train/from_audio.py."""

from __future__ import annotations

from pathlib import Path

import typer


def errors_from_audio_cmd(
    from_audio: Path = typer.Option(
        ...,
        "--from-audio",
        help="A model's output WAVs: <cut_id>.wav, <cut_id>/output.wav or an FDB export",
    ),
    eval_: list[str] = typer.Option(..., "--eval", help="Evaluation corpus folder (repeatable)"),
    out: Path = typer.Option(None, "--out", help="Error log to write (default: DIR/errors.jsonl)"),
    name: str = typer.Option(None, "--name", help="The model's name in the log (default: DIR)"),
) -> None:
    """Error log of any model from its output audio (silero-vad -> speak/stop decisions)."""
    from datagen.train.from_audio import errors_from_audio

    target = out or from_audio / "errors.jsonl"
    try:
        res = errors_from_audio(from_audio, eval_, target, name=name)
    except (FileNotFoundError, ValueError) as e:
        typer.secho(f"error: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    cats = ", ".join(f"{k} {v}" for k, v in sorted(res["categories"].items()))
    rej = ", ".join(f"{k} {v}" for k, v in sorted(res["rejects_by_reason"].items())) or "none"
    typer.echo(
        f"{res['dialogues']} dialogues -> {res['out']} (error categories: {cats})\n"
        f"{res['rejected']} rejected ({rej}) -> {res['rejects']}"
    )
