"""Fixtures the export tests share."""

import pytest

from datagen.export import export
from datagen.export.common import read_export_cuts


@pytest.fixture(scope="module")
def source(local_corpus):
    """The session corpus as the exporters read it: {cut id: ExportCut}."""
    return {c.id: c for c in read_export_cuts(local_corpus)}


@pytest.fixture(scope="session")
def fdb10(local_corpus, tmp_path_factory):
    """The session corpus as an FDB v1.0 export (folder, summary), shared: echo cancellation
    makes each export cost seconds per echo dialogue."""
    out = tmp_path_factory.mktemp("fdb") / "fdb1"
    return out, export(local_corpus, "fdb", out, quiet=True, version="1.0")


@pytest.fixture(scope="session")
def fdb15(local_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("fdb") / "fdb15"
    return out, export(local_corpus, "fdb", out, quiet=True, version="1.5")
