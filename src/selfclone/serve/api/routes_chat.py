"""POST /v1/chat/completions and the legacy POST /v1/completions, through the Backend protocol.

Each request becomes one `config.GenerationOptions` over the workspace's [generation] defaults and one message list
built by `persona/session.ChatSession` (a clone answers with the system prompt it was trained with unless the
request gives one). Generation runs in worker threads and streams, so a slow client never blocks the others.

    client.chat.completions.create(model="smollm2-135m", messages=[{"role": "user", "content": "hi"}], stream=True)
    client.completions.create(model="ft:...", prompt="Q: how do you take your tea? ->", stop=["###"])
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ... import models
from ...config import GenerationOptions
from ...dataset.legacy import from_prompt_completion
from ...errors import SelfcloneError
from ...persona.session import ChatSession
from .errors import APIError, from_library
from .model_pool import Loaded

router = APIRouter()


class StreamOptions(pydantic.BaseModel):
    include_usage: bool = False


class Sampling(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="allow")    # fields other clients send (logit_bias, tools...) pass

    model: str
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    user: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None


class ChatRequest(Sampling):
    messages: list[dict]
    max_completion_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None


class CompletionRequest(Sampling):
    prompt: str | list[str]
    logprobs: int | None = None
    echo: bool = False


def generation_options(defaults: GenerationOptions, req: Sampling, max_tokens: int | None) -> GenerationOptions:
    stop = [req.stop] if isinstance(req.stop, str) else req.stop
    try:
        return defaults.with_(max_tokens=max_tokens, temperature=req.temperature, top_p=req.top_p, n=req.n,
                              stop=stop, presence_penalty=req.presence_penalty,
                              frequency_penalty=req.frequency_penalty, seed=req.seed)
    except SelfcloneError as exc:
        name = str(exc.message).split(" ", 1)[0]
        raise from_library(exc, param=name if name in Sampling.model_fields else None) from exc


def conversation(loaded: Loaded, messages: list[dict], options: GenerationOptions) -> list[dict]:
    """The request's messages framed as every frontend frames them: its own system prompt, or the clone's."""
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message:
            raise APIError(400, f"messages[{i}] needs a 'role' and a 'content'", param=f"messages.{i}")
        if isinstance(message.get("content"), list):     # content parts: keep the text ones
            message["content"] = "".join(p.get("text", "") for p in message["content"] if isinstance(p, dict))
    if not any(m["role"] == "user" for m in messages):
        raise APIError(400, "messages has no user turn: there is nothing to reply to",
                       param="messages", code="invalid_messages")
    system = [m["content"] for m in messages if m["role"] in ("system", "developer")]
    turns = [{"role": m["role"], "content": m.get("content") or ""} for m in messages
             if m["role"] not in ("system", "developer")]
    if turns[-1]["role"] != "user":
        return ([{"role": "system", "content": system[0]}] if system else []) + turns
    session = ChatSession(loaded.backend, options, context=system[0] if system else loaded.context,
                          memory=len(turns), history=turns[:-1])
    return session.messages_for(turns[-1]["content"])


def count_tokens(loaded: Loaded, text: str) -> int:
    tokenizer = loaded.tokenizer
    if tokenizer is None:
        return len(text.split())
    return len(tokenizer.encode(text, add_special_tokens=False))


def prompt_tokens(loaded: Loaded, messages: list[dict]) -> int:
    encode = getattr(loaded.backend, "encode", None)
    if encode is None:
        return sum(len(str(m["content"]).split()) for m in messages)
    return int(encode(messages)[0].shape[1])


def check_context(loaded: Loaded, prompt_len: int, options: GenerationOptions) -> None:
    model = getattr(loaded.backend, "model", None)
    if model is None or not hasattr(model, "config"):
        return
    limit = models.context_length(model)
    if prompt_len + options.max_tokens > limit:
        raise APIError(400, f"this model's context is {limit} tokens, but the prompt has {prompt_len} and "
                            f"max_tokens asks for {options.max_tokens} more: lower max_tokens or shorten the messages",
                       param="max_tokens", code="context_length_exceeded")


def finish_reason(loaded: Loaded, text: str, options: GenerationOptions) -> tuple[str, int]:
    tokens = count_tokens(loaded, text)
    return ("length" if tokens >= options.max_tokens else "stop"), tokens


def usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def prepare(request: Request, req: Sampling, max_tokens: int | None) -> tuple[Loaded, GenerationOptions]:
    state = request.app.state
    try:
        loaded = state.pool.get(req.model)
    except SelfcloneError as exc:
        raise from_library(exc, param="model") from exc
    return loaded, generation_options(state.generation, req, max_tokens)


@router.post("/chat/completions")
async def chat_completions(req: ChatRequest, request: Request):
    loaded, options = prepare(request, req, req.max_completion_tokens or req.max_tokens)
    messages = conversation(loaded, req.messages, options)
    return await respond(loaded, [messages], options, req, chat=True)


@router.post("/completions")
async def completions(req: CompletionRequest, request: Request):
    loaded, options = prepare(request, req, req.max_tokens)
    prompts = [req.prompt] if isinstance(req.prompt, str) else req.prompt
    conversations = []
    for i, prompt in enumerate(prompts):
        try:     # the legacy framing the seed articles trained with: "Q: ... ->", "Context: ...\n\nHuman: ..\nAI:"
            example = from_prompt_completion({"prompt": prompt, "completion": "-"})
        except SelfcloneError as exc:
            raise from_library(exc, param="prompt") from exc
        turns = [dict(m) for m in example.prompt()]
        conversations.append(conversation(loaded, turns, options))
    return await respond(loaded, conversations, options, req, chat=False)


async def respond(loaded: Loaded, conversations: list[list[dict]], options: GenerationOptions, req: Sampling,
                  *, chat: bool):
    lengths = [await run_in_threadpool(prompt_tokens, loaded, m) for m in conversations]
    for length in lengths:
        check_context(loaded, length, options)
    rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
    head = {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": int(time.time()),
            "model": req.model, "system_fingerprint": None}
    if req.stream:
        chunks = stream(loaded, conversations, lengths, options, req, head, chat=chat)
        return StreamingResponse(chunks, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    choices, completion_total = [], 0
    for messages in conversations:
        texts = await run_in_threadpool(loaded.backend.candidates, messages, options)
        for text in texts:
            reason, tokens = finish_reason(loaded, text, options)
            completion_total += tokens
            index = len(choices)
            if chat:
                choices.append({"index": index, "message": {"role": "assistant", "content": text, "refusal": None},
                                "logprobs": None, "finish_reason": reason})
            else:
                choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": reason})
    return head | {"choices": choices, "usage": usage(sum(lengths) * options.n, completion_total)}


def stream(loaded: Loaded, conversations, lengths, options: GenerationOptions, req: Sampling, head: dict,
           *, chat: bool) -> Iterator[str]:
    """SSE chunks, choice after choice (seeds n apart, as `candidates_by_streaming` does), then usage and [DONE].
    A sync generator: Starlette iterates it in a worker thread, so each stream decodes in its own thread."""
    from dataclasses import replace

    head = head | {"object": "chat.completion.chunk" if chat else "text_completion"}
    completion_total, index = 0, 0
    for messages in conversations:
        for i in range(options.n):
            seed = None if options.seed is None else options.seed + i
            one = replace(options, n=1, seed=seed)
            if chat:
                yield sse(head | {"choices": [{"index": index, "delta": {"role": "assistant", "content": ""},
                                               "logprobs": None, "finish_reason": None}]})
            pieces = []
            for piece in loaded.backend.chat(messages, one):
                pieces.append(piece)
                body = {"delta": {"content": piece}} if chat else {"text": piece}
                yield sse(head | {"choices": [{"index": index, **body, "logprobs": None, "finish_reason": None}]})
            reason, tokens = finish_reason(loaded, "".join(pieces), options)
            completion_total += tokens
            end = {"delta": {}} if chat else {"text": ""}
            yield sse(head | {"choices": [{"index": index, **end, "logprobs": None, "finish_reason": reason}]})
            index += 1
    if req.stream_options and req.stream_options.include_usage:
        yield sse(head | {"choices": [], "usage": usage(sum(lengths) * options.n, completion_total)})
    yield sse("[DONE]")
