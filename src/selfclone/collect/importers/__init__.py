"""The built-in importers, registered through the same plugin hook a third-party importer uses.

An importer is a class with:
    name          the FORMAT of `selfclone import FORMAT PATH...`
    title         one line for `selfclone import --help` and errors
    produces      "messages" (chats, mail: turned into examples by dataset.pairs) or "examples"
    marks_owner   True when the export itself says which messages are the person's (no --me needed)
    Options       a pydantic model, filled from `-o key=value`
    detect(path)  True when the file or folder's content looks like this format
    read(path, options)  a generator of dataset.messages.Message (or dataset.chat.Example), streaming
and optionally `session_gap_s`, to override collect.session_gap_s for its conversations (email).

A plugin package registers its own the same way:

    from selfclone.plugins import hookimpl

    @hookimpl
    def register_importers(register):
        register(MyImporter)
"""
from __future__ import annotations

from pathlib import Path

from ...plugins import hookimpl
from .discord import DiscordImporter
from .email import EmailImporter
from .imessage import IMessageImporter
from .markdown import MarkdownImporter
from .messenger import MessengerImporter
from .sms import SmsImporter
from .tabular import TabularImporter
from .telegram import TelegramImporter
from .whatsapp import WhatsAppImporter

# `import auto` tries them in this order: the most specific content checks first, the loosest last
BUILTIN = (IMessageImporter, SmsImporter, TelegramImporter, DiscordImporter, MessengerImporter, EmailImporter,
           WhatsAppImporter, MarkdownImporter, TabularImporter)


@hookimpl
def register_importers(register):
    for importer in BUILTIN:
        register(importer)


def detect(path: Path, importers: dict[str, type]) -> type | None:
    """The first importer (built-ins in BUILTIN order, then plugins) whose detect() accepts `path`."""
    order = [cls for cls in BUILTIN if importers.get(cls.name) is cls]
    order += [cls for name, cls in sorted(importers.items()) if cls not in order]
    for cls in order:
        if cls().detect(Path(path)):
            return cls
    return None
