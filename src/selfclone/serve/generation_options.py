"""The generation flags shared by `chat` and `ask` (and later servers), resolved against workspace defaults."""
from __future__ import annotations

from dataclasses import dataclass

import typer

from ..config import ChatSettings, GenerationOptions


@dataclass
class TalkFlags:
    context: str | None
    memory: int | None
    options: GenerationOptions


def talk_flags(defaults: GenerationOptions, memory_default: int, *, context, memory, max_tokens, temperature, top_p, presence_penalty,
               frequency_penalty, stop, n, no_repeat_ngram_size, seed) -> TalkFlags:
    options = defaults.with_(
        max_tokens=max_tokens, temperature=temperature, top_p=top_p, presence_penalty=presence_penalty,
        frequency_penalty=frequency_penalty, stop=tuple(stop or ()), n=n, no_repeat_ngram_size=no_repeat_ngram_size,
        seed=seed)
    memory = ChatSettings(memory=memory_default if memory is None else memory).memory    # checks it: >= 0
    return TalkFlags(context, memory, options)


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
BACKEND = typer.Option("transformers", "--backend", help="transformers, llamacpp, openai, or a plugin's")
BACKEND_OPTIONS = typer.Option(None, "-o", "--option", help="backend option key=value (repeatable)")
