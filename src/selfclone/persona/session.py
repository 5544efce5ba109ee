"""One conversation: the path every frontend (terminal, API, web, bots) sends a message through, so the same
message gets the same prompt everywhere. It keeps the last `memory` exchanges and a context (system/persona)
prompt in front; with a `retriever` the passages of the person's notes relevant to the message go into that system
prompt too, in the one frame of persona/frame.py (with `talking_to`, who the clone is talking to, and what it
`remembered` of them). With a `summariser` (a Backend), exchanges that leave the window are folded into a running
`summary` (persona/memory.py) instead of being dropped.

    session = ChatSession(backend, GenerationOptions(max_tokens=60), context="You are Maggie.", memory=4)
    session = ChatSession(backend, options, context="You are Maggie.", retriever=workspace_retriever(root, notes))
    for piece in session.send("how are the bees?"):
        print(piece, end="")
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ..backends.base import Backend
from ..config import GenerationOptions
from .frame import system_frame
from .memory import fold


class PassageSource(Protocol):
    """What a session asks for notes: the passages relevant to a message (persona/retrieval.Retriever)."""

    def passages_for(self, text: str) -> list[str]: ...


@dataclass
class ChatSession:
    """A conversation with memory of the last `memory` exchanges and a context (system/persona) prompt."""

    backend: Backend
    options: GenerationOptions
    context: str | None = None
    memory: int = 4
    history: list[dict] = field(default_factory=list)
    retriever: PassageSource | None = None
    talking_to: str | None = None
    last_passages: list[str] = field(default_factory=list)
    summariser: Backend | None = None
    summary: str = ""
    remembered: list[str] = field(default_factory=list)
    _folded: int = 0                 # history turns already folded into the summary

    def system(self, user_text: str | None = None) -> str | None:
        """The system message for the next reply (passages only when there is a message to retrieve for)."""
        passages = self.retriever.passages_for(user_text) if self.retriever and user_text else []
        self.last_passages = list(passages)
        return system_frame(self.context, passages=passages, talking_to=self.talking_to, summary=self.summary,
                            remembered=self.remembered)

    def messages_for(self, user_text: str) -> list[dict]:
        window = self.history[-2 * self.memory:] if self.memory > 0 else []
        system = self.system(user_text)
        return ([{"role": "system", "content": system}] if system else []) + window + [
            {"role": "user", "content": user_text}]

    def send(self, user_text: str) -> Iterator[str]:
        """Stream the reply to `user_text`, then remember both turns."""
        pieces = []
        for piece in self.backend.chat(self.messages_for(user_text), self.options):
            pieces.append(piece)
            yield piece
        self.history += [{"role": "user", "content": user_text}, {"role": "assistant", "content": "".join(pieces)}]
        self._fold()

    def _fold(self) -> None:
        """Fold the exchanges that have left the window into the summary."""
        leaving = len(self.history) - 2 * max(self.memory, 0)
        if self.summariser is None or leaving <= self._folded:
            return
        self.summary = fold(self.summariser, self.summary, self.history[self._folded:leaving])
        self._folded = leaving

    def reset(self) -> None:
        self.history.clear()
        self.summary, self._folded = "", 0

    def transcript(self) -> list[dict]:
        system = system_frame(self.context, talking_to=self.talking_to, remembered=self.remembered)
        return ([{"role": "system", "content": system}] if system else []) + list(self.history)
