"""What every room of the trainer reads: its config schema (`config`: the SFT/DPO recipe,
stream and judge settings) and token-track arithmetic (`tracks`: `<shift>` blocks and the
speak spans they make). Imports nothing else of the trainer, so judging a log from any
model needs neither torch nor a checkpoint from here."""
