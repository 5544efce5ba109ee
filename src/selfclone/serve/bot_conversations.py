"""What the chat bots (Telegram, Discord) share: the allowlist, one ChatSession per user kept in the store (so a
restart keeps it) and reset after a silence, on /start and /reset, and replies split to the platform's limit. A
conversation that ends (a reset, or the silence) is stored in the `conversations` table, like a finished
`selfclone chat`, so `selfclone review` and the web app's Review page go through its replies.
Each session retrieves from the workspace's notes as `chat` does, and a user linked to a contact
(`selfclone contacts link telegram:ID NAME`) is talked to as `--with NAME` would: who, and what is remembered of them.

    people = BotConversations(backend, options, channel="telegram", model="ft:...", store=ws.store,
                              idle_seconds=600, context="You are Maggie.", memory=4)
    people.reply("42:42", "how are the bees?")
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..config import GenerationOptions, NotesSettings
from ..persona.contacts import LINKED_CHANNELS, linked_contact, talking_to
from ..persona.conversations import clear_thread, load_thread, save_conversation, save_thread
from ..persona.memory import recall_memories
from ..persona.retrieval import workspace_retriever
from ..persona.session import ChatSession
from ..persona.translation import Translation, open_translation

REFUSAL = "Sorry, this clone is private: it only talks to the people its owner allowed."
NOBODY_ALLOWED = ("This clone is private and allows nobody yet. Its owner can allow you with `--allow {who}` "
                  "(or `{section}.allow` in selfclone.toml).")
NOT_TEXT = "I can only read text messages: please write to me in words."


@dataclass(frozen=True)
class Allowlist:
    """Numeric user ids and @usernames (case-insensitive). Empty: nobody."""

    entries: frozenset[str]

    @classmethod
    def of(cls, values) -> "Allowlist":
        return cls(frozenset(v.strip().lower() for v in values if v and v.strip()))

    def admits(self, user_id, username: str | None = None) -> bool:
        return str(user_id) in self.entries or (bool(username) and f"@{username.lower()}" in self.entries)

    def refusal(self, user_id, section: str) -> str:
        return REFUSAL if self.entries else NOBODY_ALLOWED.format(who=user_id, section=section)


def split_reply(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at a paragraph, line or word break where there is one."""
    pieces = []
    text = text.strip()
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return pieces + ([text] if text else [])


def shown_reply(session: ChatSession, reply: str) -> str:
    """The reply as a bot sends it: with a translation, the clone's own words follow it."""
    last = session.last
    if last and last.translated:
        return f"{reply}\n\n({session.translation.clone_language}: {last.reply_from_clone.strip()})"
    return reply


class BotConversations:
    """One ChatSession per chat key, loaded from and saved to the store's chat_threads table."""

    def __init__(self, backend, options: GenerationOptions, *, channel: str, model: str,
                 store: Callable | None = None, idle_seconds: float = 600.0, context: str | None = None,
                 memory: int = 4, max_prompt_chars: int | None = None, translation: Translation | None = None,
                 retriever=None, clock: Callable[[], float] = time.time):
        self.backend, self.options, self.channel, self.model = backend, options, channel, model
        self.retriever = retriever
        self.store, self.idle_seconds, self.clock = store, idle_seconds, clock
        self.context, self.memory, self.max_prompt_chars, self.translation = context, memory, max_prompt_chars, translation
        self.sessions: dict[str, tuple[ChatSession, float]] = {}
        self.lock = threading.Lock()      # one generation at a time: a local model is one process's CPU

    def session(self, key: str) -> ChatSession:
        now = self.clock()
        if key not in self.sessions:
            kept = None
            if self.store:
                with self.store() as store:
                    kept = load_thread(store, self.channel, key)
            history, last = kept or ([], now)
            self.sessions[key] = (self._new_session(history, key), last)
        session, last = self.sessions[key]
        if self.idle_seconds and now - last > self.idle_seconds:
            self._keep(session)
            session.reset()
        return session

    def _keep(self, session: ChatSession) -> None:
        """Store a conversation that ends, for review."""
        if self.store and session.history:
            with self.store() as store:
                save_conversation(store, self.model, self.channel, session.transcript())

    def _new_session(self, history: list[dict], key: str) -> ChatSession:
        session = ChatSession(self.backend, self.options, context=self.context, memory=self.memory,
                              history=list(history), max_prompt_chars=self.max_prompt_chars,
                              translation=self.translation, retriever=self.retriever)
        if self.store and self.channel in LINKED_CHANNELS:
            with self.store() as store:
                who = linked_contact(store, self.channel, key.rpartition(":")[2])     # keys are CHAT:USER
                if who:
                    session.talking_to, session.remembered = talking_to(store, who), recall_memories(store, who)
        return session

    def stream(self, key: str, text: str, *, options: GenerationOptions | None = None,
               context: str | None = None, memory: int | None = None) -> Iterator[str]:
        """Stream the clone's reply to `text` from `key`, then store the context; `options`, `context` and
        `memory` (the web page's fields) change this conversation's settings from here on."""
        with self.lock:
            session = self.session(key)
            session.options = options or session.options
            session.context = context if context is not None else session.context
            session.memory = memory if memory is not None else session.memory
            yield from session.send(text)
            now = self.clock()
            self.sessions[key] = (session, now)
            if self.store:
                with self.store() as store:
                    save_thread(store, self.channel, key, self.model, session.history, now)

    def reply(self, key: str, text: str) -> str:
        """The clone's whole reply to `text` from `key` (blocking: bots run it in a worker thread)."""
        reply = "".join(self.stream(key, text))
        return shown_reply(self.sessions[key][0], reply)

    def reset(self, key: str) -> None:
        with self.lock:
            self._keep(self.session(key))
            self.sessions[key] = (self._new_session([], key), self.clock())
            if self.store:
                with self.store() as store:
                    clear_thread(store, self.channel, key)


def open_bot(channel, model, allow, translate, backend, option, *, engine=None, **talk_values):
    """BotConversations and the Allowlist of a bot command, from its flags over the workspace's settings;
    `engine`: an already opened Backend for `model` (the web app passes its model pool's)."""
    from .terminal import open_talk

    values = dict(top_p=None, presence_penalty=None, frequency_penalty=None, stop=None, n=1,
                  no_repeat_ngram_size=None, seed=None, **talk_values)
    ws, talk, engine = open_talk(model, backend, option, engine=engine, **values)
    settings = getattr(ws.config, channel, None) if ws else None      # [telegram], [discord]; the web has none
    translation = open_translation(translate, engine, ws.config.translate if ws else None)
    people = BotConversations(engine, talk.options, channel=channel, model=model, store=ws.store if ws else None,
                              idle_seconds=60 * (settings.idle_reset_minutes if settings else 10.0),
                              context=talk.context, memory=talk.memory, translation=translation,
                              max_prompt_chars=settings.context_chars if settings else 12000,
                              retriever=workspace_retriever(ws.root if ws else None,
                                                            ws.config.notes if ws else NotesSettings()))
    return people, Allowlist.of(list(allow or []) + list(settings.allow if settings else []))
