"""`datagen dpo ERROR_LOG --corpus DIR --out DIR`: the DPO training set.

Writes, atomically, into OUT:
- `pairs.jsonl`  one preference pair per line (schema `schemas/dpo_pair.schema.json`);
- `sft.jsonl`    an equal-size sample of dialogues from other tasks, kept with the SFT loss;
- `trl.jsonl`    the pairs in TRL's `prompt`/`chosen`/`rejected` text shape, for inspection
                 and reuse (the tracks rendered as text from the divergent block);
- `rejected.jsonl` every logged line that did not become a pair, with its reason;
- `stats.json`   the books: lines = pairs + rejected + lines without an error, per category.

Pairs are balanced across the error categories (SALMONN-omni's five and the
assistant's cue, judging/judge.py): each keeps at most
`per_category` pairs (default: the median of the non-empty categories'
counts), drawn with a seeded generator, the rest rejected as over the cap.

With `balance_directions`, the pairs are also balanced by the way they push
(`stop` against `go_on`, pairs.py): the scarcer direction is topped up, on
dialogues the model made no pair of, until the two are even: with `own`, by
anchors from the model's own right decisions in the same log (anchors.py); with
`simulate`, by mistakes simulated from the same corpus that push that way
(simulate.py). A model biased towards stopping makes few "stop" errors, so its
own pairs say "go on" almost only; trained on those, seed 1's 600-step model lost
its CI recall (0.930 -> 0.240). The cap evens categories, which does not even
directions: a category such as `cd_barge_in` holds both.

With `turn_anchors` N, N more pairs hold up the turns the model took in time
(`speak` anchors, category `turn_taking`, anchors.py), on dialogues of the log
that hold no pair yet: no error category is a missed turn, so without them every
listening-block pair says `wait`.
"""

from __future__ import annotations

import itertools
import json
import statistics
import zlib
from collections import Counter, defaultdict
from pathlib import Path

from datagen.io.atomic import write_json, write_jsonl
from datagen.train.common.config import ScoreConfig
from datagen.train.judging.errlog import make_line, read_log, schema_problem
from datagen.train.judging.judge import CATEGORIES
from datagen.train.preference.anchors import STOP_KINDS, anchor_pairs
from datagen.train.preference.pairs import make_pair
from datagen.train.preference.simulate import PUSHES
from datagen.train.streaming.errors import label_encoder
from datagen.train.training.answers import answer_tokens
from datagen.train.training.data import open_corpora

DPO_TASKS = frozenset(  # tasks whose mistakes make pairs; the SFT sample comes from the others
    {
        "backchannel",
        "barge_in_user",
        "barge_in_third_party",
        "barge_in_related",
        "distractor",
        "assistant_backchannel",
    }
)


def _corpus_facts(corpora: list[str], ids: set[str] | None, encode) -> dict[str, dict]:
    """Answer tokens and channel-0 transcript of the cuts wanted (all when ids is None)."""
    facts: dict[str, dict] = {}
    for corpus in corpora:
        for cut in open_corpora([corpus]):
            if ids is not None and cut.id not in ids:
                continue
            env = sorted((s for s in cut.supervisions if s.channel == 0), key=lambda s: s.start)
            facts[cut.id] = {
                "corpus": str(corpus),
                "task": cut.custom.get("task", ""),
                "tokens": answer_tokens(cut, encode),
                "said": [(s.start, s.custom.get("role", ""), s.text) for s in env],
            }
    return facts


def _render(track, tok) -> str:
    """A track as text: `<think>xN`, `<shift>`, and each run of text tokens decoded."""
    from datagen.text.tokenizer import SHIFT, SHIFT_ID, TEXT_OFFSET, THINK_ID

    out: list[str] = []
    for label, run in itertools.groupby(int(x) for x in track):
        ids = list(run)
        if label == THINK_ID:
            out.append(f"<think>x{len(ids)}")
        elif label == SHIFT_ID:
            out += [SHIFT] * len(ids)
        elif out and not out[-1].startswith("<"):
            out[-1] += tok.decode([i - TEXT_OFFSET for i in ids])
        else:
            out.append(tok.decode([i - TEXT_OFFSET for i in ids]))
    return " ".join(x.strip() for x in out)


def trl_row(pair: dict, said: list, tok) -> dict:
    """TRL's preference shape: what was heard and done before the divergent block, then each side."""
    f = pair["first_divergent_block"]
    heard = " ".join(f"[{role}] {text}" for start, role, text in said if start < f * pair["block_s"])
    prefix = _render(pair["chosen"][:f], tok) if f else ""
    return {
        "prompt": f"{heard}\n{prefix}".strip(),
        "chosen": _render(pair["chosen"][f:], tok),
        "rejected": _render(pair["rejected"][f:], tok),
        "pair_id": pair["pair_id"],
        "category": pair["category"],
    }


def _cap(counts: Counter, per_category: int | None) -> int:
    if per_category:
        return per_category
    nonzero = [c for c in counts.values() if c]
    return int(statistics.median(nonzero)) if nonzero else 0


def _pick(items: list, n: int, seed: int, key: str) -> list:
    """A seeded, order-independent choice of n items."""
    if len(items) <= n:
        return items
    ranked = sorted(items, key=lambda it: zlib.crc32(f"{seed}:{it[key]}".encode()))
    return sorted(ranked[:n], key=lambda it: it[key])


def balanced(pairs: list[dict], n: int, seed: int) -> list[dict]:
    """n pairs taken round-robin over the categories, each in a seeded order that does
    not depend on n (a smaller draw is a prefix of a larger one)."""
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for p in sorted(pairs, key=lambda p: zlib.crc32(f"{seed}:{p['pair_id']}".encode())):
        by_cat[p["category"]].append(p)
    queues = [by_cat[c] for c in sorted(by_cat)]
    out: list[dict] = []
    i = 0
    while len(out) < n and any(queues):
        q = queues[i % len(queues)]
        if q:
            out.append(q.pop(0))
        i += 1
    return out


FILLS = ("own", "simulate")  # what tops up the scarcer direction


def _top_up(pairs, how, logged, corpora, seed, late_by, backbone_path, cfg, categories, facts):
    """Pairs of the scarcer of `stop` and `go_on`, enough to even them (or all there are),
    on dialogues that hold no pair yet, spread over the categories: anchors from the
    `logged` lines (`own`) or simulated mistakes; simulated dialogues' facts join `facts`."""
    n = Counter(p["direction"] for p in pairs)
    short, long = sorted(("stop", "go_on"), key=lambda d: (n[d], d != "stop"))
    need = n[long] - n[short]
    books = {"direction": short, "needed": need, "added": 0, "from": how}
    if need <= 0:
        return [], books
    taken = {p["cut_id"] for p in pairs}
    made = []
    if how == "own":
        for line in logged:
            if line["cut_id"] in facts and line["cut_id"] not in taken:
                made += anchor_pairs(line, facts[line["cut_id"]]["tokens"], short, cfg)
    else:
        mix = {m: 1.0 for m, d in PUSHES.items() if d == short}
        lines, _ = _simulated_lines(corpora, mix, seed, late_by, backbone_path, cfg)
        lines = [ln for ln in lines if ln["cut_id"] not in taken]
        encode = label_encoder(lines[0]["tokenizer"], backbone_path) if lines else None
        facts.update(_corpus_facts(corpora, {ln["cut_id"] for ln in lines}, encode) if lines else {})
        for line in lines:
            pair, _ = make_pair(line, facts[line["cut_id"]]["tokens"], cfg)
            if pair and pair["direction"] == short:
                made.append(pair)
    made = [p | {"corpus": facts[p["cut_id"]]["corpus"]} for p in made]
    made = [p for p in made if not categories or p["category"] in categories]
    extra = balanced(made, need, seed)
    books["added"] = len(extra)
    return extra, books


def _turn_anchors(pairs, logged, facts, n, seed, cfg) -> list[dict]:
    """n `speak` anchors (or all there are) on logged dialogues with no pair yet, one a
    dialogue: its last timely turn, those that reply after a stop for a barge-in or a
    related question first. Those are the turns DPO's `go_on` pairs took away (seeds 0
    and 1: most turns lost after DPO followed a related question the model had stopped
    for in time, docs/trainer.md)."""
    taken = {p["cut_id"] for p in pairs}
    after, other = [], []
    for line in logged:
        if line["cut_id"] in facts and line["cut_id"] not in taken:
            for p in anchor_pairs(line, facts[line["cut_id"]]["tokens"], "speak", cfg)[-1:]:
                p["corpus"] = facts[p["cut_id"]]["corpus"]
                (after if _replies_after_a_stop(line, p["first_divergent_block"]) else other).append(p)
    first = _pick(after, n, seed, "pair_id")
    return first + _pick(other, n - len(first), seed, "pair_id")


def _replies_after_a_stop(line: dict, speak: int) -> bool:
    """Whether the model stopped in time for a barge-in or related question before `speak`."""
    return any(
        ev["kind"] in STOP_KINDS and ev["outcome"] == "ok" and ev["time"] < speak * line["block_s"]
        for ev in line["events"]
    )


def build(
    error_log: str | Path | None,
    corpora: list[str],
    out: str | Path,
    per_category: int | None = None,
    seed: int = 0,
    simulate_mix: dict[str, float] | None = None,
    late_by: int = 6,
    backbone_path: str | None = None,
    score_cfg: ScoreConfig | None = None,
    categories: list[str] | None = None,
    balance_directions: str | None = None,
    turn_anchors: int = 0,
) -> dict:
    """Pairs from a log (or simulated mistakes), at most `per_category` of each category,
    only of `categories` when given (the rest rejected as `category_not_asked`); with
    `balance_directions` (`own` or `simulate`), as many `stop` as `go_on` pairs; with
    `turn_anchors`, that many `speak` anchors from the model's own timely turns."""
    cfg = score_cfg or ScoreConfig()
    if turn_anchors and simulate_mix is not None:
        raise ValueError("turn anchors are a model's own timely turns: they need its error log")
    unknown = set(categories or ()) - set(CATEGORIES)
    if unknown:
        raise ValueError(f"unknown error categories {sorted(unknown)}; choose from {list(CATEGORIES)}")
    if balance_directions not in (None, *FILLS):
        raise ValueError(
            f"unknown way to balance directions {balance_directions!r}; choose from {list(FILLS)}"
        )
    out = Path(out)
    rejected: list[dict] = []
    if simulate_mix is not None:
        lines, tokenizer = _simulated_lines(corpora, simulate_mix, seed, late_by, backbone_path, cfg)
    else:
        log = read_log(error_log)
        lines = log.lines
        rejected += [{**r, "reason": f"bad line: {r['reason']}"} for r in log.rejected]
        tokenizer = lines[0]["tokenizer"] if lines else "builtin"
    encode = label_encoder(tokenizer, backbone_path)
    facts = _corpus_facts(corpora, {line["cut_id"] for line in lines}, encode)
    found: dict[str, list] = {c: [] for c in CATEGORIES}
    without_error = 0
    for line in lines:
        if line["cut_id"] not in facts:
            rejected.append({"cut_id": line["cut_id"], "reason": "cut_not_in_corpus"})
            continue
        pair, why = make_pair(line, facts[line["cut_id"]]["tokens"], cfg)
        if pair is None:
            if why == "no_error_in_the_five_categories":
                without_error += 1
            else:
                rejected.append({"cut_id": line["cut_id"], "reason": why})
            continue
        pair["corpus"] = facts[line["cut_id"]]["corpus"]
        if categories and pair["category"] not in categories:
            rejected.append(
                {"cut_id": line["cut_id"], "reason": "category_not_asked", "category": pair["category"]}
            )
            continue
        found[pair["category"]].append(pair)
    counts = Counter({c: len(v) for c, v in found.items()})
    cap = _cap(counts, per_category)
    pairs = []
    for cat in CATEGORIES:
        keep = _pick(found[cat], cap, seed, "pair_id")
        # By identity: a log that holds one line twice gives two equal pair ids.
        kept = {id(p) for p in keep}
        rejected += [
            {"cut_id": p["cut_id"], "reason": "over_category_cap", "category": cat}
            for p in found[cat]
            if id(p) not in kept
        ]
        pairs += keep
    topped = None
    if balance_directions:
        extra, topped = _top_up(
            pairs, balance_directions, lines, corpora, seed, late_by, backbone_path, cfg, categories, facts
        )
        pairs += extra
    turns = _turn_anchors(pairs, lines, facts, turn_anchors, seed, cfg) if turn_anchors else []
    pairs += turns
    for p in pairs:
        assert schema_problem(p, "dpo_pair") is None, schema_problem(p, "dpo_pair")
    sft = _sft_sample(corpora, len(pairs), seed)
    tok = _tokenizer(tokenizer, backbone_path)
    trl = [trl_row(p, facts[p["cut_id"]]["said"], tok) for p in pairs]
    stats = {
        "lines": len(lines) + sum(1 for r in rejected if r["reason"].startswith("bad line")),
        "pairs": len(pairs),
        "rejected": len(rejected),
        "without_error": without_error,
        "rejected_by_reason": dict(Counter(r["reason"].split(":")[0] for r in rejected)),
        "errors_by_category": dict(counts),
        "pairs_by_category": dict(Counter(p["category"] for p in pairs)),
        "per_category_cap": cap,
        "pairs_by_direction": dict(Counter(p["direction"] for p in pairs)),
        **({"directions_topped_up": topped} if topped else {}),
        **({"turn_anchors": {"asked": turn_anchors, "added": len(turns)}} if turn_anchors else {}),
        "sft_samples": len(sft),
        "source": "simulated" if simulate_mix is not None else str(error_log),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "pairs.jsonl", pairs)
    write_jsonl(out / "sft.jsonl", sft)
    write_jsonl(out / "trl.jsonl", trl)
    write_jsonl(out / "rejected.jsonl", rejected)
    write_json(out / "stats.json", stats)
    return stats


def _sft_sample(corpora: list[str], n: int, seed: int) -> list[dict]:
    rows = []
    for corpus in corpora:
        for cut in open_corpora([corpus]):
            task = cut.custom.get("task", "")
            if task not in DPO_TASKS:
                rows.append({"cut_id": cut.id, "corpus": str(corpus), "task": task})
    return _pick(rows, n, seed, "cut_id")


def _tokenizer(name: str, backbone_path: str | None):
    from datagen.text.tokenizer import get_tokenizer

    return get_tokenizer("builtin" if name.startswith("builtin") else backbone_path)


def _simulated_lines(corpora, mix, seed, late_by, backbone_path, cfg) -> tuple[list[dict], str]:
    from datagen.train.preference.simulate import simulate
    from datagen.train.streaming.errors import dialogues_of
    from datagen.train.training.data import corpus_tokenizer

    tokenizer = corpus_tokenizer(corpora)
    encode = label_encoder(tokenizer, backbone_path)
    records, tokens = [], {}
    for corpus in corpora:
        for d, rec in dialogues_of(corpus, encode):
            records.append(rec)
            tokens[rec["cut_id"]] = [a.tokens for a in d.answers]
    made = simulate(records, lambda r: tokens[r["cut_id"]], mix, seed, late_by)
    return [make_line(rec, track, f"simulated:{mistake}", cfg) for rec, track, mistake in made], tokenizer


def read_pairs(folder: str | Path) -> tuple[list[dict], list[dict]]:
    folder = Path(folder)
    if not (folder / "pairs.jsonl").is_file():
        raise FileNotFoundError(f"no pairs.jsonl in {folder} (make it with `datagen dpo`)")

    def rows(name: str) -> list[dict]:
        p = folder / name
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.is_file() else []

    return rows("pairs.jsonl"), rows("sft.jsonl")
