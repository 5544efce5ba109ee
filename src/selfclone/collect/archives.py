"""Exports as the apps hand them over: a .zip (WhatsApp's "Export chat" shares one: the chat .txt plus media) or a
folder, turned into the files an importer reads.

    folder = unpack(Path("WhatsApp Chat with Ana.zip"), into)   # into/WhatsApp Chat with Ana/<the text files>
    files = inside(Path("export/"), WhatsAppImporter())          # the files in a folder this importer takes

Only the text members of a zip are extracted (chats, mail, JSON, XML, HTML, CSV, Markdown): the photos and voice
notes beside them are never needed and can be gigabytes. Member names are made safe by `zipfile` (no absolute
paths, no `..`).
"""
from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import DataError

TEXT_MEMBERS = (".txt", ".json", ".xml", ".html", ".htm", ".csv", ".tsv", ".eml", ".mbox", ".md", ".markdown",
                ".jsonl", ".db")


def is_zip(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def unpack(path: Path, into: Path) -> Path:
    """Extract the text members of the zip `path` into `into`/<its name>/, and return that folder."""
    target = Path(into) / path.stem
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if not m.is_dir() and m.filename.lower().endswith(TEXT_MEMBERS)
                       and not Path(m.filename).name.startswith(("._", "."))]
            if not members:
                raise DataError("the zip holds no chat, mail or text file",
                                "export the chat again (WhatsApp: Export chat, with or without media)", path=path)
            for member in members:
                archive.extract(member, target)
    except zipfile.BadZipFile as exc:
        raise DataError(f"a damaged zip file ({exc})", "download or export it again", path=path) from None
    return target


def inside(folder: Path, importer) -> list[Path]:
    """The files under `folder` (nested too) that `importer` recognises, in name order."""
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".") and importer.detect(p)]
