"""`selfclone serve FRONTEND ...` (every frontend registered through the `frontends()` hook), `selfclone chat`
(the terminal frontend) and `selfclone ask MODEL "text"` (one shot).

    selfclone serve terminal ft:smollm2-135m:maggie:RUN
    selfclone ask smollm2-135m "hi" --n 3 --json
"""
from __future__ import annotations

import json

import typer

from ..persona.translation import open_translation
from ..plugins import frontends
from . import generation_options as flags
from .terminal import open_talk, talk_session


def ask(model: str = typer.Argument(..., help="model or clone name"),
        text: str = typer.Argument(..., help="what to ask"),
        as_json: bool = typer.Option(False, "--json", help="print the candidates as JSON"),
        n: int = typer.Option(1, "--n", help="number of candidates"),
        context: str = flags.CONTEXT, memory: int = flags.MEMORY, max_tokens: int = flags.MAX_TOKENS,
        temperature: float = flags.TEMPERATURE, top_p: float = flags.TOP_P,
        presence_penalty: float = flags.PRESENCE, frequency_penalty: float = flags.FREQUENCY,
        stop: list[str] = flags.STOP, no_repeat_ngram_size: int = flags.NO_REPEAT, seed: int = flags.SEED,
        backend: str = flags.BACKEND, option: list[str] = flags.BACKEND_OPTIONS,
        retrieve: int = flags.RETRIEVE, no_retrieve: bool = flags.NO_RETRIEVE, persona: str = flags.PERSONA,
        talking_with: str = flags.WITH, translate: str = flags.TRANSLATE):
    """Ask one question; prints the reply (or n candidates)."""
    ws, talk, engine = open_talk(model, backend, option, users=n, context=context, memory=memory,
                             max_tokens=max_tokens, temperature=temperature, top_p=top_p, presence_penalty=presence_penalty,
                             frequency_penalty=frequency_penalty, stop=stop, n=n,
                             no_repeat_ngram_size=no_repeat_ngram_size, seed=seed, retrieve=retrieve,
                             no_retrieve=no_retrieve, persona=persona, talking_with=talking_with)
    translation = open_translation(translate, engine, ws.config.translate if ws else None)
    messages = talk_session(ws, talk, engine).messages_for(translation.inbound(text) if translation else text)
    if as_json or n > 1:
        replies = engine.candidates(messages, talk.options)
        if translation:
            replies = [translation.outbound(reply) for reply in replies]
        if as_json:
            print(json.dumps({"model": model, "messages": messages, "candidates": replies}, ensure_ascii=False))
        else:
            for i, reply in enumerate(replies, 1):
                print(f"{i}. {reply}")
        return
    if translation:
        reply = "".join(engine.chat(messages, talk.options))
        print(f"{translation.outbound(reply)}\n({translation.clone_language}: {reply.strip()})")
        return
    for piece in engine.chat(messages, talk.options):
        print(piece, end="", flush=True)
    print()


def register_commands(app):
    serve = typer.Typer(help="Serve a clone: " + ", ".join(sorted(frontends())) + ".", no_args_is_help=True)
    for name, frontend in sorted(frontends().items()):
        serve.command(name, help=(frontend.__doc__ or "").strip() or None)(frontend.command)
    app.add_typer(serve, name="serve")
    app.command("chat")(frontends()["terminal"].command)
    app.command()(ask)
    from .web.server import desktop_app

    app.command("app")(desktop_app)
