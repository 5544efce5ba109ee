"""`selfclone chat MODEL` (interactive, streamed) and `selfclone ask MODEL "text"` (one shot)."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import models
from ..backends.base import ChatSession
from ..backends.registry import open_backend
from ..config import GenerationDefaults
from ..errors import SelfcloneError
from ..fileio import write_jsonl
from ..terminal import console, workspace
from . import generation_options as flags

CHAT_HELP = "commands: /reset  /context TEXT  /save FILE  /quit"


def _setup(model, backend, backend_options, **flag_values):
    ws = workspace(required=False)
    defaults = ws.config.generation if ws else GenerationDefaults()
    talk = flags.talk_flags(defaults, **flag_values)
    runs = ws.runs_dir if ws else None
    if talk.context is None:
        talk.context = default_context(model, runs) or (ws.config.system if ws and ws.config.system else None)
    with console.status(f"loading {model} ..."):
        engine = open_backend(model, backend, backend_options, workspace_runs=runs)
    return ws, talk, engine


def default_context(model: str, runs_dir: Path | None) -> str | None:
    """The system prompt a clone was trained with, so chat frames turns exactly as training did."""
    try:
        ref = models.resolve(model, runs_dir)
    except SelfcloneError:
        return None
    return ref.info.get("default_context") if ref.kind == "clone" else None


def chat(model: str = typer.Argument(..., help="model or clone name (see `selfclone models`)"),
         context: str = flags.CONTEXT, memory: int = flags.MEMORY, max_tokens: int = flags.MAX_TOKENS,
         temperature: float = flags.TEMPERATURE, top_p: float = flags.TOP_P,
         presence_penalty: float = flags.PRESENCE, frequency_penalty: float = flags.FREQUENCY,
         stop: list[str] = flags.STOP, no_repeat_ngram_size: int = flags.NO_REPEAT, seed: int = flags.SEED,
         backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS):
    """Talk to a model or clone in the terminal, streamed."""
    ws, talk, engine = _setup(model, backend, option, context=context, memory=memory, max_tokens=max_tokens,
                              temperature=temperature, top_p=top_p, presence_penalty=presence_penalty,
                              frequency_penalty=frequency_penalty, stop=stop, n=1,
                              no_repeat_ngram_size=no_repeat_ngram_size, seed=seed)
    session = ChatSession(engine, talk.options, context=talk.context, memory=talk.memory)
    console.print(f"[bold]{model}[/]  context: {talk.context or '-'}  memory: {talk.memory}\n[dim]{CHAT_HELP}[/]")
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
    if ws and session.history:
        with ws.store() as store, store.db:
            store.db.execute("insert into conversations(model, channel, messages_json) values (?, 'chat', ?)",
                             (model, json.dumps(session.transcript())))


def ask(model: str = typer.Argument(..., help="model or clone name"),
        text: str = typer.Argument(..., help="what to ask"),
        as_json: bool = typer.Option(False, "--json", help="print the candidates as JSON"),
        n: int = typer.Option(1, "--n", help="number of candidates"),
        context: str = flags.CONTEXT, memory: int = flags.MEMORY, max_tokens: int = flags.MAX_TOKENS,
        temperature: float = flags.TEMPERATURE, top_p: float = flags.TOP_P,
        presence_penalty: float = flags.PRESENCE, frequency_penalty: float = flags.FREQUENCY,
        stop: list[str] = flags.STOP, no_repeat_ngram_size: int = flags.NO_REPEAT, seed: int = flags.SEED,
        backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS):
    """Ask one question; prints the reply (or n candidates)."""
    _, talk, engine = _setup(model, backend, option, context=context, memory=memory, max_tokens=max_tokens,
                             temperature=temperature, top_p=top_p, presence_penalty=presence_penalty,
                             frequency_penalty=frequency_penalty, stop=stop, n=n,
                             no_repeat_ngram_size=no_repeat_ngram_size, seed=seed)
    messages = ChatSession(engine, talk.options, context=talk.context).messages_for(text)
    if as_json or n > 1:
        replies = engine.candidates(messages, talk.options)
        if as_json:
            print(json.dumps({"model": model, "messages": messages, "candidates": replies}, ensure_ascii=False))
        else:
            for i, reply in enumerate(replies, 1):
                print(f"{i}. {reply}")
        return
    for piece in engine.chat(messages, talk.options):
        print(piece, end="", flush=True)
    print()


def register_commands(app, bench):
    app.command()(chat)
    app.command()(ask)
    from .bench import bench_chat

    bench.command("chat")(bench_chat)
