"""One conversation: the path every frontend (terminal, API, web, bots) sends a message through, so the same
message gets the same prompt everywhere. It keeps the last `memory` exchanges and a context (system/persona)
prompt in front, drops the oldest turns when the prompt would pass `max_prompt_chars`, and, with a `translation`,
talks to the clone in its training language while the user reads and writes their own.

    session = ChatSession(backend, GenerationOptions(max_tokens=60), context="You are Maggie.", memory=4)
    for piece in session.send("how are the bees?"):
        print(piece, end="")
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..backends.base import Backend
from ..config import GenerationOptions
from .translation import Translation


@dataclass(frozen=True)
class Exchange:
    """The last message both ways: as the user wrote/reads it, and as the clone read/wrote it."""

    user: str
    user_for_clone: str
    reply_from_clone: str
    reply: str

    @property
    def translated(self) -> bool:
        return self.user != self.user_for_clone or self.reply != self.reply_from_clone


@dataclass
class ChatSession:
    """A conversation with memory of the last `memory` exchanges and a context (system/persona) prompt."""

    backend: Backend
    options: GenerationOptions
    context: str | None = None
    memory: int = 4
    history: list[dict] = field(default_factory=list)
    max_prompt_chars: int | None = None
    translation: Translation | None = None
    last: Exchange | None = None

    def messages_for(self, user_text: str) -> list[dict]:
        window = self.history[-2 * self.memory:] if self.memory > 0 else []
        system = [{"role": "system", "content": self.context}] if self.context else []
        if self.max_prompt_chars is not None:
            # over the budget: drop the oldest exchanges first, then keep the end of an overlong message
            size = lambda turns: sum(len(t["content"]) for t in turns)     # noqa: E731
            while window and size(system + window) + len(user_text) > self.max_prompt_chars:
                window = window[2:]
            room = max(self.max_prompt_chars - size(system), 1)
            user_text = user_text[-room:]
        return system + window + [{"role": "user", "content": user_text}]

    def send(self, user_text: str) -> Iterator[str]:
        """Stream the reply to `user_text`, then remember both turns. With a translation the reply comes back
        whole, once translated; the history keeps the clone's language so its prompt stays as trained."""
        for_clone = self.translation.inbound(user_text) if self.translation else user_text
        pieces = []
        for piece in self.backend.chat(self.messages_for(for_clone), self.options):
            pieces.append(piece)
            if not self.translation:
                yield piece
        reply = "".join(pieces)
        shown = self.translation.outbound(reply) if self.translation else reply
        if self.translation:
            yield shown
        self.last = Exchange(user_text, for_clone, reply, shown)
        self.history += [{"role": "user", "content": for_clone}, {"role": "assistant", "content": reply}]

    def reply(self, user_text: str) -> str:
        return "".join(self.send(user_text))

    def reset(self) -> None:
        self.history.clear()

    def transcript(self) -> list[dict]:
        system = [{"role": "system", "content": self.context}] if self.context else []
        return system + list(self.history)
