"""Judging and scoring: what a model did right and wrong at each gold event (`judge`,
the gold events from the corpus: `events`), the schema-checked error log that carries
it (`errlog`), and the scores of a log beside two rule baselines (`score`, `baselines`,
`compare`: before/after). Works on any model's log; imports `common` and, for a
dialogue's answers and audio, `training`."""
