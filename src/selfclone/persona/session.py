"""One conversation: the path every frontend (terminal, API, web, bots) sends a message through, so the same
message gets the same prompt everywhere. It keeps the last `memory` exchanges and a context (system/persona)
prompt in front.

    session = ChatSession(backend, GenerationOptions(max_tokens=60), context="You are Maggie.", memory=4)
    for piece in session.send("how are the bees?"):
        print(piece, end="")
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ..backends.base import Backend
from ..config import GenerationOptions


@dataclass
class ChatSession:
    """A conversation with memory of the last `memory` exchanges and a context (system/persona) prompt."""

    backend: Backend
    options: GenerationOptions
    context: str | None = None
    memory: int = 4
    history: list[dict] = field(default_factory=list)

    def messages_for(self, user_text: str) -> list[dict]:
        window = self.history[-2 * self.memory:] if self.memory > 0 else []
        system = [{"role": "system", "content": self.context}] if self.context else []
        return system + window + [{"role": "user", "content": user_text}]

    def send(self, user_text: str) -> Iterator[str]:
        """Stream the reply to `user_text`, then remember both turns."""
        pieces = []
        for piece in self.backend.chat(self.messages_for(user_text), self.options):
            pieces.append(piece)
            yield piece
        self.history += [{"role": "user", "content": user_text}, {"role": "assistant", "content": "".join(pieces)}]

    def reset(self) -> None:
        self.history.clear()

    def transcript(self) -> list[dict]:
        system = [{"role": "system", "content": self.context}] if self.context else []
        return system + list(self.history)
