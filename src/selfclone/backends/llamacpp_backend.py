"""llama.cpp in-process (about 5x transformers' decode speed on CPU): the default backend when llama-cpp-python is installed.

It loads GGUF files only: the embedded model or a .gguf file. A clone reaches it as its GGUF, which
`registry.open_backend` gets from the export area on first use (with the fidelity check of export/fidelity.py,
cached beside the run as RUN/gguf/QUANT.gguf); its trained system prompt is decoded once at load, so a new
conversation starts after it (the engine keeps a slot's prompt prefix). Every reply, alone or among
many concurrent ones, is decoded by the model's continuous-batching engine (backends/llamacpp_batch.py) and sampled
by backends/sampling.py, so every option keeps one meaning: temperature (0 = greedy), top_p, OpenAI's presence and
frequency penalties over the whole reply, stop strings that never reach the stream, seed (the same reply alone or
batched), n (batch members too), no_repeat_ngram_size, logprobs and the copy bias towards `copy_from`.

    selfclone chat smollm2-135m --backend llamacpp -o threads=2
    selfclone serve api smollm2-135m -o slots=16 -o n_ctx=1024     # up to 16 replies decoded together
"""
from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import pydantic

from ..errors import BackendError
from ..plugins import hookimpl
from .base import GenerationOptions
from .reply import Reply, logprob_entry
from .sampling import Sampler

INSTALL = 'run `make setup`, or: CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX512=ON" pip install llama-cpp-python==0.3.36'


def available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


class LlamaCppBackend:
    name = "llamacpp"
    loads = "gguf"             # open_backend hands it a clone as its GGUF file (backends/registry.clone_gguf)

    class Options(pydantic.BaseModel):
        n_ctx: int = 2048
        threads: int | None = None
        quantize: str = pydantic.Field("q8_0", description="a clone's GGUF: f16, q8_0 or q4_k_m")
        lora_path: str | None = pydantic.Field(None, description="a LoRA adapter converted to GGUF")
        slots: int = pydantic.Field(4, ge=1, le=64, description="replies decoded together (continuous batching); "
                                    "each holds n_ctx KV cells (about 23 KB a cell for SmolLM2-135M)")
        kv_unified: bool = pydantic.Field(False, description="one shared KV cache of kv_cells for all slots: less "
                                          "memory, but a reply may then differ by batch (float rounding)")
        kv_cells: int | None = pydantic.Field(None, description="with kv_unified: the cells all replies share")
        prefill_chunk: int = pydantic.Field(64, ge=8, description="prompt tokens fed per step while others decode")
        prefill: bool = pydantic.Field(True, description="decode the clone's system prompt once, at load")
        weights: str = pydantic.Field("bf16", description="the embedded model is served from a copy of its Q4_1 "
                                      "file re-typed to this (bf16: llama.cpp's fastest CPU kernels; made and "
                                      "checked once, cached); as-is loads the shipped file")

    def __init__(self, model, options: "LlamaCppBackend.Options | None" = None, *, workspace_runs=None, **_):
        from .. import models

        if not available():
            raise BackendError("the llamacpp backend needs llama-cpp-python", INSTALL)
        from llama_cpp import Llama

        self.options = options or self.Options()
        ref = models.as_ref(model, workspace_runs)
        self.model_name = ref.name
        if ref.kind not in ("embedded", "gguf"):
            raise BackendError(f"llamacpp loads GGUF files; '{ref.name}' is a {ref.kind} model",
                               "open it with open_backend (a clone's GGUF is exported on first use), export it "
                               f"(`selfclone export {ref.name} --out M.gguf`), or use --backend transformers")
        self.fidelity = ref.info.get("fidelity")       # a clone's export check, from registry.clone_gguf
        self.path = str(ref.path)
        # the engine has its own context; this one only holds the weights and the tokenizer (a small context: RAM)
        self.llm = Llama(model_path=self.path, n_ctx=64, n_batch=8, n_ubatch=8, n_threads=self.options.threads,
                         lora_path=self.options.lora_path, verbose=False)
        self._start_engine()
        system = ref.info.get("default_context")
        if system and self.options.prefill:      # every conversation opens with it: its KV stays in a slot
            self.reply([{"role": "system", "content": system}], GenerationOptions(max_tokens=1, temperature=0.0)).text()

    def _start_engine(self) -> None:
        from llama_cpp import llama_chat_format

        from .llamacpp_batch import BatchEngine

        o = self.options
        self.engine = BatchEngine(self.llm, slots=o.slots, n_ctx=o.n_ctx, cells=o.kv_cells, unified=o.kv_unified,
                                  prefill_chunk=o.prefill_chunk, threads=o.threads)
        self.context_length = o.n_ctx
        template = self.llm.metadata.get("tokenizer.chat_template")
        if template:         # the GGUF's own template (a clone's is the one it was trained with)
            model = self.llm._model
            piece = lambda t: model.token_get_text(t) if t >= 0 else ""  # noqa: E731
            self._format = llama_chat_format.Jinja2ChatFormatter(
                template=template, eos_token=piece(model.token_eos()), bos_token=piece(model.token_bos()))
        else:
            self._format = getattr(llama_chat_format, "format_" + self.llm.chat_format.replace("-", "_"))

    # --- prompts ------------------------------------------------------------------------------------
    def prompt_ids(self, messages: Sequence[dict]) -> list[int]:
        """The chat-templated prompt's token ids, as the engine decodes them."""
        framed = self._format(messages=list(messages))
        return self.llm.tokenize(framed.prompt.encode("utf-8"), add_bos=not framed.added_special, special=True)

    def copy_ids(self, options: GenerationOptions) -> list[list[int]]:
        """The token ids of the texts the copy bias copies from, each as it reads after a space in the prompt."""
        if not options.copy_bias:
            return []
        return [self.llm.tokenize((" " + text).encode("utf-8"), add_bos=False, special=False)
                for text in options.copy_from]

    def reset(self) -> None:
        """Drop the cached prompt prefixes, so the next prompts are decoded from scratch (cold-start timings)."""
        self.engine.reset()
        self.llm.reset()

    # --- generation ---------------------------------------------------------------------------------
    def replies(self, messages: Sequence[dict], options: GenerationOptions,
                top_logprobs: int | None = None) -> list[Reply]:
        """`options.n` replies, all submitted to the engine at once (seeds n apart when a seed is set)."""
        prompt = self.prompt_ids(messages)
        base = options.seed if options.seed is not None else random.getrandbits(31)
        return [self._reply(prompt, options, base + i, top_logprobs) for i in range(options.n)]

    def reply(self, messages: Sequence[dict], options: GenerationOptions, top_logprobs: int | None = None) -> Reply:
        return self._reply(self.prompt_ids(messages), options, options.seed, top_logprobs)

    def _reply(self, prompt: list[int], options: GenerationOptions, seed: int | None, top: int | None) -> Reply:
        engine = self.engine
        seq = engine.submit(prompt, Sampler(options, seed, prompt, self.copy_ids(options)), options.max_tokens, top)

        def tokens():
            for token in seq.tokens():
                entry = None
                if token.logprobs is not None:
                    chosen, alternatives = token.logprobs
                    entry = logprob_entry(token.id, chosen, token.piece, alternatives, engine.piece)
                yield token.piece, entry

        return Reply(tokens(), options.stop, prompt_tokens=len(prompt), finished=lambda: seq.finish_reason,
                     cancel=seq.cancel)

    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        for chunk in self.reply(messages, options):
            if chunk.text:
                yield chunk.text

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        return [reply.text() for reply in self.replies(messages, options)]


@hookimpl
def register_backends(register):
    register(LlamaCppBackend)
