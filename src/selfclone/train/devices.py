"""Where training runs and in what number format: CUDA or CPU, bf16 or fp32, SDPA or flash attention, 4-bit or not.

    device = devices.pick("auto")                  # Device(type="cuda", index=0, bf16=True, attention="sdpa")
    model, tokenizer = devices.load_for_training(ref, settings, device)

`--device auto` takes the GPU when torch sees one, else the CPU; `--device cuda` on a machine without CUDA is an
error with the way out, never a silent CPU run. On a GPU bf16 is used where the card supports it; on the CPU it is
used only where it measured faster (AMX / AVX-512-bf16, see machine.fast_bf16). `--load-4bit` (QLoRA) loads the
base through bitsandbytes in NF4 with double quantization and bf16 compute, then peft's
prepare_model_for_kbit_training; it needs CUDA and bitsandbytes, and says so.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .. import machine, models
from ..errors import TrainingError

DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Device:
    type: str                 # "cpu" or "cuda"
    index: int | None = None
    bf16: bool = False        # bf16 is supported and fast here
    attention: str = "sdpa"   # the attn_implementation to load the model with

    @property
    def name(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def torch(self):
        import torch

        return torch.device(self.name)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _attention() -> str:
    return "flash_attention_2" if importlib.util.find_spec("flash_attn") is not None else "sdpa"


def pick(asked: str = "auto", index: int | None = None) -> Device:
    """The device of `--device`: auto, cpu or cuda. `index` is the GPU of this process (its local rank)."""
    if asked not in DEVICES:
        raise TrainingError(f"--device must be one of {', '.join(DEVICES)}, got {asked!r}",
                            "pass --device auto (GPU when there is one), cpu or cuda")
    if asked == "cuda" and not cuda_available():
        import torch

        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        raise TrainingError(f"--device cuda asked for a GPU, but torch sees none (torch {torch.__version__}, {build})",
                            "train on the CPU with --device cpu (or auto), or on a machine with an NVIDIA GPU and "
                            "a CUDA build of torch (pip install torch --index-url https://download.pytorch.org/whl/cu128)")
    if asked == "cpu" or not cuda_available():
        return Device("cpu", None, bf16=machine.fast_bf16(), attention="sdpa")
    import torch

    return Device("cuda", index or 0, bf16=torch.cuda.is_bf16_supported(), attention=_attention())


def use_bf16(precision: str, device: Device) -> bool:
    """bf16 autocast: asked for, or (auto) where this device is fast at it."""
    return precision == "bf16" or (precision == "auto" and device.bf16)


def check_4bit(device: Device) -> None:
    """QLoRA's requirements, each with its way out, before any model loads."""
    if device.type != "cuda":
        raise TrainingError("--load-4bit (QLoRA) needs an NVIDIA GPU: bitsandbytes' 4-bit kernels run on CUDA",
                            "on this machine train LoRA without --load-4bit (a smaller base fits: "
                            "`selfclone models recommend`), or run on a GPU machine")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise TrainingError("--load-4bit (QLoRA) needs the bitsandbytes package, which is not installed",
                            "pip install bitsandbytes==0.50.0 (on the GPU machine), or leave out --load-4bit")


def quantization_config():
    """NF4 with double quantization and bf16 compute: the QLoRA recipe."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


def load_for_training(ref, device: Device, *, full: bool = False, load_4bit: bool = False, bf16: bool = False):
    """(model, tokenizer) on `device`, trainable. Trained weights stay fp32 under bf16 autocast; a LoRA base on a
    GPU is held in bf16 when bf16 is on (half the memory, and peft keeps the adapter itself in fp32); QLoRA holds
    it in 4-bit."""
    import torch

    if load_4bit:
        check_4bit(device)
        model, tokenizer = models.load(ref, trainable=True, dtype=torch.bfloat16,
                                       quantization_config=quantization_config(),
                                       device_map={"": device.index or 0}, attn_implementation=device.attention)
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
        return model, tokenizer
    extra = {"attn_implementation": device.attention} if device.type == "cuda" else {}
    dtype = torch.bfloat16 if device.type == "cuda" and bf16 and not full else torch.float32
    model, tokenizer = models.load(ref, trainable=True, dtype=dtype, **extra)
    return model.to(device.torch()), tokenizer
