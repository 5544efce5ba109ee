"""A reply as it streams, with what OpenAI's API reports about it: text chunks that never contain a stop string,
each with the logprob entries of its tokens, then the finish reason and the token count.

A backend that can say more than text offers `reply(messages, options, top_logprobs=None) -> Reply` next to the
Backend protocol's `chat`; the API server uses it when present (logprobs, exact finish_reason and usage).

    reply = backend.reply(messages, options, top_logprobs=2)
    for chunk in reply:
        print(chunk.text, chunk.logprobs)      # [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]
    reply.finish_reason, reply.completion_tokens
"""
from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from .base import cut_at_stop


@dataclass
class Chunk:
    text: str
    logprobs: list[dict] = field(default_factory=list)


def logprob_entry(token: int, logprob: float, piece: bytes, top: list[tuple[int, float]],
                  piece_of: Callable[[int], bytes]) -> dict:
    """OpenAI's `choices[].logprobs.content[]` item."""
    def one(t: int, lp: float, b: bytes) -> dict:
        return {"token": b.decode("utf-8", errors="replace"), "logprob": lp, "bytes": list(b)}

    return one(token, logprob, piece) | {"top_logprobs": [one(t, lp, piece_of(t)) for t, lp in top]}


class Reply:
    """Iterate once for Chunks. `tokens` yields (piece bytes, logprob entry or None) and ends with the engine's
    finish reason in `finished()`; `cancel` stops generation early when a stop string appears."""

    def __init__(self, tokens: Iterator[tuple[bytes, dict | None]], stops: Sequence[str], *, prompt_tokens: int,
                 finished: Callable[[], str | None], cancel: Callable[[], None]):
        self._tokens, self.stops, self.prompt_tokens = tokens, tuple(s for s in stops if s), prompt_tokens
        self._finished, self._cancel = finished, cancel
        self.finish_reason: str | None = None
        self.completion_tokens = 0

    def text(self) -> str:
        return "".join(chunk.text for chunk in self)

    def cancel(self) -> None:
        """Stop generating (a reader that went away); a finished reply ignores it."""
        if self._finished() is None:
            self._cancel()

    def __iter__(self) -> Iterator[Chunk]:
        from .transformers_backend import stream_until_stop

        entries: list[tuple[int, dict]] = []      # (offset of the token's first character, its entry)
        stopped = False

        def texts():
            nonlocal stopped
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            whole = ""
            hold = max((len(s) for s in self.stops), default=0)
            for piece, entry in self._tokens:
                self.completion_tokens += 1
                text = decoder.decode(piece)
                if entry is not None:
                    entries.append((len(whole), entry))
                whole += text
                yield text
                if self.stops and cut_at_stop(whole[-(len(text) + hold):], self.stops)[1]:
                    stopped = True
                    self._cancel()
                    return
            tail = decoder.decode(b"", final=True)
            if tail:
                yield tail

        emitted = released = 0
        try:
            for text in stream_until_stop(texts(), self.stops):
                emitted += len(text)
                start = released
                while released < len(entries) and entries[released][0] < emitted:
                    released += 1
                yield Chunk(text, [e for _, e in entries[start:released]])
        finally:                                  # a reader that leaves early frees the engine's slot at once
            if not stopped:
                self.cancel()
        self.finish_reason = "stop" if stopped else (self._finished() or "stop")


class TextReply:
    """The same interface over a backend that only streams text (the Backend protocol's `chat`): no logprobs, and
    the finish reason and token count from the finished text."""

    def __init__(self, pieces: Iterator[str], *, prompt_tokens: int, max_tokens: int, count: Callable[[str], int]):
        self._pieces, self.prompt_tokens, self._max, self._count = pieces, prompt_tokens, max_tokens, count
        self.finish_reason: str | None = None
        self.completion_tokens = 0

    def __iter__(self) -> Iterator[Chunk]:
        text = []
        for piece in self._pieces:
            text.append(piece)
            yield Chunk(piece)
        self.completion_tokens = self._count("".join(text))
        self.finish_reason = "length" if self.completion_tokens >= self._max else "stop"

    def text(self) -> str:
        return "".join(chunk.text for chunk in self)

    def cancel(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
