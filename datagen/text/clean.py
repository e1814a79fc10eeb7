"""Cleaning: remove from a text what a listener would never hear.

Question sets carry markup, URLs and emoji, and LLM answers carry markdown;
a TTS engine reads "**1969**" or a link differently (or not at all), and the
label track would then disagree with the audio. `clean_text` is the first
half of `normalize.normalize_for_tts`; the second, spelling numbers and
symbols as words, is `spoken.to_spoken`.
"""

from __future__ import annotations

import re
import unicodedata

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
