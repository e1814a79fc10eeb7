"""Plan: questions -> one DialoguePlan per dialogue to build.

Runs once in the driver before sharding, so the plan (and with it every
dialogue id and seed) depends only on the recipe and its questions, never on
how many workers run it. Task counts follow the recipe's `mix` exactly
(largest-remainder rounding), not by chance, so a small corpus still holds
every task it asks for; so does the share of related questions a third party
asks (`timeline.related_by_third_party_prob`).
"""

from __future__ import annotations

from collections import defaultdict

from datagen.config import Recipe
from datagen.records import TASKS, DialoguePlan, Question
from datagen.timeline.rng import rng_for, stable_int

FOLLOW_ON_TASKS = ("barge_in_user", "barge_in_third_party")


def task_counts(mix: dict[str, float], n: int) -> dict[str, int]:
    weights = {t: mix.get(t, 0.0) for t in TASKS if mix.get(t, 0.0) > 0}
    total = sum(weights.values())
    exact = {t: n * w / total for t, w in weights.items()}
    counts = {t: int(v) for t, v in exact.items()}
    rest = sorted(weights, key=lambda t: (-(exact[t] - counts[t]), TASKS.index(t)))
    for t in rest[: n - sum(counts.values())]:
        counts[t] += 1
    return counts


def plan_dialogues(questions: list[Question], recipe: Recipe) -> list[DialoguePlan]:
    if not questions:
        return []
    rng = rng_for(recipe.seed, "plan")
    order = [questions[i] for i in rng.permutation(len(questions))]
    by_topic: dict[str, list[Question]] = defaultdict(list)
    for q in questions:
        by_topic[q.topic or "general"].append(q)
    counts = task_counts(recipe.mix, recipe.dialogues)
    tasks = [t for t in TASKS for _ in range(counts.get(t, 0))]
    tasks = [tasks[i] for i in rng.permutation(len(tasks))]
    # Related questions: exactly round(n * prob) asked by a third party, spread evenly.
    n_rel = counts.get("barge_in_related", 0)
    third = round(n_rel * recipe.timeline.related_by_third_party_prob)
    askers = iter(
        "third_party" if (k + 1) * third // n_rel > k * third // n_rel else "user" for k in range(n_rel)
    )
    plans = []
    for idx, task in enumerate(tasks):
        seed_q = order[idx % len(order)]
        if task == "pause":  # a pause needs a question of 4+ words: take the next one that has them
            seed_q = next(
                (q for k in range(len(order)) if len((q := order[(idx + k) % len(order)]).text.split()) >= 4),
                seed_q,
            )
        lap = idx // len(order)  # > 0 when the recipe asks for more dialogues than questions
        pid = f"{idx:05d}-{task}-{seed_q.id}" + (f"-r{lap}" if lap else "")
        seed = stable_int(recipe.seed, pid)
        mates = [q for q in by_topic[seed_q.topic or "general"] if q.id != seed_q.id]
        extra: list[Question] = []
        prng = rng_for(seed, "plan")
        if task == "multi_turn":
            lo, hi = recipe.multi_turn_rounds
            rounds = int(prng.integers(lo, hi + 1))
            extra = [mates[i] for i in prng.permutation(len(mates))[: rounds - 1]]
        elif task in FOLLOW_ON_TASKS and mates and prng.random() < 0.5:
            extra = [mates[int(prng.integers(len(mates)))]]
        asker = next(askers) if task == "barge_in_related" else None
        plans.append(DialoguePlan(id=pid, task=task, questions=(seed_q, *extra), seed=seed, asker=asker))
    return plans
