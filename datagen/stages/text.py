"""Text: dialogue plans -> dialogue scripts, written by the LLM backend.

The LLM is asked in up to three rounds per batch (answers and dialogues;
then related questions and distractors, which need the answer; then the
answers to related questions), one `generate` call per round, so a batch
backend (vLLM) sees whole batches. Events (pauses, backchannels, barge-ins,
distractors, the assistant's own cues in a long user turn) are decided here,
with the behaviour each expects, from the dialogue's own seed. Output that
does not parse rejects the dialogue with the raw text kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from datagen.backends.llm.base import LLMRequest, LLMUnavailable
from datagen.backends.llm.prompts import extract_json, make_request, parse_response
from datagen.backends.registry import make_llm
from datagen.records import CUE_KIND, Dialogue, DialoguePlan, Overlay, Turn
from datagen.sources.phrases import load_phrases
from datagen.stages.base import Stage, StageOutput
from datagen.stages.text_quality import count_value, reason_of, retry_request
from datagen.text.normalize import normalize_for_tts
from datagen.timeline.rng import rng_for, uniform

LONG_TASKS = (
    "backchannel",
    "barge_in_user",
    "barge_in_third_party",
    "barge_in_related",
    "distractor",
    "no_interruption",
)


@dataclass
class _Draft:
    """A dialogue being written across rounds."""

    plan: DialoguePlan
    turns: list[Turn] = field(default_factory=list)
    pending: dict[str, Any] = field(default_factory=dict)
    error: tuple[str, str, str] | None = None  # reason, detail, raw


def _stop_if_all_failed(backend: str, responses) -> None:
    """Raise LLMUnavailable when a batch of two or more requests failed to the last one,
    or a batch of one could not reach the server at all (a refused or dropped connection
    after the backend's retries says nothing about the dialogue: rejecting it would make a
    rerun skip it). Any other single failure stays that dialogue's reject."""
    if not responses or any(r.ok for r in responses):
        return
    if len(responses) < 2 and not responses[0].error.startswith("connection:"):
        return
    reasons = list(dict.fromkeys(r.error.splitlines()[0][:200] for r in responses if r.error))[:2]
    raise LLMUnavailable(
        f"all {len(responses)} requests of a batch to the {backend} LLM failed "
        f"({'; '.join(reasons) or 'no reason given'}): is it running and configured? "
        "Nothing of this shard was written"
    )


class TextStage(Stage):
    name = "text"

    def __init__(self, recipe):
        super().__init__(recipe)
        self._llm = None

    @property
    def llm(self):
        if self._llm is None:
            self._llm = make_llm(self.recipe.llm.backend, self.recipe.llm.options)
        return self._llm

    @property
    def resources(self):
        from datagen.stages.base import Resources

        return Resources(num_cpus=1, num_gpus=float(self.llm.resources_gpus))

    # -- LLM round trips -------------------------------------------------------------
    def _requests(self, drafts: list[_Draft], build) -> list[tuple[_Draft, LLMRequest, Any]]:
        """One round's requests: `build(draft)` -> (request, on_value) or None."""
        reqs: list[tuple[_Draft, LLMRequest, Any]] = []
        for d in drafts:
            if d.error is None and (made := build(d)) is not None:
                reqs.append((d, *made))
        return reqs

    def _take(self, out: StageOutput, req: LLMRequest, resp, on_value) -> tuple[str, str] | None:
        """Parse one response and hand its value on; (reason, detail) when it cannot be used."""
        out.counters["llm_attempts"] += 1
        out.counters["llm_prompt_tokens"] += resp.prompt_tokens
        out.counters["llm_completion_tokens"] += resp.completion_tokens
        if req.json_schema is not None:  # the JSON kinds; answers are asked as plain text
            out.counters["llm_json_requests"] += 1
            # How the schema was asked for: a server's dialect (openai_http), else in-engine.
            out.counters[f"llm_dialect_{getattr(self.llm, 'dialect', 'engine')}"] += 1
            out.counters["llm_json_ok"] += bool(resp.ok and extract_json(resp.text or "") is not None)
        if not resp.ok:
            return reason_of(resp.error), f"{req.kind}: {resp.error}"
        value, err = parse_response(req.kind, resp.text, req.context)
        if err:
            return err, req.kind
        count_value(out.counters, req, resp.text, value)
        on_value(value)
        return None

    def _round(self, items: list[tuple[StageOutput, _Draft, LLMRequest, Any]], chunk: int) -> None:
        """One round of requests, each failed one re-asked up to `llm.attempts` times in all.

        A retry carries a new seed and a note of what was wrong (text_quality.retry_request);
        the last failure rejects the dialogue with its reason and the raw text."""
        attempts = self.recipe.llm.attempts
        todo = [(item, "") for item in items]
        for attempt in range(attempts):
            if not todo:
                return
            reqs = [retry_request(item[2], attempt, why) for item, why in todo]
            again = []
            for i in range(0, len(todo), chunk):
                responses = self.llm.generate(reqs[i : i + chunk])
                _stop_if_all_failed(self.recipe.llm.backend, responses)
                sent = zip(todo[i : i + chunk], reqs[i : i + chunk], responses, strict=True)
                for (item, _), req, resp in sent:
                    out, d, _, on_value = item
                    if attempt == 0:
                        out.counters["llm_requests"] += 1
                    failed = self._take(out, req, resp, on_value)
                    if failed is None:
                        continue
                    reason, detail = failed
                    out.counters[f"llm_fail_{reason}"] += 1
                    if attempt + 1 < attempts:
                        out.counters["llm_retries"] += 1
                        again.append((item, reason))
                    elif reason in ("failed", "cut_off"):
                        d.error = ("llm_failed", detail, (resp.text or "")[:2000])
                    else:
                        d.error = (f"llm_{reason}", req.kind, (resp.text or "")[:2000])
            todo = again

    def _ask(self, drafts: list[_Draft], build, out: StageOutput) -> None:
        """Send one round of requests, `llm.batch_size` per generate call."""
        items = [(out, *r) for r in self._requests(drafts, build)]
        self._round(items, self.recipe.llm.batch_size)

    def _rounds(self):
        return (self._first_request, self._second_request, self._third_request)

    def process(self, batch: list[DialoguePlan]) -> StageOutput:
        out = StageOutput()
        drafts = [_Draft(p) for p in batch]
        for build in self._rounds():
            self._ask(drafts, build, out)
        return self._close(drafts, out)

    def process_many(self, batches: list[list[DialoguePlan]]) -> list[StageOutput]:
        """`process` for several shards at once, with ONE generate call per round (and per
        retry) for all of them: Ray Data LLM runs each call as one batch job whose engines
        start once (datagen/executors/llm_phase.py), so a round per shard would restart
        them per shard. The dialogues come out as `process` makes them."""
        outs = [StageOutput() for _ in batches]
        drafts = [[_Draft(p) for p in b] for b in batches]
        for build in self._rounds():
            items = [(outs[k], *r) for k, ds in enumerate(drafts) for r in self._requests(ds, build)]
            if items:
                self._round(items, len(items))
        return [self._close(ds, out) for ds, out in zip(drafts, outs, strict=True)]

    def _close(self, drafts: list[_Draft], out: StageOutput) -> StageOutput:
        for d in drafts:
            if d.error is None:
                try:
                    out.items.append(self._finish(d))
                    out.counters["dialogues_written"] += 1
                    continue
                except ValueError as e:
                    d.error = ("bad_dialogue", str(e), "")
            reason, detail, raw = d.error
            out.reject(d.plan.id, self.name, reason, detail, raw)
        return out

    # -- round 1: answers and whole dialogues ---------------------------------------------
    def _first_request(self, d: _Draft):
        p, rng = d.plan, rng_for(d.plan.seed, "text")
        q = p.questions[0]
        if p.task == "multi_turn":
            ctx = {
                "topic": q.topic,
                "rounds": len(p.questions),
                "questions": [{"question": x.text, "answer": x.answer} for x in p.questions],
            }
            return make_request(f"{p.id}/dialogue", "dialogue", ctx, p.seed), self._on_dialogue(d)
        if p.task == CUE_KIND:  # the user's long turn first; its answer in round 2
            ctx = {"question": q.text, "answer": q.answer, "topic": q.topic}
            req = make_request(f"{p.id}/long_user_turn", "long_user_turn", ctx, p.seed)
            return req, self._on_long_turn(d)
        length = "long" if p.task in LONG_TASKS else ("short", "medium")[int(rng.integers(2))]
        ctx = {"question": q.text, "answer": q.answer, "topic": q.topic, "length": length}
        d.turns.append(Turn("user", normalize_for_tts(q.text)))
        return make_request(f"{p.id}/qa_answer", "qa_answer", ctx, p.seed), self._on_answer(d, 1)

    def _on_dialogue(self, d: _Draft):
        def take(turns: list[tuple[str, str]]) -> None:
            d.turns.extend(Turn(role, text) for role, text in turns)

        return take

    def _on_long_turn(self, d: _Draft):
        def take(text: str) -> None:
            d.turns.insert(0, Turn("user", text))

        return take

    def _on_answer(self, d: _Draft, slot: int):
        def take(text: str) -> None:
            d.turns.insert(slot, Turn("assistant", text))

        return take

    # -- round 2: related questions (need the answer), distractors, follow-on answers ----
    def _second_request(self, d: _Draft):
        p, rng = d.plan, rng_for(d.plan.seed, "text2")
        if p.task == "barge_in_related":
            words = d.turns[1].text.split()
            k = self._interrupt_word(len(words), rng)
            d.pending["at_word"] = k
            ctx = {
                "question": p.questions[0].text,
                "answer_so_far": " ".join(words[:k]),
                "topic": p.questions[0].topic,
            }
            return make_request(
                f"{p.id}/related_question", "related_question", ctx, p.seed
            ), lambda text: d.pending.__setitem__("related", text)
        if p.task == "distractor" and rng.random() < 0.5:
            # `split` reaches only the scripted stand-in, whose lines are split like the banks.
            ctx = {"topic": p.questions[0].topic, "split": self.recipe.split}
            return make_request(
                f"{p.id}/distractor", "distractor", ctx, p.seed
            ), lambda text: d.pending.__setitem__("distractor", text)
        if p.task == CUE_KIND:  # answer the question the long turn ends with
            q = p.questions[0]
            length = ("short", "medium")[int(rng.integers(2))]
            ctx = {"question": q.text, "answer": q.answer, "topic": q.topic, "length": length}
            return make_request(f"{p.id}/qa_answer", "qa_answer", ctx, p.seed), self._on_answer(d, 1)
        if p.task != "multi_turn" and len(p.questions) > 1:
            q = p.questions[1]
            d.turns.append(Turn("user", normalize_for_tts(q.text)))
            ctx = {"question": q.text, "answer": q.answer, "topic": q.topic, "length": "short"}
            return make_request(f"{p.id}/qa_answer2", "qa_answer", ctx, p.seed + 1), self._on_answer(
                d, len(d.turns)
            )
        return None

    # -- round 3: the answer to a related question -------------------------------------
    def _third_request(self, d: _Draft):
        p = d.plan
        if p.task != "barge_in_related":
            return None
        ctx = {
            "question": d.pending["related"],
            "previous_question": p.questions[0].text,
            "previous_answer": d.turns[1].text,
            "topic": p.questions[0].topic,
            "length": "short",
        }
        return make_request(
            f"{p.id}/followup_answer", "followup_answer", ctx, p.seed
        ), lambda text: d.pending.__setitem__("followup", text)

    # -- events -------------------------------------------------------------------------
    def _interrupt_word(self, n_words: int, rng) -> int:
        return max(1, int(round(n_words * uniform(rng, self.recipe.timeline.interrupt_at))))

    def _pick(self, bank: str, rng, who: str | None = None) -> str:
        phrases = load_phrases(bank, self.recipe.split, who)
        return phrases[int(rng.integers(len(phrases)))].text

    def _cues(self, text: str, rng) -> tuple[Overlay, ...]:
        """The assistant's cues in a long user turn: at sentence ends (never after the
        last sentence, which is the question), each leaving 3+ words on both sides,
        `per_turn` of them (fewer if the turn has fewer such ends), distinct phrases."""
        words = text.split()
        ends = [k + 1 for k, w in enumerate(words[:-1]) if w.endswith((".", "!", "?"))]
        ends = [k for k in ends if 3 <= k <= len(words) - 3]
        if not ends:
            raise ValueError("long user turn has no sentence end to hold a cue (needs 2+ sentences)")
        lo, hi = self.recipe.timeline.assistant_backchannel.per_turn
        count = min(int(rng.integers(lo, hi + 1)), len(ends))
        at = sorted(ends[int(i)] for i in rng.choice(len(ends), size=count, replace=False))
        phrases = load_phrases("assistant_backchannels", self.recipe.split)
        picks = rng.choice(len(phrases), size=count, replace=count > len(phrases))
        return tuple(
            Overlay(CUE_KIND, "assistant", phrases[int(j)].text, k, "continue")
            for k, j in zip(at, picks, strict=True)
        )

    def _finish(self, d: _Draft) -> Dialogue:
        p, cfg = d.plan, self.recipe.timeline
        rng = rng_for(p.seed, "events")
        turns = list(d.turns)
        if not turns or any(not t.text.strip() for t in turns):
            raise ValueError("empty turn text")
        answer_idx = next(i for i, t in enumerate(turns) if t.role == "assistant")
        n_words = len(turns[answer_idx].text.split())
        overlays: list[Overlay] = []
        task = p.task
        if task == "backchannel":
            lo, hi = cfg.backchannels_per_turn
            count = int(rng.integers(lo, hi + 1))
            for j in range(count):
                at = int(n_words * (j + 0.5 + 0.3 * rng.uniform(-1, 1)) / (count + 0.5))
                overlays.append(
                    Overlay("backchannel", "user", self._pick("backchannels", rng), max(at, 1), "continue")
                )
        elif task in ("barge_in_user", "barge_in_third_party"):
            role = "user" if task == "barge_in_user" else "third_party"
            overlays.append(
                Overlay(
                    "barge_in",
                    role,
                    self._pick("interruptions", rng, role),
                    self._interrupt_word(n_words, rng),
                    "stop",
                )
            )
        elif task == "barge_in_related":
            by_chance = "third_party" if rng.random() < cfg.related_by_third_party_prob else "user"
            role = p.asker or by_chance  # the draw is made either way: the rng stream stays put
            overlays.append(
                Overlay("related_question", role, d.pending["related"], d.pending["at_word"], "stop")
            )
            turns.insert(answer_idx + 1, Turn("assistant", d.pending["followup"]))
        elif task == "distractor":
            text = d.pending.get("distractor") or self._pick("distractors", rng)
            overlays.append(
                Overlay("distractor", "third_party", text, self._interrupt_word(n_words, rng), "continue")
            )
        if overlays:
            turns[answer_idx] = Turn("assistant", turns[answer_idx].text, overlays=tuple(overlays))
        if task == CUE_KIND:
            turns[0] = Turn("user", turns[0].text, overlays=self._cues(turns[0].text, rng))
        pause_prob = 1.0 if task == "pause" else cfg.pause.in_multi_turn_prob if task == "multi_turn" else 0.0
        for i, t in enumerate(turns):
            words = t.text.split()
            if t.role == "user" and len(words) >= 4 and rng.random() < pause_prob:
                turns[i] = Turn("user", t.text, pause_after_word=int(rng.integers(2, len(words) - 1)))
                if task == "pause":
                    break
        if task == "pause" and not any(t.pause_after_word for t in turns):
            raise ValueError("question too short for a pause (needs 4+ words)")
        counts = Counter(t.role for t in turns)
        if counts["user"] == 0 or counts["assistant"] == 0:
            raise ValueError(f"dialogue needs user and assistant turns, got {dict(counts)}")
        return Dialogue(
            id=p.id,
            task=task,
            turns=tuple(turns),
            seed=p.seed,
            question_ids=tuple(q.id for q in p.questions),
            meta={"topic": p.questions[0].topic, "questions": [q.text for q in p.questions]},
        )
