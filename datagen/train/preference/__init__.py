"""Preference pairs and DPO: a judged mistake turned into a (chosen, rejected) pair
(`pairs`), mistakes simulated from the corpus alone (`simulate`), the pair set built
from an error log (`dpo_data`), DPO training on it (`dpo`), the choice of its
checkpoint on a held-out dev set (`select`) and the sweep over the number of pairs
and their source (`sweep`). The top room: imports all the others, none imports it."""
