"""Text cleaning and spoken-form normalisation.

Everything that reaches a TTS engine or a label track passes through here:
question sets carry markup, URLs and emoji, and LLM answers carry markdown and
digits. TTS engines read "**1969**" or "$3.50" differently (or not at all), and
the label track would then disagree with the audio. So we clean first
(`clean_text`), then spell numbers and symbols as words (`to_spoken`).

The number speller is our own (no GPL/LGPL dependency such as num2words or
inflect may enter the core install). It follows American usage without "and"
("one hundred twenty-three") because that is what espeak and Piper say too.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "clean_text",
    "is_probably_english",
    "normalize_for_tts",
    "number_to_words",
    "ordinal_to_words",
    "text_problem",
    "to_spoken",
    "year_to_words",
]

# ---------------------------------------------------------------- cleaning

_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, flags, symbols & pictographs ext.
    "\u2600-\u27bf"  # misc symbols and dingbats
    "\u2b00-\u2bff"  # arrows and stars (e.g. the star emoji)
    "\u2300-\u23ff"  # watch, hourglass, keyboard
    "\ufe00-\ufe0f"  # variation selectors
    "\u200d"  # zero-width joiner inside emoji sequences
    "\u20e3"  # keycap
    "\U000e0020-\U000e007f"  # tag characters (subdivision flags)
    "\u3030\u303d\u3297\u3299"
    "]+"
)
_HTML_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_CODE_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC_STAR = re.compile(r"\*(?=\S)([^*]+?)(?<=\S)\*")
_ITALIC_UNDER = re.compile(r"(?<!\w)_(?=\S)([^_]+?)(?<=\S)_(?!\w)")
_STRIKE = re.compile(r"~~(.+?)~~")
_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+\u2022]\s+|\d{1,3}[.)]\s+)")
_RULE = re.compile(r"^\s*([-*_=])\1{2,}\s*$")
_PAREN = re.compile(r"\s*\([^()]*\)")
_BRACKET = re.compile(r"\s*\[[^\[\]]*\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:!?])")
_REPEATED_PUNCT = re.compile(r"([,;:])\s*(?=[,;:.!?])")


def _strip_controls(s: str) -> str:
    """Drop control (Cc) and invisible format (Cf) characters; keep line breaks
    and tabs as spaces so words on either side stay apart."""
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch in "\n\r\t":
            out.append("\n" if ch != "\t" else " ")
        elif cat in ("Cc", "Cf") and ch != "\u200d":
            continue
        else:
            out.append(ch)
    return "".join(out)


def _strip_line_markup(s: str) -> str:
    lines = []
    for line in s.split("\n"):
        if _RULE.match(line):
            continue
        lines.append(_LINE_MARKUP.sub("", line, count=1))
    return "\n".join(lines)


def _remove_nested(pattern: re.Pattern[str], s: str) -> str:
    """Remove innermost groups until none are left, so nested ones go too."""
    while True:
        new = pattern.sub("", s)
        if new == s:
            return s
        s = new


def clean_text(s: str) -> str:
    """Remove what a listener would never hear: markup, links, emoji, asides.

    Parentheticals and bracketed notes are dropped rather than read: in QA sets
    and LLM output they hold citations, pronunciations or alternative spellings
    that sound wrong when spoken in the middle of a sentence.
    """
    s = unicodedata.normalize("NFC", s)
    s = _strip_controls(s)
    s = _CODE_FENCE.sub(lambda m: m.group(1), s)
    s = _strip_line_markup(s)
    s = _HTML_TAG.sub(" ", s)
    s = _MD_IMAGE.sub("", s)
    s = _MD_LINK.sub(lambda m: m.group(1), s)
    s = _URL.sub("", s)
    s = _EMOJI.sub("", s)
    s = _INLINE_CODE.sub(lambda m: m.group(1), s)
    s = _BOLD.sub(lambda m: m.group(2), s)
    s = _STRIKE.sub(lambda m: m.group(1), s)
    s = _ITALIC_STAR.sub(lambda m: m.group(1), s)
    s = _ITALIC_UNDER.sub(lambda m: m.group(1), s)
    s = _remove_nested(_PAREN, s)
    s = _remove_nested(_BRACKET, s)
    s = re.sub(r"[*#`\[\]()<>{}|\\^]", " ", s)
    s = " ".join(s.split())
    s = _SPACE_BEFORE_PUNCT.sub(r"\1", s)
    s = _REPEATED_PUNCT.sub("", s)
    return s.strip()


# ---------------------------------------------------------------- numbers

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion")
_ORDINAL_IRREGULAR = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}


def _below_thousand(n: int) -> str:
    words = []
    if n >= 100:
        words.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not words:
        words.append(_ONES[n])
    return " ".join(words)


def number_to_words(n: int) -> str:
    """Cardinal words for an integer; digits beyond the quintillions are read
    one by one because nobody says those numbers as words."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n == 0:
        return "zero"
    if n >= 1000 ** len(_SCALES):
        return " ".join(_ONES[int(d)] for d in str(n))
    parts = []
    for scale in _SCALES:
        n, chunk = divmod(n, 1000)
        if chunk:
            parts.append(_below_thousand(chunk) + (f" {scale}" if scale else ""))
        if not n:
            break
    return " ".join(reversed(parts))


def ordinal_to_words(n: int) -> str:
    """ "21" -> "twenty-first": only the last word of the cardinal changes."""
    words = number_to_words(n)
    head, sep, last = words.rpartition(" ")
    pre, hyphen, last = last.rpartition("-")
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + pre + hyphen + last


def year_to_words(y: int) -> str:
    """Years the way people say them: 1969 "nineteen sixty-nine", 1905
    "nineteen oh five", 1900 "nineteen hundred", 2005 "two thousand five",
    2024 "twenty twenty-four"."""
    if 2000 <= y <= 2009 or y % 1000 == 0:
        return number_to_words(y)
    hi, lo = divmod(y, 100)
    if lo == 0:
        return f"{number_to_words(hi)} hundred"
    if lo < 10:
        return f"{number_to_words(hi)} oh {_ONES[lo]}"
    return f"{number_to_words(hi)} {number_to_words(lo)}"


def _digits(s: str) -> str:
    return " ".join(_ONES[int(d)] for d in s)


def _int_words(digits: str) -> str:
    digits = digits.replace(",", "")
    if len(digits) > 1 and digits.startswith("0"):
        return _digits(digits)  # codes such as 007 are read digit by digit
    return number_to_words(int(digits))


def _decimal_words(int_part: str, frac: str | None) -> str:
    words = _int_words(int_part)
    return f"{words} point {_digits(frac)}" if frac else words


_NUM = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?"

# ---------------------------------------------------------------- to_spoken

_ABBREVIATIONS = [
    (re.compile(r"\be\.\s?g\.,?", re.IGNORECASE), "for example,"),
    (re.compile(r"\bi\.\s?e\.,?", re.IGNORECASE), "that is,"),
    (re.compile(r"\betc\.(?=\s*$|\s+[A-Z])"), "et cetera."),
    (re.compile(r"\betc\."), "et cetera"),
    (re.compile(r"\bvs\.?(?=\s)", re.IGNORECASE), "versus"),
    (re.compile(r"\bapprox\.", re.IGNORECASE), "approximately"),
    (re.compile(r"\bDr\.(?=\s+[A-Z])"), "Doctor"),
    (re.compile(r"\bMrs\.(?=\s+[A-Z])"), "Missus"),
    (re.compile(r"\bMr\.(?=\s+[A-Z])"), "Mister"),
    (re.compile(r"\bMs\.(?=\s+[A-Z])"), "Miz"),
    (re.compile(r"\bProf\.(?=\s+[A-Z])"), "Professor"),
    (re.compile(r"\bSt\.(?=\s+[A-Z])"), "Saint"),
    (re.compile(r"\bNo\.(?=\s*\d)"), "number"),
    (re.compile(r"\b([aApP])\.[mM]\.(?=\s*$|\s+[A-Z])"), lambda m: f"{m.group(1).lower()} m."),
    (re.compile(r"\b([aApP])\.[mM]\."), lambda m: f"{m.group(1).lower()} m"),
    (re.compile(r"\s*&\s*"), " and "),
]

_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents")}  # fmt: skip
_MONEY = re.compile(r"([$£€])\s?" + _NUM + r"(?:\s+(thousand|million|billion|trillion)\b)?")
_TEMP = re.compile(r"(?<![\w.])(-|−)?" + _NUM + r"\s?°\s?([CF])\b")
_DEGREES = re.compile(r"(?<![\w.])(-|−)?" + _NUM + r"\s?°")
_PERCENT = re.compile(r"(?<![\w.])(-|−)?" + _NUM + r"\s?%")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b", re.IGNORECASE)
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
_RANGE = re.compile(r"(?<=\d)\s?[-–]\s?(?=[$£€]?\d)")
_PLUS = re.compile(r"(?<=\d)\s?\+\s?(?=\d)")
_EQUALS = re.compile(r"\s=\s")
_NUMBER = re.compile(r"(?<![\w.])(-|−)?" + _NUM + r"(?![\d])")

# unit -> (singular, plural); matched only right after a number
_UNITS = {
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "mph": ("mile per hour", "miles per hour"),
    "km": ("kilometer", "kilometers"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "kg": ("kilogram", "kilograms"),
    "mg": ("milligram", "milligrams"),
    "ml": ("milliliter", "milliliters"),
    "lbs": ("pound", "pounds"),
    "lb": ("pound", "pounds"),
    "ft": ("foot", "feet"),
}
_UNIT = re.compile(r"(?<![\w.])" + _NUM + r"\s?(" + "|".join(re.escape(u) for u in _UNITS) + r")\b")


def _signed(sign: str | None, int_part: str, frac: str | None) -> str:
    words = _decimal_words(int_part, frac)
    return f"minus {words}" if sign else words


def _is_one(int_part: str, frac: str | None) -> bool:
    return int_part == "1" and not frac


def _money(m: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[m.group(1)]
    int_part, frac, scale = m.group(2), m.group(3), m.group(4)
    if scale:
        return f"{_decimal_words(int_part, frac)} {scale} {many}"
    if frac and len(frac) > 2:
        return f"{_decimal_words(int_part, frac)} {many}"
    main = int(int_part.replace(",", ""))
    cents = int(frac.ljust(2, "0")) if frac else 0
    parts = []
    if main or not cents:
        parts.append(f"{number_to_words(main)} {one if main == 1 else many}")
    if cents:
        parts.append(f"{number_to_words(cents)} {sub_one if cents == 1 else sub_many}")
    return " and ".join(parts)


def _temperature(m: re.Match[str]) -> str:
    scale = "Celsius" if m.group(4) == "C" else "Fahrenheit"
    unit = "degree" if _is_one(m.group(2), m.group(3)) and not m.group(1) else "degrees"
    return f"{_signed(m.group(1), m.group(2), m.group(3))} {unit} {scale}"


def _degrees(m: re.Match[str]) -> str:
    unit = "degree" if _is_one(m.group(2), m.group(3)) and not m.group(1) else "degrees"
    return f"{_signed(m.group(1), m.group(2), m.group(3))} {unit}"


def _unit(m: re.Match[str]) -> str:
    one, many = _UNITS[m.group(3)]
    return f"{_decimal_words(m.group(1), m.group(2))} {one if _is_one(m.group(1), m.group(2)) else many}"


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    if minute == 0:
        return f"{number_to_words(hour)} o'clock"
    if minute < 10:
        return f"{number_to_words(hour)} oh {_ONES[minute]}"
    return f"{number_to_words(hour)} {number_to_words(minute)}"


def _number(m: re.Match[str]) -> str:
    sign, int_part, frac = m.group(1), m.group(2), m.group(3)
    if not sign and not frac and len(int_part) == 4 and 1100 <= int(int_part) <= 2099:
        return year_to_words(int(int_part))
    return _signed(sign, int_part, frac)


def to_spoken(s: str) -> str:
    """Write numbers, symbols and abbreviations as the words a speaker says.

    Order matters: abbreviations first ("e.g." holds dots that look like
    decimals), then ranges ("20-25" must not become "20 minus 25"), then
    forms whose meaning depends on a symbol next to the
    number (money, temperature, percent, units, ordinals, clock times), and
    plain numbers last. A bare four-digit number from 1100 to 2099 is read as
    a year, the common case in QA text.
    """
    for pattern, repl in _ABBREVIATIONS:
        s = pattern.sub(repl, s)
    s = _RANGE.sub(" to ", s)  # before signs and units: "20-25°C" is a range, not minus 25
    s = _PLUS.sub(" plus ", _EQUALS.sub(" equals ", s))
    s = _MONEY.sub(_money, s)
    s = _TEMP.sub(_temperature, s)
    s = _DEGREES.sub(_degrees, s)
    s = _PERCENT.sub(lambda m: f"{_signed(m.group(1), m.group(2), m.group(3))} percent", s)
    s = _UNIT.sub(_unit, s)
    s = _ORDINAL.sub(lambda m: ordinal_to_words(int(m.group(1))), s)
    s = _TIME.sub(_time, s)
    s = _NUMBER.sub(_number, s)
    s = s.replace("°", " degrees").replace("%", " percent")
    s = re.sub(r",(?=[^\s\d])", ", ", s)  # "1,2,3" became "one,two,three"
    return " ".join(s.split())


def normalize_for_tts(s: str) -> str:
    """The one call stages make before TTS or tokenisation."""
    return to_spoken(clean_text(s))


# ---------------------------------------------------------------- checks


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
