"""Text cleaning and spoken-form normalisation: the one call stages make, and the names they import.

Everything that reaches a TTS engine or a label track passes through here:
question sets carry markup, URLs and emoji, and LLM answers carry markdown and
digits. TTS engines read "**1969**" or "$3.50" differently (or not at all), and
the label track would then disagree with the audio. So we clean first
(`clean_text`, in `clean`), then spell numbers and symbols as words
(`to_spoken`, in `spoken`); `checks` says why a text cannot be voiced. This
module hands their names on, so callers keep one import path.
"""

from __future__ import annotations

from datagen.text.checks import identified_language, is_english, is_probably_english, text_problem
from datagen.text.clean import clean_text
from datagen.text.spoken import number_to_words, ordinal_to_words, to_spoken, year_to_words

__all__ = [
    "clean_text",
    "identified_language",
    "is_english",
    "is_probably_english",
    "normalize_for_tts",
    "number_to_words",
    "ordinal_to_words",
    "text_problem",
    "to_spoken",
    "year_to_words",
]


def normalize_for_tts(s: str) -> str:
    """The one call stages make before TTS or tokenisation."""
    return to_spoken(clean_text(s))
