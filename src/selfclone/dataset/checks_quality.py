"""Quality checks on chat Examples, whatever the input format: run by validate.prepare after the format checks.

In order: example count (legacy advice), task type (legacy inference, with advice), exact duplicates,
near-duplicates (MinHash LSH, neardup.py), over-long examples (legacy: 10,000 characters), excessive
uppercase (legacy: more than a third of a role's letters), very short replies, boilerplate replies
(media placeholders, one stock reply repeated), balance across sources and contacts, token counts with the
model's real tokenizer (p5/p50/p95), examples longer than the context, the train/validation split and the
training-time estimate from `selfclone bench train`'s measured throughput.
"""
from __future__ import annotations

import random
import re
from collections import Counter

from .. import config as config_mod
from . import neardup, split, token_stats
from .chat import Example, Turn
from .checks_legacy import infer_task_type
from .validate import Finding, Fix, Preparation, line_of

MIN_EXAMPLES = 100
LONG_CHARS = 10000
SHORT_REPLY = 3                 # characters
DOMINANT_SHARE = 0.6
MAX_VALID = 1000                # legacy: at most 1000 validation examples
BALANCE_KEYS = ("source", "contact", "chat")
PLACEHOLDER = re.compile(r"^\s*(<?(media|image|video|audio|sticker|gif|document|photo|file) omitted>?|"
                         r"<media omitted>|this message was deleted|you deleted this message|"
                         r"missed (voice|video) call|null|none|nan|\[(photo|sticker|image|video|voice message|file)\]|"
                         r"<attached: [^>]*>|\(file attached\))\s*$", re.IGNORECASE)
ADVICE = {
    "open-ended generation": "the model learns to write like these texts, unprompted. A chat clone learns more "
                             "from pairs: the message you answered and your reply (`selfclone collect`)",
    "classification": "a clone replies in free text; if you do want labels, keep a validation set to measure "
                      "accuracy (the split below does), and a small model is enough",
    "conditional generation": "each prompt is answered by its completion, which is what a clone learns from; "
                              "keep the prompts as the messages people really sent you",
}


def _prompt(example: Example) -> str:
    return "\n".join(m["content"] for m in example.prompt() if m["role"] == "user")


def _lines(prep: Preparation, indexes) -> list[int]:
    return sorted(line_of(prep.examples[i]) for i in indexes)


def _sample(prep: Preparation, indexes, limit: int = 3) -> list[str]:
    return [prep.examples[i].reply()[:200] for i in list(indexes)[:limit]]


def check_count(prep: Preparation):
    n = len(prep.examples)
    if n >= MIN_EXAMPLES:
        return Finding("example_count", "info", f"Your file contains {n} examples")
    return Finding("example_count", "warning", f"Your file contains {n} examples. In general, we recommend having "
                   "at least a few hundred examples. Quality tends to increase linearly with every doubling of "
                   "the number of examples")


def check_task_type(prep: Preparation):
    task = infer_task_type([_prompt(e) for e in prep.examples], [e.reply() for e in prep.examples])
    prep.stats["task"] = task
    severity = "info" if task == "conditional generation" else "warning"
    return Finding("task_type", severity, f"Based on your data it seems like you are fine-tuning for {task}: "
                   f"{ADVICE[task]}", data={"task": task})


def check_exact_duplicates(prep: Preparation):
    seen, dups = set(), []
    for i, example in enumerate(prep.examples):
        key = tuple((t.role, t.content) for t in example.messages)
        if key in seen:
            dups.append(i)
        seen.add(key)
    if dups:
        return Finding("exact_duplicates", "warning", f"There are {len(dups)} duplicated examples",
                       _lines(prep, dups), Fix(f"Remove {len(dups)} duplicate examples",
                                               lambda: prep.drop_examples(dups)), samples=_sample(prep, dups))


def _last_user(example: Example) -> str:
    return next((m["content"] for m in reversed(example.prompt()) if m["role"] == "user"), "")


def _last_exchange(example: Example) -> str:
    return _last_user(example) + "\n" + example.reply()


def check_near_duplicates(prep: Preparation):
    threshold = prep.settings.near_dup_threshold
    seen, firsts = set(), []           # exact copies are the exact-duplicate check's business
    for i, example in enumerate(prep.examples):
        key = tuple((t.role, t.content) for t in example.messages)
        if key not in seen:
            seen.add(key)
            firsts.append(i)
    found = neardup.near_duplicate_groups([_last_exchange(prep.examples[i]) for i in firsts], threshold)
    found = neardup.with_same_reply(found, [_last_user(prep.examples[i]) for i in firsts],
                                    [prep.examples[i].reply() for i in firsts])
    groups = [[firsts[k] for k in g] for g in found]
    if not groups:
        return None
    extra = [i for g in groups for i in g[1:]]
    samples = [" ~ ".join(repr(prep.examples[i].reply()[:80]) for i in g[:3]) for g in groups[:5]]
    return Finding("near_duplicates", "warning",
                   f"{len(groups)} groups of near-duplicate examples ({len(extra)} beyond the first of each group): "
                   f"the last message and reply share at least {threshold:.0%} of their character 5-grams, or the reply "
                   f"is the same and the message differs by one word",
                   _lines(prep, extra), Fix(f"Keep the first example of each group, remove {len(extra)}",
                                            lambda: prep.drop_examples(extra)),
                   samples=samples, data={"n_groups": len(groups), "removable": len(extra),
                                          "groups": [[line_of(prep.examples[i]) for i in g] for g in groups[:200]]})


def check_long_examples(prep: Preparation):
    if prep.stats.get("task") == "open-ended generation":
        return None
    long = [i for i, e in enumerate(prep.examples) if sum(len(t.content) for t in e.messages) > LONG_CHARS]
    if long:
        return Finding("long_examples", "warning", f"There are {len(long)} examples that are very long (over "
                       f"{LONG_CHARS:,} characters); they are slow to train on and may not fit the context",
                       _lines(prep, long), Fix(f"Remove {len(long)} long examples", lambda: prep.drop_examples(long)))


def _lowercase(prep: Preparation, role: str) -> None:
    prep.examples = [Example(tuple(Turn(t.role, t.content.lower(), t.weight) if t.role == role else t
                                   for t in e.messages), e.meta) for e in prep.examples]


def check_uppercase(prep: Preparation):
    found = []
    for role in ("user", "assistant"):
        text = "".join(t.content for e in prep.examples for t in e.messages if t.role == role)
        upper, lower = sum(map(str.isupper, text)), sum(map(str.islower, text))
        if upper * 2 > lower:
            found.append(Finding("uppercase", "warning", f"More than a third of the letters in {role} messages are "
                                 "uppercase. Uppercase text tends to train worse than the mixture of case of normal "
                                 "language; lowercase it if that makes sense for you", data={"role": role},
                                 fix=Fix(f"Lowercase all {role} messages", lambda r=role: _lowercase(prep, r))))
    return found


def check_short_replies(prep: Preparation):
    short = [i for i, e in enumerate(prep.examples) if len(e.reply().strip()) < SHORT_REPLY]
    if short:
        common = Counter(prep.examples[i].reply().strip() for i in short).most_common(5)
        return Finding("short_replies", "warning", f"{len(short)} examples have a very short reply (under "
                       f"{SHORT_REPLY} characters, e.g. {', '.join(repr(r) for r, _ in common)}): many of them teach "
                       "the clone to answer in a word", _lines(prep, short),
                       Fix(f"Remove {len(short)} examples with very short replies",
                           lambda: prep.drop_examples(short)))


def check_boilerplate(prep: Preparation):
    replies = [" ".join(e.reply().lower().split()) for e in prep.examples]
    placeholders = [i for i, r in enumerate(replies) if PLACEHOLDER.match(r)]
    cap = max(4, len(replies) // 100)
    counts = Counter(r for r in replies if not PLACEHOLDER.match(r))
    stock = {r: n for r, n in counts.items() if n > cap}
    over, seen = [], Counter()
    for i, r in enumerate(replies):
        if r in stock:
            seen[r] += 1
            if seen[r] > cap:
                over.append(i)
    if not placeholders and not over:
        return None
    parts = []
    if placeholders:
        parts.append(f"{len(placeholders)} replies are placeholders, not words (media omitted, deleted message...)")
    if stock:
        listed = ", ".join(f"{r[:30]!r} x{n}" for r, n in sorted(stock.items(), key=lambda kv: -kv[1])[:5])
        parts.append(f"stock replies repeated more than {cap} times: {listed}")
    drop = sorted(set(placeholders) | set(over))
    return Finding("boilerplate_replies", "warning", "; ".join(parts), _lines(prep, drop),
                   Fix(f"Remove the placeholders and keep at most {cap} of each stock reply ({len(drop)} examples)",
                       lambda: prep.drop_examples(drop)), samples=_sample(prep, drop))


def _balance_check(key: str):
    def check(prep: Preparation):
        values = [e.meta.get(key) for e in prep.examples]
        if sum(v is not None for v in values) < len(values) / 2:
            return None
        counts = Counter(v or "(none)" for v in values)
        if len(counts) < 2:
            return None
        top, n_top = counts.most_common(1)[0]
        share = n_top / len(values)
        spread = ", ".join(f"{v} {n / len(values):.0%}" for v, n in counts.most_common(6))
        prep.stats.setdefault("balance", {})[key] = dict(counts.most_common(20))
        if share <= DOMINANT_SHARE:
            return Finding("balance", "info", f"Examples by {key}: {spread}", data={"key": key})
        rest = len(values) - n_top
        keep = int(rest * DOMINANT_SHARE / (1 - DOMINANT_SHARE) + 1e-9)     # brings its share down to the limit
        members = [i for i, v in enumerate(values) if (v or "(none)") == top]
        dropped = sorted(random.Random(prep.settings.seed).sample(members, n_top - keep))
        return Finding("balance", "warning", f"{share:.0%} of the examples come from {key} {top!r} ({spread}): "
                       "the clone will mostly learn how you talk there", data={"key": key},
                       fix=Fix(f"Keep a random {keep} of the {n_top} {top!r} examples ({DOMINANT_SHARE:.0%} of "
                               "what is left)", lambda: prep.drop_examples(dropped)))
    check.__name__ = f"check_balance_{key}"
    return check


def _token_stats(prep: Preparation) -> dict:
    """Percentiles of the kept examples' token counts (recomputed when examples are dropped)."""
    stats = {"tokens": token_stats.percentiles([e.meta["tokens"] for e in prep.examples]),
             "assistant_tokens": token_stats.percentiles([e.meta["trained_tokens"] for e in prep.examples]),
             "messages": token_stats.percentiles([len(e.messages) for e in prep.examples])}
    prep.stats.update(stats)
    return stats


def token_checks(counter=None):
    """The checks that need the model's tokenizer; `counter` reused when given (tests, the benchmark)."""

    def check_tokens(prep: Preparation):
        nonlocal counter
        if not prep.examples:
            return Finding("tokens", "error", "No examples are left after the fixes")
        counter = counter or token_stats.TokenCounter.for_model(prep.settings.model, prep.settings.workspace_runs)
        totals, trained = counter.count(prep.examples)
        for e, n, a in zip(prep.examples, totals, trained):
            e.meta["tokens"], e.meta["trained_tokens"] = int(n), int(a)
        stats = _token_stats(prep)
        show = "; ".join(f"{name.replace('_', ' ')} per example: p5 {s['p5']:.0f}, p50 {s['p50']:.0f}, "
                         f"p95 {s['p95']:.0f}, max {s['max']:.0f}" for name, s in stats.items())
        return Finding("tokens", "info", f"With the {prep.settings.model} tokenizer and chat template: {show}",
                       data=stats)

    def check_context(prep: Preparation):
        limit = prep.settings.max_length or token_stats.model_context(prep.settings.model,
                                                                      prep.settings.workspace_runs)
        prep.stats["context"] = limit
        over = [i for i, e in enumerate(prep.examples) if e.meta["tokens"] > limit]
        if not over:
            return None

        def drop():
            prep.drop_examples(over)
            if prep.examples:
                _token_stats(prep)
        return Finding("over_context", "warning", f"{len(over)} examples are longer than {limit} tokens (the "
                       "context it trains with): training would cut them", _lines(prep, over),
                       Fix(f"Remove {len(over)} examples over {limit} tokens", drop))

    return [check_tokens, check_context]


def check_split(prep: Preparation):
    n, fraction, seed = len(prep.examples), prep.settings.valid_fraction, prep.settings.seed
    prep.train, prep.valid = list(prep.examples), []
    if fraction == 0:
        return Finding("split", "info", "No validation set (valid fraction 0): every example is for training")
    if n < split.MIN_FOR_AUTO_VALIDATION:
        return Finding("split", "info", f"Only {n} examples: all kept for training (a validation set needs at least "
                       f"{split.MIN_FOR_AUTO_VALIDATION})")
    n_valid = min(MAX_VALID, round(n * fraction))

    def hold_out():
        prep.train, prep.valid = split.split(prep.examples, n_valid / n, seed)
    return Finding("split", "info", "A validation set measures how well the clone does on examples it never saw",
                   fix=Fix(f"Split into training and validation sets: hold out {n_valid} of {n} (seed {seed})",
                           hold_out, lossless=True))


def check_training_time(prep: Preparation):
    tokens = sum(e.meta.get("tokens", 0) for e in prep.train)
    epochs = prep.settings.epochs or token_stats.TRAIN_EPOCHS
    path = prep.settings.throughput_file or config_mod.cache_dir() / "bench-train.json"
    rate = token_stats.read_throughput(path)
    seconds = tokens * epochs / rate.tokens_per_s
    prep.stats["estimate"] = {"seconds": seconds, "epochs": epochs, "tokens": tokens,
                              "tokens_per_s": rate.tokens_per_s, "measured": rate.measured, "machine": rate.machine}
    where = (f"measured by `selfclone bench train` on {rate.machine}, {rate.measured_at[:10]}" if rate.measured
             else "a rough default for a 2-core CPU: run `selfclone bench train` to measure this machine")
    return Finding("training_time", "info", f"Training will take about {token_stats.format_duration(seconds)}: "
                   f"{epochs} epochs over {tokens:,} tokens at {rate.tokens_per_s:.0f} tokens/s ({where})",
                   data=prep.stats["estimate"])


def checks(counter=None) -> list:
    return [check_count, check_task_type, check_exact_duplicates, check_near_duplicates, check_long_examples,
            check_uppercase, check_short_replies, check_boilerplate, *map(_balance_check, BALANCE_KEYS),
            *token_checks(counter),
            check_split, check_training_time]
