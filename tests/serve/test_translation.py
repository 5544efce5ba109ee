"""The translation layer through the Backend interface: the built-in translator's prompts and the flow around the
clone (in: user language -> clone language; out: back), on the embedded model; translation quality is not asserted."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from selfclone.backends.registry import open_backend
from selfclone.cli import app
from selfclone.config import GenerationOptions, TranslateSettings
from selfclone.errors import ConfigError
from selfclone.persona.session import ChatSession
from selfclone.persona.translation import BackendTranslator, open_translation
from selfclone.plugins import translators


class Recording:
    """A Backend that records every prompt and passes it to the real one."""

    name = "recording"

    def __init__(self, inner):
        self.inner, self.prompts = inner, []

    def chat(self, messages, options):
        self.prompts.append((list(messages), options))
        yield from self.inner.chat(messages, options)

    def candidates(self, messages, options):
        return self.inner.candidates(messages, options)


@pytest.mark.slow
def test_session_translates_in_and_out_on_the_embedded_model():
    backend = Recording(open_backend("smollm2-135m", "transformers"))
    translation = open_translation("French", backend, TranslateSettings(clone_language="English"),
                                   options={"max_tokens": 12})
    session = ChatSession(backend, GenerationOptions(max_tokens=8, temperature=0), context="You are Maggie.",
                          translation=translation)
    shown = session.reply("comment vont les abeilles ?")
    (inbound, in_opts), (clone, _), (outbound, out_opts) = backend.prompts
    assert inbound == BackendTranslator.prompt("comment vont les abeilles ?", "French", "English")
    assert "French into English" in inbound[0]["content"] and in_opts.temperature == 0
    english = session.last.user_for_clone
    assert english.strip() and clone == [{"role": "system", "content": "You are Maggie."},
                                         {"role": "user", "content": english}]
    assert outbound == BackendTranslator.prompt(session.last.reply_from_clone, "English", "French")
    assert shown == session.last.reply and out_opts.temperature == 0
    assert session.history == [{"role": "user", "content": english},
                               {"role": "assistant", "content": session.last.reply_from_clone}]


def test_same_language_and_unknown_translator():
    backend = Recording(open_backend("echo", "echo"))
    same = open_translation("english", backend, TranslateSettings(clone_language="English"))
    assert same.inbound("hello") == "hello" and backend.prompts == []
    assert open_translation(None, backend) is None
    assert "backend" in translators()
    with pytest.raises(ConfigError, match="unknown translator 'deepl'"):
        open_translation("French", backend, TranslateSettings(translator="deepl"))


def test_ask_translate_shows_original_and_translation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ask", "echo", "bonjour", "--backend", "echo", "--translate", "French"])
    assert result.exit_code == 0, result.output
    # the echo backend "translates" by echoing: in, the clone, out -> three echoes; then the clone's own words
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("echo: echo: echo: bonjour") and lines[1].startswith("(English: echo: echo: bonjour")
