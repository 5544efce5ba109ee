"""`selfclone bench prepare`: the dataset doctor on many generated chat examples, against exact pairwise dedup.

    selfclone bench prepare                      # 100,000 examples; pairwise baseline at 1k, 2k, 5k
    selfclone bench prepare --examples 5000      # a quick run

Measures the whole `prepare` (read, every check with near-duplicates, tokenizer counts, split, write):
seconds and peak memory (the process's max RSS). The baseline, measured in the same run, is the exact
pairwise near-duplicate check (every pair's Jaccard) on samples of the same data; its time grows with n^2,
so the largest sample is extrapolated to all examples and compared with the LSH check's measured time.
The LSH check's recall against the exact check is reported on each sample.
"""
from __future__ import annotations

import gc
import json
import math
import random
import resource
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import typer
from rich.table import Table

from .. import machine
from ..errors import DataError
from ..terminal import console

from ..dataset import neardup

SOURCES = ("whatsapp", "telegram", "email", "discord")




def generate(n: int, seed: int = 0) -> list[dict]:
    """Chat examples with a realistic mix: 1-3 exchanges, optional system, 2% exact and 3% near duplicates."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(5000)]

    def sentence(lo: int, hi: int) -> str:
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi))).capitalize() + rng.choice(".?!")

    rows: list[dict] = []
    for _ in range(n):
        roll = rng.random()
        if rows and roll < 0.02:
            rows.append(json.loads(json.dumps(rng.choice(rows))))           # an exact duplicate
            continue
        if rows and roll < 0.05:
            row = json.loads(json.dumps(rng.choice(rows)))                 # a near duplicate: one word changed
            reply = row["messages"][-1]["content"].split(" ")
            reply[rng.randrange(len(reply))] = rng.choice(vocab)
            row["messages"][-1]["content"] = " ".join(reply)
            rows.append(row)
            continue
        messages = [{"role": "system", "content": "You are Sam."}] if rng.random() < 0.5 else []
        for _ in range(rng.randint(1, 3)):
            messages += [{"role": "user", "content": sentence(3, 20)},
                         {"role": "assistant", "content": sentence(4, 30)}]
        rows.append({"messages": messages, "source": rng.choice(SOURCES)})
    return rows


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024       # Linux reports KiB


@dataclass
class PairwisePoint:
    n: int
    pairwise_s: float
    lsh_s: float
    exact_pairs: int
    lsh_found: int


@dataclass
class BenchResult:
    machine: str
    examples: int
    prepare_s: float
    near_dup_s: float
    tokens_s: float
    rss_before_mb: float
    rss_peak_mb: float
    kept: int
    groups: int
    points: list[PairwisePoint] = field(default_factory=list)

    @property
    def extrapolated_pairwise_s(self) -> float:
        last = self.points[-1]
        return last.pairwise_s * (self.examples / last.n) ** 2

    def to_dict(self) -> dict:
        data = asdict(self)
        data["extrapolated_pairwise_s"] = self.extrapolated_pairwise_s if self.points else None
        data["exponents"] = self.exponents()
        return data

    def exponents(self) -> list[float]:
        return [math.log(b.pairwise_s / a.pairwise_s) / math.log(b.n / a.n)
                for a, b in zip(self.points, self.points[1:]) if a.pairwise_s > 0]


def _pairs(groups: list[list[int]]) -> int:
    return sum(len(g) * (len(g) - 1) // 2 for g in groups)


def run(examples: int = 100_000, sizes: tuple[int, ...] = (1000, 2000, 5000), model: str | None = None,
        say=lambda text: None) -> BenchResult:
    from .. import config as config_mod
    from ..dataset.chat import parse_record
    from ..dataset.checks_quality import _last_exchange
    from ..dataset.token_stats import TokenCounter
    from ..dataset.validate import PrepareSettings, accept_all, prepare, write_prepared

    model = model or config_mod.DEFAULT_MODEL
    sizes = tuple(sorted(n for n in sizes if n <= examples))
    say(f"generating {examples:,} chat examples")
    rows = generate(examples)
    texts = [_last_exchange(parse_record(r)) for r in rows[:max(sizes, default=0)]]
    with tempfile.TemporaryDirectory(prefix="selfclone-bench-prepare-") as tmp:
        path = Path(tmp) / "chats.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        del rows                                      # only what prepare itself holds counts below
        gc.collect()
        counter = TokenCounter.for_model(model)       # loaded once, outside the timed run, as in a warm CLI
        rss_before = max_rss_mb()
        say(f"running prepare on {path.name}")
        start = time.perf_counter()
        prep = prepare(path, PrepareSettings(model=model, throughput_file=Path(tmp) / "none.json"),
                       decide=accept_all, counter=counter)
        write_prepared(prep, Path(tmp) / "chats")
        elapsed = time.perf_counter() - start
        rss_peak = max_rss_mb()
    timings = prep.stats["timings"]
    near = next((f for f in prep.findings if f.check == "near_duplicates"), None)
    result = BenchResult(machine.describe(), examples, elapsed, timings.get("near_duplicates", 0.0), timings.get("tokens", 0.0),
                         rss_before, rss_peak, len(prep.train) + len(prep.valid), near.data["n_groups"] if near else 0)
    del prep
    for n in sizes:
        say(f"exact pairwise near-duplicate check on {n:,} examples")
        start = time.perf_counter()
        exact = neardup.pairwise_groups(texts[:n])
        pairwise_s = time.perf_counter() - start
        start = time.perf_counter()
        lsh = neardup.near_duplicate_groups(texts[:n])
        lsh_s = time.perf_counter() - start
        result.points.append(PairwisePoint(n, pairwise_s, lsh_s, _pairs(exact), _recall_pairs(lsh, exact)))
    return result


def _recall_pairs(found: list[list[int]], exact: list[list[int]]) -> int:
    """How many of the exact check's within-group pairs LSH also grouped together."""
    group_of = {i: k for k, g in enumerate(found) for i in g}
    return sum(1 for g in exact for a in range(len(g)) for b in g[a + 1:]
               if g[a] in group_of and group_of[g[a]] == group_of.get(b))


def bench_prepare(
        examples: int = typer.Option(100_000, "--examples", help="generated chat examples to prepare"),
        sizes: str = typer.Option("1000,2000,5000", help="sample sizes for the exact pairwise baseline"),
        model: str = typer.Option(None, help="tokenizer to count with (default: smollm2-135m)"),
):
    """Time `prepare` on many chat examples, near-duplicates included, against an exact pairwise check."""
    from ..dataset.token_stats import format_duration

    try:
        points = tuple(int(s) for s in sizes.split(",") if s.strip())
    except ValueError as exc:
        raise DataError(f"--sizes must be numbers separated by commas, got {sizes!r}") from exc
    result = run(examples, points, model, say=lambda t: console.print(f"[dim]{t}[/]"))
    console.print(f"machine: {result.machine}")
    console.print(f"prepare on {result.examples:,} chat examples: [bold]{result.prepare_s:.1f} s[/] "
                  f"(near-duplicates {result.near_dup_s:.1f} s, token counts {result.tokens_s:.1f} s); "
                  f"peak RSS {result.rss_peak_mb:.0f} MB (before prepare: {result.rss_before_mb:.0f} MB); "
                  f"{result.kept:,} examples kept, {result.groups:,} near-duplicate groups")
    table = Table(title="Exact pairwise near-duplicate check (baseline) vs MinHash LSH, same texts")
    for col in ("examples", "pairwise s", "LSH s", "pairwise / LSH", "exact pairs", "LSH recall"):
        table.add_column(col, justify="right")
    for p in result.points:
        recall = f"{p.lsh_found / p.exact_pairs:.1%}" if p.exact_pairs else "-"
        table.add_row(f"{p.n:,}", f"{p.pairwise_s:.2f}", f"{p.lsh_s:.2f}", f"{p.pairwise_s / max(p.lsh_s, 1e-9):.0f}x",
                      str(p.exact_pairs), recall)
    console.print(table)
    if result.points:
        exps = ", ".join(f"{e:.2f}" for e in result.exponents())
        extra = result.extrapolated_pairwise_s
        console.print(f"pairwise time grows as n^k with k = {exps or '-'} between samples; extrapolated (n^2) from "
                      f"{result.points[-1].n:,} to {result.examples:,} examples: {extra:,.0f} s "
                      f"({format_duration(extra)}) vs {result.near_dup_s:.1f} s measured for LSH inside prepare: "
                      f"[bold]{extra / max(result.near_dup_s, 1e-9):,.0f}x[/] faster")
    console.print(f"command: selfclone bench prepare --examples {examples} --sizes {sizes}")
    console.print(json.dumps(result.to_dict()), soft_wrap=True, markup=False, highlight=False)
