"""Streaming inference: a checkpoint decoded block by block with KV caches, its own
tokens fed back and its own voice rebuilt from its decisions (`stream`), over the eval
corpora into an error log (`errors`). Imports `common`, `training`, `judging`."""
