"""Training: the corpus as padded streaming batches (`data`, `features`, `augment`,
`answers`: the assistant's voice rebuilt from a token track), the model (`model`,
`vocab`), the SFT loop (`loop`, `runtime`, `plots`) and atomic, resumable checkpoints
(`checkpoint`), which DPO's policy model loads through as well. Imports only `common`."""
