"""The terminal frontend: `selfclone serve terminal MODEL` (also `selfclone chat MODEL`), streamed, with memory.

    selfclone chat ft:smollm2-135m:maggie:RUN --memory 6
    /reset  /context TEXT  /save FILE  /quit
"""
from __future__ import annotations

from pathlib import Path

import typer

from .. import models
from ..backends.registry import LOCAL_BACKENDS, choose_backend, open_backend
from ..config import ChatSettings, GenerationOptions, NotesSettings
from ..errors import WorkspaceError
from ..fileio import write_jsonl
from ..persona.conversations import save_conversation
from ..persona.contacts import talking_to
from ..persona.memory import fold, recall_memories, remember
from ..persona.presets import get_preset, preset_context
from ..persona.retrieval import workspace_retriever
from ..persona.session import ChatSession
from ..persona.translation import open_translation
from ..plugins import hookimpl
from ..terminal import console, workspace
from . import generation_options as flags

CHAT_HELP = "commands: /reset  /context TEXT  /save FILE  /quit"


def open_talk(model, backend, backend_options, *, engine=None, users: int | None = None, **flag_values):
    """The workspace, the talk flags against its defaults, and the opened Backend; the model is resolved once.
    `engine`: a Backend already opened for `model` (the web app's model pool), used instead of opening another."""
    ws = workspace(required=False)
    defaults = ws.config.generation if ws else GenerationOptions()
    memory_default = ws.config.chat.memory if ws else ChatSettings().memory
    talk = flags.talk_flags(defaults, memory_default, **flag_values)
    runs = ws.runs_dir if ws else None
    if talk.persona and talk.context is None:
        talk.context = persona_context(ws, talk.persona)
    target = model
    if backend in LOCAL_BACKENDS:
        target = models.resolve(model, runs)
    if talk.context is None:          # a remote backend serving a clone by name (vLLM) gets its prompt here too
        talk.context = models.trained_context(target, runs)
    if talk.context is None and ws and ws.config.system:
        talk.context = ws.config.system
    if engine is not None:
        return ws, talk, engine
    backend, note = choose_backend(backend, target)
    if note:
        console.print(f"[dim]{note}[/]")
    with console.status(f"loading {model} ..."):
        engine = open_backend(target, backend, backend_options, workspace_runs=runs, users=users)
    return ws, talk, engine


def persona_context(ws, name: str) -> str:
    """The system prompt of the preset `name` of the workspace."""
    if ws is None:
        raise WorkspaceError("--persona needs a workspace: presets live in its store", "cd into a workspace")
    with ws.store() as store:
        return preset_context(get_preset(store, name))


def talk_session(ws, talk, engine) -> ChatSession:
    """The ChatSession of a talk command: its flags, the workspace's notes unless retrieval is off, who it talks
    to and what it remembers of them, and the clone itself as the summariser of older exchanges."""
    retriever = workspace_retriever(ws.root if ws else None, ws.config.notes if ws else NotesSettings(), talk.retrieve)
    session = ChatSession(engine, talk.options, context=talk.context, memory=talk.memory, retriever=retriever)
    if ws and ws.config.memory.summarise:
        session.summariser = engine
    if talk.talking_with:
        if ws is None:
            raise WorkspaceError("--with needs a workspace: contacts and memories live in its store",
                                 "cd into a workspace")
        with ws.store() as store:
            session.talking_to = talking_to(store, talk.talking_with)
            session.remembered = recall_memories(store, talk.talking_with)
    return session


def keep_memory(ws, talk, session: ChatSession) -> None:
    """At the end of a conversation with someone: fold what is left and keep the summary as a memory of them."""
    if not (ws and talk.talking_with and session.history and session.summariser and ws.config.memory.remember):
        return
    summary = fold(session.summariser, session.summary, session.history[session._folded:])
    if summary:
        with ws.store() as store:
            remember(store, talk.talking_with, summary)


def chat(model: str = typer.Argument(..., help="model or clone name (see `selfclone models`)"),
         context: str = flags.CONTEXT, memory: int = flags.MEMORY, max_tokens: int = flags.MAX_TOKENS,
         temperature: float = flags.TEMPERATURE, top_p: float = flags.TOP_P,
         presence_penalty: float = flags.PRESENCE, frequency_penalty: float = flags.FREQUENCY,
         stop: list[str] = flags.STOP, no_repeat_ngram_size: int = flags.NO_REPEAT, seed: int = flags.SEED,
         backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS,
         retrieve: int = flags.RETRIEVE, no_retrieve: bool = flags.NO_RETRIEVE, persona: str = flags.PERSONA,
         talking_with: str = flags.WITH, translate: str = flags.TRANSLATE):
    """Talk to a model or clone in the terminal, streamed."""
    ws, talk, engine = open_talk(model, backend, option, users=1, context=context, memory=memory,
                              max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                              presence_penalty=presence_penalty, frequency_penalty=frequency_penalty, stop=stop, n=1,
                              no_repeat_ngram_size=no_repeat_ngram_size, seed=seed, retrieve=retrieve,
                              no_retrieve=no_retrieve, persona=persona, talking_with=talking_with)
    session = talk_session(ws, talk, engine)
    session.translation = open_translation(translate, engine, ws.config.translate if ws else None)
    notes = f"{session.retriever.k} passages" if session.retriever else "off"
    console.print(f"[bold]{model}[/]  context: {talk.context or '-'}  memory: {talk.memory}  notes: {notes}\n"
                  f"[dim]{CHAT_HELP}[/]")
    while True:
        try:
            text = console.input("[bold cyan]you>[/] ")
        except EOFError:
            break
        text = text.strip()
        if not text:
            continue
        if text.startswith("/"):
            command, _, arg = text.partition(" ")
            if command in ("/quit", "/exit"):
                break
            if command == "/reset":
                session.reset()
                console.print("[dim]memory cleared[/]")
            elif command == "/context":
                session.context = arg.strip() or None
                console.print(f"[dim]context: {session.context or '-'}[/]")
            elif command == "/save":
                if not arg.strip():
                    console.print("[red]usage: /save FILE[/]")
                    continue
                write_jsonl(Path(arg.strip()), [{"messages": session.transcript()}])
                console.print(f"[dim]saved {len(session.history) // 2} exchanges to {arg.strip()}[/]")
            else:
                console.print(f"[red]unknown command {command}[/]  {CHAT_HELP}")
            continue
        console.print("[bold magenta]clone>[/] ", end="")
        for piece in session.send(text):
            console.print(piece, end="", markup=False, highlight=False)
        console.print()
        if session.last and session.last.translated:     # room for both: show what the clone read and wrote
            console.print(f"[dim]  clone read: {session.last.user_for_clone}\n  clone wrote: "
                          f"{session.last.reply_from_clone.strip()}[/]", markup=True, highlight=False)
    if ws and session.history:
        with ws.store() as store:
            save_conversation(store, model, "chat", session.transcript())
        keep_memory(ws, talk, session)


class TerminalFrontend:
    """Talk in this terminal."""

    name = "terminal"
    command = staticmethod(chat)


@hookimpl
def register_frontends(register):
    register(TerminalFrontend)
