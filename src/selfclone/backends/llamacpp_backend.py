"""llama.cpp in-process (about 5x transformers' decode speed on CPU), when `llama-cpp-python` is installed.

It loads GGUF files: the embedded model, or a clone exported to GGUF. Install with
`CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python` (the native build crashed on some CPUs).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import pydantic

from ..errors import BackendError
from ..plugins import hookimpl
from .base import GenerationOptions, candidates_by_streaming


class LlamaCppBackend:
    name = "llamacpp"

    class Options(pydantic.BaseModel):
        n_ctx: int = 2048
        threads: int | None = None
        lora_path: str | None = pydantic.Field(None, description="a LoRA adapter converted to GGUF")

    def __init__(self, model: str, options: "LlamaCppBackend.Options | None" = None, *, workspace_runs=None, **_):
        from .. import models

        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise BackendError("the llamacpp backend needs llama-cpp-python",
                               'CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install llama-cpp-python') from exc
        self.options = options or self.Options()
        ref = models.as_ref(model, workspace_runs)
        if ref.kind not in ("embedded", "gguf"):
            raise BackendError(f"llamacpp loads GGUF files; '{model}' is a {ref.kind} model",
                               "use the transformers backend, or export the clone to GGUF")
        self.model_name = ref.name
        self.llm = Llama(model_path=ref.path, n_ctx=self.options.n_ctx, n_threads=self.options.threads,
                         lora_path=self.options.lora_path, verbose=False)

    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        stream = self.llm.create_chat_completion(
            messages=list(messages), max_tokens=options.max_tokens, temperature=options.temperature,
            top_p=options.top_p, presence_penalty=options.presence_penalty,
            frequency_penalty=options.frequency_penalty, stop=list(options.stop) or None,
            seed=options.seed, stream=True)
        for chunk in stream:
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        return candidates_by_streaming(self, messages, options)


@hookimpl
def register_backends(register):
    register(LlamaCppBackend)
