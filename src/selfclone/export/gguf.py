"""A model or clone -> one GGUF file: merged weights, its tokenizer and the chat template it was trained with.

llama.cpp's own converter (`convert_hf_to_gguf.py`, unpacked from the llama-cpp-python sdist by `make setup` into
`.venv/share/llama.cpp/`) writes an f16 GGUF; llama.cpp's quantizer (`llama_cpp.llama_model_quantize`) makes Q8_0
or Q4_K_M from it. Q4_1 is never offered: re-quantized to it a merged LoRA snaps back to the base (shared/FACTS.md).

    path = export_gguf(models.resolve("smollm2-135m"), Path("out.gguf"), "q8_0")
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import models
from ..errors import SelfcloneError

# name -> llama.cpp's file type constant (LLAMA_FTYPE_MOSTLY_*); f16 is what the converter writes itself. bf16 keeps
# the token embedding (tied to the output head in small models) at Q8_0: llama.cpp's bf16 matmul is its fastest
# prompt path on AVX-512 CPUs, and the embedding is only looked up and multiplied once per token.
QUANTIZATIONS = {"f16": 1, "q8_0": 7, "q4_k_m": 15, "bf16": 32}
KEEP_EMBEDDING_Q8 = {"bf16"}
GGML_TYPE_Q8_0 = 8
DEFAULT_QUANTIZATION = "q8_0"


class ExportError(SelfcloneError):
    """An export that cannot be done or did not keep the model."""


def converter_dir() -> Path:
    return Path(sys.prefix) / "share" / "llama.cpp"


def check_quantization(quantize: str) -> str:
    q = quantize.lower()
    if q not in QUANTIZATIONS:
        extra = " (Q4_1 wipes a fine-tune's small deltas, so it is never offered)" if q == "q4_1" else ""
        raise ExportError(f"unknown quantization '{quantize}'{extra}", f"use one of: {', '.join(QUANTIZATIONS)}")
    return q


def require_llama_cpp():
    try:
        import llama_cpp
    except ImportError as exc:
        raise ExportError("exporting and checking GGUF files needs llama-cpp-python",
                          "run `make setup`, or: CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX512=ON\" "
                          "pip install llama-cpp-python==0.3.36") from exc
    return llama_cpp


def require_converter() -> Path:
    script = converter_dir() / "convert_hf_to_gguf.py"
    if not script.exists():
        raise ExportError(f"llama.cpp's converter is missing ({script})",
                          "run `make setup`: it unpacks convert_hf_to_gguf.py from the llama-cpp-python sdist")
    return script


def check_architecture(config) -> str:
    """The model's architecture, if llama.cpp's converter registers it."""
    arch = (getattr(config, "architectures", None) or ["?"])[0]
    registered = "".join(p.read_text(encoding="utf-8") for p in (converter_dir() / "conversion").glob("*.py"))
    if f'"{arch}"' not in registered:
        raise ExportError(f"llama.cpp cannot convert the architecture {arch}",
                          "export a model of an architecture llama.cpp supports (llama, qwen2, mistral, ...), "
                          "or talk to it with --backend transformers")
    return arch


def merged(ref: models.ModelRef):
    """(model, tokenizer) with a LoRA merged in; refuses a LoRA that added tokens."""
    model, tokenizer = models.load(ref)
    vocab = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > vocab:
        raise ExportError(f"the clone's tokenizer has {len(tokenizer)} tokens but its model only {vocab}: "
                          "the LoRA added tokens the base model has no embeddings for",
                          "train without adding tokens, or with --full --merge so the embeddings are saved")
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    return model, tokenizer


def _is_disk_full(exc: BaseException) -> bool:
    """ENOSPC however it arrives: an OSError, or safetensors' own error ("No space left on device (os error 28)")."""
    return (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in str(exc)


def _disk_full(where: Path) -> ExportError:
    return ExportError(f"the disk is full while writing {where}",
                       "free some space (the export needs about 4x the model's f16 size while it runs) or pass --out "
                       "on another disk")


def write_hf_dir(model, tokenizer, folder: Path) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def convert(hf_dir: Path, out: Path) -> None:
    """llama.cpp's converter, run with its own gguf-py first on the path."""
    script = require_converter()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(script.parent / "gguf-py"), str(script.parent)]),
               NO_LOCAL_GGUF="")
    done = subprocess.run([sys.executable, str(script), str(hf_dir), "--outfile", str(out), "--outtype", "f16"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-3:]
        # gguf-py reports a short write as "N requested and M written", without ENOSPC's words
        f16_size = sum(p.stat().st_size for p in hf_dir.glob("*.safetensors")) // 2
        if "No space left" in done.stderr or shutil.disk_usage(out.parent).free < f16_size:
            raise OSError(errno.ENOSPC, "No space left on device", str(out))   # export_gguf names the output
        raise ExportError(f"llama.cpp's converter failed on {hf_dir}: {' | '.join(tail)}",
                          "check that the model is a supported architecture and its files are complete")


def quantize_file(source: Path, out: Path, quantize: str, threads: int | None = None) -> None:
    llama_cpp = require_llama_cpp()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTIZATIONS[quantize]
    params.nthread = threads or os.cpu_count() or 1
    params.allow_requantize = True          # a shipped quantized GGUF (the embedded Q4_1) re-typed for speed
    if quantize in KEEP_EMBEDDING_Q8:
        params.token_embedding_type = params.output_tensor_type = GGML_TYPE_Q8_0
    from llama_cpp._utils import suppress_stdout_stderr

    with suppress_stdout_stderr(disable=False):     # the C quantizer logs every tensor
        rc = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if rc != 0:
        if shutil.disk_usage(out.parent).free < source.stat().st_size:
            raise OSError(errno.ENOSPC, "No space left on device", str(out))   # export_gguf names the output
        raise ExportError(f"llama.cpp's quantizer failed ({rc}) turning {source.name} into {quantize}",
                          "try --quantize f16 or q8_0")


def export_gguf(ref: models.ModelRef, out: Path, quantize: str = DEFAULT_QUANTIZATION, *, loaded=None) -> Path:
    """Write `out` atomically: nothing at `out` unless the whole file was written."""
    quantize = check_quantization(quantize)
    require_llama_cpp()
    require_converter()
    model, tokenizer = loaded or merged(ref)
    check_architecture(model.config)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_hf_dir(model, tokenizer, work / "hf")
        f16 = work / "model-f16.gguf"
        convert(work / "hf", f16)
        final = f16
        if quantize != "f16":
            final = work / f"model-{quantize}.gguf"
            quantize_file(f16, final, quantize)
        os.replace(final, out)
    except Exception as exc:
        if _is_disk_full(exc):
            raise _disk_full(out) from exc
        raise
    finally:
        remove_tree(work)
    return out


def remove_tree(folder: Path) -> None:
    """rmtree that a Ctrl-C cannot cut short: the interrupt is re-raised once the folder is gone."""
    interrupt = None
    while True:
        try:
            shutil.rmtree(folder, ignore_errors=True)
            break
        except KeyboardInterrupt as exc:
            interrupt = exc
    if interrupt is not None:
        raise interrupt
