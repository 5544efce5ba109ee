"""`selfclone bench train`: trained-token throughput of our SFT loop against plain TRL SFTTrainer, one run,
and the fraction of this machine's limit that it reaches.

Both train the same LoRA (the default rank, all linear layers) on the same model and demo data with the same batch
size and learning rate, for the same number of steps; the first step of each is warm-up and not timed.
Throughput counts the examples' real (non-padding) tokens per second of step time. Both are then scored on
the demo's held-out replies with the same loss function, so a speed-up that hurt learning would show.

The limit: the matmul peak measured here (fp32 and bf16, a few large torch.matmul) divided by the FLOPs one
token needs (`flops_per_token`: forward and input-gradient through every frozen linear layer, LoRA's own
forward and both gradients, attention, and the output projection at trained positions only).
`--levers` also times our loop with one default changed at a time (fp32, packing, LoRA dropout), so each
lever's ratio comes from the same run.

    selfclone bench train --steps 10
    selfclone bench train --steps 6 --levers --no-trl
The result is saved to the cache (bench-train.json), where `selfclone prepare` reads it for time estimates.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import typer

from .. import config, machine, models
from ..dataset.chat import read_examples
from ..fileio import write_json
from ..terminal import console
from ..demo import demo_files, heldout_loss
from ..train.settings import SFTSettings


def _demo_data():
    return read_examples(demo_files() / "train.jsonl"), read_examples(demo_files() / "heldout.jsonl")


def matmul_peak(dtype_name: str, size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the fastest of a few size x size matmuls in this dtype (the machine's practical peak)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.matmul(a, b)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size ** 3 / best / 1e9


def flops_per_token(model_name: str, lora_rank: int, mean_length: float, trained_share: float) -> dict:
    """FLOPs per real token of one LoRA training step, derived from the model's shapes.

    Frozen linear layers (N weights): forward 2N, gradient of the input 2N, no weight gradient. LoRA (n
    weights): forward 2n, input and weight gradients 4n. Attention: QK^T and AV over on average half the
    sequence, forward 4 x (L/2) x d per layer, backward twice that. Output projection (V x d), frozen: 4Vd,
    at trained positions only (the loop never projects prompt tokens).
    """
    from .. import models

    config = models.load(models.resolve(model_name))[0].config
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    heads, kv = config.num_attention_heads, getattr(config, "num_key_value_heads", config.num_attention_heads)
    kv_dim = d // heads * kv
    shapes = [(d, d), (d, kv_dim), (d, kv_dim), (d, d), (d, config.intermediate_size),
              (d, config.intermediate_size), (config.intermediate_size, d)]          # q k v o gate up down
    frozen = layers * sum(i * o for i, o in shapes)
    lora = layers * sum(lora_rank * (i + o) for i, o in shapes)
    attention = 3 * layers * 4 * (mean_length / 2) * d
    head = 4 * vocab * d * trained_share
    total = 4 * frozen + 6 * lora + attention + head
    return {"total": total, "frozen_linear": 4 * frozen, "lora": 6 * lora, "attention": attention,
            "output_projection": head, "frozen_params": frozen, "lora_params": lora}


def measure_ours(steps: int, batch_size: int, precision: str, **overrides) -> dict:
    from ..train import sft
    from ..train.rundir import RunDir

    train, heldout = _demo_data()
    with tempfile.TemporaryDirectory() as tmp:
        settings = SFTSettings(batch_size=batch_size, max_steps=steps + 1, epochs=100, report_to=("none",),
                               precision=precision, eval_every=10**6, keep_checkpoints=1, **overrides)
        run = sft.prepare_run(train, [], settings, Path(tmp) / "run", Path(tmp), {})
        sft.train(run)
        rows = [r for r in RunDir(run.path).read_metrics() if "train_loss" in r]
        timed = rows[1:]                                   # the first step is warm-up
        seconds = sum(r["step_seconds"] for r in timed)
        tokens = rows[-1]["elapsed_tokens"] - rows[0]["elapsed_tokens"]
        model, tokenizer = models.load(models.resolve(str(run.path)))
        return {"tokens_per_s": tokens / seconds, "step_s": seconds / len(timed),
                "heldout_loss": heldout_loss(model, tokenizer, heldout, 2048), "steps_timed": len(timed),
                "settings": {k: getattr(settings, k) for k in ("precision", "packing", "lora_dropout")}}


def measure_trl(steps: int, batch_size: int) -> dict:
    """Plain TRL SFTTrainer with its defaults and our LoRA shape (our default rank, alpha 2 x rank, all linear layers,
    the same dropout as our default: peft's own default is 0 too)."""
    import datasets
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    train, heldout = _demo_data()
    ref = models.resolve("smollm2-135m")
    model, tokenizer = models.load(ref, trainable=True)
    data = datasets.Dataset.from_list([{"messages": [t.to_dict() for t in e.messages]} for e in train])
    times: list[float] = []
    tokens: list[int] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.start)

    ours = SFTSettings()
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, per_device_train_batch_size=batch_size, learning_rate=2e-4,
                         max_steps=steps + 1, logging_steps=1, report_to="none", save_strategy="no",
                         use_cpu=True)   # the one change its defaults need to run on a CPU (bf16=True otherwise refuses)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                             peft_config=LoraConfig(r=ours.lora_rank, lora_alpha=2 * ours.lora_rank,
                                                    lora_dropout=ours.lora_dropout, target_modules="all-linear",
                                                    task_type="CAUSAL_LM"), callbacks=[Clock()])
        collate = trainer.data_collator

        def counting(features):
            batch = collate(features)
            tokens.append(int(batch["attention_mask"].sum()) if "attention_mask" in batch
                          else int((batch["input_ids"] != tokenizer.pad_token_id).sum()))
            return batch

        trainer.data_collator = counting
        trainer.train()
        trained = trainer.model.merge_and_unload() if hasattr(trainer.model, "merge_and_unload") else trainer.model
        n = min(len(times), len(tokens))
        seconds, count = sum(times[1:n]), sum(tokens[1:n])
        return {"tokens_per_s": count / seconds, "step_s": seconds / (n - 1), "heldout_loss": heldout_loss(trained, tokenizer, heldout, 2048),
                "steps_timed": n - 1, "bf16": args.bf16, "gradient_checkpointing": args.gradient_checkpointing}


def levers(defaults: SFTSettings) -> dict[str, dict]:
    """Our loop with one default changed each: the ratio of the default to each says what that lever is worth."""
    dropout = 0.05 if defaults.lora_dropout == 0 else 0.0
    return {"fp32 (no bf16 autocast)": {"precision": "fp32"},
            f"packing {'off' if defaults.packing else 'on'}": {"packing": not defaults.packing},
            f"LoRA dropout {dropout:g}": {"lora_dropout": dropout}}


def _data_shape(batch_size: int) -> tuple[float, float]:
    """Mean tokens per example and the share of them that is trained, on the demo data."""
    from ..train.batching import encode_all

    tokenizer = models.load_tokenizer(models.resolve("smollm2-135m"))
    encoded = encode_all(tokenizer, _demo_data()[0], 2048)
    tokens = sum(len(e) for e in encoded)
    return tokens / len(encoded), sum(e.trained_tokens for e in encoded) / tokens


def bench_train(steps: int = typer.Option(12, help="timed steps for each trainer"),
                batch_size: int = typer.Option(8), precision: str = typer.Option("auto", help="ours: auto, fp32, bf16"),
                with_levers: bool = typer.Option(False, "--levers", help="also time our loop with one default "
                                                                      "changed at a time"),
                trl: bool = typer.Option(True, help="measure plain TRL SFTTrainer (the baseline of the speed-up)")):
    """Training throughput against plain TRL SFTTrainer (its defaults), same model, data and settings."""
    import torch

    console.print(f"machine: {machine.describe()}; load average {os.getloadavg()[0]:.1f}; "
                  f"torch threads {torch.get_num_threads()}")
    peaks = {name: matmul_peak(name) for name in ("float32", "bfloat16")}
    mean_length, trained_share = _data_shape(batch_size)
    defaults = SFTSettings()
    flops = flops_per_token("smollm2-135m", defaults.lora_rank, mean_length, trained_share)
    bf16 = precision == "bf16" or (precision == "auto" and machine.fast_bf16())
    peak = peaks["bfloat16" if bf16 else "float32"]
    limit = peak * 1e9 / flops["total"]
    console.print(f"matmul peak: fp32 {peaks['float32']:.0f} GFLOP/s, bf16 {peaks['bfloat16']:.0f} GFLOP/s; "
                  f"{flops['total'] / 1e9:.3f} GFLOP per token ({mean_length:.0f} tokens per example, "
                  f"{trained_share:.0%} trained) -> limit {limit:.0f} tokens/s at {'bf16' if bf16 else 'fp32'}")
    console.print(f"[bold]selfclone SFT loop[/] ({steps} timed steps, batch {batch_size}, precision {precision}) ...")
    ours = measure_ours(steps, batch_size, precision)
    ours["fraction_of_limit"] = ours["tokens_per_s"] / limit
    console.print(f"  {ours['tokens_per_s']:.0f} tokens/s, {ours['step_s']:.2f} s/step, held-out loss "
                  f"{ours['heldout_loss']:.3f}; {ours['fraction_of_limit']:.0%} of the limit")
    lever_rows = {}
    for name, change in (levers(defaults).items() if with_levers else ()):
        row = measure_ours(steps, batch_size, change.get("precision", precision),
                           **{k: v for k, v in change.items() if k != "precision"})
        row["ratio"] = ours["tokens_per_s"] / row["tokens_per_s"]
        lever_rows[name] = row
        console.print(f"  {name}: {row['tokens_per_s']:.0f} tokens/s (ours is {row['ratio']:.2f}x), held-out loss "
                      f"{row['heldout_loss']:.3f}")
    result = {"tokens_per_s": ours["tokens_per_s"], "machine": machine.describe(),
              "load_average": os.getloadavg()[0], "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "matmul_peak_gflops": peaks, "flops_per_token": flops, "limit_tokens_per_s": limit, "ours": ours,
              "levers": lever_rows}
    if trl:
        console.print("[bold]plain TRL SFTTrainer[/] (defaults) ...")
        baseline = measure_trl(steps, batch_size)
        console.print(f"  {baseline['tokens_per_s']:.0f} tokens/s, {baseline['step_s']:.2f} s/step, held-out loss "
                      f"{baseline['heldout_loss']:.3f}  (bf16={baseline['bf16']}, "
                      f"gradient_checkpointing={baseline['gradient_checkpointing']})")
        result["trl"] = baseline
        result["speedup"] = ours["tokens_per_s"] / baseline["tokens_per_s"]
        console.print(f"[bold green]speed-up: {result['speedup']:.2f}x[/] trained tokens/s over plain TRL SFTTrainer")
        write_json(config.cache_dir() / "bench-train.json", result)
    result["load_average_end"] = os.getloadavg()[0]
    typer.echo(json.dumps(result))
