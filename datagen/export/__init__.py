"""Exports: a corpus in the layouts other duplex tools read unchanged (docs/exports.md).

`export(src, fmt, out)` streams the corpus cut by cut into one format's
`Exporter` (begin / add per cut / end), inside an `OutputFolder` that appears
only when the export is whole. A format is one module with one `Exporter`
class, so adding one touches nothing else.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from datagen.export.common import ExportError, ExportProgress, OutputFolder, count_cuts, read_export_cuts

__all__ = ["FORMATS", "ExportError", "export"]

FORMATS = {
    "nemo": "datagen.export.nemo",
    "moshi": "datagen.export.moshi",
    "fdb": "datagen.export.fdb",
    "hf": "datagen.export.hf",
}


def export(src: Path, fmt: str, out: Path, force: bool = False, quiet: bool = False, **options) -> dict:
    """Export the corpus at `src` as `fmt` into `out`; returns the exporter's summary."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {sorted(FORMATS)}")
    src = Path(src)
    if not src.is_dir():
        raise ExportError(f"{src} is not a folder")
    exporter = importlib.import_module(FORMATS[fmt]).Exporter(src, **options)
    total = count_cuts(src)
    with OutputFolder(Path(out), force) as tmp:
        exporter.begin(tmp)
        progress = ExportProgress(fmt, total, quiet)
        for cut in read_export_cuts(src):
            exporter.add(cut)
            progress.tick(cut)
        summary = exporter.end()
    summary = {"format": fmt, "source": str(src), "out": str(out), "cuts": progress.n, **summary}
    return summary
