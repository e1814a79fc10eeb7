"""Preference pairs and DPO: a judged mistake turned into a (chosen, rejected) pair
(`pairs`), mistakes simulated from the corpus alone (`simulate`), the pair set built
from an error log (`dpo_data`) and DPO training on it (`dpo`). The top room: imports
all the others, none imports it."""
