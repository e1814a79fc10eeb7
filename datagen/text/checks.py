"""Checks on a text before it is voiced: why it cannot be, and whether it is English.

The question readers (local files, Hugging Face datasets) run `text_problem`
on every row, so one that is empty, damaged, nothing but a link, too long or
in another language becomes a reject with a reason instead of audio nobody
can use. Our TTS voices and tokenizer are English, hence the language checks.
"""

from __future__ import annotations

import unicodedata

from datagen.text.clean import clean_text


def is_probably_english(s: str, min_latin_share: float = 0.8) -> bool:
    """A cheap script check, not language identification: the share of Latin
    letters among all letters. It catches Chinese, Russian or Arabic rows in a
    mixed question set (our TTS voices and tokenizer are English); French
    written in Latin letters passes. No letters at all is not English."""
    letters = [ch for ch in s if ch.isalpha()]
    if not letters:
        return False
    latin = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("LATIN"))
    return latin / len(letters) >= min_latin_share


_LANGID = None


def identified_language(s: str) -> tuple[str, float, float]:
    """(likeliest language, its probability, English's probability) by py3langid
    (langid.py's naive Bayes model over byte n-grams, 97 languages, shipped in the
    wheel: nothing to download)."""
    global _LANGID
    if _LANGID is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _LANGID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ranked = _LANGID.rank(s)
    english = next((float(p) for lang, p in ranked if lang == "en"), 0.0)
    return ranked[0][0], float(ranked[0][1]), english


def is_english(s: str) -> bool:
    """Latin script (`is_probably_english`), and for texts of three words or more, not
    confidently another language: langid's top language is not English, has at least
    half the probability, and English has at most 5%. Conservative on purpose: short
    trivia questions full of names are easy to misjudge, and a question wrongly
    dropped costs less than French voiced by an English voice only when the model is
    sure (no bundled question is rejected; "Quelle est la capitale de la France ?" is,
    at fr 0.95)."""
    if not is_probably_english(s):
        return False
    if len(s.split()) < 3:
        return True
    top, p, english = identified_language(s)
    return not (top != "en" and p >= 0.5 and english <= 0.05)


def text_problem(s: str, max_chars: int) -> str | None:
    """Why a text cannot be voiced, or None when it can.

    Reasons: "empty_text" (nothing but whitespace), "invalid_text" (U+FFFD
    from bad UTF-8, a lone surrogate, or nothing speakable left after cleaning),
    "meaningless_after_cleaning" (URLs or markup removed, fewer than three words
    left), "too_long" (longer than max_chars once cleaned), "non_english"
    (`is_english`).
    """
    if not s or not s.strip():
        return "empty_text"
    if "\ufffd" in s or any("\ud800" <= ch <= "\udfff" for ch in s):
        return "invalid_text"  # decoding damage: a replacement char or a lone surrogate
    cleaned = clean_text(s)
    if not any(ch.isalnum() for ch in cleaned):
        return "invalid_text"
    words = [w for w in cleaned.split() if any(ch.isalpha() for ch in w)]
    if len(words) < 3 and len(s.split()) > len(cleaned.split()):
        return "meaningless_after_cleaning"  # "Click here: https://x.io" -> "Click here:"
    if len(cleaned) > max_chars:
        return "too_long"
    if not is_english(cleaned):
        return "non_english"
    return None
