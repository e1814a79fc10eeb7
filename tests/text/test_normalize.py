"""Exact outputs of the cleaner and the spoken-form normaliser."""

from __future__ import annotations

import pytest

from datagen.text.normalize import (
    clean_text,
    is_probably_english,
    normalize_for_tts,
    number_to_words,
    ordinal_to_words,
    text_problem,
    to_spoken,
    year_to_words,
)


@pytest.mark.parametrize(
    "n, words",
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (42, "forty-two"),
        (100, "one hundred"),
        (101, "one hundred one"),
        (999, "nine hundred ninety-nine"),
        (1000, "one thousand"),
        (1001, "one thousand one"),
        (12345, "twelve thousand three hundred forty-five"),
        (1_000_000, "one million"),
        (2_000_300_004, "two billion three hundred thousand four"),
        (-15, "minus fifteen"),
    ],
)
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_huge_numbers_are_read_digit_by_digit():
    assert number_to_words(10**22) == " ".join(["one"] + ["zero"] * 22)


@pytest.mark.parametrize(
    "n, words",
    [
        (1, "first"),
        (2, "second"),
        (3, "third"),
        (4, "fourth"),
        (5, "fifth"),
        (8, "eighth"),
        (9, "ninth"),
        (12, "twelfth"),
        (20, "twentieth"),
        (21, "twenty-first"),
        (100, "one hundredth"),
        (112, "one hundred twelfth"),
    ],
)
def test_ordinals(n, words):
    assert ordinal_to_words(n) == words


@pytest.mark.parametrize(
    "year, words",
    [
        (1969, "nineteen sixty-nine"),
        (1905, "nineteen oh five"),
        (1900, "nineteen hundred"),
        (1492, "fourteen ninety-two"),
        (2000, "two thousand"),
        (2005, "two thousand five"),
        (2024, "twenty twenty-four"),
    ],
)
def test_years(year, words):
    assert year_to_words(year) == words


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("In 1969 we landed.", "In nineteen sixty-nine we landed."),
        ("It was 2005.", "It was two thousand five."),
        ("There are 1,234 birds.", "There are one thousand two hundred thirty-four birds."),
        ("Pi is 3.14.", "Pi is three point one four."),
        ("It fell to -7 overnight.", "It fell to minus seven overnight."),
        ("the 1st, 2nd, 3rd and 21st", "the first, second, third and twenty-first"),
        ("About 50% of them", "About fifty percent of them"),
        ("down -2.5%", "down minus two point five percent"),
        ("It costs $3.50.", "It costs three dollars and fifty cents."),
        ("It costs $1.", "It costs one dollar."),
        ("Only $0.99 today", "Only ninety-nine cents today"),
        ("a $2.5 million deal", "a two point five million dollars deal"),
        ("Water boils at 100°C.", "Water boils at one hundred degrees Celsius."),
        ("It is -5 °F outside", "It is minus five degrees Fahrenheit outside"),
        ("Just 1°C warmer", "Just one degree Celsius warmer"),
        ("Ask Dr. Smith.", "Ask Doctor Smith."),
        ("fruit, e.g. apples", "fruit, for example, apples"),
        ("the capital, i.e. Paris", "the capital, that is, Paris"),
        ("cats, dogs, etc.", "cats, dogs, et cetera."),
        ("Meet at 3:30 or 10:00.", "Meet at three thirty or ten o'clock."),
        ("Run 5 km, then 1 km.", "Run five kilometers, then one kilometer."),
        ("from 1990-1995", "from nineteen ninety to nineteen ninety-five"),
        ("Temps of 20-25°C", "Temps of twenty to twenty-five degrees Celsius"),
        ("$5-$10", "five dollars to ten dollars"),
        ("2 + 2 = 4", "two plus two equals four"),
        ("pick 1,2,3", "pick one, two, three"),
        ("COVID-19 in 2020", "COVID-nineteen in twenty twenty"),
        ("A 3rd-party tool", "A third-party tool"),
        ("Agent 007", "Agent zero zero seven"),
        ("salt & pepper", "salt and pepper"),
        ("No digits here.", "No digits here."),
    ],
)
def test_to_spoken(text, spoken):
    assert to_spoken(text) == spoken


@pytest.mark.parametrize(
    "text, cleaned",
    [
        ("  Hello \n\n  world\t!  ", "Hello world!"),
        ("He\x00llo\x07 there\u200b", "Hello there"),
        ("**Bold** and *italic* and __under__", "Bold and italic and under"),
        ("See [the docs](https://example.com/x) now", "See the docs now"),
        ("Visit https://example.com/a?b=1 or www.example.org today", "Visit or today"),
        ("Great job 😀👍🏽!", "Great job!"),
        ("Flags 🇫🇷 and family 👨‍👩‍👧 gone", "Flags and family gone"),
        ("Use `ls -l` here", "Use ls -l here"),
        ("# Title\n- first item\n* second item\n1. third", "Title first item second item third"),
        ("Paris (the capital) is big [1].", "Paris is big."),
        ("Nested (a (b) c) end.", "Nested end."),
        ("<b>bold</b> and ~~struck~~", "bold and struck"),
        ("cafe\u0301", "caf\u00e9"),  # NFC composes the accent
    ],
)
def test_clean_text(text, cleaned):
    assert clean_text(text) == cleaned


def test_clean_text_keeps_degree_sign_for_to_spoken():
    assert normalize_for_tts("**It is 20°C** (warm) 🌞") == "It is twenty degrees Celsius"


def test_normalize_for_tts_composes_both():
    assert normalize_for_tts("In *1969*, [citation] 3 astronauts flew.") == (
        "In nineteen sixty-nine, three astronauts flew."
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("What is the capital of France?", True),
        ("Où est la gare?", True),  # Latin script: passes (a script check, not language id)
        ("Как дела?", False),
        ("北京是中国的首都吗", False),
        ("Is 北京是中国的首都吗 big?", False),
        ("1234", False),
    ],
)
def test_is_probably_english(text, expected):
    assert is_probably_english(text) is expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty_text"),
        ("   \n\t", "empty_text"),
        ("What is \ufffd this?", "invalid_text"),
        ("Lone \ud800 surrogate", "invalid_text"),
        ("😀😀 🎉", "invalid_text"),
        ("**  **", "invalid_text"),
        ("x" * 301, "too_long"),
        ("Что такое Москва?", "non_english"),
        ("Quelle est la capitale de la France ?", "non_english"),
        ("Wie hoch ist der Mount Everest?", "non_english"),
        ("¿Quién escribió Don Quijote?", "non_english"),
        ("Qual è il fiume più lungo d'Italia?", "non_english"),
        ("https://example.com/q?id=3", "invalid_text"),
        ("Click here: https://x.io", "meaningless_after_cleaning"),
        ('<a href="https://x.io">link</a>', "meaningless_after_cleaning"),
        ("What is the capital of France?", None),
        ("Who wrote Don Quixote?", None),
        ("Who is Angela Merkel?", None),
        ("Where is the Eiffel Tower in Paris?", None),
        ("Visit https://x.io **now**: what is H2O called?", None),
        ("What **is** this? https://x.y/z", None),
    ],
)
def test_text_problem(text, reason):
    assert text_problem(text, max_chars=300) == reason


def test_too_long_counts_cleaned_text():
    # Markup does not count against the limit; what is spoken does.
    assert text_problem("**" + "a" * 20 + "**", max_chars=20) is None
    assert text_problem("a" * 21, max_chars=20) == "too_long"
