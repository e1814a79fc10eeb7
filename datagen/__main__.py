"""`python -m datagen` is the `datagen` command."""

from datagen.cli import app

app()
