"""Fixtures the export tests share."""

import pytest

from datagen.export.common import read_export_cuts


@pytest.fixture(scope="module")
def source(local_corpus):
    """The session corpus as the exporters read it: {cut id: ExportCut}."""
    return {c.id: c for c in read_export_cuts(local_corpus)}
