"""Spoken form: numbers, symbols and abbreviations written as the words a speaker says.

A TTS engine reads "$3.50" or "20-25°C" in its own way or not at all, and the
label track must hold the words the audio says, so both get the text after
`to_spoken`. The number speller is our own (no GPL/LGPL dependency such as
num2words or inflect may enter the core install). It follows American usage
without "and" ("one hundred twenty-three") because that is what espeak and
Piper say too.
"""

from __future__ import annotations

import re

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
