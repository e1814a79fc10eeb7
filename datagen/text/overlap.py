"""Content-word overlap: is one text about another?

Used to check and measure that a related question (a barge-in) asks about
what the assistant had just said, rather than repeating the user's first
question or changing the subject. Deliberately crude and model-independent:
lower-cased words minus stop words, a plural "s" dropped.
"""

from __future__ import annotations

import re

# Words that carry no topic: dropped before two texts are compared.
STOP = frozenset(
    "a an the and or but so of to in on at by for with from into about as is are was were be been it its "
    "this that these those there what which who whom whose when where why how do does did have has had i "
    "you he she we they me him her us them my your his our their not no yes very just also more most some "
    "any all can could would should will may might must than then well okay sure right really one like know "
    "think mean wait sorry hang hold tell said say exactly what's that's it's".split()
)


def content_words(text: str) -> set[str]:
    """Lower-case words minus stop words, with a plural 's' dropped."""
    words = [w.removesuffix("'s").strip("'-") for w in re.findall(r"[a-z][a-z'-]*", text.lower())]
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words if w and w not in STOP}


def overlap(question: str, said: str) -> float:
    """Share of the question's content words that occur in what was said (0 when it has none)."""
    q = content_words(question)
    return len(q & content_words(said)) / len(q) if q else 0.0
