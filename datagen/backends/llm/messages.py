"""The words each request says to a model: the system prompt and one user prompt per kind.

The prompts follow what the SALMONN-omni authors asked Llama-3 for (REFERENCE
§1): conversational, concise, spoken form, no markup, because the text ends
up in a TTS engine. Every backend is sent these same messages (the scripted
stand-in reads the request's context instead), so changing a prompt here
changes what every real model is asked.
"""

from __future__ import annotations

from typing import Any

from datagen.backends.llm.kinds import KINDS, LENGTH_WORDS, asked_words

SYSTEM_PROMPT = (
    "You write words that a voice assistant and the people around it will say out loud; "
    "a text-to-speech engine reads them. Sound like natural conversation: friendly, concise, "
    "plain sentences, never more than three hundred tokens. Write everything in spoken form: "
    "spell out numbers, dates, units and symbols as words (nineteen sixty-nine, twenty percent). "
    "No lists, headings, emojis, stage directions or markup such as *x*, [x] or (x). "
    "When asked for JSON, reply with only that JSON object."
)


_SAY_ONLY = "Reply with only the words the assistant says out loud, nothing else."


def _sentences(lo: int, hi: int) -> str:
    """A word range as a sentence count too: small models keep to sentences far better than to words."""
    return f"{max(1, round(lo / 14))} to {max(2, round(hi / 14))} full sentences"


def _qa_prompt(c: dict[str, Any]) -> str:
    lo, hi = asked_words(c, "medium")
    gold = str(c.get("answer") or "").strip()
    lines = [f"Topic: {c.get('topic') or 'general knowledge'}", f"Question: {c['question']}"]
    if gold:
        lines.append(f"Correct answer: {gold}. Build your reply around it and do not contradict it.")
    lines.append(
        f"Answer the question conversationally in {lo} to {hi} words, that is {_sentences(lo, hi)}: "
        "first the answer in a sentence of its own, then why it is so or an interesting detail, "
        "in your own words. Never reply with the bare answer alone."
    )
    if lo >= LENGTH_WORDS["long"][0]:
        lines.append("Keep talking with a little background until the reply fills the length.")
    lines.append(_SAY_ONLY)
    return "\n".join(lines)


def _dialogue_prompt(c: dict[str, Any]) -> str:
    rounds = int(c["rounds"])
    qs = list(c.get("questions") or [])
    lines = [
        f"Write a spoken conversation about {c.get('topic') or 'everyday knowledge'} between A, a user, "
        f"and B, a voice assistant. Exactly {rounds} rounds: A speaks, then B replies, so {2 * rounds} turns "
        "alternating A, B, A, B and starting with A. Every turn is real words, never a placeholder.",
        "A asks these questions in this order; after the first, A may rephrase a question so it refers "
        "back to what was already said:",
    ]
    for i, q in enumerate(qs[:rounds], 1):
        gold = str(q.get("answer") or "").strip()
        lines.append(f"{i}. {q['question']}" + (f" (correct answer: {gold})" if gold else ""))
    if len(qs) < rounds:
        lines.append("For the remaining rounds A asks natural follow-up questions on the same topic.")
    lines.append("Keep turns short: A says one sentence, B answers in one to three sentences.")
    lines.append(
        'Return JSON with one key, "turns": a list of objects, each with "speaker" ("A" or "B") '
        'and "text" (what that person says).'
    )
    return "\n".join(lines)


def _related_prompt(c: dict[str, Any]) -> str:
    return (
        f"A user and a voice assistant are talking about {c.get('topic') or 'general knowledge'}.\n"
        f'The user asked: "{c["question"]}"\n'
        f'The assistant had said this much when the user cut in: "{c.get("answer_so_far", "")}"\n'
        "Write the one short spoken question, under fifteen words, that the user interrupts with. "
        "It must be strongly related to what the assistant just said: take a word, name or claim from "
        "the assistant's words above and ask about it, using that word. Do not repeat the user's "
        "first question.\n"
        'Return JSON with one key, "question", whose value is that question.'
    )


def _followup_prompt(c: dict[str, Any]) -> str:
    lo, hi = asked_words(c, "short")
    return (
        f"A user and a voice assistant are talking about {c.get('topic') or 'general knowledge'}.\n"
        f'Earlier the user asked: "{c.get("previous_question", "")}"\n'
        f'The assistant began answering: "{c.get("previous_answer", "")}"\n'
        f'The user cut in and asked: "{c["question"]}"\n'
        f"As the assistant, answer the new question conversationally in {lo} to {hi} words, "
        f"that is {_sentences(lo, hi)}.\n" + _SAY_ONLY
    )


def _distractor_prompt(c: dict[str, Any]) -> str:
    topic = c.get("topic") or "a quiz question"
    return (
        f"A voice assistant is talking to a user about {topic}. Someone else in the room says one short "
        "remark or question, under fifteen words, to another person, not to the assistant. It has nothing "
        f"to do with {topic}: anything from everyday life, such as food, chores, pets, weather, "
        "plans, work, the TV or something lost.\n"
        'Return JSON with one key, "text", whose value is the remark.'
    )


def _long_turn_prompt(c: dict[str, Any]) -> str:
    gold = str(c.get("answer") or "").strip()
    lines = [
        f"Topic: {c.get('topic') or 'general knowledge'}",
        f"Question: {c['question']}",
        "Write what a user says out loud to a voice assistant in one long turn: first two to four "
        "short spoken sentences of context, such as what happened to them or why they are wondering, "
        "then the question itself, last, in their own words. Each sentence under twenty words, each "
        "ending with a full stop or a question mark. Only the user speaks; do not answer the question.",
    ]
    if gold:
        lines.append(f"Do not give away the answer ({gold}).")
    lines.append('Return JSON with one key, "text", whose value is everything the user says.')
    return "\n".join(lines)


_PROMPTS = {
    "qa_answer": _qa_prompt,
    "dialogue": _dialogue_prompt,
    "related_question": _related_prompt,
    "followup_answer": _followup_prompt,
    "distractor": _distractor_prompt,
    "long_user_turn": _long_turn_prompt,
}


def build_messages(kind: str, context: dict[str, Any]) -> tuple[dict[str, str], ...]:
    """The chat messages (system + user) that ask a real LLM for `kind`."""
    if kind not in _PROMPTS:
        raise ValueError(f"unknown request kind {kind!r}; choose one of {KINDS}")
    return (
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _PROMPTS[kind](context)},
    )
