"""A remote backend: any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, selfclone's own API).

Nothing leaves the machine unless the user picks this backend and gives it a base URL.

    selfclone chat my-model --backend openai -o base_url=http://127.0.0.1:8000/v1 -o api_key_env=MY_KEY
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pydantic

from ..errors import BackendError
from ..plugins import hookimpl
from .base import GenerationOptions


class OpenAIBackend:
    name = "openai"

    class Options(pydantic.BaseModel):
        base_url: str = pydantic.Field("https://api.openai.com/v1", description="the endpoint's /v1 URL")
        api_key: str | None = pydantic.Field(None, description="the key itself (prefer api_key_env)")
        api_key_env: str = pydantic.Field("OPENAI_API_KEY", description="environment variable holding the key")
        timeout: float = 120.0

    def __init__(self, model: str, options: "OpenAIBackend.Options | None" = None, **_):
        import openai

        self.options = options or self.Options()
        key = self.options.api_key or os.environ.get(self.options.api_key_env)
        if not key:
            local = self.options.base_url.startswith(("http://127.", "http://localhost", "http://[::1]"))
            if not local:
                raise BackendError(f"no API key for {self.options.base_url}",
                                   f"set {self.options.api_key_env} or pass -o api_key_env=VAR")
            key = "not-needed"
        self.model_name = model
        self.client = openai.OpenAI(base_url=self.options.base_url, api_key=key, timeout=self.options.timeout)

    def _params(self, options: GenerationOptions) -> dict:
        params = dict(model=self.model_name, max_tokens=options.max_tokens, temperature=options.temperature,
                      top_p=options.top_p, presence_penalty=options.presence_penalty,
                      frequency_penalty=options.frequency_penalty)
        if options.stop:
            params["stop"] = list(options.stop)
        if options.seed is not None:
            params["seed"] = options.seed
        return params

    def chat(self, messages: Sequence[dict], options: GenerationOptions) -> Iterator[str]:
        import openai

        try:
            stream = self.client.chat.completions.create(messages=list(messages), stream=True, **self._params(options))
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.options.base_url}: {exc}", "check the URL, the key and the model name") from exc

    def candidates(self, messages: Sequence[dict], options: GenerationOptions) -> list[str]:
        import openai

        try:
            out = self.client.chat.completions.create(messages=list(messages), n=options.n, **self._params(options))
        except openai.OpenAIError as exc:
            raise BackendError(f"{self.options.base_url}: {exc}", "check the URL, the key and the model name") from exc
        texts = [c.message.content or "" for c in out.choices]
        return texts + texts[-1:] * (options.n - len(texts))


class VLLMBackend(OpenAIBackend):
    """`--backend vllm`: the OpenAI backend pointed at `selfclone serve vllm` (127.0.0.1:8000 unless told)."""

    name = "vllm"

    class Options(OpenAIBackend.Options):
        base_url: str = pydantic.Field("http://127.0.0.1:8000/v1", description="`selfclone serve vllm`'s /v1 URL")


@hookimpl
def register_backends(register):
    register(OpenAIBackend)
    register(VLLMBackend)
