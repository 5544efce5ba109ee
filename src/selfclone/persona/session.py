"""One conversation: the path every frontend (terminal, API, web, bots) sends a message through, so the same
message gets the same prompt everywhere. It keeps the last `memory` exchanges and a context (system/persona)
prompt in front; with a `retriever` the passages of the person's notes relevant to the message go into that system
prompt too, in the one frame of persona/frame.py (with `talking_to`, who the clone is talking to, and what it
`remembered` of them). With a `summariser` (a Backend), exchanges that leave the window are folded into a running
`summary` (persona/memory.py) instead of being dropped. It drops the oldest turns when the prompt would pass
`max_prompt_chars`, and, with a `translation`, talks to the clone in its training language while the user reads and
writes their own. With `options.copy_bias`, a reply to a message that retrieved passages is decoded with a bias
towards copying them (GenerationOptions.copy_from, backends/sampling.CopyBias); without passages it is off.

    session = ChatSession(backend, GenerationOptions(max_tokens=60), context="You are Maggie.", memory=4)
    session = ChatSession(backend, options, context="You are Maggie.", retriever=workspace_retriever(root, notes))
    for piece in session.send("how are the bees?"):
        print(piece, end="")
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..backends.base import Backend
from ..config import GenerationOptions
from .frame import system_frame
from .memory import fold
from .translation import Translation


class PassageSource(Protocol):
    """What a session asks for notes: the passages relevant to a message (persona/retrieval.Retriever)."""

    def passages_for(self, text: str) -> list[str]: ...


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
    retriever: PassageSource | None = None
    talking_to: str | None = None
    last_passages: list[str] = field(default_factory=list)
    summariser: Backend | None = None
    summary: str = ""
    remembered: list[str] = field(default_factory=list)
    max_prompt_chars: int | None = None
    translation: Translation | None = None
    last: Exchange | None = None
    _folded: int = 0                 # history turns already folded into the summary

    def system(self, user_text: str | None = None) -> str | None:
        """The system message for the next reply (passages only when there is a message to retrieve for)."""
        passages = self.retriever.passages_for(user_text) if self.retriever and user_text else []
        self.last_passages = list(passages)
        return system_frame(self.context, passages=passages, talking_to=self.talking_to, summary=self.summary,
                            remembered=self.remembered)

    def messages_for(self, user_text: str) -> list[dict]:
        window = self.history[-2 * self.memory:] if self.memory > 0 else []
        text = self.system(user_text)
        system = [{"role": "system", "content": text}] if text else []
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
        messages = self.messages_for(for_clone)
        options = self.options
        if options.copy_bias and self.last_passages:
            options = replace(options, copy_from=tuple(self.last_passages))
        for piece in self.backend.chat(messages, options):
            pieces.append(piece)
            if not self.translation:
                yield piece
        reply = "".join(pieces)
        shown = self.translation.outbound(reply) if self.translation else reply
        if self.translation:
            yield shown
        self.last = Exchange(user_text, for_clone, reply, shown)
        self.history += [{"role": "user", "content": for_clone}, {"role": "assistant", "content": reply}]
        self._fold()

    def reply(self, user_text: str) -> str:
        return "".join(self.send(user_text))

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
