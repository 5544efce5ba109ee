"""POST /v1/chat/completions and the legacy POST /v1/completions, through the Backend protocol.

Each request becomes one `config.GenerationOptions` over the workspace's [generation] defaults and one message list
built by `persona/session.ChatSession` (a clone answers with the system prompt it was trained with unless the
request gives one). Generation runs in worker threads and streams, so a slow client never blocks the others.

    client.chat.completions.create(model="smollm2-135m", messages=[{"role": "user", "content": "hi"}], stream=True)
    client.completions.create(model="ft:...", prompt="Q: how do you take your tea? ->", stop=["###"])
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pydantic
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ... import models
from ...config import GenerationOptions
from ...dataset.legacy import from_prompt_completion
from ...backends.reply import TextReply
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
    ids = getattr(loaded.backend, "prompt_ids", None)           # llama.cpp: the exact prompt the engine decodes
    if ids is not None:
        return len(ids(messages))
    encode = getattr(loaded.backend, "encode", None)
    if encode is None:
        return sum(len(str(m["content"]).split()) for m in messages)
    return int(encode(messages)[0].shape[1])


def check_context(loaded: Loaded, prompt_len: int, options: GenerationOptions) -> None:
    limit = getattr(loaded.backend, "context_length", None)
    model = getattr(loaded.backend, "model", None)
    if limit is None and model is not None and hasattr(model, "config"):
        limit = models.context_length(model)
    if limit is None:
        return
    if prompt_len + options.max_tokens > limit:
        raise APIError(400, f"this model's context is {limit} tokens, but the prompt has {prompt_len} and "
                            f"max_tokens asks for {options.max_tokens} more: lower max_tokens or shorten the messages",
                       param="max_tokens", code="context_length_exceeded")


def start_replies(loaded: Loaded, messages: list[dict], options: GenerationOptions, prompt_len: int,
                  top: int | None, *, streaming: bool) -> list:
    """The request's n replies, through the backend's `replies` (llama.cpp: all n decoded together, with
    logprobs), or else its `chat` when streaming (one after another, seeds n apart) and its `candidates` when not."""
    backend = loaded.backend
    if hasattr(backend, "replies"):
        return backend.replies(messages, options, top)
    if top is not None:
        raise APIError(400, f"logprobs are not available with the {backend.name} backend",
                       param="logprobs", code="unsupported_parameter")
    if streaming:
        pieces = [backend.chat(messages, replace(options, n=1, seed=None if options.seed is None else options.seed + i))
                  for i in range(options.n)]
    else:
        pieces = [iter([text]) for text in backend.candidates(messages, options)]
    return [TextReply(p, prompt_tokens=prompt_len, max_tokens=options.max_tokens,
                      count=lambda text: count_tokens(loaded, text)) for p in pieces]


def chat_logprobs(entries: list[dict] | None) -> dict | None:
    return None if entries is None else {"content": entries, "refusal": None}


def legacy_logprobs(entries: list[dict] | None, offset: int = 0) -> dict | None:
    """The /v1/completions form: parallel lists, top_logprobs as {token: logprob} maps."""
    if entries is None:
        return None
    offsets, at = [], offset
    for e in entries:
        offsets.append(at)
        at += len(e["token"])
    return {"tokens": [e["token"] for e in entries], "token_logprobs": [e["logprob"] for e in entries],
            "top_logprobs": [{t["token"]: t["logprob"] for t in e["top_logprobs"]} for e in entries],
            "text_offset": offsets}


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


def top_logprobs(req: Sampling, chat: bool) -> int | None:
    """How many alternatives per token the request wants, or None for no logprobs at all."""
    if chat:
        if req.top_logprobs is not None and not 0 <= req.top_logprobs <= 20:
            raise APIError(400, f"top_logprobs must be between 0 and 20, got {req.top_logprobs}", param="top_logprobs")
        if req.top_logprobs is not None and not req.logprobs:
            raise APIError(400, "top_logprobs needs logprobs: true", param="logprobs")
        return (req.top_logprobs or 0) if req.logprobs else None
    if req.logprobs is not None and not 0 <= req.logprobs <= 20:
        raise APIError(400, f"logprobs must be between 0 and 20, got {req.logprobs}", param="logprobs")
    return req.logprobs


async def respond(loaded: Loaded, conversations: list[list[dict]], options: GenerationOptions, req: Sampling,
                  *, chat: bool):
    top = top_logprobs(req, chat)
    lengths = [await run_in_threadpool(prompt_tokens, loaded, m) for m in conversations]
    for length in lengths:
        check_context(loaded, length, options)
    rid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex[:24]
    head = {"id": rid, "object": "chat.completion" if chat else "text_completion", "created": int(time.time()),
            "model": req.model, "system_fingerprint": None}
    if req.stream:
        replies = await run_in_threadpool(
            lambda: [start_replies(loaded, m, options, n, top, streaming=True) for m, n in zip(conversations, lengths)])
        chunks = stream(replies, top, req, head, chat=chat)
        return StreamingResponse(cancelled_on_disconnect(chunks, [r for group in replies for r in group]),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def run() -> list[tuple]:      # every reply of the request is submitted before the first is read
        replies = [r for m, n in zip(conversations, lengths)
                   for r in start_replies(loaded, m, options, n, top, streaming=False)]
        done = []
        for reply in replies:
            chunks = list(reply)
            entries = [e for c in chunks for e in c.logprobs] if top is not None else None
            done.append((reply, "".join(c.text for c in chunks), entries))
        return done

    choices, done = [], await run_in_threadpool(run)
    for index, (reply, text, entries) in enumerate(done):
        if chat:
            choices.append({"index": index, "message": {"role": "assistant", "content": text, "refusal": None},
                            "logprobs": chat_logprobs(entries), "finish_reason": reply.finish_reason})
        else:
            choices.append({"index": index, "text": text, "logprobs": legacy_logprobs(entries),
                            "finish_reason": reply.finish_reason})
    return head | {"choices": choices, "usage": usage(sum(r.prompt_tokens for r, _, _ in done),
                                                      sum(r.completion_tokens for r, _, _ in done))}


async def cancelled_on_disconnect(chunks: Iterator[str], replies: list):
    """The SSE chunks, produced by a pump thread of this stream. Whatever has piled up since the last write goes out
    in one write (several SSE events), so a busy server spends one event-loop wake-up and one send per batch of
    tokens, not per token. When the client goes away Starlette cancels this generator, and the replies are
    cancelled at once (the pump may be blocked in its thread until its next token, then closes the chunks)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:              # the event loop is gone (server shut down): nobody reads any more
            stop.set()

    def pump() -> None:
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                put(chunk)
        except BaseException as exc:      # handed to the reader, raised in the response
            put(exc)
        finally:
            chunks.close()
            put(_END)

    threading.Thread(target=pump, daemon=True, name="sse-pump").start()
    try:
        while True:
            items = [await queue.get()]
            while not queue.empty():
                items.append(queue.get_nowait())
            text = []
            for item in items:
                if isinstance(item, str):
                    text.append(item)
                    continue
                if text:
                    yield "".join(text)
                if item is _END:
                    return
                raise item
            if text:
                yield "".join(text)
    finally:
        stop.set()
        for reply in replies:
            try:
                reply.cancel()
            except ValueError:        # a text-only reply being read in the pump thread: stream() closes it
                pass


_END = object()


def stream(replies: list[list], top: int | None, req: Sampling, head: dict, *, chat: bool) -> Iterator[str]:
    """SSE chunks, choice after choice (all of them already decoding together), then usage and [DONE].
    A sync generator: Starlette iterates it in a worker thread; when the client goes away it is closed, and the
    replies not finished are cancelled, which frees their slots in the batch."""
    head = head | {"object": "chat.completion.chunk" if chat else "text_completion"}
    flat = [reply for group in replies for reply in group]
    try:
        for index, reply in enumerate(flat):
            if chat:
                yield sse(head | {"choices": [{"index": index, "delta": {"role": "assistant", "content": ""},
                                               "logprobs": None, "finish_reason": None}]})
            offset = 0
            for chunk in reply:
                entries = chunk.logprobs if top is not None else None
                if chat:
                    body = {"delta": {"content": chunk.text}, "logprobs": chat_logprobs(entries)}
                else:
                    body = {"text": chunk.text, "logprobs": legacy_logprobs(entries, offset)}
                    offset += len(chunk.text)
                yield sse(head | {"choices": [{"index": index, **body, "finish_reason": None}]})
            end = {"delta": {}} if chat else {"text": ""}
            yield sse(head | {"choices": [{"index": index, **end, "logprobs": None,
                                           "finish_reason": reply.finish_reason}]})
        if req.stream_options and req.stream_options.include_usage:
            yield sse(head | {"choices": [], "usage": usage(sum(r.prompt_tokens for r in flat),
                                                             sum(r.completion_tokens for r in flat))})
        yield sse("[DONE]")
    finally:
        for reply in flat:
            reply.cancel()
