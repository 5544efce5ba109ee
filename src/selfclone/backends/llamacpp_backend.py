"""llama.cpp in-process (about 5x transformers' decode speed on CPU): the default backend when llama-cpp-python is installed.

It loads GGUF files only: the embedded model or a .gguf file. A clone reaches it as its GGUF, which
`registry.open_backend` gets from the export area on first use (with the fidelity check of export/fidelity.py,
cached beside the run as RUN/gguf/QUANT.gguf). Every generation option
keeps its meaning: temperature (0 = greedy), top_p (top_k and min_p off, as in the transformers backend), OpenAI's
presence and frequency penalties through llama.cpp's own penalties sampler (over its window of the last
`penalty_window` tokens), stop strings that never reach the stream, seed, n, and no_repeat_ngram_size as a logits
processor (llama.cpp has no sampler for it).

    selfclone chat smollm2-135m --backend llamacpp -o threads=2
"""
from __future__ import annotations

import random
import threading
from collections.abc import Iterator, Sequence

import pydantic

from ..errors import BackendError
from ..plugins import hookimpl
from .base import GenerationOptions, candidates_by_streaming
from .llamacpp_prefix import prefill
from .transformers_backend import stream_until_stop

INSTALL = 'run `make setup`, or: CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON" pip install llama-cpp-python==0.3.36'


def available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


class NoRepeatNgram:
    """Bans every token that would repeat an n-gram already in the context (transformers' no_repeat_ngram_size)."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, input_ids, scores):
        n, ids = self.size, list(input_ids)
        if len(ids) < n:
            return scores
        prefix = ids[len(ids) - n + 1:] if n > 1 else []
        for i in range(len(ids) - n + 1):
            if ids[i:i + n - 1] == prefix:
                scores[ids[i + n - 1]] = -float("inf")
        return scores


class LlamaCppBackend:
    name = "llamacpp"
    loads = "gguf"             # open_backend hands it a clone as its GGUF file (backends/registry.clone_gguf)

    class Options(pydantic.BaseModel):
        n_ctx: int = 2048
        threads: int | None = None
        quantize: str = pydantic.Field("q8_0", description="a clone's GGUF: f16, q8_0 or q4_k_m")
        penalty_window: int = pydantic.Field(64, description="tokens the presence/frequency penalties look back over")
        lora_path: str | None = pydantic.Field(None, description="a LoRA adapter converted to GGUF")
        prefill: bool = pydantic.Field(True, description="evaluate the clone's system prompt once, at load")

    def __init__(self, model, options: "LlamaCppBackend.Options | None" = None, *, workspace_runs=None, **_):
        from .. import models

        if not available():
            raise BackendError("the llamacpp backend needs llama-cpp-python", INSTALL)
        from llama_cpp import Llama

        self.options = options or self.Options()
        ref = models.as_ref(model, workspace_runs)
        if ref.kind not in ("embedded", "gguf"):
            raise BackendError(f"llamacpp loads GGUF files; '{ref.name}' is a {ref.kind} model",
                               "open it with open_backend (a clone's GGUF is exported on first use), export it "
                               f"(`selfclone export {ref.name} --out M.gguf`), or use --backend transformers")
        self.model_name = ref.name
        self.fidelity = ref.info.get("fidelity")       # a clone's export check, from registry.clone_gguf
        self.path = str(ref.path)
        self.llm = Llama(model_path=self.path, n_ctx=self.options.n_ctx, n_threads=self.options.threads,
                         last_n_tokens_size=self.options.penalty_window, lora_path=self.options.lora_path,
                         verbose=False)
        # a clone's system prompt opens every conversation: evaluated once here, its KV kept (llamacpp_prefix.py)
        self.prefix = prefill(self.llm, ref.info.get("default_context")) if self.options.prefill else None
        self._lock = threading.Lock()

    def _params(self, options: GenerationOptions) -> dict:
        from llama_cpp import LogitsProcessorList

        seed = options.seed if options.seed is not None else random.getrandbits(31)
        params = dict(max_tokens=options.max_tokens, temperature=options.temperature, top_p=options.top_p,
                      top_k=0, min_p=0.0, typical_p=1.0, repeat_penalty=1.0,
                      presence_penalty=options.presence_penalty, frequency_penalty=options.frequency_penalty,
                      stop=list(options.stop) or None, seed=seed)
        if options.no_repeat_ngram_size:
            params["logits_processor"] = LogitsProcessorList([NoRepeatNgram(options.no_repeat_ngram_size)])
        return params

    def _pieces(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        stream = self.llm.create_chat_completion(messages=list(messages), stream=True, **self._params(options))
        for chunk in stream:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        with self._lock:
            # llama-cpp-python already holds back partial stops; this keeps the guarantee whatever it does
            yield from stream_until_stop(self._pieces(messages, options), options.stop)

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        if options.seed is None and options.n > 1:
            from dataclasses import replace

            options = replace(options, seed=random.getrandbits(31))
        return candidates_by_streaming(self, messages, options)


@hookimpl
def register_backends(register):
    register(LlamaCppBackend)
