"""The bundled trainer: train a SALMONN-omni-shaped duplex model on the corpus, stream it,
judge its mistakes, turn them into DPO pairs and train on those (docs/trainer.md).

It reads only the corpus format (Lhotse Shar, the label track, `label_meta`) and never
imports the pipeline (datagen.stages, executors, backends), so a corpus from anywhere in
that format trains the same. Its rooms, each importing only those listed before it, so
no import runs back up (tests/train/test_layout.py holds this):

1. `common`     the trainer's config schema and token-track arithmetic;
2. `training`   the corpus as batches, features, the model, SFT loop, checkpoints;
3. `judging`    the judge, the error-log format, scoring beside rule baselines;
4. `streaming`  block-by-block inference of a checkpoint, writing error logs;
5. `preference` DPO pairs (own errors or simulated ones) and DPO training;

and `cli.py`, the `datagen train ...`, `datagen score` and `datagen dpo` commands, over all.
"""
