"""The GPU check that scripts/gpu-check.sh runs: a Llama-shaped model built from a config (random weights, no
download), 50 LoRA steps in bf16 and 50 full fine-tuning steps through selfclone's own training loop (sft.train),
tokens/s and peak memory against the estimate of train/memory.py, and a resume (stop at step 25, resume, the same
final step and loss as the uninterrupted run).

    python -m selfclone.bench.gpu_check --out DIR            # ~0.7B model on the GPU (H200: a few minutes)
    python -m selfclone.bench.gpu_check --out DIR --tiny     # the same code on a tiny model, on the CPU, seconds

It needs only torch, transformers, peft and accelerate (no trl, bitsandbytes, vllm, typer or matplotlib): the
tokenizer is trained in-process with `tokenizers` on the check's own text. Writes DIR/gpu-check.json and
DIR/gpu-check.md (a table for docs/BENCHMARKS.md and docs/SCALE.md).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import time
from pathlib import Path

# (hidden, layers, intermediate, heads, kv heads, vocab, tokens per example, batch, steps, stop for the resume)
SIZES = {
    "gpu": dict(hidden=2048, layers=12, intermediate=5632, heads=16, kv=8, vocab=32000, example_tokens=480,
                batch=8, steps=50, stop_at=25),
    "tiny": dict(hidden=64, layers=2, intermediate=128, heads=4, kv=2, vocab=2000, example_tokens=60,
                 batch=4, steps=6, stop_at=3),
}
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
WORDS = ("tide bees kettle garden harbour biscuit morning stove rain letter boat gull hedge bread lamp "
         "quiet supper window shore mist village chapel orchard pier fiddle lantern meadow barley").split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)) + "."


def build_model_dir(out: Path, size: dict, seed: int = 0) -> Path:
    """A random-weight Llama with a ChatML tokenizer trained on the check's words, saved as a model folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    rng = random.Random(seed)
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    core = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=min(size["vocab"], 600), special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    core.train_from_iterator([_text(rng, 40) for _ in range(200)] + ["user assistant system\n"], trainer)
    from tokenizers import decoders

    core.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        bos_token="<|im_start|>")
    tokenizer.chat_template = CHATML
    config = LlamaConfig(vocab_size=size["vocab"], hidden_size=size["hidden"], intermediate_size=size["intermediate"],
                         num_hidden_layers=size["layers"], num_attention_heads=size["heads"],
                         num_key_value_heads=size["kv"], max_position_embeddings=2048, tie_word_embeddings=False,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def check_examples(n: int, tokens: int, seed: int = 1):
    from ..dataset.chat import Example

    rng = random.Random(seed)
    words = max(4, tokens // 3)       # the BPE above gives about 1.5 tokens a word; the reply is about half
    return [Example.chat(("user", _text(rng, words // 2)), ("assistant", _text(rng, words)),
                         system="You are Maggie.") for _ in range(n)]


class _StopAt:
    """Training events that press Ctrl-C (a real SIGINT) once step `at` is done: the interrupt path of a person."""

    def __init__(self, at: int | None):
        self.at = at

    def on_start(self, total_steps, done_steps, info):
        pass

    def on_step(self, row):
        if self.at is not None and row["step"] == self.at:
            signal.raise_signal(signal.SIGINT)

    def on_eval(self, row):
        pass


def run_one(label: str, model_dir: Path, runs: Path, size: dict, *, full: bool, stop_at: int | None = None,
            name: str | None = None) -> dict:
    import torch

    from .. import machine
    from ..train import memory, sft
    from ..train.settings import SFTSettings

    cuda = torch.cuda.is_available()
    settings = SFTSettings(model=str(model_dir), batch_size=size["batch"], epochs=1000, max_steps=size["steps"],
                           full=full, lora_dropout=0.0, precision="bf16" if cuda or machine.fast_bf16() else "fp32",
                           report_to=("none",), eval_every=size["steps"] // 2, select="last", suffix="gpucheck",
                           learning_rate_multiplier=1.0, device="auto")
    train = check_examples(size["batch"] * 8, size["example_tokens"])
    run = sft.prepare_run(train, check_examples(8, size["example_tokens"], seed=2), settings, runs / (name or label),
                          runs, {"train_file": "gpu-check"})
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    interrupted_at = None
    try:
        summary = sft.train(run, events=_StopAt(stop_at))
    except sft.TrainingInterrupted:
        interrupted_at = max(r["step"] for r in run.read_metrics() if "train_loss" in r)
        summary = sft.train(run)                       # the resume: from the last checkpoint on
    wall = time.perf_counter() - started
    rows = [r for r in run.read_metrics() if "train_loss" in r]
    warm = rows[min(5, len(rows) - 2)]                 # leave out the first steps (kernel selection, allocator)
    steady = [r for r in rows if r["step"] > warm["step"]]
    tokens_per_second = (rows[-1]["elapsed_tokens"] - warm["elapsed_tokens"]) / max(
        sum(r["step_seconds"] for r in steady), 1e-9)
    shape = memory.Shape.from_dir(model_dir)
    seq = rows[0]["elapsed_tokens"] // size["batch"] or size["example_tokens"]    # the mean tokens of an example
    estimate = memory.estimate(shape, "full" if full else "lora", device_type="cuda" if cuda else "cpu",
                               batch_size=size["batch"], seq_length=seq)
    peak = torch.cuda.max_memory_allocated() if cuda else None
    return {"run": label, "method": "full" if full else "lora", "parameters_b": round(shape.parameters / 1e9, 6),
            "steps": rows[-1]["step"], "steps_logged": [r["step"] for r in rows], "final_train_loss":
            rows[-1]["train_loss"], "first_train_loss": rows[0]["train_loss"], "precision": run.info()["precision"],
            "device": run.info().get("device"), "tokens_per_second": round(tokens_per_second, 1),
            "peak_memory_gib": round(peak / 2**30, 2) if peak is not None else None,
            "estimated_gib": round(estimate.gib(), 2), "tokens_per_step": seq * size["batch"],
            "interrupted_at": interrupted_at, "wall_seconds": round(wall, 1), "status": run.info()["status"],
            "summary_tokens_per_second": summary.get("tokens_per_second")}


def markdown(result: dict) -> str:
    lines = [f"GPU check on {result['machine']} ({result['size']} model, {result['parameters_b'] * 1000:.1f}M parameters, "
             f"{result['total_seconds']} s in all)", "",
             "| run | method | precision | steps | tokens/s (after step 5) | peak memory GiB | estimate GiB | "
             "first -> final train loss |", "|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        peak = "-" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.2f}"
        lines.append(f"| {r['run']} | {r['method']} | {r['precision']} | {r['steps']} | {r['tokens_per_second']:.0f} "
                     f"| {peak} | {r['estimated_gib']:.2f} | {r['first_train_loss']:.3f} -> "
                     f"{r['final_train_loss']:.3f} |")
    resume = result["resume"]
    lines += ["", f"resume: stopped at step {resume['interrupted_at']}, resumed to step {resume['final_step']} "
                  f"(uninterrupted: {resume['reference_step']}); final loss {resume['final_loss']:.4f} vs "
                  f"{resume['reference_loss']:.4f}: {'ok' if resume['ok'] else 'MISMATCH'}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu-check-out"))
    parser.add_argument("--tiny", action="store_true", help="a tiny model on whatever device is there (CPU test)")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import tempfile

    import torch

    from .. import machine

    size = SIZES["tiny" if args.tiny else "gpu"]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="selfclone-gpu-check-"))
    os.environ.setdefault("SELFCLONE_HOME", str(work / "home"))
    args.out.mkdir(parents=True, exist_ok=True)
    model_dir = build_model_dir(work / "model", size)
    runs = []
    for label, full in (("lora", False), ("full", True)):
        runs.append(run_one(label, model_dir, work / "runs", size, full=full))
        (args.out / "gpu-check-partial.json").write_text(json.dumps(runs, indent=2))   # kept if time runs out
    resumed = run_one("lora, stopped and resumed", model_dir, work / "runs", size, full=False,
                      stop_at=size["stop_at"], name="resumed")
    reference = runs[0]
    ok = (resumed["steps_logged"] == list(range(1, size["steps"] + 1)) and resumed["status"] == "finished"
          and resumed["interrupted_at"] in (size["stop_at"], size["stop_at"] + 1)   # Ctrl-C stops after this or the next step
          and abs(resumed["final_train_loss"] - reference["final_train_loss"]) <= 2e-2 * abs(reference["final_train_loss"]))
    result = {"machine": machine.describe(), "torch": torch.__version__, "cuda": torch.cuda.is_available(),
              "size": "tiny" if args.tiny else "gpu", "parameters_b": reference["parameters_b"], "runs": runs + [resumed],
              "resume": {"interrupted_at": resumed["interrupted_at"], "final_step": resumed["steps"],
                         "reference_step": reference["steps"], "final_loss": resumed["final_train_loss"],
                         "reference_loss": reference["final_train_loss"], "ok": ok},
              "total_seconds": round(time.perf_counter() - started, 1)}
    (args.out / "gpu-check.json").write_text(json.dumps(result, indent=2))
    (args.out / "gpu-check.md").write_text(markdown(result))
    print(markdown(result), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
