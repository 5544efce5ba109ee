"""The generation flags shared by `chat` and `ask` (and later servers), resolved against workspace defaults."""
from __future__ import annotations

from dataclasses import dataclass

import typer

from ..backends.registry import DEFAULT as DEFAULT_BACKEND
from ..config import ChatSettings, GenerationOptions


@dataclass
class TalkFlags:
    context: str | None
    memory: int | None
    options: GenerationOptions
    retrieve: int | None = None     # passages from the notes; None = the workspace's [notes] setting, 0 = off
    persona: str | None = None      # a preset's name (persona/presets.py); its prompt is the context
    talking_with: str | None = None # a contact's pseudonym or a relationship (persona/contacts.py)


def talk_flags(defaults: GenerationOptions, memory_default: int, *, context, memory, max_tokens, temperature, top_p, presence_penalty,
               frequency_penalty, stop, n, no_repeat_ngram_size, seed, retrieve: int | None = None,
               no_retrieve: bool = False, persona: str | None = None,
               talking_with: str | None = None) -> TalkFlags:
    options = defaults.with_(
        max_tokens=max_tokens, temperature=temperature, top_p=top_p, presence_penalty=presence_penalty,
        frequency_penalty=frequency_penalty, stop=tuple(stop or ()), n=n, no_repeat_ngram_size=no_repeat_ngram_size,
        seed=seed)
    memory = ChatSettings(memory=memory_default if memory is None else memory).memory    # checks it: >= 0
    return TalkFlags(context, memory, options, 0 if no_retrieve else retrieve,
                     persona, talking_with)


# Typer option declarations, reused by both commands.
CONTEXT = typer.Option(None, "--context", help="system/persona prompt (default: the one the clone was trained with)")
MEMORY = typer.Option(None, "--memory", help="previous exchanges kept (default 4; older ones are dropped)")
MAX_TOKENS = typer.Option(None, "--max-tokens")
TEMPERATURE = typer.Option(None, "--temperature", help="0 = greedy")
TOP_P = typer.Option(None, "--top-p")
PRESENCE = typer.Option(None, "--presence-penalty", help="-2..2, as OpenAI defines it")
FREQUENCY = typer.Option(None, "--frequency-penalty", help="-2..2, as OpenAI defines it")
STOP = typer.Option(None, "--stop", help="stop string (repeatable)")
NO_REPEAT = typer.Option(None, "--no-repeat-ngram-size")
SEED = typer.Option(None, "--seed")
BACKEND = typer.Option(DEFAULT_BACKEND, "--backend",
                       help="auto (llamacpp when installed, else transformers), transformers, llamacpp, openai, or a plugin's")
BACKEND_OPTIONS = typer.Option(None, "-o", "--option", help="backend option key=value (repeatable)")
RETRIEVE = typer.Option(None, "--retrieve", min=0, max=20,
                        help="passages from your notes put in the prompt (default: [notes] retrieve, on when there are notes)")
NO_RETRIEVE = typer.Option(False, "--no-retrieve", help="leave the notes out of the prompt")
PERSONA = typer.Option(None, "--persona", help="speak as a persona preset (see `selfclone persona list`)")
WITH = typer.Option(None, "--with", help="who the clone talks to: a contact or a relationship (see `selfclone contacts`)")
TRANSLATE = typer.Option(None, "--translate", help="talk in this language (e.g. French); the clone reads and writes "
                                                  "its training language ([translate] clone_language)")
