"""`selfclone bench eval`: held-out loss throughput, length-sorted batches against one example at a time.

Ways to compute the same held-out loss on the same examples, in one run on one machine:
  one at a time   `model(input_ids, labels=labels)` per example: logits at every position (the plain loop)
  batch 1         train.loss.evaluate with batch_size=1: logits at the scored positions only
  batched         train.loss.evaluate with length-sorted batches, fp32
  batched, bf16   the same under bf16 autocast, where the CPU is fast at it (what `selfclone eval` uses there)
The examples are split into rounds and every method runs on each round in turn (the order rotating), so a
change in the machine's load during the run hits all methods alike. It prints examples/s, the ratio to the
plain loop, checks that all methods give the same loss, and ends with a JSON line of every figure.

    selfclone bench eval --examples 64 --batch-size 16
"""
from __future__ import annotations

import json
import os
import time

import typer

from .. import machine, models
from ..dataset.chat import read_examples
from ..terminal import console


def bench_eval(examples: int = typer.Option(64, help="held-out examples to score"),
               batch_size: int = typer.Option(16, help="batch size of the batched evaluation"),
               rounds: int = typer.Option(4, help="rounds the examples are split into, every method in each"),
               model: str = typer.Option("smollm2-135m", help="model to score with"),
               threads: int = typer.Option(None, help="torch threads (default: torch's choice)")):
    """Held-out loss in length-sorted batches vs one example at a time, measured in the same run."""
    import torch
    from rich.table import Table

    from ..demo import demo_files
    from ..train.batching import encode_all
    from ..train.loss import evaluate
    from ..evaluate.heldout import loss_one_at_a_time, scored_example

    if threads:
        torch.set_num_threads(threads)
    data = read_examples(demo_files() / "train.jsonl") + read_examples(demo_files() / "heldout.jsonl")
    data = (data * (examples // len(data) + 1))[:examples]
    net, tokenizer = models.load(models.resolve(model))
    encoded = encode_all(tokenizer, [scored_example(e) for e in data], models.context_length(net))
    tokens = sum(len(e) for e in encoded)
    pad = tokenizer.pad_token_id
    methods = {"one at a time (model(..., labels=...))": lambda part: loss_one_at_a_time(net, part),
               "batch 1, scored positions only": lambda part: evaluate(net, part, pad, batch_size=1),
               f"length-sorted batches of {batch_size}": lambda part: evaluate(net, part, pad, batch_size)}
    if machine.fast_bf16():
        methods[f"length-sorted batches of {batch_size}, bf16 (selfclone eval)"] = \
            lambda part: evaluate(net, part, pad, batch_size, autocast=True)
    for fn in methods.values():                  # warm-up: first-call allocations, bf16 kernels
        fn(encoded[:2])
    load_before = os.getloadavg()[0]
    seconds = dict.fromkeys(methods, 0.0)
    loss_sum, scored = dict.fromkeys(methods, 0.0), dict.fromkeys(methods, 0)
    names = list(methods)
    rounds = max(1, min(rounds, len(encoded)))
    for r in range(rounds):
        part = encoded[r::rounds]
        for name in names[r % len(names):] + names[:r % len(names)]:
            started = time.perf_counter()
            result = methods[name](part)
            seconds[name] += time.perf_counter() - started
            loss_sum[name] += result["loss"] * result["tokens"]
            scored[name] += result["tokens"]
    console.print(f"machine: {machine.describe()}; torch threads {torch.get_num_threads()}; "
                  f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    console.print(f"model {model}; {len(encoded)} examples of the demo persona, {tokens} tokens "
                  f"({tokens / len(encoded):.0f} per example), {rounds} interleaved rounds")
    table = Table(title="held-out loss throughput")
    for col in ("method", "seconds", "examples/s", "vs one at a time", "loss"):
        table.add_column(col, justify="right" if col != "method" else "left")
    runs = {name: {"seconds": seconds[name], "loss": loss_sum[name] / max(scored[name], 1),
                   "examples_per_second": len(encoded) / seconds[name]} for name in methods}
    base = runs[names[0]]["seconds"]
    for name, run in runs.items():
        run["speedup"] = base / run["seconds"]
        table.add_row(name, f"{run['seconds']:.1f}", f"{run['examples_per_second']:.2f}", f"{run['speedup']:.2f}x",
                      f"{run['loss']:.4f}")
    console.print(table)
    losses = [run["loss"] for run in runs.values()]
    agree = max(losses) - min(losses) < 5e-3 * max(1.0, abs(losses[0]))     # bf16 moves the loss by ~0.1%
    console.print(("[green]" if agree else "[red]") + f"losses agree: {agree}[/]")
    typer.echo(json.dumps({"benchmark": "eval", "machine": machine.describe(), "threads": torch.get_num_threads(),
                           "load_average": [load_before, os.getloadavg()[0]], "examples": len(encoded),
                           "tokens": tokens, "batch_size": batch_size, "losses_agree": agree, "methods": runs}))
    return runs
