"""The translation layer of `--translate LANG`: the user's message goes into the clone's training language, the
reply comes back in the user's. Translators are plugins (the `register_translators` hook); the built-in one,
`backend`, asks any Backend (the local model, or an OpenAI-compatible provider) with a fixed prompt.

    translation = open_translation("French", backend, TranslateSettings(clone_language="English"))
    translation.inbound("comment vont les abeilles ?")      # -> English for the clone
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pydantic

from ..config import GenerationOptions, TranslateSettings
from ..errors import ConfigError
from ..plugins import hookimpl, parse_options, translators


class Translator(Protocol):
    name: str

    def translate(self, text: str, source: str, target: str) -> str:
        """`text` from language `source` into language `target`."""


class BackendTranslator:
    """Translate by asking a Backend: greedy, the translation only."""

    name = "backend"

    class Options(pydantic.BaseModel):
        max_tokens: int = 256

    def __init__(self, backend, options=None):
        self.backend = backend
        self.options = options or self.Options()

    @staticmethod
    def prompt(text: str, source: str, target: str) -> list[dict]:
        return [{"role": "system", "content": f"You translate {source} into {target}. Reply with the {target} "
                                              f"translation only, nothing else."},
                {"role": "user", "content": text}]

    def translate(self, text: str, source: str, target: str) -> str:
        if not text.strip() or source.casefold() == target.casefold():
            return text
        options = GenerationOptions(max_tokens=self.options.max_tokens, temperature=0.0, frequency_penalty=0.0)
        return "".join(self.backend.chat(self.prompt(text, source, target), options)).strip() or text


@dataclass(frozen=True)
class Translation:
    """Both directions between the user's `language` and the clone's."""

    language: str
    clone_language: str
    translator: Translator

    def inbound(self, text: str) -> str:
        return self.translator.translate(text, self.language, self.clone_language)

    def outbound(self, text: str) -> str:
        return self.translator.translate(text, self.clone_language, self.language)


def open_translation(language: str | None, backend, settings: TranslateSettings | None = None, *,
                     options: list[str] | dict | None = None) -> Translation | None:
    """The Translation for `--translate LANG` (None without one) under the workspace's [translate] settings;
    `backend` is what the built-in translator asks."""
    if not language:
        return None
    settings = settings or TranslateSettings()
    translator, clone_language = settings.translator, settings.clone_language
    available = translators()
    if translator not in available:
        raise ConfigError(f"unknown translator '{translator}'",
                          f"set translate.translator to one of: {', '.join(sorted(available))}")
    cls = available[translator]
    return Translation(language, clone_language,
                       cls(backend, parse_options(cls.Options, options, f"translator '{translator}'")))


@hookimpl
def register_translators(register):
    register(BackendTranslator)
