"""`selfclone bench chat`: time to first token (200-token prompt) and decode speed (64-token reply) of the
transformers Backend against plain `model.generate` on the same loaded model, in the same run."""
from __future__ import annotations

import json
import statistics
import time

import typer

from .. import machine
from ..config import GenerationOptions
from ..backends.transformers_backend import TransformersBackend
from ..terminal import console

FILLER = ("The keeper climbed the spiral stair at dusk, trimmed the wick, wound the clockwork and wrote the weather "
          "in the log: wind south-west, sea moderate, visibility good. ")


def _prompt(tokenizer, target: int = 200) -> list[dict]:
    text = ""
    while len(tokenizer(text)["input_ids"]) < target - 30:
        text += FILLER
    return [{"role": "user", "content": text + "What did the keeper write?"}]


class _Clock:
    """A stopping criterion that never stops: it timestamps each generated token inside one generate call."""

    def __init__(self):
        self.stamps: list[float] = []

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        self.stamps.append(time.perf_counter())
        return torch.zeros(input_ids.shape[0], dtype=torch.bool)


def _plain(model, tokenizer, messages, new_tokens: int) -> tuple[float, float]:
    """(time to first token, decode tokens/s) for plain greedy model.generate."""
    import torch
    from transformers import StoppingCriteriaList

    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    clock = _Clock()
    with torch.inference_mode():
        start = time.perf_counter()
        model.generate(**ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                       stopping_criteria=StoppingCriteriaList([clock]))
    return clock.stamps[0] - start, (len(clock.stamps) - 1) / (clock.stamps[-1] - clock.stamps[0])


def _ours(backend: TransformersBackend, messages, new_tokens: int) -> tuple[float, float]:
    """(time to first text piece, decode tokens/s) through the Backend's streaming chat."""
    options = GenerationOptions(max_tokens=new_tokens, temperature=0)
    start = time.perf_counter()
    pieces, stamps = [], []
    for piece in backend.chat(messages, options):
        pieces.append(piece)
        stamps.append(time.perf_counter())
    produced = len(backend.tokenizer("".join(pieces), add_special_tokens=False)["input_ids"])
    return stamps[0] - start, (produced - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


def bench_chat(model: str = typer.Option("smollm2-135m"), repeats: int = typer.Option(3),
               new_tokens: int = typer.Option(64),
               export: str = typer.Option(None, "--export", help="also export this model or clone to f16, Q8_0 and "
                                          "Q4_K_M and report their decode speed, held-out loss against the merged "
                                          "model and the fidelity verdict"),
               check: str = typer.Option(None, "--check", help="held-out data for --export (default: the run's)")):
    """Time to first token and decode tokens/s of the chat backend against plain model.generate."""
    console.print(f"machine: {machine.describe()}")
    backend = TransformersBackend(model)
    messages = _prompt(backend.tokenizer)
    prompt_tokens = len(backend.encode(messages)[0][0])
    _plain(backend.model, backend.tokenizer, messages, 4)          # warm-up
    plain, ours = [], []
    for _ in range(repeats):            # interleaved, so load on the machine hits both alike
        plain.append(_plain(backend.model, backend.tokenizer, messages, new_tokens))
        ours.append(_ours(backend, messages, new_tokens))
    med = lambda rows, i: statistics.median(r[i] for r in rows)  # noqa: E731
    result = {"model": model, "prompt_tokens": prompt_tokens, "new_tokens": new_tokens, "machine": machine.describe(),
              "plain_ttft_s": med(plain, 0), "plain_decode_tps": med(plain, 1),
              "ours_ttft_s": med(ours, 0), "ours_decode_tps": med(ours, 1)}
    result["ttft_ratio"] = result["plain_ttft_s"] / result["ours_ttft_s"]
    result["decode_ratio"] = result["ours_decode_tps"] / result["plain_decode_tps"]
    console.print(f"prompt {prompt_tokens} tokens, reply {new_tokens} tokens, median of {repeats}")
    console.print(f"  plain generate : first token {result['plain_ttft_s']*1000:.0f} ms, decode {result['plain_decode_tps']:.1f} tokens/s")
    console.print(f"  selfclone chat : first token {result['ours_ttft_s']*1000:.0f} ms, decode {result['ours_decode_tps']:.1f} tokens/s")
    console.print(f"  ratio (ours/plain): decode {result['decode_ratio']:.2f}x, first token {result['ttft_ratio']:.2f}x faster")
    from ..backends.llamacpp_backend import available

    if available():
        from . import llama_chat

        result |= llama_chat.measure(messages, new_tokens, repeats)
        result["llama_vs_own"] = result["llama_ours_decode_tps"] / result["llama_own_decode_tps"]
        result["llama_vs_transformers"] = result["llama_ours_decode_tps"] / result["ours_decode_tps"]
        result["ask_peak_rss_mb"] = llama_chat.peak_rss_of_ask()
        console.print(f"  llama.cpp own  : first token {result['llama_own_ttft_s']*1000:.0f} ms cold, "
                      f"{result['llama_own_cached_ttft_s']*1000:.0f} ms cached, decode {result['llama_own_decode_tps']:.1f} tokens/s")
        console.print(f"  llamacpp chat  : first token {result['llama_ours_ttft_s']*1000:.0f} ms cold, "
                      f"{result['llama_ours_cached_ttft_s']*1000:.0f} ms cached, decode {result['llama_ours_decode_tps']:.1f} tokens/s")
        console.print(f"  ratio: llamacpp backend / llama.cpp own {result['llama_vs_own']:.2f}x, "
                      f"/ transformers backend {result['llama_vs_transformers']:.2f}x")
        console.print(f"  peak RAM of a whole `selfclone ask smollm2-135m` process: {result['ask_peak_rss_mb']:.0f} MB")
        if export:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                result["exported"] = llama_chat.exported(export, messages, new_tokens, check, tmp)
            for quantize, row in result["exported"].items():
                base = f", base {row['base_loss']:.4f}" if row["base_loss"] is not None else ""
                console.print(f"  {export} {quantize} ({row['size_mb']:.0f} MB): decode {row['decode_tps']:.1f} tokens/s; "
                              f"held-out loss GGUF {row['gguf_loss']:.4f} vs merged {row['merged_loss']:.4f}{base} "
                              f"(limit {row['limit']:.4f}): {'kept' if row['passed'] else 'REFUSED'}")
    else:
        console.print("  llama.cpp: not installed (make setup), so only the transformers figures")
    print(json.dumps(result))
