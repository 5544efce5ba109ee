"""How much memory a training run will take, estimated from the model's config before anything loads.

    shape = Shape.from_config(json.load(open("config.json")))
    need = estimate(shape, "lora", device_type="cuda", batch_size=8, seq_length=1024)
    check_fits(shape, "lora", device, batch_size=8, seq_length=1024)    # TrainingError when it will not fit

The estimate counts weights, gradients and AdamW's two moments for what trains, activations at the batch and
sequence length, the logits of every position, and a fixed runtime overhead. It is an estimate (the
`selfclone models recommend` table says so): real use depends on the attention kernel, fragmentation and the
allocator. KNOWN_BASES holds the sizes from the config.json of well-known bases, so the recommendation needs no
download.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import models
from ..errors import TrainingError

GiB = 1024 ** 3
METHODS = ("lora", "qlora", "full")
LORA_TARGETS_PER_LAYER = 7          # q, k, v, o, gate, up, down: peft's "all-linear" on Llama-shaped models
RUNTIME_OVERHEAD = {"cuda": 1.0 * GiB, "cpu": 0.5 * GiB}   # CUDA context and kernels; Python, torch and tokenizer


@dataclass(frozen=True)
class Shape:
    """The sizes that decide memory, as config.json names them."""

    hidden_size: int
    num_hidden_layers: int
    vocab_size: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    tie_word_embeddings: bool = True

    @classmethod
    def from_config(cls, config: dict, where: str = "config.json") -> "Shape":
        config = config.get("text_config", config)             # multimodal configs nest the language model's
        try:
            heads = int(config["num_attention_heads"])
            hidden = int(config["hidden_size"])
            return cls(hidden, int(config["num_hidden_layers"]), int(config["vocab_size"]),
                       int(config.get("intermediate_size") or 4 * hidden), heads,
                       int(config.get("num_key_value_heads") or heads),
                       int(config.get("head_dim") or hidden // heads),
                       bool(config.get("tie_word_embeddings", True)))
        except (KeyError, TypeError, ValueError) as exc:
            raise TrainingError(f"{where} lacks the sizes a memory estimate needs ({exc})",
                                "pass --force to train without the estimate") from None

    @classmethod
    def from_dir(cls, folder: str | Path) -> "Shape":
        path = Path(folder) / "config.json"
        return cls.from_config(json.loads(path.read_text()), str(path))

    @property
    def parameters(self) -> int:
        h, kv = self.hidden_size, self.num_key_value_heads * self.head_dim
        q = self.num_attention_heads * self.head_dim
        attention = h * q + 2 * h * kv + q * h
        mlp = 3 * h * self.intermediate_size
        embeddings = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        return self.num_hidden_layers * (attention + mlp + 2 * h) + embeddings + h

    @property
    def embedding_parameters(self) -> int:
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    def lora_parameters(self, rank: int) -> int:
        h, kv = self.hidden_size, self.num_key_value_heads * self.head_dim
        q, i = self.num_attention_heads * self.head_dim, self.intermediate_size
        per_layer = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + i) + (i + h)
        return self.num_hidden_layers * rank * per_layer


@dataclass(frozen=True)
class Estimate:
    method: str
    weights: float
    trainable_states: float      # gradients + AdamW moments (+ fp32 master copies) of what trains
    activations: float
    overhead: float

    @property
    def total(self) -> float:
        return self.weights + self.trainable_states + self.activations + self.overhead

    def gib(self) -> float:
        return self.total / GiB


def estimate(shape: Shape, method: str, *, device_type: str = "cuda", batch_size: int = 8, seq_length: int = 1024,
             lora_rank: int = 16, processes: int = 1) -> Estimate:
    """Bytes one training process needs. On CUDA a LoRA base is held in bf16 and full training keeps fp32 weights
    under bf16 autocast; on the CPU weights are fp32. QLoRA holds the linear layers in NF4 (about 0.52 bytes a
    weight with double quantization), the embeddings in bf16, and checkpoints activations (peft's
    prepare_model_for_kbit_training turns gradient checkpointing on)."""
    if method not in METHODS:
        raise TrainingError(f"unknown training method {method!r} for the estimate", f"use one of {', '.join(METHODS)}")
    params = shape.parameters
    lora = shape.lora_parameters(lora_rank)
    act_bytes = 2 if device_type == "cuda" else 4
    tokens = batch_size * seq_length
    if method == "full":
        weights = params * 4
        trainable = params * (4 + 8)                    # fp32 gradients + AdamW exp_avg and exp_avg_sq
    elif method == "lora":
        weights = params * (2 if device_type == "cuda" else 4)
        trainable = lora * (4 + 4 + 8)                  # fp32 adapter, its gradient, AdamW moments
    else:
        linear = params - shape.embedding_parameters
        weights = linear * 0.52 + shape.embedding_parameters * 2
        trainable = lora * (4 + 4 + 8)
    per_layer_token = 10 * shape.hidden_size + 6 * shape.intermediate_size   # saved activations (Korthikanti et al.)
    if method == "qlora":                    # checkpointed: each layer's input, plus one layer recomputed
        activations = tokens * act_bytes * (shape.num_hidden_layers * shape.hidden_size + per_layer_token)
    else:
        activations = tokens * act_bytes * shape.num_hidden_layers * per_layer_token
    activations += tokens * shape.vocab_size * 4 * 2    # fp32 logits and their gradient, every position
    overhead = RUNTIME_OVERHEAD.get(device_type, RUNTIME_OVERHEAD["cpu"])
    scale = processes if device_type == "cpu" else 1    # CPU processes share one RAM; GPUs have one each
    return Estimate(method, weights * scale, trainable * scale, activations * scale, overhead * scale)


def available_bytes(device_type: str, index: int | None = None) -> tuple[float, str]:
    """(free bytes, what they are) on this machine: the GPU's free memory, or the RAM available."""
    if device_type == "cuda":
        import torch

        free, total = torch.cuda.mem_get_info(index or 0)
        return float(free), f"{free / GiB:.1f} GiB free of {total / GiB:.1f} GiB on {torch.cuda.get_device_name(index or 0)}"
    available = _meminfo("MemAvailable")
    return available, f"{available / GiB:.1f} GiB of RAM available (of {_meminfo('MemTotal') / GiB:.1f} GiB)"


def _meminfo(key: str) -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_fits(shape: Shape, method: str, device_type: str, *, batch_size: int, seq_length: int, lora_rank: int = 16,
               processes: int = 1, index: int | None = None, available: float | None = None,
               model_name: str = "the model") -> Estimate:
    """The estimate, or TrainingError saying what it needs, what is there and what to do."""
    need = estimate(shape, method, device_type=device_type, batch_size=batch_size, seq_length=seq_length,
                    lora_rank=lora_rank, processes=processes)
    if available is None:
        available, there = available_bytes(device_type, index)
    else:
        there = f"{available / GiB:.1f} GiB"
    if need.total <= available:
        return need
    ways = []
    if method != "qlora":
        ways.append("--load-4bit (QLoRA, on a GPU)" if device_type == "cuda" else "a GPU with --load-4bit (QLoRA)")
    if method == "full":
        ways.append("LoRA (leave out --full)")
    if batch_size > 1:
        ways.append(f"--batch-size {max(1, batch_size // 2)}")
    ways += ["a smaller base (`selfclone models recommend`)", "--force to try anyway"]
    raise TrainingError(
        f"{model_name} ({shape.parameters / 1e9:.2f}B parameters) needs about {need.gib():.1f} GiB to train with "
        f"{method} at batch {batch_size} x {seq_length} tokens (weights {need.weights / GiB:.1f}, optimizer and "
        f"gradients {need.trainable_states / GiB:.1f}, activations {need.activations / GiB:.1f} GiB), "
        f"and this machine has {there}", "try " + ", or ".join(ways))


# The sizes of well-known bases, from their config.json (no download needed to recommend one).
def _shape(h, layers, vocab, inter, heads, kv, head_dim=None, tied=True) -> Shape:
    return Shape(h, layers, vocab, inter, heads, kv, head_dim or h // heads, tied)


KNOWN_BASES: dict[str, Shape] = {
    "SmolLM2-135M-Instruct": _shape(576, 30, 49152, 1536, 9, 3),
    "Qwen2.5-0.5B-Instruct": _shape(896, 24, 151936, 4864, 14, 2),
    "Qwen2.5-1.5B-Instruct": _shape(1536, 28, 151936, 8960, 12, 2),
    "Qwen2.5-3B-Instruct": _shape(2048, 36, 151936, 11008, 16, 2),
    "Qwen2.5-7B-Instruct": _shape(3584, 28, 152064, 18944, 28, 4, tied=False),
    "Qwen2.5-14B-Instruct": _shape(5120, 48, 152064, 13824, 40, 8, tied=False),
    "Llama-3.2-1B-Instruct": _shape(2048, 16, 128256, 8192, 32, 8, 64),
    "Llama-3.2-3B-Instruct": _shape(3072, 28, 128256, 8192, 24, 8, 128),
    "Llama-3.1-8B-Instruct": _shape(4096, 32, 128256, 14336, 32, 8, tied=False),
    "Mistral-7B-Instruct-v0.3": _shape(4096, 32, 32768, 14336, 32, 8, tied=False),
    "gemma-2-2b-it": _shape(2304, 26, 256000, 9216, 8, 4, 256),
    "gemma-2-9b-it": _shape(3584, 42, 256000, 14336, 16, 8, 256),
}


def recommend(available: float, device_type: str, *, batch_size: int = 4, seq_length: int = 1024,
              lora_rank: int = 16) -> list[dict]:
    """For each known base: its parameters and, per method, the estimated GiB and whether it fits `available`."""
    rows = []
    for name, shape in KNOWN_BASES.items():
        row = {"model": name, "parameters_b": round(shape.parameters / 1e9, 2)}
        for method in METHODS:
            if method == "qlora" and device_type != "cuda":
                row[method] = {"gib": None, "fits": False, "why": "needs CUDA"}
                continue
            need = estimate(shape, method, device_type=device_type, batch_size=batch_size, seq_length=seq_length,
                            lora_rank=lora_rank)
            row[method] = {"gib": round(need.gib(), 1), "fits": need.total <= available}
        rows.append(row)
    return rows


def check_run(ref, settings, longest: int, processes: int = 1) -> Estimate | None:
    """Before a run folder exists: the device is there (`--device cuda`, `--load-4bit`) and the model fits it at
    the settings' batch size and the data's longest example. None for a model without a local config (a hub id)."""
    from . import devices

    device = devices.pick(settings.device)
    if settings.load_4bit:
        devices.check_4bit(device)
    if ref.kind == "hub":
        return None
    shape = Shape.from_dir(models.local_dir(ref))
    method = "qlora" if settings.load_4bit else "full" if settings.full else "lora"
    return check_fits(shape, method, device.type, batch_size=settings.batch_size, seq_length=longest,
                      lora_rank=settings.lora_rank, processes=processes, index=device.index, model_name=ref.name)
