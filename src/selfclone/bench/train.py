"""`selfclone bench train`: trained-token throughput of our SFT loop against plain TRL SFTTrainer, one run.

Both train the same LoRA (rank 16, all linear layers) on the same model and demo data with the same batch
size and learning rate, for the same number of steps; the first step of each is warm-up and not timed.
Throughput counts the examples' real (non-padding) tokens per second of step time. Both are then scored on
the demo's held-out replies with the same loss function, so a speed-up that hurt learning would show.
The result is saved to the cache (bench-train.json), where `selfclone prepare` reads it for time estimates.
"""
from __future__ import annotations

import json
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


def measure_ours(steps: int, batch_size: int, precision: str) -> dict:
    from ..train import sft
    from ..train.rundir import RunDir

    train, heldout = _demo_data()
    with tempfile.TemporaryDirectory() as tmp:
        settings = SFTSettings(batch_size=batch_size, max_steps=steps + 1, epochs=100, report_to=("none",),
                               precision=precision, eval_every=10**6, keep_checkpoints=1)
        run = sft.prepare_run(train, [], settings, Path(tmp) / "run", Path(tmp), {})
        sft.train(run)
        rows = [r for r in RunDir(run.path).read_metrics() if "train_loss" in r]
        timed = rows[1:]                                   # the first step is warm-up
        seconds = sum(r["step_seconds"] for r in timed)
        tokens = rows[-1]["elapsed_tokens"] - rows[0]["elapsed_tokens"]
        model, tokenizer = models.load(models.resolve(str(run.path)))
        return {"tokens_per_s": tokens / seconds, "step_s": seconds / len(rows), "heldout_loss": heldout_loss(model, tokenizer, heldout, 2048),
                "steps_timed": len(timed)}


def measure_trl(steps: int, batch_size: int) -> dict:
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

    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(output_dir=tmp, per_device_train_batch_size=batch_size, learning_rate=2e-4,
                         max_steps=steps + 1, logging_steps=1, report_to="none", save_strategy="no",
                         use_cpu=True)   # the one change its defaults need to run on a CPU (bf16=True otherwise refuses)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                             peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear",
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


def bench_train(steps: int = typer.Option(12, help="timed steps for each trainer"),
                batch_size: int = typer.Option(8), precision: str = typer.Option("auto", help="ours: auto, fp32, bf16")):
    """Training throughput against plain TRL SFTTrainer (its defaults), same model, data and settings."""
    console.print(f"machine: {machine.describe()}")
    console.print(f"[bold]selfclone SFT loop[/] ({steps} timed steps, batch {batch_size}, precision {precision}) ...")
    ours = measure_ours(steps, batch_size, precision)
    console.print(f"  {ours['tokens_per_s']:.0f} tokens/s, {ours['step_s']:.2f} s/step, held-out loss {ours['heldout_loss']:.3f}")
    console.print("[bold]plain TRL SFTTrainer[/] (defaults) ...")
    trl = measure_trl(steps, batch_size)
    console.print(f"  {trl['tokens_per_s']:.0f} tokens/s, {trl['step_s']:.2f} s/step, held-out loss {trl['heldout_loss']:.3f}"
                  f"  (bf16={trl['bf16']}, gradient_checkpointing={trl['gradient_checkpointing']})")
    ratio = ours["tokens_per_s"] / trl["tokens_per_s"]
    console.print(f"[bold green]speed-up: {ratio:.2f}x[/] trained tokens/s over plain TRL SFTTrainer")
    result = {"tokens_per_s": ours["tokens_per_s"], "machine": machine.describe(),
              "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "ours": ours, "trl": trl, "speedup": ratio}
    write_json(config.cache_dir() / "bench-train.json", result)
    print(json.dumps(result))
